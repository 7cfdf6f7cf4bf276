import semver from "semver";
import { z } from "zod";
import { DEFAULT_BUILD_NUMBER_PATTERN } from "../config/defaults.js";
import { strict } from "./schema-common.js";

/**
 * Which image of a repository a service wants next (`image.policy` in
 * service.yaml):
 * - `buildNumber`: tags matching `pattern`, a regular expression with exactly
 *   one capture group holding decimal digits, ranked by that number (so
 *   `build-10` is newer than `build-9`); @default pattern DEFAULT_BUILD_NUMBER_PATTERN (`^build-(\d+)$`)
 * - `semver`: tags that are semantic versions (an optional leading `v`)
 *   within `range` (`^1.2.0`, `>=2 <3`), ranked by version; prereleases
 *   (`1.3.0-rc.1`) only when `includePrerelease` is true, whatever the range says; @default includePrerelease false
 * - `digest`: one pinned `sha256:` digest, whatever the tags say.
 */
export type TagPolicy =
  | { type: "buildNumber"; pattern: string }
  | { type: "semver"; range: string; includePrerelease: boolean }
  | { type: "digest"; digest: string };

/** A tag as the registry lists it, with the digest it points to now. */
export interface TaggedDigest {
  tag: string;
  digest: string;
}

/**
 * An image the policy would run.
 *
 * The promotion loop keys candidates by `digest`, not by tag: a tag moved to
 * new content (build-7 pushed again) gives a candidate with a new digest, so
 * a new key and a new promotion; the same digest under another tag is the
 * same key, so a digest that failed stays failed when it is re-tagged.
 */
export interface Candidate {
  /** The tag that made it eligible; undefined for a pinned digest no tag points to. */
  tag: string | undefined;
  digest: string;
  /** What the policy ranked by, for messages: the build number, the version, or the digest. */
  order: string;
}

/** How `pickCandidate` may skip digests (the ones that failed for this service). */
export interface PickOptions {
  /** Digests never to return; the next newest eligible one is chosen instead. */
  exclude?: (digest: string) => boolean;
}

/**
 * A content digest (`sha256:` + 64 lowercase hex). Kept here, not imported from
 * schema-service.ts, which imports this module (a cycle would leave it undefined).
 */
const IMAGE_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Docker's tag grammar: what a registry accepts as a tag. Anything else in a list is ignored. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The number of capture groups of a regular expression, or an error message
 * when it does not compile.
 */
function captureGroups(pattern: string): number | string {
  try {
    // An alternative that matches the empty string makes exec report every group.
    return new RegExp(`${pattern}|`).exec("")!.length - 1;
  } catch (err) {
    return `is not a valid regular expression: ${(err as Error).message}`;
  }
}

/** Why a build-number pattern is unusable, or undefined when it is fine. */
export function buildNumberPatternProblem(pattern: string): string | undefined {
  const groups = captureGroups(pattern);
  if (typeof groups === "string") return groups;
  if (groups !== 1) return `must have exactly one capture group (the build number), like ^build-(\\d+)$; it has ${groups}`;
  return undefined;
}

/**
 * The zod fragment for `image.policy` in service.yaml, validated and with
 * defaults filled in; its output is a `TagPolicy`. Errors name the problem:
 * a pattern without exactly one capture group, a range semver cannot read,
 * a digest that is not `sha256:` + 64 lowercase hex.
 */
export const tagPolicySchema = z.discriminatedUnion(
  "type",
  [
    strict({
      type: z.literal("buildNumber"),
      pattern: z
        .string()
        .default(DEFAULT_BUILD_NUMBER_PATTERN)
        .superRefine((p, ctx) => {
          const problem = buildNumberPatternProblem(p);
          if (problem) ctx.addIssue({ code: "custom", message: problem, input: p });
        }),
    }),
    strict({
      type: z.literal("semver"),
      range: z.string().refine((r) => semver.validRange(r) !== null, {
        error: (iss) => `${JSON.stringify(iss.input)} is not a semver range; write one like ^1.2.0, ~1.4 or >=2 <3`,
      }),
      includePrerelease: z.boolean().default(false),
    }),
    strict({
      type: z.literal("digest"),
      digest: z.string().regex(IMAGE_DIGEST, { error: "must be sha256: followed by 64 lowercase hex digits" }),
    }),
  ],
  { error: () => "type must be buildNumber, semver or digest" },
);

/** The input a user writes for `image.policy` (defaults not yet applied). */
export type TagPolicyInput = z.input<typeof tagPolicySchema>;

/** A tag the policy accepts, and what it was ranked by (the build number or version). */
export interface RankedTag {
  tag: string;
  order: string;
}

/**
 * The tags a `buildNumber` or `semver` policy accepts, newest first (ties
 * broken by tag name, so the answer never depends on the registry's listing
 * order, which 2.8 does not sort); tags that are not valid Docker tags are
 * ignored. Needs no digests: the loop resolves only the first few (a HEAD
 * each) instead of every tag. A `digest` policy ranks no tags.
 * @throws Error when the policy itself is invalid (validate with `tagPolicySchema` first)
 */
export function rankTags(policy: TagPolicy, tags: readonly string[]): RankedTag[] {
  const usable = tags.filter((t) => TAG.test(t));
  const ranked: Array<RankedTag & { compare: (other: RankedTag) => number }> = [];
  if (policy.type === "digest") return [];
  if (policy.type === "buildNumber") {
    const problem = buildNumberPatternProblem(policy.pattern);
    if (problem) throw new Error(`buildNumber pattern ${JSON.stringify(policy.pattern)} ${problem}`);
    const re = new RegExp(policy.pattern);
    for (const tag of usable) {
      const n = re.exec(tag)?.[1];
      if (n === undefined || !/^\d+$/.test(n)) continue;
      // BigInt: build numbers are compared as numbers of any length, never as text.
      const value = BigInt(n);
      ranked.push({ tag, order: value.toString(), compare: (o) => cmpBig(value, BigInt(o.order)) });
    }
  } else {
    const opts = { includePrerelease: policy.includePrerelease };
    for (const tag of usable) {
      const v = semver.parse(tag);
      // Strict: a prerelease needs includePrerelease even when the range names one (npm would let `>=1.3.0-rc.0` admit it).
      if (!v || (v.prerelease.length > 0 && !policy.includePrerelease)) continue;
      if (!semver.satisfies(v, policy.range, opts)) continue;
      ranked.push({ tag, order: v.version, compare: (o) => semver.compare(v, o.order) });
    }
  }
  ranked.sort((a, b) => b.compare(a) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return ranked.map(({ tag, order }) => ({ tag, order }));
}

/**
 * Every tag the policy accepts with its digest, newest first (see
 * `rankTags`); a tag listed twice keeps its last digest; tags whose digest is not a `sha256:` digest are ignored. For
 * a `digest` policy: the pinned digest once, under the first of its tags by
 * name (undefined when none points to it).
 * @throws Error when the policy itself is invalid (validate with `tagPolicySchema` first)
 */
export function rankCandidates(policy: TagPolicy, tags: readonly TaggedDigest[]): Candidate[] {
  const usable = tags.filter((t) => TAG.test(t.tag) && IMAGE_DIGEST.test(t.digest));
  if (policy.type === "digest") {
    const names = usable.filter((t) => t.digest === policy.digest).map((t) => t.tag).sort();
    return [{ tag: names[0], digest: policy.digest, order: policy.digest }];
  }
  // One digest per tag (a tag points to one manifest; a repeated entry keeps the last).
  const digestOf = new Map(usable.map((t) => [t.tag, t.digest]));
  return rankTags(policy, [...digestOf.keys()]).flatMap((r) => {
    const digest = digestOf.get(r.tag);
    return digest ? [{ tag: r.tag, digest, order: r.order }] : [];
  });
}

/**
 * The newest image the policy accepts among `tags`, skipping excluded
 * digests; undefined when none is eligible. See `rankCandidates` for what is
 * eligible and `Candidate` for why the loop keys by digest.
 * @throws Error when the policy itself is invalid
 */
export function pickCandidate(policy: TagPolicy, tags: readonly TaggedDigest[], opts: PickOptions = {}): Candidate | undefined {
  return rankCandidates(policy, tags).find((c) => !opts.exclude?.(c.digest));
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

import test from "ava";
import { pickCandidate, rankCandidates, rankTags, tagPolicySchema, type TagPolicy, type TaggedDigest } from "../../src/model/tag-policy.js";

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, "0")}`;
const BUILD: TagPolicy = { type: "buildNumber", pattern: "^build-(\\d+)$" };
const semverPolicy = (range: string, includePrerelease = false): TagPolicy => ({ type: "semver", range, includePrerelease });
const tags = (...pairs: Array<[string, number]>): TaggedDigest[] => pairs.map(([tag, n]) => ({ tag, digest: d(n) }));

interface Row {
  name: string;
  policy: TagPolicy;
  tags: TaggedDigest[];
  exclude?: number[];
  /** [tag, digest number, order], or undefined for no candidate. */
  want: [string | undefined, number, string] | undefined;
}

const rows: Row[] = [
  { name: "build_numbers_compare_as_numbers_not_text", policy: BUILD, tags: tags(["build-9", 9], ["build-10", 10], ["build-2", 2]), want: ["build-10", 10, "10"] },
  { name: "build_number_ignores_tags_outside_the_pattern", policy: BUILD, tags: tags(["latest", 99], ["build-3", 3], ["build-4-rc", 98], ["xbuild-7", 97]), want: ["build-3", 3, "3"] },
  { name: "build_number_none_eligible_is_no_candidate", policy: BUILD, tags: tags(["latest", 1], ["v1.0.0", 2]), want: undefined },
  { name: "build_number_empty_list_is_no_candidate", policy: BUILD, tags: [], want: undefined },
  { name: "build_number_leading_zeros_are_the_same_number_ties_by_tag", policy: BUILD, tags: tags(["build-7", 7], ["build-007", 70]), want: ["build-007", 70, "7"] },
  { name: "build_number_beyond_2_pow_53_still_compares_exactly", policy: BUILD, tags: tags(["build-9007199254740993", 2], ["build-9007199254740992", 1]), want: ["build-9007199254740993", 2, "9007199254740993"] },
  { name: "build_number_custom_pattern_capture_group", policy: { type: "buildNumber", pattern: "^main-(\\d+)-[a-f0-9]+$" }, tags: tags(["main-12-abc1", 12], ["main-3-ffff", 3], ["build-99", 99]), want: ["main-12-abc1", 12, "12"] },
  { name: "build_number_capture_that_is_not_digits_is_ignored", policy: { type: "buildNumber", pattern: "^b-(\\w+)$" }, tags: tags(["b-x1", 1], ["b-5", 5]), want: ["b-5", 5, "5"] },
  { name: "build_number_listing_order_does_not_matter", policy: BUILD, tags: tags(["build-2", 2], ["build-11", 11], ["build-1", 1]).reverse(), want: ["build-11", 11, "11"] },
  { name: "newest_failed_digest_is_skipped_for_the_next_newest", policy: BUILD, tags: tags(["build-5", 5], ["build-6", 6]), exclude: [6], want: ["build-5", 5, "5"] },
  { name: "failed_digest_retagged_newer_stays_excluded", policy: BUILD, tags: tags(["build-5", 5], ["build-6", 6], ["build-7", 6]), exclude: [6], want: ["build-5", 5, "5"] },
  { name: "tag_moved_to_new_digest_is_the_new_digest", policy: BUILD, tags: tags(["build-7", 8]), exclude: [7], want: ["build-7", 8, "7"] },
  { name: "invalid_docker_tags_are_ignored", policy: BUILD, tags: [{ tag: "build-8/../x", digest: d(8) }, { tag: "build-3", digest: d(3) }], want: ["build-3", 3, "3"] },
  { name: "non_sha256_digests_are_ignored", policy: BUILD, tags: [{ tag: "build-8", digest: "sha512:abc" }, { tag: "build-3", digest: d(3) }], want: ["build-3", 3, "3"] },
  { name: "semver_caret_range_picks_highest_within", policy: semverPolicy("^1.2.0"), tags: tags(["1.2.0", 1], ["1.9.3", 2], ["2.0.0", 3], ["1.1.9", 4]), want: ["1.9.3", 2, "1.9.3"] },
  { name: "semver_two_sided_range", policy: semverPolicy(">=2 <3"), tags: tags(["1.9.9", 1], ["2.4.1", 2], ["2.10.0", 3], ["3.0.0", 4]), want: ["2.10.0", 3, "2.10.0"] },
  { name: "semver_leading_v_accepted", policy: semverPolicy("^1.0.0"), tags: tags(["v1.4.0", 1], ["1.3.0", 2]), want: ["v1.4.0", 1, "1.4.0"] },
  { name: "semver_prerelease_excluded_by_default", policy: semverPolicy("^1.2.0"), tags: tags(["1.3.0-rc.1", 1], ["1.2.5", 2]), want: ["1.2.5", 2, "1.2.5"] },
  { name: "semver_prerelease_excluded_even_when_range_names_one", policy: semverPolicy(">=1.3.0-rc.0 <2"), tags: tags(["1.3.0-rc.1", 1]), want: undefined },
  { name: "semver_prerelease_included_when_asked", policy: semverPolicy("^1.2.0", true), tags: tags(["1.3.0-rc.1", 1], ["1.2.5", 2]), want: ["1.3.0-rc.1", 1, "1.3.0-rc.1"] },
  { name: "semver_release_beats_its_prerelease", policy: semverPolicy("^1.2.0", true), tags: tags(["1.3.0-rc.1", 1], ["1.3.0", 2]), want: ["1.3.0", 2, "1.3.0"] },
  { name: "semver_non_versions_ignored", policy: semverPolicy("*"), tags: tags(["latest", 1], ["build-5", 2], ["1.0", 3], ["0.1.0", 4]), want: ["0.1.0", 4, "0.1.0"] },
  { name: "digest_policy_returns_the_pin_with_its_tag", policy: { type: "digest", digest: d(4) }, tags: tags(["build-9", 9], ["stable", 4], ["build-4", 4]), want: ["build-4", 4, d(4)] },
  { name: "digest_policy_pin_without_any_tag", policy: { type: "digest", digest: d(4) }, tags: tags(["build-9", 9]), want: [undefined, 4, d(4)] },
  { name: "digest_policy_pin_excluded_is_no_candidate", policy: { type: "digest", digest: d(4) }, tags: [], exclude: [4], want: undefined },
];

for (const row of rows) {
  test(`pickCandidate ${row.name}`, (t) => {
    const exclude = row.exclude?.map(d);
    const got = pickCandidate(row.policy, row.tags, exclude ? { exclude: (x) => exclude.includes(x) } : {});
    t.deepEqual(got, row.want && { tag: row.want[0], digest: d(row.want[1]), order: row.want[2] });
  });
}

test("rankCandidates lists every eligible tag newest first, one per tag even when they share a digest", (t) => {
  const got = rankCandidates(BUILD, tags(["build-1", 1], ["build-3", 3], ["latest", 3], ["build-2", 1]));
  t.deepEqual(
    got.map((c) => c.tag),
    ["build-3", "build-2", "build-1"],
  );
});

interface SchemaRow {
  name: string;
  input: unknown;
  want?: TagPolicy;
  error?: RegExp;
}

const schemaRows: SchemaRow[] = [
  { name: "build_number_pattern_defaults", input: { type: "buildNumber" }, want: { type: "buildNumber", pattern: "^build-(\\d+)$" } },
  { name: "semver_prerelease_defaults_off", input: { type: "semver", range: "^1.2.0" }, want: { type: "semver", range: "^1.2.0", includePrerelease: false } },
  { name: "digest_kept", input: { type: "digest", digest: d(1) }, want: { type: "digest", digest: d(1) } },
  { name: "pattern_without_group_refused", input: { type: "buildNumber", pattern: "^build-\\d+$" }, error: /exactly one capture group.*it has 0/ },
  { name: "pattern_with_two_groups_refused", input: { type: "buildNumber", pattern: "^(b)-(\\d+)$" }, error: /it has 2/ },
  { name: "pattern_that_does_not_compile_refused", input: { type: "buildNumber", pattern: "^build-(\\d+$" }, error: /not a valid regular expression/ },
  { name: "semver_garbage_range_refused", input: { type: "semver", range: "newest please" }, error: /"newest please" is not a semver range/ },
  { name: "digest_uppercase_refused", input: { type: "digest", digest: d(1).toUpperCase() }, error: /sha256: followed by 64 lowercase hex/ },
  { name: "unknown_type_refused", input: { type: "latest" }, error: /type must be buildNumber, semver or digest/ },
  { name: "unknown_key_refused", input: { type: "semver", range: "^1", prerelease: true }, error: /prerelease/ },
];

for (const row of schemaRows) {
  test(`tagPolicySchema ${row.name}`, (t) => {
    const r = tagPolicySchema.safeParse(row.input);
    if (row.want) {
      t.deepEqual(r.success ? r.data : r.error.issues, row.want);
    } else {
      t.false(r.success);
      t.regex(r.error?.issues.map((i) => i.message).join("; ") ?? "", row.error!);
    }
  });
}

const rankRows: Array<{ name: string; policy: TagPolicy; tags: string[]; want: string[] }> = [
  { name: "build_numbers_newest_first_without_digests", policy: BUILD, tags: ["build-9", "latest", "build-10", "build-1"], want: ["build-10", "build-9", "build-1"] },
  { name: "semver_newest_first_within_range", policy: semverPolicy("^1.0.0"), tags: ["1.0.0", "2.0.0", "1.10.0", "1.2.0"], want: ["1.10.0", "1.2.0", "1.0.0"] },
  { name: "digest_policy_ranks_no_tags", policy: { type: "digest", digest: d(1) }, tags: ["build-1"], want: [] },
];

for (const row of rankRows) {
  test(`rankTags ${row.name}`, (t) => {
    t.deepEqual(
      rankTags(row.policy, row.tags).map((r) => r.tag),
      row.want,
    );
  });
}

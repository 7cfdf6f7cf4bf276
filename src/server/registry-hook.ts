import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { InvalidInputError } from "../model/errors.js";
import { MANIFEST_MEDIA_TYPES } from "../sources/registry.js";

/** The media type of the envelope distribution's notifications send (`Content-Type`). */
export const REGISTRY_EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json";

/** A manifest pushed under a tag: the only event that can make a new candidate. */
export interface ManifestPush {
  /** The repository name on the registry (`team/web`), without the registry host. */
  repository: string;
  tag: string;
  /** `sha256:…` of the pushed manifest. */
  digest: string;
  /** The manifest's media type (OCI or Docker, manifest or index/list). */
  mediaType: string;
}

const eventSchema = z.object({
  action: z.string(),
  target: z
    .object({
      mediaType: z.string().optional(),
      digest: z.string().optional(),
      repository: z.string().optional(),
      tag: z.string().optional(),
    })
    .optional(),
});

const envelopeSchema = z.object({ events: z.array(z.unknown()) });

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MANIFEST_TYPES: ReadonlySet<string> = new Set(MANIFEST_MEDIA_TYPES);

/**
 * The tagged manifest pushes in a registry notification, in the order sent,
 * without repeats. Takes the body as received (text or bytes) or already
 * parsed, and the request's `Content-Type` when known (the events type or
 * `application/json`; parameters ignored). Everything else the registry
 * reports is dropped: blob pushes, pulls, mounts, deletes, manifests pushed
 * by digest only, manifest types Steward does not run (schema 1).
 * @throws InvalidInputError (endpoint `POST /hooks/registry`) for another
 *   content type, a body that is not JSON, not an `{events: [...]}`
 *   envelope, or a tagged manifest push without a repository or a sha256 digest
 */
export function parseRegistryNotification(body: unknown, contentType?: string): ManifestPush[] {
  const context = { endpoint: "POST /hooks/registry" };
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (type && type !== REGISTRY_EVENTS_MEDIA_TYPE && type !== "application/json") {
    throw new InvalidInputError(`registry notification: content type ${JSON.stringify(type)} is not ${REGISTRY_EVENTS_MEDIA_TYPE}`, context);
  }
  let value = body;
  if (typeof value === "string" || Buffer.isBuffer(value)) {
    try {
      value = JSON.parse(value.toString()) as unknown;
    } catch (err) {
      throw new InvalidInputError(`registry notification: body is not JSON (${(err as Error).message})`, context);
    }
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) throw new InvalidInputError('registry notification: body is not an envelope {"events": [...]}', context);
  const pushes: ManifestPush[] = [];
  const seen = new Set<string>();
  envelope.data.events.forEach((raw, i) => {
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`registry notification: events[${i}] is not an event (an object with action and target)`, context);
    const { action, target } = parsed.data;
    if (action !== "push" || !target?.tag || !target.mediaType || !MANIFEST_TYPES.has(target.mediaType)) return;
    if (!target.repository) throw new InvalidInputError(`registry notification: events[${i}] pushes tag ${target.tag} without a repository`, context);
    if (!target.digest || !DIGEST.test(target.digest)) {
      throw new InvalidInputError(`registry notification: events[${i}] pushes ${target.repository}:${target.tag} with digest ${JSON.stringify(target.digest ?? null)}, not sha256:<64 hex>`, context);
    }
    const key = `${target.repository}:${target.tag}@${target.digest}`;
    if (seen.has(key)) return;
    seen.add(key);
    pushes.push({ repository: target.repository, tag: target.tag, digest: target.digest, mediaType: target.mediaType });
  });
  return pushes;
}

/**
 * Whether a request carries the shared secret, compared in constant time
 * (sha256 of both sides, so neither the value nor its length leaks through
 * timing). `headers` as Node gives them (names lower-case; repeated headers
 * as arrays, any one of which may match); `name` is matched case-insensitively;
 * `expected` is the whole value the registry's endpoint `headers` config
 * sends, such as `Bearer <secret>`. False when the header is missing or
 * `expected` is empty (an empty secret never authorises).
 */
export function hasSharedSecret(headers: Record<string, string | string[] | undefined>, name: string, expected: string): boolean {
  if (!expected) return false;
  const wanted = name.toLowerCase();
  const values = Object.entries(headers)
    .filter(([k]) => k.toLowerCase() === wanted)
    .flatMap(([, v]) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  const want = createHash("sha256").update(expected).digest();
  let ok = false;
  // Every value is compared, so the time does not tell which one matched.
  for (const v of values) ok = timingSafeEqual(createHash("sha256").update(v).digest(), want) || ok;
  return ok;
}

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Where `../shared/api-reference/` is, beside the repository. Override with STEWARD_API_REFERENCE. */
export const API_REFERENCE =
  process.env.STEWARD_API_REFERENCE ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/api-reference");

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One recorded sample of `../shared/api-reference/<product>/<name>.json`. */
export interface Sample {
  file: string;
  method: string | null;
  path: string | null;
  path_template: string | null;
  query: Record<string, string> | null;
  request_headers: Record<string, string> | null;
  request_body: Json;
  status: number | null;
  response_headers: Record<string, string> | null;
  response_body: Json;
  origin: string;
  notes?: string;
}

export function loadSample(rel: string): Sample {
  const file = path.join(API_REFERENCE, rel.endsWith(".json") ? rel : `${rel}.json`);
  return { ...(JSON.parse(readFileSync(file, "utf8")) as Omit<Sample, "file">), file: rel };
}

/** Every sample file name of a product (`nomad`, `consul`, ...), without `.json`. */
export function listSamples(product: string): string[] {
  return readdirSync(path.join(API_REFERENCE, product))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.replace(/\.json$/, ""))
    .sort();
}

/**
 * Structural comparison from the api-reference README: the same JSON type at
 * every level, every sample key present; `null` in the sample matches
 * anything; arrays are checked element-wise against the sample's first element.
 * Returns the list of differences (empty = same shape).
 */
export function sameShape(sample: Json, actual: Json, at = "$"): string[] {
  if (sample === null) return [];
  const kind = (v: Json): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  if (kind(sample) !== kind(actual)) return [`${at}: expected ${kind(sample)}, got ${kind(actual)}`];
  if (Array.isArray(sample)) {
    const a = actual as Json[];
    return sample.length === 0 ? [] : a.flatMap((el, i) => sameShape(sample[0] ?? null, el, `${at}[${i}]`));
  }
  if (typeof sample === "object") {
    const a = actual as { [k: string]: Json };
    return Object.keys(sample).flatMap((k) =>
      k in a ? sameShape(sample[k] ?? null, a[k] ?? null, `${at}.${k}`) : [`${at}.${k}: missing`],
    );
  }
  return [];
}

/** Header names of the sample that are missing from `actual` (case-insensitive, names only). */
export function missingHeaders(sample: Sample, actual: Record<string, unknown>): string[] {
  const have = new Set(Object.keys(actual).map((k) => k.toLowerCase()));
  return Object.keys(sample.response_headers ?? {}).filter((k) => !have.has(k.toLowerCase()));
}

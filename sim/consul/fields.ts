/**
 * Reading request bodies the way Consul decodes them: Go's encoding/json
 * matches object keys case-insensitively, and Consul translates snake_case
 * aliases (`enable_tag_override`) first, so both spellings are accepted.
 */

export type JsonObject = Record<string, unknown>;

function norm(k: string): string {
  return k.replace(/_/g, "").toLowerCase();
}

/** The value under `name` in `obj`, matched as Consul matches it; undefined when absent. */
export function field(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  if (name in obj) return obj[name];
  const want = norm(name);
  for (const [k, v] of Object.entries(obj)) if (norm(k) === want) return v;
  return undefined;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(obj: unknown, name: string): string | undefined {
  const v = field(obj, name);
  return typeof v === "string" ? v : undefined;
}

export function num(obj: unknown, name: string): number | undefined {
  const v = field(obj, name);
  return typeof v === "number" ? v : undefined;
}

export function bool(obj: unknown, name: string): boolean | undefined {
  const v = field(obj, name);
  return typeof v === "boolean" ? v : undefined;
}

export function strings(obj: unknown, name: string): string[] | undefined {
  const v = field(obj, name);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}

export function stringMap(obj: unknown, name: string): Record<string, string> | undefined {
  const v = field(obj, name);
  if (!isObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

import type { JsonObject, JsonValue } from "./types.js";

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Structural equality of two JSON values; key order does not matter. */
export function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** A deep copy of a JSON value (only for values that will be changed). */
export function clone<T extends JsonValue>(v: T): T {
  return structuredClone(v);
}

/** Go's `%v`-ish rendering of a scalar for diffs and constraint targets. */
export function scalarText(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** Reads a string field, or "" when absent or not a string. */
export function str(o: JsonObject | null | undefined, k: string): string {
  const v = o?.[k];
  return typeof v === "string" ? v : "";
}

/** Reads a number field, or `dflt` when absent or not a number. */
export function num(o: JsonObject | null | undefined, k: string, dflt = 0): number {
  const v = o?.[k];
  return typeof v === "number" ? v : dflt;
}

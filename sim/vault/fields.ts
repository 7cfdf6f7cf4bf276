import { parseGoBool } from "./dispatch.js";
import { parseDurationSecond } from "./durations.js";

/**
 * Field decoding as Vault's framework does it (weakly typed: JSON numbers,
 * numeric strings and booleans are all accepted where they make sense).
 * Each returns `undefined` when the field is absent and `{ error }` when it
 * cannot be decoded, with the framework's wording.
 */
export type Field<T> = T | undefined | { error: string };

export function isError<T>(v: Field<T>): v is { error: string } {
  return typeof v === "object" && v !== null && "error" in v;
}

function conversionError(name: string, value: unknown, kind: string): { error: string } {
  return { error: `error converting input ${JSON.stringify(value)} for field "${name}": cannot parse as ${kind}` };
}

export function intField(data: Record<string, unknown>, name: string): Field<number> {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && /^[+-]?\d+$/.test(v.trim())) return Number(v.trim());
  return conversionError(name, v, "int");
}

export function boolField(data: Record<string, unknown>, name: string): Field<boolean> {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") {
    const b = parseGoBool(v.trim());
    if (b !== undefined) return b;
  }
  return conversionError(name, v, "bool");
}

export function durationField(data: Record<string, unknown>, name: string): Field<number> {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  const s = parseDurationSecond(v);
  return s === undefined ? conversionError(name, v, "duration") : s;
}

export function stringField(data: Record<string, unknown>, name: string): Field<string> {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return conversionError(name, v, "string");
}

/** A list given as a JSON array or a comma-separated string (TypeCommaStringSlice). */
export function stringListField(data: Record<string, unknown>, name: string): Field<string[]> {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number")) {
    return v.map((x) => String(x).trim()).filter((s) => s !== "");
  }
  return conversionError(name, v, "string list");
}

/** A map of strings (TypeKVPairs / custom_metadata): values are weakly converted to strings. */
export function stringMapField(data: Record<string, unknown>, name: string): Field<Record<string, string>> {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) return conversionError(name, v, "map");
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[k] = typeof x === "string" ? x : x === null ? "" : JSON.stringify(x);
  }
  return out;
}

/** The first decoding error among fields, if any. */
export function firstError(...fields: Field<unknown>[]): string | undefined {
  for (const f of fields) if (isError(f)) return f.error;
  return undefined;
}

/** The decoded value, with errors (already reported through firstError) read as absent. */
export function value<T>(field: Field<T>): T | undefined {
  return isError(field) ? undefined : field;
}

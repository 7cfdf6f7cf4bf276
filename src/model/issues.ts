import type { z } from "zod";
import type { ValidationIssue } from "./errors.js";

/**
 * A field path as users read it: `environments[1].nomad.address`,
 * `environments.qa.variables.count`; keys that are not identifiers are
 * quoted (`meta["team name"]`). The empty path gives `""`.
 */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(seg))) out += out === "" ? String(seg) : `.${String(seg)}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/**
 * The message for keys an object does not know, one line per key, with a
 * suggestion when a known key is a likely typo: `unknown key "drfit" (did you
 * mean "drift"?)`. Used as the schema-level message of every strict object.
 */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((k) => {
      const near = known.find((c) => editDistance(k.toLowerCase(), c.toLowerCase()) <= (c.length <= 4 ? 1 : 2));
      return `unknown key ${JSON.stringify(k)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ""}`;
    })
    .join("\n");
}

/**
 * The fallback wording of schema problems, passed to `safeParse`: short,
 * in the user's terms (`is required`, `must be a number`), never the
 * schema library's internals. Schemas give their own message where a generic
 * one would not help (`must be heal or report`).
 */
export function humanMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      return `must be ${TYPE_WORDS[iss.expected] ?? iss.expected}, not ${describeValue(iss.input)}`;
    case "too_small":
      if (iss.origin === "array") return `must list at least ${String(iss.minimum)}`;
      if (iss.origin === "string") return iss.minimum === 1 ? "must not be empty" : `must be at least ${String(iss.minimum)} characters`;
      return `must be ${iss.inclusive ? "at least" : "more than"} ${String(iss.minimum)}`;
    case "too_big":
      if (iss.origin === "string") return `must be at most ${String(iss.maximum)} characters`;
      return `must be ${iss.inclusive ? "at most" : "less than"} ${String(iss.maximum)}`;
    case "invalid_value":
      return `must be ${iss.values.map((v) => String(v)).join(" or ")}`;
    default:
      return undefined;
  }
}

const TYPE_WORDS: Record<string, string> = {
  object: "a mapping (key: value)",
  record: "a mapping (key: value)",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};

function describeValue(v: unknown): string {
  if (v === null) return "empty";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return JSON.stringify(v) ?? typeof v;
}

/**
 * Turns a schema's issues into validation issues located in `file`. An
 * unknown-keys issue becomes one issue per key, on that key's line, with the
 * enclosing object as its field.
 */
export function fromSchemaIssues(
  file: string,
  issues: readonly z.core.$ZodIssue[],
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): ValidationIssue[] {
  return issues.flatMap((iss) => {
    if (iss.code === "unrecognized_keys") {
      const messages = iss.message.split("\n");
      return iss.keys.map((key, i) =>
        located(file, lineOf([...iss.path, key]), formatFieldPath(iss.path), messages[i] ?? `unknown key ${JSON.stringify(key)}`),
      );
    }
    // A record key that fails its own schema: the key's messages, not the generic "Invalid key in record".
    const message = iss.code === "invalid_key" ? iss.issues.map((i) => i.message).join("; ") : iss.message;
    return [located(file, lineOf(iss.path), formatFieldPath(iss.path), message)];
  });
}

/** An issue with only the parts that are known (exactOptionalPropertyTypes forbids `line: undefined`). */
export function located(file: string, line: number | undefined, field: string, message: string): ValidationIssue {
  return { file, ...(line !== undefined && { line }), ...(field !== "" && { field }), message };
}

/** Orders issues by file, then line (issues without a line first), keeping the order they were found in otherwise. */
export function sortIssues(issues: readonly ValidationIssue[]): ValidationIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => {
      const fa = a.issue.file ?? "";
      const fb = b.issue.file ?? "";
      if (fa !== fb) return fa < fb ? -1 : 1;
      return (a.issue.line ?? 0) - (b.issue.line ?? 0) || a.i - b.i;
    })
    .map(({ issue }) => issue);
}

/** Optimal string alignment distance: a swap of two neighbours (`drfit`) counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

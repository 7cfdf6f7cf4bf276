/**
 * A copy of `s` in one piece of its own length. V8 keeps a string built by
 * concatenation as a rope (a 32-byte node per piece: `crypto.randomUUID()`
 * is ~20 of them, ~500 bytes for 36 characters) and a substring of 13 or
 * more characters as a slice that keeps its whole parent alive (a job file's
 * name keeps the 2 MB `ls-tree` listing it came from). Use on strings kept
 * for long, once per value: per-key status, cache keys, copies out of large
 * sources. Lossless for every string; about a microsecond for short ones.
 */
export function flatString(s: string): string {
  // JSON.parse builds a new sequential string (checked with %DebugPrint in Node 20: ONE_BYTE_STRING_TYPE).
  return JSON.parse(JSON.stringify(s)) as string;
}

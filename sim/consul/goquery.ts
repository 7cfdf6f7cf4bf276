/**
 * Go's `url.Values.Encode()`: keys sorted, each pair `key=value` with
 * `url.QueryEscape` (space as `+`, everything but A-Z a-z 0-9 - _ . ~
 * percent-encoded in upper-case hex). Consul echoes the query this way in
 * its "Conflicting flags" error.
 */
export function goEncodeQuery(q: URLSearchParams): string {
  const keys = [...new Set(q.keys())].sort();
  const parts: string[] = [];
  for (const k of keys) for (const v of q.getAll(k)) parts.push(`${escape(k)}=${escape(v)}`);
  return parts.join("&");
}

function escape(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Go's strconv.ParseUint(s, 10, 64), with its error text. */
export function parseUint(s: string): { ok: true; value: number } | { ok: false; error: string } {
  if (!/^\d+$/.test(s)) return { ok: false, error: `strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax` };
  if (BigInt(s) > 18446744073709551615n) return { ok: false, error: `strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range` };
  return { ok: true, value: Number(s) };
}

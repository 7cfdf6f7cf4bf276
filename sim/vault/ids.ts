/**
 * Identifiers in the shapes Vault uses, drawn from the sim's seeded random
 * source so that runs repeat.
 */
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX = "0123456789abcdef";

function chars(random: () => number, n: number, alphabet: string): string {
  let out = "";
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(random() * alphabet.length)] ?? "0";
  return out;
}

/** A UUID-shaped id (request ids, role ids, secret ids, entity ids). */
export function uuid(random: () => number): string {
  const h = chars(random, 32, HEX);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A service token id: Vault ≥ 1.10 prefixes service tokens with `hvs.`. */
export function serviceTokenId(random: () => number): string {
  return `hvs.${chars(random, 24, BASE62)}`;
}

/** A token accessor: 24 base62 characters. */
export function accessorId(random: () => number): string {
  return chars(random, 24, BASE62);
}

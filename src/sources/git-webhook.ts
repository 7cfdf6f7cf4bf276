import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Checks a GitHub-style `X-Hub-Signature-256: sha256=<hex>` header against the
 * raw request body and the shared secret, in constant time. Any missing or
 * malformed header is simply "not valid".
 */
export function validHubSignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!secret || !header?.startsWith("sha256=")) return false;
  const given = Buffer.from(header.slice("sha256=".length), "hex");
  const want = createHmac("sha256", secret).update(rawBody).digest();
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The header a sender computes, for tests and for documentation. */
export function hubSignature(secret: string, rawBody: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
}

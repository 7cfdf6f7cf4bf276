import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { LIVE_SESSION_TTL_MS } from "../config/defaults.js";

/** The cookie that lets a page read the live UI's data when reads need the token (`api.uiReads: token`). */
export const SESSION_COOKIE = "steward_ui_session";

function sign(key: string, expiresAt: number): string {
  return createHmac("sha256", key).update(`steward-ui-read:${expiresAt}`).digest("hex");
}

/**
 * A read session's cookie value: its expiry and an HMAC of it keyed by the
 * action token. It holds no secret (the token cannot be recovered from it),
 * and a token rotated in its file or in Vault ends every session at once.
 */
export function sessionValue(key: string, now: number, ttlMs = LIVE_SESSION_TTL_MS): { value: string; expiresAt: number } {
  const expiresAt = now + ttlMs;
  return { value: `${expiresAt}.${sign(key, expiresAt)}`, expiresAt };
}

/** The `Set-Cookie` header of a session: HttpOnly, SameSite=Strict, only sent to `/api/`. */
export function sessionCookie(value: string, expiresAt: number, now: number): string {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  return `${SESSION_COOKIE}=${value}; Path=/api/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict`;
}

/** The `Set-Cookie` header that ends a session. */
export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/api/; Max-Age=0; HttpOnly; SameSite=Strict`;

/** Whether the request carries a session cookie that is unexpired and signed with `key` (compared in constant time). */
export function validSession(headers: IncomingHttpHeaders, key: string | undefined, now: number): boolean {
  if (!key) return false;
  const cookie = (headers.cookie ?? "")
    .split(";")
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  const m = /^(\d+)\.([0-9a-f]{64})$/.exec(cookie?.slice(SESSION_COOKIE.length + 1) ?? "");
  if (!m?.[1] || !m[2]) return false;
  const expiresAt = Number(m[1]);
  if (!(expiresAt > now)) return false;
  return timingSafeEqual(Buffer.from(m[2], "hex"), Buffer.from(sign(key, expiresAt), "hex"));
}

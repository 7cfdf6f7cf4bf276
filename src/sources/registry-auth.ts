import { REGISTRY_TOKEN_DEFAULT_TTL_S, REGISTRY_TOKEN_EXPIRY_MARGIN_MS } from "../config/defaults.js";
import { addSecret } from "../log.js";

/** A user name and password (or access token) for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * Where registry credentials come from, asked each time a login is needed
 * (a 401, or a token about to expire), so a secret rotated in Vault is
 * picked up. `registry` is the host (and port) as written in the image
 * reference: `127.0.0.1:5000`, `ghcr.io`. Undefined means anonymous.
 */
export type CredentialsProvider = (registry: string) => Promise<RegistryCredentials | undefined> | RegistryCredentials | undefined;

/** A `WWW-Authenticate` challenge: its scheme and parameters (names lower-case). */
export interface AuthChallenge {
  scheme: "basic" | "bearer";
  params: Record<string, string>;
}

/**
 * Reads the first Basic or Bearer challenge of a `WWW-Authenticate` value
 * (RFC 9110 §11.6.1): `Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"`.
 * Quoted values may hold commas and escaped quotes. Undefined when the
 * header is absent or names neither scheme.
 */
export function parseChallenge(header: string | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
  const start = /(?:^|[\s,])(basic|bearer)(?=\s|$)/i.exec(header);
  if (!start) return undefined;
  const scheme = start[1]!.toLowerCase() as AuthChallenge["scheme"];
  const rest = header.slice(start.index + start[0].length);
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/y;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme, params };
}

/** `Basic <base64(user:password)>`, registered with the log scrubber. */
export function basicAuthorization(c: RegistryCredentials): string {
  addSecret(c.password);
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

/** A token endpoint's answer, as the Docker token spec defines it (`token` or the OAuth2 `access_token`). */
export interface TokenResponse {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
}

/**
 * The bearer token in a token endpoint's answer and when to stop using it
 * (epoch ms): `expires_in` seconds (REGISTRY_TOKEN_DEFAULT_TTL_S, 60, when
 * absent, as the spec says) from `nowMs`, less REGISTRY_TOKEN_EXPIRY_MARGIN_MS
 * (at most half the lifetime). Undefined when the answer holds no token.
 */
export function readToken(body: unknown, nowMs: number): { token: string; expiresAt: number } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as TokenResponse;
  const token = typeof b.token === "string" && b.token ? b.token : typeof b.access_token === "string" && b.access_token ? b.access_token : undefined;
  if (!token) return undefined;
  addSecret(token);
  const ttlMs = (typeof b.expires_in === "number" && b.expires_in > 0 ? b.expires_in : REGISTRY_TOKEN_DEFAULT_TTL_S) * 1000;
  return { token, expiresAt: nowMs + ttlMs - Math.min(REGISTRY_TOKEN_EXPIRY_MARGIN_MS, ttlMs / 2) };
}

/**
 * Bearer tokens per key (registry and repository), each until its expiry.
 * Concurrent fetches for one key share one request.
 */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number) {}

  /** The cached token for `key`, unless it has expired. */
  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (t.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  /** Drops the token for `key` (the registry refused it). */
  drop(key: string): void {
    this.tokens.delete(key);
  }

  /** Fetches a token for `key` with `fetch` (one request at a time per key) and caches it. */
  async fetch(key: string, fetch: () => Promise<{ token: string; expiresAt: number }>): Promise<string> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = fetch()
      .then((t) => {
        this.tokens.set(key, t);
        return t.token;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}

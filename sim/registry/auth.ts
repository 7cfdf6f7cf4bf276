import type { SimReply, SimRequest } from "../core/http.js";
import type { Clock } from "../core/clock.js";
import { jsonReply, registryErrors } from "./errors.js";

/**
 * Access control. `basic` is distribution's htpasswd access controller;
 * `bearer` is its token controller together with a token server at
 * `<base>/token` that hands out tokens for basic credentials.
 */
export type RegistryAuth =
  | { type: "basic"; username: string; password: string; realm?: string }
  | {
      type: "bearer";
      username: string;
      password: string;
      /** @default "sim-registry" */
      service?: string;
      /** Token lifetime in sim seconds. @default 300 */
      expiresInS?: number;
    };

/** One access a request needs, as distribution's auth.Access (and the 401 detail lists it). */
export interface AccessRecord {
  Type: "repository" | "registry";
  Class: "";
  Name: string;
  Action: string;
}

/** Who made the request, once authorised (the events' `actor`). */
export interface Actor {
  name?: string;
}

interface IssuedToken {
  username: string;
  grants: Set<string>;
  expiresAt: number;
}

/** Access control for one registry: checks requests, and serves the token endpoint. */
export class RegistryAuthorizer {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly auth: RegistryAuth | undefined,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly realmBase: () => string,
  ) {}

  get enabled(): boolean {
    return this.auth !== undefined;
  }

  /**
   * Checks a request needing `access`: the actor when allowed, else the 401
   * the reference server sends (its challenge and `UNAUTHORIZED` body).
   */
  check(req: SimRequest, access: AccessRecord[]): { actor: Actor } | { reply: SimReply } {
    const auth = this.auth;
    if (!auth) return { actor: {} };
    const header = firstHeader(req.headers.authorization) ?? "";
    if (auth.type === "basic") {
      const creds = parseBasic(header);
      if (creds && creds.username === auth.username && creds.password === auth.password) return { actor: { name: creds.username } };
      return { reply: unauthorized(`Basic realm="${auth.realm ?? "sim-registry"}"`, access) };
    }
    const service = auth.service ?? "sim-registry";
    const scope = scopeParam(access);
    const challenge = (error?: string): string =>
      `Bearer realm="${this.realmBase()}/token",service="${service}"` + (scope ? `,scope="${scope}"` : "") + (error ? `,error="${error}"` : "");
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return { reply: unauthorized(challenge(), access) };
    const token = this.tokens.get(m[1]!);
    if (!token || token.expiresAt <= this.clock.now()) return { reply: unauthorized(challenge("invalid_token"), access) };
    const missing = access.filter((a) => !token.grants.has(grantKey(a.Type, a.Name, a.Action)) && !token.grants.has(grantKey(a.Type, a.Name, "*")));
    if (missing.length > 0) return { reply: unauthorized(challenge("insufficient_scope"), access) };
    return { actor: { name: token.username } };
  }

  /**
   * The token endpoint (`GET /token?service=&scope=...`): basic credentials in,
   * `{token, access_token, expires_in, issued_at}` out, granting every scope asked for.
   */
  token(req: SimRequest): SimReply {
    const auth = this.auth;
    if (auth?.type !== "bearer") return { status: 404, body: "404 page not found\n" };
    const creds = parseBasic(firstHeader(req.headers.authorization) ?? "");
    if (!creds || creds.username !== auth.username || creds.password !== auth.password) {
      return jsonReply(401, { details: "incorrect username or password" }, { "Www-Authenticate": `Basic realm="${auth.service ?? "sim-registry"}"` }, "application/json");
    }
    const grants = new Set<string>();
    for (const scope of req.query.getAll("scope").flatMap((s) => s.split(" "))) {
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      if (first <= 0 || last <= first) continue;
      for (const action of scope.slice(last + 1).split(",")) grants.add(grantKey(scope.slice(0, first), scope.slice(first + 1, last), action));
    }
    const expiresIn = auth.expiresInS ?? 300;
    const now = this.clock.now();
    const token = this.newToken();
    this.tokens.set(token, { username: creds.username, grants, expiresAt: now + expiresIn * 1000 });
    return jsonReply(
      200,
      { token, access_token: token, expires_in: expiresIn, issued_at: new Date(now).toISOString() },
      {},
      "application/json",
    );
  }

  private newToken(): string {
    const bytes = Buffer.alloc(32);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(this.random() * 256);
    return `sim.${bytes.toString("base64url")}`;
  }
}

function grantKey(type: string, name: string, action: string): string {
  return `${type}:${name}:${action}`;
}

/** The challenge's `scope`: one `type:name:actions` per resource, space-separated, actions in order of need. */
function scopeParam(access: AccessRecord[]): string {
  const byResource = new Map<string, string[]>();
  for (const a of access) {
    const key = `${a.Type}:${a.Name}`;
    const actions = byResource.get(key) ?? [];
    if (!actions.includes(a.Action)) actions.push(a.Action);
    byResource.set(key, actions);
  }
  return [...byResource].map(([k, actions]) => `${k}:${actions.join(",")}`).join(" ");
}

function unauthorized(challenge: string, access: AccessRecord[]): SimReply {
  return registryErrors([{ code: "UNAUTHORIZED", detail: access.length > 0 ? access : null }], { "Www-Authenticate": challenge });
}

function parseBasic(header: string): { username: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return i < 0 ? undefined : { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

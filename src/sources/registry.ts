import { createHash } from "node:crypto";
import { REGISTRY_AUTH_RETRY_AFTER_MS, REGISTRY_MAX_MANIFEST_BYTES, REGISTRY_MAX_TAG_PAGES } from "../config/defaults.js";
import { InvalidInputError } from "../model/errors.js";
import { systemClock, type Clock } from "../reconciler/core/clock.js";
import { TransientError } from "../reconciler/core/outcome.js";
import { HttpClient, HttpStatusError, type HttpClientOptions, type HttpRequest, type HttpResponse } from "./http-client.js";
import { basicAuthorization, parseChallenge, readToken, TokenCache, type AuthChallenge, type CredentialsProvider } from "./registry-auth.js";

export type { CredentialsProvider, RegistryCredentials } from "./registry-auth.js";

/** Manifest media types Steward reads, in the order of preference it sends in `Accept`. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
] as const;

const DOCKER_HUB = "registry-1.docker.io";
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** An image repository split into where it lives and its name there. */
export interface RepositoryRef {
  /** As the user wrote it: `127.0.0.1:5000/team/web`. */
  reference: string;
  /** Host and port, the key credentials are asked for: `127.0.0.1:5000`, `ghcr.io`, `registry-1.docker.io`. */
  registry: string;
  /** `http://127.0.0.1:5000`, `https://ghcr.io`. */
  baseURL: string;
  /** The repository name on that registry: `team/web` (`library/redis` for Docker Hub's `redis`). */
  name: string;
}

/**
 * Splits `127.0.0.1:5000/team/web` into registry and name, as Docker does:
 * the first path component is a registry when it holds a `.` or `:` or is
 * `localhost`; otherwise the registry is Docker Hub (one-component names get
 * `library/`). Plain http is used for loopback hosts (127.0.0.0/8,
 * `localhost`, `[::1]`) and the hosts in `insecure`; https otherwise.
 * @throws InvalidInputError (field `image.repository`) for an empty name, or one carrying a tag or digest
 */
export function parseRepository(reference: string, insecure: readonly string[] = []): RepositoryRef {
  const slash = reference.indexOf("/");
  const first = slash < 0 ? "" : reference.slice(0, slash);
  const hasHost = slash > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasHost ? first : DOCKER_HUB;
  let name = hasHost ? reference.slice(slash + 1) : reference;
  if (!name || /[@\s]|:/.test(name)) {
    throw new InvalidInputError(`${JSON.stringify(reference)} is not an image repository (no tag or digest; like 127.0.0.1:5000/team/web)`, {
      field: "image.repository",
    });
  }
  if (!hasHost && !name.includes("/")) name = `library/${name}`;
  const host = registry.replace(/:\d+$/, "");
  const loopback = host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]";
  const scheme = loopback || insecure.includes(registry) || insecure.includes(host) ? "http" : "https";
  return { reference, registry, baseURL: `${scheme}://${registry}`, name };
}

/**
 * The registry refused Steward's credentials (401 after logging in) or
 * denied access (403). Retried by the queue after REGISTRY_AUTH_RETRY_AFTER_MS,
 * never at once: a rotated secret is picked up, a wrong one does not hammer
 * the registry. The message names the repository and what to fix.
 */
export class RegistryAuthError extends TransientError {
  constructor(
    message: string,
    readonly repository: string,
    readonly status: number,
    endpoint: string,
  ) {
    super(message, { endpoint }, REGISTRY_AUTH_RETRY_AFTER_MS);
  }
}

/**
 * The registry has no such repository (`NAME_UNKNOWN`) or no such tag or
 * manifest in it (`MANIFEST_UNKNOWN`). Terminal until the desired state or
 * the registry changes (a typo in `image.repository`, a tag deleted).
 */
export class RegistryNotFoundError extends InvalidInputError {
  constructor(
    message: string,
    readonly repository: string,
    readonly code: "NAME_UNKNOWN" | "MANIFEST_UNKNOWN",
    endpoint: string,
    readonly tag?: string,
  ) {
    super(message, { endpoint, field: "image.repository" });
  }
}

/** A manifest's identity: what Steward pins jobs to. */
export interface ResolvedDigest {
  /** `sha256:…` of the manifest bytes as stored (for an index: the index itself, never one platform's entry). */
  digest: string;
  /** The stored manifest's media type (OCI or Docker, manifest or index/list), when the registry said it. */
  mediaType: string | undefined;
}

/** Options of a RegistryClient. */
export interface RegistryClientOptions {
  /** Credentials per registry host; asked on each login, never cached here. @default anonymous */
  credentials?: CredentialsProvider;
  /** Registries (`host:port` or host) reached over plain http besides loopback ones. @default none */
  insecureRegistries?: readonly string[];
  /** `n` sent when listing tags; undefined lets the registry choose (2.8 lists all, v3 and hosted registries page). */
  tagsPageSize?: number;
  /** Passed to every HttpClient (timeouts, retries, delay, metrics, logger). `target` is `registry`. */
  http?: Omit<Partial<HttpClientOptions>, "target" | "baseURL" | "headers">;
  /** For token expiry. @default systemClock */
  clock?: Clock;
}

/**
 * Reads an OCI distribution (`/v2`) registry: tags and the digest each tag
 * points to. Anonymous, basic and bearer-token auth, driven by the registry's
 * `WWW-Authenticate` challenge: a 401 makes it log in (basic credentials, or
 * a token from the challenge's realm, cached until it expires) and retry the
 * call once. Every call goes through an HttpClient (timeouts; 429, 5xx and
 * timeouts retried with backoff and Retry-After).
 *
 * Errors: RegistryAuthError (401 after login, 403), RegistryNotFoundError
 * (unknown repository or tag), TransientError (429, 5xx, timeouts, network,
 * after HttpClient's retries; with `retryAfterMs` when the registry sent
 * one), InvalidInputError (a bad repository reference), HttpStatusError
 * (anything else). Messages start with the repository reference.
 */
export class RegistryClient {
  private readonly clients = new Map<string, HttpClient>();
  /** Registries that answered with a Basic challenge: credentials go with every call to them. */
  private readonly basicRegistries = new Set<string>();
  private readonly tokens: TokenCache;
  private readonly clock: Clock;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.tokens = new TokenCache(() => this.clock.now());
  }

  /** The repository reference parsed with this client's insecure registries. */
  ref(repository: string): RepositoryRef {
    return parseRepository(repository, this.opts.insecureRegistries);
  }

  /**
   * Every tag of `repository`, sorted and without duplicates, following
   * `Link: <…>; rel="next"` pages (at most REGISTRY_MAX_TAG_PAGES). A
   * repository whose tags were all deleted has none (2.8 says `"tags": null`).
   */
  async listTags(repository: string): Promise<string[]> {
    const ref = this.ref(repository);
    const tags = new Set<string>();
    let path = `/v2/${ref.name}/tags/list`;
    let params: Record<string, string> = this.opts.tagsPageSize !== undefined ? { n: String(this.opts.tagsPageSize) } : {};
    for (let page = 0; ; page++) {
      if (page >= REGISTRY_MAX_TAG_PAGES) {
        throw new TransientError(`${ref.reference}: tags list has more than ${REGISTRY_MAX_TAG_PAGES} pages; stopped following Link`, { endpoint: `GET ${path}` });
      }
      const res = await this.call<{ tags?: unknown }>(ref, { method: "GET", path, params });
      const list = res.data?.tags;
      if (Array.isArray(list)) for (const t of list) if (typeof t === "string") tags.add(t);
      const next = nextLink(res.headers.link, ref);
      if (!next) break;
      ({ path, params } = next);
    }
    return [...tags].sort();
  }

  /**
   * The digest `tag` points to now: a HEAD on the manifest accepting OCI and
   * Docker v2 manifests and indexes, read from `Docker-Content-Digest`; when a
   * registry omits it, a GET and the sha256 of the exact bytes (at most
   * REGISTRY_MAX_MANIFEST_BYTES).
   * @throws RegistryNotFoundError naming the repository and tag when either is unknown
   */
  async resolveDigest(repository: string, tag: string): Promise<ResolvedDigest> {
    const ref = this.ref(repository);
    const path = `/v2/${ref.name}/manifests/${tag}`;
    const headers = { Accept: MANIFEST_MEDIA_TYPES.join(", ") };
    const head = await this.call(ref, { method: "HEAD", path, headers, responseType: "text" }, tag);
    const stated = head.headers["docker-content-digest"];
    const mediaType = head.headers["content-type"]?.split(";")[0]?.trim() || undefined;
    if (stated) {
      if (!DIGEST.test(stated)) throw new HttpStatusError(`${ref.reference}:${tag}: registry sent digest ${JSON.stringify(stated)}, not sha256:<64 hex>`, head.status, { endpoint: `HEAD ${path}` });
      return { digest: stated, mediaType };
    }
    const got = await this.call<ArrayBuffer>(ref, { method: "GET", path, headers, responseType: "arraybuffer" }, tag);
    const body = Buffer.from(got.data);
    if (body.length > REGISTRY_MAX_MANIFEST_BYTES) {
      throw new HttpStatusError(`${ref.reference}:${tag}: manifest is ${body.length} bytes, over ${REGISTRY_MAX_MANIFEST_BYTES}`, got.status, { endpoint: `GET ${path}` });
    }
    return {
      digest: `sha256:${createHash("sha256").update(body).digest("hex")}`,
      mediaType: got.headers["content-type"]?.split(";")[0]?.trim() || mediaType,
    };
  }

  /** One call with auth: logs in on a 401 and retries once; classifies 401/403/404. */
  private async call<T>(ref: RepositoryRef, req: HttpRequest, tag?: string): Promise<HttpResponse<T>> {
    const endpoint = `${req.method} ${req.path}`;
    const tokenKey = `${ref.registry}/${ref.name}`;
    let res = await this.send<T>(ref, req, await this.authorization(ref, tokenKey));
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers["www-authenticate"]);
      // A cached token the registry refuses (revoked, clock skew) is dropped, and a fresh one fetched below.
      this.tokens.drop(tokenKey);
      const auth = await this.login(ref, tokenKey, challenge, endpoint);
      res = await this.send<T>(ref, req, auth);
      if (res.status === 401) {
        throw new RegistryAuthError(`${ref.reference}: registry ${ref.registry} refused the credentials (401 after logging in); check the credentials Steward has for it`, ref.reference, 401, endpoint);
      }
    }
    if (res.status === 403) {
      throw new RegistryAuthError(`${ref.reference}: registry ${ref.registry} denied access (403); the credentials need pull access to ${ref.name}`, ref.reference, 403, endpoint);
    }
    if (res.status === 404) throw await this.notFound(ref, req, res, tag);
    return res;
  }

  /** The Authorization header to start with: a cached token, or basic credentials for a registry known to want them. */
  private async authorization(ref: RepositoryRef, tokenKey: string): Promise<string | undefined> {
    const token = this.tokens.get(tokenKey);
    if (token) return `Bearer ${token}`;
    if (!this.basicRegistries.has(ref.registry)) return undefined;
    const creds = await this.opts.credentials?.(ref.registry);
    return creds ? basicAuthorization(creds) : undefined;
  }

  /** Answers a challenge: basic credentials, or a bearer token from its realm. */
  private async login(ref: RepositoryRef, tokenKey: string, challenge: AuthChallenge | undefined, endpoint: string): Promise<string> {
    const creds = await this.opts.credentials?.(ref.registry);
    if (challenge?.scheme === "basic") {
      if (!creds) {
        throw new RegistryAuthError(`${ref.reference}: registry ${ref.registry} requires credentials (Basic) and Steward has none for it`, ref.reference, 401, endpoint);
      }
      this.basicRegistries.add(ref.registry);
      return basicAuthorization(creds);
    }
    const realm = challenge?.params.realm;
    if (challenge?.scheme !== "bearer" || !realm) {
      throw new RegistryAuthError(`${ref.reference}: registry ${ref.registry} answered 401 without a Basic or Bearer challenge Steward can answer`, ref.reference, 401, endpoint);
    }
    const token = await this.tokens.fetch(tokenKey, async () => {
      let url: URL;
      try {
        url = new URL(realm);
      } catch {
        throw new RegistryAuthError(`${ref.reference}: registry ${ref.registry} named token realm ${JSON.stringify(realm)}, which is not a URL`, ref.reference, 401, endpoint);
      }
      const params: Record<string, string> = Object.fromEntries(url.searchParams);
      if (challenge.params.service) params.service = challenge.params.service;
      // The challenge's scope is what this call needs; without one, pull on the repository is what a reader needs.
      params.scope = challenge.params.scope ?? `repository:${ref.name}:pull`;
      const headers: Record<string, string> = creds ? { Authorization: basicAuthorization(creds) } : {};
      const res = await this.clientFor(url.origin).request({ method: "GET", path: url.pathname, params, headers, okStatuses: [401, 403] });
      if (res.status === 401 || res.status === 403) {
        throw new RegistryAuthError(
          `${ref.reference}: token service ${url.origin}${url.pathname} refused ${creds ? `the credentials of ${creds.username}` : "an anonymous login"} (${res.status})`,
          ref.reference,
          res.status,
          `GET ${url.pathname}`,
        );
      }
      const t = readToken(res.data, this.clock.now());
      if (!t) throw new HttpStatusError(`${ref.reference}: token service ${url.origin}${url.pathname} answered without a token`, res.status, { endpoint: `GET ${url.pathname}` });
      return t;
    });
    return `Bearer ${token}`;
  }

  private async send<T>(ref: RepositoryRef, req: HttpRequest, authorization: string | undefined): Promise<HttpResponse<T>> {
    const headers = { ...req.headers, ...(authorization ? { Authorization: authorization } : {}) };
    try {
      return await this.clientFor(ref.baseURL).request<T>({ ...req, headers, okStatuses: [401, 403, 404] });
    } catch (err) {
      throw withRepository(err, ref);
    }
  }

  /** The error for a 404: the registry's code read from the body (a HEAD has none, so the same GET is made to read it). */
  private async notFound(ref: RepositoryRef, req: HttpRequest, res: HttpResponse<unknown>, tag: string | undefined): Promise<Error> {
    const endpoint = `${req.method} ${req.path}`;
    let body: unknown = res.data;
    if (req.method === "HEAD") {
      try {
        body = (await this.send(ref, { ...req, method: "GET", responseType: "json" }, await this.authorization(ref, `${ref.registry}/${ref.name}`))).data;
      } catch {
        body = undefined;
      }
    }
    const codes = errorCodes(body);
    if (codes.includes("NAME_UNKNOWN") || (tag === undefined && codes.length === 0)) {
      return new RegistryNotFoundError(`${ref.reference}: no such repository ${ref.name} on ${ref.registry}`, ref.reference, "NAME_UNKNOWN", endpoint);
    }
    if (tag !== undefined) {
      return new RegistryNotFoundError(`${ref.reference}: no such tag ${tag} (or no repository ${ref.name}) on ${ref.registry}`, ref.reference, "MANIFEST_UNKNOWN", endpoint, tag);
    }
    return new HttpStatusError(`${ref.reference}: ${endpoint}: 404 ${JSON.stringify(body)}`, 404, { endpoint });
  }

  private clientFor(baseURL: string): HttpClient {
    let c = this.clients.get(baseURL);
    if (!c) {
      c = new HttpClient({ ...this.opts.http, target: "registry", baseURL });
      this.clients.set(baseURL, c);
    }
    return c;
  }
}

/** The `code`s of a distribution error body (`{"errors":[{"code":"NAME_UNKNOWN",…}]}`). */
function errorCodes(body: unknown): string[] {
  if (typeof body !== "object" || body === null) return [];
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((e) => (typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" ? [(e as { code: string }).code] : []));
}

/**
 * The next page of a `Link: <…>; rel="next"` header, relative or absolute,
 * as a path and query parameters; undefined when there is none.
 * @throws HttpStatusError when the link leaves the registry (another origin)
 */
function nextLink(header: string | undefined, ref: RepositoryRef): { path: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m || !/;\s*rel="?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2]!)) continue;
    const url = new URL(m[1]!, ref.baseURL);
    if (url.origin !== new URL(ref.baseURL).origin) {
      throw new HttpStatusError(`${ref.reference}: tags list Link points to another origin (${url.origin}); not followed`, 200, { endpoint: `GET /v2/${ref.name}/tags/list` });
    }
    return { path: url.pathname, params: Object.fromEntries(url.searchParams) };
  }
  return undefined;
}

/** Puts the repository in front of an HttpClient error's message, keeping its kind and Retry-After. */
function withRepository(err: unknown, ref: RepositoryRef): unknown {
  if (err instanceof TransientError) return new TransientError(`${ref.reference}: ${err.message}`, err.context, err.retryAfterMs, { cause: err });
  if (err instanceof HttpStatusError) {
    const e = new HttpStatusError(`${ref.reference}: ${err.message}`, err.status, err.context);
    e.cause = err;
    return e;
  }
  if (err instanceof InvalidInputError) return new InvalidInputError(`${ref.reference}: ${err.message}`, err.context, undefined, { cause: err });
  return err;
}

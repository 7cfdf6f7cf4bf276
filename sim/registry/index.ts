import { hostname } from "node:os";
import { Router, type SimReply, type SimRequest } from "../core/http.js";
import type { SimContext } from "../core/context.js";
import { RegistryAuthorizer, type AccessRecord, type RegistryAuth } from "./auth.js";
import { continueUpload, deleteBlob, getBlob, startUpload } from "./blob-handlers.js";
import { errorDetail, type Call, type RegistryCompat, type RegistryContext } from "./context.js";
import { API_VERSION_HEADER, JSON_TYPE, registryError } from "./errors.js";
import { catalog, tagsList } from "./listing.js";
import { deleteManifest, getManifest, putManifest } from "./manifest-handlers.js";
import { Notifier, type RegistryEvent, type RegistryNotificationEndpoint } from "./notifications.js";
import { ALLOWED_METHODS, digestOf, matchV2Route, NAME_MAX_LENGTH, type V2Route } from "./routes.js";
import { planImage, type PushImageOptions } from "./seed.js";
import { RegistryStore } from "./store.js";

export type { RegistryNotificationEndpoint, RegistryEvent } from "./notifications.js";
export type { RegistryAuth } from "./auth.js";
export type { RegistryCompat } from "./context.js";
export type { PushImageOptions } from "./seed.js";
export { EVENTS_MEDIA_TYPE } from "./notifications.js";

/** How a RegistryServer is set up (the keys of distribution's config that sim models). */
export interface RegistryOptions {
  /** Where events go (`notifications.endpoints`). */
  notifications: RegistryNotificationEndpoint[];
  /** @default anonymous: every request allowed */
  auth?: RegistryAuth;
  /** Which distribution release to answer like. @default "2.8" (the Debian package CI and e2e tests run) */
  compat?: RegistryCompat;
  /** `storage.delete.enabled`: DELETE of manifests and blobs. @default false, as in distribution */
  deleteEnabled?: boolean;
}

const ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/**
 * The Docker/OCI registry emulator: the /v2 distribution API over an
 * in-memory store, answering like distribution's reference server (see
 * README.md), with its push/pull notifications and optional basic or bearer
 * auth (and the token endpoint at `/token`).
 */
export class RegistryServer {
  readonly router: Router;
  /** The storage, for tests that inspect or seed state directly. */
  readonly store = new RegistryStore();
  private baseUrl = "http://127.0.0.1";
  private readonly instanceId: string;
  private readonly notifier: Notifier;
  private readonly authz: RegistryAuthorizer;
  private readonly rctx: RegistryContext;

  constructor(
    private readonly ctx: SimContext,
    opts: RegistryOptions,
  ) {
    this.instanceId = this.uuid();
    this.notifier = new Notifier(ctx.clock, opts.notifications);
    this.authz = new RegistryAuthorizer(opts.auth, ctx.clock, ctx.random, () => this.baseUrl);
    this.rctx = {
      store: this.store,
      compat: opts.compat ?? "2.8",
      deleteEnabled: opts.deleteEnabled ?? false,
      uuid: () => this.uuid(),
      emit: (call, action, target) => this.emit(call, action, target),
    };
    this.router = this.buildRouter();
  }

  /** Where the registry is reachable; called once listening (token realm, event `source`, seeded pushes). */
  setBaseUrl(url: string): void {
    this.baseUrl = url.replace(/\/+$/, "");
  }

  /** Stops delivering notifications. */
  close(): void {
    this.notifier.close();
  }

  /** Events queued for the notification endpoints and not yet delivered. */
  pendingNotifications(): number {
    return this.notifier.pending();
  }

  /**
   * Pushes an image as CI would, through the same API path (so it is
   * validated and notified like any push): config and layer blobs, the
   * manifest (OCI by default, Docker schema 2, or an index/list of two
   * platform images), tagged `tag`. Returns the digest of the tagged manifest.
   */
  pushImage(repo: string, tag: string, opts: PushImageOptions = {}): string {
    const plan = planImage(repo, tag, opts, new Date(this.ctx.clock.now()).toISOString());
    for (const blob of plan.blobs) this.seedBlob(repo, blob);
    let digest = "";
    plan.manifests.forEach((m, i) => {
      const reference = i === plan.manifests.length - 1 ? tag : digestOf(m.bytes);
      const reply = this.internal("PUT", `/v2/${repo}/manifests/${reference}`, { "content-type": m.mediaType }, m.bytes);
      if (reply.status !== 201) throw new Error(`sim registry: pushImage ${repo}:${tag}: manifest PUT answered ${reply.status}`);
      digest = reply.headers?.["Docker-Content-Digest"] as string;
    });
    return digest;
  }

  private seedBlob(repo: string, bytes: Buffer): void {
    const digest = digestOf(bytes);
    if (this.store.blob(repo, digest)) return; // a client HEADs first and skips what is there
    const started = this.internal("POST", `/v2/${repo}/blobs/uploads/`, {}, Buffer.alloc(0));
    const location = new URL(started.headers?.Location as string);
    location.searchParams.set("digest", digest);
    const done = this.internal("PUT", location.pathname + location.search, { "content-type": "application/octet-stream" }, bytes);
    if (done.status !== 201) throw new Error(`sim registry: pushImage: blob upload answered ${done.status}`);
  }

  /** A request made in-process, as an anonymous CI client, past auth. */
  private internal(method: string, pathAndQuery: string, headers: Record<string, string>, body: Buffer): SimReply {
    const url = new URL(pathAndQuery, this.baseUrl);
    const req: SimRequest = {
      method,
      path: url.pathname,
      params: {},
      query: url.searchParams,
      headers: { host: url.host, "user-agent": "sim-registry-ci", ...headers },
      body,
      signal: new AbortController().signal,
    };
    return this.handle({ req, actor: {}, base: this.origin(req), requestId: this.uuid() }, matchV2Route(url.pathname.slice(4)));
  }

  private buildRouter(): Router {
    const r = new Router({ notFound: () => pageNotFound(), methodNotAllowed: () => methodNotAllowed(["GET", "HEAD"]) });
    r.add(["GET", "HEAD"], "/", () => ({ status: 200, headers: { "Cache-Control": "no-cache" } }));
    r.add(["GET"], "/token", (req) => this.authz.token(req));
    r.add(ALL_METHODS, "/v2", () => ({
      status: 301,
      headers: { ...API_VERSION_HEADER, Location: "/v2/" },
      contentType: "text/html; charset=utf-8",
      body: '<a href="/v2/">Moved Permanently</a>.\n\n',
    }));
    r.add(ALL_METHODS, "/v2/", (req) => this.serveV2(req, undefined));
    r.add(ALL_METHODS, "/v2/*rest", (req) => {
      const route = matchV2Route(req.path.slice("/v2/".length));
      return route ? this.serveV2(req, route) : pageNotFound();
    });
    return r;
  }

  /** Auth first (as distribution's dispatcher does), then the handler; every answer carries the API version header. */
  private serveV2(req: SimRequest, route: V2Route | undefined): SimReply {
    const checked = this.authz.check(req, accessFor(req, route));
    const reply = "reply" in checked ? checked.reply : this.handle({ req, actor: checked.actor, base: this.origin(req), requestId: this.uuid() }, route);
    return { ...reply, headers: { ...API_VERSION_HEADER, ...(reply.headers ?? {}) } };
  }

  private handle(call: Call, route: V2Route | undefined): SimReply {
    const { req } = call;
    if (!route) return { status: 200, contentType: JSON_TYPE, body: Buffer.from("{}") };
    if (route.kind !== "catalog" && route.name.length > NAME_MAX_LENGTH) {
      return registryError("UNKNOWN", errorDetail(this.rctx, { Name: route.name, Reason: {} }, `repository name must not be more than ${NAME_MAX_LENGTH} characters`));
    }
    const allowed = ALLOWED_METHODS[route.kind];
    if (!allowed.includes(req.method)) return req.method === "OPTIONS" ? { status: 200, headers: { Allow: allowed.join(", ") } } : methodNotAllowed(allowed);
    const c = this.rctx;
    switch (route.kind) {
      case "catalog":
        return catalog(c, call);
      case "tags":
        return tagsList(c, call, route.name);
      case "manifest":
        if (req.method === "PUT") return putManifest(c, call, route.name, route.reference);
        if (req.method === "DELETE") return deleteManifest(c, call, route.name, route.reference);
        return getManifest(c, call, route.name, route.reference);
      case "blob":
        return req.method === "DELETE" ? deleteBlob(c, call, route.name, route.digest) : getBlob(c, call, route.name, route.digest);
      case "upload":
        if (route.uuid !== undefined) return continueUpload(c, call, route.name, route.uuid);
        return req.method === "POST" ? startUpload(c, call, route.name) : registryError("BLOB_UPLOAD_UNKNOWN");
    }
  }

  /** `scheme://host` as the client reached us, which is what the reference server builds URLs on. */
  private origin(req: SimRequest): string {
    const proto = firstHeader(req.headers["x-forwarded-proto"]) ?? new URL(this.baseUrl).protocol.replace(":", "");
    return `${proto}://${req.headers.host ?? new URL(this.baseUrl).host}`;
  }

  private emit(call: Call, action: RegistryEvent["action"], target: RegistryEvent["target"]): void {
    const { req } = call;
    const base = new URL(this.baseUrl);
    this.notifier.emit({
      id: this.uuid(),
      timestamp: new Date(this.ctx.clock.now()).toISOString(),
      action,
      target,
      request: {
        id: call.requestId,
        addr: remoteAddr(req),
        host: req.headers.host ?? base.host,
        method: req.method,
        useragent: firstHeader(req.headers["user-agent"]) ?? "",
      },
      actor: call.actor,
      source: { addr: `${hostname()}:${base.port || (base.protocol === "https:" ? "443" : "80")}`, instanceID: this.instanceId },
    });
  }

  /** A version-4 UUID from the sim's seeded random source, so runs repeat. */
  private uuid(): string {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) b[i] = Math.floor(this.ctx.random() * 256);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

/** The accesses a request needs (distribution's appendAccessRecords); the base route needs none. */
function accessFor(req: SimRequest, route: V2Route | undefined): AccessRecord[] {
  if (!route) return [];
  if (route.kind === "catalog") return [{ Type: "registry", Class: "", Name: "catalog", Action: "*" }];
  const rec = (name: string, action: string): AccessRecord => ({ Type: "repository", Class: "", Name: name, Action: action });
  switch (req.method) {
    case "GET":
    case "HEAD":
      return [rec(route.name, "pull")];
    case "POST":
    case "PUT":
    case "PATCH": {
      const out = [rec(route.name, "pull"), rec(route.name, "push")];
      const from = req.query.get("from");
      if (route.kind === "upload" && req.method === "POST" && req.query.get("mount") && from) out.push(rec(from, "pull"));
      return out;
    }
    case "DELETE":
      return [rec(route.name, "delete")];
    default:
      return [];
  }
}

/**
 * The client address as distribution records it: the first X-Forwarded-For
 * entry, else X-Real-Ip. sim's request carries no socket address, so a
 * direct loopback client is recorded as `127.0.0.1:0`.
 */
function remoteAddr(req: SimRequest): string {
  const xff = firstHeader(req.headers["x-forwarded-for"])?.split(",")[0]?.trim();
  if (xff) return xff;
  return firstHeader(req.headers["x-real-ip"]) ?? "127.0.0.1:0";
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function pageNotFound(): SimReply {
  return { status: 404, headers: { ...API_VERSION_HEADER, "X-Content-Type-Options": "nosniff" }, body: "404 page not found\n" };
}

function methodNotAllowed(allowed: string[]): SimReply {
  return {
    status: 405,
    headers: { ...API_VERSION_HEADER, Allow: allowed.join(", "), "X-Content-Type-Options": "nosniff" },
    body: "Method not allowed\n",
  };
}

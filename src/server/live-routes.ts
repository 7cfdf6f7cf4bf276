import { readFile, stat } from "node:fs/promises";
import type http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LIVE_HEARTBEAT_MS, LIVE_MAX_ACTION_BODY_BYTES, LIVE_MAX_BUFFERED_BYTES, LIVE_RETRY_MS } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { LiveHub } from "./live-hub.js";
import { CLEAR_SESSION_COOKIE, sessionCookie, sessionValue, validSession } from "./live-session.js";
import type { ActionReply, ActionRequest, LiveMessage, ServicePlan } from "./live-types.js";

/** A route: answers the request and returns true, or returns false to let the next route try. */
export type Route = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => Promise<boolean>;

/** The outcome of checking an action's credentials (the shape of action-auth's `checkAction`). */
export type ActionAuthorization =
  | { ok: true; by: string }
  | { ok: false; status: number; headers?: Record<string, string>; body: { error: string } };

/** The operator actions the page may ask for; each goes through the same code as the CLI and the KV switches. */
export interface LiveActions {
  /** Checks `Authorization: Bearer …` (never logs or echoes the token). */
  authorize(req: http.IncomingMessage): ActionAuthorization;
  /** Whether any action can be authorised at all (a token is configured); the page greys its buttons out otherwise. */
  enabled(): boolean;
  /** Asks for a pass now: everything, one environment, or one service. Resolves with what was done, in one sentence. */
  syncNow(scope: { env?: string; service?: string }, by: string, reason?: string): Promise<string>;
  /** Pauses everything or one service. */
  pause(service: string | undefined, by: string, reason?: string): Promise<string>;
  /** Resumes everything or one service. */
  resume(service: string | undefined, by: string, reason?: string): Promise<string>;
  /** Freezes one environment (`steward freeze`). @throws ActionRefusedError for an environment the desired state does not have */
  freeze(env: string, by: string, reason?: string): Promise<string>;
  /** Lifts an environment's freeze. @throws ActionRefusedError as `freeze` */
  unfreeze(env: string, by: string, reason?: string): Promise<string>;
  /** Asks the leader to retry a failed gate (`steward retry-gate`). @throws ActionRefusedError (409) when the digest did not fail at a gate of that stage */
  retryGate(r: { service: string; stage: string; digest: string }, by: string, reason?: string): Promise<string>;
  /**
   * Acknowledges a pool's short-circuit (the `ack-short-circuit/<pool>` switch), so healing replaces within its other guards.
   * @throws ActionRefusedError 404 for a pool the desired state does not have, 409 for one that is not short-circuited
   */
  ackShortCircuit?(pool: string, by: string, reason?: string): Promise<string>;
}

/** An action refused for what it asks (an unknown environment, a digest that did not fail at a gate): answered with `status` and the message, not as a failure. */
export class ActionRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ActionRefusedError";
  }
}

/** Each action, the fields its body must carry. */
const ACTION_FIELDS: Record<string, ReadonlyArray<"env" | "service" | "stage" | "digest" | "pool">> = {
  "sync-now": [],
  pause: [],
  resume: [],
  freeze: ["env"],
  unfreeze: ["env"],
  "retry-gate": ["service", "stage", "digest"],
  "ack-short-circuit": ["pool"],
};

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** What the live routes need. */
export interface LiveRoutesDeps {
  hub: LiveHub;
  logger: Logger;
  actions: LiveActions;
  /** `GET /api/services/:service/plan`: the service's plan as `steward plan` shows it. */
  plan: (service: string) => Promise<ServicePlan>;
  /** Where the production build of ui/ is. @default dist/ui at the repository root */
  uiDir?: string;
  /** Who may read the data: `open` (default), or `token` (a session cookie from `POST /api/session`, or the bearer token). */
  reads?: () => "open" | "token";
  /** The key that signs read sessions: the action token (undefined when none can be read: no session is valid). */
  sessionKey?: () => string | undefined;
  /** @default Date.now */
  now?: () => number;
}

/** The repository's `dist/ui`, where `npm run build` writes the page. */
export const DEFAULT_UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/ui");

/** The header a page must send with every action: a cross-site form or image cannot set it, and a cross-site script cannot without a CORS preflight Steward never grants. */
export const ACTION_HEADER = "x-steward-action";

const ACTION_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The live UI's routes: the page at `/ui/` (the production build),
 * `GET /api/events` (Server-Sent Events with Last-Event-ID resume),
 * `GET /api/live` (the snapshot as JSON), `GET /api/services/:s/plan`, and
 * `POST /api/actions/{sync-now,pause,resume,freeze,unfreeze,retry-gate,ack-short-circuit}`. Actions need the action token
 * (`Authorization: Bearer`), the `X-Steward-Action` header and, when the
 * browser sends an `Origin`, this server's own origin (CSRF); anything else
 * is refused with a message saying what is missing.
 */
export function liveRoutes(deps: LiveRoutesDeps): Route {
  const uiDir = deps.uiDir ?? DEFAULT_UI_DIR;
  const now = deps.now ?? Date.now;
  /** Whether this request may read the live data; answers 401 itself when not. */
  const mayRead = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if ((deps.reads?.() ?? "open") === "open") return true;
    if (validSession(req.headers, deps.sessionKey?.(), now()) || (req.headers.authorization && deps.actions.authorize(req).ok)) return true;
    sendJson(res, 401, { error: "reading the live UI needs the action token here (api.uiReads: token): sign in on the page" });
    return false;
  };
  return async (req, res, p) => {
    const method = req.method ?? "GET";
    if (p === "/api/access" && method === "GET") {
      const reads = deps.reads?.() ?? "open";
      return sendJson(res, 200, { reads, session: reads === "open" || validSession(req.headers, deps.sessionKey?.(), now()), actions: deps.actions.enabled() });
    }
    if (p === "/api/session") {
      if (method === "DELETE") {
        res.writeHead(204, { "Set-Cookie": CLEAR_SESSION_COOKIE });
        res.end();
        return true;
      }
      if (method !== "POST") return sendJson(res, 405, reply(false, "POST or DELETE only"));
      const csrf = csrfProblem(req);
      if (csrf) return sendJson(res, 403, reply(false, csrf));
      const auth = deps.actions.authorize(req);
      const key = deps.sessionKey?.();
      if (!auth.ok || !key) return sendJson(res, auth.ok ? 503 : auth.status, reply(false, `refused: ${auth.ok ? "the action token cannot be read now" : auth.body.error}`));
      const s = sessionValue(key, now());
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store", "Set-Cookie": sessionCookie(s.value, s.expiresAt, now()) });
      res.end(JSON.stringify(reply(true, `signed in as ${auth.by} until ${new Date(s.expiresAt).toISOString()}`)));
      return true;
    }
    if (p === "/ui") {
      res.writeHead(308, { Location: "/ui/" });
      res.end();
      return true;
    }
    if (p.startsWith("/ui/")) {
      if (method !== "GET" && method !== "HEAD") return sendJson(res, 405, { error: "GET only" });
      await serveStatic(res, uiDir, p.slice("/ui/".length));
      return true;
    }
    if ((p === "/api/events" || p === "/api/live" || p.startsWith("/api/services/")) && method === "GET" && !mayRead(req, res)) return true;
    if (p === "/api/events" && method === "GET") {
      serveEvents(req, res, deps.hub, deps.logger);
      return true;
    }
    if (p === "/api/live" && method === "GET") return sendJson(res, 200, deps.hub.snapshot());
    const plan = /^\/api\/services\/([^/]+)\/plan$/.exec(p);
    if (plan && method === "GET") {
      const service = decodeURIComponent(plan[1] ?? "");
      if (!ACTION_NAME.test(service)) return sendJson(res, 400, { error: "not a service name" });
      return sendJson(res, 200, await deps.plan(service));
    }
    const action = /^\/api\/actions\/([a-z-]+)$/.exec(p);
    if (action) {
      if (method !== "POST") return sendJson(res, 405, reply(false, "actions are POST only"));
      await handleAction(req, res, action[1] ?? "", deps);
      return true;
    }
    return false;
  };
}

async function handleAction(req: http.IncomingMessage, res: http.ServerResponse, name: string, deps: LiveRoutesDeps): Promise<void> {
  const required = ACTION_FIELDS[name];
  if (!required) return void sendJson(res, 404, reply(false, `no action ${name}`));
  const csrf = csrfProblem(req);
  if (csrf) return void sendJson(res, 403, reply(false, csrf));
  const auth = deps.actions.authorize(req);
  if (!auth.ok) {
    deps.logger.warn({ action: name, remote: req.socket.remoteAddress }, "ui: action refused: not authorised");
    res.writeHead(auth.status, { "Content-Type": "application/json", ...auth.headers });
    res.end(JSON.stringify(reply(false, `refused: ${auth.body.error}`)));
    return;
  }
  const body = await readJson(req);
  if (body === undefined) return void sendJson(res, 400, reply(false, "the body must be a JSON object of at most 16 KiB"));
  for (const f of ["env", "service", "stage", "pool"] as const) {
    const v = body[f];
    if (v !== undefined && (typeof v !== "string" || !ACTION_NAME.test(v))) return void sendJson(res, 400, reply(false, `${f}: not a name`));
  }
  if (body.digest !== undefined && (typeof body.digest !== "string" || !DIGEST.test(body.digest))) return void sendJson(res, 400, reply(false, "digest: not a full image digest (sha256: and 64 hex digits)"));
  const missing = required.filter((f) => body[f] === undefined);
  if (missing.length) return void sendJson(res, 400, reply(false, `${name} needs ${missing.join(", ")} in the body`));
  const who = typeof body.who === "string" && body.who.trim() ? body.who.trim().slice(0, 64) : undefined;
  const by = who ? `${who} via ui (token ${auth.by})` : `${auth.by} via ui`;
  const reason = typeof body.reason === "string" && body.reason.trim() ? body.reason.trim().slice(0, 200) : undefined;
  const scope = { ...(body.env ? { env: body.env } : {}), ...(body.service ? { service: body.service } : {}) };
  try {
    const message = await runAction(deps.actions, name, body, by, reason);
    deps.logger.info({ action: name, by, ...scope, ...(body.stage ? { stage: body.stage } : {}), ...(body.pool ? { pool: body.pool } : {}) }, `ui: ${message}`);
    sendJson(res, 200, reply(true, message));
  } catch (err) {
    if (err instanceof ActionRefusedError) {
      deps.logger.warn({ action: name, by, ...scope, err: err.message }, "ui: action refused");
      return void sendJson(res, err.status, reply(false, `refused: ${err.message}`));
    }
    deps.logger.warn({ action: name, err: (err as Error).message }, "ui: action failed");
    sendJson(res, 502, reply(false, `failed: ${(err as Error).message}`));
  }
}

/** Calls the action `name` with the body's fields (checked present by ACTION_FIELDS). */
function runAction(actions: LiveActions, name: string, body: ActionRequest, by: string, reason: string | undefined): Promise<string> {
  const { env = "", service = "", stage = "", digest = "", pool = "" } = body;
  switch (name) {
    case "sync-now":
      return actions.syncNow({ ...(body.env ? { env } : {}), ...(body.service ? { service } : {}) }, by, reason);
    case "pause":
      return actions.pause(body.service, by, reason);
    case "resume":
      return actions.resume(body.service, by, reason);
    case "freeze":
      return actions.freeze(env, by, reason);
    case "unfreeze":
      return actions.unfreeze(env, by, reason);
    case "ack-short-circuit":
      if (!actions.ackShortCircuit) throw new ActionRefusedError(404, "healing is off on this Steward: there is no short-circuit to acknowledge");
      return actions.ackShortCircuit(pool, by, reason);
    default:
      return actions.retryGate({ service, stage, digest }, by, reason);
  }
}

/** Why a request fails the CSRF checks, or undefined when it passes. */
export function csrfProblem(req: http.IncomingMessage): string | undefined {
  if (req.headers[ACTION_HEADER] !== "1") return "refused: actions must carry the X-Steward-Action: 1 header (cross-site requests cannot)";
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null") {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return "refused: the Origin header is not a URL";
    }
    if (host !== req.headers.host) return `refused: the request comes from another site (${origin})`;
  } else if (origin === "null") return "refused: the request comes from an opaque origin";
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/json")) return "refused: actions take a JSON body (Content-Type: application/json)";
  return undefined;
}

function reply(ok: boolean, message: string): ActionReply {
  return { ok, message };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
  res.end(JSON.stringify(body));
  return true;
}

async function readJson(req: http.IncomingMessage): Promise<(ActionRequest & Record<string, unknown>) | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > LIVE_MAX_ACTION_BODY_BYTES) return undefined;
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as ActionRequest & Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One SSE connection: `retry:` first, then either the messages missed since
 * `Last-Event-ID` or a snapshot, then every message as it is sent. A reader
 * that falls too far behind is cut off (it reconnects and catches up).
 */
function serveEvents(req: http.IncomingMessage, res: http.ServerResponse, hub: LiveHub, logger: Logger): void {
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  res.write(`retry: ${LIVE_RETRY_MS}\n\n`);
  const write = (msg: LiveMessage): void => {
    if (res.writableLength > LIVE_MAX_BUFFERED_BYTES) {
      logger.warn({ buffered: res.writableLength }, "ui: event stream reader too slow; closing it (it will resume)");
      end();
      return;
    }
    res.write(`id: ${msg.id}\nevent: ${msg.type}\ndata: ${JSON.stringify(msg.data)}\n\n`);
  };
  const last = req.headers["last-event-id"];
  const { missed, unsubscribe } = hub.subscribe(write, Array.isArray(last) ? last[0] : last);
  if (missed) for (const m of missed) write(m);
  else {
    const snap = hub.snapshot();
    res.write(`id: ${snap.at}\nevent: snapshot\ndata: ${JSON.stringify(snap)}\n\n`);
  }
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), LIVE_HEARTBEAT_MS);
  let ended = false;
  function end(): void {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  }
  req.on("close", end);
  res.on("error", end);
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
  ".woff2": "font/woff2",
};

/** The page's headers: no framing (clickjacking), no sniffing, scripts and connections only from this origin. */
const PAGE_HEADERS = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

async function serveStatic(res: http.ServerResponse, root: string, rel: string): Promise<void> {
  const clean = path.normalize(decodeURIComponent(rel || "index.html")).replace(/^([/\\])+/, "");
  let file = path.join(root, clean);
  if (!file.startsWith(root + path.sep)) {
    sendJson(res, 404, { error: "not found" });
    return;
  }
  const isFile = async (f: string): Promise<boolean> => (await stat(f).catch(() => undefined))?.isFile() === true;
  // The page routes in its URL hash, so any other path under /ui/ is the page itself.
  if (!(await isFile(file))) {
    if (clean.startsWith("assets/")) return void sendJson(res, 404, { error: "not found" });
    file = path.join(root, "index.html");
  }
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`The UI is not built: run \`npm run build\` (it writes ${root}).\n`);
    return;
  }
  const immutable = clean.startsWith("assets/");
  res.writeHead(200, {
    "Content-Type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream",
    "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    ...PAGE_HEADERS,
  });
  res.end(body);
}

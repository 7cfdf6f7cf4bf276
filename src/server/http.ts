import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "../log.js";
import { validHubSignature } from "../sources/git-webhook.js";
import type { ActionAuth } from "./action-auth.js";
import { approvalsRoute, MAX_APPROVAL_BODY_BYTES, type ApprovalsApi } from "./approvals-route.js";
import { registryHook, type RegistryHookDeps } from "./registry-route.js";
import type { Route } from "./live-routes.js";
import { readLimitedBody } from "./read-body.js";

/** What the HTTP server shows and whom it tells; the daemon supplies these. */
export interface ServerDeps {
  registry: Registry;
  logger: Logger;
  /** Alive: the process answers. */
  healthy: () => boolean;
  /** Ready: caches synced; the reasons when not. */
  ready: () => { ready: boolean; reasons: string[] };
  /** The `/api/status` document. */
  status: () => unknown;
  /** The `POST /hooks/git` secret; without one the hook answers 404. */
  webhookSecret?: string | undefined;
  /** Called for a valid git webhook. */
  onGitHook?: () => void;
  /** The bearer token every action endpoint requires (action-auth.ts `checkAction`); absent: actions are refused. */
  actionAuth?: ActionAuth | undefined;
  /** `/api/approvals` (approvals-route.ts); absent: GET 404, POST 503. */
  approvals?: ApprovalsApi | undefined;
  /** `POST /hooks/registry` (registry-route.ts); absent: the hook answers 404. */
  registryHook?: Omit<RegistryHookDeps, "logger">;
  /** More routes (the live UI's), tried in order before the built-in ones. */
  routes?: Route[];
}

export interface StewardServer {
  url: string;
  close(): Promise<void>;
}

/** Largest webhook body read (1 MiB): GitHub's push payloads are far smaller; anything bigger is refused. */
const MAX_HOOK_BODY_BYTES = 1 << 20;

/**
 * Steward's HTTP endpoints: `/metrics`, `/healthz`, `/readyz`,
 * `/api/status`, `POST /hooks/git`. Read-only except for the hook, which only
 * wakes the git source (it never carries desired state itself).
 */
export async function startServer(listen: string, deps: ServerDeps): Promise<StewardServer> {
  const server = http.createServer((req, res) => {
    void handle(req, res, deps).catch((err: unknown) => {
      deps.logger.error({ err: (err as Error).message, path: req.url }, "http: handler failed");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
    });
  });
  const [host, portText] = splitListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portText), host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Event streams never end on their own; a stopping instance ends them (the pages reconnect elsewhere).
        server.closeAllConnections();
      }),
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, deps: ServerDeps): Promise<void> {
  const path = new URL(req.url ?? "/", "http://steward.invalid").pathname;
  const method = req.method ?? "GET";
  for (const route of deps.routes ?? []) if (await route(req, res, path)) return;
  if (method === "GET" && path === "/metrics") {
    const text = await deps.registry.metrics();
    res.writeHead(200, { "Content-Type": deps.registry.contentType });
    res.end(text);
    return;
  }
  if (method === "GET" && path === "/healthz") return send(res, deps.healthy() ? 200 : 503, { ok: deps.healthy() });
  if (method === "GET" && path === "/readyz") {
    const r = deps.ready();
    return send(res, r.ready ? 200 : 503, r);
  }
  if (method === "GET" && path === "/api/status") return send(res, 200, deps.status());
  if (path === "/api/approvals") {
    const r = await approvalsRoute({ method, headers: req.headers, body: () => readLimitedBody(req, MAX_APPROVAL_BODY_BYTES) }, deps);
    res.writeHead(r.status, { "Content-Type": "application/json", ...r.headers });
    res.end(JSON.stringify(r.body, null, 2));
    return;
  }
  if (path === "/hooks/git") {
    if (method !== "POST") return send(res, 405, { error: "POST only" });
    if (!deps.webhookSecret) return send(res, 404, { error: "the git webhook is not configured (webhookSecret)" });
    const body = await readLimitedBody(req, MAX_HOOK_BODY_BYTES);
    if (body === undefined) return send(res, 413, { error: `body over ${MAX_HOOK_BODY_BYTES} bytes` });
    const sig = req.headers["x-hub-signature-256"];
    if (!validHubSignature(deps.webhookSecret, body, Array.isArray(sig) ? sig[0] : sig)) {
      deps.logger.warn({ path, remote: req.socket.remoteAddress }, "http: git webhook with a missing or wrong signature refused");
      return send(res, 401, { error: "invalid or missing X-Hub-Signature-256" });
    }
    deps.onGitHook?.();
    return send(res, 202, { accepted: true });
  }
  if (path === "/hooks/registry") {
    const r = await registryHook(req, { secret: undefined, onPushes: () => [], ...deps.registryHook, logger: deps.logger });
    return send(res, r.status, r.body);
  }
  send(res, 404, { error: `no endpoint ${method} ${path}` });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(text);
}

/** `127.0.0.1:8080`, `:8080` or `8080` → host and port. */
export function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(":");
  if (i < 0) return ["127.0.0.1", listen];
  return [listen.slice(0, i) || "0.0.0.0", listen.slice(i + 1)];
}

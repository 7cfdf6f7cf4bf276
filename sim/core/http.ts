import http from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import type { FaultInjector } from "./faults.js";
import type { RequestLog } from "./request-log.js";

/** One request as a sim handler sees it: already read, routed and decoded. */
export interface SimRequest {
  method: string;
  /** Path without the query string, percent-decoding left to the handler. */
  path: string;
  /** Route parameters, percent-decoded. `*name` parameters keep their slashes. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Lower-cased header names, as Node gives them. */
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Aborted when the client goes away, so a blocking query can stop waiting. */
  signal: AbortSignal;
}

/**
 * A handler's answer. `body`: a string is sent as text/plain (Nomad and
 * Consul errors are plain text), a Buffer as-is, anything else as JSON.
 * `null`/`undefined` sends no body.
 */
export interface SimReply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: unknown;
  contentType?: string;
}

export type Handler = (req: SimRequest) => SimReply | Promise<SimReply>;

interface Route {
  methods: Set<string>;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** What a product answers when no route matches, or the method is wrong. */
export interface RouterFallbacks {
  notFound: (req: SimRequest) => SimReply;
  methodNotAllowed: (req: SimRequest) => SimReply;
}

/**
 * A small path router. Patterns are paths with `:name` (one segment) and
 * `*name` (one or more segments, slashes kept: Consul KV keys, registry
 * repository names). Routes are tried in the order they were added.
 */
export class Router {
  private readonly routes: Route[] = [];

  constructor(private readonly fallbacks: RouterFallbacks) {}

  add(methods: string | string[], path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split("/")
      .map((seg) => {
        if (seg.startsWith(":")) {
          names.push(seg.slice(1));
          return "([^/]+)";
        }
        if (seg.startsWith("*")) {
          names.push(seg.slice(1));
          return "(.+)";
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    this.routes.push({
      methods: new Set(Array.isArray(methods) ? methods : [methods]),
      pattern: new RegExp(`^${source}$`),
      names,
      handler,
    });
    return this;
  }

  async handle(req: SimRequest): Promise<SimReply> {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(req.path);
      if (!m) continue;
      pathMatched = true;
      if (!route.methods.has(req.method)) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1] ?? "");
      });
      return route.handler({ ...req, params });
    }
    return pathMatched ? this.fallbacks.methodNotAllowed(req) : this.fallbacks.notFound(req);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A running HTTP server of the sim. */
export interface SimServer {
  name: string;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Name used by fault rules and the request log, e.g. `nomad:qa`, `consul`. */
  name: string;
  router: Router;
  faults?: FaultInjector;
  log?: RequestLog;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /**
   * Accept Vault's `LIST` verb. Node's HTTP parser refuses methods it does not
   * know, so the request line is rewritten to `GET …?list=true` before the
   * parser sees it (Vault treats the two the same), and such connections are
   * not kept alive, so every request on them starts with a fresh first chunk.
   */
  acceptListMethod?: boolean;
}

/** Starts one product's HTTP server on loopback. */
export async function serve(opts: ServeOptions): Promise<SimServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    void dispatch(opts, req, res);
  });
  server.keepAliveTimeout = 5_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const host = opts.host ?? "127.0.0.1";
  // With LIST support a raw TCP server sees each connection first and hands it on.
  const listener: net.Server | http.Server = opts.acceptListMethod
    ? net.createServer((socket) => {
        socket.once("data", (chunk: Buffer) => {
          socket.pause();
          socket.unshift(rewriteListRequestLine(chunk));
          server.emit("connection", socket);
          socket.resume();
        });
      })
    : server;
  if (opts.acceptListMethod) server.on("request", (_req, res) => res.setHeader("Connection", "close"));
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (listener.address() as AddressInfo).port;
  return {
    name: opts.name,
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (listener !== server) server.close();
        listener.close(() => resolve());
      }),
  };
}

/** `LIST /v1/x?a=1 HTTP/1.1` → `GET /v1/x?a=1&list=true HTTP/1.1`; anything else unchanged. */
export function rewriteListRequestLine(chunk: Buffer): Buffer {
  if (chunk.subarray(0, 5).toString("latin1") !== "LIST ") return chunk;
  const eol = chunk.indexOf("\r\n");
  const line = chunk.subarray(0, eol < 0 ? chunk.length : eol).toString("latin1");
  const m = /^LIST (\S+) (HTTP\/\d\.\d)$/.exec(line);
  if (!m) return chunk;
  const target = m[1] ?? "/";
  const rewritten = `GET ${target}${target.includes("?") ? "&" : "?"}list=true ${m[2]}`;
  return Buffer.concat([Buffer.from(rewritten, "latin1"), chunk.subarray(eol < 0 ? chunk.length : eol)]);
}

async function dispatch(opts: ServeOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? "/", "http://sim.invalid");
  const method = req.method ?? "GET";
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  let status = 0;
  try {
    const body = await readBody(req);
    const fault = opts.faults?.pick(opts.name, method, url.pathname);
    if (fault) {
      const outcome = await opts.faults!.apply(fault, abort.signal);
      if (outcome === "reset") {
        status = -1;
        req.socket.destroy();
        return;
      }
      if (outcome === "hang") {
        status = -2;
        return; // never answered; the client's timeout is what is being tested
      }
      if (outcome !== "pass") {
        status = outcome.status;
        send(res, outcome);
        return;
      }
    }
    const reply = await opts.router.handle({
      method,
      path: url.pathname,
      params: {},
      query: url.searchParams,
      headers: req.headers,
      body,
      signal: abort.signal,
    });
    status = reply.status;
    send(res, reply);
  } catch (err) {
    status = 500;
    send(res, { status: 500, body: `sim internal error: ${(err as Error).message}` });
  } finally {
    opts.log?.record({
      server: opts.name,
      method,
      path: url.pathname,
      query: url.search,
      status,
      ms: performance.now() - started,
    });
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, reply: SimReply): void {
  if (res.headersSent || res.destroyed) return;
  let payload: Buffer | undefined;
  let type = reply.contentType;
  if (reply.body === undefined || reply.body === null) {
    payload = undefined;
  } else if (Buffer.isBuffer(reply.body)) {
    payload = reply.body;
    type ??= "application/octet-stream";
  } else if (typeof reply.body === "string") {
    payload = Buffer.from(reply.body);
    type ??= "text/plain; charset=utf-8";
  } else {
    payload = Buffer.from(JSON.stringify(reply.body));
    type ??= "application/json";
  }
  const headers: Record<string, string | string[] | number> = { ...(reply.headers ?? {}) };
  if (type && !hasHeader(headers, "content-type")) headers["Content-Type"] = type;
  headers["Content-Length"] = payload?.length ?? 0;
  res.writeHead(reply.status, headers);
  res.end(payload);
}

function hasHeader(h: Record<string, unknown>, name: string): boolean {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

/** Parses a JSON body; returns the Go-style error text on failure, as Nomad and Consul do. */
export function parseJsonBody<T>(body: Buffer): { ok: true; value: T } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(body.toString("utf8")) as T };
  } catch (err) {
    const msg = (err as Error).message;
    if (body.length === 0) return { ok: false, error: "EOF" };
    return { ok: false, error: `invalid character in JSON body: ${msg}` };
  }
}

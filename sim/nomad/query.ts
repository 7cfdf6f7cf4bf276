import { parseGoDuration, type IndexNotifier } from "../core/blocking.js";
import type { SimReply, SimRequest } from "../core/http.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError, textError } from "./errors.js";
import { goDecode } from "./json-errors.js";
import { compileFilter, type Filter } from "./filter.js";
import { isObject } from "./json.js";
import type { JsonObject } from "./types.js";

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

/** The query options Nomad's HTTP agent parses for reads (command/agent/http.go parse). */
export interface QueryOpts {
  index: number;
  waitMs: number;
  namespace: string;
  prefix: string;
  filter: Filter | undefined;
  perPage: number;
  nextToken: string;
  reverse: boolean;
}

/** The body of a read, or the error the endpoint answers (with the read headers set). */
export type ReadResult = { ok: true; body: unknown; headers?: Record<string, string> } | { ok: false; status: number; message: string };

/** A read that found its object. */
export const found = (body: unknown): ReadResult => ({ ok: true, body });
/** A read that did not (404 with Nomad's text, read headers still set). */
export const missing = (message: string, status = 404): ReadResult => ({ ok: false, status, message });

/** The headers every read answers with. */
export function readHeaders(index: number): Record<string, string> {
  return { "X-Nomad-Index": String(Math.max(1, index)), "X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "0" };
}

/** Parses ?wait, ?index and the list options; a bad wait or index is the agent's 400. */
export function parseQuery(core: NomadCore, req: SimRequest): QueryOpts | SimReply {
  const q = req.query;
  let waitMs = DEFAULT_WAIT_MS;
  const wait = q.get("wait");
  if (wait) {
    const ms = parseGoDuration(wait);
    if (ms === undefined) return textError(400, ERR.invalidWait);
    waitMs = ms;
  }
  let index = 0;
  const idx = q.get("index");
  if (idx) {
    if (!/^\d+$/.test(idx) || !Number.isSafeInteger(Number(idx))) return textError(400, ERR.invalidIndex);
    index = Number(idx);
  }
  // Nomad caps the wait and adds up to wait/16 of jitter so watchers do not stampede.
  if (waitMs <= 0 || waitMs > MAX_WAIT_MS) waitMs = waitMs <= 0 ? DEFAULT_WAIT_MS : MAX_WAIT_MS;
  waitMs += Math.floor(core.ctx.random() * (waitMs / 16));
  let filter: Filter | undefined;
  const f = q.get("filter");
  if (f) {
    try {
      filter = compileFilter(f);
    } catch (err) {
      return textError(400, `failed to create result paginator: failed to read filter expression: ${(err as Error).message}`);
    }
  }
  const perPage = Number(q.get("per_page") ?? "0");
  return {
    index,
    waitMs,
    namespace: q.get("namespace") || "default",
    prefix: q.get("prefix") ?? "",
    filter,
    perPage: Number.isInteger(perPage) && perPage > 0 ? perPage : 0,
    nextToken: q.get("next_token") ?? "",
    reverse: q.get("reverse") === "true",
  };
}

/**
 * A blocking read: answers at once without `index`, else waits (real time)
 * until the read's index passes it or the wait ends. `read` must be cheap:
 * it returns the index and a thunk that builds the body only once.
 */
export async function blockingQuery(core: NomadCore, req: SimRequest, q: QueryOpts, read: () => { index: number; result: () => ReadResult }): Promise<SimReply> {
  const r = await waitForIndex(core.store.notifier, q.index, q.waitMs, read, req.signal);
  const headers = readHeaders(r.index);
  const res = r.result();
  if (!res.ok) return textError(res.status, res.message, headers);
  return { status: 200, headers: { ...headers, ...(res.headers ?? {}) }, body: res.body, ...(Buffer.isBuffer(res.body) ? { contentType: "application/json" } : {}) };
}

/**
 * Recent list answers, by request (path and list options) and index: every
 * watcher woken by the same write would otherwise rebuild and re-encode the
 * same multi-megabyte list (10 000 jobs).
 */
export class ListCache {
  private readonly entries = new Map<string, { index: number; result: ReadResult; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = 8,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  get(key: string, index: number, build: () => ReadResult): ReadResult {
    const hit = this.entries.get(key);
    if (hit && hit.index === index) return hit.result;
    const built = build();
    const body = built.ok ? Buffer.from(JSON.stringify(built.body)) : undefined;
    const result: ReadResult = built.ok && body ? { ...built, body } : built;
    this.drop(key);
    const size = body?.length ?? 0;
    if (size <= this.maxBytes / 2) {
      this.entries.set(key, { index, result, bytes: size });
      this.bytes += size;
    }
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) this.drop(this.entries.keys().next().value as string);
    return result;
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.bytes -= e.bytes;
    this.entries.delete(key);
  }
}

/** A blocking list read whose answer is shared by the readers of the same index. */
export function listQuery(core: NomadCore, req: SimRequest, q: QueryOpts, index: () => number, build: () => ReadResult): Promise<SimReply> {
  const params = new URLSearchParams(req.query);
  params.delete("index");
  params.delete("wait");
  params.sort();
  const key = `${req.path}?${params.toString()}`;
  return blockingQuery(core, req, q, () => {
    const idx = index();
    return { index: idx, result: () => core.listCache.get(key, idx, build) };
  });
}

/**
 * blockingRead's loop, with one abort listener on the request for the whole
 * wait: IndexNotifier.nextChange adds a listener to the signal it is given on
 * every call, and a watcher woken by thousands of unrelated writes would pile
 * them up on the request's signal. Each wait here gets its own signal.
 */
async function waitForIndex<R extends { index: number }>(notifier: IndexNotifier, minIndex: number, waitMs: number, read: () => R, signal: AbortSignal): Promise<R> {
  let r = read();
  if (minIndex <= 0) return r;
  const deadline = Date.now() + waitMs;
  let current: AbortController | undefined;
  const onAbort = (): void => current?.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (r.index <= minIndex && !signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      current = new AbortController();
      await notifier.nextChange(left, current.signal);
      r = read();
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return r;
}

/** The 403 the agent answers when ACLs are on and the token does not match. */
export function checkAcl(core: NomadCore, req: SimRequest): SimReply | undefined {
  const want = core.cfg.aclToken;
  if (!want) return undefined;
  const header = req.headers["x-nomad-token"];
  let token = Array.isArray(header) ? header[0] : header;
  const auth = req.headers.authorization;
  if (!token && typeof auth === "string" && auth.startsWith("Bearer ")) token = auth.slice(7);
  if (!token) return textError(403, ERR.permissionDenied);
  if (token !== want) return textError(403, ERR.tokenNotFound);
  return undefined;
}

/** decodeBody: an empty body and malformed JSON are the agent's 400s. */
export function decodeBody(req: SimRequest): JsonObject {
  if (req.body.length === 0) throw new NomadError(400, ERR.bodyEmpty);
  const text = req.body.toString("utf8");
  const scanned = goDecode(text);
  if (!scanned.ok) throw new NomadError(400, scanned.error);
  const v: unknown = JSON.parse(text.slice(0, scanned.end));
  if (v === null) return {};
  if (!isObject(v)) throw new NomadError(400, `json: cannot unmarshal ${Array.isArray(v) ? "array" : typeof v} into Go value of type map[string]interface {}`);
  return v;
}

/** A write's reply: the body and `X-Nomad-Index`. */
export function written(index: number, body: unknown): SimReply {
  return { status: 200, headers: { "X-Nomad-Index": String(index) }, body };
}

/**
 * Applies prefix, filter, ordering and pagination to a list. `key` orders
 * the items and is the `next_token` (Nomad's tokenizers: the ID, or
 * `<CreateIndex>.<ID>` for time-ordered tables).
 */
export function page<T>(items: Iterable<T>, q: QueryOpts, key: (t: T) => string, view: (t: T) => JsonObject): { items: JsonObject[]; next: string } {
  const keyed = [...items].map((it) => ({ it, k: key(it) }));
  keyed.sort((a, b) => compareTokens(a.k, b.k));
  if (q.reverse) keyed.reverse();
  const out: JsonObject[] = [];
  let started = q.nextToken === "";
  for (const { it, k } of keyed) {
    if (!started) {
      const c = compareTokens(k, q.nextToken);
      if (q.reverse ? c > 0 : c < 0) continue;
      started = true;
    }
    const v = view(it);
    if (q.filter && !q.filter(v)) continue;
    if (q.perPage > 0 && out.length === q.perPage) return { items: out, next: k };
    out.push(v);
  }
  return { items: out, next: "" };
}

/** Orders `<CreateIndex>.<ID>` tokens numerically, anything else as text. */
function compareTokens(a: string, b: string): number {
  const ma = /^(\d+)\.(.*)$/.exec(a);
  const mb = /^(\d+)\.(.*)$/.exec(b);
  if (ma && mb) {
    const d = Number(ma[1]) - Number(mb[1]);
    if (d !== 0) return d;
    return (ma[2] ?? "") < (mb[2] ?? "") ? -1 : (ma[2] ?? "") > (mb[2] ?? "") ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Wraps a handler: ACL check first, NomadError to the agent's plain-text answer. */
export function guarded(core: NomadCore, handler: (req: SimRequest) => SimReply | Promise<SimReply>, opts: { acl?: boolean } = {}): (req: SimRequest) => Promise<SimReply> {
  return async (req) => {
    if (opts.acl !== false) {
      const denied = checkAcl(core, req);
      if (denied) return denied;
    }
    try {
      return await handler(req);
    } catch (err) {
      if (err instanceof NomadError) return textError(err.status, err.message);
      throw err;
    }
  };
}

import { createHash } from "node:crypto";
import type { SimRequest } from "../core/http.js";
import type { Raft } from "./raft.js";
import { parseGoDuration } from "../core/blocking.js";
import { badRequest, rpcError } from "./errors.js";

/** Consul's defaultQueryTime and maxQueryTime for blocking queries. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
/** structs.JitterFraction: a blocking query waits up to wait/16 longer, at random. */
export const JITTER_FRACTION = 16;

export type Consistency = "leader" | "stale" | "consistent";

/** The query options every Consul read parses (agent/http.go `parse`). */
export interface QueryOptions {
  datacenter: string;
  token: string;
  consistency: Consistency;
  /** `?index`; 0 = do not block. */
  minIndex: number;
  /** `?wait` in ms; 0 = the default. */
  waitMs: number;
  /** `?hash` for the agent's hash-based blocking endpoints. */
  hash: string;
}

/**
 * Parses dc, token, consistency and wait/index in Consul's order, throwing
 * its 400 texts: conflicting consistency first, then wait, then index.
 * A `dc` other than this server's fails as forwarding would ("No path to datacenter").
 */
export function parseQuery(req: SimRequest, datacenter: string): QueryOptions {
  const q = req.query;
  const dc = q.get("dc") || datacenter;
  let consistency: Consistency = "leader";
  const stale = q.has("stale");
  const consistent = q.has("consistent");
  const maxStale = q.get("max_stale") ?? "";
  if (maxStale !== "") {
    const ms = parseGoDuration(maxStale);
    if (ms === undefined) throw badRequest(`Invalid max_stale value ${JSON.stringify(maxStale)}`);
  }
  if (stale || (maxStale !== "" && (parseGoDuration(maxStale) ?? 0) > 0)) consistency = "stale";
  if (consistent) {
    if (consistency === "stale") throw badRequest("Cannot specify ?stale with ?consistent, conflicting semantics.");
    consistency = "consistent";
  }
  let waitMs = 0;
  const wait = q.get("wait") ?? "";
  if (wait !== "") {
    const ms = parseGoDuration(wait);
    if (ms === undefined) throw badRequest("Invalid wait time");
    waitMs = ms;
  }
  let minIndex = 0;
  const index = q.get("index") ?? "";
  if (index !== "") {
    if (!/^\d+$/.test(index) || BigInt(index) > 18446744073709551615n) throw badRequest("Invalid index");
    minIndex = Number(index);
  }
  // Forwarding to another datacenter happens after parsing, so parse errors win.
  if (dc !== datacenter) throw rpcError("No path to datacenter");
  return { datacenter: dc, token: tokenOf(req), consistency, minIndex, waitMs, hash: q.get("hash") ?? "" };
}

/** The request's ACL token: `?token`, then `X-Consul-Token`, then `Authorization: Bearer`. */
export function tokenOf(req: SimRequest): string {
  const fromQuery = req.query.get("token");
  if (fromQuery) return fromQuery;
  const header = req.headers["x-consul-token"];
  const h = Array.isArray(header) ? header[0] : header;
  if (h) return h;
  const auth = req.headers.authorization ?? "";
  const parts = auth.split(" ");
  if (parts.length > 1 && parts[0] === "Bearer") return (parts.slice(1).join(" ").trim().split(" ")[0] ?? "").trim();
  return "";
}

/** Query meta headers (setMeta), with the names Go canonicalises them to on the wire. */
export function metaHeaders(index: number, consistency: Consistency): Record<string, string> {
  return {
    "X-Consul-Index": String(Math.max(1, index)),
    "X-Consul-Knownleader": "true",
    "X-Consul-Lastcontact": "0",
    "X-Consul-Effective-Consistency": consistency,
  };
}

/** What one run of a blocking read found. `missing`: a "not found" result (KV get of an absent key). */
export interface ReadResult<T> {
  index: number;
  value: T;
  missing?: boolean;
}

/** The real-time bound of a blocking query: wait (default 5m, max 10m) plus up to wait/16 of jitter. */
export function waitBound(waitMs: number, random: () => number): number {
  let ms = waitMs <= 0 ? DEFAULT_WAIT_MS : Math.min(waitMs, MAX_WAIT_MS);
  ms += random() * (ms / JITTER_FRACTION);
  return ms;
}

/**
 * A blocking query (agent/consul's blockingQuery): answers at once without
 * `?index`; otherwise re-runs `read` on every Raft write until its index
 * passes `minIndex` or the wait runs out. Once a read that found nothing has
 * blocked, later reads that still find nothing keep waiting, so a watcher of
 * an absent key is not woken by writes to other keys. The index is never 0.
 */
export async function blockingQuery<T>(
  raft: Raft,
  opts: QueryOptions,
  random: () => number,
  signal: AbortSignal,
  read: () => ReadResult<T>,
): Promise<ReadResult<T>> {
  let r = atLeastOne(read());
  if (opts.minIndex <= 0) return r;
  const deadline = Date.now() + waitBound(opts.waitMs, random);
  let blocked = false;
  for (;;) {
    const unchangedMiss = blocked && r.missing === true;
    if (r.index > opts.minIndex && !unchangedMiss) return r;
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) return r;
    await raft.notifier.nextChange(left, signal);
    blocked = true;
    r = atLeastOne(read());
  }
}

/**
 * Hash-based blocking for the agent's local endpoints: the reply carries
 * `X-Consul-Contenthash`; with `?hash=H` the request waits until the
 * content hashes differently or the wait runs out.
 */
export async function hashBlockingQuery<T>(
  raft: Raft,
  opts: QueryOptions,
  random: () => number,
  signal: AbortSignal,
  read: () => T,
): Promise<{ value: T; hash: string }> {
  let value = read();
  let hash = contentHash(value);
  if (opts.hash === "") return { value, hash };
  const deadline = Date.now() + waitBound(opts.waitMs, random);
  while (hash === opts.hash) {
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) break;
    await raft.notifier.nextChange(left, signal);
    value = read();
    hash = contentHash(value);
  }
  return { value, hash };
}

/** An opaque 16-hex-digit hash of a JSON value (Consul sends a hashstructure uint64 in hex). */
export function contentHash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

function atLeastOne<T>(r: ReadResult<T>): ReadResult<T> {
  return r.index < 1 ? { ...r, index: 1 } : r;
}

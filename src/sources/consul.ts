import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import Consul from "consul";
import {
  DEFAULT_CONSUL_ADDRESS,
  HTTP_BLOCKING_MARGIN_MS,
  HTTP_TIMEOUT_MS,
  WATCH_BLOCKING_WAIT_MS,
} from "../config/defaults.js";
import { addSecret } from "../log.js";
import type { ErrorContext } from "../model/errors.js";
import { checkOption, sleep, systemClock, systemRandom, type Clock, type Random } from "../reconciler/core/clock.js";
import { InvalidInputError, TransientError } from "../reconciler/core/outcome.js";
import { HttpStatusError, parseRetryAfter, timeoutFor } from "./http-client.js";
import { compileRetryPolicy, withRetries, type ClientCallOptions, type HttpRetryPolicy } from "./call-retry.js";

/** Options of a `ConsulClient`: one per Consul agent address. */
export interface ConsulClientOptions extends ClientCallOptions {
  // ── where ──
  /** The agent's HTTP address, without `/v1`. @default DEFAULT_CONSUL_ADDRESS (http://127.0.0.1:8500) */
  address?: string;
  /**
   * The ACL token, asked for on every call so a rotated token is picked up;
   * undefined or "" calls anonymously. The value is registered with the
   * logger's scrubber and never appears in errors.
   */
  token?: () => string | undefined;
  /** Datacenter asked. @default the agent's own */
  datacenter?: string;
}

/** One KV entry, its value decoded from base64 to bytes (binary-safe). */
export interface KvEntry {
  key: string;
  /** The stored bytes; empty for a key with no value (a folder key). */
  value: Buffer;
  flags: number;
  /** The session holding the key's lock, if any. */
  session?: string;
  lockIndex: number;
  createIndex: number;
  modifyIndex: number;
}

/** What Consul says about an answer: `X-Consul-Index`, `X-Consul-LastContact`, `X-Consul-KnownLeader`. */
export interface QueryMeta {
  index: number;
  /** Milliseconds since the answering server heard from the leader (0 from the leader). */
  lastContactMs: number;
  knownLeader: boolean;
}

/** How a read is made. Durations in milliseconds. */
export interface ReadOptions {
  /** Block until the index moves past this; 0 or absent answers at once. */
  index?: number;
  /** Server-side wait of a blocking read. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
  /** Let any server answer (`?stale`). @default false (the leader answers) */
  allowStale?: boolean;
  signal?: AbortSignal;
  context?: ErrorContext;
}

/** How a KV write is made. At most one of `cas`, `acquire`, `release`. */
export interface KvPutOptions {
  /** Write only if the key's ModifyIndex is still this (0: only if absent). */
  cas?: number;
  /** Write and take the key's lock for this session. */
  acquire?: string;
  /** Write and give up this session's lock on the key. */
  release?: string;
  flags?: number;
  /** Whether the call may be repeated on a transient failure. @default true unless acquire/release */
  retry?: boolean;
  signal?: AbortSignal;
  context?: ErrorContext;
}

/** How a KV delete is made. */
export interface KvDeleteOptions {
  /** Delete only if the key's ModifyIndex is still this. */
  cas?: number;
  /** Delete every key under the prefix. */
  recurse?: boolean;
  context?: ErrorContext;
}

/** A session to create. Durations in milliseconds. */
export interface SessionSpec {
  name: string;
  /** The session ends this long after its last renewal at the earliest (Consul allows 10 s to 24 h). */
  ttlMs: number;
  /** After the session ends, its locks cannot be taken again for this long (at most 60 s). */
  lockDelayMs: number;
  /** What happens to the session's locks when it ends. */
  behavior: "release" | "delete";
}

/** A session as `/v1/session/info` shows it. */
export interface SessionInfo {
  ID: string;
  Name: string;
  Node: string;
  TTL: string;
  Behavior: string;
  /** Nanoseconds. */
  LockDelay: number;
  CreateIndex: number;
  ModifyIndex: number;
}

/** The `consul` client's answer with `ctx.includeResponse`: the response, then the decoded body when there is one. */
type WithResponse = [IncomingMessage & { body?: unknown }, unknown?];
/** A `consul` client method called with an options object (its typings know fewer options than it takes). */
type ClientCall = (opts: Record<string, unknown>) => Promise<unknown>;

interface RawKvEntry {
  Key: string;
  Value: Buffer | null;
  Flags: number;
  Session?: string;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

interface Call {
  method: "GET" | "PUT" | "DELETE";
  /** `/v1/kv/<key>`, for errors and logs. */
  path: string;
  fn: ClientCall;
  opts: Record<string, unknown>;
  retry: boolean;
  blockingWaitMs?: number;
  /** This call's timeout, when not the client's. */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  context?: ErrorContext | undefined;
}

/** papi's error shapes (the `consul` client's HTTP layer). */
interface PapiError extends Error {
  isResponse?: boolean;
  isTimeout?: boolean;
  isAbort?: boolean;
  code?: string;
  response?: { statusCode?: number; headers?: Record<string, unknown>; body?: unknown };
}

const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** A Go duration Consul accepts: whole seconds as `15s`, else milliseconds. */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}

/**
 * Steward's Consul client: the real `consul` npm client underneath, with a
 * token asked per call, a timeout on every call (a blocking read's wait plus
 * its jitter and margin), p-retry for calls declared safe to repeat, errors
 * classified by kind like sources/http-client.ts does (TransientError for
 * 5xx, 408, 429, timeouts and resets; InvalidInputError for 400/413/422;
 * HttpStatusError otherwise), values decoded to Buffers, and per-attempt
 * metrics under `target="consul"`. Errors carry the endpoint (method and
 * path), never the token.
 *
 * Consul answers a refused check-and-set, acquire or release with `false`:
 * those are results (`kvPut` resolves false), not errors.
 */
export class ConsulClient {
  private readonly client: Consul;
  private readonly o: ConsulClientOptions;
  private readonly timeoutMs: number;
  private readonly blockingMarginMs: number;
  private readonly policy: HttpRetryPolicy;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly delay: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The agent's address, for messages. */
  readonly address: string;

  /** @throws RangeError naming the option when a count or duration is out of range */
  constructor(options: ConsulClientOptions = {}) {
    this.o = options;
    this.address = (options.address ?? DEFAULT_CONSUL_ADDRESS).replace(/\/+$/, "");
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.delay = options.delay ?? ((ms, signal) => sleep(this.clock, ms, signal));
    this.timeoutMs = checkOption("timeoutMs", options.timeoutMs ?? HTTP_TIMEOUT_MS, 1);
    this.blockingMarginMs = checkOption("blockingMarginMs", options.blockingMarginMs ?? HTTP_BLOCKING_MARGIN_MS);
    this.policy = compileRetryPolicy(options.retry);
    this.client = new Consul({ baseUrl: `${this.address}/v1` } as ConstructorParameters<typeof Consul>[0]);
  }

  /** Closes the keep-alive connections. Calls after this open new ones. */
  close(): void {
    this.client.destroy();
  }

  /** One key, or `entry: undefined` when it does not exist (a 404 is an answer). */
  async kvGet(key: string, opts: ReadOptions = {}): Promise<{ meta: QueryMeta; entry: KvEntry | undefined }> {
    const [res, body] = await this.run({
      ...this.readCall(`/v1/kv/${key}`, (o) => this.client.kv.get(o as never), opts),
      opts: { key, buffer: true, ...this.readOpts(opts) },
    });
    const raw = body as RawKvEntry | undefined;
    return { meta: metaOf(res), entry: raw ? toEntry(raw) : undefined };
  }

  /** Every key under `prefix` (recursive), sorted by key; empty when none (a 404 is an answer). */
  async kvList(prefix: string, opts: ReadOptions = {}): Promise<{ meta: QueryMeta; entries: KvEntry[] }> {
    const [res, body] = await this.run({
      ...this.readCall(`/v1/kv/${prefix}`, (o) => this.client.kv.get(o as never), opts),
      opts: { key: prefix, recurse: true, buffer: true, ...this.readOpts(opts) },
    });
    const raw = Array.isArray(body) ? (body as RawKvEntry[]) : [];
    return { meta: metaOf(res), entries: raw.map(toEntry) };
  }

  /**
   * Writes a key. Resolves true when Consul applied it, false when it refused
   * a `cas`, `acquire` or `release` (another writer, another holder, or
   * lock-delay). An `acquire` with a session Consul does not know is a 500
   * from Consul, so it rejects with a TransientError.
   */
  async kvPut(key: string, value: string | Buffer, opts: KvPutOptions = {}): Promise<boolean> {
    const lockOp = opts.acquire !== undefined || opts.release !== undefined;
    const [, body] = await this.run({
      method: "PUT",
      path: `/v1/kv/${key}`,
      fn: (o) => this.client.kv.set(o as never),
      opts: {
        key,
        value,
        ...(opts.cas !== undefined ? { cas: opts.cas } : {}),
        ...(opts.acquire !== undefined ? { acquire: opts.acquire } : {}),
        ...(opts.release !== undefined ? { release: opts.release } : {}),
        ...(opts.flags !== undefined ? { flags: opts.flags } : {}),
      },
      // A plain or check-and-set write can be repeated; a lock operation is driven by its caller.
      retry: opts.retry ?? !lockOp,
      signal: opts.signal,
      context: opts.context,
    });
    return body === true;
  }

  /** Deletes a key (or a prefix with `recurse`). Resolves false when Consul refused a `cas`. Deleting an absent key succeeds. */
  async kvDelete(key: string, opts: KvDeleteOptions = {}): Promise<boolean> {
    const [, body] = await this.run({
      method: "DELETE",
      path: `/v1/kv/${key}`,
      fn: (o) => this.client.kv.del(o as never),
      opts: { key, ...(opts.cas !== undefined ? { cas: opts.cas } : {}), ...(opts.recurse ? { recurse: true } : {}) },
      retry: true,
      context: opts.context,
    });
    return body === true;
  }

  /** Creates a session on the agent's node; resolves with its ID. Not retried: a repeat would leave a second session behind. */
  async sessionCreate(spec: SessionSpec, signal?: AbortSignal): Promise<string> {
    const [, body] = await this.run({
      method: "PUT",
      path: "/v1/session/create",
      fn: (o) => this.client.session.create(o),
      opts: { name: spec.name, ttl: goDuration(spec.ttlMs), lockdelay: goDuration(spec.lockDelayMs), behavior: spec.behavior },
      retry: false,
      signal,
    });
    const id = (body as { ID?: unknown } | undefined)?.ID;
    if (typeof id !== "string" || id === "") throw new TransientError("PUT /v1/session/create: no session ID in the answer", { endpoint: "PUT /v1/session/create" });
    return id;
  }

  /**
   * Renews a session's TTL. Resolves true when renewed, false when the
   * session no longer exists (404: it expired or was destroyed). Not retried:
   * the caller renews on its own schedule, and a late renewal misleads.
   * @param timeoutMs this call's timeout. @default the client's timeoutMs
   */
  async sessionRenew(id: string, timeoutMs?: number): Promise<boolean> {
    try {
      await this.run({
        method: "PUT",
        path: `/v1/session/renew/${id}`,
        fn: (o) => this.client.session.renew(o as never),
        opts: { id },
        retry: false,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
      return true;
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) return false;
      throw err;
    }
  }

  /** Ends a session; its locks are released (or deleted) and lock-delay applies to them. Destroying an unknown session succeeds. */
  async sessionDestroy(id: string): Promise<void> {
    await this.run({
      method: "PUT",
      path: `/v1/session/destroy/${id}`,
      fn: (o) => this.client.session.destroy(o as never),
      opts: { id },
      retry: true,
    });
  }

  /** A session, or undefined when it does not exist. */
  async sessionInfo(id: string): Promise<SessionInfo | undefined> {
    const [, body] = await this.run({
      method: "GET",
      path: `/v1/session/info/${id}`,
      fn: (o) => this.client.session.info(o as never),
      opts: { id },
      retry: true,
    });
    return (body as SessionInfo | null | undefined) ?? undefined;
  }

  private readCall(path: string, fn: ClientCall, opts: ReadOptions): Call {
    const blocking = (opts.index ?? 0) > 0;
    return {
      method: "GET",
      path,
      fn,
      opts: {},
      // A blocking read is retried by its watch, which backs off; an ordinary read here.
      retry: !blocking,
      ...(blocking ? { blockingWaitMs: opts.waitMs ?? WATCH_BLOCKING_WAIT_MS } : {}),
      signal: opts.signal,
      context: opts.context,
    };
  }

  private readOpts(opts: ReadOptions): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if ((opts.index ?? 0) > 0) {
      out.index = opts.index;
      out.wait = goDuration(opts.waitMs ?? WATCH_BLOCKING_WAIT_MS);
    }
    if (opts.allowStale) out.stale = true;
    return out;
  }

  private async run(call: Call): Promise<WithResponse> {
    if (!call.retry) return this.attempt(call);
    return withRetries(() => this.attempt(call), {
      policy: this.policy,
      random: this.random,
      delay: this.delay,
      signal: call.signal,
      onRetry: ({ attempt, waitMs, error }) =>
        this.o.logger?.debug({ target: "consul", endpoint: `${call.method} ${call.path}`, attempt, retry_in_ms: waitMs, error: error.message }, "consul: retrying"),
    });
  }

  private async attempt(call: Call): Promise<WithResponse> {
    const context: ErrorContext = { ...call.context, endpoint: `${call.method} ${call.path}` };
    if (call.signal?.aborted) throw new TransientError(`${context.endpoint}: aborted`, context);
    // An EventEmitter ctx makes the client hand back the response (for the index headers) and lets it be cancelled.
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
    const onAbort = (): void => void ctx.emit("cancel");
    call.signal?.addEventListener("abort", onAbort, { once: true });
    const token = this.o.token?.();
    if (token) addSecret(token);
    const started = performance.now();
    try {
      const out = (await call.fn({
        ...call.opts,
        ctx,
        timeout: call.timeoutMs ?? timeoutFor(call.blockingWaitMs, this.timeoutMs, this.blockingMarginMs),
        ...(token ? { token } : {}),
        ...(this.o.datacenter ? { dc: this.o.datacenter } : {}),
      })) as WithResponse;
      this.observe(String(out[0].statusCode ?? 0), started);
      return out;
    } catch (err) {
      throw this.classify(err as PapiError, context, started);
    } finally {
      call.signal?.removeEventListener("abort", onAbort);
    }
  }

  private classify(err: PapiError, context: ErrorContext, started: number): Error {
    const endpoint = context.endpoint ?? "";
    const status = err.isResponse ? err.response?.statusCode : undefined;
    if (status !== undefined) {
      this.observe(String(status), started);
      const text = bodyText(err.response?.body);
      const message = `${endpoint}: ${status}${text ? ` ${text}` : ""}`;
      if (status >= 500 || status === 429 || status === 408) {
        const retryAfter = err.response?.headers?.["retry-after"];
        return new TransientError(message, context, parseRetryAfter(typeof retryAfter === "string" ? retryAfter : undefined, this.clock.now()));
      }
      if (status === 400 || status === 413 || status === 422) return new InvalidInputError(message, context);
      return new HttpStatusError(message, status, context);
    }
    // Rebuilt from code and text only: the original error holds the request, token header included.
    const cause = new Error(err.code ? `${err.code}: ${err.message}` : err.message);
    if (err.isAbort) {
      this.observe("aborted", started);
      return new TransientError(`${endpoint}: aborted`, context, undefined, { cause });
    }
    if (err.isTimeout || err.code === "ETIMEDOUT") {
      this.observe("timeout", started);
      return new TransientError(`${endpoint}: timed out`, context, undefined, { cause });
    }
    this.observe("network", started);
    if (err.code !== undefined && TRANSIENT_CODES.has(err.code)) return new TransientError(`${endpoint}: ${err.code}`, context, undefined, { cause });
    const failure = new HttpStatusError(`${endpoint}: ${err.code ?? err.message}`, 0, context);
    failure.cause = cause;
    return failure;
  }

  private observe(code: string, started: number): void {
    const m = this.o.metrics;
    if (!m) return;
    m.apiRequestsTotal.inc({ target: "consul", code });
    m.apiRequestDuration.observe({ target: "consul" }, (performance.now() - started) / 1000);
  }
}

function metaOf(res: IncomingMessage): QueryMeta {
  const h = res.headers;
  const one = (name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return {
    index: Number(one("x-consul-index") ?? 0) || 0,
    lastContactMs: Number(one("x-consul-lastcontact") ?? 0) || 0,
    knownLeader: one("x-consul-knownleader") !== "false",
  };
}

function toEntry(raw: RawKvEntry): KvEntry {
  return {
    key: raw.Key,
    value: Buffer.isBuffer(raw.Value) ? raw.Value : Buffer.alloc(0),
    flags: raw.Flags,
    ...(raw.Session ? { session: raw.Session } : {}),
    lockIndex: raw.LockIndex,
    createIndex: raw.CreateIndex,
    modifyIndex: raw.ModifyIndex,
  };
}

function bodyText(body: unknown): string {
  let text: string;
  if (body === undefined || body === null) return "";
  if (typeof body === "string") text = body;
  else if (Buffer.isBuffer(body)) text = body.toString("utf8");
  else text = JSON.stringify(body) ?? "";
  text = text.trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

import type { Readable } from "node:stream";
import axios, { isAxiosError, type AxiosInstance, type AxiosResponse } from "axios";
import { HTTP_BLOCKING_MARGIN_MS, HTTP_TIMEOUT_MS } from "../config/defaults.js";
import { compileRetryPolicy, withRetries, type ClientCallOptions, type HttpRetryPolicy } from "./call-retry.js";
import { addSecret, SECRET_HEADERS } from "../log.js";
import type { ErrorContext } from "../model/errors.js";
import { checkOption, sleep, systemClock, systemRandom, type Clock, type Random } from "../reconciler/core/clock.js";
import { ConflictError, InvalidInputError, TransientError } from "../reconciler/core/outcome.js";

export type { HttpRetryPolicy };

/** Options of an `HttpClient`: one per target API and address. */
export interface HttpClientOptions extends ClientCallOptions {
  // ── where ──
  /** The API, as the `target` label of metrics (`nomad`, `consul`, `vault`, `registry`). */
  target: string;
  /** `http://127.0.0.1:4646`. */
  baseURL: string;
  /**
   * Headers on every call, credentials included; a function is called per
   * attempt, so a rotated token is picked up. Credential values are
   * registered with the logger's scrubber and never appear in errors.
   */
  headers?: Record<string, string> | (() => Record<string, string>);
}

/** HTTP methods Steward uses. */
export type HttpMethod = "GET" | "HEAD" | "OPTIONS" | "PUT" | "POST" | "DELETE" | "PATCH";

/** One call. */
export interface HttpRequest {
  method: HttpMethod;
  /** Path under the base URL, query string excluded (`/v1/job/web`). */
  path: string;
  params?: Record<string, string | number | boolean | undefined>;
  data?: unknown;
  headers?: Record<string, string>;
  /**
   * Whether the call may be repeated: true only for idempotent or
   * check-and-set protected calls. @default true for GET, HEAD and OPTIONS; false otherwise
   */
  retry?: boolean;
  /** Statuses that mean a check-and-set lost (→ ConflictError, not retried here: the pass must re-observe). */
  conflictStatuses?: readonly number[];
  /** Statuses that are answers, not errors (a 404 for a key that may be absent). 2xx always are. */
  okStatuses?: readonly number[];
  /**
   * The server-side wait of a blocking query, when this is one (the caller
   * puts `wait`/`index` in `params`). The timeout becomes wait + wait/16
   * (the jitter Consul and Nomad add) + the blocking margin.
   */
  blockingWaitMs?: number;
  /** @default "json" (a non-JSON body stays text) */
  responseType?: "json" | "text" | "arraybuffer";
  /**
   * Asked with a successful answer's headers before its body is read: true
   * leaves the body unread (the connection is closed instead) and `data`
   * undefined. A blocking query whose wait ran out at the same index is
   * answered with the whole result again (6 MB for 10,000 Nomad jobs).
   */
  skipBody?: (headers: Record<string, string>) => boolean;
  signal?: AbortSignal;
  /** What the call is about (env, nomadJob, …), copied into errors. */
  context?: ErrorContext;
}

/** An answer: status, body and headers (names lower-case). */
export interface HttpResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string>;
}

/**
 * An answer no other error kind fits (401, 403, 404, 409 without CAS, …):
 * not transient and not the user's input, so the runner retries it with
 * backoff and logs it as an error (errorKind `unknown`), where it will be seen.
 */
export class HttpStatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly context: ErrorContext,
  ) {
    super(message);
    this.name = "HttpStatusError";
  }
}

/**
 * Milliseconds a `Retry-After` value asks for: delta-seconds or an HTTP date
 * (RFC 9110 §10.2.3), never negative; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The timeout of a call: the blocking wait plus its jitter and margin, or the ordinary timeout. */
export function timeoutFor(blockingWaitMs: number | undefined, timeoutMs: number, blockingMarginMs: number): number {
  if (blockingWaitMs === undefined) return timeoutMs;
  return blockingWaitMs + Math.ceil(blockingWaitMs / 16) + blockingMarginMs;
}

/** Network error codes worth retrying: the server or the path to it failed, not the request. */
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

const IDEMPOTENT: ReadonlySet<HttpMethod> = new Set(["GET", "HEAD", "OPTIONS"]);

/** Statuses worth retrying: server errors, rate limits, request timeouts. */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function bodyText(data: unknown): string {
  let text: string;
  if (typeof data === "string") text = data;
  else if (Buffer.isBuffer(data)) text = data.toString("utf8");
  else text = JSON.stringify(data) ?? "";
  text = text.trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The body of a streamed answer as `responseType` asks, or undefined when `skipBody` says so (the stream is then closed unread). */
async function streamedBody(req: HttpRequest, res: AxiosResponse): Promise<unknown> {
  const stream = res.data as Readable;
  const ok = (res.status >= 200 && res.status < 300) || req.okStatuses?.includes(res.status);
  if (ok && req.skipBody?.(plainHeaders(res))) {
    stream.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (req.responseType === "arraybuffer") return body;
  const text = body.toString("utf8");
  if (req.responseType === "text") return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function plainHeaders(res: AxiosResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers as Record<string, unknown>)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k.toLowerCase()] = String(v);
    else if (Array.isArray(v)) out[k.toLowerCase()] = v.map((x) => String(x)).join(", ");
  }
  return out;
}

/**
 * The one way Steward makes HTTP calls: an axios instance per target, a
 * timeout on every attempt, p-retry for calls declared safe to repeat
 * (Retry-After honoured up to a cap, non-retryable answers end the call at
 * once), errors classified by kind, and per-attempt metrics. Credentials
 * never reach logs or errors: errors carry the endpoint (method and path,
 * no query string), status and caller context, and a cause rebuilt from the
 * network error's code and message only.
 *
 * Errors thrown by `request`:
 * - TransientError: 5xx, 408, 429 (with retryAfterMs when sent), timeouts,
 *   connection resets and refusals, after the allowed attempts;
 * - ConflictError: a status the caller declared a lost check-and-set;
 * - InvalidInputError: 400 or 422, the server rejected what was sent (its text in the message);
 * - HttpStatusError: any other non-2xx not in `okStatuses`, or an unknown network failure.
 */
export class HttpClient {
  private readonly o: HttpClientOptions;
  private readonly http: AxiosInstance;
  private readonly policy: HttpRetryPolicy;
  private readonly timeoutMs: number;
  private readonly blockingMarginMs: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly delay: (ms: number, signal?: AbortSignal) => Promise<void>;

  /** @throws RangeError naming the option when a count or duration is out of range */
  constructor(options: HttpClientOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.delay = options.delay ?? ((ms, signal) => sleep(this.clock, ms, signal));
    this.timeoutMs = checkOption("timeoutMs", options.timeoutMs ?? HTTP_TIMEOUT_MS, 1);
    this.blockingMarginMs = checkOption("blockingMarginMs", options.blockingMarginMs ?? HTTP_BLOCKING_MARGIN_MS);
    this.policy = compileRetryPolicy(options.retry);
    // Statuses are classified here, not by axios, so every answer reaches the classifier.
    this.http = axios.create({ baseURL: options.baseURL, validateStatus: () => true, maxRedirects: 0 });
  }

  /** Makes the call, with retries when `req.retry` allows. See the class doc for what it throws. */
  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const retry = req.retry ?? IDEMPOTENT.has(req.method);
    if (!retry) return this.attempt<T>(req);
    return withRetries(() => this.attempt<T>(req), {
      policy: this.policy,
      random: this.random,
      delay: this.delay,
      signal: req.signal,
      onRetry: ({ attempt, waitMs, error }) =>
        this.o.logger?.debug(
          { target: this.o.target, endpoint: `${req.method} ${req.path}`, attempt, retry_in_ms: waitMs, error: error.message },
          "http: retrying",
        ),
    });
  }

  private headers(req: HttpRequest): Record<string, string> {
    const base = typeof this.o.headers === "function" ? this.o.headers() : (this.o.headers ?? {});
    const all = { ...base, ...req.headers };
    for (const [name, value] of Object.entries(all)) {
      if (SECRET_HEADERS.some((h) => h.toLowerCase() === name.toLowerCase())) addSecret(value);
    }
    return all;
  }

  private async attempt<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    const context: ErrorContext = { ...req.context, endpoint: `${req.method} ${req.path}` };
    const started = performance.now();
    let res: AxiosResponse;
    try {
      res = await this.http.request({
        method: req.method,
        url: req.path,
        ...(req.params ? { params: req.params } : {}),
        ...(req.data !== undefined ? { data: req.data } : {}),
        headers: this.headers(req),
        timeout: timeoutFor(req.blockingWaitMs, this.timeoutMs, this.blockingMarginMs),
        responseType: req.skipBody ? "stream" : (req.responseType ?? "json"),
        transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: true },
        ...(req.signal ? { signal: req.signal } : {}),
      });
      if (req.skipBody) res.data = await streamedBody(req, res);
    } catch (err) {
      throw this.networkError(err, context, started);
    }
    this.observe(String(res.status), started);
    return this.classify<T>(req, res, context);
  }

  private classify<T>(req: HttpRequest, res: AxiosResponse, context: ErrorContext): HttpResponse<T> {
    const { status } = res;
    if ((status >= 200 && status < 300) || req.okStatuses?.includes(status)) {
      return { status, data: res.data as T, headers: plainHeaders(res) };
    }
    const text = bodyText(res.data);
    const message = `${context.endpoint}: ${status}${text ? ` ${text}` : ""}`;
    if (req.conflictStatuses?.includes(status)) throw new ConflictError(message, context);
    if (isTransientStatus(status)) {
      const headers = plainHeaders(res);
      throw new TransientError(message, context, parseRetryAfter(headers["retry-after"], this.clock.now()));
    }
    if (status === 400 || status === 422) throw new InvalidInputError(message, context);
    throw new HttpStatusError(message, status, context);
  }

  private networkError(err: unknown, context: ErrorContext, started: number): Error {
    const code = isAxiosError(err) ? (err.code ?? "") : "";
    const text = err instanceof Error ? err.message : String(err);
    // Rebuilt from code and text only: the axios error holds the request config, credentials included.
    const cause = new Error(code ? `${code}: ${text}` : text);
    if (code === "ERR_CANCELED") {
      this.observe("aborted", started);
      return new TransientError(`${context.endpoint}: aborted`, context, undefined, { cause });
    }
    const timedOut = code === "ETIMEDOUT" || code === "ECONNABORTED";
    this.observe(timedOut ? "timeout" : "network", started);
    if (TRANSIENT_CODES.has(code)) {
      return new TransientError(`${context.endpoint}: ${timedOut ? "timed out" : code}`, context, undefined, { cause });
    }
    const failure = new HttpStatusError(`${context.endpoint}: ${code || text}`, 0, context);
    failure.cause = cause;
    return failure;
  }

  private observe(code: string, started: number): void {
    const m = this.o.metrics;
    if (!m) return;
    m.apiRequestsTotal.inc({ target: this.o.target, code });
    m.apiRequestDuration.observe({ target: this.o.target }, (performance.now() - started) / 1000);
  }
}

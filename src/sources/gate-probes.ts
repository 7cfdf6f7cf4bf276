import { HTTP_GATE_PROBE_TIMEOUT_MS } from "../config/defaults.js";
import type { StewardMetrics } from "../metrics.js";
import type { Logger } from "../log.js";
import { HttpClient } from "./http-client.js";

/**
 * The reads behind the `http` and `prometheus` gates. They only read; what
 * a result means for the gate is decided in reconciler/promotion/gates.ts.
 */

/** What one probe of a URL saw: the status it answered, or why there was none. */
export type HttpProbeResult = { status: number } | { error: string };

/** Every status is an answer to a probe, not an error: the gate compares it with `expectStatus`. */
const ALL_STATUSES = Array.from({ length: 500 }, (_, i) => i + 100);

/**
 * Probes `url` once with GET: no retries (the gate's interval is the
 * retry), no redirects followed (a 301 is what the URL answers), the body
 * ignored. Never throws: a timeout, a refused connection or a bad URL is an
 * `error` naming it.
 * @param timeoutMs @default HTTP_GATE_PROBE_TIMEOUT_MS (5 s)
 */
export async function probeHttp(url: string, opts: { timeoutMs?: number; signal?: AbortSignal; logger?: Logger } = {}): Promise<HttpProbeResult> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { error: `not a URL: ${url}` };
  }
  const client = new HttpClient({ target: "gate", baseURL: u.origin, timeoutMs: opts.timeoutMs ?? HTTP_GATE_PROBE_TIMEOUT_MS, ...(opts.logger && { logger: opts.logger }) });
  try {
    const res = await client.request({
      method: "GET",
      path: `${u.pathname}${u.search}`,
      okStatuses: ALL_STATUSES,
      retry: false,
      responseType: "text",
      ...(opts.signal && { signal: opts.signal }),
      context: { endpoint: `GET ${u.pathname}` },
    });
    return { status: res.status };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** One value of an instant query, or why there is none. `value` may be NaN or ±Infinity, as Prometheus says. */
export type PrometheusResult = { value: number; series: number } | { error: string };

interface QueryBody {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

/**
 * Reads a Prometheus server's HTTP API (`/api/v1/query`). Calls go through
 * HttpClient: a timeout on each, a few jittered retries for 5xx and
 * timeouts, Retry-After honoured.
 */
export class PrometheusReader {
  private readonly http: HttpClient;

  constructor(
    /** `http://prometheus.service.consul:9090` (steward.yaml `prometheus.address`). */
    readonly address: string,
    opts: { timeoutMs?: number; logger?: Logger; metrics?: StewardMetrics; retry?: { attempts?: number } } = {},
  ) {
    this.http = new HttpClient({
      target: "prometheus",
      baseURL: address.replace(/\/+$/, ""),
      ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }),
      ...(opts.logger && { logger: opts.logger }),
      ...(opts.metrics && { metrics: opts.metrics }),
      ...(opts.retry && { retry: opts.retry }),
    });
  }

  /**
   * Evaluates `query` now and reduces the answer to one number: a scalar's
   * value, or the largest value of an instant vector (every series must be
   * below a gate's threshold, so the largest decides). Never throws: an
   * empty vector, another result type, Prometheus's own error (bad PromQL,
   * a query timeout) or an unreachable server is an `error` naming it.
   */
  async query(query: string, signal?: AbortSignal): Promise<PrometheusResult> {
    try {
      const res = await this.http.request<QueryBody | string>({
        method: "GET",
        path: "/api/v1/query",
        params: { query },
        // 400 and 422 carry Prometheus's own error in the JSON envelope: they are read, not thrown.
        okStatuses: [400, 422],
        ...(signal && { signal }),
        context: { endpoint: "GET /api/v1/query" },
      });
      return fromQueryBody(res.status, res.data);
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}

/**
 * The number an instant query's answer holds (see PrometheusReader.query).
 * Exported for table tests of the response format.
 */
export function fromQueryBody(status: number, body: QueryBody | string): PrometheusResult {
  if (typeof body !== "object") return { error: `${status}: not a Prometheus API answer: ${String(body).slice(0, 200)}` };
  if (body.status !== "success") return { error: `${body.errorType ?? "error"}: ${body.error ?? `status ${status}`}` };
  const type = body.data?.resultType;
  const result = body.data?.result;
  if (type === "scalar") return { value: sampleValue(result), series: 1 };
  if (type !== "vector" || !Array.isArray(result)) return { error: `the query returned a ${type ?? "nothing"}, not an instant vector or scalar` };
  if (result.length === 0) return { error: "the query returned no series" };
  const values = result.map((s) => sampleValue((s as { value?: unknown }).value));
  // NaN compares false with everything; any NaN series makes the whole answer NaN, so it never counts as below.
  const value = values.some(Number.isNaN) ? NaN : Math.max(...values);
  return { value, series: result.length };
}

/** `[ <unix seconds>, "<value>" ]` → the value; Prometheus writes NaN and ±Inf as `NaN`, `+Inf`, `-Inf`. */
function sampleValue(sample: unknown): number {
  const text: unknown = Array.isArray(sample) ? (sample as unknown[])[1] : undefined;
  if (typeof text !== "string") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

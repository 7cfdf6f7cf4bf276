import test from "ava";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { Writable } from "node:stream";
import { createLogger } from "../../src/log.js";
import { createMetrics } from "../../src/metrics.js";
import { ConflictError, InvalidInputError, TransientError } from "../../src/reconciler/core/outcome.js";
import { HttpClient, HttpStatusError, parseRetryAfter, timeoutFor, type HttpClientOptions } from "../../src/sources/http-client.js";
import { fixedRandom } from "../helpers/clock.js";

const TOKEN = "9d2f6c1e-1111-4a4a-8b8b-0123456789ab";

/**
 * A tiny local API. Each test uses its own path prefix, so hit counts do not
 * mix between tests that run at the same time.
 */
type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;
const routes: [RegExp, Handler][] = [
  [/\/flaky$/, (_q, res, hit) => (hit <= 2 ? reply(res, 503, "no leader") : reply(res, 200, { ok: true }))],
  [/\/limited$/, (_q, res, hit) => (hit === 1 ? reply(res, 429, "slow down", { "Retry-After": "2" }) : reply(res, 200, { ok: true }))],
  [
    /\/limited-date$/,
    (_q, res, hit) =>
      hit === 1 ? reply(res, 503, "maintenance", { "Retry-After": new Date(Date.now() + 5000).toUTCString() }) : reply(res, 200, { ok: true }),
  ],
  [/\/limited-long$/, (_q, res) => reply(res, 503, "maintenance", { "Retry-After": "3600" })],
  [/\/missing$/, (_q, res) => reply(res, 404, "job not found")],
  [/\/bad$/, (_q, res) => reply(res, 400, "1 error occurred:\n\t* Task group web validation failed")],
  [/\/forbidden$/, (_q, res) => reply(res, 403, "Permission denied")],
  [/\/down$/, (_q, res) => reply(res, 503, "no leader")],
  [/\/cas$/, (_q, res) => reply(res, 409, "index mismatch")],
  [/\/echo-token$/, (q, res) => reply(res, 200, { token: q.headers["x-nomad-token"] === TOKEN })],
  [/\/hang$/, () => undefined],
  [/\/indexed$/, (_q, res) => reply(res, 200, { jobs: "x".repeat(200_000) }, { "X-Nomad-Index": "7" })],
  [/\/slow-blocking$/, (_q, res) => void setTimeout(() => reply(res, 200, { index: 7 }), 150)],
];

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": typeof body === "string" ? "text/plain" : "application/json", ...headers });
  res.end(text);
}

const hits = new Map<string, number>();
let server: Server;
let baseURL: string;

test.before(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const key = `${req.method} ${path}`;
    const hit = (hits.get(key) ?? 0) + 1;
    hits.set(key, hit);
    const route = routes.find(([re]) => re.test(path));
    if (route) route[1](req, res, hit);
    else reply(res, 500, "no route");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.after.always(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function client(opts: Partial<HttpClientOptions> = {}) {
  const delays: number[] = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const http = new HttpClient({
    target: "nomad",
    baseURL,
    headers: { "X-Nomad-Token": TOKEN },
    random: fixedRandom(0.5),
    delay: async (ms) => void delays.push(ms),
    metrics,
    retry: { attempts: 4, baseMs: 200, capMs: 5000, retryAfterCapMs: 30_000 },
    ...opts,
  });
  return { http, delays, metrics };
}

async function requests(metrics: ReturnType<typeof createMetrics>, code: string): Promise<number> {
  return (await metrics.apiRequestsTotal.get()).values.find((v) => v.labels.target === "nomad" && v.labels.code === code)?.value ?? 0;
}

test("retries_on_503_then_succeeds", async (t) => {
  const { http, delays, metrics } = client();
  const res = await http.request<{ ok: boolean }>({ method: "GET", path: "/t1/flaky" });
  t.deepEqual(res.data, { ok: true });
  t.is(hits.get("GET /t1/flaky"), 3);
  t.deepEqual(delays, [100, 200], "jittered exponential delays between attempts");
  t.is(await requests(metrics, "503"), 2);
  t.is(await requests(metrics, "200"), 1);
});

test("retry_after_seconds_is_honoured", async (t) => {
  const { http, delays } = client();
  await http.request({ method: "GET", path: "/t2/limited" });
  t.deepEqual(delays, [2000]);
});

test("retry_after_http_date_is_honoured", async (t) => {
  const { http, delays } = client();
  await http.request({ method: "GET", path: "/t3/limited-date" });
  t.is(delays.length, 1);
  // HTTP dates have whole seconds: 5 s ahead, less what passed since the server wrote it.
  t.true((delays[0] ?? 0) > 3000 && (delays[0] ?? 0) <= 5000, String(delays[0]));
});

test("retry_after_beyond_the_cap_is_handed_to_the_queue", async (t) => {
  const { http, delays } = client();
  const err = await t.throwsAsync(http.request({ method: "GET", path: "/t4/limited-long" }), { instanceOf: TransientError });
  t.is(err.retryAfterMs, 3_600_000);
  t.deepEqual(delays, []);
  t.is(hits.get("GET /t4/limited-long"), 1);
});

test("no_retry_on_404", async (t) => {
  const { http, delays } = client();
  const err = await t.throwsAsync(http.request({ method: "GET", path: "/t5/missing", context: { env: "qa", nomadJob: "web" } }), { instanceOf: HttpStatusError });
  t.is(err.status, 404);
  t.deepEqual(err.context, { env: "qa", nomadJob: "web", endpoint: "GET /t5/missing" });
  t.is(err.message, "GET /t5/missing: 404 job not found");
  t.is(hits.get("GET /t5/missing"), 1);
  t.deepEqual(delays, []);
});

test("no_retry_on_400_which_is_invalid_input", async (t) => {
  const { http } = client();
  const err = await t.throwsAsync(http.request({ method: "GET", path: "/t6/bad" }), { instanceOf: InvalidInputError });
  t.regex(err.message, /Task group web validation failed/);
  t.is(hits.get("GET /t6/bad"), 1);
});

test("no_retry_on_403", async (t) => {
  const { http } = client();
  await t.throwsAsync(http.request({ method: "GET", path: "/t7/forbidden" }), { instanceOf: HttpStatusError });
  t.is(hits.get("GET /t7/forbidden"), 1);
});

test("ok_statuses_are_answers", async (t) => {
  const { http } = client();
  const res = await http.request({ method: "GET", path: "/t8/missing", okStatuses: [404] });
  t.is(res.status, 404);
  t.is(res.data, "job not found");
});

test("timeout_is_transient", async (t) => {
  // Long enough that a retry reaches the server before its own deadline on a loaded machine.
  const { http, metrics } = client({ timeoutMs: 1_500, retry: { attempts: 2 } });
  const err = await t.throwsAsync(http.request({ method: "GET", path: "/t9/hang" }), { instanceOf: TransientError });
  t.is(err.message, "GET /t9/hang: timed out");
  t.is(hits.get("GET /t9/hang"), 2, "a timed-out GET is tried again");
  t.is(await requests(metrics, "timeout"), 2);
});

test("connection_refused_is_transient", async (t) => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const { http, delays } = client({ baseURL: `http://127.0.0.1:${port}` });
  const err = await t.throwsAsync(http.request({ method: "GET", path: "/v1/jobs" }), { instanceOf: TransientError });
  t.is(err.message, "GET /v1/jobs: ECONNREFUSED");
  t.is(delays.length, 3, "all attempts used");
});

test("non_idempotent_call_is_not_retried", async (t) => {
  const { http, delays } = client();
  await t.throwsAsync(http.request({ method: "POST", path: "/t10/down", data: { Job: {} } }), { instanceOf: TransientError });
  t.is(hits.get("POST /t10/down"), 1);
  t.deepEqual(delays, []);
});

test("cas_protected_write_is_retried_when_declared", async (t) => {
  const { http } = client();
  await http.request({ method: "PUT", path: "/t11/flaky", data: { Job: {}, EnforceIndex: true, JobModifyIndex: 4 }, retry: true });
  t.is(hits.get("PUT /t11/flaky"), 3);
});

test("declared_cas_conflict_is_a_conflict_and_not_retried", async (t) => {
  const { http } = client();
  await t.throwsAsync(http.request({ method: "PUT", path: "/t12/cas", retry: true, conflictStatuses: [409] }), { instanceOf: ConflictError });
  t.is(hits.get("PUT /t12/cas"), 1);
});

test("blocking_query_timeout_is_wait_plus_margin", async (t) => {
  t.is(timeoutFor(undefined, 10_000, 5000), 10_000);
  t.is(timeoutFor(60_000, 10_000, 5000), 60_000 + 3750 + 5000);
  // The server holds the answer 150 ms: the ordinary 50 ms timeout fails, the blocking one (wait + margin) does not.
  const { http } = client({ timeoutMs: 50, blockingMarginMs: 2000, retry: { attempts: 1 } });
  await t.throwsAsync(http.request({ method: "GET", path: "/t13/slow-blocking" }), { instanceOf: TransientError });
  const res = await http.request({ method: "GET", path: "/t13/slow-blocking", params: { index: 6, wait: "100ms" }, blockingWaitMs: 100 });
  t.is(res.status, 200);
});

test("token_is_sent_but_never_in_errors_or_logs", async (t) => {
  const chunks: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    }),
  });
  const { http } = client({ logger, timeoutMs: 300, retry: { attempts: 2 } });
  const echoed = await http.request<{ token: boolean }>({ method: "GET", path: "/t14/echo-token" });
  t.true(echoed.data.token, "the token reached the server");
  const errors = await Promise.all(
    ["/t14/hang", "/t14/missing", "/t14/down"].map((path) => http.request({ method: "GET", path }).catch((e: unknown) => e)),
  );
  for (const err of errors) {
    logger.error({ err }, "call failed");
    t.false(inspect(err, { depth: 10 }).includes(TOKEN));
    t.false(JSON.stringify(err).includes(TOKEN));
  }
  const text = chunks.join("");
  t.true(text.includes("http: retrying"), "retries were logged");
  t.false(text.includes(TOKEN));
});

test("retry_after_parsing", (t) => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  t.is(parseRetryAfter("120", now), 120_000);
  t.is(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
  t.is(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0, "a date in the past means now");
  t.is(parseRetryAfter("soon", now), undefined);
  t.is(parseRetryAfter(undefined, now), undefined);
});

test("bad_option_names_the_field", (t) => {
  t.throws(() => new HttpClient({ target: "nomad", baseURL, retry: { attempts: 0 } }), { message: /retry\.attempts/ });
  t.throws(() => new HttpClient({ target: "nomad", baseURL, timeoutMs: 0 }), { message: /timeoutMs/ });
});

const skipRows: Array<{ name: string; path: string; skipAt: string; responseType: "json" | "text" | "arraybuffer"; want: (data: unknown) => boolean }> = [
  { name: "an_answer_at_the_index_already_seen_is_left_unread", path: "/t30/indexed", skipAt: "7", responseType: "text", want: (d) => d === undefined },
  { name: "an_answer_at_a_new_index_is_read_as_text", path: "/t31/indexed", skipAt: "6", responseType: "text", want: (d) => typeof d === "string" && d.length > 200_000 },
  { name: "an_answer_at_a_new_index_is_parsed_as_json", path: "/t32/indexed", skipAt: "6", responseType: "json", want: (d) => (d as { jobs?: string }).jobs?.length === 200_000 },
  { name: "an_answer_at_a_new_index_is_kept_as_bytes", path: "/t33/indexed", skipAt: "6", responseType: "arraybuffer", want: (d) => Buffer.isBuffer(d) && d.length > 200_000 },
];
for (const row of skipRows) {
  test(`skip_body: ${row.name}`, async (t) => {
    const { http, metrics } = client();
    const res = await http.request({ method: "GET", path: row.path, responseType: row.responseType, skipBody: (h) => h["x-nomad-index"] === row.skipAt });
    t.is(res.status, 200);
    t.is(res.headers["x-nomad-index"], "7");
    t.true(row.want(res.data));
    t.is(await requests(metrics, "200"), 1);
  });
}

test("skip_body: an_error_answer_is_still_read_and_classified", async (t) => {
  const { http } = client();
  const err = await t.throwsAsync(http.request({ method: "GET", path: "/t34/missing", skipBody: () => true }), { instanceOf: HttpStatusError });
  t.regex(err?.message ?? "", /404 job not found/);
});

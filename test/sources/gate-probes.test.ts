import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fromQueryBody, probeHttp, PrometheusReader } from "../../src/sources/gate-probes.js";

/** Answers in the shapes of Prometheus's HTTP API docs (querying/api): the envelope, vector and scalar results, and errors. */
const rows: Array<{ name: string; status: number; body: Parameters<typeof fromQueryBody>[1]; want: { value: number; series: number } | { error: RegExp } }> = [
  {
    name: "vector_of_one_series_is_its_value",
    status: 200,
    body: { status: "success", data: { resultType: "vector", result: [{ metric: { job: "web" }, value: [1435781451.781, "0.25"] }] } },
    want: { value: 0.25, series: 1 },
  },
  {
    name: "vector_of_several_series_is_the_largest",
    status: 200,
    body: { status: "success", data: { resultType: "vector", result: [{ metric: { i: "a" }, value: [1, "0.1"] }, { metric: { i: "b" }, value: [1, "0.9"] }] } },
    want: { value: 0.9, series: 2 },
  },
  { name: "scalar_is_its_value", status: 200, body: { status: "success", data: { resultType: "scalar", result: [1435781451.781, "1"] } }, want: { value: 1, series: 1 } },
  { name: "plus_inf_is_infinity", status: 200, body: { status: "success", data: { resultType: "scalar", result: [1, "+Inf"] } }, want: { value: Infinity, series: 1 } },
  { name: "empty_vector_is_an_error", status: 200, body: { status: "success", data: { resultType: "vector", result: [] } }, want: { error: /no series/ } },
  { name: "matrix_is_an_error", status: 200, body: { status: "success", data: { resultType: "matrix", result: [] } }, want: { error: /a matrix, not an instant vector/ } },
  { name: "bad_promql_names_prometheus_error", status: 400, body: { status: "error", errorType: "bad_data", error: 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis' }, want: { error: /^bad_data: invalid parameter "query"/ } },
  { name: "non_json_answer_is_an_error", status: 200, body: "<html>proxy</html>", want: { error: /not a Prometheus API answer/ } },
];
for (const row of rows) {
  test(`query body: ${row.name}`, (t) => {
    const got = fromQueryBody(row.status, row.body);
    if ("error" in row.want) {
      t.true("error" in got);
      if ("error" in got) t.regex(got.error, row.want.error);
    } else t.deepEqual(got, row.want);
  });
}

test("a NaN series makes the whole answer NaN, so it never counts as below", (t) => {
  const got = fromQueryBody(200, { status: "success", data: { resultType: "vector", result: [{ value: [1, "0.1"] }, { value: [1, "NaN"] }] } });
  t.true("value" in got && Number.isNaN(got.value));
});

async function server(t: { teardown: (fn: () => Promise<void>) => void }, handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

test("probe: any status is an answer, path and query are kept", async (t) => {
  const seen: string[] = [];
  const url = await server(t, (req, res) => {
    seen.push(req.url ?? "");
    res.writeHead(req.url?.startsWith("/down") ? 503 : 204).end();
  });
  t.deepEqual(await probeHttp(`${url}/health?deep=1`), { status: 204 });
  t.deepEqual(await probeHttp(`${url}/down`), { status: 503 });
  t.deepEqual(seen, ["/health?deep=1", "/down"]);
});

test("probe: a redirect is what the URL answers, not followed", async (t) => {
  const url = await server(t, (_req, res) => res.writeHead(302, { Location: "/elsewhere" }).end());
  t.deepEqual(await probeHttp(`${url}/`), { status: 302 });
});

test("probe: a server that does not answer in time is an error naming the timeout", async (t) => {
  const url = await server(t, () => undefined);
  const got = await probeHttp(`${url}/slow`, { timeoutMs: 100 });
  t.true("error" in got && /timed out/.test(got.error), JSON.stringify(got));
});

test("probe: a refused connection is an error", async (t) => {
  // A port nothing listens on: take one and close it.
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const free = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const got = await probeHttp(`http://127.0.0.1:${free}/`);
  t.true("error" in got && /ECONNREFUSED/.test(got.error), JSON.stringify(got));
});

test("prometheus reader: an unreachable server is an error, not a throw", async (t) => {
  const reader = new PrometheusReader("http://127.0.0.1:1", { timeoutMs: 500, retry: { attempts: 1 } });
  const got = await reader.query("up");
  t.true("error" in got);
});

import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { GateRunner } from "../../../src/reconciler/promotion/gates.js";
import type { GateContext } from "../../../src/reconciler/promotion/gate-types.js";
import { evaluateGate } from "../../../src/reconciler/promotion/plan.js";
import { PrometheusReader } from "../../../src/sources/gate-probes.js";
import type { GateSpec } from "../../../src/model/types.js";
import { startPrometheus, type PrometheusProcess } from "../../deploy/prometheus-process.js";
import { eventually } from "../../helpers/eventually.js";

/**
 * The prometheus gate against the real `prometheus` (Debian's package; the
 * test fails, never skips, when it is missing): Prometheus scrapes a small
 * exporter every second, and the gate queries it through the HTTP API.
 */

interface Fixture {
  prometheus: PrometheusProcess;
  setRatio: (v: number) => void;
}

let shared: Promise<Fixture> | undefined;
let closeExporter: (() => Promise<void>) | undefined;

async function start(): Promise<Fixture> {
  let ratio = 0.9;
  const exporter = http.createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
    res.end(`# TYPE app_error_ratio gauge\napp_error_ratio{instance_name="web"} ${ratio}\n`);
  });
  await new Promise<void>((r) => exporter.listen(0, "127.0.0.1", r));
  closeExporter = () => new Promise<void>((r) => (exporter.closeAllConnections(), exporter.close(() => r())));
  const port = (exporter.address() as AddressInfo).port;
  const prometheus = await startPrometheus(() =>
    Promise.resolve({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      scrape_configs: [{ job_name: "app", scrape_interval: "1s", static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
    }),
  );
  return { prometheus, setRatio: (v) => (ratio = v) };
}

test.before(() => {
  shared = start();
});
test.after.always(async () => {
  await (await shared?.catch(() => undefined))?.prometheus.stop();
  await closeExporter?.();
});

function ctx(gate: GateSpec): GateContext {
  const d = `sha256:${"e".repeat(64)}`;
  return { service: "web", stage: "qa", gateIndex: 1, gate, digest: d, image: `127.0.0.1:5000/web@${d}`, startedAt: Date.now(), nomadJob: "web" };
}

const verdictOf = (r: GateRunner, c: GateContext): string => {
  const obs = r.observe(c);
  return evaluateGate(c.gate, { startedAt: c.startedAt, now: Date.now(), approved: false, obs: { deployments: [], allocFailures: [], gates: obs ? { 1: obs } : {} }, gate: 1 }).verdict;
};

test.serial("the gate waits while the scraped ratio is above the threshold, and passes once it stayed below for `for`", async (t) => {
  const f = await shared!;
  await eventually(async () => (await f.prometheus.query("app_error_ratio")).length === 1, { timeoutMs: 10_000 });
  const runner = new GateRunner({ nomad: () => undefined, prometheus: new PrometheusReader(f.prometheus.url), prometheusIntervalMs: 200 });
  t.teardown(() => runner.stopAll());
  const c = ctx({ kind: "prometheus", query: 'max(app_error_ratio{instance_name="web"})', below: 0.5, forMs: 1_500, timeoutMs: 60_000 });
  await runner.start(c);
  await eventually(() => runner.observe(c) !== undefined);
  t.like(runner.observe(c), { kind: "prometheus", value: 0.9 });
  t.is(verdictOf(runner, c), "pending");

  f.setRatio(0.1);
  await eventually(() => (runner.observe(c) as { value?: number }).value === 0.1, { timeoutMs: 5_000 });
  const since = (runner.observe(c) as { belowSince?: number }).belowSince ?? 0;
  t.true(since >= c.startedAt);
  t.is(verdictOf(runner, c), "pending", "below, but not yet for 1.5 s");
  await eventually(() => verdictOf(runner, c) === "passed", { timeoutMs: 5_000 });
  t.true(Date.now() - since >= 1_500);
});

test.serial("Prometheus's own errors reach the observation: bad PromQL, and a query with no series", async (t) => {
  const f = await shared!;
  const reader = new PrometheusReader(f.prometheus.url);
  const bad = await reader.query("sum(app_error_ratio");
  t.true("error" in bad && /^bad_data: /.test(bad.error), JSON.stringify(bad));
  const none = await reader.query('app_error_ratio{instance_name="nobody"}');
  t.deepEqual(none, { error: "the query returned no series" });
  const scalar = await reader.query("scalar(vector(0.25))");
  t.deepEqual(scalar, { value: 0.25, series: 1 });
});

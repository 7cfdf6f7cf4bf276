import test from "ava";
import { spawnSync } from "node:child_process";
import { createMetrics, initMetrics, LOOPS, SOURCES } from "../src/metrics.js";

const STEWARD_METRICS = [
  "steward_reconcile_total",
  "steward_reconcile_errors_total",
  "steward_reconcile_duration_seconds",
  "steward_actions_total",
  "steward_queue_depth",
  "steward_source_errors_total",
  "steward_api_requests_total",
  "steward_api_request_duration_seconds",
  "steward_leader",
  "steward_build_info",
];

/** prom-client's own gauges named *_total: known, upstream, not Steward's to rename. */
const KNOWN_DEFAULT_METRIC_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

function promtool(exposition: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" });
  if (r.error) {
    throw new Error(`promtool could not run (${r.error.message}): install Debian's prometheus package (bash scripts/setup.sh does)`);
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

async function exposition(defaultMetrics: boolean): Promise<string> {
  const m = createMetrics({ version: "1.2.3", defaultMetrics });
  initMetrics(m, { actionKinds: { sync: ["register", "stop", "noop"] } });
  // A few real observations, so lint also sees non-zero samples and an API code label.
  m.reconcileTotal.inc({ loop: "sync", result: "done" });
  m.reconcileDuration.observe({ loop: "sync" }, 0.2);
  m.apiRequestsTotal.inc({ target: "nomad", code: "200" });
  m.apiRequestDuration.observe({ target: "nomad" }, 0.01);
  return m.registry.metrics();
}

test("steward_metrics_pass_promtool_lint", async (t) => {
  const text = await exposition(false);
  for (const name of STEWARD_METRICS) t.regex(text, new RegExp(`^# TYPE ${name} `, "m"), name);
  const r = promtool(text);
  t.is(r.output, "");
  t.is(r.status, 0);
});

test("full_exposition_lints_clean_except_prom_client_defaults", async (t) => {
  const text = await exposition(true);
  t.regex(text, /^process_cpu_seconds_total /m, "default process metrics are exposed");
  const problems = promtool(text).output.split("\n").filter((l) => l !== "" && !KNOWN_DEFAULT_METRIC_LINT.test(l));
  t.deepEqual(problems, []);
});

test("every_bounded_label_combination_starts_at_zero", async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  initMetrics(m, { actionKinds: { sync: ["register", "noop"] } });
  const text = await m.registry.metrics();
  for (const loop of LOOPS) {
    for (const result of ["done", "requeue", "retry", "stalled"]) {
      t.true(text.includes(`steward_reconcile_total{loop="${loop}",result="${result}"} 0`), `${loop}/${result}`);
    }
    for (const kind of ["invalid", "transient", "unknown"]) {
      t.true(text.includes(`steward_reconcile_errors_total{loop="${loop}",kind="${kind}"} 0`), `${loop}/${kind}`);
    }
    t.true(text.includes(`steward_queue_depth{loop="${loop}"} 0`));
    t.true(text.includes(`steward_reconcile_duration_seconds_count{loop="${loop}"} 0`));
  }
  t.false(text.includes('kind="waiting"'), "waiting is not a failure");
  t.true(text.includes('steward_actions_total{loop="sync",kind="register",result="failed"} 0'));
  for (const source of SOURCES) t.true(text.includes(`steward_source_errors_total{source="${source}"} 0`), source);
  t.true(text.includes("steward_leader 0"));
  t.regex(text, /steward_build_info\{version="dev",node_version="v\d+[^"]*"\} 1/);
});

test("registries_are_independent", async (t) => {
  const a = createMetrics({ defaultMetrics: false });
  const b = createMetrics({ defaultMetrics: false });
  a.leader.set(1);
  t.true((await b.registry.metrics()).includes("steward_leader 0"));
});

// deploy/grafana/steward.json: a dashboard JSON Grafana can import, whose
// every expression is valid PromQL (promtool parses it) and selects only
// metrics Steward exports (src/metrics.ts) or Prometheus adds (`up`).
// test/deploy/prometheus-e2e.test.ts runs the same expressions against the
// real Prometheus scraping a real Steward.
import test from "ava";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { PROMTOOL_BIN, REPO_ROOT, assertInstalled, run } from "./fixture.js";
import { DASHBOARD_FILE, dashboardExprs, grafanaToPromql, metricNames } from "./promql.js";
import { PROMETHEUS_SERIES, stewardSeries } from "./steward-metrics.js";

async function dashboard(): Promise<Record<string, any>> {
  return JSON.parse(await readFile(path.join(REPO_ROOT, DASHBOARD_FILE), "utf8")) as Record<string, any>;
}

test("metric_name_extraction_reads_promql_as_prometheus_does", (t) => {
  t.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (loop, le) (rate(steward_reconcile_duration_seconds_bucket{loop=~"sync|x"}[5m]))) / on (job) group_left () up offset 5m'),
    ["steward_reconcile_duration_seconds_bucket", "up"],
  );
  t.deepEqual(metricNames("time() - max by (env) (steward_sync_last_success_timestamp_seconds) > 1e3"), ["steward_sync_last_success_timestamp_seconds"]);
});

test("dashboard_is_importable_json_with_unique_panel_ids_and_a_prometheus_datasource_variable", async (t) => {
  const dash = await dashboard();
  t.is(dash.uid, "steward");
  t.is(typeof dash.title, "string");
  t.is(typeof dash.schemaVersion, "number");
  const ids = (dash.panels as any[]).map((p) => Number(p.id));
  t.is(new Set(ids).size, ids.length, "panel ids are unique");
  for (const p of dash.panels as any[]) {
    t.truthy(p.gridPos && typeof p.gridPos.w === "number" && p.gridPos.w <= 24, `panel ${p.title} has a grid position`);
    if (p.type !== "row") t.true((p.targets ?? []).length > 0, `panel ${p.title} has a query`);
  }
  const ds = (dash.templating.list as any[]).find((v) => v.type === "datasource");
  t.is(ds?.query, "prometheus");
});

test("every_dashboard_expression_selects_only_metrics_steward_exports", async (t) => {
  const known = await stewardSeries();
  const exprs = dashboardExprs(await dashboard());
  t.true(exprs.length >= 15);
  const used = new Set<string>();
  for (const { where, expr } of exprs) {
    const names = metricNames(grafanaToPromql(expr));
    t.true(names.length > 0, `${where}: selects no metric`);
    for (const n of names) {
      used.add(n);
      t.true(known.has(n) || PROMETHEUS_SERIES.has(n), `${where}: ${n} is not a metric Steward registers (src/metrics.ts and the loops' metrics.ts)`);
    }
  }
  // The views that existing metrics can show: sync state per environment, API latency and errors.
  for (const n of ["steward_sync_jobs", "steward_api_request_duration_seconds_bucket", "steward_api_requests_total", "steward_leader"]) t.true(used.has(n), `the dashboard shows ${n}`);
  // Promotions per stage and result, gate results, lead time; node health, replacements, applies and budget per pool.
  for (const n of [
    "steward_promotion_promotions_total",
    "steward_promotion_gate_results_total",
    "steward_promotion_lead_time_seconds_bucket",
    "steward_healing_unhealthy_nodes",
    "steward_healing_lost_nodes",
    "steward_healing_replacements_total",
    "steward_healing_applies_total",
    "steward_healing_budget_tokens",
  ]) {
    t.true(used.has(n), `the dashboard shows ${n}`);
  }
});

test("every_dashboard_expression_is_valid_promql_for_promtool", async (t) => {
  assertInstalled(PROMTOOL_BIN, "prometheus");
  const exprs = dashboardExprs(await dashboard());
  const dir = await mkdtemp(path.join(tmpdir(), "steward-dash-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "dashboard.rules.yml");
  await writeFile(file, stringify({ groups: [{ name: "dashboard", rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: grafanaToPromql(e.expr) })) }] }));
  const r = await run(PROMTOOL_BIN, ["check", "rules", file]);
  t.is(r.code, 0, r.stdout + r.stderr);
});

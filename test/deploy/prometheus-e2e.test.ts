// End to end: Steward runs against sim; the real Prometheus scrapes it every
// second with deploy/prometheus/prometheus.yml (its Consul SD standing in as a
// static target with Consul's labels; production discovers the instances
// through Consul) and the rules of deploy/prometheus/rules/. Through
// Prometheus's HTTP API: steward_leader is 1, relabelled as in production; the
// rules evaluate without error; the leader alert is quiet; every dashboard
// expression returns series, the promotion and healing panels included (a
// build of hello is pushed and promoted qa -> prod, and a worker of the pool is
// killed and replaced through a fake Terraform); and `promtool check metrics`
// finds nothing in /metrics.
import test from "ava";
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startSim, type Sim } from "../../sim/index.js";
import { Daemon } from "../../src/daemon.js";
import { createLogger } from "../../src/log.js";
import { eventually } from "../helpers/eventually.js";
import { CountingBudget, FakeTerraform } from "../helpers/healing-fixture.js";
import { stewardYaml } from "../helpers/sync-fixture.js";
import { PROMETHEUS_BIN, PROMTOOL_BIN, REPO_ROOT, assertInstalled } from "./fixture.js";
import { deployedConfig, withStaticTargets } from "./prometheus-config.js";
import { startPrometheus, type PrometheusProcess } from "./prometheus-process.js";
import { DASHBOARD_FILE, dashboardExprs, grafanaToPromql } from "./promql.js";

/** prom-client's own gauges named *_total: upstream, not Steward's to rename (as test/metrics.test.ts). */
const KNOWN_DEFAULT_METRIC_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

/** Dashboard panels that are empty on a healthy system: no failing calls, so no numerator series. */
const EMPTY_WHEN_HEALTHY = new Set(["API calls failing"]);


interface World {
  sim: Sim;
  terraform: FakeTerraform;
  daemon: Daemon;
  prometheus: PrometheusProcess;
  dirs: string[];
}

let w: World | undefined;

test.before(async () => {
  // Fail, not skip, when the real Prometheus is missing.
  assertInstalled(PROMETHEUS_BIN, "prometheus");
  assertInstalled(PROMTOOL_BIN, "prometheus");
  const sim = await startSim({ healthyAfterMs: 200 });
  const dirs: string[] = [];
  const tree = await mkdtemp(path.join(tmpdir(), "steward-e2e-tree-"));
  const data = await mkdtemp(path.join(tmpdir(), "steward-e2e-data-"));
  dirs.push(tree, data);
  await cp(path.join(REPO_ROOT, "desired-state"), tree, { recursive: true });
  await writeFile(path.join(tree, "steward.yaml"), stewardYaml(sim));
  // hello is promoted from sim's registry (qa, then prod, on their deployments);
  // deployments that take a second, not ten.
  const hcl = await readFile(path.join(tree, "services/hello/hello.nomad.hcl"), "utf8");
  await writeFile(path.join(tree, "services/hello/hello.nomad.hcl"), hcl.replace('min_healthy_time = "10s"', 'min_healthy_time = "1s"'));
  const svc = await readFile(path.join(tree, "services/hello/service.yaml"), "utf8");
  await writeFile(path.join(tree, "services/hello/service.yaml"), svc.replace(/repository: .*\n/, `repository: ${new URL(sim.urls.registry).host}/hello\n  policy:\n    type: buildNumber\n`));
  // The workers pool: lost after 2 s unhealthy, no cooldown; its machines booted through a fake Terraform.
  const pool = await readFile(path.join(tree, "pools/workers.yaml"), "utf8");
  await writeFile(path.join(tree, "pools/workers.yaml"), pool.replace("unhealthyAfter: 5m", "unhealthyAfter: 2s").replace("cooldown: 2m", "cooldown: 0s"));
  const terraform = new FakeTerraform(sim, 200);
  terraform.boot(["a", "b", "c"]);
  const daemon = new Daemon(
    {
      source: { directory: { path: tree } },
      consul: { address: sim.urls.consul },
      statePrefix: "steward",
      http: { listen: "127.0.0.1:0" },
      instanceId: "e2e",
      dataDir: data,
      healing: { terraformRoot: data },
    },
    {
      logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent", base: { instance: "e2e" } }),
      leader: { ttlMs: 10_000, lockDelayMs: 500, waitMs: 5_000 },
      watchWaitMs: 5_000,
      promotion: { pollIntervalMs: 300, pollBackoff: { baseMs: 200, capMs: 1_000 } },
      healing: { terraform, budget: new CountingBudget(10), watchWaitMs: 2_000 },
    },
  );
  await daemon.start();
  sim.registry.pushImage("hello", "build-1", { format: "docker", layer: "hello build 1" });
  const address = new URL(daemon.url ?? "").host;
  const deployed = await deployedConfig();
  const prometheus = await startPrometheus(async (dir) => {
    const token = path.join(dir, "consul-token");
    await writeFile(token, "unused\n");
    return withStaticTargets(
      deployed,
      [{ service: "steward", address, node: "e2e-node", tags: ["prometheus", "urlprefix-/hooks/"], meta: { metrics_path: "/metrics" } }],
      { credentialsFile: token, jobs: ["steward"], scrapeInterval: "1s" },
    );
  });
  w = { sim, terraform, daemon, prometheus, dirs };
});

test.after.always(async () => {
  if (!w) return;
  await w.prometheus.stop();
  await w.daemon.stop().catch(() => undefined);
  await w.sim.close();
  await Promise.all(w.dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function world(): World {
  if (!w) throw new Error("the fixture did not start");
  return w;
}

test.serial("prometheus_scrapes_steward_and_sees_the_leader", async (t) => {
  const { prometheus } = world();
  const series = await eventually(
    async () => {
      const r = await prometheus.query('steward_leader{job="steward"}');
      return r.find((s) => s.value[1] === "1");
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  ).catch((err: unknown) => {
    throw new Error(`steward_leader never reached 1 in Prometheus (${(err as Error).message}); prometheus said:\n${prometheus.output()}`);
  });
  if (!series) return t.fail("no series");
  // The production relabelling ran: the node label comes from Consul's node name.
  t.is(series.metric.node, "e2e-node");
  t.is(series.metric.dc, "dc1");
  const up = await prometheus.query('up{job="steward"}');
  t.deepEqual(up.map((s) => s.value[1]), ["1"]);
});

test.serial("the_rules_evaluate_cleanly_and_the_leader_alert_stays_quiet", async (t) => {
  const { prometheus } = world();
  const rules = await eventually(
    async () => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith("0001")) ? body.data.groups : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 250 },
  );
  if (!rules) return t.fail("no rule groups");
  t.deepEqual(rules.map((g) => g.name).sort(), ["steward-alerts", "steward-healing-alerts", "steward-healing-recording", "steward-promotion-alerts", "steward-promotion-recording", "steward-recording"]);
  for (const r of rules.flatMap((g) => g.rules)) t.is(r.health, "ok", `${r.name}: ${r.lastError ?? ""}`);
  const leaders = await eventually(async () => (await prometheus.query("steward:leaders:sum")).find((s) => s.value[1] === "1"), { timeoutMs: 10_000, intervalMs: 250 });
  t.truthy(leaders, "the recording rule counts one leader");
  await eventually(async () => (await prometheus.query('ALERTS{alertname="StewardLeaderMissing"}')).length === 0, { timeoutMs: 10_000, intervalMs: 250 });
  // The leader's view of the example tree reaches the recording rule: qa's jobs in sync.
  const inSync = await eventually(
    async () => (await prometheus.query('env_state:steward_sync_jobs:leader{env="qa",state="in_sync"}')).find((s) => Number(s.value[1]) >= 2),
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  t.truthy(inSync);
});

test.serial("every_dashboard_expression_returns_series_once_a_build_was_promoted_and_a_worker_replaced", async (t) => {
  const { prometheus, sim, daemon } = world();
  // A worker dies; healing drains, applies (the fake Terraform boots a new machine) and purges.
  const victim = sim.world.list("prod").find((m) => m.meta.terraform_key === "b");
  sim.world.kill(victim?.id ?? "");
  const metric = async (re: RegExp): Promise<boolean> => re.test(await (await fetch(`${daemon.url}/metrics`)).text());
  const done = await eventually(
    async () => (await metric(/^steward_healing_replacements_total\{pool="workers",result="succeeded"\} 1$/m)) && (await metric(/^steward_promotion_lead_time_seconds_count\{service="hello"\} [1-9]/m)),
    { timeoutMs: 60_000, intervalMs: 250 },
  ).catch(() => false);
  t.true(done, "hello's build reached prod and the killed worker was replaced");
  const dash = JSON.parse(await readFile(path.join(REPO_ROOT, DASHBOARD_FILE), "utf8")) as Record<string, any>;
  const exprs = dashboardExprs(dash);
  const empty = new Set<string>();
  await eventually(
    async () => {
      empty.clear();
      for (const { where, expr } of exprs) {
        const r = await prometheus.query(grafanaToPromql(expr, "30s"));
        const title = /panel "(.*)"/.exec(where)?.[1] ?? where;
        if (r.length === 0 && !EMPTY_WHEN_HEALTHY.has(title)) empty.add(where);
      }
      return empty.size === 0;
    },
    { timeoutMs: 15_000, intervalMs: 500 },
  ).catch(() => undefined);
  t.deepEqual([...empty], [], "these dashboard queries return no series from a running Steward");
  // The loops' recording rules see the same, the healing gauges joined to the leader by the real target labels.
  for (const q of ['pool:steward_healing_budget_tokens:leader{pool="workers"}', 'service_stage_result:steward_promotion_promotions:increase1h{service="hello",stage="prod",result="passed"}']) {
    const r = await eventually(async () => {
      const v = await prometheus.query(q);
      return v.length > 0 ? v : undefined;
    }, { timeoutMs: 15_000, intervalMs: 500 }).catch(() => []);
    t.true((r ?? []).length > 0, `${q} has a series`);
  }
});

test.serial("promtool_check_metrics_finds_nothing_in_metrics", async (t) => {
  const { daemon } = world();
  const text = await (await fetch(`${daemon.url}/metrics`)).text();
  t.regex(text, /^steward_leader 1$/m);
  const r = spawnSync(PROMTOOL_BIN, ["check", "metrics"], { input: text, encoding: "utf8" });
  const problems = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() !== "" && !KNOWN_DEFAULT_METRIC_LINT.test(l));
  t.deepEqual(problems, []);
});

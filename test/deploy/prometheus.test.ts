// deploy/prometheus/: the rules pass `promtool check rules`, their unit tests
// pass `promtool test rules` (and fail when a rule is broken), every alert has
// a test that fires it and one where it stays quiet, and prometheus.yml passes
// `promtool check config` with its Consul SD blocks standing in as static
// targets (Debian's promtool has no Consul SD; see prometheus-config.ts).
import test from "ava";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { DEPLOY, PROMTOOL_BIN, assertInstalled, run } from "./fixture.js";
import { CONSUL_SD_KEYS, RULES_DIR, deployedConfig, withStaticTargets } from "./prometheus-config.js";
import { metricNames } from "./promql.js";
import { PROMETHEUS_SERIES, stewardSeries } from "./steward-metrics.js";

const TESTS_DIR = path.join(DEPLOY, "prometheus/tests");

test.before(() => {
  assertInstalled(PROMTOOL_BIN, "prometheus");
});

async function ruleFiles(): Promise<string[]> {
  return (await readdir(RULES_DIR)).filter((f) => f.endsWith(".yml")).map((f) => path.join(RULES_DIR, f));
}

async function alertNames(): Promise<string[]> {
  const names: string[] = [];
  for (const f of await ruleFiles()) {
    const doc = parseYaml(await readFile(f, "utf8")) as { groups: { rules: { alert?: string }[] }[] };
    for (const g of doc.groups) for (const r of g.rules) if (r.alert) names.push(r.alert);
  }
  return names;
}

test("rules_pass_promtool_check_rules", async (t) => {
  const r = await run(PROMTOOL_BIN, ["check", "rules", ...(await ruleFiles())]);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /SUCCESS: \d+ rules found/);
});

test("rule_unit_tests_pass_promtool_test_rules", async (t) => {
  const files = (await readdir(TESTS_DIR)).filter((f) => f.endsWith(".yml")).map((f) => path.join(TESTS_DIR, f));
  t.true(files.length > 0);
  const r = await run(PROMTOOL_BIN, ["test", "rules", ...files], { cwd: TESTS_DIR });
  t.is(r.code, 0, r.stdout + r.stderr);
});

test("every_alert_is_tested_firing_and_quiet", async (t) => {
  const fired = new Set<string>();
  const quiet = new Set<string>();
  for (const f of (await readdir(TESTS_DIR)).filter((x) => x.endsWith(".yml"))) {
    const doc = parseYaml(await readFile(path.join(TESTS_DIR, f), "utf8")) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    for (const g of doc.tests) for (const a of g.alert_rule_test ?? []) (a.exp_alerts.length ? fired : quiet).add(a.alertname);
  }
  for (const name of await alertNames()) {
    t.true(fired.has(name), `no test fires ${name}`);
    t.true(quiet.has(name), `no test shows ${name} quiet on healthy or short-lived series`);
  }
});

test("every_rule_selects_only_metrics_steward_registers_or_other_rules_record", async (t) => {
  const known = await stewardSeries();
  const rules: { where: string; expr: string; record?: string }[] = [];
  for (const f of await ruleFiles()) {
    const doc = parseYaml(await readFile(f, "utf8")) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
    for (const r of doc.groups.flatMap((g) => g.rules)) rules.push({ where: `${path.basename(f)}: ${r.alert ?? r.record ?? "?"}`, expr: r.expr, ...(r.record ? { record: r.record } : {}) });
  }
  const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
  const used = new Set<string>();
  for (const { where, expr } of rules) {
    const names = metricNames(expr);
    t.true(names.length > 0, `${where}: selects no metric`);
    for (const n of names) {
      used.add(n);
      t.true(known.has(n) || recorded.has(n) || PROMETHEUS_SERIES.has(n), `${where}: ${n} is neither a metric Steward registers nor a recorded rule`);
    }
  }
  // The loops' alerts read the loops' own metrics.
  for (const n of ["steward_promotion_promotions_total", "steward_healing_short_circuited", "steward_healing_applies_total", "steward_healing_replacements_total", "steward_healing_budget_tokens", "steward_healing_orphaned_instances", "steward_healing_lost_nodes"]) {
    t.true(used.has(n), `no rule reads ${n}`);
  }
});

test("a_misspelt_metric_in_a_rule_would_be_caught", async (t) => {
  const known = await stewardSeries();
  t.deepEqual(metricNames("pool:x:leader unless steward_healing_budget_token < 1").filter((n) => !known.has(n)), ["pool:x:leader", "steward_healing_budget_token"]);
});

test("a_broken_rule_fails_its_unit_tests", async (t) => {
  // The unit tests must be able to fail: the leader alert that never fires is caught.
  const dir = await mkdtemp(path.join(tmpdir(), "steward-rules-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(DEPLOY, "prometheus"), dir, { recursive: true });
  const rules = path.join(dir, "rules/steward.rules.yml");
  const text = await readFile(rules, "utf8");
  t.true(text.includes("expr: steward:leaders:sum < 1 or absent(steward_leader)"));
  await writeFile(rules, text.replace("expr: steward:leaders:sum < 1 or absent(steward_leader)", "expr: steward:leaders:sum < 0"));
  const r = await run(PROMTOOL_BIN, ["test", "rules", path.join(dir, "tests/steward.test.yml")], { cwd: path.join(dir, "tests") });
  t.not(r.code, 0);
  t.regex(r.stdout + r.stderr, /StewardLeaderMissing/);
});

test("prometheus_yml_scrapes_nomad_consul_and_steward_through_consul_sd", async (t) => {
  const config = await deployedConfig();
  const jobs = Object.fromEntries((config.scrape_configs as any[]).map((s) => [String(s.job_name), s]));
  for (const [job, service] of [["steward", "steward"], ["nomad", "nomad"], ["consul", "consul"]] as const) {
    const sd = jobs[job]?.consul_sd_configs as Record<string, unknown>[] | undefined;
    t.truthy(sd?.length, `${job} is found through Consul`);
    t.true(sd?.some((c) => (c.services as string[]).includes(service)), `${job} asks Consul for the ${service} service`);
  }
  // Debian's promtool cannot parse consul_sd_configs: check their keys against Prometheus's ConsulSDConfig here.
  const blocks: Record<string, unknown>[] = [];
  for (const s of [...(config.scrape_configs as any[]), ...((config.alerting?.alertmanagers ?? []) as any[])]) blocks.push(...((s.consul_sd_configs ?? []) as Record<string, unknown>[]));
  for (const b of blocks) t.deepEqual(Object.keys(b).filter((k) => !CONSUL_SD_KEYS.has(k)), [], "unknown consul_sd_config keys");
  // Steward's service tags in its job file are what the scrape job keeps.
  const keep = (jobs.steward.relabel_configs as any[]).find((r) => r.action === "keep");
  t.regex(",prometheus,urlprefix-/hooks/,", new RegExp(`^${keep.regex}$`));
  t.notRegex(",urlprefix-/hooks/,", new RegExp(`^${keep.regex}$`));
});

test("prometheus_yml_passes_promtool_check_config", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "steward-promcfg-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const token = path.join(dir, "consul-token");
  await writeFile(token, "00000000-0000-0000-0000-000000000000\n");
  const config = withStaticTargets(await deployedConfig(), [
    { service: "steward", address: "10.0.1.7:24101", node: "worker-3", tags: ["prometheus", "urlprefix-/hooks/"], meta: { metrics_path: "/metrics" } },
    { service: "nomad", address: "10.0.0.10:4646", node: "server-1", tags: ["http"] },
    { service: "nomad-client", address: "10.0.1.7:4646", node: "worker-3", tags: ["http"] },
    { service: "consul", address: "10.0.0.10:8300", node: "server-1", tags: [] },
  ], { credentialsFile: token });
  const file = path.join(dir, "prometheus.yml");
  await writeFile(file, stringify(config));
  const r = await run(PROMTOOL_BIN, ["check", "config", file]);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /SUCCESS: \d+ rule files found/);
});

test("every_runbook_link_has_its_heading_in_the_docs", async (t) => {
  const docs = await readFile(path.join(DEPLOY, "../docs/deploying.md"), "utf8");
  // GitHub's anchors: the heading lower-cased, spaces to dashes, other punctuation dropped.
  const anchors = new Set([...docs.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] ?? "").toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")));
  for (const f of await ruleFiles()) {
    const doc = parseYaml(await readFile(f, "utf8")) as { groups: { rules: { alert?: string; annotations?: { runbook?: string } }[] }[] };
    for (const r of doc.groups.flatMap((g) => g.rules).filter((x) => x.alert)) {
      const [file, anchor] = (r.annotations?.runbook ?? "").split("#");
      t.is(file, "docs/deploying.md", `${r.alert} links to the deploying docs`);
      t.true(anchors.has(anchor ?? ""), `${r.alert}: no heading for #${anchor ?? ""} in docs/deploying.md`);
    }
  }
});

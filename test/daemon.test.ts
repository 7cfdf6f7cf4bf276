import test from "ava";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import axios from "axios";
import { startSim, type Sim } from "../sim/index.js";
import { Daemon } from "../src/daemon.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { hubSignature } from "../src/sources/git-webhook.js";
import { eventually } from "./helpers/eventually.js";
import { GitRepo } from "./helpers/git-repo.js";
import { REPO_ROOT, imageOf, readJob, stewardYaml } from "./helpers/sync-fixture.js";

const SECRET = "hook-secret";
const ONE = `sha256:${"1".repeat(64)}`;

interface World {
  sim: Sim;
  repo: GitRepo;
  dirs: string[];
  daemons: Daemon[];
}

async function world(): Promise<World> {
  const sim = await startSim({ healthyAfterMs: 200 });
  const repo = await GitRepo.create();
  await repo.copyIn(path.join(REPO_ROOT, "desired-state"), "desired-state");
  await repo.write("desired-state/steward.yaml", stewardYaml(sim));
  repo.commit("initial");
  return { sim, repo, dirs: [], daemons: [] };
}

async function daemon(w: World, id: string): Promise<Daemon> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `steward-${id}-`));
  w.dirs.push(dataDir);
  process.env.STEWARD_TEST_HOOK_SECRET = SECRET;
  const d = new Daemon(
    {
      source: { git: { url: w.repo.dir, branch: "main", subdir: "desired-state", fetchIntervalMs: 60_000 } },
      consul: { address: w.sim.urls.consul },
      statePrefix: "steward",
      http: { listen: "127.0.0.1:0" },
      webhookSecret: { env: "STEWARD_TEST_HOOK_SECRET" },
      instanceId: id,
      dataDir,
    },
    {
      logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent", base: { instance: id } }),
      metrics: createMetrics({ defaultMetrics: false }),
      leader: { ttlMs: 10_000, lockDelayMs: 500, waitMs: 5_000 },
      watchWaitMs: 5_000,
    },
  );
  await d.start();
  w.daemons.push(d);
  return d;
}

async function teardown(w: World): Promise<void> {
  await Promise.all(w.daemons.map((d) => d.stop().catch(() => undefined)));
  await w.sim.close();
  await w.repo.destroy();
  await Promise.all(w.dirs.map((d) => rm(d, { recursive: true, force: true })));
}

test.serial("two_instances_one_leader_and_a_graceful_handover", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  const a = await daemon(w, "a");
  const b = await daemon(w, "b");
  await eventually(() => [a, b].filter((d) => d.elector.isLeader).length === 1, { timeoutMs: 10_000 });
  const leader = a.elector.isLeader ? a : b;
  const standby = leader === a ? b : a;
  await eventually(async () => readJob(axios.create({ baseURL: w.sim.urls.nomad.prod ?? "", validateStatus: () => true }), "web"), { timeoutMs: 10_000 });
  const status = (await axios.get(`${leader.url}/api/status`)).data;
  t.true(status.leader.self);
  // The leader's resync read both environments' jobs lists; a standby runs none.
  await eventually(async () => Object.keys((await axios.get(`${leader.url}/api/status`)).data.resync.lastCheckedByEnv).sort().join() === "prod,qa", { timeoutMs: 10_000 });
  t.deepEqual((await axios.get(`${standby.url}/api/status`)).data.resync, { lastCheckedByEnv: {} });
  t.is((await axios.get(`${standby.url}/api/status`)).data.leader.id, leader.config.instanceId, "the standby knows who leads");
  await eventually(async () => (await axios.get(`${standby.url}/readyz`, { validateStatus: () => true })).status === 200, { timeoutMs: 10_000 });
  // Every instance lists both, the leader first, each with the address it answers at.
  const instances = async (d: typeof a): Promise<Array<{ id: string; address: string; leading: boolean }>> => (await axios.get<{ instances: Array<{ id: string; address: string; leading: boolean }> }>(`${d.url}/api/status`)).data.instances;
  await eventually(async () => (await instances(standby)).length === 2, { timeoutMs: 10_000 });
  t.deepEqual((await instances(standby)).map((i) => [i.id, i.address, i.leading]), [
    [leader.config.instanceId, leader.url, true],
    [standby.config.instanceId, standby.url, false],
  ]);

  // Sample both instances while the leader hands over: never two leaders at once.
  let both = false;
  const sampler = setInterval(() => {
    if (a.elector.isLeader && b.elector.isLeader) both = true;
  }, 2);
  const started = Date.now();
  await leader.stop();
  await eventually(() => standby.elector.isLeader, { timeoutMs: 10_000 });
  clearInterval(sampler);
  t.false(both, "two instances led at the same time");
  // The stopped instance destroyed its presence session first: it leaves the list within a blocking-query round trip.
  await eventually(async () => (await instances(standby)).map((i) => i.id).join() === standby.config.instanceId, { timeoutMs: 2_000 });
  t.true(Date.now() - started < 5_000, "a graceful handover takes about the lock-delay");

  // The new leader acts: a commit reaches Nomad.
  const svc = path.join(w.repo.dir, "desired-state/services/web/service.yaml");
  const text = (await import("node:fs/promises")).readFile(svc, "utf8");
  await w.repo.write("desired-state/services/web/service.yaml", (await text).replace(/sha256:0{64}/, ONE));
  const body = Buffer.from(JSON.stringify({ ref: "refs/heads/main" }));
  w.repo.commit("web: new image");
  const hook = await axios.post(`${standby.url}/hooks/git`, body, { headers: { "Content-Type": "application/json", "X-Hub-Signature-256": hubSignature(SECRET, body) } });
  t.is(hook.status, 202);
  const nomad = axios.create({ baseURL: w.sim.urls.nomad.qa ?? "", validateStatus: () => true });
  await eventually(async () => imageOf(await readJob(nomad, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 10_000 });
});

test.serial("forged_webhook_is_rejected_and_changes_nothing", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  const d = await daemon(w, "solo");
  await eventually(() => d.elector.isLeader && d.sync.revision.good !== undefined, { timeoutMs: 10_000 });
  const before = d.sync.revision.good?.revision;
  w.repo.commit("a new commit nobody announced");
  const body = Buffer.from("{}");
  const forged = await axios.post(`${d.url}/hooks/git`, body, { headers: { "X-Hub-Signature-256": hubSignature("wrong", body) }, validateStatus: () => true });
  t.is(forged.status, 401);
  const missing = await axios.post(`${d.url}/hooks/git`, body, { validateStatus: () => true });
  t.is(missing.status, 401);
  await new Promise((r) => setTimeout(r, 300));
  t.is(d.sync.revision.good?.revision, before, "no fetch happened");
  const metrics = (await axios.get(`${d.url}/metrics`)).data as string;
  t.regex(metrics, /steward_leader 1/);
  t.regex(metrics, /steward_sync_jobs\{env="qa",state="in_sync"\} \d/);
});

test.serial("pause_from_the_cli_holds_changes_and_resume_applies_them", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  const d = await daemon(w, "solo");
  const qa = axios.create({ baseURL: w.sim.urls.nomad.qa ?? "", validateStatus: () => true });
  await eventually(async () => readJob(qa, "web"), { timeoutMs: 10_000 });
  const { controlCommand } = await import("../src/cli/controls.js");
  process.env.CONSUL_HTTP_ADDR = w.sim.urls.consul;
  t.teardown(() => {
    delete process.env.CONSUL_HTTP_ADDR;
  });
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  t.is(await controlCommand("pause", { service: "web", reason: "incident 42" }, sink), 0);
  await eventually(() => d.sync.cache.paused.services.has("web"), { timeoutMs: 5_000 });

  const svc = path.join(w.repo.dir, "desired-state/services/web/service.yaml");
  const fs = await import("node:fs/promises");
  await w.repo.write("desired-state/services/web/service.yaml", (await fs.readFile(svc, "utf8")).replace(/sha256:0{64}/, ONE));
  w.repo.commit("web: new image while paused");
  const body = Buffer.from("{}");
  await axios.post(`${d.url}/hooks/git`, body, { headers: { "X-Hub-Signature-256": hubSignature(SECRET, body) } });
  await eventually(() => d.sync.statuses().find((s) => s.key === "qa/web")?.lastAction?.reason === "Paused", { timeoutMs: 10_000 });
  t.not(imageOf(await readJob(qa, "web")), `127.0.0.1:5000/web@${ONE}`, "a paused service is not changed");
  const status = (await axios.get(`${d.url}/api/status`)).data;
  t.deepEqual(status.controls.pausedServices, ["web"]);

  t.is(await controlCommand("resume", { service: "web" }, sink), 0);
  await eventually(async () => imageOf(await readJob(qa, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 10_000 });
});

test.serial("desired_state_from_a_consul_kv_prefix_and_metrics_pass_promtool", async (t) => {
  const sim = await startSim({ healthyAfterMs: 200 });
  const dataDir = await mkdtemp(path.join(tmpdir(), "steward-kv-"));
  const { ConsulClient } = await import("../src/sources/consul.js");
  const consul = new ConsulClient({ address: sim.urls.consul });
  const fs = await import("node:fs/promises");
  const tree = path.join(REPO_ROOT, "desired-state");
  for (const file of (await fs.readdir(tree, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
    const rel = path.relative(tree, path.join(file.parentPath, file.name));
    const text = rel === "steward.yaml" ? stewardYaml(sim) : await fs.readFile(path.join(tree, rel), "utf8");
    await consul.kvPut(`config/desired-state/${rel}`, text);
  }
  const d = new Daemon(
    { source: { consul: { prefix: "config/desired-state/" } }, consul: { address: sim.urls.consul }, statePrefix: "steward", http: { listen: "127.0.0.1:0" }, instanceId: "kv", dataDir },
    { logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" }), metrics: createMetrics({ defaultMetrics: false }), leader: { ttlMs: 10_000, lockDelayMs: 500, waitMs: 5_000 }, watchWaitMs: 5_000 },
  );
  await d.start();
  t.teardown(async () => {
    await d.stop();
    await sim.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const prod = axios.create({ baseURL: sim.urls.nomad.prod ?? "", validateStatus: () => true });
  await eventually(async () => readJob(prod, "api"), { timeoutMs: 10_000 });
  t.regex(d.sync.revision.good?.revision ?? "", /^consul:\d+$/);

  // A change under the prefix is a new revision, picked up by the blocking query.
  const web = await fs.readFile(path.join(tree, "services/web/service.yaml"), "utf8");
  await consul.kvPut("config/desired-state/services/web/service.yaml", web.replace(/sha256:0{64}/, ONE));
  await eventually(async () => imageOf(await readJob(prod, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 10_000 });

  const { spawnSync } = await import("node:child_process");
  const exposition = (await axios.get(`${d.url}/metrics`)).data as string;
  const check = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" });
  t.falsy(check.error, "promtool must be installed (bash scripts/setup.sh)");
  t.is(check.status, 0, `${check.stdout}${check.stderr}`);
  t.regex(exposition, /steward_desired_state_info\{revision="consul:\d+"\} 1/);
  t.regex(exposition, /steward_api_requests_total\{target="nomad",code="200"\} \d+/);
});

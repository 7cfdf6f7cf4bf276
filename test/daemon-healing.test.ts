// The daemon with config.healing: the example desired state's pool (workers
// in prod) is healed by the leader only, and /api/status shows it. Terraform
// is the test's fake (machines replaced in the sim World); the rest is the
// daemon's own wiring.
import test from "ava";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import axios from "axios";
import { startSim } from "../sim/index.js";
import { Daemon } from "../src/daemon.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { eventually } from "./helpers/eventually.js";
import { GitRepo } from "./helpers/git-repo.js";
import { CountingBudget, FakeTerraform, addressOf } from "./helpers/healing-fixture.js";
import { REPO_ROOT, stewardYaml } from "./helpers/sync-fixture.js";

test("the_leader_heals_the_example_pool_and_reports_it_in_api_status", async (t) => {
  // Real time: the leader lock's session TTL runs on sim's clock, so a faster sim would expire it.
  const sim = await startSim({ healthyAfterMs: 200 });
  const repo = await GitRepo.create();
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  t.teardown(async () => {
    for (const d of daemons) await d.stop();
    await sim.close();
    await repo.destroy();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  await repo.copyIn(path.join(REPO_ROOT, "desired-state"), "desired-state");
  await repo.write("desired-state/steward.yaml", stewardYaml(sim));
  // The example pool, lost after 2 s instead of 5 min (detection still waits for Nomad's 10 s heartbeat TTL).
  await repo.write("desired-state/pools/workers.yaml", "env: prod\nrole: worker\nselect:\n  meta:\n    steward_pool: workers\nterraform:\n  dir: terraform/examples/aws-cluster\n  address: 'module.workers.aws_instance.worker[\"${meta.terraform_key}\"]'\nhealth:\n  unhealthyAfter: 2s\n");
  repo.commit("initial");
  const tf = new FakeTerraform(sim);
  tf.boot(["a", "b", "c"]);
  const start = async (id: string): Promise<Daemon> => {
    const dataDir = await mkdtemp(path.join(tmpdir(), `steward-${id}-`));
    dirs.push(dataDir);
    const d = new Daemon(
      {
        source: { git: { url: repo.dir, branch: "main", subdir: "desired-state", fetchIntervalMs: 60_000 } },
        consul: { address: sim.urls.consul },
        statePrefix: "steward",
        http: { listen: "127.0.0.1:0" },
        instanceId: id,
        dataDir,
        healing: { terraformRoot: dataDir },
      },
      {
        logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent", base: { instance: id } }),
        metrics: createMetrics({ defaultMetrics: false }),
        leader: { ttlMs: 10_000, lockDelayMs: 500, waitMs: 5_000 },
        watchWaitMs: 5_000,
        healing: { terraform: tf, budget: new CountingBudget(5), watchWaitMs: 2_000 },
      },
    );
    await d.start();
    daemons.push(d);
    return d;
  };
  const a = await start("steward-a");
  const b = await start("steward-b");
  const leader = (await eventually(() => [a, b].find((d) => d.elector.isLeader), { timeoutMs: 10_000 })) as Daemon;
  const standby = leader === a ? b : a;
  await eventually(() => leader.healing?.poolStatuses()[0]?.summary.members === 3, { timeoutMs: 15_000 });

  sim.world.kill(sim.world.list("prod").find((m) => m.meta.terraform_key === "b")?.id ?? "");
  await eventually(() => leader.healing?.poolStatuses()[0]?.incidents.some((i) => i.step === "done") === true, { timeoutMs: 40_000 });
  t.deepEqual(tf.applies.map((x) => x.replace), [[addressOf("b")]], "one apply, by the leader");
  t.false(standby.healing?.leading, "the standby only watches");
  t.deepEqual(standby.healing?.poolStatuses(), []);

  const status = (await axios.get<{ healing?: { pools: Array<{ pool: string; summary: { members: number }; incidents: Array<{ step: string }> }> } }>(`${leader.url}/api/status`)).data;
  t.like(status.healing?.pools[0], { pool: "workers", summary: { members: 3 } });
  t.is(status.healing?.pools[0]?.incidents[0]?.step, "done");
  const metrics = (await axios.get<string>(`${leader.url}/metrics`)).data;
  t.regex(metrics, /steward_healing_replacements_total\{pool="workers",result="succeeded"\} 1/);
  t.regex(metrics, /steward_actions_total\{loop="healing",kind="apply",result="changed"\} 1/);
});

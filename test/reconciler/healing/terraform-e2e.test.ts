// The healing loop end to end with the real terraform and the real
// hashicorp/aws provider against sim's EC2: the project's worker-pool example
// is applied, a worker dies, Steward replaces it. Slow by nature (each
// terraform command starts the provider): few tests, each in its own working
// directory so they run in parallel.
import type { ExecutionContext } from "ava";
import { startSim, type Sim } from "../../../sim/index.js";
import { TerraformRunner } from "../../../src/actuators/terraform.js";
import { ApplyBudget } from "../../../src/reconciler/healing/budget.js";
import { HealingLoop, type HealingTerraform } from "../../../src/reconciler/healing/loop.js";
import { NomadNodesReader } from "../../../src/sources/nomad-nodes.js";
import { NomadNodesActuator } from "../../../src/actuators/nomad-nodes.js";
import { ConsulHealthReader } from "../../../src/sources/consul-health.js";
import { ConsulCatalogActuator } from "../../../src/actuators/consul-catalog.js";
import { HealingJournalStore } from "../../../src/actuators/healing-journal.js";
import { ConsulKvWriter } from "../../../src/actuators/consul-kv.js";
import { ConsulClient } from "../../../src/sources/consul.js";
import { HttpClient } from "../../../src/sources/http-client.js";
import { Ec2Reader, ec2OptionsFromEnv } from "../../../src/sources/ec2.js";
import { createLogger } from "../../../src/log.js";
import { eventually } from "../../helpers/eventually.js";
import { addressOf, desiredFor, workerPool } from "../../helpers/healing-fixture.js";
import { describeRun, runTerraform, terraformWorkdir, type TerraformWorkdir } from "../../helpers/terraform.js";
import { terraformTest } from "../../helpers/terraform-test.js";

const test = terraformTest();

interface E2E {
  sim: Sim;
  w: TerraformWorkdir;
  loop: HealingLoop;
  applies: Array<readonly string[]>;
}

/** sim (600x) + a copy of terraform/ with examples/worker-pool applied for `keys` + a healing loop on the real runner. */
async function setup(t: ExecutionContext, keys: string[]): Promise<E2E> {
  const sim = await startSim({ clusters: [{ name: "prod", nodes: 0 }], timeScale: 600, ec2: { bootDelayMs: 30_000, terminateDelayMs: 30_000, terminatedVisibleMs: 1e12 } });
  const w = terraformWorkdir({
    module: "examples/worker-pool",
    ec2Url: sim.urls.ec2,
    vars: { ami: "ami-0123456789abcdef0", subnet_id: "subnet-0123456789abcdef0", workers: Object.fromEntries(keys.map((k) => [k, {}])) },
  });
  const consul = new ConsulClient({ address: sim.urls.consul });
  t.teardown(async () => {
    await loop.stop();
    consul.close();
    await sim.close();
    w.cleanup();
  });
  for (const args of [["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-json", "-input=false"]]) {
    const r = await runTerraform(w, args);
    if (r.code !== 0) throw new Error(describeRun(r));
  }
  const runner = new TerraformRunner({ env: Object.fromEntries(Object.entries(w.env).filter((e): e is [string, string] => e[1] !== undefined)) });
  const applies: Array<readonly string[]> = [];
  const terraform: HealingTerraform = {
    isBusy: (dir) => runner.isBusy(dir),
    state: (dir, ws) => runner.state(dir, ws),
    apply: (req) => {
      applies.push(req.replace ?? []);
      return runner.apply(req);
    },
  };
  const http = (target: string, baseURL: string): HttpClient => new HttpClient({ target, baseURL, retry: { baseMs: 20, capMs: 200 } });
  const consulHttp = http("consul", sim.urls.consul);
  const loop = new HealingLoop({
    nomad: (env) => {
      const h = http("nomad", env.nomad.address);
      return { reader: new NomadNodesReader(env.name, h), actuator: new NomadNodesActuator(env.name, h) };
    },
    consul: { reader: new ConsulHealthReader(consulHttp), catalog: new ConsulCatalogActuator(consulHttp) },
    terraform,
    instances: new Ec2Reader(ec2OptionsFromEnv(w.env) ?? { accessKeyId: "test", secretAccessKey: "test", endpoint: sim.urls.ec2 }),
    budget: new ApplyBudget({ perDir: 2, global: 6, windowMs: 60 * 60_000 }),
    journal: new HealingJournalStore(consul, new ConsulKvWriter(consul)),
    terraformRoot: w.root,
    // Real-time terraform under a 600x sim clock: the apply deadline and state age are in sim ms.
    applyTimeoutMs: 24 * 3_600_000,
    stateMaxAgeMs: 24 * 3_600_000,
    bootTimeoutMs: 24 * 3_600_000,
    logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" }),
    clock: sim.clock,
    watchWaitMs: 2_000,
  });
  // unhealthyAfter 30 min sim (3 s real): kills seen a little apart on a loaded machine still count together.
  loop.setDesired(desiredFor(sim, [workerPool({ health: { unhealthyAfterMs: 30 * 60_000, flapping: { count: 3, windowMs: 60 * 60_000, replace: false } }, terraform: { dir: "terraform/examples/worker-pool", workspace: "default", address: 'module.workers.aws_instance.worker["${meta.terraform_key}"]' } })]));
  await eventually(() => sim.world.list("prod").filter((m) => m.state === "up").length === keys.length, { timeoutMs: 30_000 });
  return { sim, w, loop, applies };
}

test("a_killed_worker_is_replaced_by_one_apply_with_its_replace_address", async (t) => {
  t.timeout(4 * 60_000);
  const e = await setup(t, ["a", "b", "c"]);
  await e.loop.lead();
  const old = e.sim.world.get("workers-b");
  const oldInstance = old?.instanceId ?? "";
  e.sim.ec2.resetCalls();
  e.sim.world.kill(old?.id ?? "");
  await eventually(() => e.loop.poolStatuses()[0]?.incidents[0]?.step === "done", { timeoutMs: 150_000 }).catch((err: unknown) => {
    t.log(JSON.stringify(e.loop.poolStatuses(), null, 1));
    throw err;
  });
  t.deepEqual(e.applies, [[addressOf("b")]], "exactly one apply, -replace of worker b");
  t.is(e.sim.ec2.callCounts().RunInstances, 1, "one instance launched");
  const running = e.sim.ec2.instances().filter((i) => i.state === "running");
  t.is(running.length, 3);
  t.false(running.some((i) => i.instanceId === oldInstance), "the old instance is gone");
  const nodes = (await (await fetch(`${e.sim.urls.nomad.prod}/v1/nodes`)).json()) as Array<{ ID: string; Name: string; Status: string }>;
  t.deepEqual(nodes.map((n) => `${n.Name} ${n.Status}`).sort(), ["workers-a ready", "workers-b ready", "workers-c ready"], "the old node purged, one new ready node");
  t.false(nodes.some((n) => n.ID === old?.id));
});

test("three_of_five_killed_short_circuit_and_nothing_is_applied", async (t) => {
  t.timeout(4 * 60_000);
  const e = await setup(t, ["a", "b", "c", "d", "e"]);
  await e.loop.lead();
  e.sim.ec2.resetCalls();
  for (const k of ["a", "b", "c"]) e.sim.world.kill(`workers-${k}`);
  await eventually(() => e.loop.poolStatuses()[0]?.summary.lost === 3 && e.loop.poolStatuses()[0]?.actions.some((a) => a.reason === "ShortCircuit"), { timeoutMs: 30_000 });
  await e.sim.clock.sleep(30 * 60_000);
  t.deepEqual(e.applies, []);
  t.is(e.sim.ec2.callCounts().RunInstances, undefined, "no instance launched");
});

test("an_instance_terminated_behind_stewards_back_is_recreated_by_a_plain_apply", async (t) => {
  t.timeout(4 * 60_000);
  const e = await setup(t, ["a", "b", "c"]);
  await e.loop.lead();
  const old = e.sim.world.get("workers-c");
  e.sim.ec2.resetCalls();
  e.sim.ec2.killInstanceUnderNode(old?.instanceId ?? "");
  await eventually(() => e.loop.poolStatuses()[0]?.incidents[0]?.step === "done", { timeoutMs: 150_000 }).catch((err: unknown) => {
    t.log(JSON.stringify(e.loop.poolStatuses(), null, 1));
    throw err;
  });
  t.deepEqual(e.applies, [[]], "one plain apply, no -replace");
  t.is(e.sim.ec2.callCounts().RunInstances, 1, "one instance launched");
  t.is(e.sim.ec2.callCounts().TerminateInstances, undefined, "nothing to terminate");
  t.like(e.sim.world.get("workers-c"), { state: "up" });
  t.not(e.sim.world.get("workers-c")?.id, old?.id);
  t.regex(e.loop.poolStatuses()[0]?.incidents[0]?.address ?? "", /worker\["c"\]/);
});

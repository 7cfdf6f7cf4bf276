// The healing loop end to end with the real terraform and the real
// hashicorp/aws provider against sim's EC2: the project's worker-pool example
// is applied, a worker dies, Steward replaces it. Slow by nature (each
// terraform command starts the provider): few tests, each in its own working
// directory so they run in parallel.
import type { ExecutionContext } from "ava";
import { eventually } from "../../helpers/eventually.js";
import { addressOf } from "../../helpers/healing-fixture.js";
import { startHealingWorld, type HealingWorld } from "../../helpers/healing-terraform.js";
import { terraformTest } from "../../helpers/terraform-test.js";

const test = terraformTest();

async function setup(t: ExecutionContext, keys: string[]): Promise<HealingWorld> {
  const world = await startHealingWorld(keys);
  t.teardown(() => world.close());
  return world;
}

test("a_killed_worker_is_replaced_by_one_apply_with_its_replace_address", async (t) => {
  t.timeout(4 * 60_000);
  const e = await setup(t, ["a", "b", "c"]);
  await e.loop.lead();
  const old = e.sim.world.get("workers-b");
  const oldInstance = old?.instanceId ?? "";
  e.sim.ec2.resetCalls();
  e.sim.world.kill(old?.id ?? "");
  // The status carries the apply's Terraform lines while the replacement is in flight.
  const lines = new Set<string>();
  await eventually(
    () => {
      const i = e.loop.poolStatuses()[0]?.incidents[0];
      for (const l of i?.progress ?? []) lines.add(l.message);
      return i?.step === "done";
    },
    { timeoutMs: 150_000 },
  ).catch((err: unknown) => {
    t.log(JSON.stringify(e.loop.poolStatuses(), null, 1));
    throw err;
  });
  t.deepEqual(e.applies, [[addressOf("b")]], "exactly one apply, -replace of worker b");
  const said = [...lines];
  t.true(said.includes(`${addressOf("b")}: Creating...`), said.join("\n"));
  t.true(said.some((l) => l.startsWith(`${addressOf("b")}: Creation complete after `) && l.includes("[id=i-")), said.join("\n"));
  t.is(e.sim.ec2.callCounts().RunInstances, 1, "one instance launched");
  const running = e.sim.ec2.instances().filter((i) => i.state === "running");
  t.is(running.length, 3);
  t.false(running.some((i) => i.instanceId === oldInstance), "the old instance is gone");
  const nodes = (await (await fetch(`${e.sim.urls.nomad.prod}/v1/nodes`)).json()) as Array<{ ID: string; Name: string; Status: string }>;
  t.deepEqual(nodes.map((n) => `${n.Name} ${n.Status}`).sort(), ["workers-a ready", "workers-b ready", "workers-c ready"], "the old node purged, one new ready node");
  t.false(nodes.some((n) => n.ID === old?.id));
  const serf = (await (await fetch(`${e.sim.urls.consul}/v1/health/node/workers-b`)).json()) as Array<{ CheckID: string; Status: string }>;
  t.like(serf.find((c) => c.CheckID === "serfHealth"), { Status: "passing" }, "the new node of the same name stays in Consul");
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

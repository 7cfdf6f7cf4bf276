// The healing loop against sim's Nomad and Consul with a fake Terraform that
// replaces machines in the sim World as the real provider would. Time: a sim
// Clock at 600x, so a 5 min unhealthyAfter is half a real second.
import test from "ava";
import { ConsulKvWriter } from "../../../src/actuators/consul-kv.js";
import { addSecret } from "../../../src/log.js";
import { ControlsSource } from "../../../src/sources/controls.js";
import { eventually } from "../../helpers/eventually.js";
import { CountingBudget, FakeTerraform, addressOf, desiredFor, healingFixture, workerPool } from "../../helpers/healing-fixture.js";

const KEYS = ["a", "b", "c", "d", "e"];

async function readyNodes(sim: Awaited<ReturnType<typeof healingFixture>>["sim"]): Promise<string[]> {
  const res = await fetch(`${sim.urls.nomad.prod}/v1/nodes`);
  const nodes = (await res.json()) as Array<{ Name: string; Status: string }>;
  return nodes.filter((n) => n.Status === "ready").map((n) => n.Name).sort();
}

test("a_killed_worker_is_replaced_once_after_unhealthy_after_and_purged", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(KEYS);
  const loop = f.newLoop({ terraform: tf });
  loop.setDesired(desiredFor(f.sim, [workerPool()]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  const victim = f.sim.world.list("prod").find((m) => m.meta.terraform_key === "b");
  const killedAt = f.sim.clock.now();
  f.sim.world.kill(victim?.id ?? "");

  await eventually(() => loop.poolStatuses()[0]?.incidents.some((i) => i.step === "done") === true, { timeoutMs: 15_000 });
  t.deepEqual(tf.applies.map((a) => a.replace), [[addressOf("b")]], "exactly one apply, with -replace of worker b");
  const incident = loop.poolStatuses()[0]?.incidents[0];
  t.true((incident?.applyStartedAt ?? 0) - killedAt >= 5 * 60_000, "not before unhealthyAfter");
  const res = await fetch(`${f.sim.urls.nomad.prod}/v1/node/${victim?.id}`);
  t.is(res.status, 404, "the old node is purged from Nomad");
  const catalog = await fetch(`${f.sim.urls.consul}/v1/catalog/node/${victim?.name}`);
  t.is(await catalog.text(), "null", "and deregistered from Consul's catalog");
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  const metrics = await f.metrics.registry.getSingleMetricAsString("steward_healing_replacements_total");
  t.regex(metrics, /result="succeeded"} 1/);
});

test("a_node_back_before_the_timeout_is_untouched", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(KEYS);
  const loop = f.newLoop({ terraform: tf });
  loop.setDesired(desiredFor(f.sim, [workerPool({ health: { unhealthyAfterMs: 30 * 60_000, flapping: { count: 3, windowMs: 60 * 60_000, replace: false } } })]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  const victim = f.sim.world.list("prod").find((m) => m.meta.terraform_key === "c");
  f.sim.world.kill(victim?.id ?? "");
  await eventually(() => loop.poolStatuses()[0]?.actions.some((a) => a.reason === "Unhealthy") === true, { timeoutMs: 5_000 });
  f.sim.world.revive(victim?.id ?? "");
  await eventually(() => loop.poolStatuses()[0]?.actions.every((a) => a.reason === "Healthy") === true, { timeoutMs: 5_000 });
  await f.sim.clock.sleep(40 * 60_000);
  t.deepEqual(tf.applies, [], "no apply");
  t.is(loop.poolStatuses()[0]?.incidents.length, 0);
});

test("three_of_five_lost_short_circuits_without_an_apply", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(KEYS);
  const loop = f.newLoop({ terraform: tf });
  // 30 min (3 s real): the three kills are seen within it even on a loaded machine, as on a real one within 5 min.
  loop.setDesired(desiredFor(f.sim, [workerPool({ health: { unhealthyAfterMs: 30 * 60_000, flapping: { count: 3, windowMs: 60 * 60_000, replace: false } } })]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  for (const m of f.sim.world.list("prod").filter((x) => ["a", "b", "c"].includes(x.meta.terraform_key ?? ""))) f.sim.world.kill(m.id);
  await eventually(() => loop.poolStatuses()[0]?.actions.some((a) => a.reason === "ShortCircuit") === true, { timeoutMs: 15_000 });
  await eventually(() => loop.poolStatuses()[0]?.summary.lost === 3, { timeoutMs: 15_000 });
  const st = loop.poolStatuses()[0];
  t.true(st?.summary.shortCircuited);
  t.is(st?.summary.lost, 3);
  t.deepEqual(tf.applies, [], "no apply");
  t.regex(await f.metrics.registry.getSingleMetricAsString("steward_healing_short_circuited"), /pool="workers"} 1/);
});

test("a_storm_of_ten_losses_is_batched_within_a_budget_of_two", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const keys = Array.from({ length: 30 }, (_, i) => `w${i}`);
  const tf = new FakeTerraform(f.sim);
  tf.boot(keys);
  const budget = new CountingBudget(2);
  const loop = f.newLoop({ terraform: tf, budget });
  loop.setDesired(desiredFor(f.sim, [workerPool({ budgets: { maxUnhealthy: { percent: 40 }, maxConcurrent: 5, cooldownMs: 0 } })]));
  await loop.whenSynced();
  await eventually(async () => (await readyNodes(f.sim)).length === 30, { timeoutMs: 10_000 });
  // The storm happens while this instance stands by (its watches see it); it leads once all ten are lost.
  for (const m of f.sim.world.list("prod").slice(0, 10)) f.sim.world.kill(m.id);
  await eventually(() => loop.cache.poolNodes(workerPool()).nodes.filter((n) => n.unhealthySince !== undefined).length === 10, { timeoutMs: 10_000 });
  await f.sim.clock.sleep(6 * 60_000);
  await loop.lead();
  await eventually(() => (loop.poolStatuses()[0]?.incidents.filter((i) => i.step === "done").length ?? 0) === 10, { timeoutMs: 20_000 }).catch((err: unknown) => {
    t.log(JSON.stringify({ applies: tf.applies, status: loop.poolStatuses() }, null, 1));
    throw err;
  });
  t.deepEqual(tf.applies.map((a) => a.replace.length), [5, 5], "two applies of five -replace each (maxConcurrent 5)");
  t.is(new Set(tf.applies.flatMap((a) => a.replace)).size, 10, "each lost worker replaced once");
  t.is(budget.taken, 2);
});

test("a_storm_beyond_the_budget_holds_the_rest_and_says_so", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const keys = Array.from({ length: 30 }, (_, i) => `w${i}`);
  const tf = new FakeTerraform(f.sim);
  tf.boot(keys);
  const budget = new CountingBudget(2);
  const loop = f.newLoop({ terraform: tf, budget });
  loop.setDesired(desiredFor(f.sim, [workerPool({ budgets: { maxUnhealthy: { percent: 40 }, maxConcurrent: 10, cooldownMs: 0 } })]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 30, { timeoutMs: 10_000 });
  // Ten killed at once are seen lost in one pass or a few: each pass batches what is lost by then
  // into one apply, until the budget of two is spent; the rest are held and say why.
  for (const m of f.sim.world.list("prod").slice(0, 10)) f.sim.world.kill(m.id);
  const replacedCount = (): number => tf.applies.flatMap((a) => a.replace).length;
  const heldForBudget = (): boolean => loop.poolStatuses()[0]?.actions.some((a) => a.reason === "BudgetExhausted") === true;
  await eventually(() => tf.busy === 0 && tf.applies.length >= 1 && (replacedCount() === 10 || heldForBudget()), { timeoutMs: 30_000 });
  await f.sim.clock.sleep(20 * 60_000);
  t.true(tf.applies.length <= 2, `at most two applies, got ${tf.applies.length}`);
  t.true(replacedCount() > tf.applies.length, `losses batched: ${JSON.stringify(tf.applies.map((a) => a.replace))}`);
  t.is(new Set(tf.applies.flatMap((a) => a.replace)).size, tf.applies.flatMap((a) => a.replace).length, "no worker replaced twice");
  const st = loop.poolStatuses()[0];
  const replaced = tf.applies.flatMap((a) => a.replace).length;
  t.true(replaced === 10 || st?.actions.some((a) => a.reason === "BudgetExhausted") === true, `the ${10 - replaced} not replaced are held with BudgetExhausted: ${JSON.stringify(st?.actions)}`);
});

test("budget_spent_holds_the_rest_and_says_so", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(KEYS);
  const loop = f.newLoop({ terraform: tf, budget: new CountingBudget(0) });
  loop.setDesired(desiredFor(f.sim, [workerPool()]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  f.sim.world.kill(f.sim.world.list("prod")[0]?.id ?? "");
  await eventually(() => loop.poolStatuses()[0]?.actions.some((a) => a.reason === "BudgetExhausted") === true, { timeoutMs: 5_000 });
  t.deepEqual(tf.applies, []);
  t.is(loop.poolStatuses()[0]?.budgetTokens, 0, "the status says the budget is spent");
});

test("a_failed_apply_backs_off_with_the_diagnostic_in_status_then_succeeds", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(KEYS);
  tf.failNext = "creating EC2 Instance: InsufficientInstanceCapacity: We currently do not have sufficient capacity";
  const loop = f.newLoop({ terraform: tf, applyBackoff: { baseMs: 60_000, capMs: 60_000 } });
  loop.setDesired(desiredFor(f.sim, [workerPool()]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  f.sim.world.kill(f.sim.world.list("prod")[0]?.id ?? "");
  await eventually(() => loop.poolStatuses()[0]?.incidents[0]?.lastError?.includes("InsufficientInstanceCapacity") === true, { timeoutMs: 10_000 });
  await eventually(() => loop.poolStatuses()[0]?.incidents[0]?.step === "done", { timeoutMs: 15_000 });
  t.is(tf.applies.length, 2, "one failed apply, one retry");
});

test("a_new_leader_does_not_apply_again_for_an_apply_in_flight", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim, 3_000);
  tf.boot(KEYS);
  const first = f.newLoop({ terraform: tf });
  first.setDesired(desiredFor(f.sim, [workerPool()]));
  await first.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  f.sim.world.kill(f.sim.world.list("prod")[1]?.id ?? "");
  await eventually(() => tf.busy === 1, { timeoutMs: 10_000 });
  // The first leader dies: it never records the apply's end (its apply runs on, as an orphaned terraform would).
  void first.stop();
  const secondTf = Object.assign(Object.create(tf) as FakeTerraform, { applies: [] as FakeTerraform["applies"] });
  secondTf.apply = async (req) => {
    secondTf.applies.push({ dir: req.dir, replace: [...(req.replace ?? [])] });
    return tf.apply(req);
  };
  // The apply deadline the runner would enforce (4 h sim = 24 s real): until then the second leader waits.
  const second = f.newLoop({ terraform: secondTf, applyTimeoutMs: 4 * 3_600_000 });
  second.setDesired(desiredFor(f.sim, [workerPool()]));
  await second.lead();
  await eventually(() => second.poolStatuses()[0]?.incidents[0]?.step === "done", { timeoutMs: 20_000 }).catch((err: unknown) => {
    t.log(JSON.stringify(second.poolStatuses(), null, 1));
    throw err;
  });
  t.deepEqual(secondTf.applies, [], "the second leader never applied");
  t.is(tf.applies.length, 1, "one apply in all");
});

const serverPool = (maxUnhealthy: number): ReturnType<typeof workerPool> =>
  workerPool({ name: "servers", role: "server", select: { meta: { steward_pool: "servers" } }, budgets: { maxUnhealthy: { count: maxUnhealthy }, maxConcurrent: 1, cooldownMs: 0 } });

test("a_lost_server_is_replaced_while_the_others_keep_quorum", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(["s1", "s2", "s3"], "server");
  const loop = f.newLoop({ terraform: tf });
  loop.setDesired(desiredFor(f.sim, [serverPool(1)]));
  await loop.lead();
  await eventually(() => loop.poolStatuses()[0]?.summary.members === 3 && loop.poolStatuses()[0]?.actions.some((a) => a.reason === "Healthy"), { timeoutMs: 10_000 });
  f.sim.world.kill(f.sim.world.list("prod").find((m) => m.meta.terraform_key === "s2")?.id ?? "");
  await eventually(() => loop.poolStatuses()[0]?.incidents.some((i) => i.step === "done") === true, { timeoutMs: 15_000 }).catch((err: unknown) => {
    t.log(JSON.stringify(loop.poolStatuses(), null, 1));
    throw err;
  });
  t.deepEqual(tf.applies.map((a) => a.replace), [[addressOf("s2")]], "one apply for the lost server");
});

test("two_lost_servers_of_three_are_not_replaced_without_quorum", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(["s1", "s2", "s3"], "server");
  const loop = f.newLoop({ terraform: tf });
  loop.setDesired(desiredFor(f.sim, [serverPool(2)]));
  await loop.lead();
  await eventually(() => loop.poolStatuses()[0]?.summary.members === 3 && loop.poolStatuses()[0]?.actions.some((a) => a.reason === "Healthy"), { timeoutMs: 10_000 });
  for (const k of ["s1", "s2"]) f.sim.world.kill(f.sim.world.list("prod").find((m) => m.meta.terraform_key === k)?.id ?? "");
  const refusal = await eventually(() => loop.poolStatuses()[0]?.summary.lost === 2 && loop.poolStatuses()[0]?.actions.find((a) => a.reason === "QuorumAtRisk" || a.reason === "QuorumUnknown"), { timeoutMs: 15_000 }).catch((err: unknown) => {
    t.log(JSON.stringify(loop.poolStatuses(), null, 1));
    throw err;
  });
  t.truthy(refusal);
  await f.sim.clock.sleep(30 * 60_000);
  t.deepEqual(tf.applies, [], "no apply without quorum");
});

/** The controls as the daemon wires them for healing: a watch of `steward/control/` feeding the loop's acknowledgements, and the writer that deletes a spent one. */
function controlsFor(f: Awaited<ReturnType<typeof healingFixture>>, loop: ReturnType<typeof f.newLoop>): { writer: ConsulKvWriter; stop: () => Promise<void> } {
  const writer = new ConsulKvWriter(f.consul);
  const source = new ControlsSource({ consul: f.consul, waitMs: 2_000 });
  source.onChange((next) => loop.setAcks(next.shortCircuitAcks));
  source.start();
  return { writer, stop: () => source.stop() };
}

async function ackKey(f: Awaited<ReturnType<typeof healingFixture>>): Promise<number> {
  return (await fetch(`${f.sim.urls.consul}/v1/kv/steward/control/ack-short-circuit/workers`)).status;
}

test("an_acknowledged_short_circuit_replaces_one_at_a_time_and_the_acknowledgement_covers_only_that_incident", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim);
  tf.boot(KEYS);
  const pool = workerPool({ health: { unhealthyAfterMs: 30 * 60_000, flapping: { count: 3, windowMs: 60 * 60_000, replace: false } } });
  // Every pass's plan, as it ends (a plan that lasts one pass is still seen).
  const said: string[] = [];
  const loop = f.newLoop({
    terraform: tf,
    clearAck: (p, index) => c.writer.deleteControl({ kind: "ack-short-circuit", pool: p }, index),
    onStatus: () => said.push(...(loop.poolStatuses()[0]?.actions.map((a) => `${a.reason}: ${a.message}`) ?? [])),
  });
  const c = controlsFor(f, loop);
  t.teardown(() => c.stop());
  loop.setDesired(desiredFor(f.sim, [pool]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  for (const m of f.sim.world.list("prod").filter((x) => ["a", "b", "c"].includes(x.meta.terraform_key ?? ""))) f.sim.world.kill(m.id);
  await eventually(() => loop.poolStatuses()[0]?.summary.lost === 3 && loop.poolStatuses()[0]?.actions.some((a) => a.reason === "ShortCircuit"), { timeoutMs: 15_000 });
  t.deepEqual(tf.applies, [], "short-circuited: nothing applied");

  await c.writer.putControl({ kind: "ack-short-circuit", pool: "workers" }, { by: "alice via cli", reason: "rack 4 lost" });
  const inUse = await eventually(() => said.find((m) => m.startsWith("ShortCircuitAcknowledged")), { timeoutMs: 10_000 });
  t.regex(inUse ?? "", /3 of 5 nodes of pool workers are unhealthy \(at most 2 allowed\); short-circuit acknowledged by alice via cli at \S+ \(rack 4 lost\)/);
  await eventually(() => loop.poolStatuses()[0]?.incidents.filter((i) => i.step === "done").length === 3, { timeoutMs: 20_000 }).catch((err: unknown) => {
    t.log(JSON.stringify({ applies: tf.applies, status: loop.poolStatuses() }, null, 1));
    throw err;
  });
  t.deepEqual(tf.applies.map((a) => a.replace.length), [1, 1, 1], "one replacement at a time (maxConcurrent 1), never a batch of three");
  t.is(new Set(tf.applies.flatMap((a) => a.replace)).size, 3);
  await eventually(async () => (await ackKey(f)) === 404, { timeoutMs: 5_000 });
  t.pass("the acknowledgement was deleted once the pool was no longer short-circuited");
  t.is(loop.poolStatuses()[0]?.shortCircuitAck, undefined);

  // The next incident needs a new acknowledgement.
  for (const m of f.sim.world.list("prod").filter((x) => ["a", "d", "e"].includes(x.meta.terraform_key ?? "") && x.state === "up")) f.sim.world.kill(m.id);
  await eventually(() => loop.poolStatuses()[0]?.summary.lost === 3 && loop.poolStatuses()[0]?.actions.some((a) => a.reason === "ShortCircuit"), { timeoutMs: 15_000 });
  await f.sim.clock.sleep(30 * 60_000);
  t.is(tf.applies.length, 3, "no apply for the second incident without a new acknowledgement");
});

test("an_apply_in_flight_carries_its_terraform_lines_without_secrets", async (t) => {
  const f = await healingFixture();
  t.teardown(() => f.close());
  const tf = new FakeTerraform(f.sim, 1_500);
  tf.leak = "tf-var-db-password-0451";
  addSecret(tf.leak);
  tf.boot(KEYS);
  const touched: string[] = [];
  const loop = f.newLoop({ terraform: tf, onProgress: (p) => touched.push(p) });
  loop.setDesired(desiredFor(f.sim, [workerPool()]));
  await loop.lead();
  await eventually(async () => (await readyNodes(f.sim)).length === 5, { timeoutMs: 5_000 });
  f.sim.world.kill(f.sim.world.list("prod").find((m) => m.meta.terraform_key === "b")?.id ?? "");
  const during = await eventually(() => {
    const i = loop.poolStatuses()[0]?.incidents[0];
    return i?.step === "applying" && i.progress?.some((l) => l.message.endsWith(": Creating...")) ? i.progress : undefined;
  }, { timeoutMs: 15_000 });
  t.deepEqual(during?.map((l) => l.message).slice(0, 4), [
    `${addressOf("b")}: Plan to replace`,
    "Warning: Argument is deprecated: user_data was [REDACTED]",
    `${addressOf("b")}: Destroying... [id=i-b-2]`,
    `${addressOf("b")}: Creating...`,
  ], "the provider's log line is left out, the echoed secret redacted");
  await eventually(() => loop.poolStatuses()[0]?.incidents[0]?.step === "done", { timeoutMs: 15_000 });
  t.is(loop.poolStatuses()[0]?.incidents[0]?.progress, undefined, "a finished replacement no longer carries them");
  t.false(JSON.stringify(loop.poolStatuses()).includes(tf.leak));
  t.true(touched.length >= 4 && touched.every((p) => p === "workers"), "each line wakes that pool's view");
});

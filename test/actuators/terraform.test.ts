// TerraformRunner with the real terraform binary and the real hashicorp/aws
// provider, applying terraform/examples/worker-pool against sim's EC2. Each
// test has its own EC2 and its own working directory, so they run in
// parallel; each real apply costs 10-30 s (provider start-up and the create
// waiter's first poll 10 s after RunInstances).
import type { ExecutionContext } from "ava";
import { existsSync } from "node:fs";
import path from "node:path";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { serve } from "../../sim/core/http.js";
import { seededRandom } from "../../sim/core/faults.js";
import { Ec2Server } from "../../sim/ec2/index.js";
import { TerraformRunner, TerraformError, applyFailure, type ApplyResult, type TerraformEvent } from "../../src/actuators/terraform.js";
import { TerraformInputError } from "../../src/actuators/terraform.js";
import { eventually } from "../helpers/eventually.js";
import { terraformBinary, terraformWorkdir, type TerraformWorkdir } from "../helpers/terraform.js";
import { terraformTest } from "../helpers/terraform-test.js";

const test = terraformTest();
const addr = (key: string): string => `module.workers.aws_instance.worker["${key}"]`;

interface Fixture {
  ec2: Ec2Server;
  world: World;
  w: TerraformWorkdir;
  /** The environment the runner adds: what points the unmodified provider at sim. */
  env: Record<string, string>;
}

async function fixture(t: ExecutionContext, workers: Record<string, object>, vars: Record<string, unknown> = {}): Promise<Fixture> {
  // 10x sim time: a 30 s boot is 3 real s, inside the provider's first waiter poll.
  const clock = new Clock(10);
  const world = new World(() => clock.now());
  const ec2 = new Ec2Server({ clock, world, random: seededRandom(7) }, { bootDelayMs: 30_000, terminateDelayMs: 30_000 });
  const srv = await serve({ name: "ec2", router: ec2.router });
  const w = terraformWorkdir({
    module: "examples/worker-pool",
    ec2Url: srv.url,
    vars: { ami: "ami-0123456789abcdef0", subnet_id: "subnet-0123456789abcdef0", workers, ...vars },
  });
  t.teardown(async () => {
    ec2.close();
    await srv.close();
    w.cleanup();
  });
  // Only what differs from Steward's own environment: the runner inherits the rest.
  const env = Object.fromEntries(
    Object.entries(w.env).filter(([k, v]) => v !== undefined && (k.startsWith("AWS_") || k.startsWith("TF_"))),
  ) as Record<string, string>;
  return { ec2, world, w, env };
}

function live(ec2: Ec2Server): string[] {
  return ec2.instances().filter((i) => i.state !== "terminated" && i.state !== "shutting-down").map((i) => i.instanceId);
}

function report(t: ExecutionContext, what: string, r: ApplyResult): void {
  t.log(`${what}: ok=${r.ok} ${(r.durationMs / 1000).toFixed(1)} s changes=${JSON.stringify(r.changes)}${r.ok ? "" : ` ${applyFailure(r)?.message ?? ""}`}`);
}

test("apply_creates_and_replace_replaces_exactly_one_instance", async (t) => {
  t.timeout(4 * 60_000);
  const { ec2, world, w, env } = await fixture(t, { a: {}, b: {} });
  const tf = new TerraformRunner({ binary: terraformBinary(), env });

  const init = await tf.init(w.dir);
  t.log(`init: ${(init.durationMs / 1000).toFixed(1)} s`);
  const events: TerraformEvent[] = [];
  const created = await tf.apply({ dir: w.dir, onProgress: (e) => events.push(e) });
  report(t, "apply (2 creates)", created);
  t.true(created.ok, applyFailure(created)?.message);
  t.deepEqual(created.changes, { add: 2, change: 0, remove: 0 });
  t.deepEqual(created.planned, { add: 2, change: 0, remove: 0 });
  t.is(live(ec2).length, 2);
  t.true(events.some((e) => e.type === "apply_start" && e.address === addr("a") && e.action === "create"), "progress shows Creating...");
  t.true(events.some((e) => e.message === "Apply complete! Resources: 2 added, 0 changed, 0 destroyed."));
  const ids = created.outputs?.instances as Record<string, { id: string }>;
  const [idA, idB] = [ids.a?.id ?? "", ids.b?.id ?? ""];
  t.deepEqual(created.resources.filter((r) => r.action === "create").map((r) => r.idValue).sort(), [idA, idB].sort());

  ec2.resetCalls();
  const replaced = await tf.apply({ dir: w.dir, replace: [addr("b")] });
  report(t, "apply -replace (1 instance)", replaced);
  t.true(replaced.ok, applyFailure(replaced)?.message);
  t.deepEqual(replaced.changes, { add: 1, change: 0, remove: 1 });
  t.deepEqual(replaced.resources.map((r) => `${r.address} ${r.action} ${r.status}`), [`${addr("b")} delete complete`, `${addr("b")} create complete`]);
  t.like(ec2.callCounts(), { RunInstances: 1, TerminateInstances: 1 });
  const newB = (replaced.outputs?.instances as Record<string, { id: string }>).b?.id ?? "";
  t.deepEqual(live(ec2).sort(), [idA, newB].sort(), "a untouched, b replaced, nothing else");
  t.is(world.get("workers-b")?.instanceId, newB, "the new instance booted the node");
  t.true((await tf.init(w.dir)).cached, "init ran once for the directory");

  const state = await tf.state(w.dir);
  t.deepEqual(state.filter((r) => r.type === "aws_instance").map((r) => `${r.address}=${String(r.values.id)}`).sort(), [`${addr("a")}=${idA}`, `${addr("b")}=${newB}`]);
  const known = await tf.resourceAddresses(w.dir);
  t.deepEqual(known.inState.filter((a) => a.includes("aws_instance")).sort(), [addr("a"), addr("b")]);
  t.deepEqual(known.planned, []);
});

test("hung_ec2_call_times_out_is_interrupted_releases_the_lock_and_the_retry_leaves_one_instance", async (t) => {
  t.timeout(5 * 60_000);
  const { ec2, w, env } = await fixture(t, { a: {} });
  // The deadline must outlast the second terraform's start-up and lock wait, which take
  // well over 30 s on a loaded 2-core machine: the lock has to be still held when it asks.
  const tf = new TerraformRunner({ binary: terraformBinary(), env, applyTimeoutMs: 100_000, interruptGraceMs: 20_000 });
  await tf.init(w.dir);

  // The create waiter's first DescribeInstances (10 s after RunInstances) is never answered.
  ec2.hangAction("DescribeInstances");
  const hung = tf.apply({ dir: w.dir });
  await eventually(() => (ec2.callCounts().DescribeInstances ?? 0) >= 1, { timeoutMs: 60_000 });
  t.true(tf.isBusy(w.dir));

  // Meanwhile another process (another runner: no shared mutex) finds the state locked. The
  // hang starts 15-20 s into the apply; the deadline leaves the other terraform time to start.
  const other = new TerraformRunner({ binary: terraformBinary(), env, lockTimeoutMs: 1_000 });
  const locked = await other.apply({ dir: w.dir });
  report(t, "apply while locked", locked);
  t.false(locked.ok);
  t.true(locked.lockError);
  t.deepEqual(locked.changes, { add: 0, change: 0, remove: 0 });
  const lockErr = applyFailure(locked);
  t.true(lockErr instanceof TerraformError, "a held lock is transient");
  t.regex(lockErr?.message ?? "", /state lock is held by another process/);
  t.is((lockErr as TerraformError).dir, w.dir);

  const timedOut = await hung;
  report(t, "apply with a hung call", timedOut);
  t.false(timedOut.ok);
  t.true(timedOut.timedOut);
  t.false(timedOut.killed, "terraform stopped on the interrupt, within the grace period");
  t.false(existsSync(path.join(w.dir, ".terraform.tfstate.lock.info")), "the state lock was released");
  const err = applyFailure(timedOut, { pool: "workers" });
  t.true(err instanceof TerraformError);
  t.regex(err?.message ?? "", /timed out after \d+ s and was interrupted \(state saved, lock released\)/);
  t.deepEqual(err?.context, { pool: "workers" });
  const first = live(ec2);
  t.is(first.length, 1, "RunInstances did run before the hang");
  t.false(tf.isBusy(w.dir));

  // The retry: Terraform kept the interrupted instance in state (tainted), so it replaces it rather than adding a second one.
  const retried = await tf.apply({ dir: w.dir, timeoutMs: 180_000 });
  report(t, "retry", retried);
  t.true(retried.ok, applyFailure(retried)?.message);
  t.is(live(ec2).length, 1, "exactly one live instance after the retry");
  const state = await tf.state(w.dir);
  t.deepEqual(state.filter((r) => r.type === "aws_instance").map((r) => r.values.id), live(ec2), "and it is the one in state");
});

test("throttled_ec2_fails_fast_with_the_providers_message_then_succeeds_once_it_stops", async (t) => {
  t.timeout(4 * 60_000);
  const { ec2, w, env } = await fixture(t, { a: {} }, { max_retries: 2 });
  const tf = new TerraformRunner({ binary: terraformBinary(), env });
  ec2.setThrottle({ ratePerSec: 0, burst: 1, actions: ["RunInstances"] });
  // The bucket lets one call through (burst >= 1); that one is refused too.
  ec2.failNext("RunInstances", "RequestLimitExceeded", 1);

  const throttled = await tf.apply({ dir: w.dir });
  report(t, "apply while throttled", throttled);
  t.false(throttled.ok);
  t.false(throttled.timedOut);
  t.true(throttled.durationMs < 60_000, "two attempts, not the SDK's 25");
  const err = applyFailure(throttled);
  t.true(err instanceof TerraformError, "throttling is transient");
  t.regex(err?.message ?? "", /exceeded maximum number of attempts, 2, .*api error RequestLimitExceeded: Request limit exceeded\./);
  t.true(err?.message.includes(addr("a")), "the message names the resource");
  t.is(ec2.callCounts().RunInstances, 2);
  t.deepEqual(live(ec2), []);

  ec2.clearFaults();
  const after = await tf.apply({ dir: w.dir });
  t.true(after.ok, applyFailure(after)?.message);
  t.is(live(ec2).length, 1, "no duplicate: the throttled calls created nothing");
});

test("insufficient_capacity_is_reported_with_the_providers_message", async (t) => {
  t.timeout(3 * 60_000);
  const { ec2, w, env } = await fixture(t, { a: {} }, { max_retries: 2 });
  const tf = new TerraformRunner({ binary: terraformBinary(), env });
  ec2.failNextRunInstances("InsufficientInstanceCapacity", 2);

  const r = await tf.apply({ dir: w.dir });
  report(t, "apply without capacity", r);
  t.false(r.ok);
  t.like(r.diagnostics[0], { severity: "error", address: addr("a") });
  t.regex(r.diagnostics[0]?.summary ?? "", /^creating EC2 Instance: .*api error InsufficientInstanceCapacity: /);
  t.deepEqual(r.resources.map((x) => `${x.action} ${x.status}`), ["create errored"]);
  t.true(applyFailure(r) instanceof TerraformError);
  t.deepEqual(live(ec2), []);
});

test("invalid_replace_address_is_an_input_error", async (t) => {
  t.timeout(2 * 60_000);
  const { w, env } = await fixture(t, { a: {} });
  const tf = new TerraformRunner({ binary: terraformBinary(), env });
  const r = await tf.apply({ dir: w.dir, replace: ["data.aws_ami.x"] });
  t.false(r.ok);
  const err = applyFailure(r, { pool: "workers" });
  t.true(err instanceof TerraformInputError, "retrying cannot fix a wrong address");
  t.regex(err?.message ?? "", /replacing data\.aws_ami\.x: Invalid force-replace address "data\.aws_ami\.x"/);
});

test("a_lost_runinstances_answer_leaves_an_orphan_the_retry_does_not_see", async (t) => {
  t.timeout(3 * 60_000);
  const { ec2, w, env } = await fixture(t, { a: {} });
  const tf = new TerraformRunner({ binary: terraformBinary(), env, applyTimeoutMs: 30_000, interruptGraceMs: 20_000 });
  await tf.init(w.dir);
  // EC2 launches the instance but the answer never comes back.
  ec2.hangAction("RunInstances", 1, { apply: true });
  const lost = await tf.apply({ dir: w.dir });
  report(t, "apply with a lost RunInstances answer", lost);
  t.true(lost.timedOut);
  t.regex(applyFailure(lost)?.message ?? "", /RunInstances, .*context canceled/);

  const retried = await tf.apply({ dir: w.dir, timeoutMs: 180_000 });
  t.true(retried.ok, applyFailure(retried)?.message);
  const tokens = ec2.calls("RunInstances").map((c) => c.params.ClientToken);
  t.is(new Set(tokens).size, 2, "the provider makes a new ClientToken per apply, so EC2 cannot tell it is a retry");
  const inState = (await tf.state(w.dir)).filter((r) => r.type === "aws_instance").map((r) => String(r.values.id));
  const orphans = ec2.instances().filter((i) => i.state === "running" && i.tags["steward:pool"] === "workers" && !inState.includes(i.instanceId));
  t.is(orphans.length, 1, "one running instance with the pool's tag that no state holds: Steward must report it");
});

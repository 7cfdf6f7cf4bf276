// The real terraform binary and the real hashicorp/aws provider apply the
// project's own worker-pool example against sim's EC2: create two workers,
// a clean plan, a -replace of one, destroy. Slow by nature (the provider
// starts three times per command and its waiters poll every few seconds), so
// this file holds the only real-Terraform test of sim/ec2, one serial story.
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { serve } from "../../sim/core/http.js";
import { seededRandom } from "../../sim/core/faults.js";
import { Ec2Server } from "../../sim/ec2/index.js";
import { API_REFERENCE, sameShape, type Json } from "../helpers/samples.js";
import { describeRun, findProviderMirror, runTerraform, terraformVersion, terraformWorkdir, type TerraformMessage, type TerraformResult } from "../helpers/terraform.js";

const B = 'module.workers.aws_instance.worker["b"]';

function summary(r: TerraformResult, operation: string): TerraformMessage | undefined {
  return r.messages.find((m) => m.type === "change_summary" && (m.changes as { operation?: string } | undefined)?.operation === operation);
}

/** The final outputs line of an apply: output name → value. */
function outputs(r: TerraformResult): Record<string, { value: unknown }> {
  const line = r.messages.filter((m) => m.type === "outputs").at(-1);
  return (line?.outputs ?? {}) as Record<string, { value: unknown }>;
}

/** The recorded change_summary of a real apply against the reference stub, to compare shapes with. */
function observedChangeSummary(): Json {
  const sample = JSON.parse(readFileSync(path.join(API_REFERENCE, "ec2", "observed-terraform-apply.json"), "utf8")) as { body: Json[] };
  const line = sample.body.find((m) => (m as { type?: string } | null)?.type === "change_summary");
  return line ?? null;
}

test("terraform_applies_replaces_and_destroys_the_worker_pool_on_sim_ec2", async (t) => {
  t.timeout(6 * 60_000, "four terraform commands with waiters take 1-2 minutes");
  // Missing tools are a failure with a message, never a skip: CI has both.
  t.log(`terraform ${terraformVersion()}, provider mirror ${findProviderMirror()}`);

  // 10x sim time: a 30 s boot or shutdown is 3 real s, inside the
  // provider's first waiter poll (10 s after the call), so creates and
  // deletes finish on that first poll.
  const clock = new Clock(10);
  const world = new World(() => clock.now());
  const ec2 = new Ec2Server({ clock, world, random: seededRandom(42) }, { bootDelayMs: 30_000, terminateDelayMs: 30_000 });
  const srv = await serve({ name: "ec2", router: ec2.router });
  t.teardown(async () => {
    ec2.close();
    await srv.close();
  });
  const w = terraformWorkdir({
    module: "examples/worker-pool",
    ec2Url: srv.url,
    vars: {
      ami: "ami-0123456789abcdef0",
      subnet_id: "subnet-0123456789abcdef0",
      workers: { a: {}, b: { node_class: "batch", meta: { rack: "r2" } } },
    },
  });
  t.teardown(() => w.cleanup());
  const tf = async (args: string[], want: number): Promise<TerraformResult> => {
    const r = await runTerraform(w, args);
    t.log(`terraform ${args.join(" ")}: exit ${r.code} in ${(r.ms / 1000).toFixed(1)} s`);
    if (r.code !== want) t.fail(describeRun(r));
    return r;
  };

  // init: offline, from the mirror.
  const init = await tf(["init", "-input=false", "-no-color"], 0);
  t.regex(init.stdout, /hashicorp\/aws v5\.100\.0/);

  // apply: two workers.
  const apply = await tf(["apply", "-auto-approve", "-json", "-input=false"], 0);
  const applied = summary(apply, "apply");
  t.like(applied, { changes: { add: 2, change: 0, remove: 0 } }, "Apply complete! Resources: 2 added");
  t.deepEqual(sameShape(observedChangeSummary(), (applied ?? null) as Json), [], "change_summary has the recorded shape");
  const ids = outputs(apply).instances?.value as Record<string, { id: string; node_name: string }>;
  const [idA, idB] = [ids.a?.id ?? "", ids.b?.id ?? ""];
  t.is(ec2.callCounts().RunInstances, 2, "one RunInstances per worker");
  t.true((ec2.callCounts().GetCallerIdentity ?? 0) >= 1, "a production provider block checks its credentials with STS");
  t.deepEqual(
    ec2.instances().map((i) => `${i.instanceId} ${i.state}`).sort(),
    [`${idA} running`, `${idB} running`].sort(),
  );
  const machineA = world.get("workers-a");
  const machineB = world.get("workers-b");
  t.like(machineA, { instanceId: idA, cluster: "prod", nodePool: "default", nodeClass: "", state: "up", meta: { steward_pool: "workers", terraform_key: "a" } });
  t.like(machineB, { instanceId: idB, nodeClass: "batch", meta: { rack: "r2", terraform_key: "b" } });
  t.regex(ec2.instance(idA)?.userData ?? "", /node_pool = "default"/, "user_data comes from the example's template");

  // plan: nothing to do.
  ec2.resetCalls();
  const plan = await tf(["plan", "-detailed-exitcode", "-json", "-input=false"], 0);
  t.like(summary(plan, "plan"), { changes: { add: 0, change: 0, remove: 0 } });
  t.is(ec2.callCounts().RunInstances, undefined);
  t.true((ec2.callCounts().DescribeInstances ?? 0) >= 2, "the plan refreshed both instances");

  // apply -replace: exactly worker b, delete then create.
  ec2.resetCalls();
  const replace = await tf(["apply", "-auto-approve", "-json", "-input=false", `-replace=${B}`], 0);
  t.like(
    replace.messages.find((m) => m.type === "planned_change"),
    { change: { action: "replace", reason: "requested", resource: { addr: B } } },
  );
  t.like(summary(replace, "apply"), { changes: { add: 1, change: 0, remove: 1 } }, "Apply complete! Resources: 1 added, 0 changed, 1 destroyed");
  t.deepEqual(
    replace.messages.filter((m) => m.type === "apply_complete").map((m) => (m.hook as { action: string }).action),
    ["delete", "create"],
  );
  t.like(ec2.callCounts(), { RunInstances: 1, TerminateInstances: 1 });
  const newB = (outputs(replace).instances?.value as Record<string, { id: string }>).b?.id ?? "";
  t.not(newB, idB);
  t.is((outputs(replace).instances?.value as Record<string, { id: string }>).a?.id, idA, "worker a is untouched");
  t.is(ec2.instance(idB)?.state, "terminated");
  t.is(ec2.instance(newB)?.state, "running");
  t.is(world.get(machineB?.id ?? ""), undefined, "the old node left the world");
  t.like(world.get("workers-b"), { instanceId: newB, state: "up", nodeClass: "batch" });
  t.not(world.get("workers-b")?.id, machineB?.id, "a new machine, a new Nomad node id");
  t.is(world.get("workers-a")?.id, machineA?.id);

  // destroy: everything goes.
  ec2.resetCalls();
  const destroy = await tf(["destroy", "-auto-approve", "-json", "-input=false"], 0);
  t.like(summary(destroy, "destroy"), { changes: { add: 0, change: 0, remove: 2 } }, "Destroy complete! Resources: 2 destroyed");
  t.is(ec2.callCounts().TerminateInstances, 2);
  t.deepEqual(
    ec2.instances().filter((i) => i.state !== "terminated"),
    [],
  );
  t.deepEqual(world.list(), []);
});

/**
 * Scheduler behaviour: placement with constraints, datacenters and node
 * pools, blocked evaluations, node loss, system and batch jobs, drains and
 * disconnected clients, seen through the HTTP API.
 */
import test from "ava";
import { eventually } from "../helpers/eventually.js";
import { startNomadHarness } from "../../sim/nomad/harness.js";

type Obj = Record<string, unknown>;
type H = Awaited<ReturnType<typeof startNomadHarness>>;

function job(id: string, group: Obj = {}, extra: Obj = {}): Obj {
  return {
    ID: id,
    TaskGroups: [{ Name: "g", Count: 1, Tasks: [{ Name: "t", Driver: "docker", Config: { image: "app:1" }, Resources: { CPU: 100, MemoryMB: 64 } }], ...group }],
    ...extra,
  };
}

async function allocs(h: H, id: string): Promise<Obj[]> {
  return (await h.call("GET", `/v1/job/${id}/allocations`)).body as Obj[];
}

async function live(h: H, id: string): Promise<Obj[]> {
  return (await allocs(h, id)).filter((a) => a.DesiredStatus === "run" && ["pending", "running"].includes(String(a.ClientStatus)));
}

async function register(h: H, j: Obj): Promise<Obj> {
  const r = await h.call("PUT", "/v1/jobs", { body: { Job: j } });
  if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
  return r.body as Obj;
}

async function nodeNames(h: H, list: Obj[]): Promise<string[]> {
  const nodes = (await h.call("GET", "/v1/nodes")).body as Obj[];
  return list.map((a) => String(nodes.find((n) => n.ID === a.NodeID)?.Name)).sort();
}

let h: H;
test.before(async () => {
  h = await startNomadHarness({ nodes: 0 });
  h.world.addMachine({ cluster: "qa", name: "r1-a", meta: { rack: "r1" } });
  h.world.addMachine({ cluster: "qa", name: "r1-b", meta: { rack: "r1" } });
  h.world.addMachine({ cluster: "qa", name: "r2-gpu", meta: { rack: "r2" }, nodeClass: "gpu" });
  h.world.addMachine({ cluster: "qa", name: "east-1", datacenter: "dc2", meta: { rack: "r3" } });
  h.world.addMachine({ cluster: "qa", name: "edge-1", nodePool: "edge", meta: { rack: "r4" } });
  await h.ready();
});
test.after.always(async () => h?.close());

test.serial("constraints, datacenters and node pools decide where allocations go", async (t) => {
  await register(h, job("rack1", { Count: 4, Constraints: [{ LTarget: "${meta.rack}", RTarget: "r1", Operand: "=" }] }));
  await register(h, job("gpu", { Count: 2, Constraints: [{ LTarget: "${node.class}", RTarget: "gpu", Operand: "=" }] }));
  await register(h, job("regex", { Count: 3, Constraints: [{ LTarget: "${attr.unique.hostname}", RTarget: "^r[12]-", Operand: "regexp" }, { LTarget: "${attr.os.signals}", RTarget: "SIGTERM,SIGHUP", Operand: "set_contains" }, { LTarget: "${meta.rack}", RTarget: "r2", Operand: "!=" }] }));
  await register(h, job("east", { Count: 2 }, { Datacenters: ["dc2"] }));
  await register(h, job("wild", { Count: 10 }, { Datacenters: ["dc*"] }));
  await register(h, job("edge", { Count: 2 }, { NodePool: "edge" }));
  await eventually(async () => (await live(h, "wild")).length === 10);
  t.deepEqual(await nodeNames(h, await live(h, "rack1")), ["r1-a", "r1-a", "r1-b", "r1-b"], "spread over the two r1 nodes");
  t.deepEqual(await nodeNames(h, await live(h, "gpu")), ["r2-gpu", "r2-gpu"]);
  t.deepEqual([...new Set(await nodeNames(h, await live(h, "regex")))], ["r1-a", "r1-b"]);
  t.deepEqual(await nodeNames(h, await live(h, "east")), ["east-1", "east-1"]);
  t.false((await nodeNames(h, await live(h, "wild"))).includes("edge-1"), "the default pool excludes edge nodes");
  t.deepEqual(await nodeNames(h, await live(h, "edge")), ["edge-1", "edge-1"]);
  const alloc = (await h.call("GET", `/v1/allocation/${String((await live(h, "gpu"))[0]?.ID)}`)).body as Obj;
  t.like(alloc.Metrics, { NodesEvaluated: 4, NodesInPool: 4 }, "every ready node of the default pool, in any datacenter");
});

test.serial("distinct_hosts leaves what does not fit in a blocked evaluation until a node joins", async (t) => {
  const reg = await register(h, job("distinct", { Count: 3, Constraints: [{ Operand: "distinct_hosts", LTarget: "", RTarget: "true" }, { LTarget: "${meta.rack}", RTarget: "r1", Operand: "=" }] }));
  await eventually(async () => (await live(h, "distinct")).length === 2);
  const ev = (await eventually(async () => {
    const e = (await h.call("GET", `/v1/evaluation/${String(reg.EvalID)}`)).body as Obj;
    return e.Status === "complete" && e.BlockedEval ? e : false;
  })) as Obj;
  t.deepEqual(Object.keys(ev.FailedTGAllocs as Obj), ["g"]);
  const blocked = (await h.call("GET", `/v1/evaluation/${String(ev.BlockedEval)}`)).body as Obj;
  t.like(blocked, { TriggeredBy: "queued-allocs", PreviousEval: reg.EvalID });
  // A later evaluation of the job (the deployment watcher's) may already have superseded it.
  if (blocked.Status === "blocked") t.is(blocked.StatusDescription, "created to place remaining allocations");
  else t.is(blocked.Status, "canceled");
  await eventually(async () => ((await h.call("GET", "/v1/job/distinct/evaluations")).body as Obj[]).some((e) => e.Status === "blocked"));
  t.like(((await h.call("GET", "/v1/job/distinct/summary")).body as Obj).Summary, { g: { Queued: 1 } });

  h.world.addMachine({ cluster: "qa", name: "r1-c", meta: { rack: "r1" } });
  await eventually(async () => (await live(h, "distinct")).length === 3);
  t.deepEqual(await nodeNames(h, await live(h, "distinct")), ["r1-a", "r1-b", "r1-c"]);
  // The blocked evaluation placed the rest, unless a later evaluation of the job superseded it.
  await eventually(async () => ["complete", "canceled"].includes(String(((await h.call("GET", `/v1/evaluation/${String(ev.BlockedEval)}`)).body as Obj).Status)));
  const evals = (await h.call("GET", "/v1/job/distinct/evaluations")).body as Obj[];
  t.deepEqual(evals.filter((e) => e.Status === "blocked"), []);
});

test.serial("a killed machine's node goes down after the heartbeat TTL and its allocations are replaced elsewhere", async (t) => {
  await register(h, job("survivor", { Count: 2, Constraints: [{ LTarget: "${meta.rack}", RTarget: "r1", Operand: "=" }] }));
  await eventually(async () => (await live(h, "survivor")).filter((a) => a.ClientStatus === "running").length === 2);
  const victim = String((await live(h, "survivor"))[0]?.NodeID);
  h.world.kill(victim);
  t.is(h.cluster.node(victim)?.Status, "ready", "still ready until the TTL runs out");
  await eventually(async () => ((await h.call("GET", `/v1/node/${victim}`)).body as Obj).Status === "down");
  await eventually(async () => {
    const all = await allocs(h, "survivor");
    const lost = all.filter((a) => a.ClientStatus === "lost");
    const running = all.filter((a) => a.ClientStatus === "running" && a.DesiredStatus === "run");
    return lost.length >= 1 && running.length === 2 && running.every((a) => a.NodeID !== victim);
  });
  const all = await allocs(h, "survivor");
  const lost = all.find((a) => a.ClientStatus === "lost") as Obj;
  t.is(lost.DesiredDescription, "alloc is lost since its node is down");
  t.truthy(lost.NextAllocation);
  const evals = (await h.call("GET", "/v1/job/survivor/evaluations")).body as Obj[];
  t.true(evals.some((e) => e.TriggeredBy === "node-update" && e.NodeID === victim));

  h.world.revive(victim);
  await eventually(async () => ((await h.call("GET", `/v1/node/${victim}`)).body as Obj).Status === "ready");
});

test.serial("a system job runs one allocation per eligible node, also on nodes that join later", async (t) => {
  await register(h, { ID: "agent", Type: "system", TaskGroups: [{ Name: "agent", Tasks: [{ Name: "a", Driver: "docker", Config: { image: "agent:1" }, Resources: { CPU: 20, MemoryMB: 16 } }] }] });
  const eligible = async (): Promise<number> => ((await h.call("GET", "/v1/nodes")).body as Obj[]).filter((n) => n.Status === "ready" && n.SchedulingEligibility === "eligible" && n.NodePool === "default").length;
  const expect = await eligible();
  await eventually(async () => (await live(h, "agent")).length === expect);
  const nodes = (await live(h, "agent")).map((a) => a.NodeID);
  t.is(new Set(nodes).size, nodes.length, "one per node");
  t.is(((await h.call("GET", "/v1/job/agent")).body as Obj).Status, "running");
  h.world.addMachine({ cluster: "qa", name: "late-1", meta: { rack: "r9" } });
  await eventually(async () => (await live(h, "agent")).length === expect + 1);
  t.deepEqual((await nodeNames(h, await live(h, "agent"))).filter((n) => n === "late-1"), ["late-1"]);
});

test.serial("a batch job runs to completion; a failing one is rescheduled by its policy, then the job is dead", async (t) => {
  await register(h, job("report", { Count: 2 }, { Type: "batch" }));
  await eventually(async () => ((await h.call("GET", "/v1/job/report")).body as Obj).Status === "dead");
  const done = await allocs(h, "report");
  t.deepEqual(done.map((a) => a.ClientStatus), ["complete", "complete"]);
  const state = (((done[0] as Obj).TaskStates as Obj).t as Obj);
  t.like(state, { State: "dead", Failed: false });
  t.like(((await h.call("GET", "/v1/job/report/summary")).body as Obj).Summary, { g: { Complete: 2, Running: 0 } });

  const failing = job("crash", { Count: 1, ReschedulePolicy: { Attempts: 1, Interval: 3600e9, Delay: 1e9, DelayFunction: "constant", Unlimited: false } }, { Type: "batch" });
  (((failing.TaskGroups as Obj[])[0] as Obj).Tasks as Obj[])[0] = { Name: "t", Driver: "docker", Config: { image: "app:1" }, Meta: { sim_fail: "true", sim_run_ms: "500" } };
  await register(h, failing);
  await eventually(async () => ((await h.call("GET", "/v1/job/crash")).body as Obj).Status === "dead", { timeoutMs: 5000 });
  const tries = await allocs(h, "crash");
  t.is(tries.length, 2, "one reschedule, as the policy allows");
  t.true(tries.every((a) => a.ClientStatus === "failed"));
  const second = tries.find((a) => a.RescheduleTracker !== null) as Obj;
  t.is(((second.RescheduleTracker as Obj).Events as Obj[]).length, 1);
  t.true(((await h.call("GET", "/v1/job/crash/evaluations")).body as Obj[]).some((e) => e.TriggeredBy === "alloc-failure"));
});

test.serial("draining a node migrates its allocations and completes; a forced drain moves everything at once", async (t) => {
  await register(h, job("movable", { Count: 3, Constraints: [{ LTarget: "${meta.rack}", RTarget: "r1", Operand: "=" }] }));
  await eventually(async () => (await live(h, "movable")).filter((a) => a.ClientStatus === "running").length === 3);
  const target = String((await live(h, "movable"))[0]?.NodeID);
  const r = await h.call("POST", `/v1/node/${target}/drain`, { body: { DrainSpec: { Deadline: 3600e9, IgnoreSystemJobs: true }, Meta: { reason: "patching" } } });
  t.is(r.status, 200, r.text);
  const during = (await h.call("GET", `/v1/node/${target}`)).body as Obj;
  t.like(during, { SchedulingEligibility: "ineligible", Drain: true });
  await eventually(async () => ((await h.call("GET", `/v1/node/${target}`)).body as Obj).DrainStrategy === null);
  const after = (await h.call("GET", `/v1/node/${target}`)).body as Obj;
  t.like(after, { Drain: false, SchedulingEligibility: "ineligible", LastDrain: { Status: "complete", Meta: { reason: "patching" } } });
  t.true((after.Events as Obj[]).some((e) => e.Message === "Node drain complete"));
  const still = (await live(h, "movable")).filter((a) => a.NodeID === target);
  t.deepEqual(still, [], "nothing of the job left on the drained node");
  await eventually(async () => (await live(h, "movable")).length === 3);
  const agentsThere = (await live(h, "agent")).filter((a) => a.NodeID === target);
  t.is(agentsThere.length, 1, "system allocations stay when IgnoreSystemJobs is set");

  await h.call("POST", `/v1/node/${target}/eligibility`, { body: { Eligibility: "eligible" } });
  const other = String((await live(h, "movable")).find((a) => a.NodeID !== target)?.NodeID);
  await h.call("POST", `/v1/node/${other}/drain`, { body: { DrainSpec: { Deadline: -1, IgnoreSystemJobs: false } } });
  await eventually(async () => ((await h.call("GET", `/v1/node/${other}`)).body as Obj).DrainStrategy === null);
  t.deepEqual((await live(h, "agent")).filter((a) => a.NodeID === other), [], "a forced drain also moves system allocations off");
  await h.call("POST", `/v1/node/${other}/eligibility`, { body: { Eligibility: "eligible" } });
});

test.serial("a disconnected client's allocations are unknown, replaced, and the original wins on reconnect", async (t) => {
  await register(h, job("tolerant", { Count: 1, Disconnect: { LostAfter: 3600e9 }, Constraints: [{ LTarget: "${node.datacenter}", RTarget: "dc2", Operand: "=" }] }, { Datacenters: ["dc1", "dc2"] }));
  await eventually(async () => (await live(h, "tolerant")).filter((a) => a.ClientStatus === "running").length === 1);
  const first = (await live(h, "tolerant"))[0] as Obj;
  const east = String(first.NodeID);
  h.world.addMachine({ cluster: "qa", name: "east-2", datacenter: "dc2" });
  await eventually(async () => ((await h.call("GET", "/v1/nodes")).body as Obj[]).filter((n) => n.Datacenter === "dc2" && n.Status === "ready").length === 2);
  h.world.kill(east);
  await eventually(async () => ((await h.call("GET", `/v1/node/${east}`)).body as Obj).Status === "disconnected");
  await eventually(async () => {
    const all = await allocs(h, "tolerant");
    return all.some((a) => a.ID === first.ID && a.ClientStatus === "unknown") && all.some((a) => a.ID !== first.ID && a.ClientStatus === "running");
  });
  h.world.revive(east);
  await eventually(async () => {
    const all = await allocs(h, "tolerant");
    const original = all.find((a) => a.ID === first.ID) as Obj;
    const replacement = all.find((a) => a.ID !== first.ID) as Obj;
    return original.ClientStatus === "running" && original.DesiredStatus === "run" && replacement.DesiredStatus === "stop";
  });
  t.is(((await h.call("GET", `/v1/node/${east}`)).body as Obj).Status, "ready");
});

test("garbage collection takes old terminal evaluations and allocations, keeps the job", async (t) => {
  const g = await startNomadHarness({ nodes: 1, gcThresholdMs: 60_000 });
  t.teardown(() => g.close());
  await g.ready();
  await register(g, job("once", { Count: 1 }, { Type: "batch" }));
  await eventually(async () => ((await g.call("GET", "/v1/job/once")).body as Obj).Status === "dead");
  t.is((await allocs(g, "once")).length, 1);
  // The collector runs every 5 sim minutes (300 ms here) and takes what is older than a sim minute.
  await eventually(async () => (await allocs(g, "once")).length === 0, { timeoutMs: 3000 });
  t.deepEqual((await g.call("GET", "/v1/job/once/evaluations")).body, []);
  const kept = (await g.call("GET", "/v1/job/once")).body as Obj;
  t.is(kept.Status, "dead");
});

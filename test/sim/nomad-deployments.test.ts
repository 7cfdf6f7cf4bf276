/**
 * Deployments: health, stability, auto-revert on unhealthy images or job
 * versions, canaries with manual and automatic promotion, deadlines, pause.
 */
import test from "ava";
import { eventually } from "../helpers/eventually.js";
import { startNomadHarness } from "../../sim/nomad/harness.js";

type Obj = Record<string, unknown>;
type H = Awaited<ReturnType<typeof startNomadHarness>>;

const IMG_A = "registry.local/web@sha256:aaaa";
const IMG_B = "registry.local/web@sha256:bbbb";
/** The image the auto-revert test marks unhealthy; no other test may use it (tests run concurrently). */
const IMG_BAD = "registry.local/web@sha256:dead";

function job(id: string, image: string, update: Obj = {}, count = 2, group: Obj = {}): Obj {
  return {
    ID: id,
    Update: { MaxParallel: 1, MinHealthyTime: 0, ...update },
    TaskGroups: [{ Name: "web", Count: count, Tasks: [{ Name: "web", Driver: "docker", Config: { image }, Resources: { CPU: 50, MemoryMB: 32 } }], ...group }],
  };
}

let h: H;
test.before(async () => {
  // 100 sim ms per real ms: deadlines of minutes stay far from the event loop's hiccups.
  h = await startNomadHarness({ nodes: 3, healthyAfterMs: 2000, scale: 100 });
  await h.ready();
});
test.after.always(async () => h?.close());

async function register(j: Obj): Promise<Obj> {
  const r = await h.call("PUT", "/v1/jobs", { body: { Job: j } });
  if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
  return r.body as Obj;
}

/** The deployment of one job version, once it has `status` (a rollback may already have started a newer one). */
async function deployment(id: string, version: number, status: string): Promise<Obj> {
  return (await eventually(async () => {
    const list = (await h.call("GET", `/v1/job/${id}/deployments`)).body as Obj[];
    const d = list.find((x) => x.JobVersion === version);
    return d && d.Status === status ? d : false;
  })) as Obj;
}

async function jobOf(id: string): Promise<Obj> {
  return (await h.call("GET", `/v1/job/${id}`)).body as Obj;
}

function image(j: Obj): unknown {
  return (((((j.TaskGroups as Obj[])[0] as Obj).Tasks as Obj[])[0] as Obj).Config as Obj).image;
}

test("a deployment whose allocations turn healthy succeeds and marks the job version stable", async (t) => {
  await register(job("stable", IMG_A, { MinHealthyTime: 5e9 }));
  t.false(h.cluster.job("stable")?.Stable, "not stable before the allocations are healthy");
  const d = await deployment("stable", 0, "successful");
  t.is(d.StatusDescription, "Deployment completed successfully");
  t.like(d.TaskGroups, { web: { DesiredTotal: 2, PlacedAllocs: 2, HealthyAllocs: 2, UnhealthyAllocs: 0 } });
  await eventually(async () => (await jobOf("stable")).Stable === true);
  const versions = ((await h.call("GET", "/v1/job/stable/versions")).body as Obj).Versions as Obj[];
  t.is(versions[0]?.Stable, true);
  const allocs = (await h.call(`GET`, `/v1/deployment/allocations/${String(d.ID)}`)).body as Obj[];
  t.true(allocs.every((a) => (a.DeploymentStatus as Obj).Healthy === true));
});

test("an image marked unhealthy fails the deployment and auto_revert registers the last stable version", async (t) => {
  await register(job("revert", IMG_A, { AutoRevert: true }));
  await deployment("revert", 0, "successful");
  await eventually(async () => (await jobOf("revert")).Stable === true);
  h.cluster.markImageUnhealthy(IMG_BAD);
  try {
    await register(job("revert", IMG_BAD, { AutoRevert: true }));
    const failed = await deployment("revert", 1, "failed");
    t.is(failed.StatusDescription, "Failed due to unhealthy allocations - rolling back to job version 0");
    t.true(((failed.TaskGroups as Obj).web as Obj).UnhealthyAllocs as number >= 1);
    const reverted = (await eventually(async () => {
      const j = await jobOf("revert");
      return j.Version === 2 ? j : false;
    })) as Obj;
    t.is(image(reverted), IMG_A, "version 2 is version 0's spec");
    await deployment("revert", 2, "successful");
    await eventually(async () => (await jobOf("revert")).Stable === true);
    const running = ((await h.call("GET", "/v1/job/revert/allocations")).body as Obj[]).filter((a) => a.DesiredStatus === "run" && a.ClientStatus === "running");
    t.true(running.length === 2 && running.every((a) => a.JobVersion === 2));
  } finally {
    h.cluster.clearImageUnhealthy(IMG_BAD);
  }
});

test("a job version marked unhealthy fails its deployment; without auto_revert the version stays", async (t) => {
  await register(job("norevert", IMG_A));
  await deployment("norevert", 0, "successful");
  h.cluster.markVersionUnhealthy("norevert", 1);
  await register(job("norevert", "registry.local/web:2"));
  const failed = await deployment("norevert", 1, "failed");
  t.is(failed.StatusDescription, "Failed due to unhealthy allocations");
  t.is((await jobOf("norevert")).Version, 1);
  const fail = await h.call("POST", `/v1/deployment/fail/${String(failed.ID)}`);
  t.is(fail.status, 500);
  t.is(fail.text, "can't fail terminal deployment");
});

test("canaries wait for promotion; promote rolls the rest and the deployment succeeds", async (t) => {
  await register(job("canary", IMG_A, { Canary: 1 }, 3));
  await deployment("canary", 0, "successful");
  await register(job("canary", IMG_B, { Canary: 1 }, 3));
  const waiting = (await eventually(async () => {
    const d = await deployment("canary", 1, "running");
    const st = (d.TaskGroups as Obj).web as Obj;
    return st.HealthyAllocs === 1 ? d : false;
  })) as Obj;
  t.is(waiting.StatusDescription, "Deployment is running but requires manual promotion");
  const st = (waiting.TaskGroups as Obj).web as Obj;
  t.like(st, { DesiredCanaries: 1, Promoted: false, DesiredTotal: 3 });
  t.is((st.PlacedCanaries as string[]).length, 1);
  const live = ((await h.call("GET", "/v1/job/canary/allocations")).body as Obj[]).filter((a) => a.DesiredStatus === "run");
  t.is(live.length, 4, "three old allocations and the canary");
  const canary = live.find((a) => a.JobVersion === 1) as Obj;
  t.like(canary.DeploymentStatus, { Canary: true, Healthy: true });

  const wrongGroup = await h.call("POST", `/v1/deployment/promote/${String(waiting.ID)}`, { body: { DeploymentID: waiting.ID, Groups: ["api"] } });
  t.is(wrongGroup.text, "no canaries to promote");
  const promoted = await h.call("POST", `/v1/deployment/promote/${String(waiting.ID)}`, { body: { DeploymentID: waiting.ID, All: true } });
  t.is(promoted.status, 200, promoted.text);
  t.truthy((promoted.body as Obj).EvalID);
  const done = await deployment("canary", 1, "successful");
  t.like((done.TaskGroups as Obj).web, { Promoted: true, HealthyAllocs: 3 });
  const after = ((await h.call("GET", "/v1/job/canary/allocations")).body as Obj[]).filter((a) => a.DesiredStatus === "run");
  t.deepEqual(after.map((a) => a.JobVersion), [1, 1, 1]);
  t.deepEqual(after.map((a) => a.Name).sort(), ["canary.web[0]", "canary.web[1]", "canary.web[2]"]);
  const again = await h.call("POST", `/v1/deployment/promote/${String(waiting.ID)}`, { body: { DeploymentID: waiting.ID, All: true } });
  t.is(again.text, "can't promote terminal deployment");
});

test("auto_promote promotes healthy canaries by itself", async (t) => {
  await register(job("autopromote", IMG_A, { Canary: 1, AutoPromote: true }, 2));
  await deployment("autopromote", 0, "successful");
  await register(job("autopromote", IMG_B, { Canary: 1, AutoPromote: true }, 2));
  const d = await deployment("autopromote", 1, "successful");
  t.like((d.TaskGroups as Obj).web, { Promoted: true, AutoPromote: true, DesiredCanaries: 1 });
});

test("a missed progress deadline fails the deployment; an allocation not healthy by healthy_deadline is unhealthy", async (t) => {
  await register(job("stuck", IMG_A, { AutoRevert: true }, 1));
  await deployment("stuck", 0, "successful");
  await register(job("stuck", IMG_A, { ProgressDeadline: 30e9, AutoRevert: true }, 1, { Constraints: [{ LTarget: "${attr.kernel.name}", RTarget: "windows", Operand: "=" }] }));
  const failed = await deployment("stuck", 1, "failed");
  t.is(failed.StatusDescription, "Failed due to progress deadline - rolling back to job version 0");

  await register(job("slow", IMG_A, { HealthyDeadline: 1e9, ProgressDeadline: 0 }, 1));
  const unhealthy = await deployment("slow", 0, "failed");
  t.is(unhealthy.StatusDescription, "Failed due to unhealthy allocations");
  const a = ((await h.call("GET", "/v1/job/slow/allocations")).body as Obj[])[0] as Obj;
  t.is((a.DeploymentStatus as Obj).Healthy, false);
});

test("a paused deployment stops rolling until it is resumed", async (t) => {
  await register(job("pausable", IMG_A, { MinHealthyTime: 5e9 }, 3));
  await deployment("pausable", 0, "successful");
  // 6 s of min_healthy_time per allocation keeps the rolling update going for a while.
  await register(job("pausable", IMG_B, { MinHealthyTime: 6e9 }, 3));
  const d = await deployment("pausable", 1, "running");
  const paused = await h.call("POST", `/v1/deployment/pause/${String(d.ID)}`, { body: { DeploymentID: d.ID, Pause: true } });
  t.is(paused.status, 200, paused.text);
  const p = (await h.call("GET", `/v1/deployment/${String(d.ID)}`)).body as Obj;
  t.like(p, { Status: "paused", StatusDescription: "Deployment is paused" });
  const placedWhenPaused = ((p.TaskGroups as Obj).web as Obj).PlacedAllocs as number;
  await new Promise((r) => setTimeout(r, 150)); // 15 s of sim time: more than two min_healthy_time periods
  t.is(((((await h.call("GET", `/v1/deployment/${String(d.ID)}`)).body as Obj).TaskGroups as Obj).web as Obj).PlacedAllocs, placedWhenPaused, "nothing new placed while paused");
  const resumed = await h.call("POST", `/v1/deployment/pause/${String(d.ID)}`, { body: { DeploymentID: d.ID, Pause: false } });
  t.is(resumed.status, 200);
  await deployment("pausable", 1, "successful");
});

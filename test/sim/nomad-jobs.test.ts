/**
 * Jobs API behaviour: register with check-and-set, versions, plan diffs,
 * list filters and the errors a client sees for bad input.
 */
import test from "ava";
import { startNomadHarness } from "../../sim/nomad/harness.js";

type Obj = Record<string, unknown>;
let h: Awaited<ReturnType<typeof startNomadHarness>>;

function job(id: string, image = "nginx:1", extra: Obj = {}): Obj {
  return {
    ID: id,
    Meta: { owner: "team-a" },
    TaskGroups: [{ Name: "web", Count: 2, Tasks: [{ Name: "web", Driver: "docker", Config: { image } }] }],
    ...extra,
  };
}

test.before(async () => {
  h = await startNomadHarness({ nodes: 3 });
  await h.ready();
});
test.after.always(async () => h?.close());

test("register with EnforceIndex: Nomad's check-and-set errors, then success with the current index", async (t) => {
  const created = await h.call("PUT", "/v1/jobs", { body: { Job: job("cas"), EnforceIndex: true, JobModifyIndex: 0 } });
  t.is(created.status, 200, created.text);
  const jmi = (created.body as Obj).JobModifyIndex as number;
  t.true(jmi > 0);
  t.is(created.headers["x-nomad-index"], String(jmi));

  const again = await h.call("PUT", "/v1/jobs", { body: { Job: job("cas", "nginx:2"), EnforceIndex: true, JobModifyIndex: 0 } });
  t.is(again.status, 500);
  t.is(again.text, "Enforcing job modify index 0: job already exists");

  const stale = await h.call("POST", "/v1/job/cas", { body: { Job: job("cas", "nginx:2"), EnforceIndex: true, JobModifyIndex: jmi - 1 } });
  t.is(stale.status, 500);
  t.is(stale.text, `Enforcing job modify index ${jmi - 1}: job exists with conflicting job modify index: ${jmi}`);

  const missing = await h.call("PUT", "/v1/jobs", { body: { Job: job("nope"), EnforceIndex: true, JobModifyIndex: 7 } });
  t.is(missing.status, 500);
  t.is(missing.text, "Enforcing job modify index 7: job does not exist");

  const ok = await h.call("POST", "/v1/job/cas", { body: { Job: job("cas", "nginx:2"), EnforceIndex: true, JobModifyIndex: jmi } });
  t.is(ok.status, 200, ok.text);
  const read = (await h.call("GET", "/v1/job/cas")).body as Obj;
  t.is(read.Version, 1);
  t.is(read.JobModifyIndex, (ok.body as Obj).JobModifyIndex);
});

test("the server canonicalizes a registered job and bumps the version only when the spec changes", async (t) => {
  await h.call("PUT", "/v1/jobs", { body: { Job: job("canon") } });
  const first = (await h.call("GET", "/v1/job/canon")).body as Obj;
  t.like(first, { Namespace: "default", Priority: 50, Region: "global", Type: "service", Datacenters: ["*"], NodePool: "default", Version: 0, Stop: false });
  t.true((first.SubmitTime as number) > 0);
  const group = (first.TaskGroups as Obj[])[0] as Obj;
  t.like(group, { Count: 2, EphemeralDisk: { Sticky: false, Migrate: false, SizeMB: 300 } });
  t.like(group.Update, { MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10e9, HealthyDeadline: 300e9, ProgressDeadline: 600e9 });
  t.like(((group.Tasks as Obj[])[0] as Obj).Resources, { CPU: 100, MemoryMB: 300 });

  const same = await h.call("PUT", "/v1/jobs", { body: { Job: job("canon") } });
  t.is((same.body as Obj).JobModifyIndex, first.JobModifyIndex, "same spec: same JobModifyIndex");
  t.truthy((same.body as Obj).EvalID, "an evaluation is still created");
  t.is(((await h.call("GET", "/v1/job/canon")).body as Obj).Version, 0);

  await h.call("PUT", "/v1/jobs", { body: { Job: job("canon", "nginx:2") } });
  const versions = (await h.call("GET", "/v1/job/canon/versions")).body as Obj;
  t.deepEqual((versions.Versions as Obj[]).map((v) => v.Version), [1, 0]);
});

test("plan diff: Added for a new job, None when unchanged, Edited with destructive and in-place annotations", async (t) => {
  const plan = async (j: Obj): Promise<Obj> => {
    const r = await h.call("POST", `/v1/job/${String(j.ID)}/plan`, { body: { Job: j, Diff: true } });
    t.is(r.status, 200, r.text);
    return r.body as Obj;
  };
  const added = await plan(job("planned"));
  const addedDiff = added.Diff as Obj;
  t.is(addedDiff.Type, "Added");
  const g = (addedDiff.TaskGroups as Obj[])[0] as Obj;
  t.is(g.Type, "Added");
  t.deepEqual(g.Updates, { create: 2 });
  t.deepEqual(((g.Tasks as Obj[])[0] as Obj).Annotations, ["forces create"]);
  t.is(added.JobModifyIndex, 0);

  await h.call("PUT", "/v1/jobs", { body: { Job: job("planned") } });
  const none = await plan(job("planned"));
  t.is((none.Diff as Obj).Type, "None");
  t.deepEqual((((none.Diff as Obj).TaskGroups as Obj[])[0] as Obj).Updates, { ignore: 2 });

  const edited = await plan(job("planned", "nginx:2"));
  const ed = edited.Diff as Obj;
  t.is(ed.Type, "Edited");
  const eg = (ed.TaskGroups as Obj[])[0] as Obj;
  t.is(eg.Type, "Edited");
  const task = (eg.Tasks as Obj[])[0] as Obj;
  t.deepEqual(task.Annotations, ["forces create/destroy update"]);
  const config = (task.Objects as Obj[]).find((o) => o.Name === "Config") as Obj;
  t.deepEqual((config.Fields as Obj[]).filter((f) => f.Type !== "None"), [{ Type: "Edited", Name: "image", Old: "nginx:1", New: "nginx:2", Annotations: null }]);
  // max_parallel = 1: the plan shows the first batch of the rolling update, like `nomad job plan`.
  t.like(((edited.Annotations as Obj).DesiredTGUpdates as Obj).web, { DestructiveUpdate: 1, Ignore: 1 });

  const scaled = job("planned");
  ((scaled.TaskGroups as Obj[])[0] as Obj).Count = 3;
  const inplace = await plan(scaled);
  const sg = ((inplace.Diff as Obj).TaskGroups as Obj[])[0] as Obj;
  t.deepEqual((sg.Fields as Obj[]).find((f) => f.Name === "Count"), { Type: "Edited", Name: "Count", Old: "2", New: "3", Annotations: null });
  t.like(((inplace.Annotations as Obj).DesiredTGUpdates as Obj).web, { Place: 1, InPlaceUpdate: 2, DestructiveUpdate: 0 });

  const twoGroups = job("planned");
  (twoGroups.TaskGroups as Obj[]).push({ Name: "worker", Tasks: [{ Name: "w", Driver: "docker", Config: { image: "w:1" } }] });
  await h.call("PUT", "/v1/jobs", { body: { Job: twoGroups } });
  const dropped = await plan(job("planned"));
  const types = Object.fromEntries(((dropped.Diff as Obj).TaskGroups as Obj[]).map((x) => [x.Name, x.Type]));
  t.deepEqual(types, { web: "None", worker: "Deleted" });
});

test("jobs list: prefix, filter expressions, meta and namespaces", async (t) => {
  await h.call("PUT", "/v1/jobs", { body: { Job: job("list-a") } });
  await h.call("PUT", "/v1/jobs", { body: { Job: job("list-b", "x:1", { Meta: { owner: "team-b" }, Priority: 70 }) } });
  await h.call("PUT", "/v1/jobs?namespace=apps", { body: { Job: job("list-c") } });
  const ids = async (q: string): Promise<string[]> => ((await h.call("GET", `/v1/jobs?${q}`)).body as Obj[]).map((j) => String(j.ID));
  t.deepEqual(await ids("prefix=list-"), ["list-a", "list-b"]);
  t.deepEqual(await ids(`prefix=list-&filter=${encodeURIComponent('Priority == 70')}`), ["list-b"]);
  t.deepEqual(await ids(`prefix=list-&filter=${encodeURIComponent('ID != "list-a" and Type == "service"')}`), ["list-b"]);
  t.deepEqual(await ids(`prefix=list-&filter=${encodeURIComponent('Meta.owner == "team-b" or ID contains "-a"')}&meta=true`), ["list-a", "list-b"]);
  t.deepEqual(await ids(`namespace=apps`), ["list-c"]);
  t.true((await ids("namespace=*")).includes("list-c"));
  const withMeta = ((await h.call("GET", "/v1/jobs?prefix=list-a&meta=true")).body as Obj[])[0] as Obj;
  t.deepEqual(withMeta.Meta, { owner: "team-a" });
  t.false("Meta" in (((await h.call("GET", "/v1/jobs?prefix=list-a")).body as Obj[])[0] as Obj));
  const bad = await h.call("GET", `/v1/jobs?filter=${encodeURIComponent("Priority ==")}`);
  t.is(bad.status, 400);
  t.regex(bad.text, /^failed to create result paginator: failed to read filter expression: /);
});

test("bad bodies get the agent's 400s, stop and purge remove the job", async (t) => {
  const empty = await h.call("PUT", "/v1/jobs");
  t.is(empty.status, 400);
  t.is(empty.text, "Request body is empty");
  const malformed = await h.call("PUT", "/v1/jobs", { body: "{nope" });
  t.is(malformed.status, 400);
  t.is(malformed.text, "invalid character 'n' looking for beginning of object key string");
  t.is((await h.call("PUT", "/v1/jobs", { body: '{"Job": {"ID": "x",}}' })).text, "invalid character '}' looking for beginning of object key string");
  t.is((await h.call("PUT", "/v1/jobs", { body: '{"Job": ' })).text, "unexpected EOF");
  t.is((await h.call("PUT", "/v1/jobs", { body: {} })).text, "Job must be specified");
  t.is((await h.call("PUT", "/v1/jobs", { body: { Job: { Name: "x" } } })).text, "Job ID hasn't been provided");
  t.is((await h.call("PUT", "/v1/job/other", { body: { Job: job("x") } })).text, "Job ID does not match name");
  const invalid = await h.call("PUT", "/v1/jobs", { body: { Job: { ID: "empty" } } });
  t.is(invalid.status, 500);
  t.is(invalid.text, "1 error occurred:\n\t* Missing job task groups\n\n");
  const pool = await h.call("PUT", "/v1/jobs", { body: { Job: job("pooled", "x", { NodePool: "gpu" }) } });
  t.is(pool.text, 'job "pooled" is in nonexistent node pool "gpu"');
  t.is((await h.call("GET", "/v1/jobs/parse")).status, 405);
  t.is((await h.call("GET", "/v1/jobs/parse")).text, "Invalid method");
  t.is((await h.call("POST", "/v1/jobs/parse", { body: { JobHCL: "" } })).text, "Job spec is empty");
  const parseFail = await h.call("POST", "/v1/jobs/parse", { body: { JobHCL: "job {" } });
  t.is(parseFail.status, 400);
  t.is(parseFail.text, "Failed to parse job: no HCL parser in this harness");

  await h.call("PUT", "/v1/jobs", { body: { Job: job("stopme") } });
  const stop = await h.call("DELETE", "/v1/job/stopme");
  t.is(stop.status, 200);
  const stopped = (await h.call("GET", "/v1/job/stopme")).body as Obj;
  t.is(stopped.Stop, true);
  t.is(stopped.Version, 1);
  const purge = await h.call("DELETE", "/v1/job/stopme?purge=true");
  t.is(purge.status, 200);
  t.truthy((purge.body as Obj).EvalID);
  const gone = await h.call("GET", "/v1/job/stopme");
  t.is(gone.status, 404);
  t.is(gone.text, "job not found");
  t.regex(gone.headers["x-nomad-index"] ?? "", /^\d+$/);
});

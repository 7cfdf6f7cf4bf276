/**
 * Replays every Nomad sample of ../shared/api-reference/nomad against the
 * emulator: the state each sample implies is seeded first (jobs, canary
 * deployments, a blocked evaluation, a rescheduled allocation), then the
 * sample's method + path + query + body is sent and the status, header names
 * and body shape are compared (plain-text error bodies exactly).
 *
 * The comparison follows the api-reference README, with four documented
 * refinements (see `shape` below): `["..."]` is the docs' elision and stands
 * for any list; maps keyed by names (task groups, attributes, meta) are
 * compared by value shape, not by the sample's key names; an array element
 * may match any element the docs print; and fields Go encodes as `null` when
 * unset (nil pointers and slices, listed in NULLABLE) may be null where the
 * sample happened to show a value.
 */
import test, { type ExecutionContext } from "ava";
import { listSamples, loadSample, type Json, type Sample } from "../helpers/samples.js";
import { eventually } from "../helpers/eventually.js";
import { startNomadHarness, type HarnessReply } from "../../sim/nomad/harness.js";
import type { JobParser } from "../../sim/nomad/parse/index.js";

type H = Awaited<ReturnType<typeof startNomadHarness>>;
type Obj = { [k: string]: Json };
type T = ExecutionContext;

/** `eventually` for checks that answer `false` until they have a value. */
async function until<V>(check: () => Promise<V | false>, timeoutMs = 8000): Promise<V> {
  return (await eventually(check, { timeoutMs })) as V;
}

/** A string field of a JSON object ("" when absent). */
function s(v: Json | undefined): string {
  return typeof v === "string" ? v : "";
}

/** Maps whose keys are names (groups, tasks, nodes, attributes) rather than fields. */
const MAPS = new Set(["Attributes", "Drivers", "HostVolumes", "HostNetworks", "Links", "Scores", "NodesAvailable", "TaskStates", "TaskResources", "Summary", "QueuedAllocations", "FailedTGAllocs", "ClassEligibility", "DesiredTGUpdates", "DimensionExhausted", "ConstraintFiltered", "Updates", "TaskGroups"]);

/** User data of any shape (a driver's config, env, meta, event details): only the kind is compared. */
const OPAQUE = new Set(["Config", "Env", "Meta", "GetterOptions", "Details"]);

/** Fields whose Go type is a pointer, slice or map: nil encodes as null although a sample shows a value. */
const NULLABLE = new Set([
  "RescheduleTracker", // *RescheduleTracker: nil until an allocation is rescheduled
  "DeploymentStatus", // *AllocDeploymentStatus: nil until health is reported, and for allocations outside deployments
  "PlacedCanaries", // []string: nil without canaries (the docs' own second deployment shows null)
  "ReservedPorts", // []Port
  "DynamicPorts", // []Port
  "Networks", // []*NetworkResource
  "Scores", // map: nil when placement failed
  "FailedTGAllocs", // map: nil when everything was placed
  "Constraints", // []*Constraint
  "Affinities", // []*Affinity
  "Spreads", // []*Spread
  "Meta", // map[string]string
  "Env", // map[string]string
  "Templates", // []*Template
  "Artifacts", // []*TaskArtifact
  "Services", // []*Service
  "Tags", // []string
  "Checks", // []ServiceCheck
  "DispatchPayload", // *DispatchPayloadConfig
  "Lifecycle", // *TaskLifecycleConfig
  "Periodic", // *PeriodicConfig
  "ParameterizedJob", // *ParameterizedJobConfig
  "Details", // map[string]string of a task event
  "ClassEligibility", // map: nil when no class was evaluated
  "DimensionExhausted", // map
  "EvalIDs", // []string: nil when no evaluation was created
  "LastDrain", // *DrainMetadata: nil before the first drain
  "Attributes", // map: nil for drivers that are not detected
  "Migrate", // *MigrateStrategy: only service groups
  "Update", // *UpdateStrategy of a group: nil for batch
  "ReschedulePolicy", // *ReschedulePolicy: nil for system jobs
  "QueuedAllocations", // map: nil until the evaluation is processed
]);

/** Docs inconsistencies: the path (with [*] for any index) and why it is not compared. */
const EXEMPT: Record<string, Record<string, string>> = {
  "allocation-read": {
    "$.RescheduleTracker.Events[*].Delay": "printed as a string here and as a number in job-allocations; time.Duration encodes as a number",
  },
};

function kind(v: Json | undefined): string {
  return v === null || v === undefined ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function isElision(v: Json): boolean {
  return Array.isArray(v) && v.length > 0 && v.every((x) => x === "...");
}

/** sameShape from the api-reference README with the refinements described at the top. */
function shape(sample: Json, actual: Json | undefined, at: string, key: string, exempt: Record<string, string>): string[] {
  if (sample === null) return [];
  const generic = at.replace(/\[\d+\]/g, "[*]");
  if (generic in exempt) return [];
  if (isElision(sample)) return Array.isArray(actual) ? [] : [`${at}: expected array, got ${kind(actual)}`];
  if (actual === null && NULLABLE.has(key)) return [];
  if (kind(sample) !== kind(actual)) return [`${at}: expected ${kind(sample)}, got ${kind(actual)}`];
  if (OPAQUE.has(key)) return [];
  if (Array.isArray(sample)) {
    const a = actual as Json[];
    if (sample.length === 0) return [];
    return a.flatMap((el, i) => {
      const tries = sample.map((x) => shape(x, el, `${at}[${i}]`, `${key}[]`, exempt));
      return tries.find((t) => t.length === 0) ?? tries[0] ?? [];
    });
  }
  if (typeof sample === "object") {
    const so = sample;
    const a = actual as Obj;
    if (MAPS.has(key)) {
      const values = Object.values(so);
      if (values.length === 0) return [];
      return Object.keys(a).flatMap((k) => {
        const tries = values.map((v) => shape(v, a[k], `${at}.${k}`, k, exempt));
        return tries.find((t) => t.length === 0) ?? tries[0] ?? [];
      });
    }
    return Object.keys(so).flatMap((k) => (k in a ? shape(so[k] ?? null, a[k], `${at}.${k}`, k, exempt) : `${at}.${k}` in exempt ? [] : [`${at}.${k}: missing`]));
  }
  return [];
}

/** Checks status, header names (values where they are not placeholders) and the body. */
function conforms(t: T, sample: Sample, r: HarnessReply, name: string): void {
  t.is<number | null, number | null>(r.status, sample.status, `${name}: status (body ${r.text.slice(0, 300)})`);
  for (const [h, v] of Object.entries(sample.response_headers ?? {})) {
    const got = r.headers[h.toLowerCase()];
    t.is(typeof got, "string", `${name}: header ${h} missing`);
    if (h.toLowerCase() === "x-nomad-index") t.regex(got ?? "", /^\d+$/, `${name}: ${h} is a decimal integer`);
    else if (!v.startsWith("<")) t.is(got, v, `${name}: header ${h}`);
  }
  if (sample.response_body === null) return;
  if (typeof sample.response_body === "string" && sample.origin === "source-code") {
    t.is(r.text, sample.response_body, `${name}: body text`);
    return;
  }
  t.deepEqual(shape(sample.response_body, r.body as Json, "$", "", EXEMPT[name] ?? {}), [], `${name}: body shape`);
}

// --- the state the samples imply -------------------------------------------

const sampleJob = (name: string): Obj => {
  const body = loadSample(`nomad/${name}`).response_body as Obj;
  return structuredClone((body.Job ?? body) as Obj);
};

/** The allocation-read sample's job (service `example`, group cache, task redis with a service and networks). */
function exampleJob(id: string, extra: (j: Obj) => void = () => undefined): Obj {
  const j = sampleJob("allocation-read");
  j.ID = id;
  j.Name = id;
  for (const k of ["Status", "CreateIndex", "ModifyIndex", "JobModifyIndex"]) delete j[k];
  // The sample's `max_parallel = 0` turns deployments off; these jobs deploy.
  j.Update = { Stagger: 10e9, MaxParallel: 1 };
  extra(j);
  return j;
}

function groupOf(j: Obj): Obj {
  return (j.TaskGroups as Obj[])[0] as Obj;
}

function taskOf(j: Obj): Obj {
  return (groupOf(j).Tasks as Obj[])[0] as Obj;
}

const state: Record<string, string> = {};
let h: H;
let acl: H;

async function register(job: Obj): Promise<void> {
  const r = await h.call("PUT", "/v1/jobs", { body: { Job: job } });
  if (r.status !== 200) throw new Error(`register ${s(job.ID)}: ${r.status} ${r.text}`);
}

async function latestDeployment(id: string): Promise<Obj> {
  return until(async () => {
    const r = await h.call("GET", `/v1/job/${id}/deployment`);
    return r.body && typeof r.body === "object" ? (r.body as Obj) : false;
  });
}

async function deploymentStatus(id: string, version: number, status: string, canariesHealthy = false): Promise<Obj> {
  return until(async () => {
    const d = await latestDeployment(id);
    if (d.JobVersion !== version || d.Status !== status) return false;
    if (canariesHealthy) {
      const allocs = (await h.call("GET", `/v1/deployment/allocations/${s(d.ID)}`)).body as Obj[];
      if (!allocs.some((a) => (a.DeploymentStatus as Obj | null)?.Healthy === true)) return false;
    }
    return d;
  });
}

/** A job with `canary = 1` whose second version waits for promotion with a healthy canary. */
async function canaryWaiting(id: string, group: string, autoRevert: boolean): Promise<Obj> {
  const job = exampleJob(id, (j) => {
    groupOf(j).Name = group;
    j.Update = { MaxParallel: 1, Canary: 1, AutoRevert: autoRevert, MinHealthyTime: 0 };
  });
  await register(job);
  await deploymentStatus(id, 0, "successful");
  (taskOf(job).Config as Obj).image = "redis:7.2";
  await register(job);
  return deploymentStatus(id, 1, "running", true);
}

const stubParser: JobParser = {
  parse: () => Promise.resolve({ ok: true, job: loadSample("nomad/jobs-parse").response_body as Obj }),
  close: () => Promise.resolve(),
};

test.before(async () => {
  h = await startNomadHarness({ nodes: 4, parser: stubParser, healthyAfterMs: 1000 });
  h.world.addMachine({ cluster: "qa", nodePool: "prod", name: "prod-client-1" });
  await h.ready();
  acl = await startNomadHarness({ nodes: 1, aclToken: "management-secret" });
});

test.after.always(async () => {
  await h?.close();
  await acl?.close();
});

/** The request a sample describes, with its placeholders filled from the seeded state. */
function request(s: Sample, fill: Record<string, string> = {}): { method: string; path: string; body?: unknown; headers?: Record<string, string> } {
  let path = s.path ?? "";
  for (const [from, to] of Object.entries(fill)) path = path.split(from).join(to);
  const query = Object.entries(s.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(fill[v] ?? v)}`);
  let body = s.request_body === null ? undefined : JSON.stringify(s.request_body);
  if (body) for (const [from, to] of Object.entries(fill)) body = body.split(from).join(to);
  const headers = Object.fromEntries(Object.entries(s.request_headers ?? {}).filter(([, v]) => !v.startsWith("<")));
  return { method: s.method ?? "GET", path: query.length ? `${path}?${query.join("&")}` : path, ...(body ? { body } : {}), headers };
}

async function replay(t: T, name: string, fill: Record<string, string> = {}, on: H = h, override?: (req: ReturnType<typeof request>) => void): Promise<HarnessReply> {
  const s = loadSample(`nomad/${name}`);
  const req = request(s, fill);
  override?.(req);
  const r = await on.call(req.method, req.path, { ...(req.body !== undefined ? { body: req.body } : {}), ...(req.headers ? { headers: req.headers } : {}) });
  conforms(t, s, r, name);
  return r;
}

const covered = new Set<string>();
function sample(name: string, fn: (t: T) => Promise<void>): void {
  covered.add(name);
  test.serial(name, fn);
}

// Before `my-job` exists: planning it is planning a new job (the sample's diff is "Added").
sample("job-plan", async (t) => {
  await replay(t, "job-plan", {}, h, (req) => {
    const job = exampleJob("my-job", (j) => {
      j.Constraints = [{ LTarget: "${attr.kernel.name}", RTarget: "linux", Operand: "=" }];
      groupOf(j).Count = 11;
      (taskOf(j).Resources as Obj).CPU = 2500;
    });
    req.body = { Job: job, Diff: true, PolicyOverride: false };
  });
});

for (const name of ["error-job-not-found", "error-node-not-found", "error-eval-not-found", "error-deployment-not-found", "error-invalid-index", "error-invalid-wait", "status-leader", "status-peers"]) {
  sample(name, async (t) => {
    await replay(t, name);
  });
}

sample("error-permission-denied", async (t) => {
  // The anonymous token (no header) is a token lacking namespace:list-jobs.
  const r = await replay(t, "error-permission-denied", {}, acl);
  t.is(r.text, "Permission denied");
});

sample("jobs-parse", async (t) => {
  // Plumbing only, through a stub parser; HCL conformance is the parser's own test.
  await replay(t, "jobs-parse");
});

sample("jobs-register", async (t) => {
  const r = await replay(t, "jobs-register");
  t.truthy((r.body as Obj).EvalID);
});

test.serial("seed: example, my-job, flaky, canaries, blocked", async (t) => {
  await register(exampleJob("example"));
  await register(exampleJob("my-job", (j) => (j.Update = { MaxParallel: 1, Canary: 1, AutoRevert: true, MinHealthyTime: 0 })));
  await register(
    exampleJob("flaky", (j) => {
      taskOf(j).Meta = { sim_fail: "true", sim_run_ms: "200" };
      groupOf(j).ReschedulePolicy = { Attempts: 1, Interval: 3600e9, Delay: 100e6, DelayFunction: "constant", Unlimited: false };
    }),
  );
  await register(exampleJob("blocked", (j) => (groupOf(j).Constraints = [{ LTarget: "${attr.kernel.name}", RTarget: "plan9", Operand: "=" }])));
  await register({ ID: "sys", Type: "system", TaskGroups: [{ Name: "agent", Tasks: [{ Name: "agent", Driver: "docker", Config: { image: "fabio:1" }, Resources: { CPU: 50, MemoryMB: 32 } }] }] });
  await deploymentStatus("example", 0, "successful");
  await deploymentStatus("my-job", 0, "successful");
  // my-job v1 waits for its canary to be promoted: the docs' "latest deployment".
  const myJob = exampleJob("my-job", (j) => (j.Update = { MaxParallel: 1, Canary: 1, AutoRevert: true, MinHealthyTime: 0 }));
  (taskOf(myJob).Config as Obj).image = "redis:7.2";
  await register(myJob);
  const d = await deploymentStatus("my-job", 1, "running", true);
  state.myJobDeployment = s(d.ID);
  state.promoteGroups = s((await canaryWaiting("canary-web", "web", false)).ID);
  state.promoteAll = s((await canaryWaiting("canary-all", "cache", false)).ID);
  state.pause = s((await canaryWaiting("pause-me", "cache", false)).ID);
  state.fail = s((await canaryWaiting("revert-me", "cache", true)).ID);
  state.rescheduled = await until(async () => {
    const allocs = (await h.call("GET", "/v1/job/flaky/allocations")).body as Obj[];
    const a = allocs.find((x) => x.RescheduleTracker !== null);
    return a ? s(a.ID) : false;
  });
  state.blockedEval = await until(async () => {
    const evals = (await h.call("GET", "/v1/job/blocked/evaluations")).body as Obj[];
    const e = evals.find((x) => x.Status === "blocked");
    return e ? s(e.ID) : false;
  });
  const exampleAllocs = (await h.call("GET", "/v1/job/example/allocations")).body as Obj[];
  state.exampleAlloc = s(exampleAllocs[0]?.ID);
  state.exampleEval = s(exampleAllocs[0]?.EvalID);
  state.exampleNode = s(exampleAllocs[0]?.NodeID);
  const nodes = (await h.call("GET", "/v1/nodes")).body as Obj[];
  const spare = nodes.filter((n) => n.ID !== state.exampleNode);
  state.drainNode = s(spare[0]?.ID);
  state.eligibilityNode = s(spare[1]?.ID);
  state.purgeNode = s(spare[2]?.ID);
  // The samples below need all of these seeded; an empty one would make them test nothing.
  for (const [name, value] of Object.entries({ exampleAlloc: state.exampleAlloc, exampleEval: state.exampleEval, exampleNode: state.exampleNode, drainNode: state.drainNode, eligibilityNode: state.eligibilityNode, purgeNode: state.purgeNode })) {
    t.truthy(value, `seeded ${name}`);
  }
});

const Z = "5456bd7a-9fc0-c0dd-6131-cbee77f57577";

sample("blocking-query", async (t) => {
  const index = (await h.call("GET", "/v1/jobs")).headers["x-nomad-index"] ?? "1";
  const started = Date.now();
  const r = await replay(t, "blocking-query", { "<X-Nomad-Index of an earlier reply>": index, "<Go duration, e.g. 10s or 5m>": "150ms" });
  // Either something changed (a higher index), or the reply waited for the wait time.
  if (r.headers["x-nomad-index"] === index) t.true(Date.now() - started >= 140, "waited for the wait time");
  else t.true(Number(r.headers["x-nomad-index"]) > Number(index));
});

sample("pagination", async (t) => {
  const first = await h.call("GET", "/v1/jobs?per_page=1");
  const token = first.headers["x-nomad-nexttoken"] ?? "";
  t.truthy(token);
  const r = await replay(t, "pagination", { "<positive int>": "1", "<X-Nomad-NextToken of the previous page>": token });
  t.is((r.body as Obj[]).length, 1);
  t.not((r.body as Obj[])[0]?.ID, (first.body as Obj[])[0]?.ID);
});

for (const name of ["jobs-list", "allocations-list", "evaluations-list", "deployments-list", "nodes-list"]) {
  sample(name, async (t) => {
    await replay(t, name);
  });
}

sample("job-read", async (t) => {
  // The docs' job lives in namespace "apps": a periodic, parameterized batch job.
  const job = structuredClone(loadSample("nomad/job-read").response_body as Obj);
  job.ID = "my-job";
  job.Namespace = "apps";
  const reg = await h.call("PUT", "/v1/jobs?namespace=apps", { body: { Job: job } });
  t.is(reg.status, 200, reg.text);
  await replay(t, "job-read");
});

for (const name of ["job-allocations", "job-evaluations", "job-deployments", "job-deployment-latest", "job-summary", "job-scale-status"]) {
  sample(name, async (t) => {
    await replay(t, name);
  });
}

sample("allocation-read", async (t) => {
  await replay(t, "allocation-read", { [Z]: state.rescheduled ?? "" });
});

sample("evaluation-read", async (t) => {
  await replay(t, "evaluation-read", { "2deb5f06-a100-f01a-3316-5e501a4965e7": state.blockedEval ?? "" });
});

sample("evaluation-allocations", async (t) => {
  await replay(t, "evaluation-allocations", { [Z]: state.exampleEval ?? "" });
});

sample("deployment-read", async (t) => {
  await replay(t, "deployment-read", { "70638f62-5c19-193e-30d6-f9d6e689ab8e": state.myJobDeployment ?? "" });
});

sample("deployment-allocations", async (t) => {
  await replay(t, "deployment-allocations", { [Z]: state.myJobDeployment ?? "" });
});

sample("node-read", async (t) => {
  await replay(t, "node-read", { "f7476465-4d6e-c0de-26d0-e383c49be941": state.exampleNode ?? "" });
});

sample("node-allocations", async (t) => {
  await replay(t, "node-allocations", { "e02b6169-83bd-9df6-69bd-832765f333eb": state.exampleNode ?? "" });
});

sample("deployment-promote-groups", async (t) => {
  const r = await replay(t, "deployment-promote-groups", { [Z]: state.promoteGroups ?? "" });
  t.truthy((r.body as Obj).EvalID);
});

sample("deployment-promote-all", async (t) => {
  await replay(t, "deployment-promote-all", { [Z]: state.promoteAll ?? "" });
});

sample("deployment-pause", async (t) => {
  await replay(t, "deployment-pause", { [Z]: state.pause ?? "" });
});

sample("deployment-fail", async (t) => {
  const r = await replay(t, "deployment-fail", { [Z]: state.fail ?? "" });
  t.is((r.body as Obj).RevertedJobVersion, 0);
});

sample("job-evaluate", async (t) => {
  await replay(t, "job-evaluate");
});

sample("job-update", async (t) => {
  await replay(t, "job-update", {}, h, (req) => {
    const current = h.cluster.job("my-job");
    const job = exampleJob("my-job", (j) => (j.Update = { MaxParallel: 1, Canary: 1, AutoRevert: true, MinHealthyTime: 0 }));
    (taskOf(job).Config as Obj).image = "redis:7.4";
    req.body = { Job: job, EnforceIndex: true, JobModifyIndex: current?.JobModifyIndex ?? 0 };
  });
});

sample("allocation-stop", async (t) => {
  await replay(t, "allocation-stop", { [Z]: state.exampleAlloc ?? "" });
});

sample("node-eligibility", async (t) => {
  await replay(t, "node-eligibility", { "fb2170a8-257d-3c64-b14d-bc06cc94e34c": state.eligibilityNode ?? "" });
});

sample("node-drain", async (t) => {
  await replay(t, "node-drain", { "fb2170a8-257d-3c64-b14d-bc06cc94e34c": state.drainNode ?? "" });
});

sample("node-purge", async (t) => {
  const r = await replay(t, "node-purge", { "f7476465-4d6e-c0de-26d0-e383c49be941": state.purgeNode ?? "" });
  t.true(Array.isArray((r.body as Obj).EvalIDs));
});

sample("job-stop", async (t) => {
  await replay(t, "job-stop");
  t.is((await h.call("GET", "/v1/job/my-job")).status, 404);
});

test.serial("every Nomad sample is replayed", (t) => {
  t.deepEqual(listSamples("nomad").filter((n) => !covered.has(n)), []);
});

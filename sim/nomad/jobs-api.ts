import type { Router, SimReply, SimRequest } from "../core/http.js";
import { canonicalizeJob, specChanged, validateJob } from "./canonicalize.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError, textError } from "./errors.js";
import { deregisterJob, registerJob, revertJob, setStability, type RegisterReply } from "./job-ops.js";
import { refreshJob } from "./job-status.js";
import { isObject } from "./json.js";
import { annotateUpdates, diffJobs } from "./plan-diff.js";
import { blockingQuery, decodeBody, found, guarded, listQuery, missing, page, parseQuery, written, type QueryOpts, type ReadResult } from "./query.js";
import { subjectOf } from "./scheduler.js";
import type { Job, JsonObject } from "./types.js";
import { allocTerminal } from "./types.js";
import { allocStub, jobStub, jobSummary } from "./views.js";

/** Registers the /v1/jobs and /v1/job/:id routes. */
export function addJobRoutes(core: NomadCore, r: Router): void {
  const g = (h: (req: SimRequest) => SimReply | Promise<SimReply>): ((req: SimRequest) => Promise<SimReply>) => guarded(core, h);
  const read = (h: (req: SimRequest, q: QueryOpts) => Promise<SimReply>) =>
    g(async (req) => {
      const q = parseQuery(core, req);
      return "status" in q ? q : h(req, q);
    });

  r.add("GET", "/v1/jobs", read((req, q) => listJobs(core, req, q)));
  r.add(["PUT", "POST"], "/v1/jobs", g((req) => register(core, req, "")));
  r.add(["PUT", "POST"], "/v1/jobs/parse", g((req) => parse(core, req)));
  r.add("GET", "/v1/job/:id/versions", read((req, q) => versions(core, req, q)));
  r.add("GET", "/v1/job/:id/allocations", read((req, q) => jobAllocations(core, req, q)));
  r.add("GET", "/v1/job/:id/evaluations", read((req, q) => jobEvaluations(core, req, q)));
  r.add("GET", "/v1/job/:id/deployments", read((req, q) => jobDeployments(core, req, q)));
  r.add("GET", "/v1/job/:id/deployment", read((req, q) => latestDeployment(core, req, q)));
  r.add("GET", "/v1/job/:id/summary", read((req, q) => summary(core, req, q)));
  r.add("GET", "/v1/job/:id/scale", read((req, q) => scaleStatus(core, req, q)));
  r.add(["PUT", "POST"], "/v1/job/:id/plan", g((req) => plan(core, req)));
  r.add(["PUT", "POST"], "/v1/job/:id/evaluate", g((req) => evaluate(core, req)));
  r.add(["PUT", "POST"], "/v1/job/:id/revert", g((req) => revert(core, req)));
  r.add(["PUT", "POST"], "/v1/job/:id/stable", g((req) => stable(core, req)));
  r.add("GET", "/v1/job/:id", read((req, q) => readJob(core, req, q)));
  r.add(["PUT", "POST"], "/v1/job/:id", g((req) => register(core, req, req.params.id ?? "")));
  r.add("DELETE", "/v1/job/:id", g((req) => deregister(core, req)));
}

function ns(req: SimRequest): string {
  return req.query.get("namespace") || "default";
}

function listJobs(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const meta = parseBool(req, "meta") ?? false;
  return listQuery(core, req, q, () => core.store.tableIdx("jobs", "job_summary"), (): ReadResult => {
    const all = q.namespace === "*";
    const recs = [...core.store.jobs.values()].filter((r) => (all || r.current.Namespace === q.namespace) && r.current.ID.startsWith(q.prefix));
    const p = page(recs, q, (r) => (all ? `${r.current.Namespace}.${r.current.ID}` : r.current.ID), (r) => jobStub(core, r, meta));
    return { ok: true, body: p.items, ...(p.next ? { headers: { "X-Nomad-NextToken": p.next } } : {}) };
  });
}

function readJob(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  return blockingQuery(core, req, q, () => {
    const rec = core.store.job(q.namespace, id);
    return { index: rec ? rec.current.ModifyIndex : core.store.tableIdx("jobs"), result: () => (rec ? found(rec.current) : missing(ERR.jobNotFound)) };
  });
}

function versions(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  const diffs = parseBool(req, "diffs") ?? false;
  return blockingQuery(core, req, q, () => {
    const rec = core.store.job(q.namespace, id);
    const index = rec ? Math.max(...rec.versions.map((v) => v.ModifyIndex), rec.current.ModifyIndex) : core.store.tableIdx("job_version");
    return {
      index,
      result: () => {
        if (!rec) return missing(ERR.jobVersionsNotFound);
        const vs = rec.versions.map((v) => (v.Version === rec.current.Version ? rec.current : v));
        const d = diffs ? vs.slice(0, -1).map((v, i) => diffJobs(vs[i + 1], v)) : null;
        return found({ Versions: vs, Diffs: d, Index: index, LastContact: 0, KnownLeader: true, NextToken: "" });
      },
    };
  });
}

function maxIndex(items: Iterable<{ ModifyIndex: number }>, fallback: number): number {
  let max = 0;
  for (const i of items) if (i.ModifyIndex > max) max = i.ModifyIndex;
  return max || fallback;
}

function jobAllocations(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  const all = parseBool(req, "all") ?? false;
  return blockingQuery(core, req, q, () => {
    const allocs = [...core.store.allocsByJob(q.namespace, id)];
    const rec = core.store.job(q.namespace, id);
    return {
      index: maxIndex(allocs, rec?.current.CreateIndex ?? core.store.tableIdx("allocs")),
      result: () => {
        const createIndex = rec?.current.CreateIndex;
        const list = all || createIndex === undefined ? allocs : allocs.filter((a) => a.job.CreateIndex === createIndex);
        return found(list.sort((a, b) => a.CreateIndex - b.CreateIndex).map(allocStub));
      },
    };
  });
}

function jobEvaluations(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  return blockingQuery(core, req, q, () => {
    const evals = [...core.store.evalsByJob(q.namespace, id)];
    return { index: maxIndex(evals, core.store.tableIdx("evals")), result: () => found(evals.sort((a, b) => b.CreateIndex - a.CreateIndex)) };
  });
}

function jobDeployments(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  const all = parseBool(req, "all") ?? false;
  return blockingQuery(core, req, q, () => {
    const deps = core.store.deploymentsByJob(q.namespace, id);
    const rec = core.store.job(q.namespace, id);
    return {
      index: maxIndex(deps, core.store.tableIdx("deployment")),
      result: () => found([...deps].filter((d) => all || !rec || d.JobCreateIndex === rec.current.CreateIndex).reverse()),
    };
  });
}

function latestDeployment(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  return blockingQuery(core, req, q, () => {
    const d = core.store.latestDeployment(q.namespace, id);
    return { index: d?.ModifyIndex ?? core.store.tableIdx("deployment"), result: () => found(d ?? null) };
  });
}

function summary(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  return blockingQuery(core, req, q, () => {
    const rec = core.store.job(q.namespace, id);
    return { index: rec ? rec.summaryIndex : core.store.tableIdx("job_summary"), result: () => (rec ? found(jobSummary(core, rec)) : missing(ERR.jobNotFound)) };
  });
}

function scaleStatus(core: NomadCore, req: SimRequest, q: QueryOpts): Promise<SimReply> {
  const id = req.params.id ?? "";
  return blockingQuery(core, req, q, () => {
    const rec = core.store.job(q.namespace, id);
    return {
      index: rec ? Math.max(rec.current.ModifyIndex, rec.summaryIndex) : core.store.tableIdx("jobs"),
      result: () => {
        if (!rec) return missing(ERR.jobNotFound);
        const job = rec.current;
        const groups: JsonObject = {};
        for (const tg of job.TaskGroups) groups[tg.Name] = { Desired: tg.Count, Placed: 0, Running: 0, Healthy: 0, Unhealthy: 0, Events: null };
        for (const a of core.store.allocsByJob(job.Namespace, job.ID)) {
          const s = groups[a.TaskGroup];
          if (!isObject(s) || allocTerminal(a)) continue;
          s.Placed = Number(s.Placed) + 1;
          if (a.ClientStatus === "running") s.Running = Number(s.Running) + 1;
          if (a.DeploymentStatus?.Healthy === true) s.Healthy = Number(s.Healthy) + 1;
          if (a.DeploymentStatus?.Healthy === false) s.Unhealthy = Number(s.Unhealthy) + 1;
        }
        return found({ JobID: job.ID, Namespace: job.Namespace, JobCreateIndex: job.CreateIndex, JobModifyIndex: job.JobModifyIndex, JobStopped: job.Stop, TaskGroups: groups });
      },
    };
  });
}

/** The job of a register or plan body, canonicalized as the server stores it. */
function jobFromBody(core: NomadCore, req: SimRequest, args: JsonObject, pathID: string, mismatch: string, noID: string): Job {
  const raw = args.Job;
  if (raw === undefined || raw === null) throw new NomadError(400, ERR.jobMustBeSpecified);
  if (!isObject(raw)) throw new NomadError(400, `json: cannot unmarshal ${Array.isArray(raw) ? "array" : typeof raw} into Go struct field JobRegisterRequest.Job of type api.Job`);
  if (raw.ID === undefined || raw.ID === null) throw new NomadError(400, noID);
  if (typeof raw.ID !== "string") throw new NomadError(400, `json: cannot unmarshal ${typeof raw.ID} into Go struct field Job.Job.ID of type string`);
  if (pathID && raw.ID !== pathID) throw new NomadError(400, mismatch);
  if (raw.Type === "system" && Array.isArray(raw.TaskGroups) && raw.TaskGroups.some((tg) => isObject(tg) && isObject(tg.Scaling))) {
    throw new NomadError(400, "Task groups with job type system do not support scaling blocks");
  }
  const namespace = req.query.get("namespace") || (typeof args.Namespace === "string" && args.Namespace) || (typeof raw.Namespace === "string" && raw.Namespace) || "default";
  const region = req.query.get("region") || (typeof args.Region === "string" && args.Region) || (typeof raw.Region === "string" && raw.Region) || "";
  if (region && region !== "global" && region !== core.cfg.region) throw new NomadError(500, "No path to region");
  const job = canonicalizeJob(raw, { namespace, region: core.cfg.region });
  const invalid = validateJob(job);
  if (invalid) throw new NomadError(500, invalid);
  return job;
}

function register(core: NomadCore, req: SimRequest, pathID: string): SimReply {
  const args = decodeBody(req);
  const job = jobFromBody(core, req, args, pathID, ERR.jobIdMismatchName, ERR.jobIdMissing);
  const evalPriority = typeof args.EvalPriority === "number" ? args.EvalPriority : 0;
  if (evalPriority !== 0 && (evalPriority < 1 || evalPriority > 100)) throw new NomadError(400, "Eval priority must be between 1 and 100 inclusively");
  const reply = registerJob(core, job, {
    enforceIndex: args.EnforceIndex === true,
    jobModifyIndex: typeof args.JobModifyIndex === "number" ? args.JobModifyIndex : 0,
    preserveCounts: args.PreserveCounts === true,
    ...(evalPriority ? { evalPriority } : {}),
  });
  return written(reply.Index, reply);
}

function deregister(core: NomadCore, req: SimRequest): SimReply {
  const purge = parseBool(req, "purge", true) ?? false;
  parseBool(req, "global", true);
  const reply = deregisterJob(core, ns(req), req.params.id ?? "", purge);
  return written(reply.Index, reply);
}

async function parse(core: NomadCore, req: SimRequest): Promise<SimReply> {
  const args = decodeBody(req);
  const hcl = args.JobHCL;
  if (typeof hcl !== "string" || hcl === "") throw new NomadError(400, "Job spec is empty");
  const res = await core.parser.parse({
    JobHCL: hcl,
    ...(typeof args.Variables === "string" ? { Variables: args.Variables } : {}),
    Canonicalize: args.Canonicalize === true,
  });
  if (!res.ok) return textError(400, `Failed to parse job: ${res.error}`);
  return { status: 200, body: res.job };
}

function plan(core: NomadCore, req: SimRequest): SimReply {
  const args = decodeBody(req);
  const job = jobFromBody(core, req, args, req.params.id ?? "", ERR.jobIdMismatch, ERR.jobPlanNeedsId);
  const existing = core.store.job(job.Namespace, job.ID)?.current;
  const changed = !existing || specChanged(existing, job);
  const hypothetical: Job = {
    ...job,
    Version: existing ? (changed ? existing.Version + 1 : existing.Version) : 0,
    CreateIndex: existing?.CreateIndex ?? 0,
    JobModifyIndex: existing?.JobModifyIndex ?? 0,
    ModifyIndex: existing?.ModifyIndex ?? 0,
  };
  const dry = core.scheduler.dryRun(hypothetical);
  let diff = null;
  if (args.Diff === true) {
    diff = diffJobs(existing, job);
    const desired = dry.annotations.DesiredTGUpdates;
    if (isObject(desired)) annotateUpdates(diff, desired);
  }
  const index = existing?.JobModifyIndex ?? 0;
  return written(index, {
    Annotations: dry.annotations,
    FailedTGAllocs: dry.failedTGAllocs,
    JobModifyIndex: index,
    CreatedEvals: dry.createdEvals,
    Diff: diff,
    NextPeriodicLaunch: "0001-01-01T00:00:00Z",
    Warnings: "",
    Index: index,
  });
}

function evaluate(core: NomadCore, req: SimRequest): SimReply {
  const id = req.params.id ?? "";
  let force = false;
  if (req.body.length > 0) {
    const args = decodeBody(req);
    if (!args.JobID) throw new NomadError(400, "Job ID must be specified");
    if (args.JobID !== id) throw new NomadError(400, "JobID not same as job name");
    force = isObject(args.EvalOptions) && args.EvalOptions.ForceReschedule === true;
  }
  const rec = core.store.job(ns(req), id);
  if (!rec) throw new NomadError(500, ERR.jobNotFound);
  const job = rec.current;
  if (job.Periodic) throw new NomadError(500, "can't evaluate periodic job");
  if (job.ParameterizedJob) throw new NomadError(500, "can't evaluate parameterized job");
  const ev = core.scheduler.newEval(subjectOf(job), "job-register", { JobModifyIndex: job.ModifyIndex });
  const idx = core.store.write("evals", "allocs", "jobs", "job_summary");
  if (force) {
    for (const a of core.store.allocsByJob(job.Namespace, job.ID)) {
      if (a.NextAllocation === "" && a.ClientStatus === "failed" && a.DesiredStatus === "run") {
        a.DesiredTransition = { ...a.DesiredTransition, ForceReschedule: true };
        a.ModifyIndex = idx;
      }
    }
  }
  core.scheduler.submit(ev, idx);
  refreshJob(core, rec, idx);
  const reply: RegisterReply = { EvalID: ev.ID, EvalCreateIndex: idx, JobModifyIndex: job.ModifyIndex, Warnings: "", Index: idx, LastContact: 0, KnownLeader: false, NextToken: "" };
  return written(idx, reply);
}

function revert(core: NomadCore, req: SimRequest): SimReply {
  const args = decodeBody(req);
  if (!args.JobID) throw new NomadError(400, "JobID must be specified");
  if (args.JobID !== req.params.id) throw new NomadError(400, ERR.jobIdMismatch);
  const version = typeof args.JobVersion === "number" ? args.JobVersion : 0;
  const enforce = typeof args.EnforcePriorVersion === "number" ? args.EnforcePriorVersion : undefined;
  const reply = revertJob(core, ns(req), req.params.id ?? "", version, enforce);
  return { status: 200, headers: { "X-Nomad-Index": String(reply.Index), "X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "0" }, body: reply };
}

function stable(core: NomadCore, req: SimRequest): SimReply {
  const args = decodeBody(req);
  if (!args.JobID) throw new NomadError(400, "JobID must be specified");
  if (args.JobID !== req.params.id) throw new NomadError(400, ERR.jobIdMismatch);
  const idx = setStability(core, ns(req), req.params.id ?? "", typeof args.JobVersion === "number" ? args.JobVersion : 0, args.Stable === true);
  return written(idx, { Index: idx });
}

/** strconv.ParseBool of a query parameter; a bad value is the agent's 500 (fmt.Errorf) when `strict`. */
function parseBool(req: SimRequest, name: string, strict = false): boolean | undefined {
  const v = req.query.get(name);
  if (v === null || v === "") return undefined;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  if (strict) throw new NomadError(500, `Failed to parse value of "${name}" (${v}) as a bool: strconv.ParseBool: parsing "${v}": invalid syntax`);
  return undefined;
}

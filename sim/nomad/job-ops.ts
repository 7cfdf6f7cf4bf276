import { specChanged } from "./canonicalize.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError } from "./errors.js";
import { refreshJob } from "./job-status.js";
import { subjectOf } from "./scheduler.js";
import { TRACKED_VERSIONS, jobKey, type JobRec } from "./store.js";
import type { Job } from "./types.js";

/** The check-and-set and count options of a register request. */
export interface RegisterOptions {
  enforceIndex?: boolean;
  jobModifyIndex?: number;
  preserveCounts?: boolean;
  evalPriority?: number;
}

/** structs.JobRegisterResponse as the HTTP API returns it. */
export interface RegisterReply {
  EvalID: string;
  EvalCreateIndex: number;
  JobModifyIndex: number;
  Warnings: string;
  Index: number;
  LastContact: number;
  KnownLeader: boolean;
  NextToken: string;
}

/**
 * Job.Register: check-and-set, node pool check, a new version only when the
 * spec changed, and an evaluation either way (none for periodic or
 * parameterized jobs). `job` is canonicalized and validated already.
 */
export function registerJob(core: NomadCore, job: Job, opts: RegisterOptions = {}): RegisterReply {
  const store = core.store;
  const rec = store.job(job.Namespace, job.ID);
  const existing = rec?.current;
  if (opts.enforceIndex) {
    const jmi = opts.jobModifyIndex ?? 0;
    if (existing) {
      if (jmi === 0) throw new NomadError(500, `${ERR.enforcePrefix} 0: job already exists`);
      if (jmi !== existing.JobModifyIndex) throw new NomadError(500, `${ERR.enforcePrefix} ${jmi}: job exists with conflicting job modify index: ${existing.JobModifyIndex}`);
    } else if (jmi !== 0) throw new NomadError(500, `${ERR.enforcePrefix} ${jmi}: job does not exist`);
  }
  if (job.NodePool !== "all" && !core.nodes.poolExists(job.NodePool)) {
    throw new NomadError(500, `job "${job.ID}" is in nonexistent node pool "${job.NodePool}"`);
  }
  if (existing && existing.Type !== job.Type) throw new NomadError(500, `cannot update job from type "${existing.Type}" to "${job.Type}"`);
  if (existing && opts.preserveCounts) {
    for (const g of job.TaskGroups) {
      const prev = existing.TaskGroups.find((p) => p.Name === g.Name);
      if (prev) g.Count = prev.Count;
    }
  }
  const noEval = !!job.Periodic || !!job.ParameterizedJob;
  const ev = noEval ? undefined : core.scheduler.newEval(subjectOf(job), "job-register", opts.evalPriority ? { Priority: opts.evalPriority } : {});
  const reply: RegisterReply = { EvalID: ev?.ID ?? "", EvalCreateIndex: 0, JobModifyIndex: 0, Warnings: "", Index: 0, LastContact: 0, KnownLeader: false, NextToken: "" };

  if (!existing || specChanged(existing, job)) {
    const idx = store.write("jobs", "job_version", "job_summary", ...(ev ? (["evals"] as const) : []));
    const stored: Job = {
      ...job,
      Version: existing ? existing.Version + 1 : 0,
      CreateIndex: existing ? existing.CreateIndex : idx,
      ModifyIndex: idx,
      JobModifyIndex: idx,
      SubmitTime: core.nowNs(),
      Status: existing?.Status ?? "pending",
      Stable: false,
    };
    putVersion(core, rec, stored, idx);
    if (ev) {
      ev.JobModifyIndex = idx;
      core.scheduler.submit(ev, idx);
      reply.EvalCreateIndex = idx;
    }
    refreshJob(core, store.job(job.Namespace, job.ID), idx);
    reply.JobModifyIndex = idx;
    reply.Index = idx;
    return reply;
  }
  reply.JobModifyIndex = existing.JobModifyIndex;
  if (ev) {
    const idx = store.write("evals", "jobs", "job_summary");
    ev.JobModifyIndex = existing.JobModifyIndex;
    core.scheduler.submit(ev, idx);
    refreshJob(core, rec, idx);
    reply.EvalCreateIndex = idx;
    reply.Index = idx;
  }
  return reply;
}

function putVersion(core: NomadCore, rec: JobRec | undefined, job: Job, idx: number): void {
  if (rec) {
    rec.current = job;
    rec.versions.unshift(job);
    if (rec.versions.length > TRACKED_VERSIONS) rec.versions.length = TRACKED_VERSIONS;
    return;
  }
  const key = jobKey(job.Namespace, job.ID);
  core.store.jobs.set(key, { key, current: job, versions: [job], summaryIndex: idx, summaryCreateIndex: idx });
}

/** structs.JobDeregisterResponse. */
export interface DeregisterReply {
  EvalID: string;
  EvalCreateIndex: number;
  JobModifyIndex: number;
  VolumeEvalID: string;
  VolumeEvalIndex: number;
  Index: number;
  LastContact: number;
  KnownLeader: boolean;
  NextToken: string;
}

/** Job.Deregister: stop (a new version with Stop set) or purge, and a job-deregister evaluation. */
export function deregisterJob(core: NomadCore, namespace: string, id: string, purge: boolean): DeregisterReply {
  const reply: DeregisterReply = { EvalID: "", EvalCreateIndex: 0, JobModifyIndex: 0, VolumeEvalID: "", VolumeEvalIndex: 0, Index: 0, LastContact: 0, KnownLeader: false, NextToken: "" };
  const store = core.store;
  const rec = store.job(namespace, id);
  if (!rec) return reply;
  const job = rec.current;
  const noEval = !!job.Periodic || !!job.ParameterizedJob;
  const ev = noEval ? undefined : core.scheduler.newEval({ namespace, jobID: id, type: "service", priority: job.Priority }, "job-deregister");
  const idx = store.write("jobs", "job_version", "job_summary", "evals");
  if (purge) {
    store.jobs.delete(rec.key);
  } else if (!job.Stop) {
    putVersion(core, rec, { ...job, Stop: true, Version: job.Version + 1, ModifyIndex: idx, JobModifyIndex: idx, SubmitTime: core.nowNs(), Stable: false }, idx);
  }
  if (ev) {
    ev.JobModifyIndex = idx;
    core.scheduler.submit(ev, idx);
    reply.EvalID = ev.ID;
  }
  if (!purge) refreshJob(core, rec, idx);
  reply.JobModifyIndex = idx;
  reply.EvalCreateIndex = idx;
  reply.Index = idx;
  return reply;
}

/** Job.Revert: registers an older version's spec as a new version. */
export function revertJob(core: NomadCore, namespace: string, id: string, version: number, enforcePriorVersion: number | undefined): RegisterReply {
  const rec = core.store.job(namespace, id);
  if (!rec) throw new NomadError(500, `job "${id}" not found`);
  if (version === rec.current.Version) throw new NomadError(500, "can't revert to current version");
  const target = rec.versions.find((v) => v.Version === version);
  if (!target) throw new NomadError(500, `job "${id}" in namespace "${namespace}" at version ${version} not found`);
  const opts: RegisterOptions = {};
  if (enforcePriorVersion !== undefined) {
    if (rec.current.Version !== enforcePriorVersion) throw new NomadError(500, `Current job has version ${rec.current.Version}; enforcing version ${enforcePriorVersion}`);
    opts.enforceIndex = true;
    opts.jobModifyIndex = rec.current.JobModifyIndex;
  }
  return registerJob(core, { ...target, Stop: false }, opts);
}

/** Job.Stable: marks one version stable (or not); the current job too when it is that version. */
export function setStability(core: NomadCore, namespace: string, id: string, version: number, stable: boolean): number {
  const rec = core.store.job(namespace, id);
  const target = rec?.versions.find((v) => v.Version === version);
  if (!rec || !target) throw new NomadError(500, `job "${id}" in namespace "${namespace}" at version ${version} not found`);
  const idx = core.store.write("jobs", "job_version");
  markStable(rec, version, stable, idx);
  return idx;
}

/** Replaces the version (and the current job when it is that version) with a copy carrying `Stable`. */
export function markStable(rec: JobRec, version: number, stable: boolean, idx: number): void {
  const i = rec.versions.findIndex((v) => v.Version === version);
  const v = rec.versions[i];
  if (!v) return;
  const copy: Job = { ...v, Stable: stable, ModifyIndex: idx };
  rec.versions[i] = copy;
  if (rec.current.Version === version) rec.current = { ...rec.current, Stable: stable, ModifyIndex: idx };
}

import type { NomadCore } from "./core.js";
import type { JobRec } from "./store.js";
import type { Job } from "./types.js";
import { allocTerminal } from "./types.js";

/**
 * Nomad's state store getJobStatus: system, periodic and parameterized jobs
 * run until stopped; other jobs run while an allocation is non-terminal, are
 * pending while an evaluation is, and are dead once everything is terminal.
 */
export function computeJobStatus(core: NomadCore, job: Job): "pending" | "running" | "dead" {
  if (job.Type === "system" || job.Type === "sysbatch" || job.Periodic || job.ParameterizedJob) return job.Stop ? "dead" : "running";
  let hasAlloc = false;
  for (const a of core.store.allocsByJob(job.Namespace, job.ID)) {
    hasAlloc = true;
    if (!allocTerminal(a)) return "running";
  }
  let hasEval = false;
  for (const e of core.store.evalsByJob(job.Namespace, job.ID)) {
    if (e.Status === "pending" || e.Status === "blocked") return "pending";
    hasEval = true;
  }
  // Garbage collection may have taken every evaluation and allocation of a finished job.
  return hasAlloc || hasEval || job.Stop || job.Status === "dead" ? "dead" : "pending";
}

/**
 * Re-derives a job's status after a write at `idx` that touched its
 * allocations or evaluations, and records the summary change. The stored job
 * is replaced by a shallow copy (published objects are never mutated).
 */
export function refreshJob(core: NomadCore, rec: JobRec | undefined, idx: number): void {
  if (!rec) return;
  rec.summaryIndex = idx;
  const status = computeJobStatus(core, rec.current);
  if (status === rec.current.Status) return;
  rec.current = { ...rec.current, Status: status, ModifyIndex: idx };
}

import type { NomadCore } from "./core.js";
import { jobKey } from "./store.js";
import { allocTerminal, deploymentActive } from "./types.js";

/** Nomad's core scheduler runs its garbage collection every 5 minutes. */
export const GC_INTERVAL_MS = 5 * 60_000;

/**
 * Garbage collection as Nomad's core jobs do it, in small: terminal
 * evaluations older than the threshold (eval_gc_threshold, 1h) go with their
 * terminal allocations, once nothing of the evaluation still runs; terminal
 * deployments older than it go too, except a job's latest. Jobs and nodes
 * are kept (a stopped job stays readable; a down node stays until purged).
 * Keeps a long demo or a churning benchmark lean.
 */
export function collectGarbage(core: NomadCore, thresholdMs: number): number {
  const store = core.store;
  const cutoff = (core.nowMs() - thresholdMs) * 1e6;
  const evals = [...store.evals.values()].filter((e) => (e.Status === "complete" || e.Status === "failed" || e.Status === "canceled") && e.ModifyTime < cutoff);
  const allocs = [];
  const deadEvals = [];
  for (const e of evals) {
    const own = [...store.allocsByEval(e.ID)];
    if (own.some((a) => !allocTerminal(a) || a.ModifyTime >= cutoff)) continue;
    deadEvals.push(e);
    allocs.push(...own);
  }
  const deployments = [...store.deployments.values()].filter((d) => !deploymentActive(d) && d.ModifyTime < cutoff && store.latestDeployment(d.Namespace, d.JobID) !== d);
  if (deadEvals.length + allocs.length + deployments.length === 0) return 0;
  store.write("evals", "allocs", "deployment", "job_summary");
  for (const a of allocs) store.deleteAlloc(a);
  for (const e of deadEvals) store.deleteEval(e);
  for (const d of deployments) store.deleteDeployment(d);
  for (const e of deadEvals) {
    const rec = store.jobs.get(jobKey(e.Namespace, e.JobID));
    if (rec) rec.summaryIndex = store.index;
  }
  return deadEvals.length + allocs.length + deployments.length;
}

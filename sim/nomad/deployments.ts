import type { SimTimer } from "../core/clock.js";
import { specChanged } from "./canonicalize.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError, multiError } from "./errors.js";
import { markStable, registerJob } from "./job-ops.js";
import { subjectOf } from "./scheduler.js";
import type { AllocRec, DeploymentRec, Job } from "./types.js";
import { deploymentActive } from "./types.js";

/** structs.DeploymentUpdateResponse. */
export interface DeploymentUpdateReply {
  EvalID: string;
  EvalCreateIndex: number;
  DeploymentModifyIndex: number;
  RevertedJobVersion: number | null;
  Index: number;
}

const RUNNING = "Deployment is running";
const NEEDS_PROMOTION = "Deployment is running but requires manual promotion";
const AUTO_PROMOTION = "Deployment is running pending automatic promotion";

/**
 * The deployment watcher: folds allocation health into deployment counters,
 * promotes automatically, fails on unhealthy allocations or a missed
 * progress deadline (rolling back to the last stable version when
 * auto_revert is set), marks the job version stable on success, and asks for
 * evaluations so rolling updates continue.
 */
export class DeploymentWatcher {
  private readonly deadlines = new Map<string, SimTimer>();
  private readonly pendingEval = new Set<string>();

  constructor(private readonly core: NomadCore) {}

  /**
   * Called after each evaluation of the deployment's job: arms the progress
   * deadline once, and completes a deployment whose allocations are all
   * healthy already (the last one may have turned healthy while it was paused).
   */
  watch(d: DeploymentRec): void {
    if (!deploymentActive(d)) return;
    if (!this.deadlines.has(d.ID)) this.armDeadline(d);
    if (d.Status === "running" && !requiresPromotion(d) && this.complete(d)) this.succeed(d);
  }

  forget(d: DeploymentRec): void {
    this.core.timers.cancel(this.deadlines.get(d.ID));
    this.deadlines.delete(d.ID);
  }

  private armDeadline(d: DeploymentRec): void {
    this.core.timers.cancel(this.deadlines.get(d.ID));
    const ms = Math.min(...Object.values(d.TaskGroups).map((g) => (g.ProgressDeadline > 0 ? g.ProgressDeadline / 1e6 : Infinity)));
    if (!Number.isFinite(ms)) return;
    this.deadlines.set(
      d.ID,
      this.core.timers.after(ms, () => {
        this.deadlines.delete(d.ID);
        if (d.Status !== "running" || requiresPromotion(d)) return;
        this.failDeployment(d, "Failed due to progress deadline");
      }),
    );
  }

  /** An allocation of a deployment reported health (in the write at `idx`, which covers the deployment table). */
  allocHealthChanged(a: AllocRec, idx: number): void {
    const d = this.core.store.deployments.get(a.DeploymentID);
    if (!d || !deploymentActive(d)) return;
    const st = d.TaskGroups[a.TaskGroup];
    if (!st) return;
    if (a.DeploymentStatus?.Healthy) st.HealthyAllocs++;
    else st.UnhealthyAllocs++;
    d.ModifyIndex = idx;
    d.ModifyTime = this.core.nowNs();
    if (!a.DeploymentStatus?.Healthy) {
      this.failDeployment(d, "Failed due to unhealthy allocations");
      return;
    }
    st.RequireProgressBy = new Date(this.core.nowMs() + st.ProgressDeadline / 1e6).toISOString();
    this.armDeadline(d);
    if (d.Status !== "running") return;
    if (requiresPromotion(d)) {
      if (autoPromotable(d) && this.canariesHealthy(d)) this.promote(d, undefined);
      return;
    }
    if (this.complete(d)) this.succeed(d);
    else this.evalSoon(d);
  }

  private canariesHealthy(d: DeploymentRec): boolean {
    return Object.values(d.TaskGroups).every((g) => {
      if (g.DesiredCanaries === 0) return true;
      const ids = g.PlacedCanaries ?? [];
      const healthy = ids.filter((id) => this.core.store.allocs.get(id)?.DeploymentStatus?.Healthy === true).length;
      return healthy >= g.DesiredCanaries;
    });
  }

  private complete(d: DeploymentRec): boolean {
    return Object.values(d.TaskGroups).every((g) => (g.DesiredCanaries === 0 || g.Promoted) && g.HealthyAllocs >= g.DesiredTotal);
  }

  private succeed(d: DeploymentRec): void {
    const idx = this.core.store.write("deployment", "jobs", "job_version");
    d.Status = "successful";
    d.StatusDescription = "Deployment completed successfully";
    d.ModifyIndex = idx;
    d.ModifyTime = this.core.nowNs();
    this.forget(d);
    const rec = this.core.store.job(d.Namespace, d.JobID);
    if (rec && rec.current.CreateIndex === d.JobCreateIndex) markStable(rec, d.JobVersion, true, idx);
  }

  private evalSoon(d: DeploymentRec): void {
    if (this.pendingEval.has(d.ID)) return;
    this.pendingEval.add(d.ID);
    setImmediate(() => {
      this.pendingEval.delete(d.ID);
      const rec = this.core.store.job(d.Namespace, d.JobID);
      if (this.core.closed || !rec || d.Status !== "running") return;
      this.core.scheduler.evaluate(rec.current, "deployment-watcher", { DeploymentID: d.ID });
    });
  }

  /** Deployment.Promote: all groups, or the named ones. */
  promote(d: DeploymentRec, groups: string[] | undefined): DeploymentUpdateReply {
    if (!deploymentActive(d)) throw new NomadError(500, ERR.deploymentTerminalNoPromote);
    const unhealthy: string[] = [];
    let have = false;
    for (const [name, g] of Object.entries(d.TaskGroups)) {
      if (groups && !groups.includes(name)) continue;
      for (const id of g.PlacedCanaries ?? []) {
        const a = this.core.store.allocs.get(id);
        if (!a) continue;
        if (a.DeploymentStatus?.Healthy !== true) unhealthy.push(`Canary allocation "${a.ID}" for group "${name}" is not healthy`);
        else have = true;
      }
    }
    if (unhealthy.length) throw new NomadError(500, multiError(unhealthy));
    if (!have) throw new NomadError(500, ERR.noCanariesToPromote);
    const rec = this.core.store.job(d.Namespace, d.JobID);
    const ev = rec ? this.core.scheduler.newEval(subjectOf(rec.current), "deployment-watcher", { DeploymentID: d.ID, JobModifyIndex: rec.current.JobModifyIndex }) : undefined;
    const idx = this.core.store.write("deployment", "evals", "jobs", "job_summary");
    for (const [name, g] of Object.entries(d.TaskGroups)) if (!groups || groups.includes(name)) g.Promoted = true;
    if (!requiresPromotion(d) && d.Status === "running") d.StatusDescription = RUNNING;
    d.ModifyIndex = idx;
    d.ModifyTime = this.core.nowNs();
    if (ev) this.core.scheduler.submit(ev, idx);
    this.armDeadline(d);
    return { EvalID: ev?.ID ?? "", EvalCreateIndex: ev ? idx : 0, DeploymentModifyIndex: idx, RevertedJobVersion: null, Index: idx };
  }

  /** Deployment.Pause: pause or resume. */
  pause(d: DeploymentRec, pause: boolean): DeploymentUpdateReply {
    if (!deploymentActive(d)) throw new NomadError(500, pause ? ERR.deploymentTerminalNoPause : ERR.deploymentTerminalNoResume);
    const rec = this.core.store.job(d.Namespace, d.JobID);
    const ev = !pause && rec ? this.core.scheduler.newEval(subjectOf(rec.current), "deployment-watcher", { DeploymentID: d.ID, JobModifyIndex: rec.current.JobModifyIndex }) : undefined;
    const idx = this.core.store.write("deployment", ...(ev ? (["evals", "jobs", "job_summary"] as const) : []));
    d.Status = pause ? "paused" : "running";
    d.StatusDescription = pause ? "Deployment is paused" : requiresPromotion(d) ? (autoPromotable(d) ? AUTO_PROMOTION : NEEDS_PROMOTION) : RUNNING;
    d.ModifyIndex = idx;
    d.ModifyTime = this.core.nowNs();
    if (ev) this.core.scheduler.submit(ev, idx);
    return { EvalID: ev?.ID ?? "", EvalCreateIndex: ev ? idx : 0, DeploymentModifyIndex: idx, RevertedJobVersion: null, Index: idx };
  }

  /** Deployment.Fail (by the user). */
  fail(d: DeploymentRec): DeploymentUpdateReply {
    if (!deploymentActive(d)) throw new NomadError(500, ERR.deploymentTerminalNoFail);
    return this.failDeployment(d, "Deployment marked as failed");
  }

  /**
   * Fails a deployment; with auto_revert in any group, registers the latest
   * stable version (older than the deployment's) as a new version.
   */
  failDeployment(d: DeploymentRec, base: string): DeploymentUpdateReply {
    this.forget(d);
    const rec = this.core.store.job(d.Namespace, d.JobID);
    const wantsRevert = Object.values(d.TaskGroups).some((g) => g.AutoRevert);
    let desc = base;
    let target: Job | undefined;
    if (wantsRevert && rec) {
      const stable = rec.versions.find((v) => v.Stable && v.Version < d.JobVersion);
      if (!stable) desc = `${base} - no stable job version to auto revert to`;
      else if (!specChanged(stable, rec.current)) desc = `${base} - not rolling back to stable job version ${stable.Version} as current job has same specification`;
      else {
        desc = `${base} - rolling back to job version ${stable.Version}`;
        target = stable;
      }
    }
    const ev = rec && !target ? this.core.scheduler.newEval(subjectOf(rec.current), "deployment-watcher", { DeploymentID: d.ID, JobModifyIndex: rec.current.JobModifyIndex }) : undefined;
    const idx = this.core.store.write("deployment", ...(ev ? (["evals", "jobs", "job_summary"] as const) : []));
    d.Status = "failed";
    d.StatusDescription = desc;
    d.ModifyIndex = idx;
    d.ModifyTime = this.core.nowNs();
    if (ev) this.core.scheduler.submit(ev, idx);
    const reply: DeploymentUpdateReply = { EvalID: ev?.ID ?? "", EvalCreateIndex: ev ? idx : 0, DeploymentModifyIndex: idx, RevertedJobVersion: null, Index: idx };
    if (target) {
      const r = registerJob(this.core, { ...target, Stop: false });
      reply.EvalID = r.EvalID;
      reply.EvalCreateIndex = r.EvalCreateIndex;
      reply.Index = r.Index;
      reply.RevertedJobVersion = target.Version;
    }
    return reply;
  }
}

function requiresPromotion(d: DeploymentRec): boolean {
  return d.Status === "running" && Object.values(d.TaskGroups).some((g) => g.DesiredCanaries > 0 && !g.Promoted);
}

function autoPromotable(d: DeploymentRec): boolean {
  return Object.values(d.TaskGroups).every((g) => g.DesiredCanaries === 0 || g.AutoPromote);
}

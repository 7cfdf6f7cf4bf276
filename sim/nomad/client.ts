import { findGroup } from "./alloc-util.js";
import type { NomadCore } from "./core.js";
import { refreshJob } from "./job-status.js";
import { taskEvent } from "./task-events.js";
import type { AllocRec, TaskState } from "./types.js";
import { clientTerminal } from "./types.js";

/**
 * What the Nomad clients do with their allocations, on the sim clock: pull
 * and start tasks, run batch tasks to completion (or failure), report
 * deployment health, and kill stopped allocations. A client only reports
 * while its node is ready; a dead machine's allocations stay as they were
 * until the server marks them lost.
 *
 * Failure switches: an image digest or job version marked unhealthy makes
 * service allocations unhealthy and batch tasks exit 1; task, group or job
 * meta `sim_fail = "true"` makes any task exit 1 after `sim_run_ms` (the
 * batch run time by default), which also sets a batch task's run time.
 */
export class ClientSim {
  constructor(private readonly core: NomadCore) {}

  start(a: AllocRec): void {
    this.core.timers.after(this.core.cfg.allocStartMs, () => this.run(a));
  }

  private nodeReady(a: AllocRec): boolean {
    return this.core.store.nodes.get(a.NodeID)?.Status === "ready";
  }

  private run(a: AllocRec): void {
    if (this.core.closed || a.DesiredStatus !== "run" || a.ClientStatus !== "pending") return;
    if (!this.nodeReady(a)) {
      // The client is gone or unreachable; try again when it might be back.
      this.core.timers.after(this.core.cfg.heartbeatTtlMs, () => this.run(a));
      return;
    }
    const now = this.core.nowNs();
    const startedAt = this.core.nowRfc();
    for (const t of findGroup(a.job, a.TaskGroup)?.Tasks ?? []) {
      const st = a.TaskStates[t.Name];
      if (!st) continue;
      const image = typeof t.Config?.image === "string" ? t.Config.image : "";
      st.Events = [
        ...st.Events,
        taskEvent(now, "Task Setup", "Building Task Directory", { Message: "Building Task Directory", Details: { message: "Building Task Directory" } }),
        ...(image ? [taskEvent(now, "Driver", `Downloading image ${image}`, { DriverMessage: `Downloading image ${image}`, Details: { image } })] : []),
        taskEvent(now, "Started", "Task started by client"),
      ];
      st.State = "running";
      st.StartedAt = startedAt;
    }
    a.ClientStatus = "running";
    a.ClientDescription = "Tasks are running";
    this.commit(a);
    if (a.job.Type === "batch" || a.job.Type === "sysbatch" || this.meta(a, "sim_fail") === "true") this.scheduleExit(a);
    if (a.DeploymentID) this.trackHealth(a);
  }

  /** Reports deployment health once the health time has passed (from now). */
  trackHealth(a: AllocRec): void {
    if (a.ClientStatus !== "running") return; // run() calls back once started
    const u = findGroup(a.job, a.TaskGroup)?.Update;
    const healthyAfter = Math.max(this.core.cfg.healthyAfterMs, (u?.MinHealthyTime ?? 0) / 1e6);
    const deadline = u && u.HealthyDeadline > 0 ? u.HealthyDeadline / 1e6 : Infinity;
    const deploymentID = a.DeploymentID;
    const unhealthy = (): boolean => this.core.isUnhealthy(a.job, findGroup(a.job, a.TaskGroup)?.Tasks ?? []);
    const report = (healthy: boolean): void => {
      if (this.core.closed || a.DeploymentID !== deploymentID || a.DesiredStatus !== "run" || clientTerminal(a)) return;
      if (!this.nodeReady(a) || a.DeploymentStatus?.Healthy === true || a.DeploymentStatus?.Healthy === false) return;
      const idx = this.core.store.write("allocs", "jobs", "job_summary", "deployment");
      a.DeploymentStatus = { Healthy: healthy, Timestamp: this.core.nowRfc(), Canary: a.DeploymentStatus?.Canary ?? false, ModifyIndex: idx };
      a.ModifyIndex = idx;
      a.ModifyTime = this.core.nowNs();
      refreshJob(this.core, this.core.store.job(a.Namespace, a.JobID), idx);
      this.core.deployments.allocHealthChanged(a, idx);
    };
    if (healthyAfter > deadline) this.core.timers.after(deadline, () => report(false));
    else this.core.timers.after(healthyAfter, () => report(!unhealthy()));
  }

  /** A `sim_*` switch from the task, group or job meta (task first). */
  private meta(a: AllocRec, k: string): string | undefined {
    const g = findGroup(a.job, a.TaskGroup);
    return g?.Tasks.map((t) => t.Meta?.[k]).find((v) => v !== undefined) ?? g?.Meta?.[k] ?? a.job.Meta?.[k];
  }

  /** Batch tasks exit after their run time; any task with `sim_fail` exits 1 then. */
  private scheduleExit(a: AllocRec): void {
    const g = findGroup(a.job, a.TaskGroup);
    const meta = (k: string): string | undefined => this.meta(a, k);
    const runMs = Number(meta("sim_run_ms") ?? this.core.cfg.batchRunMs);
    this.core.timers.after(Number.isFinite(runMs) ? runMs : this.core.cfg.batchRunMs, () => {
      if (this.core.closed || a.DesiredStatus !== "run" || a.ClientStatus !== "running" || !this.nodeReady(a)) return;
      const fail = meta("sim_fail") === "true" || this.core.isUnhealthy(a.job, g?.Tasks ?? []);
      this.finish(a, fail ? "failed" : "complete", fail ? 1 : 0);
    });
  }

  /** Tasks exit: the allocation becomes complete or failed. */
  private finish(a: AllocRec, status: "complete" | "failed", exitCode: number): void {
    const now = this.core.nowNs();
    const at = this.core.nowRfc();
    for (const st of Object.values(a.TaskStates)) {
      if (st.State === "dead") continue;
      st.Events = [
        ...st.Events,
        taskEvent(now, "Terminated", `Exit Code: ${exitCode}${exitCode ? ", Exit Message: \"Docker container exited with non-zero exit code: 1\"" : ""}`, { ExitCode: exitCode, ...(exitCode ? { FailsTask: true } : {}) }),
        ...(exitCode ? [taskEvent(now, "Not Restarting", "Error was unrecoverable", { FailsTask: true, RestartReason: "Error was unrecoverable" })] : []),
      ];
      dead(st, at, exitCode !== 0);
    }
    a.ClientStatus = status;
    a.ClientDescription = status === "failed" ? "Failed tasks" : "All tasks have completed";
    // A task that fails before its allocation is healthy makes it unhealthy for the deployment.
    const unhealthy = status === "failed" && !!a.DeploymentID && a.DeploymentStatus?.Healthy == null;
    if (unhealthy) a.DeploymentStatus = { Healthy: false, Timestamp: at, Canary: a.DeploymentStatus?.Canary ?? false, ModifyIndex: 0 };
    const idx = this.commit(a);
    if (unhealthy && a.DeploymentStatus) {
      a.DeploymentStatus.ModifyIndex = idx;
      this.core.deployments.allocHealthChanged(a, idx);
    }
    if (status === "failed") {
      const rec = this.core.store.job(a.Namespace, a.JobID);
      if (rec) this.core.scheduler.evaluate(rec.current, "alloc-failure");
    }
    this.core.scheduler.unblockAll();
  }

  /** The server told the client to stop the allocation: kill its tasks. */
  stop(a: AllocRec): void {
    this.core.timers.after(this.core.cfg.killMs, () => {
      if (this.core.closed || clientTerminal(a) || !this.nodeReady(a)) return;
      const now = this.core.nowNs();
      const at = this.core.nowRfc();
      for (const st of Object.values(a.TaskStates)) {
        if (st.State === "dead") continue;
        st.Events = [...st.Events, taskEvent(now, "Killing", "Sent interrupt. Waiting 5s before force killing", { KillTimeout: 5e9 }), taskEvent(now, "Killed", "Task successfully killed")];
        dead(st, at, false);
      }
      a.ClientStatus = "complete";
      a.ClientDescription = "All tasks have completed";
      this.commit(a);
      this.core.scheduler.unblockAll();
    });
  }

  /** Writes a client update of one allocation; returns its index. */
  private commit(a: AllocRec): number {
    const idx = this.core.store.write("allocs", "jobs", "job_summary", "deployment");
    a.ModifyIndex = idx;
    a.ModifyTime = this.core.nowNs();
    refreshJob(this.core, this.core.store.job(a.Namespace, a.JobID), idx);
    this.core.nodes.allocsChanged();
    return idx;
  }

  /** A reconnecting client reports its unknown allocations running again. */
  reconnect(a: AllocRec): void {
    if (a.ClientStatus !== "unknown" || a.DesiredStatus !== "run") return;
    a.ClientStatus = "running";
    a.ClientDescription = "Tasks are running";
    this.commit(a);
  }
}

function dead(st: TaskState, at: string, failed: boolean): void {
  st.State = "dead";
  st.Failed = failed;
  st.FinishedAt = at;
}

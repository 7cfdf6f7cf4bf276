import { DESC, findGroup, groupAsk } from "./alloc-util.js";
import type { NomadCore } from "./core.js";
import { refreshJob } from "./job-status.js";
import { PlanUsage, selectNode } from "./placement.js";
import { reconcile, type GroupPlan, type Place, type ReconcilePlan } from "./reconcile.js";
import { jobKey } from "./store.js";
import type { AllocRec, DeploymentRec, DeploymentState, EvalRec, Job, JsonObject, NetworkResource, NodeRec, TaskGroup, TaskState } from "./types.js";
import { ZERO_TIME } from "./types.js";
import { taskEvent } from "./task-events.js";

/** What an evaluation is about. */
export interface EvalSubject {
  namespace: string;
  jobID: string;
  type: string;
  priority: number;
}

interface Placed {
  place: Place;
  alloc: AllocRec;
}

interface PlacementOutcome {
  placed: Placed[];
  failed: Map<string, { metrics: JsonObject; count: number }>;
}

/** The plan endpoint's answer, minus the diff. */
export interface DryRun {
  annotations: JsonObject;
  failedTGAllocs: JsonObject | null;
  createdEvals: EvalRec[] | null;
}

/**
 * Evaluations and their processing. Each evaluation is stored pending, then
 * processed on the next turn of the event loop (like a real server's eval
 * broker and a scheduler worker): reconcile, place, and apply the plan in one
 * write. Evaluations that cannot place everything leave one blocked
 * evaluation per job, retried when capacity appears.
 */
export class Scheduler {
  private readonly queue: EvalRec[] = [];
  private scheduled = false;
  private readonly blocked = new Map<string, EvalRec>();

  constructor(private readonly core: NomadCore) {}

  /** A new pending evaluation (not stored yet). */
  newEval(s: EvalSubject, trigger: string, extra: Partial<EvalRec> = {}): EvalRec {
    const now = this.core.nowNs();
    return {
      ID: this.core.uuid(),
      Namespace: s.namespace,
      Priority: s.priority,
      Type: s.type,
      TriggeredBy: trigger,
      JobID: s.jobID,
      JobModifyIndex: 0,
      NodeID: "",
      NodeModifyIndex: 0,
      DeploymentID: "",
      Status: "pending",
      StatusDescription: "",
      Wait: 0,
      WaitUntil: null,
      NextEval: "",
      PreviousEval: "",
      BlockedEval: "",
      FailedTGAllocs: null,
      ClassEligibility: null,
      EscapedComputedClass: false,
      AnnotatePlan: false,
      QueuedAllocations: null,
      SnapshotIndex: 0,
      CreateIndex: 0,
      ModifyIndex: 0,
      CreateTime: now,
      ModifyTime: now,
      ...extra,
    };
  }

  /** Stores an evaluation written at `idx` and queues it for processing. */
  submit(ev: EvalRec, idx: number): void {
    ev.CreateIndex = idx;
    ev.ModifyIndex = idx;
    this.core.store.putEval(ev);
    this.enqueue(ev);
  }

  /** Creates, stores (one write) and queues an evaluation for a job. */
  evaluate(job: Job, trigger: string, extra: Partial<EvalRec> = {}): EvalRec {
    const ev = this.newEval(subjectOf(job), trigger, { JobModifyIndex: job.JobModifyIndex, ...extra });
    const idx = this.core.store.write("evals", "jobs", "job_summary");
    this.submit(ev, idx);
    refreshJob(this.core, this.core.store.job(job.Namespace, job.ID), idx);
    return ev;
  }

  enqueue(ev: EvalRec): void {
    this.queue.push(ev);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Re-queues every blocked evaluation: capacity may have appeared. */
  unblockAll(): void {
    for (const ev of this.blocked.values()) if (!this.queue.includes(ev)) this.enqueue(ev);
  }

  /** Number of blocked evaluations (for tests and benchmarks). */
  get blockedCount(): number {
    return this.blocked.size;
  }

  private drain(): void {
    this.scheduled = false;
    while (this.queue.length && !this.core.closed) {
      const ev = this.queue.shift() as EvalRec;
      try {
        this.process(ev);
      } catch (err) {
        this.fail(ev, (err as Error).message);
      }
    }
  }

  private fail(ev: EvalRec, message: string): void {
    const idx = this.core.store.write("evals", "jobs", "job_summary");
    ev.Status = "failed";
    ev.StatusDescription = message;
    ev.ModifyIndex = idx;
    ev.ModifyTime = this.core.nowNs();
    refreshJob(this.core, this.core.store.job(ev.Namespace, ev.JobID), idx);
  }

  /** Runs one evaluation: reconcile, place, apply. */
  process(ev: EvalRec): void {
    if (ev.Status !== "pending" && ev.Status !== "blocked") return;
    const store = this.core.store;
    const rec = store.job(ev.Namespace, ev.JobID);
    const job = rec?.current;
    const plan = reconcile(this.core, ev.Namespace, ev.JobID, job, ev.ID);
    const usage = new PlanUsage();
    const deployment = plan.createDeployment && job ? this.newDeployment(job, plan) : plan.deployment;
    const outcome = this.placeAll(plan, ev, usage, deployment);

    const idx = store.write("allocs", "evals", "jobs", "job_summary", ...(plan.cancel.length || deployment ? (["deployment"] as const) : []));
    const now = this.core.nowNs();
    for (const { d, desc } of plan.cancel) {
      d.Status = "cancelled";
      d.StatusDescription = desc;
      d.ModifyIndex = idx;
      d.ModifyTime = now;
      this.core.deployments.forget(d);
    }
    if (plan.createDeployment && deployment) {
      deployment.CreateIndex = idx;
      deployment.ModifyIndex = idx;
      store.putDeployment(deployment);
    }
    this.applyGroups(plan, outcome, ev, idx, deployment);

    // The evaluation itself, and a blocked one for what did not fit.
    const queued: Record<string, number> = {};
    for (const g of plan.groups) queued[g.name] = outcome.failed.get(g.name)?.count ?? 0;
    ev.QueuedAllocations = queued;
    ev.SnapshotIndex = idx - 1;
    ev.ModifyIndex = idx;
    ev.ModifyTime = now;
    if (deployment) ev.DeploymentID = deployment.ID;
    const failedTG = failedTGAllocs(outcome);
    const key = jobKey(ev.Namespace, ev.JobID);
    if (ev.Status === "blocked") {
      if (failedTG) ev.FailedTGAllocs = failedTG;
      else {
        ev.Status = "complete";
        this.blocked.delete(key);
      }
    } else {
      ev.Status = "complete";
      ev.FailedTGAllocs = failedTG;
      const old = this.blocked.get(key);
      if (old) {
        old.Status = "canceled";
        old.StatusDescription = `existing blocked evaluation exists for job "${ev.JobID}"`;
        old.ModifyIndex = idx;
        this.blocked.delete(key);
      }
      if (failedTG && job) {
        const b = this.newEval(subjectOf(job), "queued-allocs", {
          Status: "blocked",
          StatusDescription: DESC.blockedEval,
          PreviousEval: ev.ID,
          JobModifyIndex: job.JobModifyIndex,
          FailedTGAllocs: failedTG,
          ClassEligibility: classEligibility(this.core),
        });
        b.CreateIndex = idx;
        b.ModifyIndex = idx;
        store.putEval(b);
        ev.BlockedEval = b.ID;
        this.blocked.set(key, b);
      }
    }
    this.scheduleFollowups(plan, job, idx);
    refreshJob(this.core, rec, idx);
    if (deployment) this.core.deployments.watch(deployment);
  }

  /** Runs reconcile and placement for `job` without writing anything (the plan endpoint). */
  dryRun(job: Job): DryRun {
    const plan = reconcile(this.core, job.Namespace, job.ID, job);
    const usage = new PlanUsage();
    const outcome = this.placeAll(plan, undefined, usage, undefined);
    const desired: JsonObject = {};
    for (const g of plan.groups) desired[g.name] = desiredUpdates(g);
    const failed = failedTGAllocs(outcome);
    let created: EvalRec[] | null = null;
    if (failed) {
      const b = this.newEval(subjectOf(job), "job-register", { Status: "blocked", StatusDescription: DESC.blockedEval, PreviousEval: this.core.uuid(), ClassEligibility: classEligibility(this.core) });
      created = [b];
    }
    return { annotations: { DesiredTGUpdates: desired, PreemptedAllocs: null }, failedTGAllocs: failed, createdEvals: created };
  }

  private placeAll(plan: ReconcilePlan, ev: EvalRec | undefined, usage: PlanUsage, d: DeploymentRec | undefined): PlacementOutcome {
    const out: PlacementOutcome = { placed: [], failed: new Map() };
    const job = plan.job;
    for (const g of plan.groups) for (const s of g.stop) usage.stopping.add(s.alloc.ID);
    if (!job) return out;
    for (const g of plan.groups) {
      for (const p of g.place) {
        const r = selectNode(this.core, { job, group: p.group, ...(p.nodeID ? { nodeID: p.nodeID } : {}), ...(p.prev && p.kind === "replace" ? { avoid: p.prev.NodeID } : {}) }, usage);
        if (!r.ok) {
          const f = out.failed.get(g.name);
          if (f) {
            f.count++;
            f.metrics.CoalescedFailures = (typeof f.metrics.CoalescedFailures === "number" ? f.metrics.CoalescedFailures : 0) + 1;
          } else out.failed.set(g.name, { metrics: r.metrics, count: 1 });
          continue;
        }
        const inDeployment = !!d && job.Type === "service" && !!p.group.Update && p.group.Update.MaxParallel > 0;
        const alloc = buildAlloc(this.core, job, p, r.node, ev?.ID ?? "", r.metrics, inDeployment ? d : undefined);
        usage.add(r.node.ID, alloc);
        out.placed.push({ place: p, alloc });
      }
    }
    return out;
  }

  private applyGroups(plan: ReconcilePlan, outcome: PlacementOutcome, ev: EvalRec, idx: number, d: DeploymentRec | undefined): void {
    const now = this.core.nowNs();
    const store = this.core.store;
    const job = plan.job;
    for (const g of plan.groups) {
      for (const s of g.stop) {
        const a = s.alloc;
        a.DesiredStatus = "stop";
        a.DesiredDescription = s.desc;
        if (s.lost) {
          a.ClientStatus = "lost";
          a.ClientDescription = "";
        }
        touch(a, idx, now);
        if (!s.lost) this.core.client.stop(a);
      }
      for (const a of g.unknown) {
        a.ClientStatus = "unknown";
        a.ClientDescription = DESC.unknown;
        touch(a, idx, now);
      }
      for (const a of g.inplace) {
        if (!job) continue;
        a.job = job;
        touch(a, idx, now);
        if (d && d.TaskGroups[a.TaskGroup]) {
          store.setAllocDeployment(a, d.ID);
          a.DeploymentStatus = null;
          const st = d.TaskGroups[a.TaskGroup];
          if (st) st.PlacedAllocs++;
          this.core.client.trackHealth(a);
        }
      }
    }
    for (const { place, alloc } of outcome.placed) {
      alloc.CreateIndex = idx;
      alloc.ModifyIndex = idx;
      alloc.AllocModifyIndex = idx;
      alloc.EvalID = ev.ID;
      const prev = place.prev;
      if (prev) {
        prev.NextAllocation = alloc.ID;
        touch(prev, idx, now);
        alloc.PreviousAllocation = prev.ID;
        if (place.reschedule) {
          alloc.RescheduleEvents = [...(prev.RescheduleEvents ?? []), { RescheduleTime: now, PrevAllocID: prev.ID, PrevNodeID: prev.NodeID, Delay: rescheduleDelayNs(prev) }];
        }
      }
      store.putAlloc(alloc);
      if (alloc.DeploymentID && d) {
        const st = d.TaskGroups[alloc.TaskGroup];
        if (st) {
          st.PlacedAllocs++;
          if (place.canary) st.PlacedCanaries = [...(st.PlacedCanaries ?? []), alloc.ID];
          st.RequireProgressBy = new Date(this.core.nowMs() + st.ProgressDeadline / 1e6).toISOString();
        }
        d.ModifyIndex = idx;
        d.ModifyTime = now;
      }
      this.core.client.start(alloc);
    }
  }

  private newDeployment(job: Job, plan: ReconcilePlan): DeploymentRec {
    const groups: Record<string, DeploymentState> = {};
    for (const tg of job.TaskGroups) {
      const u = tg.Update;
      if (!u || u.MaxParallel <= 0) continue;
      const gp = plan.groups.find((g) => g.name === tg.Name);
      groups[tg.Name] = {
        AutoRevert: u.AutoRevert,
        AutoPromote: u.AutoPromote,
        ProgressDeadline: u.ProgressDeadline,
        RequireProgressBy: ZERO_TIME,
        Promoted: false,
        PlacedCanaries: gp && gp.desiredCanaries > 0 ? [] : null,
        DesiredCanaries: gp?.desiredCanaries ?? 0,
        DesiredTotal: tg.Count,
        PlacedAllocs: 0,
        HealthyAllocs: 0,
        UnhealthyAllocs: 0,
      };
    }
    const now = this.core.nowNs();
    return {
      ID: this.core.uuid(),
      Namespace: job.Namespace,
      JobID: job.ID,
      JobVersion: job.Version,
      JobModifyIndex: job.ModifyIndex,
      JobSpecModifyIndex: job.JobModifyIndex,
      JobCreateIndex: job.CreateIndex,
      IsMultiregion: false,
      TaskGroups: groups,
      Status: "running",
      StatusDescription: Object.values(groups).some((g) => g.DesiredCanaries > 0)
        ? Object.values(groups).every((g) => g.DesiredCanaries === 0 || g.AutoPromote)
          ? "Deployment is running pending automatic promotion"
          : "Deployment is running but requires manual promotion"
        : "Deployment is running",
      EvalPriority: job.Priority,
      CreateIndex: 0,
      ModifyIndex: 0,
      CreateTime: now,
      ModifyTime: now,
    };
  }

  /** Failed allocations that may be rescheduled later get one follow-up evaluation per instant. */
  private scheduleFollowups(plan: ReconcilePlan, job: Job | undefined, idx: number): void {
    if (!job) return;
    const byTime = new Map<number, AllocRec[]>();
    for (const g of plan.groups) {
      for (const [a, when] of g.later) {
        if (a.FollowupEvalID && this.core.store.evals.get(a.FollowupEvalID)?.Status === "pending") continue;
        const list = byTime.get(when);
        if (list) list.push(a);
        else byTime.set(when, [a]);
      }
    }
    for (const [when, allocs] of byTime) {
      const ev = this.newEval(subjectOf(job), "alloc-failure", {
        StatusDescription: DESC.followupEval,
        JobModifyIndex: job.JobModifyIndex,
        WaitUntil: new Date(when).toISOString(),
      });
      ev.CreateIndex = idx;
      ev.ModifyIndex = idx;
      this.core.store.putEval(ev);
      for (const a of allocs) a.FollowupEvalID = ev.ID;
      this.core.timers.after(Math.max(0, when - this.core.nowMs()), () => this.enqueue(ev));
    }
  }
}

/** What an evaluation of this job is about. */
export function subjectOf(job: Job): EvalSubject {
  return { namespace: job.Namespace, jobID: job.ID, type: job.Type, priority: job.Priority };
}

function touch(a: AllocRec, idx: number, now: number): void {
  a.ModifyIndex = idx;
  a.AllocModifyIndex = idx;
  a.ModifyTime = now;
}

function rescheduleDelayNs(prev: AllocRec): number {
  const p = findGroup(prev.job, prev.TaskGroup)?.ReschedulePolicy;
  if (!p) return 0;
  const n = prev.RescheduleEvents?.length ?? 0;
  let d = p.Delay;
  if (p.DelayFunction === "exponential") d = p.Delay * 2 ** n;
  if (p.MaxDelay > 0) d = Math.min(d, p.MaxDelay);
  return d;
}

function failedTGAllocs(outcome: PlacementOutcome): { [group: string]: JsonObject } | null {
  if (outcome.failed.size === 0) return null;
  const out: { [group: string]: JsonObject } = {};
  for (const [g, f] of outcome.failed) out[g] = f.metrics;
  return out;
}

function desiredUpdates(g: GroupPlan): JsonObject {
  const placed = g.place.filter((p) => p.kind === "place" || p.kind === "replace").length;
  return {
    Ignore: g.ignore,
    Place: placed,
    Migrate: g.migrate,
    Stop: g.stop.filter((s) => s.desc !== "alloc is being updated due to job update" && s.desc !== "alloc is being migrated").length,
    InPlaceUpdate: g.inplace.length,
    DestructiveUpdate: g.destructive,
    Canary: g.canary,
    Preemptions: 0,
    Reconnect: 0,
    RescheduleNow: g.place.filter((p) => p.reschedule).length,
    RescheduleLater: g.later.length,
    Disconnect: g.unknown.length,
  };
}

function classEligibility(core: NomadCore): { [cls: string]: boolean } {
  const out: { [cls: string]: boolean } = {};
  for (const n of core.store.nodes.values()) out[n.ComputedClass] = n.Status === "ready";
  return out;
}

/** A new allocation record for a placement (not stored yet). */
export function buildAlloc(core: NomadCore, job: Job, p: Place, node: NodeRec, evalID: string, metrics: JsonObject, d: DeploymentRec | undefined): AllocRec {
  const now = core.nowNs();
  const g: TaskGroup = p.group;
  const ask = groupAsk(g);
  const taskStates: Record<string, TaskState> = {};
  for (const t of g.Tasks) {
    taskStates[t.Name] = {
      State: "pending",
      Failed: false,
      Restarts: 0,
      LastRestart: ZERO_TIME,
      StartedAt: ZERO_TIME,
      FinishedAt: ZERO_TIME,
      Events: [taskEvent(now, "Received", "Task received by client")],
      TaskHandle: null,
    };
  }
  return {
    ID: core.uuid(),
    Namespace: job.Namespace,
    EvalID: evalID,
    Name: p.name,
    NodeID: node.ID,
    NodeName: node.Name,
    JobID: job.ID,
    job,
    TaskGroup: g.Name,
    DesiredStatus: "run",
    DesiredDescription: "",
    DesiredTransition: { Migrate: null, Reschedule: null, ForceReschedule: null },
    ClientStatus: "pending",
    ClientDescription: "",
    TaskStates: taskStates,
    DeploymentID: d?.ID ?? "",
    DeploymentStatus: p.canary && d ? { Healthy: null, Timestamp: ZERO_TIME, Canary: true, ModifyIndex: 0 } : null,
    PreviousAllocation: "",
    NextAllocation: "",
    FollowupEvalID: "",
    RescheduleEvents: null,
    networks: (g.Networks ?? []).map((n) => withPorts(core, n, node)),
    taskNetworks: Object.fromEntries(g.Tasks.map((t) => [t.Name, (t.Resources.Networks ?? []).map((n) => withPorts(core, n, node))])),
    resources: ask,
    Metrics: metrics,
    CreateIndex: 0,
    ModifyIndex: 0,
    AllocModifyIndex: 0,
    CreateTime: now,
    ModifyTime: now,
  };
}

/** A network as the client sees it: the node's address and the ports it was given. */
function withPorts(core: NomadCore, n: NetworkResource, node: NodeRec): NetworkResource {
  return {
    ...n,
    Device: "eth0",
    CIDR: `${node.Address}/32`,
    IP: node.Address,
    MBits: n.MBits || 0,
    ReservedPorts: n.ReservedPorts ? n.ReservedPorts.map((p) => ({ ...p })) : null,
    DynamicPorts: n.DynamicPorts ? n.DynamicPorts.map((p) => ({ ...p, Value: 20000 + Math.floor(core.ctx.random() * 12000) })) : null,
  };
}

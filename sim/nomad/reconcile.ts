import { DESC, allocName, findGroup, nameIndex, needsDestructiveUpdate } from "./alloc-util.js";
import type { NomadCore } from "./core.js";
import { nodeStillFits } from "./placement.js";
import type { AllocRec, DeploymentRec, Job, NodeRec, ReschedulePolicy, TaskGroup } from "./types.js";
import { allocTerminal, clientTerminal, deploymentActive } from "./types.js";

/** One allocation to create. */
export interface Place {
  group: TaskGroup;
  name: string;
  /** The allocation this one replaces (lost, migrated, rescheduled, updated). */
  prev?: AllocRec;
  canary: boolean;
  reschedule: boolean;
  /** System jobs: the node it must run on. */
  nodeID?: string;
  kind: "place" | "replace" | "destructive" | "canary";
}

/** One allocation to stop, and why. */
export interface Stop {
  alloc: AllocRec;
  desc: string;
  /** The node is gone: the client status becomes lost. */
  lost?: boolean;
}

/** The reconciler's decisions for one task group (the plan endpoint's DesiredTGUpdates come from it). */
export interface GroupPlan {
  name: string;
  place: Place[];
  stop: Stop[];
  inplace: AllocRec[];
  /** Allocations to mark unknown (their node is disconnected). */
  unknown: AllocRec[];
  ignore: number;
  migrate: number;
  destructive: number;
  canary: number;
  desiredCanaries: number;
  /** Failed allocations to reschedule later: [alloc, sim ms when]. */
  later: [AllocRec, number][];
}

/** What the reconciler decided for a job; nothing is written yet. */
export interface ReconcilePlan {
  job: Job | undefined;
  groups: GroupPlan[];
  /** The deployment that new allocations join (existing, or `create`). */
  deployment: DeploymentRec | undefined;
  createDeployment: boolean;
  cancel: { d: DeploymentRec; desc: string }[];
}

/**
 * The reconciler: compares the job with its allocations and decides what to
 * place, stop, update in place or destructively (rolling, with canaries),
 * replace (lost, migrating, failed) and whether a deployment starts. A small
 * model of Nomad's scheduler/reconciler, service/batch and system flavours.
 */
export function reconcile(core: NomadCore, namespace: string, jobID: string, job: Job | undefined, evalID = ""): ReconcilePlan {
  const store = core.store;
  const allocs = [...store.allocsByJob(namespace, jobID)];
  const plan: ReconcilePlan = { job, groups: [], deployment: undefined, createDeployment: false, cancel: [] };
  const stopped = !job || job.Stop;

  // Deployments: cancel the ones of older versions or of a stopped job.
  const deps = store.deploymentsByJob(namespace, jobID);
  let current: DeploymentRec | undefined;
  for (const d of deps) {
    if (job && !stopped && d.JobVersion === job.Version && d.JobCreateIndex === job.CreateIndex) current = d;
    else if (deploymentActive(d)) plan.cancel.push({ d, desc: stopped ? "Cancelled because job is stopped" : "Cancelled due to newer version of job" });
  }

  const byGroup = new Map<string, AllocRec[]>();
  for (const a of allocs) {
    const list = byGroup.get(a.TaskGroup);
    if (list) list.push(a);
    else byGroup.set(a.TaskGroup, [a]);
  }
  const groupNames = new Set<string>([...byGroup.keys(), ...(job && !stopped ? job.TaskGroups.map((g) => g.Name) : [])]);
  const hadLive = allocs.some((a) => !allocTerminal(a));

  for (const name of groupNames) {
    const group = stopped ? undefined : findGroup(job, name);
    const list = byGroup.get(name) ?? [];
    const gp = newGroupPlan(name);
    if (!group || !job) {
      for (const a of list) if (!allocTerminal(a)) gp.stop.push({ alloc: a, desc: DESC.notNeeded, ...(lostNode(core, a) ? { lost: true } : {}) });
    } else if (job.Type === "system" || job.Type === "sysbatch") {
      reconcileSystem(core, job, group, list, gp);
    } else {
      reconcileGroup(core, job, group, list, gp, current, evalID);
    }
    plan.groups.push(gp);
  }

  if (job && !stopped && job.Type === "service" && !current) {
    const changes = plan.groups.some((g) => g.inplace.length > 0 || g.destructive > 0 || g.desiredCanaries > 0) || (!hadLive && plan.groups.some((g) => g.place.length > 0));
    const strategic = job.TaskGroups.some((g) => (g.Update?.MaxParallel ?? 0) > 0);
    if (changes && strategic) plan.createDeployment = true;
  }
  plan.deployment = current;
  return plan;
}

function newGroupPlan(name: string): GroupPlan {
  return { name, place: [], stop: [], inplace: [], unknown: [], ignore: 0, migrate: 0, destructive: 0, canary: 0, desiredCanaries: 0, later: [] };
}

function lostNode(core: NomadCore, a: AllocRec): boolean {
  const n = core.store.nodes.get(a.NodeID);
  return !n || n.Status === "down";
}

function nodeOf(core: NomadCore, a: AllocRec): NodeRec | undefined {
  return core.store.nodes.get(a.NodeID);
}

function reconcileGroup(core: NomadCore, job: Job, group: TaskGroup, list: AllocRec[], gp: GroupPlan, d: DeploymentRec | undefined, evalID: string): void {
  const now = core.nowMs();
  const held: AllocRec[] = []; // occupy a slot without running as the current version
  const live: AllocRec[] = [];
  const replacements: Place[] = [];
  const usedNames = new Set<string>();

  for (const a of list) {
    if (a.DesiredStatus !== "run") continue;
    const node = nodeOf(core, a);
    if (a.ClientStatus === "complete") {
      if (job.Type === "batch") {
        held.push(a);
        usedNames.add(a.Name);
      }
      continue;
    }
    if (a.ClientStatus === "lost") continue;
    if (a.ClientStatus === "failed") {
      if (a.NextAllocation) continue;
      const when = rescheduleAt(a, group.ReschedulePolicy, now);
      if (when === "never") {
        held.push(a);
        usedNames.add(a.Name);
      } else if (when <= now || a.DesiredTransition.ForceReschedule || (evalID !== "" && a.FollowupEvalID === evalID)) {
        gp.stop.push({ alloc: a, desc: DESC.rescheduled });
        replacements.push({ group, name: a.Name, prev: a, canary: false, reschedule: true, kind: "replace" });
        usedNames.add(a.Name);
      } else {
        gp.later.push([a, when]);
        held.push(a);
        usedNames.add(a.Name);
      }
      continue;
    }
    // Pending, running or unknown allocations.
    if (!node || node.Status === "down") {
      gp.stop.push({ alloc: a, desc: DESC.lost, lost: true });
      replacements.push({ group, name: a.Name, prev: a, canary: false, reschedule: false, kind: "replace" });
      usedNames.add(a.Name);
      continue;
    }
    if (node.Status === "disconnected") {
      if (a.ClientStatus !== "unknown") gp.unknown.push(a);
      const replace = group.Disconnect?.Replace ?? true;
      if (replace && !hasLiveSuccessor(core, a)) replacements.push({ group, name: a.Name, prev: a, canary: false, reschedule: false, kind: "replace" });
      else if (!replace) held.push(a);
      usedNames.add(a.Name);
      continue;
    }
    if (a.DesiredTransition.Migrate) {
      gp.stop.push({ alloc: a, desc: DESC.migrating });
      replacements.push({ group, name: a.Name, prev: a, canary: false, reschedule: false, kind: "replace" });
      gp.migrate++;
      usedNames.add(a.Name);
      continue;
    }
    live.push(a);
  }

  // Current-version and outdated allocations.
  const upToDate: AllocRec[] = [];
  const outdated: AllocRec[] = [];
  for (const a of live) {
    if (a.job.Version === job.Version && a.job.CreateIndex === job.CreateIndex) upToDate.push(a);
    else if (a.job.CreateIndex === job.CreateIndex && !needsDestructiveUpdate(a, job) && nodeStillFits(job, group, nodeOf(core, a) as NodeRec)) {
      gp.inplace.push(a);
      upToDate.push(a);
    } else outdated.push(a);
  }

  const strategy = group.Update;
  const canaryWanted = job.Type === "service" && strategy && strategy.Canary > 0 && outdated.length > 0;
  const dstate = d?.TaskGroups[group.Name];
  const promoted = dstate?.Promoted ?? false;
  const dActive = d ? d.Status === "running" : true;
  const dFailed = d?.Status === "failed";
  const inCanaryPhase = !!canaryWanted && !promoted && !dFailed;

  if (inCanaryPhase && strategy) {
    gp.desiredCanaries = strategy.Canary;
    const canaries = upToDate.filter((a) => a.DeploymentStatus?.Canary);
    const need = dActive ? strategy.Canary - canaries.length : 0;
    // Canaries take the names of the allocations they will replace.
    const taken = new Set(canaries.map((a) => a.Name));
    const names = outdated.sort(byIndexAsc).map((a) => a.Name).filter((n) => !taken.has(n));
    for (let i = 0; i < need; i++) {
      gp.place.push({ group, name: names[i] ?? "", canary: true, reschedule: false, kind: "canary" });
      gp.canary++;
    }
    gp.ignore += upToDate.length + outdated.length;
    for (const a of [...upToDate, ...outdated, ...held]) usedNames.add(a.Name);
    gp.place.push(...replacements);
    assignNames(job, group, gp.place, usedNames);
    return;
  }

  // Scale: count every slot, stop extras (outdated first, highest index first).
  let slots = upToDate.length + outdated.length + held.length + replacements.length;
  if (slots > group.Count) {
    // Outdated allocations whose name a promoted canary already carries go first.
    const newNames = new Set(upToDate.map((a) => a.Name));
    const shadowed = (a: AllocRec): number => (newNames.has(a.Name) ? 0 : 1);
    const order = [...outdated.sort((a, b) => shadowed(a) - shadowed(b) || byIndexDesc(a, b)), ...upToDate.filter((a) => !a.DeploymentStatus?.Canary).sort(byIndexDesc), ...upToDate.filter((a) => a.DeploymentStatus?.Canary).sort(byIndexDesc)];
    while (slots > group.Count && order.length) {
      const a = order.shift() as AllocRec;
      gp.stop.push({ alloc: a, desc: DESC.notNeeded });
      const io = outdated.indexOf(a);
      if (io >= 0) outdated.splice(io, 1);
      const iu = upToDate.indexOf(a);
      if (iu >= 0) upToDate.splice(iu, 1);
      const ii = gp.inplace.indexOf(a);
      if (ii >= 0) gp.inplace.splice(ii, 1);
      slots--;
    }
  }
  for (const a of [...upToDate, ...outdated, ...held]) usedNames.add(a.Name);
  gp.place.push(...replacements);
  for (let i = slots; i < group.Count; i++) gp.place.push({ group, name: "", canary: false, reschedule: false, kind: "place" });

  // Destructive updates, max_parallel at a time while a deployment runs.
  if (outdated.length) {
    let limit = outdated.length;
    if (job.Type === "service" && strategy && strategy.MaxParallel > 0) {
      if (!dActive || dFailed) limit = 0;
      else {
        const inFlight = upToDate.filter((a) => a.DeploymentID && a.DeploymentID === d?.ID && a.DeploymentStatus?.Healthy !== true).length;
        limit = Math.max(0, strategy.MaxParallel - inFlight);
      }
    }
    for (const a of outdated.sort(byIndexAsc).slice(0, limit)) {
      gp.stop.push({ alloc: a, desc: DESC.updating });
      gp.place.push({ group, name: a.Name, prev: a, canary: false, reschedule: false, kind: "destructive" });
      gp.destructive++;
    }
    gp.ignore += Math.max(0, outdated.length - limit);
  }
  gp.ignore += upToDate.length - gp.inplace.length;
  assignNames(job, group, gp.place, usedNames);
}

function hasLiveSuccessor(core: NomadCore, a: AllocRec): boolean {
  for (const o of core.store.allocsByJob(a.Namespace, a.JobID)) {
    if (o.ID !== a.ID && o.Name === a.Name && o.CreateIndex > a.CreateIndex && !allocTerminal(o)) return true;
  }
  return false;
}

function reconcileSystem(core: NomadCore, job: Job, group: TaskGroup, list: AllocRec[], gp: GroupPlan): void {
  const byNode = new Map<string, AllocRec>();
  for (const a of list) {
    if (a.DesiredStatus !== "run") continue;
    if (a.ClientStatus === "complete" && job.Type === "sysbatch") {
      byNode.set(a.NodeID, a);
      continue;
    }
    if (clientTerminal(a)) continue;
    const node = nodeOf(core, a);
    if (!node || node.Status === "down") {
      gp.stop.push({ alloc: a, desc: DESC.lost, lost: true });
      continue;
    }
    if (node.Status === "disconnected") {
      if (a.ClientStatus !== "unknown") gp.unknown.push(a);
      byNode.set(a.NodeID, a);
      continue;
    }
    if (a.DesiredTransition.Migrate) {
      gp.stop.push({ alloc: a, desc: DESC.migrating });
      gp.migrate++;
      continue;
    }
    if (byNode.has(a.NodeID)) {
      gp.stop.push({ alloc: a, desc: DESC.notNeeded });
      continue;
    }
    byNode.set(a.NodeID, a);
  }
  for (const nodeID of core.store.nodeOrder) {
    const node = core.store.nodes.get(nodeID);
    if (!node) continue;
    const existing = byNode.get(nodeID);
    const eligible = node.Status === "ready" && node.SchedulingEligibility === "eligible" && !node.DrainStrategy;
    if (!existing) {
      if (eligible && systemFeasible(job, node)) gp.place.push({ group, name: allocName(job.ID, group.Name, 0), canary: false, reschedule: false, nodeID, kind: "place" });
      continue;
    }
    if (existing.ClientStatus === "complete") continue;
    if (node.Status === "ready" && !systemFeasible(job, node)) {
      gp.stop.push({ alloc: existing, desc: DESC.nodeTainted });
      continue;
    }
    if (existing.job.Version === job.Version && existing.job.CreateIndex === job.CreateIndex) gp.ignore++;
    else if (existing.job.CreateIndex === job.CreateIndex && !needsDestructiveUpdate(existing, job) && nodeStillFits(job, group, node)) gp.inplace.push(existing);
    else if (node.Status === "ready") {
      gp.stop.push({ alloc: existing, desc: DESC.updating });
      gp.place.push({ group, name: existing.Name, prev: existing, canary: false, reschedule: false, nodeID, kind: "destructive" });
      gp.destructive++;
    } else gp.ignore++;
  }
}

/** Datacenter and pool fit for system jobs (constraints are checked at placement). */
function systemFeasible(job: Job, node: NodeRec): boolean {
  const dcOk = job.Datacenters.some((p) => (p.includes("*") ? new RegExp(`^${p.split("*").map(escapeRe).join(".*")}$`).test(node.Datacenter) : p === node.Datacenter));
  return dcOk && (job.NodePool === "all" || job.NodePool === node.NodePool);
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * When a failed allocation may be rescheduled under its policy: "never"
 * when the attempts in the interval are spent, else the sim ms it may go.
 */
export function rescheduleAt(a: AllocRec, policy: ReschedulePolicy | null, now: number): number | "never" {
  if (a.DesiredTransition.ForceReschedule) return now;
  if (!policy) return "never";
  const events = a.RescheduleEvents ?? [];
  if (!policy.Unlimited) {
    if (policy.Attempts <= 0) return "never";
    const windowStart = (now - policy.Interval / 1e6) * 1e6;
    const recent = events.filter((e) => e.RescheduleTime >= windowStart).length;
    if (recent >= policy.Attempts) return "never";
  }
  const baseMs = policy.Delay / 1e6;
  let delay = baseMs;
  if (policy.DelayFunction === "exponential") delay = baseMs * 2 ** events.length;
  else if (policy.DelayFunction === "fibonacci") delay = baseMs * fib(events.length + 1);
  if (policy.MaxDelay > 0) delay = Math.min(delay, policy.MaxDelay / 1e6);
  const failedAt = a.ModifyTime / 1e6;
  return failedAt + delay;
}

function fib(n: number): number {
  let a = 1;
  let b = 1;
  for (let i = 2; i < n; i++) [a, b] = [b, a + b];
  return b;
}

function byIndexDesc(a: AllocRec, b: AllocRec): number {
  return nameIndex(b.Name) - nameIndex(a.Name) || b.CreateIndex - a.CreateIndex;
}

function byIndexAsc(a: AllocRec, b: AllocRec): number {
  return nameIndex(a.Name) - nameIndex(b.Name);
}

/** Gives unnamed placements the lowest free name indexes, as Nomad's allocNameIndex does. */
function assignNames(job: Job, group: TaskGroup, places: Place[], used: Set<string>): void {
  let next = 0;
  for (const p of places) {
    if (p.name) continue;
    while (used.has(allocName(job.ID, group.Name, next))) next++;
    p.name = allocName(job.ID, group.Name, next);
    // Canaries take indexes of the allocations they will replace.
    if (!p.canary) used.add(p.name);
    next++;
  }
}

import { checkConstraint, constraintString, datacenterMatches, SET_OPERANDS, resolveTarget } from "./constraints.js";
import { groupAsk } from "./alloc-util.js";
import type { NomadCore } from "./core.js";
import type { AllocRec, Constraint, Job, JsonObject, NodeRec, TaskGroup } from "./types.js";
import { allocTerminal } from "./types.js";

/** Usage changes of one plan not yet in the store: placements add, stops free. */
export class PlanUsage {
  private readonly added = new Map<string, { cpu: number; mem: number; disk: number; ports: number[]; allocs: AllocRec[] }>();
  private readonly byJob = new Map<string, AllocRec[]>();
  readonly stopping = new Set<string>();

  add(nodeID: string, a: AllocRec): void {
    const k = `${a.Namespace}\u0000${a.JobID}`;
    const list = this.byJob.get(k);
    if (list) list.push(a);
    else this.byJob.set(k, [a]);
    let u = this.added.get(nodeID);
    if (!u) {
      u = { cpu: 0, mem: 0, disk: 0, ports: [], allocs: [] };
      this.added.set(nodeID, u);
    }
    u.cpu += a.resources.cpu;
    u.mem += a.resources.memoryMB;
    u.disk += a.resources.diskMB;
    u.ports.push(...a.resources.staticPorts);
    u.allocs.push(a);
  }

  /** Allocations of the job this plan places. */
  planned(job: Job): readonly AllocRec[] {
    return this.byJob.get(`${job.Namespace}\u0000${job.ID}`) ?? [];
  }

  extra(nodeID: string): { cpu: number; mem: number; disk: number; ports: number[]; allocs: AllocRec[] } | undefined {
    return this.added.get(nodeID);
  }
}

/** A placement the scheduler wants: where it may go and what it replaces. */
export interface PlacementAsk {
  job: Job;
  group: TaskGroup;
  /** Only this node (system jobs). */
  nodeID?: string;
  /** Nodes to avoid (the previous node of a rescheduled allocation). */
  avoid?: string;
}

/** The chosen node with the placement metrics, or the metrics of why none fit. */
export type PlacementResult = { ok: true; node: NodeRec; metrics: JsonObject } | { ok: false; metrics: JsonObject };

/**
 * Chooses a node for one allocation the way Nomad's stack does, in small:
 * feasibility (readiness, eligibility, datacenter glob, node pool, drivers,
 * constraints, distinct_hosts/property, resources, static ports), then a
 * binpack score with job anti-affinity over a limited, rotated candidate set
 * (2 candidates, up to 3 skips of penalised nodes), so a placement costs
 * O(candidates) and not O(nodes) on a 5 000-node cluster.
 */
export function selectNode(core: NomadCore, ask: PlacementAsk, usage: PlanUsage): PlacementResult {
  const { store } = core;
  const { job, group } = ask;
  const started = performance.now();
  const m = newMetrics();
  const constraints = [...(job.Constraints ?? []), ...(group.Constraints ?? []), ...group.Tasks.flatMap((t) => t.Constraints ?? [])];
  const perNode = constraints.filter((c) => !SET_OPERANDS.has(c.Operand));
  const distinctHosts = constraints.filter((c) => c.Operand === "distinct_hosts" && c.RTarget !== "false");
  const distinctProps = constraints.filter((c) => c.Operand === "distinct_property");
  const jobLevelDistinct = (job.Constraints ?? []).some((c) => c.Operand === "distinct_hosts" && c.RTarget !== "false");
  const drivers = [...new Set(group.Tasks.map((t) => t.Driver))];
  const ask1 = groupAsk(group);
  const jobAllocs = liveJobAllocs(core, job, usage);

  const ids = ask.nodeID ? [ask.nodeID] : store.nodeOrder;
  const n = ids.length;
  const offset = ask.nodeID || n === 0 ? 0 : Math.floor(core.ctx.random() * n);
  const candidates: { node: NodeRec; score: number }[] = [];
  const skipped: { node: NodeRec; score: number }[] = [];
  for (let i = 0; i < n && candidates.length < 2; i++) {
    const node = store.nodes.get(ids[(offset + i) % n] ?? "");
    if (!node) continue;
    if (node.Status !== "ready" || node.SchedulingEligibility !== "eligible" || node.DrainStrategy) continue;
    if (!datacenterMatches(job.Datacenters, node.Datacenter)) continue;
    if (job.NodePool !== "all" && node.NodePool !== job.NodePool) continue;
    m.NodesInPool = num(m.NodesInPool) + 1;
    const avail = m.NodesAvailable as Record<string, number>;
    avail[node.Datacenter] = (avail[node.Datacenter] ?? 0) + 1;
    m.NodesEvaluated = num(m.NodesEvaluated) + 1;
    if (ask.avoid === node.ID && !ask.nodeID && n > 1) continue;
    if (!drivers.every((d) => node.Attributes[`driver.${d}`] === "1")) {
      filtered(m, "ClassFiltered", node.ComputedClass);
      bump(m, "ConstraintFiltered", `missing drivers`);
      continue;
    }
    const failed = perNode.find((c) => !checkConstraint(c, node, job.Region));
    if (failed) {
      filtered(m, "ConstraintFiltered", constraintString(failed));
      continue;
    }
    const onNode = jobAllocs.filter((a) => a.NodeID === node.ID);
    if (distinctHosts.length && onNode.some((a) => jobLevelDistinct || a.TaskGroup === group.Name)) {
      filtered(m, "ConstraintFiltered", "distinct_hosts");
      continue;
    }
    const prop = distinctProps.find((c) => violatesDistinctProperty(core, c, node, job, group, jobAllocs));
    if (prop) {
      filtered(m, "ConstraintFiltered", `distinct_property: ${prop.LTarget}`);
      continue;
    }
    const fit = fits(core, node, ask1, usage);
    if (fit !== true) {
      m.NodesExhausted = num(m.NodesExhausted) + 1;
      bump(m, "DimensionExhausted", fit);
      continue;
    }
    const score = scoreNode(core, node, ask1, usage, onNode.filter((a) => a.TaskGroup === group.Name).length, group.Count);
    if (score < 0 && skipped.length < 3 && !ask.nodeID) skipped.push({ node, score });
    else candidates.push({ node, score });
  }
  const pool = candidates.length ? candidates : skipped;
  m.AllocationTime = Math.round((performance.now() - started) * 1e6);
  if (pool.length === 0) {
    m.NodesFiltered = num(m.NodesEvaluated) - num(m.NodesExhausted);
    return { ok: false, metrics: m };
  }
  const best = pool.reduce((a, b) => (b.score > a.score ? b : a));
  const scores: Record<string, number> = {};
  for (const c of pool) scores[`${c.node.ID}.binpack`] = c.score;
  m.Scores = scores;
  m.NodesFiltered = Math.max(0, num(m.NodesEvaluated) - pool.length - num(m.NodesExhausted));
  return { ok: true, node: best.node, metrics: m };
}

/**
 * Whether a node still suits a job version's group, ignoring resources: what
 * an in-place update re-checks on the allocation's node before keeping it.
 */
export function nodeStillFits(job: Job, group: TaskGroup, node: NodeRec): boolean {
  if (!datacenterMatches(job.Datacenters, node.Datacenter)) return false;
  if (job.NodePool !== "all" && node.NodePool !== job.NodePool) return false;
  if (!group.Tasks.every((t) => node.Attributes[`driver.${t.Driver}`] === "1")) return false;
  const constraints = [...(job.Constraints ?? []), ...(group.Constraints ?? []), ...group.Tasks.flatMap((t) => t.Constraints ?? [])];
  return constraints.every((c) => checkConstraint(c, node, job.Region));
}

/** Sums the resources of the allocations running on a node, with the plan's changes. */
export function nodeUsed(core: NomadCore, nodeID: string, usage: PlanUsage): { cpu: number; mem: number; disk: number; ports: Set<number> } {
  const used = { cpu: 0, mem: 0, disk: 0, ports: new Set<number>() };
  for (const a of core.store.allocsByNode(nodeID)) {
    if (allocTerminal(a) || usage.stopping.has(a.ID)) continue;
    used.cpu += a.resources.cpu;
    used.mem += a.resources.memoryMB;
    used.disk += a.resources.diskMB;
    for (const p of a.resources.staticPorts) used.ports.add(p);
  }
  const extra = usage.extra(nodeID);
  if (extra) {
    used.cpu += extra.cpu;
    used.mem += extra.mem;
    used.disk += extra.disk;
    for (const p of extra.ports) used.ports.add(p);
  }
  return used;
}

function fits(core: NomadCore, node: NodeRec, ask: ReturnType<typeof groupAsk>, usage: PlanUsage): true | string {
  const used = nodeUsed(core, node.ID, usage);
  if (used.cpu + ask.cpu > node.capacity.cpu) return "cpu";
  if (used.mem + ask.memoryMB > node.capacity.memoryMB) return "memory";
  if (used.disk + ask.diskMB > node.capacity.diskMB) return "disk";
  const clash = ask.staticPorts.find((p) => used.ports.has(p));
  if (clash !== undefined) return `network: reserved port collision ${clash}`;
  return true;
}

function scoreNode(core: NomadCore, node: NodeRec, ask: ReturnType<typeof groupAsk>, usage: PlanUsage, collisions: number, count: number): number {
  const used = nodeUsed(core, node.ID, usage);
  const fit = ((used.cpu + ask.cpu) / node.capacity.cpu + (used.mem + ask.memoryMB) / node.capacity.memoryMB) / 2;
  if (collisions === 0) return fit;
  const penalty = -((collisions + 1) / Math.max(1, count));
  return (fit + penalty) / 2;
}

function liveJobAllocs(core: NomadCore, job: Job, usage: PlanUsage): AllocRec[] {
  const out: AllocRec[] = [];
  for (const a of core.store.allocsByJob(job.Namespace, job.ID)) if (!allocTerminal(a) && !usage.stopping.has(a.ID)) out.push(a);
  out.push(...usage.planned(job));
  return out;
}

function violatesDistinctProperty(core: NomadCore, c: Constraint, node: NodeRec, job: Job, group: TaskGroup, jobAllocs: AllocRec[]): boolean {
  const value = resolveTarget(c.LTarget, node, job.Region);
  if (value === undefined) return true;
  const limit = Number(c.RTarget) > 0 ? Number(c.RTarget) : 1;
  const groupLevel = (group.Constraints ?? []).includes(c);
  let used = 0;
  for (const a of jobAllocs) {
    if (groupLevel && a.TaskGroup !== group.Name) continue;
    const other = core.store.nodes.get(a.NodeID);
    if (other && resolveTarget(c.LTarget, other, job.Region) === value) used++;
  }
  return used >= limit;
}

function newMetrics(): JsonObject {
  return {
    NodesEvaluated: 0,
    NodesFiltered: 0,
    NodesInPool: 0,
    NodesAvailable: {},
    ClassFiltered: null,
    ConstraintFiltered: null,
    NodesExhausted: 0,
    ClassExhausted: null,
    DimensionExhausted: null,
    QuotaExhausted: null,
    ResourcesExhausted: null,
    Scores: null,
    ScoreMetaData: null,
    AllocationTime: 0,
    CoalescedFailures: 0,
  };
}

function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}

function bump(m: JsonObject, field: string, key: string): void {
  const cur = m[field];
  const map: Record<string, number> = cur && typeof cur === "object" && !Array.isArray(cur) ? (cur as Record<string, number>) : {};
  map[key] = (map[key] ?? 0) + 1;
  m[field] = map;
}

function filtered(m: JsonObject, field: string, key: string): void {
  m.NodesFiltered = num(m.NodesFiltered) + 1;
  bump(m, field, key);
}

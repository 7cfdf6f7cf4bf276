import type { PoolSpec } from "../../model/types.js";
import { isInFlight, type IncidentRecord } from "./journal.js";
import { HEALING_REASONS, type HealingReason } from "./reasons.js";
import { resolveAddress } from "./template.js";

/** One Nomad node of the pool as the caches see it, with its health history. Times are epoch ms. */
export interface NodeObservation {
  id: string;
  name: string;
  /** Nomad's `Status`: `initializing`, `ready`, `down`, `disconnected`. */
  nomadStatus: string;
  eligible: boolean;
  draining: boolean;
  /** Consul's `serfHealth` for the node; `unknown` when Consul has no such node. */
  serf: "passing" | "warning" | "critical" | "unknown";
  nodeClass: string;
  nodePool: string;
  meta: Record<string, string>;
  /** Start of the current unhealthy streak; absent while healthy. */
  unhealthySince?: number;
  /** When the node turned unhealthy, recently (observe keeps the flap window's worth). */
  unhealthyTurns: number[];
}

/** An instance as EC2 (or, failing that, the Terraform state) reports it. */
export interface InstanceObservation {
  id: string;
  /** EC2's state name; `unknown` when only the state file was read (it holds no live state). */
  state: "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped" | "unknown";
}

/** The pool's instances: the state's, by address, and the tagged ones it does not hold. */
export interface InstancesView {
  byAddress: ReadonlyMap<string, InstanceObservation>;
  /** Instance ids carrying the pool's tag that no address of the state holds (running or pending only). */
  orphans: readonly string[];
}

/** One Raft cluster's voters as `/v1/operator/raft/configuration` and autopilot health show them. */
export interface RaftHealth {
  voters: number;
  /** Voters autopilot (or serf) reports healthy. */
  healthyVoters: number;
  /** Autopilot's overall verdict, when known. */
  autopilotHealthy?: boolean;
}

/** An operator's acknowledgement of a pool's short-circuit (`steward/control/ack-short-circuit/<pool>`): its note. */
export interface ShortCircuitAck {
  by?: string;
  reason?: string;
  /** ISO 8601, as the note says. */
  at?: string;
}

/** Everything one decision about one pool depends on. Built by observe.ts from caches only. */
export interface HealingSnapshot {
  pool: PoolSpec;
  /** The pool's nodes (its `select`), old ones of replacements included. */
  nodes: readonly NodeObservation[];
  /** Absent until the state was read once. */
  instances?: InstancesView;
  /** This pool's incidents from the journal, finished ones included (for cooldown). */
  incidents: readonly IncidentRecord[];
  /** Node sources whose view is not current (a failing watch, node meta not read yet): nothing is decided while any is. */
  stale: readonly string[];
  /**
   * The Terraform state (or EC2) view is older than allowed or was invalidated
   * by an apply: no drain or apply is decided on it, but a replacement whose
   * apply ran still finishes (waiting for and purging nodes needs only the node view).
   */
  stateStale?: boolean;
  /** Apply budget for the pool's working directory (the smaller of its own and the global bucket). */
  budget: { tokens: number; nextTokenInMs?: number; dirBusy: boolean };
  /** Server pools: both clusters' Raft health; a side absent is unknown. */
  quorum?: { nomad?: RaftHealth; consul?: RaftHealth };
  /** Ids of incidents whose apply this process is running right now. */
  applying: ReadonlySet<string>;
  /**
   * Present while an operator's acknowledgement of the short-circuit is in
   * Consul KV: a short-circuited pool then replaces within every other guard,
   * and once the pool is no longer short-circuited the planner asks for the
   * acknowledgement to be removed (it covered one incident).
   */
  shortCircuitAck?: ShortCircuitAck;
  timing: {
    /** An apply older than this (plus a grace) is taken as ended when no result was recorded (a dead leader's). */
    applyTimeoutMs: number;
    /** After a successful apply, how long the new node may take before ReplacementSlow. */
    bootTimeoutMs: number;
  };
}

/** A node as an action names it. */
export interface NodeRef {
  id: string;
  name: string;
  address: string;
  instanceId?: string;
  unhealthySince: number;
}

/** What the planner asks for. Each action carries its reason code and a readable message. */
export type HealingAction =
  | { kind: "noop"; reason: HealingReason; message: string; node?: string }
  | { kind: "drain"; node: NodeRef; deadlineMs: number; reason: HealingReason; message: string }
  | {
      kind: "apply";
      /** `-replace=` addresses: instances still running under dead nodes. */
      replace: string[];
      /** Addresses a plain apply recreates (instance terminated or gone). */
      recreate: string[];
      nodes: NodeRef[];
      reason: HealingReason;
      message: string;
    }
  /** The journal shows an apply with no result, and the state shows its work done: record it as applied, then wait. */
  | { kind: "confirm-applied"; node: NodeRef; reason: HealingReason; message: string }
  | { kind: "purge"; node: NodeRef; newNodeId: string; reason: HealingReason; message: string }
  | { kind: "report"; instances: string[]; reason: HealingReason; message: string }
  /** The short-circuit the acknowledgement was given for is over: delete the acknowledgement. */
  | { kind: "clear-ack"; reason: HealingReason; message: string };

/** The action kinds, for metrics created at zero. */
export const HEALING_ACTION_KINDS = ["noop", "drain", "apply", "confirm-applied", "purge", "report", "clear-ack"] as const satisfies readonly HealingAction["kind"][];

/** What the plan saw of the pool, for status and metrics. */
export interface HealingSummary {
  /** Nodes counted for maxUnhealthy (old nodes whose replacement runs excluded). */
  members: number;
  unhealthy: number;
  /** Unhealthy for at least unhealthyAfter. */
  lost: number;
  /** The maxUnhealthy guard tripped. */
  shortCircuited: boolean;
  /** Short-circuited, and an operator acknowledged it: replacements proceed within the other guards. */
  shortCircuitAcknowledged: boolean;
  inFlight: number;
  orphans: number;
}

/** The planner's answer: actions in order, when to look again, and what it saw. */
export interface HealingPlan {
  actions: HealingAction[];
  recheckAfterMs?: number;
  summary: HealingSummary;
}

/** How long to wait before re-planning on a stale view. */
const STALE_RECHECK_MS = 5_000;
/** Added to the apply timeout before a dead leader's apply is taken as ended: its interrupt and kill grace. */
const APPLY_END_GRACE_MS = 60_000;

/** Whether a node counts as unhealthy: Nomad says down or disconnected, or Consul's serfHealth is critical. */
export function isUnhealthy(n: NodeObservation): boolean {
  return n.nomadStatus === "down" || n.nomadStatus === "disconnected" || n.serf === "critical";
}

/** Whether a node is ready for work: Nomad has its client ready (a server has none: `server`) and Consul's serfHealth passes. */
export function isReady(n: NodeObservation): boolean {
  return (n.nomadStatus === "ready" || n.nomadStatus === "server") && n.serf === "passing";
}

/** Whether a lost node still answers, so it can be drained first (Nomad still has it ready). */
export function stillAnswers(n: NodeObservation): boolean {
  return n.nomadStatus === "ready" || n.nomadStatus === "initializing";
}

/** The most nodes that may be unhealthy before the pool short-circuits (a percentage rounds up, as CAPI's). */
export function maxUnhealthyCount(limit: PoolSpec["budgets"]["maxUnhealthy"], members: number): number {
  return "count" in limit ? limit.count : Math.ceil((limit.percent * members) / 100);
}

/** Whether a node flaps: it turned unhealthy at least `count` times within the window before `now`. */
export function isFlapping(n: NodeObservation, policy: PoolSpec["health"]["flapping"], now: number): boolean {
  return n.unhealthyTurns.filter((t) => t > now - policy.windowMs).length >= policy.count;
}

/** Whether the Raft voters other than the lost one keep a quorum, and autopilot does not object. */
export function quorumHolds(h: RaftHealth): boolean {
  return h.healthyVoters >= Math.floor(h.voters / 2) + 1 && h.autopilotHealthy !== false;
}

interface Work {
  actions: HealingAction[];
  /** Apply candidates, in order: continuations first, then new losses. */
  apply: Array<{ ref: NodeRef; gone: boolean }>;
  recheck: number[];
}

/**
 * Decides what to do about one pool: the healing analogue of CAPI's
 * MachineHealthCheck (needsRemediation + isAllowedRemediation) and
 * nomad-autoscaler's safest-wins. Pure: `now` is an argument.
 *
 * Order: a stale node view refuses everything, a stale state view every
 * drain and apply; in-flight incidents progress
 * (wait, confirm, purge, and applies still owed); new losses pass the guards
 * (short-circuit, server quorum and one-at-a-time, maxConcurrent, cooldown),
 * nodes that still answer are drained first, and every apply of the pass is
 * batched into one (several `-replace`), which then needs a budget token and
 * an idle working directory. Orphaned instances are reported.
 */
export function planHealing(s: HealingSnapshot, now: number): HealingPlan {
  const { pool } = s;
  const byId = new Map(s.nodes.map((n) => [n.id, n]));
  const active = s.incidents.filter(isInFlight);
  const settled = new Set(s.incidents.filter((r) => r.step === "applied" || r.step === "purging" || r.step === "done").map((r) => r.nodeId));
  const counted = s.nodes.filter((n) => !settled.has(n.id));
  const unhealthy = counted.filter(isUnhealthy);
  const lost = unhealthy.filter((n) => n.unhealthySince !== undefined && now - n.unhealthySince >= pool.health.unhealthyAfterMs);
  const shortCircuited = unhealthy.length > maxUnhealthyCount(pool.budgets.maxUnhealthy, counted.length);
  const summary: HealingSummary = {
    members: counted.length,
    unhealthy: unhealthy.length,
    lost: lost.length,
    shortCircuited,
    shortCircuitAcknowledged: shortCircuited && s.shortCircuitAck !== undefined,
    inFlight: active.length,
    orphans: s.instances?.orphans.length ?? 0,
  };
  if (s.stale.length > 0) {
    return { actions: [noop("StaleView", `${msg("StaleView")} (${s.stale.join(", ")})`)], recheckAfterMs: STALE_RECHECK_MS, summary };
  }
  const w: Work = { actions: [], apply: [], recheck: [] };
  if (s.stateStale) {
    // Only the steps after a successful apply go on; everything else waits for a fresh state.
    for (const r of active.filter((x) => x.step === "applied" || x.step === "purging")) progressIncident(s, r, byId, w, now);
    w.actions.push(noop("StaleView", `${msg("StaleView")} (terraform state)`));
    spendAck(s, shortCircuited, w);
    return { actions: w.actions, recheckAfterMs: STALE_RECHECK_MS, summary };
  }
  for (const r of active) progressIncident(s, r, byId, w, now);
  const incidentNodes = new Set(s.incidents.map((r) => r.nodeId));
  const fresh = considerNew(s, lost, incidentNodes, w, now);
  for (const n of unhealthy) {
    if (n.unhealthySince !== undefined && !lost.includes(n)) {
      w.actions.push(noop("Unhealthy", `${n.name}: ${msg("Unhealthy")}`, n.id));
      w.recheck.push(n.unhealthySince + pool.health.unhealthyAfterMs - now);
    }
  }
  const blocked = guardNew(s, fresh, shortCircuited, unhealthy.length, counted.length, active, w, now);
  if (!blocked) admitNew(s, fresh, active.length, w);
  // Continuations (applies owed by incidents in flight) wait too, unless an operator acknowledged the short-circuit.
  if (shortCircuited && !s.shortCircuitAck) w.apply = [];
  spendAck(s, shortCircuited, w);
  batchApply(s, w);
  const orphans = s.instances?.orphans ?? [];
  if (orphans.length > 0) w.actions.push({ kind: "report", instances: [...orphans], reason: "OrphanedInstance", message: `${orphans.join(", ")}: ${msg("OrphanedInstance")}` });
  if (w.actions.length === 0) w.actions.push(noop("Healthy", `every node of pool ${pool.name} is healthy`));
  const pos = w.recheck.filter((x) => Number.isFinite(x)).map((x) => Math.max(x, 0));
  return { actions: w.actions, ...(pos.length > 0 ? { recheckAfterMs: Math.min(...pos) } : {}), summary };
}

/** Lost nodes without an incident, resolved to their address; those that cannot be are explained and left out. */
function considerNew(s: HealingSnapshot, lost: NodeObservation[], incidentNodes: Set<string>, w: Work, now: number): Array<{ ref: NodeRef; node: NodeObservation; gone: boolean }> {
  const out: Array<{ ref: NodeRef; node: NodeObservation; gone: boolean }> = [];
  const ordered = [...lost].sort((a, b) => (a.unhealthySince ?? 0) - (b.unhealthySince ?? 0) || (a.name < b.name ? -1 : 1));
  for (const n of ordered) {
    if (incidentNodes.has(n.id)) continue;
    if (isFlapping(n, s.pool.health.flapping, now) && !s.pool.health.flapping.replace) {
      w.actions.push(noop("Flapping", `${n.name}: ${msg("Flapping")}`, n.id));
      continue;
    }
    const resolved = resolveAddress(s.pool.terraform.address, n);
    if ("missing" in resolved) {
      w.actions.push(noop("AddressUnresolved", `${n.name}: ${msg("AddressUnresolved")} (\${${resolved.missing}})`, n.id));
      continue;
    }
    const inst = s.instances?.byAddress.get(resolved.address);
    if (!inst) {
      w.actions.push(noop("AddressNotInState", `${n.name}: ${resolved.address}: ${msg("AddressNotInState")}`, n.id));
      continue;
    }
    const ref: NodeRef = { id: n.id, name: n.name, address: resolved.address, instanceId: inst.id, unhealthySince: n.unhealthySince ?? now };
    out.push({ ref, node: n, gone: isGone(inst) });
  }
  return out;
}

/** The guards on new replacements, safest first; true when one refused them all. */
function guardNew(
  s: HealingSnapshot,
  fresh: Array<{ ref: NodeRef }>,
  shortCircuited: boolean,
  unhealthy: number,
  members: number,
  active: IncidentRecord[],
  w: Work,
  now: number,
): boolean {
  const { pool } = s;
  if (shortCircuited) {
    const limit = maxUnhealthyCount(pool.budgets.maxUnhealthy, members);
    const seen = `${unhealthy} of ${members} nodes of pool ${pool.name} are unhealthy (at most ${limit} allowed)`;
    const ack = s.shortCircuitAck;
    if (!ack) {
      w.actions.push(noop("ShortCircuit", `${seen}: ${msg("ShortCircuit")}`));
      return true;
    }
    w.actions.push(noop("ShortCircuitAcknowledged", `${seen}; short-circuit acknowledged${describeAck(ack)}: replacements proceed within maxConcurrent, cooldown, server quorum and the apply budget`));
  }
  if (fresh.length === 0) return true;
  if (pool.role === "server") {
    if (active.length > 0) return refuse(w, "ServerOneAtATime", fresh);
    const sides = [s.quorum?.nomad, s.quorum?.consul];
    if (sides.some((h) => h === undefined)) return refuse(w, "QuorumUnknown", fresh);
    if (sides.some((h) => h !== undefined && !quorumHolds(h))) return refuse(w, "QuorumAtRisk", fresh);
  }
  if (active.length >= pool.budgets.maxConcurrent) return refuse(w, "MaxConcurrent", fresh);
  const lastDone = Math.max(0, ...s.incidents.filter((r) => r.step === "done").map((r) => r.finishedAt ?? 0));
  if (lastDone > 0 && now - lastDone < pool.budgets.cooldownMs) {
    w.recheck.push(lastDone + pool.budgets.cooldownMs - now);
    return refuse(w, "Cooldown", fresh);
  }
  return false;
}

function refuse(w: Work, reason: HealingReason, fresh: Array<{ ref: NodeRef }>): true {
  w.actions.push(noop(reason, `${fresh.map((f) => f.ref.name).join(", ")}: ${msg(reason)}`));
  return true;
}

/** Once the pool is no longer short-circuited, an acknowledgement has covered its incident: it is removed. */
function spendAck(s: HealingSnapshot, shortCircuited: boolean, w: Work): void {
  if (!s.shortCircuitAck || shortCircuited) return;
  w.actions.push({ kind: "clear-ack", reason: "ShortCircuitAckSpent", message: `pool ${s.pool.name}: the short-circuit acknowledged${describeAck(s.shortCircuitAck)} is over; ${msg("ShortCircuitAckSpent")}` });
}

/** ` by alice at … (rack 4 lost)`, from what the note holds. */
export function describeAck(a: ShortCircuitAck): string {
  return `${a.by ? ` by ${a.by}` : ""}${a.at ? ` at ${a.at}` : ""}${a.reason ? ` (${a.reason})` : ""}`;
}

/** New losses within the free slots (servers: one): answering ones are drained, the others join the batch. */
function admitNew(s: HealingSnapshot, fresh: Array<{ ref: NodeRef; node: NodeObservation; gone: boolean }>, inFlight: number, w: Work): void {
  const slots = s.pool.role === "server" ? 1 : s.pool.budgets.maxConcurrent - inFlight;
  const admitted = fresh.slice(0, Math.max(0, slots));
  for (const f of admitted) {
    if (stillAnswers(f.node)) {
      w.actions.push({ kind: "drain", node: f.ref, deadlineMs: s.pool.drain.deadlineMs, reason: "NodeLostDrained", message: `${f.ref.name}: ${msg("NodeLostDrained")}` });
    } else {
      w.apply.push({ ref: f.ref, gone: f.gone });
    }
  }
  const rest = fresh.slice(admitted.length);
  if (rest.length > 0) refuse(w, "MaxConcurrent", rest);
}

/** One apply for every candidate of the pass, if the budget and the working directory allow. */
function batchApply(s: HealingSnapshot, w: Work): void {
  if (w.apply.length === 0) return;
  const names = w.apply.map((a) => a.ref.name).join(", ");
  if (s.budget.dirBusy) {
    w.actions.push(noop("DirBusy", `${names}: ${msg("DirBusy")}`));
    w.recheck.push(STALE_RECHECK_MS);
    return;
  }
  if (s.budget.tokens < 1) {
    w.actions.push(noop("BudgetExhausted", `${names}: ${msg("BudgetExhausted")}`));
    if (s.budget.nextTokenInMs !== undefined) w.recheck.push(s.budget.nextTokenInMs);
    return;
  }
  const replace = w.apply.filter((a) => !a.gone).map((a) => a.ref.address);
  const recreate = w.apply.filter((a) => a.gone).map((a) => a.ref.address);
  const reason: HealingReason = replace.length > 0 ? "InstanceRunningUnderDeadNode" : "InstanceGone";
  const parts = [
    ...(replace.length > 0 ? [`-replace ${replace.join(" ")}`] : []),
    ...(recreate.length > 0 ? [`recreate ${recreate.join(" ")}`] : []),
  ];
  w.actions.push({ kind: "apply", replace, recreate, nodes: w.apply.map((a) => a.ref), reason, message: `${names}: ${msg(reason)} (${parts.join("; ")})` });
}

/** The next step of one in-flight incident. */
function progressIncident(s: HealingSnapshot, r: IncidentRecord, byId: Map<string, NodeObservation>, w: Work, now: number): void {
  const ref: NodeRef = { id: r.nodeId, name: r.nodeName, address: r.address, ...(r.oldInstanceId ? { instanceId: r.oldInstanceId } : {}), unhealthySince: r.unhealthySince };
  const inst = s.instances?.byAddress.get(r.address);
  const old = byId.get(r.nodeId);
  switch (r.step) {
    case "draining": {
      const deadline = (r.history.findLast((h) => h.step === "draining")?.at ?? r.createdAt) + s.pool.drain.deadlineMs;
      const done = !old || !stillAnswers(old) || (!old.draining && !old.eligible) || now >= deadline;
      if (done) w.apply.push({ ref, gone: !inst || isGone(inst) });
      else {
        w.actions.push(noop("Draining", `${r.nodeName}: ${msg("Draining")}`, r.nodeId));
        w.recheck.push(deadline - now);
      }
      return;
    }
    case "applying":
      return progressApplying(s, r, ref, inst, w, now);
    case "apply-failed": {
      if ((r.retryAt ?? 0) > now) {
        w.actions.push(noop("ApplyRetryBackoff", `${r.nodeName}: ${msg("ApplyRetryBackoff")}${r.lastError ? `: ${r.lastError}` : ""}`, r.nodeId));
        w.recheck.push((r.retryAt ?? now) - now);
        return;
      }
      // A failed -replace may have destroyed the old instance already: the state decides replace or recreate.
      if (inst && inst.id !== r.oldInstanceId && !isGone(inst)) return waitForNew(s, r, ref, w, now);
      w.apply.push({ ref, gone: !inst || isGone(inst) });
      return;
    }
    case "applied":
      return waitForNew(s, r, ref, w, now);
    case "purging":
      w.actions.push({ kind: "purge", node: ref, newNodeId: r.newNodeId ?? "", reason: "ReplacementReady", message: `${r.nodeName}: ${msg("ReplacementReady")}` });
      return;
    case "done":
      return;
  }
}

/** An incident whose apply has no recorded result: running here, run by a dead leader, or done. */
function progressApplying(s: HealingSnapshot, r: IncidentRecord, ref: NodeRef, inst: InstanceObservation | undefined, w: Work, now: number): void {
  if (s.applying.has(r.nodeId)) {
    w.actions.push(noop("ApplyInFlight", `${r.nodeName}: ${msg("ApplyInFlight")}`, r.nodeId));
    return;
  }
  if (inst && inst.id !== r.oldInstanceId && !isGone(inst)) {
    w.actions.push({ kind: "confirm-applied", node: ref, reason: "ReplacementPending", message: `${r.nodeName}: the state holds a new instance ${inst.id} for ${r.address}; ${msg("ReplacementPending")}` });
    return;
  }
  const endsBy = (r.applyStartedAt ?? r.updatedAt) + s.timing.applyTimeoutMs + APPLY_END_GRACE_MS;
  if (now < endsBy) {
    w.actions.push(noop("ApplyInFlight", `${r.nodeName}: ${msg("ApplyInFlight")}`, r.nodeId));
    // Its result shows only in the state, which nothing watches: look again soon.
    w.recheck.push(Math.min(endsBy - now, STALE_RECHECK_MS));
    return;
  }
  // The earlier apply is certainly over (timeout, interrupt, kill) and its work is not in the state: apply again.
  w.apply.push({ ref, gone: !inst || isGone(inst) });
}

/** After the apply: the new node ready → purge the old one; else wait (and say so when it is slow). */
function waitForNew(s: HealingSnapshot, r: IncidentRecord, ref: NodeRef, w: Work, now: number): void {
  const fresh = s.nodes.find((n) => n.id !== r.nodeId && isReady(n) && addressOf(s, n) === r.address);
  if (fresh) {
    w.actions.push({ kind: "purge", node: ref, newNodeId: fresh.id, reason: "ReplacementReady", message: `${r.nodeName}: ${msg("ReplacementReady")} (new node ${fresh.name})` });
    return;
  }
  const since = r.appliedAt ?? r.updatedAt;
  const slow = now - since >= s.timing.bootTimeoutMs;
  const reason: HealingReason = slow ? "ReplacementSlow" : "ReplacementPending";
  w.actions.push(noop(reason, `${r.nodeName}: ${msg(reason)}`, r.nodeId));
  if (!slow) w.recheck.push(since + s.timing.bootTimeoutMs - now);
}

function addressOf(s: HealingSnapshot, n: NodeObservation): string | undefined {
  const r = resolveAddress(s.pool.terraform.address, n);
  return "address" in r ? r.address : undefined;
}

function isGone(i: InstanceObservation): boolean {
  return i.state === "terminated" || i.state === "shutting-down";
}

function noop(reason: HealingReason, message: string, node?: string): HealingAction {
  return { kind: "noop", reason, message, ...(node !== undefined ? { node } : {}) };
}

function msg(reason: HealingReason): string {
  return HEALING_REASONS[reason];
}

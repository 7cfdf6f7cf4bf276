import { PROMOTION_MAX_SNAPSHOT_AGE_MS, PROMOTION_RECHECK_MS } from "../../config/defaults.js";
import type { FreezeWindow, GateSpec } from "../../model/types.js";
import { describeFreeze, type FreezeNote } from "../core/freeze.js";
import {
  currentStage,
  isInFlight,
  lastGoodDigest,
  newRecord,
  retryRefusal,
  transition,
  type JournalEvent,
  type PromotionRecord,
  type StageRecord,
} from "./journal.js";
import { PROMOTION_REASONS, type PromotionReason } from "./reasons.js";

/** One stage of a service's pipeline: an environment it runs in, in promotion order. */
export interface StageSpec {
  name: string;
  /** Gates after the deployment, in order (service.yaml `promotion.gates.<stage>`). */
  gates: GateSpec[];
  /** The environment's freeze windows (steward.yaml). */
  freeze: FreezeWindow[];
}

/** One Nomad deployment of the service's job in a stage. Times are epoch ms. */
export interface DeploymentObservation {
  jobVersion: number;
  status: "pending" | "running" | "paused" | "blocked" | "successful" | "failed" | "cancelled";
  /** When Nomad fails the deployment for lack of progress (the group's `progress_deadline`). */
  progressDeadlineAt?: number;
}

/** What a gate's check last saw, by gate kind. Produced by the probes and watches, never by the planner. */
export type GateObservation =
  /** The verification batch job run for this digest. */
  | { kind: "verify"; status: "pending" | "running" | "dead"; exitCode?: number }
  /** The last probe of the URL. */
  | { kind: "http"; at: number; status?: number; error?: string }
  /** The last query result; `belowSince` is when the value last went (and stayed) below the threshold. */
  | { kind: "prometheus"; at: number; value?: number; belowSince?: number; error?: string };

/** The service's job in one stage, from Steward's caches. */
export interface StageObservation {
  job?: {
    /** Every task image of the current version (`repo@sha256:…`). */
    images: string[];
    version: number;
    /** Every task group has `update { auto_revert = true }`: Nomad reverts a failed deployment itself. */
    autoRevert: boolean;
  };
  /** Recent deployments of the job, any order. */
  deployments: DeploymentObservation[];
  /** When allocations of the job failed, recently (epoch ms). */
  allocFailures: number[];
  /** Gate index → what its check last saw. */
  gates: Record<number, GateObservation>;
}

/** Another digest of the same service: a candidate the registry shows, with its journal record if it has one. */
export interface Peer {
  digest: string;
  /** Candidate order from the tag policy: higher is newer. */
  order: number;
  record?: PromotionRecord;
}

/**
 * An operator's request to retry the failed gate of one stage for one
 * digest, as read from `<statePrefix>/gate-retries/<service>/<digest>`.
 */
export interface RetryRequest {
  stage: string;
  /** Who asked. */
  by: string;
  reason?: string;
  /** The request's id (a fresh one per request): the journal records it, so it is honoured once. */
  id: string;
  /** The key's ModifyIndex: the request is removed with check-and-set at it. */
  modifyIndex: number;
}

/**
 * Everything one decision about (service, digest) depends on. Built by
 * observe.ts from caches only; `observedAt` is when the oldest of those
 * caches was last known current.
 */
export interface PromotionSnapshot {
  service: string;
  repository: string;
  digest: string;
  tag?: string;
  /** This candidate's order from the tag policy: higher is newer. */
  order: number;
  stages: StageSpec[];
  /** The journal record and the ModifyIndex it was read at; absent for a new candidate. */
  journal?: { record: PromotionRecord; modifyIndex: number };
  peers: Peer[];
  /** Digests that failed for this service, ever: never promoted again. */
  failedDigests: string[];
  /** A manual approval exists for this service and digest (for the stage now gating, or for every stage). */
  approved: boolean;
  /** A manual rejection exists (same scope): a running manual gate fails. */
  rejected?: boolean;
  /** Stage name → its observation. */
  observed: Record<string, StageObservation>;
  observedAt: number;
  paused: boolean;
  /** service.yaml's pinned digest: what a stage returns to when no promotion passed it. */
  pinnedDigest?: string;
  /** Stage name → the operator's freeze of that environment (`steward/control/freeze/<env>`); only frozen stages are listed. */
  frozen?: Record<string, FreezeNote>;
  /** An operator's request to retry a failed gate of this digest. */
  retryRequest?: RetryRequest;
  /** The ModifyIndex of the manual decision in force for the retried stage (recorded by a retry, so older decisions do not count again). */
  decisionIndex?: number;
}

interface ActionBase {
  service: string;
  digest: string;
  reason: PromotionReason;
  /** One line a person can read: what and why. */
  message: string;
}

/** The journal write that comes before an action's effect: CAS at the index the record was read at (0: create). */
interface JournalWrite {
  record: PromotionRecord;
  expectedModifyIndex: number;
}

/**
 * One step. Every kind but `wait` and `noop` carries the record to write
 * first (check-and-set); the effect follows only once the write won.
 * - `setStageDigest`: the stage is to run `stageDigest` (this digest, or the
 *   last good one on a rollback). Its effect *is* the journal write, which
 *   sync's ImageResolver reads (see journal.ts `stageDigest`); the loop then
 *   asks sync to look at the service now. Idempotent.
 * - `startGate`: start gate `gate` (register the verification job, schedule the probe).
 * - `record`: progress that only needs recording (a deployment seen, a gate passed, auto_revert seen, superseded).
 * - `fail`: the digest failed for good in `stage`.
 * - `retryGate`: an operator's retry is honoured (the record's `gateRetried`
 *   step); then the request is removed.
 * - `dropRetry`: a retry request is removed without a journal write: it was
 *   refused (the reason and message say why) or already honoured.
 * - `wait`, `noop`: nothing to write; the reason says why.
 */
export type PromotionAction =
  | (ActionBase & JournalWrite & { kind: "setStageDigest"; stage: string; stageDigest: string; image: string })
  | (ActionBase & JournalWrite & { kind: "startGate"; stage: string; gate: number; spec: GateSpec })
  | (ActionBase & JournalWrite & { kind: "record" })
  | (ActionBase & JournalWrite & { kind: "fail"; stage: string })
  | (ActionBase & JournalWrite & { kind: "retryGate"; stage: string; from: "gate" | "deployment"; request: RetryRequest })
  | (ActionBase & { kind: "dropRetry"; stage: string; request: RetryRequest; refused: boolean })
  | (ActionBase & { kind: "wait" })
  | (ActionBase & { kind: "noop" });

/** The next step for one (service, digest), and when to look again without an event. */
export interface PromotionPlan {
  actions: PromotionAction[];
  /** The earliest time (ms from now) the answer could change without an event. */
  recheckAfterMs?: number;
}

/**
 * Decides the next step of one digest's promotion. Pure: the same snapshot
 * and `now` (epoch ms) always give the same plan. Guards come first (stale
 * snapshot, pause, a failed digest, a previous stage not passed); then the
 * journal says where the promotion stands and the plan is the step after
 * that, never a step already done: a step begun but not seen done (a
 * register) is re-issued, since it is idempotent.
 */
export function planPromotion(s: PromotionSnapshot, now: number): PromotionPlan {
  if (now - s.observedAt > PROMOTION_MAX_SNAPSHOT_AGE_MS) {
    const age = Math.round((now - s.observedAt) / 1000);
    return { actions: [noop(s, "StaleSnapshot", `${PROMOTION_REASONS.StaleSnapshot} (${age} s old)`)], recheckAfterMs: PROMOTION_RECHECK_MS };
  }
  if (s.paused) return one(noop(s, "Paused"));
  if (s.retryRequest) return planRetry(s, s.retryRequest, now);
  const entry = s.journal;
  if (!entry) {
    if (s.failedDigests.includes(s.digest)) return one(noop(s, "DigestFailed"));
    const fresh = newRecord({ service: s.service, digest: s.digest, ...(s.tag !== undefined && { tag: s.tag }), stages: s.stages.map((x) => x.name) }, now);
    return planEnter(s, { record: fresh, modifyIndex: 0 }, 0, now);
  }
  const r = entry.record;
  if (r.status === "promoted") return one(noop(s, "PromotionComplete"));
  if (r.status === "superseded") return one(noop(s, "Superseded", `${PROMOTION_REASONS.Superseded} (by ${short(r.supersededBy)})`));
  if (r.status === "failed") return planFailed(s, entry, now);
  if (s.failedDigests.includes(s.digest)) return one(noop(s, "DigestFailed"));
  const cur = currentStage(r);
  if (!cur) return one(noop(s, "PromotionComplete"));
  switch (cur.stage.status) {
    case "pending":
      return planEnter(s, entry, cur.index, now);
    case "entering":
    case "deploying":
      return planDeployment(s, entry, cur.stage, now);
    case "gating":
      return planGates(s, entry, cur.stage, now);
    default:
      // A failed or rolled-back stage in an active record: the record was written half; finish the failure.
      return planFailed(s, entry, now);
  }
}

type Entry = { record: PromotionRecord; modifyIndex: number };

function planEnter(s: PromotionSnapshot, e: Entry, k: number, now: number): PromotionPlan {
  const spec = s.stages[k];
  if (!spec) return one(noop(s, "PromotionComplete"));
  const prev = e.record.stages[k - 1];
  if (k > 0 && !stagePassed(prev)) {
    return one(noop(s, "PreviousStageNotPassed", `${PROMOTION_REASONS.PreviousStageNotPassed} (${prev?.name ?? "?"})`));
  }
  const newer = supersedingPeer(s, k);
  if (newer) return one(write(s, e, "record", { type: "superseded", by: newer.digest, message: `superseded by ${short(newer.digest)}` }, now, "Superseded"));
  const holder = s.peers.find((p) => isInFlight(p.record?.stages[k]?.status ?? "pending"));
  if (holder) {
    const msg = `${PROMOTION_REASONS.StageOccupied} (${short(holder.digest)} in ${spec.name})`;
    return { actions: [wait(s, "StageOccupied", msg)], recheckAfterMs: PROMOTION_RECHECK_MS };
  }
  const frozenUntil = freezeEndsAt(spec.freeze, now);
  if (frozenUntil !== undefined) {
    const msg = `${PROMOTION_REASONS.FreezeWindow} (${spec.name} is frozen until ${new Date(frozenUntil).toISOString()})`;
    return { actions: [wait(s, "FreezeWindow", msg)], recheckAfterMs: frozenUntil - now };
  }
  const freeze = s.frozen?.[spec.name];
  if (freeze) return one(wait(s, "EnvironmentFrozen", `${PROMOTION_REASONS.EnvironmentFrozen} (${describeFreeze(spec.name, freeze)})`));
  const reason = k === 0 ? "StageEntered" : "Promoted";
  return enterStage(s, e, spec.name, reason, now);
}

/**
 * An operator's retry request: honoured when the digest failed in that
 * stage at a gate (see journal.ts `retryRefusal`), from the failed gate when
 * the stage still runs the digest (nothing is registered or rolled back
 * again), else by entering the stage again; refused (and removed) otherwise.
 * A request the journal already honoured (a failover between the write and
 * the removal) is only removed.
 */
function planRetry(s: PromotionSnapshot, req: RetryRequest, now: number): PromotionPlan {
  const entry = s.journal;
  const label = `${req.stage} gate retry for ${short(s.digest)} (asked by ${req.by})`;
  if (entry?.record.retries?.some((x) => x.requestId === req.id)) {
    return one({ ...base(s, "GateRetried", `${label}: already honoured; the request is removed`), kind: "dropRetry", stage: req.stage, request: req, refused: false });
  }
  const why = retryRefusal(entry?.record, req.stage);
  if (!entry || why) {
    return one({ ...base(s, "RetryRefused", `${label} refused: ${why ?? "no record"}`), kind: "dropRetry", stage: req.stage, request: req, refused: true });
  }
  const runs = s.observed[req.stage]?.job?.images.includes(imageOf(s, s.digest)) ?? false;
  const from = runs ? "gate" : "deployment";
  const message = `${label}: ${from === "gate" ? "its gates run again from the failed one" : `${req.stage} runs another digest now, so it is entered again`}${req.reason ? ` (${req.reason})` : ""}`;
  const record = transition(
    entry.record,
    { type: "gateRetried", stage: req.stage, from, by: req.by, ...(req.reason !== undefined && { reason: req.reason }), requestId: req.id, ...(s.decisionIndex !== undefined && { decisionIndex: s.decisionIndex }), message },
    now,
  );
  return {
    actions: [{ ...base(s, "GateRetried", `${PROMOTION_REASONS.GateRetried}: ${message}`), kind: "retryGate", stage: req.stage, from, request: req, record, expectedModifyIndex: entry.modifyIndex }],
    recheckAfterMs: PROMOTION_RECHECK_MS,
  };
}

function enterStage(s: PromotionSnapshot, e: Entry, stage: string, reason: "StageEntered" | "Promoted" | "RegisterReissued", now: number): PromotionPlan {
  const message = `${PROMOTION_REASONS[reason]}: ${stage} runs ${short(s.digest)}`;
  const record = transition(e.record, { type: "enter", stage, reason, message }, now);
  return {
    actions: [{ ...base(s, reason, message), kind: "setStageDigest", stage, stageDigest: s.digest, image: imageOf(s, s.digest), record, expectedModifyIndex: e.modifyIndex }],
    recheckAfterMs: PROMOTION_RECHECK_MS,
  };
}

function planDeployment(s: PromotionSnapshot, e: Entry, stage: StageRecord, now: number): PromotionPlan {
  const obs = s.observed[stage.name];
  const runs = obs?.job?.images.includes(imageOf(s, s.digest)) ?? false;
  const version = stage.jobVersion ?? (runs ? obs?.job?.version : undefined);
  const dep = version === undefined ? undefined : obs?.deployments.find((d) => d.jobVersion === version);
  if (stage.status === "entering" && !runs) {
    // Sync writes nothing to a frozen environment: re-issuing the register would only rewrite the journal.
    const freeze = s.frozen?.[stage.name];
    if (freeze) return one(wait(s, "EnvironmentFrozen", `${PROMOTION_REASONS.EnvironmentFrozen}: the register of ${short(s.digest)} waits (${describeFreeze(stage.name, freeze)})`));
    return enterStage(s, e, stage.name, "RegisterReissued", now);
  }
  const gates = s.stages.find((x) => x.name === stage.name)?.gates ?? [];
  const v = version === undefined ? {} : { jobVersion: version };
  if (dep?.status === "successful") {
    return one(write(s, e, "record", { type: "deploymentSucceeded", stage: stage.name, gates, ...v, message: `${stage.name}: deployment of version ${version} succeeded` }, now));
  }
  if (dep?.status === "failed" || dep?.status === "cancelled") {
    return one(failStep(s, e, { stage: stage.name, reason: "DeploymentFailed", message: `${stage.name}: deployment of version ${version} ${dep.status}` }, now));
  }
  if (dep?.progressDeadlineAt !== undefined && now >= dep.progressDeadlineAt) {
    return one(failStep(s, e, { stage: stage.name, reason: "ProgressDeadlineExceeded", message: `${stage.name}: deployment of version ${version} passed its progress deadline` }, now));
  }
  if (dep && stage.status === "entering") {
    return { ...one(write(s, e, "record", { type: "deploymentStarted", stage: stage.name, ...v, message: `${stage.name}: deployment of version ${version} under way` }, now)), recheckAfterMs: PROMOTION_RECHECK_MS };
  }
  const until = dep?.progressDeadlineAt === undefined ? PROMOTION_RECHECK_MS : Math.min(PROMOTION_RECHECK_MS, dep.progressDeadlineAt - now);
  const what = dep ? `${dep.status}` : `no deployment of version ${version ?? "?"} seen yet`;
  return { actions: [wait(s, "DeploymentRunning", `${PROMOTION_REASONS.DeploymentRunning} in ${stage.name} (${what})`)], recheckAfterMs: until };
}

function planGates(s: PromotionSnapshot, e: Entry, stage: StageRecord, now: number): PromotionPlan {
  const g = stage.gates.findIndex((x) => x.status !== "passed");
  const gate = stage.gates[g];
  if (!gate) return one(write(s, e, "record", { type: "stagePassed", stage: stage.name, message: `${stage.name}: ${stage.gates.length} gate(s) passed` }, now));
  const label = `${stage.name} gate ${g} (${gate.spec.kind})`;
  if (gate.status === "pending") {
    const record = transition(e.record, { type: "gateStarted", stage: stage.name, gate: g, message: `${label} started` }, now);
    return {
      actions: [{ ...base(s, "GateStarted", `${PROMOTION_REASONS.GateStarted}: ${label}`), kind: "startGate", stage: stage.name, gate: g, spec: gate.spec, record, expectedModifyIndex: e.modifyIndex }],
      recheckAfterMs: PROMOTION_RECHECK_MS,
    };
  }
  const v = evaluateGate(gate.spec, { startedAt: gate.startedAt ?? now, now, approved: s.approved, ...(s.rejected && { rejected: true }), obs: s.observed[stage.name], gate: g });
  const message = `${label}: ${v.detail}`;
  if (v.verdict === "passed") return one(write(s, e, "record", { type: "gatePassed", stage: stage.name, gate: g, message }, now));
  if (v.verdict === "failed" || v.verdict === "timedOut") {
    return one(failStep(s, e, { stage: stage.name, gate: g, reason: v.verdict === "failed" ? "GateFailed" : "GateTimedOut", message }, now));
  }
  return { actions: [wait(s, "GatePending", `${PROMOTION_REASONS.GatePending}: ${message}`)], ...(v.recheckAfterMs !== undefined && { recheckAfterMs: v.recheckAfterMs }) };
}

/** A gate's verdict from what its check saw. */
export interface GateVerdict {
  verdict: "passed" | "failed" | "timedOut" | "pending";
  /** What was seen, for the message and the journal. */
  detail: string;
  /** While pending: when to look again (ms); absent when only an event can change it (a manual approval). */
  recheckAfterMs?: number;
}

/**
 * Judges one running gate. `startedAt` is when the gate started (journal);
 * results older than it do not count.
 */
export function evaluateGate(
  spec: GateSpec,
  c: { startedAt: number; now: number; approved: boolean; rejected?: boolean; obs: StageObservation | undefined; gate: number },
): GateVerdict {
  const seen = c.obs?.gates[c.gate];
  const elapsed = c.now - c.startedAt;
  const timeout = (limit: number, pending: string): GateVerdict =>
    elapsed >= limit
      ? { verdict: "timedOut", detail: `${pending} after ${Math.round(limit / 1000)} s` }
      : { verdict: "pending", detail: pending, recheckAfterMs: Math.min(PROMOTION_RECHECK_MS, limit - elapsed) };
  switch (spec.kind) {
    case "manual":
      if (c.rejected) return { verdict: "failed", detail: "rejected by a manual decision" };
      return c.approved ? { verdict: "passed", detail: "approved" } : { verdict: "pending", detail: "awaiting a manual approval" };
    case "soak": {
      const failures = (c.obs?.allocFailures ?? []).filter((t) => t >= c.startedAt).length;
      if (failures > 0) return { verdict: "failed", detail: `${failures} allocation(s) failed during the soak` };
      if (elapsed >= spec.durationMs) return { verdict: "passed", detail: `soaked ${Math.round(spec.durationMs / 1000)} s with no failed allocation` };
      return { verdict: "pending", detail: `soaking, ${Math.ceil((spec.durationMs - elapsed) / 1000)} s left`, recheckAfterMs: spec.durationMs - elapsed };
    }
    case "verify": {
      const run = seen?.kind === "verify" ? seen : undefined;
      if (run?.status === "dead" && run.exitCode === 0) return { verdict: "passed", detail: `verification job ${spec.job} exited 0` };
      if (run?.status === "dead") return { verdict: "failed", detail: `verification job ${spec.job} exited ${run.exitCode ?? "without an exit code"}` };
      return timeout(spec.timeoutMs, `verification job ${spec.job} ${run ? run.status : "not seen yet"}`);
    }
    case "http": {
      const probe = seen?.kind === "http" && seen.at >= c.startedAt ? seen : undefined;
      if (probe?.status === spec.expectStatus) return { verdict: "passed", detail: `${spec.url} answered ${probe.status}` };
      const last = probe ? (probe.status !== undefined ? `answered ${probe.status}` : `failed: ${probe.error ?? "no answer"}`) : "not probed yet";
      return timeout(spec.timeoutMs, `${spec.url} ${last}, expecting ${spec.expectStatus}`);
    }
    case "prometheus": {
      const q = seen?.kind === "prometheus" && seen.at >= c.startedAt ? seen : undefined;
      const since = q?.belowSince === undefined ? undefined : Math.max(q.belowSince, c.startedAt);
      if (since !== undefined && c.now - since >= spec.forMs) return { verdict: "passed", detail: `query stayed below ${spec.below} for ${Math.round(spec.forMs / 1000)} s` };
      const last = q ? (q.value !== undefined ? `is ${q.value}` : `failed: ${q.error ?? "no value"}`) : "not queried yet";
      return timeout(spec.timeoutMs, `query ${last}, needs below ${spec.below} for ${Math.round(spec.forMs / 1000)} s`);
    }
  }
}

function planFailed(s: PromotionSnapshot, e: Entry, now: number): PromotionPlan {
  const stage = e.record.stages.find((x) => x.status === "failed");
  if (!stage) return one(noop(s, "DigestFailed"));
  const obs = s.observed[stage.name];
  const deploymentFailure = stage.reason === "DeploymentFailed" || stage.reason === "ProgressDeadlineExceeded";
  const peerRecords = s.peers.flatMap((p) => (p.record ? [p.record] : []));
  const lastGood = lastGoodDigest(peerRecords, stage.name, s.digest) ?? (s.pinnedDigest !== s.digest ? s.pinnedDigest : undefined);
  const to = lastGood === undefined ? {} : { to: lastGood };
  // Nomad reverts only a failed deployment; a failed gate is rolled back by Steward even with auto_revert.
  if (deploymentFailure && obs?.job?.autoRevert) {
    return one(write(s, e, "record", { type: "rolledBack", stage: stage.name, rollback: { via: "autoRevert", ...to }, message: `${stage.name}: Nomad's auto_revert returned it to its last stable version` }, now, "AutoReverted"));
  }
  if (lastGood === undefined) {
    return one(write(s, e, "record", { type: "rolledBack", stage: stage.name, rollback: { via: "none" }, message: `${stage.name}: no earlier good digest; held as it runs` }, now, "NoLastGood"));
  }
  const message = `${PROMOTION_REASONS.RolledBack}: ${stage.name} returns to ${short(lastGood)}`;
  const record = transition(e.record, { type: "rolledBack", stage: stage.name, rollback: { via: "register", to: lastGood }, message }, now);
  return one({ ...base(s, "RolledBack", message), kind: "setStageDigest", stage: stage.name, stageDigest: lastGood, image: imageOf(s, lastGood), record, expectedModifyIndex: e.modifyIndex });
}

/** A stage counts as passed only when the journal says so and every gate it recorded passed. */
function stagePassed(stage: StageRecord | undefined): boolean {
  return stage?.status === "passed" && stage.gates.every((g) => g.status === "passed");
}

/**
 * A newer candidate that has come at least as far as this one (for the
 * first stage: any newer one that is neither failed nor superseded; for a
 * later stage: a newer one that passed the previous stage). Only a queued
 * digest is superseded; one in flight in a stage finishes it.
 */
function supersedingPeer(s: PromotionSnapshot, k: number): Peer | undefined {
  const prev = s.stages[k - 1]?.name;
  return s.peers
    .filter((p) => p.order > s.order && !s.failedDigests.includes(p.digest))
    .filter((p) => p.record?.status !== "failed" && p.record?.status !== "superseded")
    .filter((p) => prev === undefined || p.record?.stages.find((x) => x.name === prev)?.status === "passed")
    .sort((a, b) => b.order - a.order)[0];
}

const MINUTES_PER_WEEK = 7 * 24 * 60;

/** Minutes since Monday 00:00 UTC of an epoch-ms instant. */
export function minuteOfWeek(at: number): number {
  const d = new Date(at);
  return ((d.getUTCDay() + 6) % 7) * 1440 + d.getUTCHours() * 60 + d.getUTCMinutes();
}

/** Whether a minute of the week falls in a window (`from` held, `to` not; `from > to` wraps over the week's end). */
export function inFreezeWindow(w: FreezeWindow, minute: number): boolean {
  return w.fromMinute <= w.toMinute ? minute >= w.fromMinute && minute < w.toMinute : minute >= w.fromMinute || minute < w.toMinute;
}

/**
 * When the freeze in force at `now` ends (epoch ms), following windows that
 * touch or overlap; undefined when no window holds `now`.
 */
export function freezeEndsAt(windows: readonly FreezeWindow[], now: number): number | undefined {
  let at = now;
  for (let hops = 0; hops <= windows.length; hops++) {
    const minute = minuteOfWeek(at);
    const w = windows.find((x) => inFreezeWindow(x, minute));
    if (!w) return at === now ? undefined : at;
    const left = (w.toMinute - minute + MINUTES_PER_WEEK) % MINUTES_PER_WEEK || MINUTES_PER_WEEK;
    at = at - (at % 60_000) + left * 60_000;
  }
  return at;
}

function write(
  s: PromotionSnapshot,
  e: Entry,
  kind: "record",
  event: JournalEvent,
  now: number,
  reason?: PromotionReason,
): PromotionAction {
  const record = transition(e.record, event, now);
  const why = reason ?? record.history[record.history.length - 1]?.reason ?? "GatePassed";
  return { ...base(s, why, `${PROMOTION_REASONS[why]}: ${event.message}`), kind, record, expectedModifyIndex: e.modifyIndex };
}

function failStep(s: PromotionSnapshot, e: Entry, f: Omit<Extract<JournalEvent, { type: "failed" }>, "type">, now: number): PromotionAction {
  const record = transition(e.record, { type: "failed", ...f }, now);
  return { ...base(s, f.reason, `${PROMOTION_REASONS[f.reason]}: ${f.message}`), kind: "fail", stage: f.stage, record, expectedModifyIndex: e.modifyIndex };
}

function base(s: PromotionSnapshot, reason: PromotionReason, message: string): ActionBase {
  return { service: s.service, digest: s.digest, reason, message };
}

function noop(s: PromotionSnapshot, reason: PromotionReason, message?: string): PromotionAction {
  return { ...base(s, reason, message ?? PROMOTION_REASONS[reason]), kind: "noop" };
}

function wait(s: PromotionSnapshot, reason: PromotionReason, message: string): PromotionAction {
  return { ...base(s, reason, message), kind: "wait" };
}

function one(action: PromotionAction): PromotionPlan {
  return { actions: [action] };
}

/** `repository@digest`: the only form in which Steward hands an image to Nomad. */
export function imageOf(s: Pick<PromotionSnapshot, "repository">, digest: string): string {
  return `${s.repository}@${digest}`;
}

function short(digest: string | undefined): string {
  return digest ? digest.slice(0, 19) : "?";
}

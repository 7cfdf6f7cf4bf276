import { JOURNAL_HISTORY_LIMIT } from "../../config/defaults.js";
import type { GateSpec } from "../../model/types.js";
import type { PromotionReason } from "./reasons.js";

/**
 * The promotion journal: one record per (service, digest), kept in Consul KV
 * (`steward/journal/promotion/<service>/<digest>`) and written with
 * check-and-set *before* each step acts. Everything here is pure: the
 * transitions take a record and return the next one, so a new leader that
 * reads a record knows exactly which step was begun last and plans the next
 * one, never a step already done. Timestamps are epoch ms.
 */

/**
 * Where one stage of one record stands.
 * - `pending`: not entered yet.
 * - `entering`: Steward decided the stage runs this digest (setStageDigest); sync registers it.
 * - `deploying`: the stage runs the digest and Nomad's deployment is under way.
 * - `gating`: the deployment succeeded; the gates run in order.
 * - `passed`: every gate passed.
 * - `failed`: the deployment or a gate failed; the rollback is still to be decided.
 * - `rolledBack`: failed, and the stage was returned to its last good digest (or held).
 */
export type StageStatus = "pending" | "entering" | "deploying" | "gating" | "passed" | "failed" | "rolledBack";

/** Where one gate of a stage stands. */
export type GateStatus = "pending" | "running" | "passed" | "failed";

/** Where the whole record stands: `promoted`, `failed` and `superseded` are final. */
export type RecordStatus = "active" | "promoted" | "failed" | "superseded";

/** One gate's result, with the spec it was checked against (fixed when the stage's gates began). */
export interface GateRecord {
  spec: GateSpec;
  status: GateStatus;
  /** How many times the gate was started (a verification job re-run after a failover counts). */
  attempts: number;
  startedAt?: number;
  finishedAt?: number;
  reason?: PromotionReason;
  message?: string;
}

/** How a failed stage was returned to its last good digest. */
export interface RollbackRecord {
  /** The digest the stage returns to; absent when there was none (`via: "none"`). */
  to?: string;
  /** `autoRevert`: Nomad did it, Steward only recorded; `register`: Steward set the stage's digest; `none`: nothing to return to. */
  via: "autoRevert" | "register" | "none";
}

/** One stage of a record. */
export interface StageRecord {
  name: string;
  status: StageStatus;
  /** How many times the stage's register was issued (re-issues after a failover count). */
  attempts: number;
  enteredAt?: number;
  /** When the deployment was seen under way. */
  deployedAt?: number;
  /** When the stage passed or failed. */
  finishedAt?: number;
  /** The Nomad job version that runs the digest, when known. */
  jobVersion?: number;
  /** The gates, set when the deployment succeeded; empty before. */
  gates: GateRecord[];
  /** Why the stage ended (passed or failed). */
  reason?: PromotionReason;
  message?: string;
  rollback?: RollbackRecord;
}

/** The step begun last: a new leader re-issues it if it is idempotent, or plans the one after it. */
export interface JournalStep {
  stage?: string;
  kind: JournalEvent["type"];
  gate?: number;
}

/** One line of a record's history (bounded to the last JOURNAL_HISTORY_LIMIT entries). */
export interface HistoryEntry {
  at: number;
  reason: PromotionReason;
  stage?: string;
  gate?: number;
  message: string;
}

/**
 * An operator's retry of a stage that failed at a gate (`steward
 * retry-gate`, the UI, or a key under `<statePrefix>/gate-retries/`).
 */
export interface RetryRecord {
  stage: string;
  /** The gate that had failed (its index in the stage's gates). */
  gate: number;
  /** Who asked, as the request names them. */
  by: string;
  reason?: string;
  /** When it was honoured (epoch ms). */
  at: number;
  /** The request's id: a new leader that finds the request again knows it was honoured and only removes it. */
  requestId: string;
  /**
   * `gate`: the stage still ran the digest, so it runs its gates again from
   * the failed one (the gates before it passed against this very
   * deployment); `deployment`: the stage had returned to its last good
   * digest, so it is entered again (register, deployment, every gate).
   */
  from: "gate" | "deployment";
  /** The ModifyIndex of the manual decision in force at the retry: decisions up to it do not count for the retried gate. */
  decisionIndex?: number;
}

/** The journal record of one digest of one service. */
export interface PromotionRecord {
  service: string;
  /** `sha256:…` */
  digest: string;
  /** The tag it was found under, for people; the digest is what is promoted. */
  tag?: string;
  status: RecordStatus;
  step?: JournalStep;
  /** Every stage of the service, in promotion order. */
  stages: StageRecord[];
  createdAt: number;
  updatedAt: number;
  /** The digest that superseded this one. */
  supersededBy?: string;
  /** Retries operators asked for, oldest first. */
  retries?: RetryRecord[];
  history: HistoryEntry[];
}

/** What happened, as one step of a promotion. `message` is what status and the history show. */
export type JournalEvent =
  | { type: "enter"; stage: string; reason: "StageEntered" | "Promoted" | "RegisterReissued"; message: string }
  | { type: "deploymentStarted"; stage: string; jobVersion?: number; message: string }
  | { type: "deploymentSucceeded"; stage: string; gates: GateSpec[]; jobVersion?: number; message: string }
  | { type: "gateStarted"; stage: string; gate: number; message: string }
  | { type: "gatePassed"; stage: string; gate: number; message: string }
  | { type: "stagePassed"; stage: string; message: string }
  | { type: "failed"; stage: string; reason: "DeploymentFailed" | "ProgressDeadlineExceeded" | "GateFailed" | "GateTimedOut"; gate?: number; message: string }
  | { type: "rolledBack"; stage: string; rollback: RollbackRecord; message: string }
  | { type: "gateRetried"; stage: string; from: RetryRecord["from"]; by: string; reason?: string; requestId: string; decisionIndex?: number; message: string }
  | { type: "superseded"; by: string; message: string };

/** A transition that the record's state does not allow: a bug, or a journal edited by hand. */
export class JournalTransitionError extends Error {
  constructor(
    message: string,
    readonly record: Pick<PromotionRecord, "service" | "digest">,
    readonly event: JournalEvent["type"],
  ) {
    super(`${record.service} ${record.digest.slice(0, 19)}: ${event}: ${message}`);
    this.name = "JournalTransitionError";
  }
}

/** A fresh record for a candidate: every stage pending. */
export function newRecord(c: { service: string; digest: string; tag?: string; stages: readonly string[] }, at: number): PromotionRecord {
  return {
    service: c.service,
    digest: c.digest,
    ...(c.tag !== undefined && { tag: c.tag }),
    status: "active",
    stages: c.stages.map((name) => ({ name, status: "pending", attempts: 0, gates: [] })),
    createdAt: at,
    updatedAt: at,
    history: [],
  };
}

/**
 * The record after `event`, at `at`. Pure: the input is not changed.
 * History keeps the last `historyLimit` entries.
 * @throws JournalTransitionError when the record's state does not allow the event
 */
export function transition(r: PromotionRecord, event: JournalEvent, at: number, historyLimit = JOURNAL_HISTORY_LIMIT): PromotionRecord {
  const next = structuredClone(r);
  const reason = apply(next, event, at);
  next.updatedAt = at;
  next.step = { kind: event.type, ...("stage" in event && { stage: event.stage }), ...("gate" in event && event.gate !== undefined && { gate: event.gate }) };
  const entry: HistoryEntry = {
    at,
    reason,
    ...("stage" in event && { stage: event.stage }),
    ...("gate" in event && event.gate !== undefined && { gate: event.gate }),
    message: event.message,
  };
  next.history = [...next.history, entry].slice(-Math.max(1, historyLimit));
  return next;
}

function apply(r: PromotionRecord, e: JournalEvent, at: number): PromotionReason {
  if (e.type === "superseded") return supersede(r, e.by);
  const i = r.stages.findIndex((s) => s.name === e.stage);
  const stage = r.stages[i];
  if (!stage) throw new JournalTransitionError(`no stage "${e.stage}" in the record`, r, e.type);
  const refuse = (why: string): never => {
    throw new JournalTransitionError(`stage ${stage.name} is ${stage.status}; ${why}`, r, e.type);
  };
  switch (e.type) {
    case "enter":
      return enter(r, i, stage, e.reason, at, refuse);
    case "deploymentStarted":
      if (stage.status !== "entering") refuse("only a stage being entered starts deploying");
      stage.status = "deploying";
      stage.deployedAt = at;
      if (e.jobVersion !== undefined) stage.jobVersion = e.jobVersion;
      return "DeploymentStarted";
    case "deploymentSucceeded":
      if (stage.status !== "entering" && stage.status !== "deploying") refuse("only a deploying stage can succeed");
      stage.status = "gating";
      stage.deployedAt ??= at;
      if (e.jobVersion !== undefined) stage.jobVersion = e.jobVersion;
      // A stage entered again after a retry keeps counting its gates' attempts (a verification job per attempt).
      stage.gates = e.gates.map((spec, i) => ({ spec, status: "pending", attempts: stage.gates[i]?.attempts ?? 0 }));
      return "DeploymentSucceeded";
    case "gateStarted": {
      const g = gateOf(stage, e.gate, refuse);
      if (stage.gates.slice(0, e.gate).some((x) => x.status !== "passed")) refuse("gates run in order and an earlier one has not passed");
      if (g.status === "passed" || g.status === "failed") refuse(`gate ${e.gate} already ${g.status}`);
      g.status = "running";
      g.attempts += 1;
      g.startedAt = at;
      return "GateStarted";
    }
    case "gatePassed": {
      const g = gateOf(stage, e.gate, refuse);
      if (g.status !== "running") refuse(`gate ${e.gate} is ${g.status}, not running`);
      Object.assign(g, { status: "passed", finishedAt: at, reason: "GatePassed", message: e.message });
      return "GatePassed";
    }
    case "stagePassed":
      if (stage.status !== "gating" || stage.gates.some((g) => g.status !== "passed")) refuse("a stage passes only when every gate passed");
      Object.assign(stage, { status: "passed", finishedAt: at, reason: "StagePassed", message: e.message });
      if (r.stages.every((s) => s.status === "passed")) {
        r.status = "promoted";
        return "PromotionComplete";
      }
      return "StagePassed";
    case "failed":
      return fail(r, stage, e, at, refuse);
    case "gateRetried":
      return retry(r, stage, e, at, refuse);
    case "rolledBack":
      if (stage.status !== "failed") refuse("only a failed stage is rolled back");
      stage.status = "rolledBack";
      stage.rollback = e.rollback;
      return e.rollback.via === "autoRevert" ? "AutoReverted" : e.rollback.via === "register" ? "RolledBack" : "NoLastGood";
  }
}

function enter(
  r: PromotionRecord,
  i: number,
  stage: StageRecord,
  reason: "StageEntered" | "Promoted" | "RegisterReissued",
  at: number,
  refuse: (why: string) => never,
): PromotionReason {
  if (r.status !== "active") refuse(`the record is ${r.status}`);
  // A re-issue after a failover repeats the idempotent register; it is not a new entry.
  if (stage.status === "entering") {
    stage.attempts += 1;
    return "RegisterReissued";
  }
  if (stage.status !== "pending") refuse("only a pending stage is entered");
  if (i > 0 && r.stages[i - 1]?.status !== "passed") refuse("the previous stage has not passed");
  Object.assign(stage, { status: "entering", enteredAt: at, attempts: stage.attempts + 1 });
  return reason === "RegisterReissued" ? "StageEntered" : reason;
}

function fail(
  r: PromotionRecord,
  stage: StageRecord,
  e: Extract<JournalEvent, { type: "failed" }>,
  at: number,
  refuse: (why: string) => never,
): PromotionReason {
  if (!["entering", "deploying", "gating"].includes(stage.status)) refuse("only a stage in flight fails");
  if (e.gate !== undefined) {
    const g = gateOf(stage, e.gate, refuse);
    Object.assign(g, { status: "failed", finishedAt: at, reason: e.reason, message: e.message });
  }
  Object.assign(stage, { status: "failed", finishedAt: at, reason: e.reason, message: e.message });
  r.status = "failed";
  return e.reason;
}

function retry(r: PromotionRecord, stage: StageRecord, e: Extract<JournalEvent, { type: "gateRetried" }>, at: number, refuse: (why: string) => never): PromotionReason {
  const why = retryRefusal(r, e.stage);
  if (why) refuse(why);
  const g = stage.gates.findIndex((x) => x.status === "failed");
  const gate = stage.gates[g];
  if (!gate) return refuse("no failed gate is recorded");
  r.status = "active";
  r.retries = [
    ...(r.retries ?? []),
    { stage: stage.name, gate: g, by: e.by, ...(e.reason !== undefined && { reason: e.reason }), at, requestId: e.requestId, from: e.from, ...(e.decisionIndex !== undefined && { decisionIndex: e.decisionIndex }) },
  ];
  for (const k of ["finishedAt", "reason", "message", "rollback"] as const) delete stage[k];
  if (e.from === "gate") {
    // The gates before the failed one passed against this very deployment; the failed one runs again.
    stage.status = "gating";
    gate.status = "pending";
    for (const k of ["startedAt", "finishedAt", "reason", "message"] as const) delete gate[k];
  } else {
    // The stage runs the last good digest now: it is entered again, and every gate judges the new deployment
    // (the gates are kept, pending, only so their attempts go on counting).
    stage.status = "pending";
    stage.gates = stage.gates.map((x) => ({ spec: x.spec, status: "pending", attempts: x.attempts }));
    for (const k of ["enteredAt", "deployedAt", "jobVersion"] as const) delete stage[k];
  }
  return "GateRetried";
}

/**
 * Why a retry of `stage`'s failed gate is refused for this record, in words
 * for the operator, or undefined when it is allowed: only a record that
 * failed in that stage because a gate failed or timed out (GateFailed,
 * GateTimedOut) can be retried, not one whose deployment failed.
 */
export function retryRefusal(r: PromotionRecord | undefined, stage: string): string | undefined {
  if (!r) return "no promotion of this digest is recorded (it never entered a stage)";
  if (!r.stages.some((s) => s.name === stage)) return `its promotion has no stage ${stage} (stages: ${r.stages.map((s) => s.name).join(", ")})`;
  if (r.status === "active") return "it has not failed: it is still being promoted";
  if (r.status === "promoted") return "it has not failed: it passed every stage";
  if (r.status === "superseded") return `it did not fail: ${r.supersededBy ? `${r.supersededBy.slice(0, 19)} ` : "a newer build "}superseded it`;
  const failed = r.stages.find((s) => (s.status === "failed" || s.status === "rolledBack") && s.reason !== undefined);
  if (!failed) return "no failed stage is recorded";
  if (failed.name !== stage) return `it failed in ${failed.name}, not in ${stage}`;
  if (failed.reason !== "GateFailed" && failed.reason !== "GateTimedOut") {
    return `it failed in ${stage} because its deployment failed (${failed.reason ?? "unknown"}), not at a gate: only a failed or timed-out gate can be retried; push a fixed build`;
  }
  return undefined;
}

function supersede(r: PromotionRecord, by: string): PromotionReason {
  const inFlight = r.stages.find((s) => isInFlight(s.status));
  if (r.status !== "active" || inFlight) {
    throw new JournalTransitionError(inFlight ? `stage ${inFlight.name} is ${inFlight.status}; only a queued record is superseded` : `the record is ${r.status}`, r, "superseded");
  }
  r.status = "superseded";
  r.supersededBy = by;
  return "Superseded";
}

function gateOf(stage: StageRecord, i: number, refuse: (why: string) => never): GateRecord {
  if (stage.status !== "gating") refuse("gates run only while the stage is gating");
  return stage.gates[i] ?? refuse(`there is no gate ${i}`);
}

/** A stage the record occupies: entered and not yet passed or rolled back. */
export function isInFlight(s: StageStatus): boolean {
  return s === "entering" || s === "deploying" || s === "gating" || s === "failed";
}

/** The first stage not passed yet, or undefined when every stage passed. */
export function currentStage(r: PromotionRecord): { index: number; stage: StageRecord } | undefined {
  const index = r.stages.findIndex((s) => s.status !== "passed");
  const stage = r.stages[index];
  return stage ? { index, stage } : undefined;
}

/**
 * What a stage should run according to the journal — the contract between
 * the promotion loop and the sync loop's ImageResolver:
 * - Among the records, the one that entered `stage` last and was not rolled
 *   back decides.
 * - `entering`, `gating`, `passed`: `{ digest }` — sync registers it (or keeps it).
 * - `deploying`, `failed`: `{ hold: true }` — the promotion loop owns the
 *   stage while Nomad's deployment runs and until a failure's rollback is
 *   recorded, so sync registers nothing (Nomad's auto_revert is never fought).
 * - No such record: `undefined` — sync falls back to service.yaml's pinned digest.
 * A rolled-back record drops out, so the stage returns to the digest that
 * entered it before (the last good one) with no second record to keep in step.
 */
export function stageDigest(records: readonly PromotionRecord[], stage: string): { digest: string } | { hold: true } | undefined {
  let best: { record: PromotionRecord; stage: StageRecord; at: number } | undefined;
  for (const record of records) {
    const s = record.stages.find((x) => x.name === stage);
    if (!s || s.status === "pending" || s.status === "rolledBack" || s.enteredAt === undefined) continue;
    if (!best || s.enteredAt > best.at) best = { record, stage: s, at: s.enteredAt };
  }
  if (!best) return undefined;
  return best.stage.status === "deploying" || best.stage.status === "failed" ? { hold: true } : { digest: best.record.digest };
}

/** The digest that passed `stage` most recently, other than `except`: where a failed stage returns to. */
export function lastGoodDigest(records: readonly PromotionRecord[], stage: string, except: string): string | undefined {
  let best: { digest: string; at: number } | undefined;
  for (const record of records) {
    if (record.digest === except) continue;
    const s = record.stages.find((x) => x.name === stage);
    if (s?.status !== "passed" || s.enteredAt === undefined) continue;
    if (!best || s.enteredAt > best.at) best = { digest: record.digest, at: s.enteredAt };
  }
  return best?.digest;
}

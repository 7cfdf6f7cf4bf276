import test from "ava";
import type { GateSpec } from "../../../src/model/types.js";
import { newRecord, transition, type JournalEvent, type PromotionRecord } from "../../../src/reconciler/promotion/journal.js";
import { freezeEndsAt, planPromotion, type PromotionPlan, type PromotionSnapshot, type StageObservation } from "../../../src/reconciler/promotion/plan.js";
import { PROMOTION_REASONS, type PromotionReason } from "../../../src/reconciler/promotion/reasons.js";
import { NOW } from "../../helpers/builders.js";

// NOW is Wednesday 2026-11-25 12:00 UTC.
const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const PINNED = `sha256:${"0".repeat(64)}`;
const REPO = "127.0.0.1:5000/web";
const img = (d: string): string => `${REPO}@${d}`;
const MIN = 60_000;
type Ev = JournalEvent extends infer E ? (E extends JournalEvent ? Omit<E, "message"> : never) : never;

const VERIFY: GateSpec = { kind: "verify", job: "web-tests.nomad.hcl", timeoutMs: 30 * MIN };
const HTTP: GateSpec = { kind: "http", url: "http://web.qa/health", expectStatus: 200, timeoutMs: 30 * MIN };
const SOAK: GateSpec = { kind: "soak", durationMs: 10 * MIN };
const PROM: GateSpec = { kind: "prometheus", query: "error_ratio", below: 0.01, forMs: 5 * MIN, timeoutMs: 30 * MIN };
const MANUAL: GateSpec = { kind: "manual" };
const RETRY = { stage: "qa", by: "ana", reason: "flaky probe", id: "req-1", modifyIndex: 90 };

/** A record of `digest` after `events`, each a minute apart, ending 10 minutes before NOW. */
function recordAfter(digest: string, events: Array<Ev>): PromotionRecord {
  let r = newRecord({ service: "web", digest, tag: "build-1", stages: ["qa", "prod"] }, NOW - 60 * MIN);
  events.forEach((e, i) => {
    r = transition(r, { ...e, message: "test" }, NOW - (9 + events.length - i) * MIN);
  });
  return r;
}

const enterQa: Ev = { type: "enter", stage: "qa", reason: "StageEntered" };
const qaDeploying = [enterQa, { type: "deploymentStarted", stage: "qa", jobVersion: 3 }] as Array<Ev>;
const qaGating = (gates: GateSpec[]): Array<Ev> => [...qaDeploying, { type: "deploymentSucceeded", stage: "qa", gates, jobVersion: 3 }];
const qaPassed = [...qaGating([]), { type: "stagePassed", stage: "qa" }] as Array<Ev>;
const prodEntered = [...qaPassed, { type: "enter", stage: "prod", reason: "Promoted" }] as Array<Ev>;
const prodPassed = [...prodEntered, { type: "deploymentSucceeded", stage: "prod", gates: [], jobVersion: 7 }, { type: "stagePassed", stage: "prod" }] as Array<Ev>;
/** Gate 0 of qa started, NOW - 10 min (the last event). */
const gateRunning = (gate: GateSpec): Array<Ev> => [...qaGating([gate]), { type: "gateStarted", stage: "qa", gate: 0 }];

function obs(over: Partial<StageObservation> = {}): StageObservation {
  return { job: { images: [img(D1)], version: 3, autoRevert: false }, deployments: [{ jobVersion: 3, status: "running" }], allocFailures: [], gates: {}, ...over };
}

function snap(over: Partial<PromotionSnapshot> = {}, record?: PromotionRecord): PromotionSnapshot {
  return {
    service: "web",
    repository: REPO,
    digest: D1,
    tag: "build-1",
    order: 1,
    stages: [
      { name: "qa", gates: [], freeze: [] },
      { name: "prod", gates: [], freeze: [] },
    ],
    ...(record && { journal: { record, modifyIndex: 77 } }),
    peers: [],
    failedDigests: [],
    approved: false,
    observed: {},
    observedAt: NOW - 1_000,
    paused: false,
    pinnedDigest: PINNED,
    ...over,
  };
}

interface Row {
  name: string;
  given: PromotionSnapshot;
  want: Array<{ kind: string; reason: PromotionReason }>;
  recheckAfterMs?: number;
  check?: (plan: PromotionPlan) => string | undefined;
}

const first = (p: PromotionPlan): PromotionPlan["actions"][number] | undefined => p.actions[0];
const stageStatus = (p: PromotionPlan, stage: string): string | undefined => {
  const a = first(p);
  return a && "record" in a ? a.record.stages.find((s) => s.name === stage)?.status : undefined;
};

const rows: Row[] = [
  // ── guards ──
  {
    name: "stale_snapshot_is_not_acted_on",
    given: snap({ observedAt: NOW - 5 * MIN }),
    want: [{ kind: "noop", reason: "StaleSnapshot" }],
    recheckAfterMs: 5_000,
  },
  {
    name: "paused_service_does_nothing",
    given: snap({ paused: true }),
    want: [{ kind: "noop", reason: "Paused" }],
  },
  {
    name: "failed_digest_retagged_is_never_promoted",
    given: snap({ tag: "build-9", failedDigests: [D1] }),
    want: [{ kind: "noop", reason: "DigestFailed" }],
  },
  {
    name: "failed_and_rolled_back_record_stays_failed",
    given: snap({}, recordAfter(D1, [...qaDeploying, { type: "failed", stage: "qa", reason: "DeploymentFailed" }, { type: "rolledBack", stage: "qa", rollback: { via: "register", to: PINNED } }])),
    want: [{ kind: "noop", reason: "DigestFailed" }],
  },
  {
    name: "previous_stage_with_unpassed_gate_blocks_promotion",
    given: snap({}, (() => {
      const r = recordAfter(D1, [...gateRunning(MANUAL), { type: "gatePassed", stage: "qa", gate: 0 }, { type: "stagePassed", stage: "qa" }]);
      // A journal edited by hand: the stage says passed, its gate does not.
      const gate = r.stages[0]?.gates[0];
      if (gate) gate.status = "running";
      return r;
    })()),
    want: [{ kind: "noop", reason: "PreviousStageNotPassed" }],
  },
  // ── queueing ──
  {
    name: "new_candidate_enters_first_stage_with_create_only_write",
    given: snap(),
    want: [{ kind: "setStageDigest", reason: "StageEntered" }],
    recheckAfterMs: 5_000,
    check: (p) => {
      const a = first(p);
      if (a?.kind !== "setStageDigest") return "expected setStageDigest";
      if (a.stage !== "qa" || a.image !== img(D1)) return `wrong target ${a.stage} ${a.image}`;
      if (a.expectedModifyIndex !== 0) return "a new record is written with cas 0";
      return stageStatus(p, "qa") === "entering" ? undefined : "qa must be recorded entering before sync registers";
    },
  },
  {
    name: "older_queued_candidate_is_superseded_by_newer",
    given: snap({ peers: [{ digest: D2, order: 2 }] }),
    want: [{ kind: "record", reason: "Superseded" }],
    check: (p) => {
      const a = first(p);
      return a && "record" in a && a.record.status === "superseded" && a.record.supersededBy === D2 ? undefined : "record must say superseded by D2";
    },
  },
  {
    name: "newer_failed_candidate_does_not_supersede",
    given: snap({ peers: [{ digest: D2, order: 2 }], failedDigests: [D2] }),
    want: [{ kind: "setStageDigest", reason: "StageEntered" }],
  },
  {
    name: "already_superseded_record_does_nothing",
    given: snap({}, transition(recordAfter(D1, []), { type: "superseded", by: D2, message: "t" }, NOW - MIN)),
    want: [{ kind: "noop", reason: "Superseded" }],
  },
  {
    name: "queued_for_prod_superseded_by_newer_that_passed_qa",
    given: snap({ peers: [{ digest: D2, order: 2, record: recordAfter(D2, [...qaPassed, { type: "enter", stage: "prod", reason: "Promoted" }]) }] }, recordAfter(D1, qaPassed)),
    want: [{ kind: "record", reason: "Superseded" }],
  },
  {
    name: "second_digest_waits_while_stage_occupied",
    given: snap({ digest: D2, order: 2, peers: [{ digest: D1, order: 1, record: recordAfter(D1, qaDeploying) }] }),
    want: [{ kind: "wait", reason: "StageOccupied" }],
    recheckAfterMs: 5_000,
  },
  {
    name: "freeze_window_holds_promotion_until_it_ends",
    given: snap(
      { stages: [{ name: "qa", gates: [], freeze: [] }, { name: "prod", gates: [], freeze: [{ fromMinute: 2 * 1440, toMinute: 2 * 1440 + 13 * 60, text: "Wed 00:00 - Wed 13:00" }] }] },
      recordAfter(D1, qaPassed),
    ),
    want: [{ kind: "wait", reason: "FreezeWindow" }],
    recheckAfterMs: 60 * MIN,
  },
  {
    name: "passed_qa_is_promoted_to_prod",
    given: snap({}, recordAfter(D1, qaPassed)),
    want: [{ kind: "setStageDigest", reason: "Promoted" }],
    check: (p) => {
      const a = first(p);
      if (a?.kind !== "setStageDigest" || a.stage !== "prod" || a.image !== img(D1)) return "prod must be set to D1 by digest";
      return a.expectedModifyIndex === 77 ? undefined : "the write is CAS at the index read";
    },
  },
  // ── deployment ──
  {
    name: "leader_died_after_recording_entry_reissues_register_not_next_step",
    given: snap({ observed: { qa: obs({ job: { images: [img(PINNED)], version: 2, autoRevert: false }, deployments: [] }) } }, recordAfter(D1, [enterQa])),
    want: [{ kind: "setStageDigest", reason: "RegisterReissued" }],
    check: (p) => {
      const a = first(p);
      if (a?.kind !== "setStageDigest" || a.stage !== "qa") return "must re-issue qa";
      const qa = a.record.stages[0];
      return qa?.status === "entering" && qa.attempts === 2 && a.record.stages[1]?.status === "pending" ? undefined : "same step, attempt 2, nothing further";
    },
  },
  {
    name: "registered_digest_with_running_deployment_is_recorded_deploying",
    given: snap({ observed: { qa: obs() } }, recordAfter(D1, [enterQa])),
    want: [{ kind: "record", reason: "DeploymentStarted" }],
    check: (p) => (stageStatus(p, "qa") === "deploying" ? undefined : "qa must be deploying"),
  },
  {
    name: "running_deployment_waits_until_deadline",
    given: snap({ observed: { qa: obs({ deployments: [{ jobVersion: 3, status: "running", progressDeadlineAt: NOW + 2_000 }] }) } }, recordAfter(D1, qaDeploying)),
    want: [{ kind: "wait", reason: "DeploymentRunning" }],
    recheckAfterMs: 2_000,
  },
  {
    name: "registered_digest_without_deployment_yet_waits",
    given: snap({ observed: { qa: obs({ deployments: [{ jobVersion: 2, status: "successful" }] }) } }, recordAfter(D1, [enterQa])),
    want: [{ kind: "wait", reason: "DeploymentRunning" }],
  },
  {
    name: "successful_deployment_moves_to_gates",
    given: snap({ stages: [{ name: "qa", gates: [VERIFY], freeze: [] }, { name: "prod", gates: [], freeze: [] }], observed: { qa: obs({ deployments: [{ jobVersion: 3, status: "successful" }] }) } }, recordAfter(D1, qaDeploying)),
    want: [{ kind: "record", reason: "DeploymentSucceeded" }],
    check: (p) => {
      const a = first(p);
      const qa = a && "record" in a ? a.record.stages[0] : undefined;
      return qa?.status === "gating" && qa.gates[0]?.spec.kind === "verify" ? undefined : "qa must be gating with the verify gate";
    },
  },
  {
    name: "failed_deployment_marks_digest_failed",
    given: snap({ observed: { qa: obs({ deployments: [{ jobVersion: 3, status: "failed" }] }) } }, recordAfter(D1, qaDeploying)),
    want: [{ kind: "fail", reason: "DeploymentFailed" }],
    check: (p) => {
      const a = first(p);
      return a && "record" in a && a.record.status === "failed" ? undefined : "the record must be failed";
    },
  },
  {
    name: "deployment_past_progress_deadline_fails",
    given: snap({ observed: { qa: obs({ deployments: [{ jobVersion: 3, status: "running", progressDeadlineAt: NOW - 1 }] }) } }, recordAfter(D1, qaDeploying)),
    want: [{ kind: "fail", reason: "ProgressDeadlineExceeded" }],
  },
  // ── gates ──
  {
    name: "first_gate_starts_after_deployment",
    given: snap({ observed: { qa: obs() } }, recordAfter(D1, qaGating([VERIFY, MANUAL]))),
    want: [{ kind: "startGate", reason: "GateStarted" }],
    check: (p) => {
      const a = first(p);
      return a?.kind === "startGate" && a.gate === 0 && a.spec.kind === "verify" ? undefined : "gate 0 (verify) starts first";
    },
  },
  {
    name: "gates_run_in_declared_order",
    given: snap({ approved: true }, recordAfter(D1, [...qaGating([VERIFY, MANUAL]), { type: "gateStarted", stage: "qa", gate: 0 }, { type: "gatePassed", stage: "qa", gate: 0 }])),
    want: [{ kind: "startGate", reason: "GateStarted" }],
    check: (p) => (first(p)?.kind === "startGate" && (first(p) as { gate: number }).gate === 1 ? undefined : "gate 1 next"),
  },
  {
    name: "verify_job_exit_zero_passes_gate",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "verify", status: "dead", exitCode: 0 } } }) } }, recordAfter(D1, gateRunning(VERIFY))),
    want: [{ kind: "record", reason: "GatePassed" }],
  },
  {
    name: "verify_job_nonzero_exit_fails_gate",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "verify", status: "dead", exitCode: 2 } } }) } }, recordAfter(D1, gateRunning(VERIFY))),
    want: [{ kind: "fail", reason: "GateFailed" }],
    check: (p) => (first(p)?.message.includes("exited 2") ? undefined : "the message says the exit code"),
  },
  {
    name: "verify_job_running_waits",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "verify", status: "running" } } }) } }, recordAfter(D1, gateRunning(VERIFY))),
    want: [{ kind: "wait", reason: "GatePending" }],
    recheckAfterMs: 5_000,
  },
  {
    name: "http_check_expected_status_passes",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "http", at: NOW - 1_000, status: 200 } } }) } }, recordAfter(D1, gateRunning(HTTP))),
    want: [{ kind: "record", reason: "GatePassed" }],
  },
  {
    name: "http_check_wrong_status_past_timeout_times_out",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "http", at: NOW - 1_000, status: 503 } } }) } }, recordAfter(D1, [...qaGating([{ ...HTTP, timeoutMs: MIN }]), { type: "gateStarted", stage: "qa", gate: 0 }])),
    want: [{ kind: "fail", reason: "GateTimedOut" }],
  },
  {
    name: "http_result_from_before_gate_start_does_not_count",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "http", at: NOW - 20 * MIN, status: 200 } } }) } }, recordAfter(D1, gateRunning(HTTP))),
    want: [{ kind: "wait", reason: "GatePending" }],
  },
  {
    name: "soak_with_failed_allocation_fails",
    given: snap({ observed: { qa: obs({ allocFailures: [NOW - 2 * MIN] }) } }, recordAfter(D1, gateRunning(SOAK))),
    want: [{ kind: "fail", reason: "GateFailed" }],
  },
  {
    name: "soak_clean_for_duration_passes",
    given: snap({ observed: { qa: obs({ allocFailures: [NOW - 30 * MIN] }) } }, recordAfter(D1, gateRunning(SOAK))),
    want: [{ kind: "record", reason: "GatePassed" }],
  },
  {
    name: "soak_not_over_waits_for_the_rest",
    given: snap({ observed: { qa: obs() } }, recordAfter(D1, gateRunning({ kind: "soak", durationMs: 15 * MIN }))),
    want: [{ kind: "wait", reason: "GatePending" }],
    recheckAfterMs: 5 * MIN,
  },
  {
    name: "prometheus_below_threshold_long_enough_passes",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "prometheus", at: NOW - 1_000, value: 0.001, belowSince: NOW - 9 * MIN } } }) } }, recordAfter(D1, gateRunning(PROM))),
    want: [{ kind: "record", reason: "GatePassed" }],
  },
  {
    name: "prometheus_above_threshold_waits_until_timeout",
    given: snap({ observed: { qa: obs({ gates: { 0: { kind: "prometheus", at: NOW - 1_000, value: 0.2 } } }) } }, recordAfter(D1, gateRunning(PROM))),
    want: [{ kind: "wait", reason: "GatePending" }],
  },
  {
    name: "manual_gate_waits_for_approval_without_polling",
    given: snap({ observed: { qa: obs() } }, recordAfter(D1, gateRunning(MANUAL))),
    want: [{ kind: "wait", reason: "GatePending" }],
    check: (p) => (p.recheckAfterMs === undefined ? undefined : "an approval is an event; no polling"),
  },
  {
    name: "manual_gate_passes_with_approval",
    given: snap({ approved: true, observed: { qa: obs() } }, recordAfter(D1, gateRunning(MANUAL))),
    want: [{ kind: "record", reason: "GatePassed" }],
  },
  {
    name: "manual_gate_fails_when_rejected",
    given: snap({ approved: false, rejected: true, observed: { qa: obs() } }, recordAfter(D1, gateRunning(MANUAL))),
    want: [{ kind: "fail", reason: "GateFailed" }],
  },
  {
    name: "all_gates_passed_passes_stage",
    given: snap({}, recordAfter(D1, [...gateRunning(MANUAL), { type: "gatePassed", stage: "qa", gate: 0 }])),
    want: [{ kind: "record", reason: "StagePassed" }],
    check: (p) => (stageStatus(p, "qa") === "passed" && stageStatus(p, "prod") === "pending" ? undefined : "qa passed, prod not entered in the same step"),
  },
  {
    name: "last_stage_passing_completes_promotion",
    given: snap({ observed: { prod: obs() } }, recordAfter(D1, [...prodEntered, { type: "deploymentSucceeded", stage: "prod", gates: [] }])),
    want: [{ kind: "record", reason: "PromotionComplete" }],
  },
  {
    name: "promoted_record_does_nothing",
    given: snap({}, recordAfter(D1, prodPassed)),
    want: [{ kind: "noop", reason: "PromotionComplete" }],
  },
  // ── rollback ──
  {
    name: "failed_stage_without_auto_revert_registers_last_good",
    given: snap(
      { peers: [{ digest: D2, order: 0, record: recordAfter(D2, prodPassed) }], observed: { prod: obs() } },
      recordAfter(D1, [...prodEntered, { type: "failed", stage: "prod", reason: "DeploymentFailed" }]),
    ),
    want: [{ kind: "setStageDigest", reason: "RolledBack" }],
    check: (p) => {
      const a = first(p);
      if (a?.kind !== "setStageDigest") return "expected setStageDigest";
      return a.stage === "prod" && a.stageDigest === D2 && a.image === img(D2) && stageStatus(p, "prod") === "rolledBack" ? undefined : "prod back to D2";
    },
  },
  {
    name: "failed_deployment_with_auto_revert_is_only_recorded",
    given: snap(
      { peers: [{ digest: D2, order: 0, record: recordAfter(D2, prodPassed) }], observed: { prod: obs({ job: { images: [img(D2)], version: 9, autoRevert: true } }) } },
      recordAfter(D1, [...prodEntered, { type: "failed", stage: "prod", reason: "DeploymentFailed" }]),
    ),
    want: [{ kind: "record", reason: "AutoReverted" }],
  },
  {
    name: "failed_gate_is_rolled_back_by_steward_even_with_auto_revert",
    given: snap(
      { observed: { qa: obs({ job: { images: [img(D1)], version: 3, autoRevert: true } }) } },
      recordAfter(D1, [...gateRunning(VERIFY), { type: "failed", stage: "qa", gate: 0, reason: "GateFailed" }]),
    ),
    want: [{ kind: "setStageDigest", reason: "RolledBack" }],
    check: (p) => ((first(p) as { stageDigest?: string }).stageDigest === PINNED ? undefined : "with no promoted digest before, qa returns to the pinned digest"),
  },
  {
    name: "failed_stage_with_nothing_good_before_is_held",
    given: snap({ pinnedDigest: undefined as unknown as string, observed: { qa: obs() } }, recordAfter(D1, [...qaDeploying, { type: "failed", stage: "qa", reason: "DeploymentFailed" }])),
    want: [{ kind: "record", reason: "NoLastGood" }],
  },
  // ── an operator's freeze ──
  {
    name: "frozen_first_stage_holds_a_new_candidate_and_names_who",
    given: snap({ frozen: { qa: { by: "ana", reason: "release night" } } }),
    want: [{ kind: "wait", reason: "EnvironmentFrozen" }],
    check: (p) => (/qa is frozen by ana \(release night\)/.test(first(p)?.message ?? "") ? undefined : first(p)?.message),
  },
  {
    name: "frozen_next_stage_holds_the_promotion",
    given: snap({ frozen: { prod: { by: "bob" } }, observed: { qa: obs({ deployments: [{ jobVersion: 3, status: "successful" }] }) } }, recordAfter(D1, qaPassed)),
    want: [{ kind: "wait", reason: "EnvironmentFrozen" }],
  },
  {
    name: "frozen_stage_already_rolling_is_left_to_finish",
    given: snap({ frozen: { qa: { by: "ana" } }, observed: { qa: obs({ deployments: [{ jobVersion: 3, status: "successful" }] }) } }, recordAfter(D1, qaDeploying)),
    want: [{ kind: "record", reason: "DeploymentSucceeded" }],
  },
  {
    name: "frozen_stage_entered_but_not_registered_does_not_reissue_the_register",
    given: snap({ frozen: { qa: { reason: "incident" } }, observed: { qa: obs({ job: { images: [img(PINNED)], version: 2, autoRevert: false }, deployments: [] }) } }, recordAfter(D1, [enterQa])),
    want: [{ kind: "wait", reason: "EnvironmentFrozen" }],
  },
  // ── an operator's retry of a failed gate ──
  {
    name: "retry_of_a_failed_gate_while_the_stage_runs_the_digest_reruns_from_that_gate",
    given: snap(
      { retryRequest: RETRY, observed: { qa: obs() } },
      recordAfter(D1, [...qaGating([VERIFY, HTTP]), { type: "gateStarted", stage: "qa", gate: 0 }, { type: "gatePassed", stage: "qa", gate: 0 }, { type: "gateStarted", stage: "qa", gate: 1 }, { type: "failed", stage: "qa", gate: 1, reason: "GateFailed" }, { type: "rolledBack", stage: "qa", rollback: { via: "none" } }]),
    ),
    want: [{ kind: "retryGate", reason: "GateRetried" }],
    check: (p) => {
      const a = first(p);
      if (a?.kind !== "retryGate") return "no retry";
      const st = a.record.stages[0];
      const ok = a.from === "gate" && a.record.status === "active" && st?.status === "gating" && st.gates[0]?.status === "passed" && st.gates[1]?.status === "pending" && st.rollback === undefined;
      const r = a.record.retries?.[0];
      return ok && r?.by === "ana" && r.reason === "flaky probe" && r.requestId === "req-1" && r.gate === 1 ? undefined : JSON.stringify(a.record);
    },
  },
  {
    name: "retry_before_the_rollback_is_decided_skips_the_rollback",
    given: snap({ retryRequest: RETRY, observed: { qa: obs() } }, recordAfter(D1, [...gateRunning(HTTP), { type: "failed", stage: "qa", gate: 0, reason: "GateTimedOut" }])),
    want: [{ kind: "retryGate", reason: "GateRetried" }],
    check: (p) => (stageStatus(p, "qa") === "gating" ? undefined : `qa is ${stageStatus(p, "qa")}`),
  },
  {
    name: "retry_after_a_rollback_to_the_last_good_digest_enters_the_stage_again",
    given: snap(
      { retryRequest: RETRY, observed: { qa: obs({ job: { images: [img(PINNED)], version: 4, autoRevert: false } }) } },
      recordAfter(D1, [...gateRunning(HTTP), { type: "failed", stage: "qa", gate: 0, reason: "GateTimedOut" }, { type: "rolledBack", stage: "qa", rollback: { via: "register", to: PINNED } }]),
    ),
    want: [{ kind: "retryGate", reason: "GateRetried" }],
    check: (p) => {
      const a = first(p);
      return a?.kind === "retryGate" && a.from === "deployment" && stageStatus(p, "qa") === "pending" && a.record.stages[0]?.gates.every((g) => g.status === "pending" && g.attempts === 1) ? undefined : JSON.stringify(a);
    },
  },
  {
    name: "retry_of_a_failed_deployment_is_refused_and_says_why",
    given: snap({ retryRequest: RETRY }, recordAfter(D1, [...qaDeploying, { type: "failed", stage: "qa", reason: "DeploymentFailed" }])),
    want: [{ kind: "dropRetry", reason: "RetryRefused" }],
    check: (p) => (/refused: it failed in qa because its deployment failed \(DeploymentFailed\), not at a gate/.test(first(p)?.message ?? "") ? undefined : first(p)?.message),
  },
  {
    name: "retry_naming_another_stage_is_refused",
    given: snap({ retryRequest: { ...RETRY, stage: "prod" } }, recordAfter(D1, [...gateRunning(HTTP), { type: "failed", stage: "qa", gate: 0, reason: "GateFailed" }])),
    want: [{ kind: "dropRetry", reason: "RetryRefused" }],
    check: (p) => (/it failed in qa, not in prod/.test(first(p)?.message ?? "") ? undefined : first(p)?.message),
  },
  {
    name: "retry_of_a_promoted_digest_is_refused",
    given: snap({ retryRequest: RETRY }, recordAfter(D1, prodPassed)),
    want: [{ kind: "dropRetry", reason: "RetryRefused" }],
    check: (p) => (/passed every stage/.test(first(p)?.message ?? "") ? undefined : first(p)?.message),
  },
  {
    name: "retry_of_a_digest_never_promoted_is_refused",
    given: snap({ retryRequest: RETRY }),
    want: [{ kind: "dropRetry", reason: "RetryRefused" }],
  },
  {
    name: "retry_already_honoured_is_only_removed",
    given: snap(
      { retryRequest: RETRY, observed: { qa: obs() } },
      recordAfter(D1, [...gateRunning(HTTP), { type: "failed", stage: "qa", gate: 0, reason: "GateFailed" }, { type: "gateRetried", stage: "qa", from: "gate", by: "ana", requestId: "req-1" }]),
    ),
    want: [{ kind: "dropRetry", reason: "GateRetried" }],
    check: (p) => (first(p)?.kind === "dropRetry" && !(first(p) as { refused: boolean }).refused ? undefined : "not a refusal"),
  },
  {
    name: "retry_waits_while_the_service_is_paused",
    given: snap({ paused: true, retryRequest: RETRY }, recordAfter(D1, [...gateRunning(HTTP), { type: "failed", stage: "qa", gate: 0, reason: "GateFailed" }])),
    want: [{ kind: "noop", reason: "Paused" }],
  },
];

for (const row of rows) {
  test(row.name, (t) => {
    const plan = planPromotion(row.given, NOW);
    t.deepEqual(
      plan.actions.map((a) => ({ kind: a.kind, reason: a.reason })),
      row.want,
    );
    for (const a of plan.actions) t.true(a.message.length > 0, "every action says why");
    if (row.recheckAfterMs !== undefined) t.is(plan.recheckAfterMs, row.recheckAfterMs);
    t.is(row.check?.(plan), undefined);
  });
}

test("every_reason_is_covered_by_a_row", (t) => {
  const covered = new Set(rows.flatMap((r) => r.want.map((w) => w.reason)));
  const missing = (Object.keys(PROMOTION_REASONS) as PromotionReason[]).filter((r) => !covered.has(r));
  t.deepEqual(missing, []);
});

test("plan_is_deterministic", (t) => {
  for (const row of rows) t.deepEqual(planPromotion(row.given, NOW), planPromotion(structuredClone(row.given), NOW));
});

test("a_done_step_is_never_planned_again", (t) => {
  // Apply each plan's journal write and plan again: the same step never comes back.
  let s = snap({ stages: [{ name: "qa", gates: [MANUAL], freeze: [] }, { name: "prod", gates: [], freeze: [] }], approved: true });
  const seen: string[] = [];
  const world: Record<string, StageObservation> = {};
  for (let i = 0; i < 12; i++) {
    const a = planPromotion(s, NOW + i)?.actions[0];
    if (!a || !("record" in a)) break;
    seen.push(a.reason);
    if (a.kind === "setStageDigest") world[a.stage] = obs({ job: { images: [img(a.stageDigest)], version: 3, autoRevert: false }, deployments: [{ jobVersion: 3, status: "successful" }] });
    s = { ...s, journal: { record: a.record, modifyIndex: i + 1 }, observed: { ...world }, observedAt: NOW + i };
  }
  t.deepEqual(seen, ["StageEntered", "DeploymentSucceeded", "GateStarted", "GatePassed", "StagePassed", "Promoted", "DeploymentSucceeded", "PromotionComplete"]);
});

test("freeze_window_wrapping_the_weekend_ends_monday", (t) => {
  // Fri 18:00 → Mon 08:00 UTC; Saturday 2026-11-28 10:00 UTC is inside.
  const w = [{ fromMinute: 4 * 1440 + 18 * 60, toMinute: 8 * 60, text: "Fri 18:00 - Mon 08:00" }];
  t.is(freezeEndsAt(w, Date.UTC(2026, 10, 28, 10, 0)), Date.UTC(2026, 10, 30, 8, 0));
  t.is(freezeEndsAt(w, Date.UTC(2026, 10, 30, 8, 0)), undefined, "the end minute is outside");
  t.is(freezeEndsAt(w, NOW), undefined);
});

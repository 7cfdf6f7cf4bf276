import test from "ava";
import {
  ConflictError,
  ERROR_POLICY,
  InvalidInputError,
  TransientError,
  WaitingError,
  computeOutcome,
  errorKind,
  type ErrorKind,
  type Outcome,
} from "../../../src/reconciler/core/outcome.js";
import { computeStatus, type ConditionReason, type ConditionStatus, type ConditionType, type KeyStatus } from "../../../src/reconciler/core/status.js";
import { assertStatusInvariants, statusViolations } from "../../helpers/status-invariants.js";

/**
 * The one table over (error kind × pass result) → (outcome, conditions),
 * the equivalent of testing Flux's ComputeReconcileResult and summarize.
 */
interface Row {
  name: string;
  err?: unknown;
  recheckAfterMs?: number;
  kind: ErrorKind | "none";
  outcome: Outcome;
  conditions: [ConditionType, ConditionStatus, ConditionReason][];
  /** Counted in steward_reconcile_errors_total. */
  counted: boolean;
}

const invalid = new InvalidInputError("must be heal or report", { file: "services/web/service.yaml", line: 7, field: "sync.drift" });

const rows: Row[] = [
  { name: "converged_pass_is_done", kind: "none", outcome: { result: "done" }, conditions: [["Ready", "True", "Succeeded"]], counted: false },
  {
    name: "planner_recheck_requeues_after_it_and_is_ready",
    recheckAfterMs: 30_000,
    kind: "none",
    outcome: { result: "requeue", afterMs: 30_000 },
    conditions: [["Ready", "True", "Succeeded"]],
    counted: false,
  },
  {
    name: "waiting_requeues_after_its_delay_and_is_not_a_failure",
    err: new WaitingError("deployment 3 of web running", 15_000, { env: "qa", nomadJob: "web" }),
    kind: "waiting",
    outcome: { result: "requeue", afterMs: 15_000 },
    conditions: [["Ready", "Unknown", "Waiting"], ["Reconciling", "True", "Waiting"]],
    counted: false,
  },
  {
    name: "waiting_wins_over_planner_recheck",
    err: new WaitingError("gate pending", 5_000),
    recheckAfterMs: 60_000,
    kind: "waiting",
    outcome: { result: "requeue", afterMs: 5_000 },
    conditions: [["Ready", "Unknown", "Waiting"], ["Reconciling", "True", "Waiting"]],
    counted: false,
  },
  {
    name: "conflict_reobserves_now_without_backoff",
    err: new ConflictError("job web modified at index 42, expected 41", { env: "qa", nomadJob: "web" }),
    kind: "conflict",
    outcome: { result: "requeue", afterMs: 0 },
    conditions: [["Ready", "Unknown", "Conflict"], ["Reconciling", "True", "Conflict"]],
    counted: false,
  },
  {
    name: "transient_retries_with_backoff",
    err: new TransientError("nomad answered 503", { endpoint: "PUT /v1/jobs" }),
    kind: "transient",
    outcome: { result: "retry" },
    conditions: [["Ready", "False", "TransientFailure"], ["Reconciling", "True", "RetryScheduled"]],
    counted: true,
  },
  {
    name: "transient_with_retry_after_retries_no_sooner",
    err: new TransientError("consul answered 429", { endpoint: "GET /v1/kv/steward" }, 5_000),
    kind: "transient",
    outcome: { result: "retry", afterMs: 5_000 },
    conditions: [["Ready", "False", "TransientFailure"], ["Reconciling", "True", "RetryScheduled"]],
    counted: true,
  },
  {
    name: "transient_wins_over_planner_recheck",
    err: new TransientError("timeout"),
    recheckAfterMs: 1_000,
    kind: "transient",
    outcome: { result: "retry" },
    conditions: [["Ready", "False", "TransientFailure"], ["Reconciling", "True", "RetryScheduled"]],
    counted: true,
  },
  {
    name: "invalid_input_stalls",
    err: invalid,
    kind: "invalid",
    outcome: { result: "stalled" },
    conditions: [["Ready", "False", "InvalidInput"], ["Stalled", "True", "InvalidInput"]],
    counted: true,
  },
  {
    name: "unclassified_error_retries_with_backoff",
    err: new TypeError("Cannot read properties of undefined (reading 'ID')"),
    kind: "unknown",
    outcome: { result: "retry" },
    conditions: [["Ready", "False", "UnexpectedError"], ["Reconciling", "True", "RetryScheduled"]],
    counted: true,
  },
  {
    name: "thrown_non_error_is_unclassified",
    err: "boom",
    kind: "unknown",
    outcome: { result: "retry" },
    conditions: [["Ready", "False", "UnexpectedError"], ["Reconciling", "True", "RetryScheduled"]],
    counted: true,
  },
];

const NOW = Date.UTC(2025, 5, 1, 12);

function statusOf(row: Row): KeyStatus {
  const outcome = computeOutcome(row.err, row.recheckAfterMs);
  const nextInMs = outcome.result === "stalled" ? undefined : "afterMs" in outcome ? outcome.afterMs : 600_000;
  return computeStatus(undefined, "qa/web", {
    outcome,
    ...(row.err !== undefined ? { error: row.err } : {}),
    actions: [],
    now: NOW,
    reconcileId: "r1",
    ...(nextInMs !== undefined ? { nextInMs } : {}),
    failures: row.counted ? 1 : 0,
  });
}

for (const row of rows) {
  test(row.name, (t) => {
    t.is(row.err === undefined ? "none" : errorKind(row.err), row.kind);
    t.deepEqual(computeOutcome(row.err, row.recheckAfterMs), row.outcome);
    if (row.kind !== "none") t.is(ERROR_POLICY[row.kind].counted, row.counted);
    const status = statusOf(row);
    t.deepEqual(
      status.conditions.map((c) => [c.type, c.status, c.reason]),
      row.conditions,
    );
    assertStatusInvariants(t, [status]);
  });
}

test("every_error_kind_has_a_row", (t) => {
  const covered = new Set(rows.map((r) => r.kind));
  for (const kind of Object.keys(ERROR_POLICY)) t.true(covered.has(kind as ErrorKind), kind);
});

test("stalled_message_names_file_line_and_field", (t) => {
  const status = statusOf(rows.find((r) => r.name === "invalid_input_stalls") as Row);
  const ready = status.conditions[0];
  t.is(ready?.message, "services/web/service.yaml:7: sync.drift: must be heal or report");
  t.deepEqual(status.lastError?.context, { file: "services/web/service.yaml", line: 7, field: "sync.drift" });
  t.is(status.nextReconcileTime, undefined, "a stalled key is not scheduled");
});

test("transition_time_kept_while_status_unchanged", (t) => {
  const first = computeStatus(undefined, "qa/web", { outcome: { result: "done" }, actions: [], now: NOW, reconcileId: "a", failures: 0 });
  const second = computeStatus(first, "qa/web", { outcome: { result: "done" }, actions: [], now: NOW + 60_000, reconcileId: "b", failures: 0 });
  t.is(second.conditions[0]?.lastTransitionTime, new Date(NOW).toISOString());
  t.is(second.lastReconcileTime, new Date(NOW + 60_000).toISOString());
  const failed = computeStatus(second, "qa/web", { outcome: { result: "retry" }, error: new TransientError("503"), actions: [], now: NOW + 120_000, reconcileId: "c", nextInMs: 1500, failures: 1 });
  t.is(failed.conditions[0]?.lastTransitionTime, new Date(NOW + 120_000).toISOString());
  t.is(failed.conditions[1]?.message, "retrying in 1.5s (failure 1)");
});

test("recovery_clears_stalled_and_keeps_last_error_for_explanation", (t) => {
  const stalled = statusOf(rows.find((r) => r.name === "invalid_input_stalls") as Row);
  const ok = computeStatus(stalled, "qa/web", {
    outcome: { result: "done" },
    actions: [{ kind: "register", reason: "SpecChanged", result: "changed", message: "job spec changed" }],
    now: NOW + 1000,
    reconcileId: "r2",
    nextInMs: 600_000,
    failures: 0,
  });
  t.deepEqual(ok.conditions.map((c) => c.type), ["Ready"]);
  t.is(ok.conditions[0]?.message, "register SpecChanged: job spec changed");
  t.like(ok.lastAction, { kind: "register", reason: "SpecChanged", result: "changed" });
  t.is(ok.lastError?.kind, "invalid");
  assertStatusInvariants(t, [ok]);
});

test("invariant_checker_catches_each_broken_rule", (t) => {
  const at = new Date(NOW).toISOString();
  const base = { key: "k", failures: 0 };
  const broken: KeyStatus[] = [
    { ...base, key: "no-ready", conditions: [] },
    { ...base, key: "stalled-ready", conditions: [{ type: "Ready", status: "True", reason: "Succeeded", message: "ok", lastTransitionTime: at }, { type: "Stalled", status: "True", reason: "InvalidInput", message: "x", lastTransitionTime: at }] },
    { ...base, key: "reconciling-ready", conditions: [{ type: "Ready", status: "True", reason: "Succeeded", message: "ok", lastTransitionTime: at }, { type: "Reconciling", status: "True", reason: "Waiting", message: "x", lastTransitionTime: at }] },
    { ...base, key: "no-message", conditions: [{ type: "Ready", status: "False", reason: "TransientFailure", message: "", lastTransitionTime: at }] },
  ];
  const found = statusViolations(broken);
  for (const key of ["no-ready", "stalled-ready", "reconciling-ready", "no-message"]) {
    t.true(found.some((v) => v.startsWith(`${key}:`)), key);
  }
});

import { StewardError, type ErrorContext } from "../../model/errors.js";
import { errorKind, type ActionRecord, type ErrorKind, type Outcome } from "./outcome.js";

/** The three conditions of Flux's kstatus-compatible status. */
export type ConditionType = "Ready" | "Reconciling" | "Stalled";

/** `Unknown` while the verdict is pending (waiting, re-observing after a conflict). */
export type ConditionStatus = "True" | "False" | "Unknown";

/**
 * The closed set of condition reasons the runner writes. Planner reason codes
 * (`SpecChanged`, …) appear in messages and in `lastAction`, not here, so a
 * dashboard can group keys by these few states.
 */
export type ConditionReason =
  | "Succeeded"
  | "Waiting"
  | "Conflict"
  | "RetryScheduled"
  | "TransientFailure"
  | "UnexpectedError"
  | "InvalidInput";

/** One condition: status, why (reason code), what (message) and since when (ISO 8601). */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: ConditionReason;
  message: string;
  /** When `status` last changed; kept across passes that leave it as it was. */
  lastTransitionTime: string;
}

/**
 * What a user sees about one key (`steward status`, `/api/status`).
 * `Ready` is always present and first; `Reconciling` and `Stalled` are
 * present only while true (fluxcd/pkg apis/meta/conditions.go).
 */
export interface KeyStatus {
  /** The key's string form (`qa/web`). */
  key: string;
  conditions: Condition[];
  /** The last action of the latest pass that planned any, with its reason. */
  lastAction?: ActionRecord & { at: string };
  /** The latest error, with what failed; kept after recovery (see `at`) so the last failure stays explainable. */
  lastError?: { kind: ErrorKind; message: string; context: ErrorContext; at: string };
  /** When the latest pass ended, and its id (matches `reconcile_id` in the logs). */
  lastReconcileTime?: string;
  reconcileId?: string;
  /**
   * When a pass of the key is scheduled: a recheck, a retry or a backoff.
   * Absent for a settled key (the loop's next full resync looks at it, and
   * skips it while its inputs are unchanged) and while stalled.
   */
  nextReconcileTime?: string;
  /** Failed passes since the last success (the queue's backoff exponent). */
  failures: number;
}

/** Everything `computeStatus` needs to know about a pass that just ended. */
export interface PassSummary {
  outcome: Outcome;
  /** What the pass threw, if it did. */
  error?: unknown;
  actions: readonly ActionRecord[];
  /** Epoch ms at the end of the pass. */
  now: number;
  reconcileId: string;
  /** Delay until the next pass, as scheduled; undefined when none is (settled: the next resync; stalled). */
  nextInMs?: number;
  failures: number;
}

/** The message of any thrown value: a StewardError's `describe()` (file, line, field, scope), else its text. */
export function errorMessage(err: unknown): string {
  if (err instanceof StewardError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The context of any thrown value: a StewardError's, or a `context` object another error carries. */
export function errorContext(err: unknown): ErrorContext {
  if (err instanceof StewardError) return err.context;
  if (err instanceof Error && "context" in err && typeof err.context === "object" && err.context !== null) {
    return err.context;
  }
  return {};
}

type Verdict = Omit<Condition, "lastTransitionTime">;

/**
 * Status after a pass, from the previous status and the pass summary
 * (Flux's deferred summarize). Pure; the runner is its only caller outside tests.
 *
 * | pass ended with                | Ready            | Reconciling           | Stalled     |
 * |--------------------------------|------------------|-----------------------|-------------|
 * | no error (done, or recheck)    | True Succeeded   | —                     | —           |
 * | WaitingError                   | Unknown Waiting  | True Waiting          | —           |
 * | ConflictError                  | Unknown Conflict | True Conflict         | —           |
 * | TransientError                 | False TransientFailure | True RetryScheduled | —       |
 * | unclassified error             | False UnexpectedError  | True RetryScheduled | —       |
 * | InvalidInputError              | False InvalidInput | —                   | True InvalidInput |
 */
export function computeStatus(prev: KeyStatus | undefined, key: string, pass: PassSummary): KeyStatus {
  const at = isoTime(pass.now);
  // The usual pass repeats the last verdict: its conditions (and their transition times) stand as they are.
  const conditions = prev && repeatsSuccess(prev.conditions, pass) ? prev.conditions : newConditions(prev, pass, at);
  const last = pass.actions[pass.actions.length - 1];
  const status: KeyStatus = {
    key,
    conditions,
    lastReconcileTime: at,
    reconcileId: pass.reconcileId,
    failures: pass.failures,
  };
  if (last) status.lastAction = { ...last, at };
  else if (prev?.lastAction) status.lastAction = prev.lastAction;
  if (pass.error !== undefined) {
    status.lastError = { kind: errorKind(pass.error), message: errorMessage(pass.error), context: errorContext(pass.error), at };
  } else if (prev?.lastError) status.lastError = prev.lastError;
  if (pass.nextInMs !== undefined) status.nextReconcileTime = new Date(pass.now + pass.nextInMs).toISOString();
  return status;
}

/** A pass without error whose Ready condition would read exactly as the one before. */
function repeatsSuccess(conditions: readonly Condition[], pass: PassSummary): boolean {
  if (pass.error !== undefined || conditions.length !== 1) return false;
  const ready = conditions[0];
  return ready !== undefined && ready.status === "True" && ready.reason === "Succeeded" && ready.message === successMessage(pass.actions);
}

function newConditions(prev: KeyStatus | undefined, pass: PassSummary, at: string): Condition[] {
  return conditionVerdicts(pass).map((v) => {
    const before = prev?.conditions.find((c) => c.type === v.type);
    return { ...v, lastTransitionTime: before && before.status === v.status ? before.lastTransitionTime : at };
  });
}

/** The last epoch ms formatted, and its text: the passes of a busy stretch end within the same millisecond or few. */
let lastIso: { ms: number; text: string } = { ms: Number.NaN, text: "" };

function isoTime(ms: number): string {
  if (lastIso.ms !== ms) lastIso = { ms, text: new Date(ms).toISOString() };
  return lastIso.text;
}

function conditionVerdicts(pass: PassSummary): Verdict[] {
  const { outcome, error } = pass;
  if (error === undefined) {
    return [{ type: "Ready", status: "True", reason: "Succeeded", message: successMessage(pass.actions) }];
  }
  const message = errorMessage(error);
  const kind = errorKind(error);
  if (outcome.result === "stalled") {
    return [
      { type: "Ready", status: "False", reason: "InvalidInput", message },
      { type: "Stalled", status: "True", reason: "InvalidInput", message },
    ];
  }
  if (kind === "waiting" || kind === "conflict") {
    const reason = kind === "waiting" ? "Waiting" : "Conflict";
    return [
      { type: "Ready", status: "Unknown", reason, message },
      { type: "Reconciling", status: "True", reason, message: kind === "waiting" ? message : `re-observing after a lost check-and-set: ${message}` },
    ];
  }
  const retryIn = pass.nextInMs !== undefined ? `retrying in ${formatMs(pass.nextInMs)}` : "retrying";
  return [
    { type: "Ready", status: "False", reason: kind === "transient" ? "TransientFailure" : "UnexpectedError", message },
    { type: "Reconciling", status: "True", reason: "RetryScheduled", message: `${retryIn} (failure ${pass.failures})` },
  ];
}

/** Messages of single-action passes, by kind, reason, result and message: an idle pass repeats its last one. */
const singleActionMessages = new Map<string, string>();
const SINGLE_ACTION_MESSAGES_KEPT = 1_000;

/** Messages of single-action passes by the action record itself: a loop that reuses its noop records (sync) skips building the key. */
const messageOfRecord = new WeakMap<ActionRecord, string>();

function successMessage(actions: readonly ActionRecord[]): string {
  const only = actions.length === 1 ? actions[0] : undefined;
  if (only) {
    const known = messageOfRecord.get(only);
    if (known !== undefined) return known;
    const key = `${only.kind}\0${only.reason}\0${only.result}\0${only.message ?? ""}`;
    let text = singleActionMessages.get(key);
    if (text === undefined) {
      text = successMessageOf(actions);
      if (singleActionMessages.size >= SINGLE_ACTION_MESSAGES_KEPT) singleActionMessages.clear();
      singleActionMessages.set(key, text);
    }
    if (Object.isFrozen(only)) messageOfRecord.set(only, text);
    return text;
  }
  return successMessageOf(actions);
}

function successMessageOf(actions: readonly ActionRecord[]): string {
  const changed = actions.filter((a) => a.result === "changed");
  const shown = changed.length > 0 ? changed : actions;
  if (shown.length === 0) return "up to date";
  return shown.map((a) => `${a.kind} ${a.reason}${a.message ? `: ${a.message}` : ""}`).join("; ");
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/** The condition of `type`, if present. */
export function findCondition(status: KeyStatus | undefined, type: ConditionType): Condition | undefined {
  return status?.conditions.find((c) => c.type === type);
}

/** True when the status carries a Stalled condition. No closure: a resync asks for every key. */
export function isStalledStatus(status: KeyStatus | undefined): boolean {
  const conditions = status?.conditions;
  if (!conditions || conditions.length < 2) return false;
  for (const c of conditions) if (c.type === "Stalled") return true;
  return false;
}

/** In-memory status of every key one runner has seen; the server and CLI read it. */
export class StatusStore {
  private readonly byKey = new Map<string, KeyStatus>();

  get(key: string): KeyStatus | undefined {
    return this.byKey.get(key);
  }

  /** Every status, sorted by key for stable output. */
  list(): KeyStatus[] {
    return [...this.byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  set(status: KeyStatus): void {
    this.byKey.set(status.key, status);
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }

  /** True when the key's Stalled condition is present. */
  isStalled(key: string): boolean {
    return isStalledStatus(this.byKey.get(key));
  }
}

import { StewardError, InvalidInputError, type ErrorContext } from "../../model/errors.js";

export { InvalidInputError };

/**
 * Not a failure: something is still in progress (a deployment, a gate, a
 * grace period). Requeue after `requeueAfterMs`; failure metrics are untouched.
 */
export class WaitingError extends StewardError {
  readonly kind = "waiting" as const;
  constructor(
    message: string,
    readonly requeueAfterMs: number,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/** A check-and-set write lost against another writer: re-observe now, no backoff. */
export class ConflictError extends StewardError {
  readonly kind = "conflict" as const;
}

/**
 * Worth retrying: 5xx, 429, timeouts, connection resets. `retryAfterMs`
 * carries the server's `Retry-After` when it sent one.
 */
export class TransientError extends StewardError {
  readonly kind = "transient" as const;
  constructor(
    message: string,
    context: ErrorContext = {},
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, context, options);
  }
}

export type ErrorKind = StewardError["kind"] | "unknown";

/**
 * What happens to each kind of error: one table, so the behaviour is decided
 * in one place (Flux's error.Config).
 */
export const ERROR_POLICY: Record<ErrorKind, { logged: "info" | "warn" | "error"; counted: boolean; retried: "no" | "after" | "now" | "backoff" }> = {
  invalid: { logged: "error", counted: true, retried: "no" },
  waiting: { logged: "info", counted: false, retried: "after" },
  conflict: { logged: "info", counted: false, retried: "now" },
  transient: { logged: "warn", counted: true, retried: "backoff" },
  // A bug or an error nobody classified: retried with backoff, loudly, so it is seen and fixed.
  unknown: { logged: "error", counted: true, retried: "backoff" },
};

export function errorKind(err: unknown): ErrorKind {
  return err instanceof StewardError ? err.kind : "unknown";
}

/**
 * The single result of one reconcile pass of one key.
 * - `done`: converged; requeue at the jittered resync interval.
 * - `requeue`: check again after `afterMs` (waiting, or the plan asked to recheck).
 * - `retry`: transient failure; the queue applies per-key backoff (or `afterMs` from Retry-After if longer).
 * - `stalled`: terminal until the input changes; no retry.
 */
export type Outcome =
  | { result: "done" }
  | { result: "requeue"; afterMs: number }
  | { result: "retry"; afterMs?: number }
  | { result: "stalled" };

/**
 * Turns what a pass ended with into its outcome (Flux's ComputeReconcileResult).
 * @param err the error the pass ended with, if any
 * @param recheckAfterMs the planner's earliest time the answer could change
 */
export function computeOutcome(err: unknown, recheckAfterMs?: number): Outcome {
  if (err === undefined) {
    return recheckAfterMs !== undefined ? { result: "requeue", afterMs: recheckAfterMs } : { result: "done" };
  }
  switch (errorKind(err)) {
    case "invalid":
      return { result: "stalled" };
    case "waiting":
      return { result: "requeue", afterMs: (err as WaitingError).requeueAfterMs };
    case "conflict":
      return { result: "requeue", afterMs: 0 };
    case "transient": {
      const after = (err as TransientError).retryAfterMs;
      return after !== undefined ? { result: "retry", afterMs: after } : { result: "retry" };
    }
    case "unknown":
      return { result: "retry" };
  }
}

/** The four results a pass can end with, as `steward_reconcile_total{result}` counts them. */
export const OUTCOME_RESULTS = ["done", "requeue", "retry", "stalled"] as const satisfies readonly Outcome["result"][];

/** Error kinds that count as failures (`steward_reconcile_errors_total{kind}`), per ERROR_POLICY. */
export const COUNTED_ERROR_KINDS: readonly ErrorKind[] = (Object.keys(ERROR_POLICY) as ErrorKind[]).filter(
  (k) => ERROR_POLICY[k].counted,
);

/**
 * What became of one action:
 * - `changed`: the world changed (a job registered, a node drained);
 * - `unchanged`: nothing to do, or the actuator found it already done (noop actions too);
 * - `failed`: the actuator raised; the pass stops there;
 * - `skipped`: not attempted because an earlier action of the pass failed.
 */
export type ActionResult = "changed" | "unchanged" | "failed" | "skipped";

/** All action results, for metrics initialised at zero. */
export const ACTION_RESULTS = ["changed", "unchanged", "failed", "skipped"] as const satisfies readonly ActionResult[];

/** One action of a pass as the runner records it: the planner's kind and reason code, and what became of it. */
export interface ActionRecord {
  /** The action's discriminant (`register`, `stop`, `noop`, …). */
  kind: string;
  /** The planner's PascalCase reason code (`SpecChanged`, `PruneGuardTripped`, …). */
  reason: string;
  result: ActionResult;
  /** The planner's human message, shown in status. */
  message?: string;
}

/**
 * What a reconcile pass returns when it did not throw.
 * - `recheckAfterMs`: the planner's earliest time the answer could change
 *   (CAPI's needsRemediation); absent when only an event or the resync can change it.
 * - `actions`: every action planned, in order, with its result.
 */
export interface PassResult {
  recheckAfterMs?: number;
  actions: ActionRecord[];
}

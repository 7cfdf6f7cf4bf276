/**
 * Why the promotion planner chose an action for one (service, digest), as a
 * closed set of codes. Every action, waits and "nothing" included, carries
 * one, so `steward plan` can say why a promotion moves or waits.
 */
export const PROMOTION_REASONS = {
  // guards (checked before anything else)
  StaleSnapshot: "the observed state is older than allowed; nothing is decided on it",
  Paused: "promotion is paused for this service",
  PreviousStageNotPassed: "the journal does not show the previous stage passed with every gate; the digest is not promoted",
  DigestFailed: "this digest failed before for this service and is never promoted again, whatever its tag",
  // queueing
  Superseded: "a newer candidate has come as far; this one will not be promoted",
  StageOccupied: "another digest of this service is in flight in the stage; at most one at a time",
  FreezeWindow: "the stage is in a freeze window; the promotion waits until it ends",
  EnvironmentFrozen: "an operator froze the stage's environment; the promotion waits until it is unfrozen",
  // entering a stage (setStageDigest)
  StageEntered: "a new candidate enters the first stage",
  Promoted: "the digest passed the previous stage and enters the next one",
  RegisterReissued: "the stage does not run the digest yet; the idempotent register is issued again",
  // the deployment (implicit first gate)
  DeploymentStarted: "the stage runs the digest and Nomad's deployment is under way",
  DeploymentRunning: "Nomad's deployment of the digest is still running",
  DeploymentSucceeded: "Nomad's deployment of the digest succeeded; the stage's gates come next",
  DeploymentFailed: "Nomad's deployment of the digest failed",
  ProgressDeadlineExceeded: "Nomad's deployment of the digest did not finish within its progress deadline",
  // gates
  GateStarted: "the next gate of the stage starts",
  GatePending: "the current gate has no result yet",
  GatePassed: "the current gate passed",
  GateFailed: "the current gate failed",
  GateTimedOut: "the current gate gave no passing result within its timeout",
  StagePassed: "every gate of the stage passed",
  PromotionComplete: "the digest passed every stage",
  // rollback
  RolledBack: "the stage failed and returns to its last good digest by an explicit register",
  AutoReverted: "the stage failed and Nomad's auto_revert returned it to its last stable version; only recorded",
  NoLastGood: "the stage failed and has no earlier good digest to return to; it is held as it runs",
  // an operator's retry of a failed gate
  GateRetried: "an operator retried the stage's failed gate: the digest is no longer failed and the stage runs its gates again",
  RetryRefused: "an operator asked to retry a gate, but this digest did not fail at a gate of that stage; the request is removed",
} as const;

/** One of the promotion planner's reason codes. */
export type PromotionReason = keyof typeof PROMOTION_REASONS;

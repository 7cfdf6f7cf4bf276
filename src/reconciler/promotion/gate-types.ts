import type { GateSpec } from "../../model/types.js";
import type { GateObservation, RetryRequest } from "./plan.js";

/**
 * The contract between the promotion loop and the gate probes
 * (gates.ts): the loop starts a gate when the journal says it started,
 * reads what its check last saw on every pass, and stops it when the gate
 * is decided or the promotion moved on. The deployment gate and the soak
 * gate are judged from the loop's own Nomad observation and never reach a
 * GateRunner. Times are epoch ms.
 */

/** One running gate of one (service, digest) in one stage. */
export interface GateContext {
  service: string;
  /** The stage (environment) the gate runs in. */
  stage: string;
  /** The gate's index in the stage's `promotion.gates.<stage>` list. */
  gateIndex: number;
  gate: GateSpec;
  /** `sha256:…` being promoted. */
  digest: string;
  /** `repository@sha256:…`: the pinned image, e.g. for a verification job's `var.image`. */
  image: string;
  /** When the journal recorded the gate started: results from before it do not count. */
  startedAt: number;
  /** The service's Nomad job ID in the stage. */
  nomadJob: string;
  /** How many times the journal started this gate (2 and up after an operator's retry). @default 1 */
  attempt?: number;
}

/** A stable key for one running gate: `service/digest/stage/gateIndex`. */
export function gateKey(c: Pick<GateContext, "service" | "digest" | "stage" | "gateIndex">): string {
  return `${c.service}/${c.digest}/${c.stage}/${c.gateIndex}`;
}

/**
 * Runs the checks of `verify`, `http` and `prometheus` gates (and answers
 * `manual` through an ApprovalStore).
 * - `start`: begins the check; idempotent for the same context (a new
 *   leader calling it again for a gate the journal shows running must not
 *   run a second verification job for the same digest if one exists).
 *   Rejects only when the check could not be begun at all (the loop retries).
 * - `observe`: what the check last saw, or undefined when nothing yet; never
 *   throws and does no I/O (it reads the runner's cache).
 * - `stop`: stops probing; the result is forgotten. Safe to call twice.
 * `onChange`, when given, is called whenever an observation changes, so the
 * loop looks at the key again without waiting for its recheck.
 */
export interface GateRunnerLike {
  start(ctx: GateContext): Promise<void>;
  observe(ctx: GateContext): GateObservation | undefined;
  stop(ctx: GateContext): void;
  onChange?(listener: (ctx: GateContext) => void): void;
}

/**
 * Manual approvals of (service, digest). `isApproved` answers from a cache
 * (no I/O); `watch`, when given, calls back when an approval appears so the
 * loop looks at the key at once. A decision may be for one stage: with
 * `stage` given, only decisions for that stage or for every stage count.
 * `isRejected`, when given, says a manual gate is to fail.
 */
export interface ApprovalStoreLike {
  isApproved(service: string, digest: string, stage?: string): boolean;
  isRejected?(service: string, digest: string, stage?: string): boolean;
  /** The ModifyIndex of the decision that applies, if any (a retried manual gate ignores decisions up to the retry's). */
  decisionIndex?(service: string, digest: string, stage?: string): number | undefined;
  watch?(listener: (service: string, digest: string) => void): void;
}

/**
 * Operators' requests to retry a failed gate (a GateRetryStore read from
 * Consul KV, with its writer's `remove`). `requestFor` and `digestsOf`
 * answer from a cache; `remove` deletes a request with check-and-set at the
 * index it was read at (a newer request stays) and resolves with whether it
 * was removed.
 */
export interface RetryRequestsLike {
  requestFor(service: string, digest: string): RetryRequest | undefined;
  digestsOf(service: string): string[];
  watch?(listener: (service: string, digest: string) => void): void;
  remove(service: string, digest: string, modifyIndex: number): Promise<boolean>;
}

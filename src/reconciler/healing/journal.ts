/**
 * The healing journal's record: one incident per (pool, lost node), kept in
 * Consul KV at `steward/journal/healing/<pool>/<nodeId>`. The loop writes the
 * next step with check-and-set *before* it acts, so a leader that dies
 * mid-step leaves a record that tells the next leader what may have happened
 * (an apply that started is never started again; it is waited for).
 * Pure: no I/O here (the store is src/actuators/healing-journal.ts).
 */

/**
 * Steps of one replacement:
 * - `draining`: the node still answered; it was made ineligible and drained;
 * - `applying`: `terraform apply` was (about to be) started for it;
 * - `apply-failed`: the last apply failed; retried at `retryAt`;
 * - `applied`: the apply succeeded; waiting for the new node;
 * - `purging`: the new node is ready; the old one is being purged;
 * - `done`: the old node is purged and deregistered.
 */
export type IncidentStep = "draining" | "applying" | "apply-failed" | "applied" | "purging" | "done";

/** One line of an incident's history. */
export interface IncidentEvent {
  at: number;
  step: IncidentStep;
  note: string;
}

/** One incident: a lost node of a pool and how far its replacement got. Times are epoch ms. */
export interface IncidentRecord {
  pool: string;
  /** The lost node's Nomad ID (the key of the record). */
  nodeId: string;
  nodeName: string;
  /** The Terraform resource address that replaces it. */
  address: string;
  /** The instance the state held for `address` when the incident opened; a different one there means the replacement exists. */
  oldInstanceId?: string;
  step: IncidentStep;
  /** When the node turned unhealthy (the loss, for loss→ready). */
  unhealthySince: number;
  createdAt: number;
  updatedAt: number;
  /** When the current (or last) apply started; with `applyId`, which batch it was. */
  applyStartedAt?: number;
  applyId?: string;
  /** Applies started for this incident. */
  attempts: number;
  /** The last apply's diagnostic, Terraform's own words. */
  lastError?: string;
  /** `apply-failed`: not before this time. */
  retryAt?: number;
  appliedAt?: number;
  /** The replacement's Nomad node, once seen ready. */
  newNodeId?: string;
  readyAt?: number;
  finishedAt?: number;
  history: IncidentEvent[];
}

/** A record with the Consul ModifyIndex it was read at, which the next write must check against. */
export interface IncidentEntry {
  record: IncidentRecord;
  modifyIndex: number;
}

/** True while the incident holds a replacement slot (everything but `done`). */
export function isInFlight(r: IncidentRecord): boolean {
  return r.step !== "done";
}

/** The next state of a record: `step` and fields set, one history line added. Pure. */
export function advanceIncident(r: IncidentRecord, step: IncidentStep, at: number, note: string, fields: Partial<IncidentRecord> = {}): IncidentRecord {
  return { ...r, ...fields, step, updatedAt: at, history: [...r.history, { at, step, note }] };
}

/** A new record, at its first step. */
export function newIncident(fields: Omit<IncidentRecord, "createdAt" | "updatedAt" | "history" | "attempts" | "step">, step: IncidentStep, at: number, note: string): IncidentRecord {
  return advanceIncident({ ...fields, step, createdAt: at, updatedAt: at, attempts: 0, history: [] }, step, at, note);
}

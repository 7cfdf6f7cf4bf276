import type { SyncPolicy } from "../../model/types.js";
import { describeFreeze, type FreezeNote } from "../core/freeze.js";
import { SYNC_REASONS, type SyncReason } from "./reasons.js";

/** Job Meta keys Steward writes on every job it registers; ownership and change are decided from them. */
export const META = {
  managedBy: "steward.managed-by",
  specHash: "steward.spec-hash",
  revision: "steward.revision",
  service: "steward.service",
  prune: "steward.prune",
} as const;

export const MANAGED_BY_VALUE = "steward";

/** A job as the desired state wants it in one environment, rendered to Nomad API JSON. */
export interface DesiredJob {
  service: string;
  /**
   * The API job (from the environment's `/v1/jobs/parse`), Steward's Meta
   * already set but for the revision, which a register adds: a job is the
   * same object from one revision to the next while its inputs are.
   */
  spec: NomadJobSpec;
  /** Hash of the normalized spec: Steward's Meta and autoscaled counts left out. */
  specHash: string;
  policy: SyncPolicy;
  /** Task groups with a `scaling` block: their count belongs to the Nomad Autoscaler. */
  scaledGroups: string[];
  /** No image is known for this environment yet: the job is held, neither registered nor pruned. */
  imagePending?: boolean;
}

/** The parts of a Nomad job the planner needs, from Steward's cache of the cluster. */
export interface ActualJob {
  jobModifyIndex: number;
  version: number;
  /** Nomad's `Stop` flag: the job was stopped (deregistered without purge). */
  stopped: boolean;
  meta: Record<string, string>;
  /** Current count of each task group. */
  groupCounts: Record<string, number>;
}

/** What Steward registered last for this job in this environment (kept in Consul KV, so it survives failover). */
export interface AppliedRecord {
  jobModifyIndex: number;
  specHash: string;
}

/** The result of comparing a job changed outside Steward with its desired spec (a Nomad plan diff). */
export interface DriftCheck {
  /** The JobModifyIndex the comparison was made at. */
  atIndex: number;
  /** Whether anything differs besides autoscaled counts. */
  drifted: boolean;
  /** Which fields differ, for the message (`TaskGroups[web].Tasks[web].Config.image`). */
  fields: string[];
}

export interface PruneContext {
  /** When the job was first seen absent from the desired state (sim of "since"), if it is. */
  absentSince?: number;
  /** Managed jobs in this environment. */
  managedInEnv: number;
  /** Managed jobs in this environment whose service left the desired state. */
  candidatesInEnv: number;
  /** An operator allowed this pass to exceed the prune share. */
  override: boolean;
}

/** Everything one decision about (env, job) depends on. Built by observe.ts from caches only. */
export interface SyncSnapshot {
  env: string;
  jobId: string;
  desired?: DesiredJob;
  actual?: ActualJob;
  applied?: AppliedRecord;
  drift?: DriftCheck;
  prune: PruneContext;
  /** Policy for jobs no longer in the desired state (steward.yaml's `sync`). */
  defaults: SyncPolicy;
  /** The policy the job's service had in the latest revision that still held it (this leader's memory). */
  lastPolicy?: SyncPolicy;
  paused: boolean;
  /** The environment is frozen (`steward/control/freeze/<env>`): nothing is written to it. Absent: not frozen. */
  frozen?: FreezeNote;
  /** The desired-state revision in force; a register stamps it into the job's Meta (`steward.revision`). */
  revision?: string;
}

export type NomadJobSpec = Record<string, unknown>;

interface ActionBase {
  env: string;
  jobId: string;
  reason: SyncReason;
  /** One line a person can read: what and why. */
  message: string;
}

export type SyncAction =
  | (ActionBase & {
      kind: "register";
      spec: NomadJobSpec;
      specHash: string;
      /** Check-and-set: the JobModifyIndex seen; 0 = the job must not exist yet. */
      enforceIndex: number;
    })
  | (ActionBase & { kind: "stop"; enforceIndex: number })
  | (ActionBase & { kind: "noop" });

export interface SyncPlan {
  actions: SyncAction[];
  /** The earliest time (ms from now) the answer could change without an event, e.g. a grace period ending. */
  recheckAfterMs?: number;
}

/**
 * Decides what to do about one job in one environment. Pure: the same
 * snapshot and `now` always give the same plan.
 * @param now epoch ms, for the prune grace period
 */
export function planSync(s: SyncSnapshot, now: number): SyncPlan {
  if (s.paused) return one(noop(s, "Paused"));
  const plan = s.desired ? planDesired(s, s.desired) : planAbsent(s, now);
  return s.frozen ? frozen(s, s.frozen, plan) : plan;
}

/**
 * A frozen environment: the plan still runs (so status says what waits),
 * but every action becomes one `Frozen` noop naming who froze it, why, and
 * what would have been done. No recheck: lifting the freeze wakes every key.
 */
function frozen(s: SyncSnapshot, note: FreezeNote, plan: SyncPlan): SyncPlan {
  const held = plan.actions.find((a) => a.kind !== "noop");
  const what = held ? `held: ${held.kind} (${held.reason})` : `nothing held (${plan.actions[0]?.reason ?? "InSync"})`;
  return one(noop(s, "Frozen", `${describeFreeze(s.env, note)}; ${SYNC_REASONS.Frozen}; ${what}`));
}

function planDesired(s: SyncSnapshot, d: DesiredJob): SyncPlan {
  if (d.imagePending) return one(noop(s, "AwaitingImage"));
  const a = s.actual;
  if (!a || a.stopped) {
    return one(register(s, d, "JobMissing", a ? a.jobModifyIndex : 0, a ? "the job was stopped in Nomad; registering it again" : undefined));
  }
  if (!isManaged(a)) {
    return d.policy.adopt ? one(register(s, d, "Adopted", a.jobModifyIndex)) : one(noop(s, "NotManaged"));
  }
  if (a.meta[META.specHash] !== d.specHash) return one(register(s, d, "SpecChanged", a.jobModifyIndex));
  if (changedOutsideSteward(s.applied, a) && s.drift?.atIndex === a.jobModifyIndex && s.drift.drifted) {
    const what = s.drift.fields.length ? `: ${s.drift.fields.slice(0, 5).join(", ")}` : "";
    return d.policy.drift === "heal"
      ? one(register(s, d, "DriftHealed", a.jobModifyIndex, `${SYNC_REASONS.DriftHealed}${what}`))
      : one(noop(s, "DriftReported", `${SYNC_REASONS.DriftReported}${what}`));
  }
  return one(noop(s, "InSync"));
}

function planAbsent(s: SyncSnapshot, now: number): SyncPlan {
  const a = s.actual;
  if (!a || a.stopped) return one(noop(s, "AlreadyAbsent"));
  if (!isManaged(a)) return one(noop(s, "NotManaged"));
  if (!pruneAllowed(a, s.defaults, s.lastPolicy)) return one(noop(s, "PruneDisabled"));
  const since = s.prune.absentSince ?? now;
  const left = since + s.defaults.pruneGracePeriodMs - now;
  if (left > 0) {
    return { actions: [noop(s, "PruneGracePeriod", `${SYNC_REASONS.PruneGracePeriod} (${Math.ceil(left / 1000)} s left)`)], recheckAfterMs: left };
  }
  if (pruneGuardTrips(s.prune, s.defaults.maxPruneShare)) {
    const { candidatesInEnv: c, managedInEnv: m } = s.prune;
    return one(noop(s, "PruneGuardTripped", `${SYNC_REASONS.PruneGuardTripped} (${c} of ${m} managed jobs would go, above the limit of ${Math.round(s.defaults.maxPruneShare * 100)}%)`));
  }
  return one({ kind: "stop", env: s.env, jobId: s.jobId, reason: "Pruned", message: SYNC_REASONS.Pruned, enforceIndex: a.jobModifyIndex });
}

/** A job carries Steward's managed-by meta: only such jobs are ever changed without `adopt`, or pruned. */
export function isManaged(a: ActualJob): boolean {
  return a.meta[META.managedBy] === MANAGED_BY_VALUE;
}

/** The job was registered by someone else after Steward's last register. */
export function changedOutsideSteward(applied: AppliedRecord | undefined, a: ActualJob): boolean {
  return applied !== undefined && applied.jobModifyIndex !== a.jobModifyIndex;
}

/**
 * Whether the job may be pruned, its service's own file being gone: the flag
 * the service had in the latest revision that held it, else the flag recorded
 * in the job's Meta when Steward registered it (what a new leader knows),
 * else steward.yaml's default.
 */
export function pruneAllowed(a: ActualJob, defaults: SyncPolicy, last?: SyncPolicy): boolean {
  if (last) return last.prune;
  const recorded = a.meta[META.prune];
  return recorded === undefined ? defaults.prune : recorded === "true";
}

/** Refuse when the share of managed jobs about to be pruned exceeds the limit, unless overridden. */
export function pruneGuardTrips(p: PruneContext, maxShare: number): boolean {
  if (p.override || p.managedInEnv === 0) return false;
  return p.candidatesInEnv / p.managedInEnv > maxShare;
}

/** Keeps the Autoscaler's counts: a scaled group's count is whatever runs now. */
export function withScaledCounts(spec: NomadJobSpec, scaledGroups: string[], actual: ActualJob | undefined): NomadJobSpec {
  if (!actual || scaledGroups.length === 0) return spec;
  const groups = spec.TaskGroups;
  if (!Array.isArray(groups)) return spec;
  return {
    ...spec,
    TaskGroups: groups.map((g: unknown) => {
      const group = g as Record<string, unknown>;
      const name = typeof group.Name === "string" ? group.Name : "";
      const current = actual.groupCounts[name];
      return scaledGroups.includes(name) && current !== undefined ? { ...group, Count: current } : group;
    }),
  };
}

/** The spec with `steward.revision` set in its Meta (a copy; the desired job is shared between revisions). */
export function withRevision(spec: NomadJobSpec, revision: string | undefined): NomadJobSpec {
  if (revision === undefined) return spec;
  const meta = spec.Meta !== null && typeof spec.Meta === "object" ? (spec.Meta as Record<string, string>) : {};
  return { ...spec, Meta: { ...meta, [META.revision]: revision } };
}

function register(s: SyncSnapshot, d: DesiredJob, reason: SyncReason, enforceIndex: number, message?: string): SyncAction {
  return {
    kind: "register",
    env: s.env,
    jobId: s.jobId,
    reason,
    message: message ?? SYNC_REASONS[reason],
    spec: withRevision(withScaledCounts(d.spec, d.scaledGroups, s.actual), s.revision),
    specHash: d.specHash,
    enforceIndex,
  };
}

function noop(s: SyncSnapshot, reason: SyncReason, message?: string): SyncAction {
  return { kind: "noop", env: s.env, jobId: s.jobId, reason, message: message ?? SYNC_REASONS[reason] };
}

function one(action: SyncAction): SyncPlan {
  return { actions: [action] };
}

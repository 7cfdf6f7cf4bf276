import type { SyncPolicy } from "../../model/types.js";
import type { NomadJob, NomadJobStub } from "../../sources/nomad.js";
import type { FreezeNote } from "../core/freeze.js";
import type { RenderedRevision } from "./intake.js";
import { META, MANAGED_BY_VALUE, type ActualJob, type AppliedRecord, type DriftCheck, type SyncSnapshot } from "./plan.js";

/** The sync loop's key: one job in one environment. */
export interface SyncKey {
  env: string;
  jobId: string;
}

export const syncKeyString = (k: SyncKey): string => `${k.env}/${k.jobId}`;

/** The default policy for a revision-less start (nothing loaded yet): never prune. */
const NO_PRUNE: SyncPolicy = { drift: "report", adopt: false, prune: false, pruneGracePeriodMs: 0, maxPruneShare: 0 };

/**
 * The in-memory caches a sync pass observes: the last good revision, each
 * environment's jobs list (kept by a blocking-query watch), Steward's record
 * of what it registered, and a few facts remembered between passes. Only
 * sources and the loop's record step write here; observe only reads.
 */
export class SyncCache {
  /** The last revision that was valid as a whole. */
  revision: RenderedRevision | undefined;
  /** env → job ID → stub, from each environment's jobs-list watch. */
  readonly actual = new Map<string, Map<string, NomadJobStub>>();
  /** `env/job` → what Steward last registered. */
  readonly applied = new Map<string, AppliedRecord>();
  /** `env/job` → when it was first seen absent from the desired state. */
  readonly absentSince = new Map<string, number>();
  /** `env/job` → the sync policy of the job's service in the latest revision that held it. */
  readonly lastPolicy = new Map<string, SyncPolicy>();
  /** `env/job` → the last drift comparison. */
  readonly drift = new Map<string, DriftCheck>();
  /** `env/job` → full job read for its group counts, at a JobModifyIndex. */
  readonly fullJobs = new Map<string, NomadJob>();
  paused = { all: false, services: new Set<string>() };
  /** Environments whose prune guard an operator lifted for the next pass. */
  pruneOverride = new Set<string>();
  /** Frozen environments and who froze them (`steward/control/freeze/<env>`). */
  frozen: ReadonlyMap<string, FreezeNote> = new Map();

  private readonly pruneCountsCache = new Map<string, { revision: RenderedRevision | undefined; version: number; managed: number; candidates: number }>();
  private readonly versions = new Map<string, number>();

  /** Marks an environment's jobs list as changed (a new list, or a stub patched after a write). */
  touch(env: string): void {
    this.versions.set(env, (this.versions.get(env) ?? 0) + 1);
  }

  /**
   * Managed, running jobs in an environment, and how many of them the
   * revision no longer wants. Memoized per (revision, jobs list) so a full
   * pass over N jobs costs O(N), not O(N²).
   */
  pruneCounts(env: string): { managed: number; candidates: number } {
    const stubs = this.actual.get(env);
    const version = this.versions.get(env) ?? 0;
    const hit = this.pruneCountsCache.get(env);
    if (hit && hit.revision === this.revision && hit.version === version) return hit;
    const desiredIds = this.revision?.jobs.get(env);
    let managed = 0;
    let candidates = 0;
    for (const s of stubs?.values() ?? []) {
      if (s.Stop || s.Meta?.["steward.managed-by"] !== "steward") continue;
      managed++;
      if (!desiredIds?.has(s.ID)) candidates++;
    }
    const entry = { revision: this.revision, version, managed, candidates };
    this.pruneCountsCache.set(env, entry);
    return entry;
  }

  /** Every key that needs a look: desired jobs, and managed or same-named jobs in Nomad. */
  keys(): SyncKey[] {
    const seen = new Set<string>();
    const out: SyncKey[] = [];
    const add = (env: string, jobId: string): void => {
      const k = `${env}/${jobId}`;
      if (seen.has(k)) return;
      seen.add(k);
      out.push({ env, jobId });
    };
    for (const [env, jobs] of this.revision?.jobs ?? []) for (const id of jobs.keys()) add(env, id);
    for (const [env, stubs] of this.actual) for (const [id, stub] of stubs) if (stub.Meta?.[META.managedBy] === MANAGED_BY_VALUE) add(env, id);
    return out;
  }
}

/** What observe needs read from Nomad before the planner can decide. */
export interface ObserveNeeds {
  /** The full job, for the counts of autoscaled groups, because a register is likely. */
  fullJob: boolean;
  /** A plan diff, because the job moved past what Steward registered. */
  driftCheck: boolean;
}

/**
 * Builds the planner's snapshot for one key from the caches alone, and says
 * which reads (if any) would make it complete. An idle, in-sync key needs none.
 */
export function observeSync(cache: SyncCache, key: SyncKey): { snapshot: SyncSnapshot; needs: ObserveNeeds } {
  const k = syncKeyString(key);
  const desired = cache.revision?.jobs.get(key.env)?.get(key.jobId);
  const stub = cache.actual.get(key.env)?.get(key.jobId);
  const full = cache.fullJobs.get(k);
  const actual = stub ? toActual(stub, full && full.JobModifyIndex === stub.JobModifyIndex ? full : undefined) : undefined;
  const applied = cache.applied.get(k);
  const drift = cache.drift.get(k);
  const counts = cache.pruneCounts(key.env);
  // Built by assignment, not spreads: this runs for every key of every pass.
  const prune: SyncSnapshot["prune"] = { managedInEnv: counts.managed, candidatesInEnv: counts.candidates, override: cache.pruneOverride.has(key.env) };
  const absentSince = cache.absentSince.get(k);
  if (absentSince !== undefined) prune.absentSince = absentSince;
  const snapshot: SyncSnapshot = {
    env: key.env,
    jobId: key.jobId,
    prune,
    defaults: cache.revision?.state.syncDefaults ?? NO_PRUNE,
    paused: cache.paused.all || (desired !== undefined && cache.paused.services.has(desired.service)),
  };
  if (desired) snapshot.desired = desired;
  if (actual) snapshot.actual = actual;
  if (applied) snapshot.applied = applied;
  if (drift) snapshot.drift = drift;
  const frozen = cache.frozen.get(key.env);
  if (frozen) snapshot.frozen = frozen;
  const lastPolicy = cache.lastPolicy.get(k);
  if (lastPolicy) snapshot.lastPolicy = lastPolicy;
  if (cache.revision) snapshot.revision = cache.revision.state.revision;
  const movedOutside = applied !== undefined && stub !== undefined && applied.jobModifyIndex !== stub.JobModifyIndex;
  const hashDiffers = desired !== undefined && actual !== undefined && actual.meta["steward.spec-hash"] !== desired.specHash;
  const needs: ObserveNeeds = {
    fullJob: desired !== undefined && stub !== undefined && !stub.Stop && desired.scaledGroups.length > 0 && (hashDiffers || movedOutside) && !(full && full.JobModifyIndex === stub.JobModifyIndex),
    driftCheck: desired !== undefined && !desired.imagePending && movedOutside && !hashDiffers && !stub.Stop && drift?.atIndex !== stub.JobModifyIndex,
  };
  return { snapshot, needs };
}

/** The planner's view of a Nomad job, from its list stub (and the full job when read). */
export function toActual(stub: NomadJobStub, full?: NomadJob): ActualJob {
  const groupCounts: Record<string, number> = {};
  for (const g of full?.TaskGroups ?? []) groupCounts[g.Name] = g.Count;
  return {
    jobModifyIndex: stub.JobModifyIndex,
    version: stub.Version,
    stopped: stub.Stop,
    // Shared, not copied: the planner only reads it, and a new jobs list brings new stubs.
    meta: stub.Meta ?? NO_META,
    groupCounts,
  };
}

const NO_META: Record<string, string> = Object.freeze({});

/**
 * What one key's plan depends on, reduced to values (no reference to a stub,
 * spec or revision, so a kept fingerprint holds no old list or revision
 * alive). Two equal fingerprints give the same plan: the planner is pure.
 * Only the fields that can change the plan's outcome for this key are kept:
 * a desired job's plan does not read the environment's prune counts, an
 * absent job's plan does not read a desired spec.
 */
export interface SyncInputs {
  /** The environment is in the revision in force (a pass outside it plans nothing). */
  envKnown: boolean;
  paused: boolean;
  /** The environment's freeze (compared by its who, why and since: the Frozen message names them). */
  frozen: FreezeNote | undefined;
  // the desired job (undefined fields: not desired)
  specHash: string | undefined;
  imagePending: boolean;
  /** Its sync policy (compared by value). */
  policy: SyncPolicy | undefined;
  scaled: boolean;
  // the Nomad stub (jobModifyIndex -1: absent)
  jobModifyIndex: number;
  version: number;
  stopped: boolean;
  managedBy: string | undefined;
  stubSpecHash: string | undefined;
  stubPrune: string | undefined;
  // what Steward knows from earlier passes
  appliedIndex: number | undefined;
  appliedHash: string | undefined;
  /** The last drift comparison (an entry is replaced only when compared again). */
  drift: DriftCheck | undefined;
  /** The JobModifyIndex of the full job read for autoscaled counts, if any. */
  fullIndex: number | undefined;
  // an absent job's prune decision (fixed values for a desired job)
  absentSince: number | undefined;
  lastPolicy: SyncPolicy | undefined;
  defaults: SyncPolicy | undefined;
  managedInEnv: number;
  candidatesInEnv: number;
  override: boolean;
}

/**
 * The inputs of one key's plan as the caches hold them now (see `SyncInputs`). O(1); allocates one small object.
 * @param k the key's string form when the caller has it (a string already hashed makes the lookups cheaper)
 */
export function syncInputs(cache: SyncCache, key: SyncKey, envKnown: boolean, k = syncKeyString(key)): SyncInputs {
  const desired = cache.revision?.jobs.get(key.env)?.get(key.jobId);
  const stub = cache.actual.get(key.env)?.get(key.jobId);
  const applied = cache.applied.get(k);
  const meta = stub?.Meta;
  const absent = desired === undefined;
  const counts = absent ? cache.pruneCounts(key.env) : undefined;
  return {
    envKnown,
    frozen: cache.frozen.get(key.env),
    paused: cache.paused.all || (desired !== undefined && cache.paused.services.has(desired.service)),
    specHash: desired?.specHash,
    imagePending: desired?.imagePending === true,
    policy: desired?.policy,
    scaled: desired !== undefined && desired.scaledGroups.length > 0,
    jobModifyIndex: stub ? stub.JobModifyIndex : -1,
    version: stub ? stub.Version : -1,
    stopped: stub?.Stop === true,
    managedBy: meta?.[META.managedBy],
    stubSpecHash: meta?.[META.specHash],
    stubPrune: meta?.[META.prune],
    appliedIndex: applied?.jobModifyIndex,
    appliedHash: applied?.specHash,
    drift: cache.drift.get(k),
    fullIndex: cache.fullJobs.get(k)?.JobModifyIndex,
    absentSince: absent ? cache.absentSince.get(k) : undefined,
    lastPolicy: absent ? cache.lastPolicy.get(k) : undefined,
    defaults: absent ? cache.revision?.state.syncDefaults : undefined,
    managedInEnv: counts?.managed ?? 0,
    candidatesInEnv: counts?.candidates ?? 0,
    override: absent && cache.pruneOverride.has(key.env),
  };
}

/** True when two fingerprints would give the same plan. */
export function sameSyncInputs(a: SyncInputs, b: SyncInputs): boolean {
  return (
    a.envKnown === b.envKnown &&
    a.paused === b.paused &&
    sameFreeze(a.frozen, b.frozen) &&
    a.specHash === b.specHash &&
    a.imagePending === b.imagePending &&
    samePolicy(a.policy, b.policy) &&
    a.scaled === b.scaled &&
    a.jobModifyIndex === b.jobModifyIndex &&
    a.version === b.version &&
    a.stopped === b.stopped &&
    a.managedBy === b.managedBy &&
    a.stubSpecHash === b.stubSpecHash &&
    a.stubPrune === b.stubPrune &&
    a.appliedIndex === b.appliedIndex &&
    a.appliedHash === b.appliedHash &&
    a.drift === b.drift &&
    a.fullIndex === b.fullIndex &&
    a.absentSince === b.absentSince &&
    samePolicy(a.lastPolicy, b.lastPolicy) &&
    samePolicy(a.defaults, b.defaults) &&
    a.managedInEnv === b.managedInEnv &&
    a.candidatesInEnv === b.candidatesInEnv &&
    a.override === b.override
  );
}

function sameFreeze(a: FreezeNote | undefined, b: FreezeNote | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.by === b.by && a.reason === b.reason && a.at === b.at;
}

/** The same object (the usual case: an unchanged service keeps its policy across revisions), or equal fields. */
function samePolicy(a: SyncPolicy | undefined, b: SyncPolicy | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.drift === b.drift && a.adopt === b.adopt && a.prune === b.prune && a.pruneGracePeriodMs === b.pruneGracePeriodMs && a.maxPruneShare === b.maxPruneShare;
}

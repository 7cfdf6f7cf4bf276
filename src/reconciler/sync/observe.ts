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

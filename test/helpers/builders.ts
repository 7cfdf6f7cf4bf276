import type { SyncPolicy } from "../../src/model/types.js";
import { META, MANAGED_BY_VALUE, type ActualJob, type DesiredJob, type SyncSnapshot } from "../../src/reconciler/sync/plan.js";

/** Test data builders: a sensible default, overridden by the few fields a test is about. */
export const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

export function aPolicy(over: Partial<SyncPolicy> = {}): SyncPolicy {
  return { drift: "heal", adopt: false, prune: false, pruneGracePeriodMs: 300_000, maxPruneShare: 0.25, ...over };
}

export function aDesiredJob(over: Partial<DesiredJob> = {}): DesiredJob {
  return {
    service: "web",
    spec: {
      ID: "web",
      Name: "web",
      Type: "service",
      TaskGroups: [{ Name: "web", Count: 2, Tasks: [{ Name: "web", Driver: "docker", Config: { image: "r/web@sha256:aa" } }] }],
    },
    specHash: "hash-1",
    policy: aPolicy(),
    scaledGroups: [],
    ...over,
  };
}

export function anActualJob(over: Partial<ActualJob> & { managed?: boolean; hash?: string; prune?: boolean } = {}): ActualJob {
  const { managed = true, hash = "hash-1", prune, ...rest } = over;
  const meta: Record<string, string> = managed ? { [META.managedBy]: MANAGED_BY_VALUE, [META.specHash]: hash } : {};
  if (prune !== undefined) meta[META.prune] = String(prune);
  return { jobModifyIndex: 10, version: 1, stopped: false, meta, groupCounts: { web: 2 }, ...rest };
}

export function aSyncSnapshot(over: Partial<SyncSnapshot> = {}): SyncSnapshot {
  return {
    env: "qa",
    jobId: "web",
    prune: { managedInEnv: 10, candidatesInEnv: 1, override: false },
    defaults: aPolicy(),
    paused: false,
    ...over,
  };
}

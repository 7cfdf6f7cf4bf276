import type { KeyStatus } from "../reconciler/core/status.js";
import { describeFreeze, type FreezeNote } from "../reconciler/core/freeze.js";
import { findCondition } from "../reconciler/core/status.js";
import type { DesiredJob, DriftCheck, NomadJobSpec } from "../reconciler/sync/plan.js";
import { syncStateOf } from "../reconciler/sync/loop.js";
import type { NomadJob, NomadJobStub } from "../sources/nomad.js";
import type { LatestDeployment } from "../sources/nomad-deployments.js";
import type { LiveRecord } from "./live-hub.js";
import type { CellDeployment, SyncCell, SyncCellState } from "./live-types.js";

/** What one cell is computed from: the caches every instance keeps, and the leader's status of the key. */
export interface SyncCellInput {
  env: string;
  job: string;
  desired?: DesiredJob | undefined;
  /** The job's stub from the environment's jobs-list watch. */
  stub?: NomadJobStub | undefined;
  /** The full job, when the loop read it at the stub's JobModifyIndex. */
  full?: NomadJob | undefined;
  drift?: DriftCheck | undefined;
  /** What Steward last registered (JobModifyIndex), when known here. */
  appliedIndex?: number | undefined;
  /** The leader's status of the key; undefined on a standby or before the first pass. */
  status?: KeyStatus | undefined;
  paused: boolean;
  /**
   * The environment's deployments list as last read: `latest` is the job's
   * latest deployment (undefined when it has none); undefined itself while
   * the list was not read yet.
   */
  deployments?: { latest: LatestDeployment | undefined } | undefined;
  /** The environment's freeze (who, why), when it is frozen. */
  frozen?: FreezeNote | undefined;
}

const DIGEST = /@(sha256:[a-f0-9]{64})/;
const digests = new WeakMap<object, string | null>();

/** The first `@sha256:…` image digest of a job's tasks, or undefined. Memoized per spec object. */
export function digestOf(spec: NomadJobSpec | NomadJob | undefined): string | undefined {
  if (!spec) return undefined;
  const hit = digests.get(spec);
  if (hit !== undefined) return hit ?? undefined;
  let found: string | null = null;
  const groups = (spec as { TaskGroups?: unknown }).TaskGroups;
  for (const g of Array.isArray(groups) ? (groups as Array<{ Tasks?: unknown }>) : []) {
    for (const t of Array.isArray(g.Tasks) ? (g.Tasks as Array<{ Config?: { image?: unknown } }>) : []) {
      const m = typeof t.Config?.image === "string" ? DIGEST.exec(t.Config.image) : null;
      if (m?.[1]) {
        found = m[1];
        break;
      }
    }
    if (found) break;
  }
  digests.set(spec, found);
  return found ?? undefined;
}

/**
 * One overview cell, or undefined when the job is neither desired nor a
 * running job Steward manages (nothing to show). The leader's status decides
 * when there is one; the caches correct it when they have moved on since
 * that pass (a new revision not yet applied is out of sync, whatever the
 * last pass said), and stand in for it on a standby.
 */
export function syncCellOf(i: SyncCellInput): SyncCell | undefined {
  const stub = i.stub && !i.stub.Stop ? i.stub : undefined;
  const managed = stub?.Meta?.["steward.managed-by"] === "steward";
  if (!i.desired && !managed) return undefined;
  const service = i.desired?.service ?? stub?.Meta?.["steward.service"] ?? i.job;
  const wanted = i.desired && !i.desired.imagePending ? digestOf(i.desired.spec) : undefined;
  const hashMatches = i.desired !== undefined && stub?.Meta?.["steward.spec-hash"] === i.desired.specHash;
  const running = hashMatches ? wanted : i.full && stub && i.full.JobModifyIndex === stub.JobModifyIndex ? digestOf(i.full) : undefined;
  const movedOutside = stub !== undefined && i.appliedIndex !== undefined && i.appliedIndex !== stub.JobModifyIndex;
  const driftNow = movedOutside && i.drift?.drifted === true && i.drift.atIndex === stub.JobModifyIndex;
  const { state, reason, message } = cellState(i, { hashMatches, driftNow, stub });
  const ready = findCondition(i.status, "Ready");
  const cell: SyncCell = { key: `${i.env}/${i.job}`, env: i.env, job: i.job, service, state, fromLeader: i.status !== undefined };
  if (reason) cell.reason = reason;
  if (message) cell.message = message;
  if (i.status?.lastError && ready?.status !== "True") cell.error = i.status.lastError.message;
  if (running) cell.digest = running;
  if (wanted && wanted !== running) cell.desiredDigest = wanted;
  if (stub) cell.nomadStatus = stub.Status;
  const deployment = i.deployments && stub ? deploymentOf(i.deployments.latest) : undefined;
  if (deployment) cell.deployment = deployment;
  const revision = stub?.Meta?.["steward.revision"];
  if (revision) cell.revision = revision;
  if (i.status?.lastReconcileTime) cell.lastSync = i.status.lastReconcileTime;
  const a = i.status?.lastAction;
  if (a) cell.lastAction = { kind: a.kind, reason: a.reason, message: a.message ?? "", result: a.result, at: a.at };
  if (driftNow && i.drift?.fields.length) cell.driftFields = i.drift.fields;
  return cell;
}

/** A cell's deployment: Nomad's latest, or `none` for a job Nomad has no deployment of. */
export function deploymentOf(d: LatestDeployment | undefined): CellDeployment {
  if (!d) return { status: "none" };
  // Not the deployment's ID: 2,000 cells × 36 bytes in every snapshot, and the page never shows it.
  return { status: d.status, jobVersion: d.jobVersion, ...(d.description ? { description: d.description } : {}) };
}

function cellState(
  i: SyncCellInput,
  c: { hashMatches: boolean; driftNow: boolean; stub: NomadJobStub | undefined },
): { state: SyncCellState; reason?: string; message?: string } {
  if (i.paused) return { state: "paused", reason: "Paused", message: c.hashMatches ? "paused; in sync when paused" : "paused; changes are held until resumed" };
  if (i.frozen) {
    const drift = c.driftNow ? `; changed in Nomad outside Steward (${i.drift?.fields.join(", ") || "see the plan"}), not healed while frozen` : "";
    return { state: "frozen", reason: "Frozen", message: `${describeFreeze(i.env, i.frozen)}; ${c.hashMatches ? "in sync when frozen" : "changes are held until it is unfrozen"}${drift}` };
  }
  if (c.driftNow) return { state: "drifted", reason: "DriftDetected", message: `changed in Nomad outside Steward: ${i.drift?.fields.join(", ") || "see the plan"}` };
  const fromStatus = i.status ? syncStateOf(i.status) : undefined;
  const a = i.status?.lastAction;
  const ready = findCondition(i.status, "Ready");
  if (fromStatus === "error") return { state: "error", reason: ready?.reason ?? "Error", message: ready?.message ?? "the last pass failed" };
  if (fromStatus === "drifted") return { state: "drifted", reason: a?.reason ?? "DriftReported", message: a?.message ?? "" };
  // The caches moved on since the last pass (a new revision, a job gone): the pass's verdict is stale.
  if (i.desired && !i.desired.imagePending && !c.hashMatches) {
    return { state: "out_of_sync", reason: c.stub ? "SpecChanged" : "JobMissing", message: c.stub ? "the desired spec differs from the running job's" : "the job is not running in Nomad" };
  }
  if (!i.desired) return { state: "out_of_sync", reason: a?.reason ?? "NotDesired", message: a?.message ?? "the job left the desired state; it is pruned per the service's sync policy" };
  if (fromStatus === "out_of_sync") return { state: "out_of_sync", reason: a?.reason ?? ready?.reason ?? "", message: a?.message ?? ready?.message ?? "" };
  if (i.desired.imagePending) return { state: "out_of_sync", reason: "AwaitingImage", message: "no image digest is known for this environment yet" };
  const last = a && a.result === "changed" ? ` (Steward's last action: ${a.kind}, ${a.reason})` : "";
  return { state: "in_sync", reason: "InSync", message: `the running job carries the desired spec${last}` };
}

/**
 * The events a pass is worth in the stream: an action that changed
 * something, drift left in place, a new failure, a recovery. An idle pass
 * is worth none (a resync over 2,000 jobs must not flood the page).
 */
export function syncEventsOf(prev: KeyStatus | undefined, next: KeyStatus, service: string): LiveRecord[] {
  const slash = next.key.indexOf("/");
  const env = next.key.slice(0, slash);
  const base = { loop: "sync", key: next.key, env, service };
  const out: LiveRecord[] = [];
  const a = next.lastAction;
  const thisPass = a !== undefined && a.at === next.lastReconcileTime;
  if (thisPass && a.result === "changed") out.push({ ...base, kind: a.kind, reason: a.reason, message: `${next.key}: ${a.kind} (${a.reason}) ${a.message}` });
  if (thisPass && a.reason === "DriftReported" && prev?.lastAction?.reason !== "DriftReported") {
    out.push({ ...base, kind: "drift", reason: a.reason, level: "warn", message: `${next.key}: ${a.message}` });
  }
  const ready = findCondition(next, "Ready");
  const before = findCondition(prev, "Ready");
  if (ready?.status === "False" && (before?.status !== "False" || prev?.lastError?.message !== next.lastError?.message)) {
    out.push({ ...base, kind: "error", reason: ready.reason, level: ready.reason === "InvalidInput" ? "error" : "warn", message: `${next.key}: ${ready.message}` });
  }
  if (ready?.status === "True" && before?.status === "False") out.push({ ...base, kind: "recovered", reason: "Succeeded", message: `${next.key}: recovered` });
  return out;
}

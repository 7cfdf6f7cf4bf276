import { createHash } from "node:crypto";
import type { ServiceSpec } from "../../model/types.js";
import { META, MANAGED_BY_VALUE, type DesiredJob, type NomadJobSpec } from "./plan.js";

/**
 * Turns a job as the environment's Nomad parsed it into the job Steward
 * registers: Steward's Meta added (all but the revision, which the register
 * stamps), the hash of the normalized spec computed. Depends only on the
 * service and the parsed job, so an unchanged service renders to an equal job.
 * @param parsed the API job JSON from `/v1/jobs/parse` (not canonicalized)
 */
export function renderDesiredJob(
  service: ServiceSpec,
  parsed: NomadJobSpec,
  /** The hash and scaled groups of this very `parsed`, when already known (they depend on it alone). */
  known?: { specHash: string; scaledGroups: string[] },
): DesiredJob {
  const scaledGroups = known?.scaledGroups ?? scaledGroupNames(parsed);
  const specHash = known?.specHash ?? hashSpec(parsed, scaledGroups);
  const meta = { ...asStringRecord(parsed.Meta) };
  meta[META.managedBy] = MANAGED_BY_VALUE;
  meta[META.specHash] = specHash;
  meta[META.service] = service.name;
  meta[META.prune] = String(service.sync.prune);
  return { service: service.name, spec: { ...parsed, Meta: meta }, specHash, policy: service.sync, scaledGroups };
}

/** Task groups with a `Scaling` block: the Autoscaler owns their count. */
export function scaledGroupNames(spec: NomadJobSpec): string[] {
  const groups = Array.isArray(spec.TaskGroups) ? (spec.TaskGroups as unknown[]) : [];
  return groups
    .map((g) => g as Record<string, unknown>)
    .filter((g) => g.Scaling !== null && g.Scaling !== undefined && typeof g.Name === "string")
    .map((g) => g.Name as string);
}

/**
 * A stable hash of what the user asked for: keys sorted, Steward's own Meta
 * left out (it changes with every revision), and the counts of autoscaled
 * groups left out (they change without the user).
 */
export function hashSpec(spec: NomadJobSpec, scaledGroups: string[]): string {
  const meta = Object.fromEntries(Object.entries(asStringRecord(spec.Meta)).filter(([k]) => !k.startsWith("steward.")));
  const groups = Array.isArray(spec.TaskGroups)
    ? (spec.TaskGroups as Array<Record<string, unknown>>).map((g) =>
        scaledGroups.includes(String(g.Name)) ? { ...g, Count: null } : g,
      )
    : spec.TaskGroups;
  const normalized = { ...spec, Meta: Object.keys(meta).length ? meta : null, TaskGroups: groups };
  // The first 16 bytes as hex, made flat: `.digest("hex").slice(0, 32)` is a slice that keeps all 64 characters alive, per job.
  return createHash("sha256").update(canonicalJson(normalized)).digest().toString("hex", 0, 16);
}

/** JSON with object keys sorted at every level, so equal values hash equal. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
}

function asStringRecord(v: unknown): Record<string, string> {
  if (v === null || typeof v !== "object") return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

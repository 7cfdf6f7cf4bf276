import { sortKeys } from "./canonicalize.js";
import type { AllocRec, Job, TaskGroup } from "./types.js";

/** Description texts the real scheduler writes on allocations and evals (scheduler/reconcile*.go). */
export const DESC = {
  notNeeded: "alloc not needed due to job update",
  migrating: "alloc is being migrated",
  updating: "alloc is being updated due to job update",
  lost: "alloc is lost since its node is down",
  unknown: "alloc is unknown since its node is disconnected",
  rescheduled: "alloc was rescheduled because it failed",
  reconnected: "alloc not needed due to disconnected client reconnect",
  nodeTainted: "alloc not needed as node is tainted",
  stoppedByUser: "alloc was stopped by the user",
  blockedEval: "created to place remaining allocations",
  followupEval: "created for delayed rescheduling",
} as const;

/** The index in an allocation name `job.group[3]`. */
export function nameIndex(name: string): number {
  const m = /\[(\d+)\]$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** The name Nomad gives an allocation: `job.group[index]`. */
export function allocName(jobID: string, group: string, index: number): string {
  return `${jobID}.${group}[${index}]`;
}

/** A job's task group by name. */
export function findGroup(job: Job | undefined, name: string): TaskGroup | undefined {
  return job?.TaskGroups.find((g) => g.Name === name);
}

const destructiveKeys = new WeakMap<Job, Map<string, string>>();

/**
 * What of a group forces a destructive update when it changes (Nomad's
 * tasksUpdated): drivers, configs, env, resources, networks, artifacts,
 * templates, and the combined job+group+task meta. Services and checks
 * change in place.
 */
export function destructiveKey(job: Job, group: string): string {
  let perJob = destructiveKeys.get(job);
  if (!perJob) {
    perJob = new Map();
    destructiveKeys.set(job, perJob);
  }
  const cached = perJob.get(group);
  if (cached !== undefined) return cached;
  const g = findGroup(job, group);
  const key = g
    ? JSON.stringify(
        sortKeys({
          networks: g.Networks,
          disk: g.EphemeralDisk,
          volumes: g.Volumes ?? null,
          tasks: g.Tasks.map((t) => ({
            name: t.Name,
            driver: t.Driver,
            user: t.User,
            config: t.Config,
            env: t.Env,
            artifacts: t.Artifacts ?? null,
            templates: t.Templates ?? null,
            vault: t.Vault ?? null,
            lifecycle: t.Lifecycle ?? null,
            resources: { cpu: t.Resources.CPU, cores: t.Resources.Cores, mem: t.Resources.MemoryMB, max: t.Resources.MemoryMaxMB, nets: t.Resources.Networks },
            meta: { ...(job.Meta ?? {}), ...(g.Meta ?? {}), ...(t.Meta ?? {}) },
          })),
        }),
      )
    : "";
  perJob.set(group, key);
  return key;
}

/** True when moving `a` to `job`'s version needs a new allocation. */
export function needsDestructiveUpdate(a: AllocRec, job: Job): boolean {
  return destructiveKey(a.job, a.TaskGroup) !== destructiveKey(job, a.TaskGroup);
}

/** Resources one allocation of a group asks for. */
export function groupAsk(g: TaskGroup): { cpu: number; memoryMB: number; diskMB: number; staticPorts: number[] } {
  let cpu = 0;
  let memoryMB = 0;
  const staticPorts: number[] = [];
  for (const t of g.Tasks) {
    cpu += t.Resources.CPU || 0;
    memoryMB += t.Resources.MemoryMB || 0;
    for (const n of t.Resources.Networks ?? []) for (const p of n.ReservedPorts ?? []) staticPorts.push(p.Value);
  }
  for (const n of g.Networks ?? []) for (const p of n.ReservedPorts ?? []) staticPorts.push(p.Value);
  const diskMB = typeof g.EphemeralDisk.SizeMB === "number" ? g.EphemeralDisk.SizeMB : 300;
  return { cpu, memoryMB, diskMB, staticPorts };
}

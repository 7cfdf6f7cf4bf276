import { canonicalizeJob } from "./canonicalize.js";
import type { NomadCore } from "./core.js";
import { groupAsk } from "./alloc-util.js";
import { jobKey } from "./store.js";
import { taskEvent } from "./task-events.js";
import type { AllocRec, DeploymentRec, Job, NodeRec } from "./types.js";
import { ZERO_TIME } from "./types.js";

/** What seedJobs registers. */
export interface SeedJobsOptions {
  /** Job IDs are `${prefix}-${i}`. @default "bench" */
  prefix?: string;
  /** Allocations per job. @default 1 */
  count?: number;
  /** @default "default" */
  namespace?: string;
  /** Image of the seeded task. @default "registry.local/bench/app:1" */
  image?: string;
}

/** Where seedNodes puts its machines. */
export interface SeedNodesOptions {
  prefix?: string;
  datacenter?: string;
  nodePool?: string;
}

/**
 * Adds `n` machines of this cluster to the world and makes their nodes ready
 * at once (no initializing delay, no evaluations): the benchmark's fleet.
 */
export function seedNodes(core: NomadCore, n: number, opts: SeedNodesOptions = {}): NodeRec[] {
  const out: NodeRec[] = [];
  const prefix = opts.prefix ?? `${core.cfg.name}-bench`;
  const start = core.store.nodes.size;
  for (let i = 0; i < n; i++) {
    const m = core.ctx.world.addMachine({ cluster: core.cfg.name, name: `${prefix}-${start + i}`, datacenter: opts.datacenter ?? core.cfg.datacenters[0] ?? "dc1", nodePool: opts.nodePool ?? "default" });
    const node = core.store.nodes.get(m.id);
    if (node) out.push(node);
  }
  const idx = core.store.write("nodes");
  for (const node of out) {
    node.Status = "ready";
    node.ModifyIndex = idx;
  }
  return out;
}

/**
 * Registers `n` running service jobs in one write, each with `count` running,
 * healthy allocations spread round-robin over the ready nodes and a
 * successful deployment, as if the cluster had been running for a while.
 * Jobs share their (immutable) task groups, so 10 000 jobs stay small.
 */
export function seedJobs(core: NomadCore, n: number, opts: SeedJobsOptions = {}): Job[] {
  const store = core.store;
  const count = opts.count ?? 1;
  const namespace = opts.namespace ?? "default";
  const template = canonicalizeJob(
    {
      ID: "bench",
      Datacenters: core.cfg.datacenters,
      TaskGroups: [{ Name: "app", Count: count, Tasks: [{ Name: "app", Driver: "docker", Config: { image: opts.image ?? "registry.local/bench/app:1" }, Resources: { CPU: 20, MemoryMB: 32 } }] }],
    },
    { namespace, region: core.cfg.region },
  );
  const nodes = [...store.nodes.values()].filter((x) => x.Status === "ready");
  const idx = store.write("jobs", "job_version", "job_summary", "allocs", "deployment");
  const now = core.nowNs();
  const rfc = core.nowRfc();
  const group = template.TaskGroups[0];
  if (!group) return [];
  const ask = groupAsk(group);
  const jobs: Job[] = [];
  let k = 0;
  const prefix = opts.prefix ?? "bench";
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const job: Job = { ...template, ID: id, Name: id, Status: "running", Stable: true, Version: 0, CreateIndex: idx, ModifyIndex: idx, JobModifyIndex: idx, SubmitTime: now };
    const key = jobKey(namespace, id);
    store.jobs.set(key, { key, current: job, versions: [job], summaryIndex: idx, summaryCreateIndex: idx });
    const d: DeploymentRec = {
      ID: core.uuid(),
      Namespace: namespace,
      JobID: id,
      JobVersion: 0,
      JobModifyIndex: idx,
      JobSpecModifyIndex: idx,
      JobCreateIndex: idx,
      IsMultiregion: false,
      TaskGroups: { app: { AutoRevert: false, AutoPromote: false, ProgressDeadline: 600e9, RequireProgressBy: rfc, Promoted: false, PlacedCanaries: null, DesiredCanaries: 0, DesiredTotal: count, PlacedAllocs: count, HealthyAllocs: count, UnhealthyAllocs: 0 } },
      Status: "successful",
      StatusDescription: "Deployment completed successfully",
      EvalPriority: 50,
      CreateIndex: idx,
      ModifyIndex: idx,
      CreateTime: now,
      ModifyTime: now,
    };
    store.putDeployment(d);
    for (let c = 0; c < count && nodes.length; c++) {
      const node = nodes[k++ % nodes.length] as NodeRec;
      const alloc: AllocRec = {
        ID: core.uuid(),
        Namespace: namespace,
        EvalID: "",
        Name: `${id}.app[${c}]`,
        NodeID: node.ID,
        NodeName: node.Name,
        JobID: id,
        job,
        TaskGroup: "app",
        DesiredStatus: "run",
        DesiredDescription: "",
        DesiredTransition: { Migrate: null, Reschedule: null, ForceReschedule: null },
        ClientStatus: "running",
        ClientDescription: "Tasks are running",
        TaskStates: { app: { State: "running", Failed: false, Restarts: 0, LastRestart: ZERO_TIME, StartedAt: rfc, FinishedAt: ZERO_TIME, Events: [taskEvent(now, "Started", "Task started by client")] } },
        DeploymentID: d.ID,
        DeploymentStatus: { Healthy: true, Timestamp: rfc, Canary: false, ModifyIndex: idx },
        PreviousAllocation: "",
        NextAllocation: "",
        FollowupEvalID: "",
        RescheduleEvents: null,
        networks: [],
        taskNetworks: {},
        resources: ask,
        Metrics: {},
        CreateIndex: idx,
        ModifyIndex: idx,
        AllocModifyIndex: idx,
        CreateTime: now,
        ModifyTime: now,
      };
      store.putAlloc(alloc);
    }
    jobs.push(job);
  }
  return jobs;
}

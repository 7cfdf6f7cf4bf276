import { Router } from "../core/http.js";
import type { SimContext } from "../core/context.js";
import type { JobParser } from "./parse/index.js";
import { addAllocEvalRoutes } from "./allocs-api.js";
import { ClientSim } from "./client.js";
import { NomadCore } from "./core.js";
import { DeploymentWatcher } from "./deployments.js";
import { addDeploymentRoutes } from "./deployments-api.js";
import { ERR, textError } from "./errors.js";
import { GC_INTERVAL_MS, collectGarbage } from "./gc.js";
import { addJobRoutes } from "./jobs-api.js";
import { NodeManager } from "./nodes.js";
import { addNodeRoutes } from "./nodes-api.js";
import { Scheduler } from "./scheduler.js";
import { seedJobs, seedNodes, type SeedJobsOptions, type SeedNodesOptions } from "./seed.js";
import { addOperatorRoutes, clusterQuorum } from "./operator-api.js";
import type { ServerQuorum } from "../core/server-quorum.js";
import type { Job, NodeRec } from "./types.js";
import { allocTerminal } from "./types.js";

/** How sim/index.ts configures one cluster; the optional timings default to realistic values. */
export interface NomadClusterOptions {
  name: string;
  region: string;
  datacenters: string[];
  /** Parses `/v1/jobs/parse` bodies (HCL2). */
  parser: JobParser;
  /** Sim ms after which a started allocation of a deployment reports healthy. */
  healthyAfterMs: number;
  /** When set, every API call but /v1/status/* needs `X-Nomad-Token` equal to it. */
  aclToken?: string;
  /** Sim ms without heartbeats before a node is down. @default 10000 */
  heartbeatTtlMs?: number;
  /** Sim ms a new client stays `initializing`. @default 500 */
  nodeReadyAfterMs?: number;
  /** Sim ms from placement to running tasks. @default 300 */
  allocStartMs?: number;
  /** Sim ms a batch task runs (task meta `sim_run_ms` overrides). @default 1000 */
  batchRunMs?: number;
  /** Sim ms after which terminal evaluations, allocations and deployments are collected. @default 3600000 (eval_gc_threshold) */
  gcThresholdMs?: number;
}

/** Counts for tests and benchmarks. */
export interface NomadClusterStats {
  jobs: number;
  nodes: number;
  readyNodes: number;
  allocs: number;
  runningAllocs: number;
  evals: number;
  blockedEvals: number;
  deployments: number;
  index: number;
  waiters: number;
}

/**
 * One emulated Nomad cluster (one region, one server) on its own port: the
 * HTTP API in `router`, client nodes from the world's machines of this
 * cluster, a scheduler, a deployment watcher and client-side allocation
 * lifecycles on the sim clock. See sim/nomad/README.md.
 */
export class NomadCluster {
  readonly router: Router;
  private readonly core: NomadCore;
  private readonly quorum: ServerQuorum;

  constructor(ctx: SimContext, opts: NomadClusterOptions) {
    const healthy = opts.healthyAfterMs;
    this.core = new NomadCore(
      ctx,
      {
        name: opts.name,
        region: opts.region,
        datacenters: opts.datacenters,
        healthyAfterMs: healthy,
        heartbeatTtlMs: opts.heartbeatTtlMs ?? 10_000,
        aclToken: opts.aclToken,
        nodeReadyAfterMs: opts.nodeReadyAfterMs ?? 500,
        allocStartMs: opts.allocStartMs ?? Math.min(300, Math.max(1, healthy / 4)),
        batchRunMs: opts.batchRunMs ?? 1000,
        killMs: 200,
      },
      opts.parser,
    );
    const core = this.core;
    core.scheduler = new Scheduler(core);
    core.client = new ClientSim(core);
    core.deployments = new DeploymentWatcher(core);
    core.nodes = new NodeManager(core);

    this.router = new Router({
      notFound: () => ({ status: 404 }),
      methodNotAllowed: () => textError(405, ERR.invalidMethod),
    });
    this.quorum = clusterQuorum(core);
    addOperatorRoutes(core, this.router, this.quorum);
    addJobRoutes(core, this.router);
    addNodeRoutes(core, this.router);
    addAllocEvalRoutes(core, this.router);
    addDeploymentRoutes(core, this.router);

    const gcAfter = opts.gcThresholdMs ?? 3_600_000;
    const gc = (): void => {
      collectGarbage(core, gcAfter);
      core.timers.after(GC_INTERVAL_MS, gc);
    };
    core.timers.after(GC_INTERVAL_MS, gc);
  }

  get name(): string {
    return this.core.cfg.name;
  }

  /** Allocations running this image (`sha256:…` or `repo@sha256:…`) never become healthy; batch tasks fail. */
  markImageUnhealthy(digest: string): void {
    this.core.unhealthyImages.add(digestOf(digest));
  }

  clearImageUnhealthy(digest: string): void {
    this.core.unhealthyImages.delete(digestOf(digest));
  }

  /** Allocations of this job version never become healthy. */
  markVersionUnhealthy(jobId: string, version: number): void {
    this.core.unhealthyVersions.add(`${jobId}@${version}`);
  }

  clearVersionUnhealthy(jobId: string, version: number): void {
    this.core.unhealthyVersions.delete(`${jobId}@${version}`);
  }

  /** Cancels this cluster's timers and stops listening to the world. */
  close(): void {
    this.core.closed = true;
    this.core.timers.cancelAll();
    this.core.nodes.close();
    this.quorum.close();
  }

  /** The current version of a job, as GET /v1/job/:id would return it. */
  job(id: string, namespace = "default"): Job | undefined {
    return this.core.store.job(namespace, id)?.current;
  }

  /** A node record (status, eligibility, drain) for assertions. */
  node(id: string): Readonly<NodeRec> | undefined {
    return this.core.store.nodes.get(id);
  }

  stats(): NomadClusterStats {
    const s = this.core.store;
    let running = 0;
    for (const a of s.allocs.values()) if (!allocTerminal(a) && a.ClientStatus === "running") running++;
    let ready = 0;
    for (const n of s.nodes.values()) if (n.Status === "ready") ready++;
    return {
      jobs: s.jobs.size,
      nodes: s.nodes.size,
      readyNodes: ready,
      allocs: s.allocs.size,
      runningAllocs: running,
      evals: s.evals.size,
      blockedEvals: this.core.scheduler.blockedCount,
      deployments: s.deployments.size,
      index: s.index,
      waiters: s.notifier.waiting,
    };
  }

  /** Adds `n` ready nodes to this cluster at once (benchmarks). */
  seedNodes(n: number, opts?: SeedNodesOptions): number {
    return seedNodes(this.core, n, opts).length;
  }

  /** Registers `n` running jobs with healthy allocations in one write (benchmarks). */
  seedJobs(n: number, opts?: SeedJobsOptions): number {
    return seedJobs(this.core, n, opts).length;
  }
}

/** `repo@sha256:abc` → `sha256:abc`. */
function digestOf(d: string): string {
  const at = d.lastIndexOf("@");
  return at >= 0 ? d.slice(at + 1) : d;
}

import { randomUUID } from "node:crypto";
import type { SimContext } from "../core/context.js";
import type { SimTimer } from "../core/clock.js";
import type { JobParser } from "./parse/index.js";
import { NomadStore } from "./store.js";
import { ListCache } from "./query.js";
import type { Job, Task } from "./types.js";
import type { Scheduler } from "./scheduler.js";
import type { ClientSim } from "./client.js";
import type { DeploymentWatcher } from "./deployments.js";
import type { NodeManager } from "./nodes.js";

/** Settings of one emulated cluster (NomadClusterOptions with defaults applied). */
export interface ClusterConfig {
  name: string;
  region: string;
  datacenters: string[];
  healthyAfterMs: number;
  heartbeatTtlMs: number;
  aclToken: string | undefined;
  /** Sim ms a new client spends `initializing` before it is `ready`. */
  nodeReadyAfterMs: number;
  /** Sim ms from placement to running tasks (image pull, task setup). */
  allocStartMs: number;
  /** Sim ms a batch task runs unless its meta says `sim_run_ms`. */
  batchRunMs: number;
  /** Sim ms from a stop to the tasks being dead. */
  killMs: number;
}

/** Sim timers of one cluster, so `close()` can cancel exactly those. */
export class Timers {
  private readonly live = new Set<SimTimer>();

  constructor(private readonly ctx: SimContext) {}

  /** Runs `fn` after `simMs` sim milliseconds; background timers never hold the process. */
  after(simMs: number, fn: () => void): SimTimer {
    const t = this.ctx.clock.setTimeout(
      () => {
        this.live.delete(t);
        fn();
      },
      simMs,
      { unref: true },
    );
    this.live.add(t);
    return t;
  }

  cancel(t: SimTimer | undefined): void {
    if (!t) return;
    t.cancel();
    this.live.delete(t);
  }

  cancelAll(): void {
    for (const t of this.live) t.cancel();
    this.live.clear();
  }
}

/**
 * What every part of the emulated server shares: the store, the clock, the
 * health switches, and the parts themselves (wired by NomadCluster).
 */
export class NomadCore {
  readonly store = new NomadStore();
  readonly timers: Timers;
  readonly listCache = new ListCache();
  /** Digests (`sha256:...`) whose tasks never become healthy. */
  readonly unhealthyImages = new Set<string>();
  /** `${jobID}@${version}` pairs whose allocations never become healthy. */
  readonly unhealthyVersions = new Set<string>();
  closed = false;

  scheduler!: Scheduler;
  client!: ClientSim;
  deployments!: DeploymentWatcher;
  nodes!: NodeManager;

  constructor(
    readonly ctx: SimContext,
    readonly cfg: ClusterConfig,
    readonly parser: JobParser,
  ) {
    this.timers = new Timers(ctx);
  }

  nowMs(): number {
    return this.ctx.clock.now();
  }

  /** Sim time in Unix nanoseconds, as a JSON number (Nomad's CreateTime etc.). */
  nowNs(): number {
    return Math.floor(this.ctx.clock.now()) * 1e6;
  }

  /** Sim time as RFC 3339, as Go's time.Time marshals. */
  nowRfc(): string {
    return new Date(this.ctx.clock.now()).toISOString();
  }

  uuid(): string {
    return randomUUID();
  }

  /** True when the job version or one of the task images was marked unhealthy. */
  isUnhealthy(job: Job, tasks: readonly Task[]): boolean {
    if (this.unhealthyVersions.has(`${job.ID}@${job.Version}`)) return true;
    if (this.unhealthyImages.size === 0) return false;
    return tasks.some((t) => {
      const image = t.Config?.image;
      if (typeof image !== "string") return false;
      for (const d of this.unhealthyImages) if (image.includes(d)) return true;
      return false;
    });
  }
}

import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import type { NomadAllocStub, NomadDeployment, NomadJob, NomadReader } from "../../sources/nomad.js";
import { Watch, type WatchQuery, type WatchResponse } from "../../sources/watch.js";
import type { DeploymentObservation, StageObservation } from "./plan.js";

/** Options of a StageWatcher. */
export interface StageWatcherOptions {
  reader: NomadReader;
  env: string;
  service: string;
  jobId: string;
  /** Server-side wait of each blocking query (ms). */
  waitMs: number;
  logger: Logger;
  metrics?: StewardMetrics;
  /** Epoch ms. */
  now: () => number;
  /** Called after any of the three answers changed the observation. */
  onChange: () => void;
}

const DEPLOYMENT_STATUSES = new Set<DeploymentObservation["status"]>(["pending", "running", "paused", "blocked", "successful", "failed", "cancelled"]);

/**
 * Watches one service's job in one stage (environment) with three Nomad
 * blocking queries: the job (its images, version, auto_revert), its
 * deployments, and its allocations (failed ones, for the soak gate). Only
 * reads. Times are the watcher's own clock: an allocation failure is dated
 * when it is first seen (Nomad's and Steward's clocks need not agree); the
 * ones already failed at the first listing are dated 0, i.e. before any gate.
 */
export class StageWatcher {
  private job: NomadJob | undefined;
  private deployments: NomadDeployment[] = [];
  private readonly failedAllocs = new Map<string, number>();
  private allocsListed = false;
  private readonly watches: Array<Watch<unknown>> = [];
  private readonly health = new Map<string, { ok: boolean; lastOkAt: number }>();

  constructor(private readonly o: StageWatcherOptions) {
    const { reader, jobId, waitMs } = o;
    this.watches.push(
      this.watch<NomadJob | undefined>("nomad-job", (i, s) => reader.watchJob(jobId, i, waitMs, s), (job) => (this.job = job)),
      this.watch<NomadDeployment[]>("nomad-deployments", (i, s) => reader.watchDeployments(jobId, i, waitMs, s), (d) => (this.deployments = d)),
      this.watch<NomadAllocStub[]>("nomad-allocations", (i, s) => reader.watchAllocations(jobId, i, waitMs, s), (a) => this.onAllocs(a)),
    );
  }

  start(): void {
    for (const w of this.watches) w.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.stop()));
  }

  /** Every query answered at least once. */
  async whenSynced(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.whenSynced()));
  }

  /**
   * When the observation was last known current (epoch ms): now while every
   * query's last call succeeded (a blocking query in flight answers at the
   * first change), else the oldest last success (0 before any).
   */
  freshAt(now: number): number {
    let at = now;
    for (const name of ["nomad-job", "nomad-deployments", "nomad-allocations"]) {
      const h = this.health.get(name);
      if (!h) return 0;
      if (!h.ok) at = Math.min(at, h.lastOkAt);
    }
    return at;
  }

  /** The stage as last seen (gates are filled in by the loop). */
  observation(): StageObservation {
    const job = this.job && !this.job.Stop ? this.job : undefined;
    return {
      ...(job && { job: { images: imagesOf(job), version: job.Version, autoRevert: autoRevertOf(job) } }),
      deployments: this.deployments.flatMap((d) =>
        DEPLOYMENT_STATUSES.has(d.Status as DeploymentObservation["status"]) ? [{ jobVersion: d.JobVersion, status: d.Status as DeploymentObservation["status"] }] : [],
      ),
      allocFailures: [...this.failedAllocs.values()],
      gates: {},
    };
  }

  private onAllocs(allocs: NomadAllocStub[]): void {
    const at = this.allocsListed ? this.o.now() : 0;
    for (const a of allocs) {
      const failed = a.ClientStatus === "failed" || a.DeploymentStatus?.Healthy === false;
      if (failed && !this.failedAllocs.has(a.ID)) this.failedAllocs.set(a.ID, at);
    }
    // Bounded: only allocations Nomad still lists are remembered.
    const listed = new Set(allocs.map((a) => a.ID));
    for (const id of this.failedAllocs.keys()) if (!listed.has(id)) this.failedAllocs.delete(id);
    this.allocsListed = true;
  }

  private watch<T>(name: string, fetch: (index: number, signal: AbortSignal) => Promise<WatchResponse<T>>, apply: (data: T) => void): Watch<unknown> {
    const query: WatchQuery<T> = {
      name,
      fetch: async (index, signal) => {
        try {
          const res = await fetch(index, signal);
          this.health.set(name, { ok: true, lastOkAt: this.o.now() });
          return res;
        } catch (err) {
          const h = this.health.get(name);
          if (h) h.ok = false;
          throw err;
        }
      },
    };
    return new Watch<T>({
      query,
      onChange: (data) => {
        apply(data);
        this.o.onChange();
      },
      logger: this.o.logger,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
    }) as Watch<unknown>;
  }
}

interface TaskLike {
  Config?: { image?: unknown } | null;
}
interface GroupLike {
  Tasks?: TaskLike[] | null;
  Update?: { AutoRevert?: boolean } | null;
}

/** Every task's `config.image` of the job. */
export function imagesOf(job: NomadJob): string[] {
  const groups = (job.TaskGroups ?? []) as GroupLike[];
  return groups.flatMap((g) => (g.Tasks ?? []).flatMap((t) => (typeof t.Config?.image === "string" ? [t.Config.image] : [])));
}

/** Every task group reverts a failed deployment itself (`update { auto_revert = true }`). */
export function autoRevertOf(job: NomadJob): boolean {
  const groups = (job.TaskGroups ?? []) as GroupLike[];
  return groups.length > 0 && groups.every((g) => g.Update?.AutoRevert === true);
}

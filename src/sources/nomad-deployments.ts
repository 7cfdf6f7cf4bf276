import { DEPLOYMENTS_WATCH_MIN_INTERVAL_MS, WATCH_BLOCKING_WAIT_MS } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { StewardMetrics } from "../metrics.js";
import type { EnvironmentSpec } from "../model/types.js";
import type { NomadDeploymentStub, NomadReader } from "./nomad.js";
import { Watch } from "./watch.js";

/** A job's latest deployment, as the overview shows it. */
export interface LatestDeployment {
  id: string;
  jobVersion: number;
  /** Nomad's deployment status: `running`, `successful`, `failed`, `cancelled`, `paused`, `blocked`, `pending`, … */
  status: string;
  /** Nomad's StatusDescription ("Deployment completed successfully", "Failed due to progress deadline", …); "" when none. */
  description: string;
  /** The deployment's CreateIndex: the latest per job is the highest. */
  createIndex: number;
}

/**
 * The latest deployment of every job ID in a list (the highest CreateIndex,
 * as Nomad's `/v1/job/:id/deployment` picks it), with only the fields shown.
 */
export function latestByJob(list: readonly NomadDeploymentStub[]): Map<string, LatestDeployment> {
  const out = new Map<string, LatestDeployment>();
  for (const d of list) {
    const known = out.get(d.JobID);
    if (known && known.createIndex >= d.CreateIndex) continue;
    out.set(d.JobID, { id: d.ID, jobVersion: d.JobVersion, status: d.Status, description: d.StatusDescription, createIndex: d.CreateIndex });
  }
  return out;
}

/** The job IDs whose latest deployment differs between two maps (new, changed or gone). */
export function changedJobs(before: ReadonlyMap<string, LatestDeployment>, after: ReadonlyMap<string, LatestDeployment>): string[] {
  const out: string[] = [];
  for (const [job, d] of after) {
    const b = before.get(job);
    if (!b || b.id !== d.id || b.status !== d.status || b.description !== d.description) out.push(job);
  }
  for (const job of before.keys()) if (!after.has(job)) out.push(job);
  return out;
}

/** Options of a `NomadDeploymentsWatch`. Durations in milliseconds. */
export interface NomadDeploymentsWatchOptions {
  /** The reader of an environment's Nomad (sync's, shared). */
  reader: (env: EnvironmentSpec) => Pick<NomadReader, "listDeployments">;
  /** Called after a new list of `env` with the job IDs whose latest deployment changed (all of them on the first list). */
  onChange: (env: string, jobIds: string[]) => void;
  /** Server-side wait of the blocking query. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
  /** Least time between two reads of one environment. @default DEPLOYMENTS_WATCH_MIN_INTERVAL_MS (1 s) */
  minIntervalMs?: number;
  logger?: Logger;
  metrics?: StewardMetrics;
}

/**
 * One blocking watch per environment on `GET /v1/deployments` (the
 * environment's namespace), kept as the latest deployment per job ID. The
 * body is parsed only when X-Nomad-Index moved; only the jobs whose latest
 * deployment changed are reported. Reads only; every instance runs it, so a
 * standby's overview has the deployments too.
 */
export class NomadDeploymentsWatch {
  private readonly watches = new Map<string, { fingerprint: string; watch: Watch<NomadDeploymentStub[]> }>();
  private readonly latest = new Map<string, Map<string, LatestDeployment>>();
  private stopped = false;

  constructor(private readonly o: NomadDeploymentsWatchOptions) {}

  /**
   * Watches exactly these environments: starts the new ones, stops the ones
   * gone, and restarts one whose Nomad address, region, namespace or token
   * source changed (its old deployments are forgotten).
   */
  ensure(envs: readonly EnvironmentSpec[]): void {
    if (this.stopped) return;
    const wanted = new Set(envs.map((e) => e.name));
    for (const [name, w] of this.watches) {
      if (wanted.has(name)) continue;
      void w.watch.stop();
      this.watches.delete(name);
      this.forget(name);
    }
    for (const env of envs) {
      const fingerprint = JSON.stringify(env.nomad);
      const known = this.watches.get(env.name);
      if (known?.fingerprint === fingerprint) continue;
      if (known) {
        void known.watch.stop();
        this.forget(env.name);
      }
      const reader = this.o.reader(env);
      const waitMs = this.o.waitMs ?? WATCH_BLOCKING_WAIT_MS;
      const watch: Watch<NomadDeploymentStub[]> = new Watch<NomadDeploymentStub[]>({
        query: {
          name: "nomad-deployments",
          fetch: async (index, signal) => {
            const r = await reader.listDeployments(index, waitMs, signal);
            // No data means the index did not move: the watch drops such an answer without looking at it.
            return { index: r.index, data: r.data ?? [] };
          },
        },
        // A replaced watch's last answer (the old address) must not land.
        onChange: (list): void => {
          if (this.watches.get(env.name)?.watch === watch) this.onList(env.name, list);
        },
        // onList compares job by job; a deep comparison of the whole list first would double the work.
        equal: () => false,
        minIntervalMs: this.o.minIntervalMs ?? DEPLOYMENTS_WATCH_MIN_INTERVAL_MS,
        ...(this.o.logger ? { logger: this.o.logger } : {}),
        ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      });
      this.watches.set(env.name, { fingerprint, watch });
      watch.start();
    }
  }

  /** The job's latest deployment in `env`; undefined when it has none (or the list was not read yet: see `synced`). */
  latestOf(env: string, jobId: string): LatestDeployment | undefined {
    return this.latest.get(env)?.get(jobId);
  }

  /** True once `env`'s list was read. */
  synced(env: string): boolean {
    return this.latest.has(env);
  }

  /** Stops every watch; resolves when they have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.watches.values()].map((w) => w.watch.stop()));
    this.watches.clear();
  }

  private onList(env: string, list: NomadDeploymentStub[]): void {
    const before = this.latest.get(env) ?? new Map<string, LatestDeployment>();
    const after = latestByJob(list);
    this.latest.set(env, after);
    const changed = changedJobs(before, after);
    if (changed.length) this.o.onChange(env, changed);
  }

  private forget(env: string): void {
    const before = this.latest.get(env);
    this.latest.delete(env);
    if (before?.size) this.o.onChange(env, [...before.keys()]);
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ACTION_RESULTS, COUNTED_ERROR_KINDS, OUTCOME_RESULTS } from "./reconciler/core/outcome.js";

/**
 * Steward's metrics, named after controller-runtime's set (STYLE 4.3). Labels
 * are bounded: loop names, result and error kinds, action kinds of each
 * loop's closed union, source and target names, HTTP status codes. No
 * per-job label here: per-key detail lives in status and logs.
 */
export interface StewardMetrics {
  registry: Registry;
  /** Passes by outcome (`done`, `requeue`, `retry`, `stalled`). */
  reconcileTotal: Counter<"loop" | "result">;
  /** Failed passes by error kind; waiting and conflict are not failures and are not counted. */
  reconcileErrorsTotal: Counter<"loop" | "kind">;
  /** Wall time of one pass, in seconds. */
  reconcileDuration: Histogram<"loop">;
  /** Actions by kind and result (`changed`, `unchanged`, `failed`, `skipped`). */
  actionsTotal: Counter<"loop" | "kind" | "result">;
  /** Keys ready for a worker, per loop. */
  queueDepth: Gauge<"loop">;
  /** Failed watch or list calls, per source. */
  sourceErrorsTotal: Counter<"source">;
  /** HTTP attempts by target (`nomad`, `consul`, …) and status code (or `timeout`, `network`). */
  apiRequestsTotal: Counter<"target" | "code">;
  /** Wall time of one HTTP attempt, in seconds (blocking queries included, so buckets reach 5 min). */
  apiRequestDuration: Histogram<"target">;
  /** 1 while this instance holds the leader lock, else 0. */
  leader: Gauge;
  /** Always 1; the labels say which build runs. */
  buildInfo: Gauge<"version" | "node_version">;
  /** Jobs per environment by sync state (`in_sync`, `out_of_sync`, `drifted`, `error`), as of each job's last pass. */
  syncJobs: Gauge<"env" | "state">;
  /** 1 when the latest revision of the desired state was valid, 0 while a refused one is newer than the one in force. */
  desiredStateValid: Gauge;
  /** Always 1, labelled with the revision in force (one series at a time). */
  desiredStateInfo: Gauge<"revision">;
  /** Unix time of the last pass per environment that ended converged. */
  syncLastSuccess: Gauge<"env">;
}

/** The sync states of `steward_sync_jobs`. */
export const SYNC_STATES = ["in_sync", "out_of_sync", "drifted", "error"] as const;

/** Options of `createMetrics`. */
export interface CreateMetricsOptions {
  /** Steward's version for `steward_build_info`. @default "dev" */
  version?: string;
  /** Also collect Node's process metrics (`process_*`, `nodejs_*`). @default true */
  defaultMetrics?: boolean;
}

/** The label values `initMetrics` creates at zero. */
export interface MetricLabelSets {
  loops: readonly string[];
  /** Each loop's closed union of action kinds. Loops not listed get no action series until they act. */
  actionKinds: Readonly<Record<string, readonly string[]>>;
  sources: readonly string[];
  targets: readonly string[];
  /** Environments of the desired state in force, for the per-environment series. */
  envs?: readonly string[];
}

/** The loops of DESIGN.md. */
export const LOOPS = ["sync", "promotion", "healing"] as const;

/** The sources of STYLE 4.1, one per query family. */
export const SOURCES = [
  "git",
  "consul-kv",
  "nomad-jobs",
  "nomad-nodes",
  "nomad-deployments",
  "consul-health",
  "registry",
  "vault",
] as const;

/** The HTTP APIs Steward calls through sources/http-client.ts. */
export const TARGETS = ["nomad", "consul", "vault", "registry", "prometheus"] as const;

/** What `initMetrics` uses when not told otherwise. */
export const DEFAULT_LABEL_SETS: MetricLabelSets = {
  loops: LOOPS,
  actionKinds: {},
  sources: SOURCES,
  targets: TARGETS,
};

/**
 * Creates a fresh registry holding Steward's metrics (a new one per call, so
 * tests and a second runner in one process do not collide).
 */
export function createMetrics(options: CreateMetricsOptions = {}): StewardMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const metrics: StewardMetrics = {
    registry,
    reconcileTotal: new Counter({
      name: "steward_reconcile_total",
      help: "Reconcile passes by loop and outcome (done, requeue, retry, stalled).",
      labelNames: ["loop", "result"],
      registers,
    }),
    reconcileErrorsTotal: new Counter({
      name: "steward_reconcile_errors_total",
      help: "Failed reconcile passes by loop and error kind (invalid, transient, unknown).",
      labelNames: ["loop", "kind"],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: "steward_reconcile_duration_seconds",
      help: "Wall time of one reconcile pass, in seconds.",
      labelNames: ["loop"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    actionsTotal: new Counter({
      name: "steward_actions_total",
      help: "Planned actions by loop, action kind and result (changed, unchanged, failed, skipped).",
      labelNames: ["loop", "kind", "result"],
      registers,
    }),
    queueDepth: new Gauge({
      name: "steward_queue_depth",
      help: "Keys ready for a worker, per loop.",
      labelNames: ["loop"],
      registers,
    }),
    sourceErrorsTotal: new Counter({
      name: "steward_source_errors_total",
      help: "Failed watch or list calls, per source.",
      labelNames: ["source"],
      registers,
    }),
    apiRequestsTotal: new Counter({
      name: "steward_api_requests_total",
      help: "HTTP attempts by target API and status code (timeout or network when there was no response).",
      labelNames: ["target", "code"],
      registers,
    }),
    apiRequestDuration: new Histogram({
      name: "steward_api_request_duration_seconds",
      help: "Wall time of one HTTP attempt by target API, in seconds; blocking queries included.",
      labelNames: ["target"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    leader: new Gauge({
      name: "steward_leader",
      help: "1 while this instance holds the leader lock, else 0.",
      registers,
    }),
    buildInfo: new Gauge({
      name: "steward_build_info",
      help: "Always 1; the labels name the running build.",
      labelNames: ["version", "node_version"],
      registers,
    }),
    syncJobs: new Gauge({
      name: "steward_sync_jobs",
      help: "Jobs per environment by sync state, as of each job's last pass.",
      labelNames: ["env", "state"],
      registers,
    }),
    desiredStateValid: new Gauge({
      name: "steward_desired_state_valid",
      help: "1 when the latest desired-state revision was valid; 0 while a refused revision is newer than the one in force.",
      registers,
    }),
    desiredStateInfo: new Gauge({
      name: "steward_desired_state_info",
      help: "Always 1, labelled with the desired-state revision in force.",
      labelNames: ["revision"],
      registers,
    }),
    syncLastSuccess: new Gauge({
      name: "steward_sync_last_success_timestamp_seconds",
      help: "Unix time of the last converged sync pass per environment.",
      labelNames: ["env"],
      registers,
    }),
  };
  metrics.buildInfo.set({ version: options.version ?? "dev", node_version: process.version }, 1);
  metrics.leader.set(0);
  return metrics;
}

/**
 * Creates every bounded label combination at zero, so dashboards and alerts
 * (`rate(...)`, `absent(...)`) see a series before the first event. Safe to
 * call again, e.g. when a loop registers its action kinds.
 */
export function initMetrics(metrics: StewardMetrics, labels: Partial<MetricLabelSets> = {}): void {
  const sets: MetricLabelSets = { ...DEFAULT_LABEL_SETS, ...labels };
  for (const loop of sets.loops) {
    for (const result of OUTCOME_RESULTS) metrics.reconcileTotal.inc({ loop, result }, 0);
    for (const kind of COUNTED_ERROR_KINDS) metrics.reconcileErrorsTotal.inc({ loop, kind }, 0);
    metrics.reconcileDuration.zero({ loop });
    metrics.queueDepth.set({ loop }, 0);
    for (const kind of sets.actionKinds[loop] ?? []) {
      for (const result of ACTION_RESULTS) metrics.actionsTotal.inc({ loop, kind, result }, 0);
    }
  }
  for (const source of sets.sources) metrics.sourceErrorsTotal.inc({ source }, 0);
  for (const env of sets.envs ?? []) {
    for (const state of SYNC_STATES) metrics.syncJobs.set({ env, state }, 0);
  }
  for (const target of sets.targets) metrics.apiRequestDuration.zero({ target });
}

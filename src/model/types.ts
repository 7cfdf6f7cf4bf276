/**
 * The desired state, as loaded and validated from a `desired-state/` tree
 * (a git checkout or a Consul KV prefix). The format is documented in
 * docs/desired-state.md; every field here is already validated and defaulted.
 * Durations are milliseconds.
 */

import type { TagPolicy } from "./tag-policy.js";

/** The files of one revision of the desired-state tree, as a source yields them. */
export interface TreeSnapshot {
  /** Git commit SHA, or `consul:<ModifyIndex>` for a Consul KV tree. */
  revision: string;
  /** Where it came from, for messages: `git:https://…#main:desired-state`, `consul:steward/desired-state`. */
  origin: string;
  /** Path relative to the tree root (forward slashes) → content. Read only: a source may hand the same map out again. */
  files: Map<string, Buffer>;
  /**
   * Optional hint: this tree differs from revision `since` (of the same
   * origin) only at `paths` (added, changed or removed); every other file is
   * byte for byte the same. Absent: nothing is known, the tree is read whole.
   */
  changes?: TreeChanges;
}

/** See {@link TreeSnapshot.changes}. */
export interface TreeChanges {
  since: string;
  paths: readonly string[];
}

/** Where a Nomad or Consul token comes from. Tokens are never logged or shown. */
export type TokenSource =
  | { kind: "none" }
  | { kind: "env"; name: string }
  | { kind: "vault"; path: string; key: string };

export interface EnvironmentSpec {
  /** `qa`, `prod`: the order of `environments` is the promotion order. */
  name: string;
  nomad: {
    address: string;
    region: string;
    namespace: string;
    token: TokenSource;
  };
  /**
   * Weekly UTC windows in which nothing is promoted into this environment
   * (rollbacks still happen). Absent or empty: never frozen.
   */
  freeze?: FreezeWindow[];
}

/**
 * A weekly window in UTC, as minutes since Monday 00:00 UTC (0..10079).
 * `fromMinute > toMinute` wraps over the week's end (Fri 18:00 → Mon 08:00).
 * The window holds `from` and excludes `to`.
 */
export interface FreezeWindow {
  fromMinute: number;
  toMinute: number;
  /** As written (`Fri 18:00 - Mon 08:00`), for messages. */
  text: string;
}

/**
 * One gate a digest must pass in a stage before it is promoted to the next
 * one, checked in declared order after the stage's Nomad deployment
 * succeeded (the implicit first gate). Durations in ms.
 */
export type GateSpec =
  /**
   * A Nomad batch job run in the stage for the digest; passes when it exits 0.
   * `job` as written: a job file beside service.yaml when it ends in `.hcl`
   * or `.nomad` (then `file` is its tree path and `hcl` its text), else the
   * ID of a job registered in the stage's Nomad, copied per digest.
   */
  | { kind: "verify"; job: string; timeoutMs: number; file?: string; hcl?: string }
  /** Passes once `url` answers `expectStatus`; fails when it has not by `timeoutMs`. */
  | { kind: "http"; url: string; expectStatus: number; timeoutMs: number }
  /** Passes after `durationMs` with no failed allocation of the job in the stage; fails at the first failed one. */
  | { kind: "soak"; durationMs: number }
  /** Passes when `query` has stayed below `below` for `forMs`; fails when that has not happened by `timeoutMs`. */
  | { kind: "prometheus"; query: string; below: number; forMs: number; timeoutMs: number }
  /** Passes when an approval for this service and digest exists (`steward approve`, the API, or a KV key). Never times out. */
  | { kind: "manual" };

/** A service's promotion policy: the gates of each stage (environment) it runs in. */
export interface PromotionPolicy {
  /** Stage name → gates in order; a stage not listed has only the implicit deployment gate. */
  gates: Record<string, GateSpec[]>;
}

export interface SyncPolicy {
  /** `heal`: re-register a job changed behind Steward's back; `report`: only say so. */
  drift: "heal" | "report";
  /**
   * Take over a job of the same ID that Steward did not create. Off by
   * default: such a job is only reported, never overwritten on a guess.
   */
  adopt: boolean;
  /** Stop managed jobs whose service left the desired state. */
  prune: boolean;
  /** How long a job must be absent from the desired state before it is pruned. */
  pruneGracePeriodMs: number;
  /** Refuse to prune more than this share (0..1) of an environment's managed jobs in one pass. */
  maxPruneShare: number;
}

export interface ServiceEnvironment {
  /** HCL2 variables for the job file in this environment (`var.image` is Steward's). */
  variables: Record<string, string | number | boolean>;
}

export interface ServiceSpec {
  /** The service name: its directory under `services/`. */
  name: string;
  /** `services/<name>/service.yaml`, for messages. */
  file: string;
  /** Path of the job file, relative to the tree root. */
  jobFile: string;
  /** The job file's HCL text. */
  jobHcl: string;
  /**
   * The job ID as the job file writes it (its `id` attribute, else the job
   * block's label). Absent when the ID is built from variables; then only
   * the environment's Nomad, parsing the file, can tell it.
   */
  jobId?: string;
  image: {
    repository: string;
    /** `sha256:…` to run before any promotion happened, if set. */
    digest?: string;
    /** Which tags are promotion candidates; absent: the service is not promoted, only synced. */
    policy?: TagPolicy;
  };
  /** Environments this service runs in (a subset of the declared ones), with their variables. */
  environments: Record<string, ServiceEnvironment>;
  sync: SyncPolicy;
  /** The gates per stage; absent: only the implicit deployment gate everywhere. */
  promotion?: PromotionPolicy;
}

export interface PoolSpec {
  name: string;
  file: string;
  /** The environment (Nomad cluster) whose nodes the pool holds. */
  env: string;
  role: "worker" | "server";
  select: { nodePool?: string; nodeClass?: string; meta?: Record<string, string> };
  terraform: { dir: string; workspace: string; address: string };
  health: {
    unhealthyAfterMs: number;
    /** A node unhealthy `count` times within `windowMs` flaps; it is replaced only when `replace`. */
    flapping: { count: number; windowMs: number; replace: boolean };
  };
  /** Deadline of the drain of a node that still answers, before it is replaced. */
  drain: { deadlineMs: number };
  budgets: { maxUnhealthy: { count: number } | { percent: number }; maxConcurrent: number; cooldownMs: number };
}

export interface DesiredState {
  revision: string;
  origin: string;
  /** In promotion order. */
  environments: EnvironmentSpec[];
  /** steward.yaml's `sync`: the policy for jobs whose service is gone (so its own policy is too). */
  syncDefaults: SyncPolicy;
  services: ServiceSpec[];
  pools: PoolSpec[];
}

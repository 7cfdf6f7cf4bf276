/**
 * The shapes the live UI receives from `/api/events` (Server-Sent Events)
 * and `/api/live`. The page (ui/) imports these types, and the loops' own
 * status types re-exported here, so server and page cannot drift apart.
 * Types only: nothing here runs in the page.
 */

/** What the overview shows for one job in one environment. */
export type SyncCellState = "in_sync" | "out_of_sync" | "drifted" | "error" | "paused" | "frozen" | "unknown";

/** One cell of the overview grid: one Nomad job in one environment (`qa/web`). */
export interface SyncCell {
  /** `env/job`, the sync loop's key. */
  key: string;
  env: string;
  job: string;
  /** The service the job belongs to (its folder under `services/`); the job ID when unknown. */
  service: string;
  state: SyncCellState;
  /** The reason code behind the state (`SpecChanged`, `DriftReported`, `Paused`, …). */
  reason?: string;
  /** One sentence: why the cell is in this state. */
  message?: string;
  /** The latest error while the job is not Ready. */
  error?: string;
  /** `sha256:…` of the image the job runs (as registered by Steward), when known. */
  digest?: string;
  /** `sha256:…` the desired state wants, when it differs from `digest`. */
  desiredDigest?: string;
  /** Nomad's job status (`running`, `pending`, `dead`); absent when the job is not in Nomad. */
  nomadStatus?: string;
  /**
   * The job's latest Nomad deployment (the environment's deployments-list
   * watch): `status` is Nomad's (`running`, `successful`, `failed`,
   * `cancelled`, `paused`, `blocked`, `pending`, …) or `none` when the job
   * has no deployment (batch and system jobs, jobs without an update
   * block); absent until the list was read.
   */
  deployment?: CellDeployment;
  /** The desired-state revision the running job came from (its `steward.revision` Meta). */
  revision?: string;
  /** When the leader last finished a pass over this job (ISO 8601); absent on a standby. */
  lastSync?: string;
  /** The last action the leader took or planned, with its reason. */
  lastAction?: { kind: string; reason: string; message: string; result: string; at: string };
  /** The fields Nomad reported as changed outside Steward, while drifted. */
  driftFields?: string[];
  /** True when the cell comes from the leader's passes; false when derived from this instance's caches (a standby). */
  fromLeader: boolean;
}

/** A cell's latest Nomad deployment. */
export interface CellDeployment {
  status: string;
  /** Nomad's StatusDescription ("Deployment completed successfully", …); absent when empty or `none`. */
  description?: string;
  /** The job version it rolls out; absent when `none`. */
  jobVersion?: number;
}

/** One live Steward instance, from its presence key in Consul (`steward/instances/<id>`). */
export interface InstanceView {
  id: string;
  /** Where its HTTP API and UI answer. */
  address: string;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** Whether its /readyz answers 200, as it last announced (at most a renewal, 5 s, old). */
  ready: boolean;
  /** Why it is not ready. */
  notReady?: string;
  /** True for the instance holding the leader lock. */
  leading: boolean;
}

/** Who serves the page and who leads. */
export interface InstanceSection {
  /** The instance serving this page. */
  id: string;
  startedAt: string;
  /** True when the instance serving this page leads. */
  leading: boolean;
  /** The leader, from the lock key (undefined while nobody holds it or before it was read). */
  leader?: { id: string; address: string; since?: string };
  /**
   * Every live instance, the leader first, then the standbys by ID. An
   * instance leaves the list when its Consul session ends: at once on a
   * graceful stop, within 2 x its TTL (30 s) after a crash.
   */
  instances?: InstanceView[];
  /** Whether reads need the action token too, and whether actions are configured at all. */
  access: { actionsEnabled: boolean };
}

/** The desired-state revision in force, and any refused or pending one. */
export interface RevisionSection {
  good?: { revision: string; origin: string; at: string };
  refused?: { revision: string; origin: string; at: string; issues: Array<{ message: string; file?: string; line?: number; field?: string }> };
  pending?: { revision: string; error: string; at: string };
  /** When the leader last finished a pass with nothing left to do in each environment (ISO 8601). */
  lastSyncByEnv: Record<string, string>;
}

/** The runtime switches as they stand (Consul KV `steward/control/`). */
export interface ControlsSection {
  paused: boolean;
  pausedServices: string[];
  /** Frozen environments, each with who froze it, why and when (`steward/control/freeze/<env>`). */
  frozen?: Record<string, { by?: string; reason?: string; at?: string }>;
  /** Notes of the switches that are on, keyed by path (`pause/web`): who set them, why, when. */
  notes: Record<string, { by?: string; reason?: string; at?: string }>;
}

/** The environments in promotion order, as the revision in force lists them. */
export interface EnvironmentsSection {
  names: string[];
}

/** The small, whole-replaced parts of the live state. */
export interface LiveSections {
  instance: InstanceSection;
  revision: RevisionSection;
  controls: ControlsSection;
  environments: EnvironmentsSection;
  /** Sections other loops add (their names are theirs); the page shows what it knows. */
  [name: string]: unknown;
}

/** The keyed collections: `sync` (key `env/job`), `promotion` (key: service), `pools` (key: pool). */
export interface LiveCollections {
  sync: Record<string, SyncCell>;
  [name: string]: Record<string, unknown>;
}

/**
 * One thing Steward did or saw, for the event stream. `loop` is the loop or
 * part that recorded it (`sync`, `promotion`, `healing`, `controls`,
 * `leader`, `ui`); env, service, pool, key let the page filter.
 */
export interface LiveEvent {
  /** The stream id it was sent under (`<epoch>-<seq>`). */
  id: string;
  /** ISO 8601. */
  at: string;
  loop: string;
  /** What happened, a short code (`register`, `DriftReported`, `paused`, `leader`). */
  kind: string;
  message: string;
  /** A reason code, when the event carries one. */
  reason?: string;
  /** `info`, or `warn`/`error` for what needs an operator's eye. */
  level: "info" | "warn" | "error";
  env?: string;
  service?: string;
  pool?: string;
  /** The key of the collection item it concerns (`qa/web`, a service, a pool). */
  key?: string;
  /** Who did it, for operator actions (`alice via ui`, `bob via cli`). */
  by?: string;
}

/** `snapshot`: the whole state; sent first on a connection, and when a resume is not possible. */
export interface LiveSnapshot {
  /** The stream position this snapshot is current at; events after it follow. */
  at: string;
  /** The instance's stream epoch: ids of another epoch cannot be resumed. */
  epoch: string;
  sections: LiveSections;
  collections: LiveCollections;
  /** The most recent events, oldest first (the ring buffer's events). */
  events: LiveEvent[];
}

/** `patch`: what changed since the previous message, by key. */
export interface LivePatch {
  /** Sections replaced whole. */
  sections?: Partial<LiveSections>;
  /** Collection items set (new or changed), by collection and key. */
  set?: Record<string, Record<string, unknown>>;
  /** Collection items removed, by collection. */
  del?: Record<string, string[]>;
}

/** The SSE event names on `/api/events`. */
export type LiveMessage =
  | { type: "snapshot"; id: string; data: LiveSnapshot }
  | { type: "patch"; id: string; data: LivePatch }
  | { type: "event"; id: string; data: LiveEvent };

/** The answer of every `POST /api/actions/*`. */
export interface ActionReply {
  ok: boolean;
  /** What was done, or why it was refused, in one sentence for the page. */
  message: string;
}

/** What a `POST /api/actions/*` body may hold. */
export interface ActionRequest {
  /** `sync-now`: one environment; `freeze`, `unfreeze`: the environment (required). */
  env?: string;
  /** `sync-now`, `pause`, `resume`: one service (else everything); `retry-gate`: the service (required). */
  service?: string;
  /** `retry-gate`: the stage whose failed gate runs again (required). */
  stage?: string;
  /** `retry-gate`: the digest (`sha256:…`) that failed there (required). */
  digest?: string;
  /** `ack-short-circuit`: the pool whose short-circuit is acknowledged (required). */
  pool?: string;
  /** A note kept with the switch and shown in the event stream. */
  reason?: string;
  /** Who acts, as the operator typed it; recorded as `<who> via ui`. */
  who?: string;
}

/** One environment's plan for a service, as `steward plan` shows it. */
export interface ServicePlanEntry {
  env: string;
  job: string;
  kind: string;
  reason: string;
  message: string;
  /** The fields Nomad's plan reports as changing (register of an existing job only). */
  diff: string[];
}

/** `GET /api/services/:service/plan`. */
export interface ServicePlan {
  service: string;
  revision?: string;
  entries: ServicePlanEntry[];
  /** Set when the plan could not be computed here (a standby without the desired state, a cluster down). */
  error?: string;
}

/** The `promotion` collection (key: service) is the promotion loop's own `/api/status` section, item by item. */
export type { PromotionServiceStatus } from "../reconciler/promotion/loop.js";
/** The `pools` collection (key: pool) is the healing loop's own `/api/status` section, item by item. */
export type { PoolStatus } from "../reconciler/healing/loop.js";

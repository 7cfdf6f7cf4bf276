import type http from "node:http";
import type { Logger } from "../log.js";
import type { ConsulKvWriter } from "../actuators/consul-kv.js";
import type { TreeSnapshot } from "../model/types.js";
import type { LeaderInfo } from "../reconciler/core/leader.js";
import type { KeyStatus } from "../reconciler/core/status.js";
import type { SyncLoop } from "../reconciler/sync/loop.js";
import type { SyncKey } from "../reconciler/sync/observe.js";
import type { PromotionServiceStatus } from "../reconciler/promotion/loop.js";
import { incidentViews, type PoolStatus } from "../reconciler/healing/loop.js";
import type { IncidentRecord } from "../reconciler/healing/journal.js";
import type { ApplyProgress } from "../reconciler/healing/progress.js";
import type { Controls } from "../sources/controls.js";
import type { GateRetryWriter } from "../actuators/gate-retries.js";
import { retryRefusal, type PromotionRecord } from "../reconciler/promotion/journal.js";
import { ActionRefusedError } from "./live-routes.js";
import type { Approval } from "../sources/approvals.js";
import type { LatestDeployment } from "../sources/nomad-deployments.js";
import type { InstanceInfo } from "../reconciler/core/presence.js";
import { LiveHub, type LiveCollectionSource, type LiveRecord } from "./live-hub.js";
import { liveRoutes, type ActionAuthorization, type LiveActions, type Route } from "./live-routes.js";
import type { ControlsSection, InstanceView, LiveSections, RevisionSection, ServicePlan, ServicePlanEntry, SyncCell } from "./live-types.js";
import { syncCellOf, syncEventsOf } from "./sync-view.js";

/** What the live view of a daemon reads and acts through. */
export interface DaemonLiveDeps {
  instanceId: string;
  startedAt: () => number;
  sync: SyncLoop;
  elector: { readonly isLeader: boolean; currentLeader(): LeaderInfo | undefined };
  /** The switches as last read from Consul KV. */
  controls: () => Controls;
  /** The same writer the CLI's `pause`/`resume`/`sync-now`/`freeze` use. */
  writer: ConsulKvWriter;
  /** The same writer `steward retry-gate` uses; absent: the retry action is refused. */
  gateRetries?: Pick<GateRetryWriter, "request">;
  /** A digest's promotion record from this instance's journal cache (the retry action's check before it writes). */
  promotionRecord?: (service: string, digest: string) => PromotionRecord | undefined;
  logger: Logger;
  /** Checks an action's bearer token (action-auth). */
  authorize: (req: http.IncomingMessage) => ActionAuthorization;
  /** Whether an action token is configured at all. */
  actionsEnabled: () => boolean;
  /** Who may read the live data (`api.uiReads`). @default open */
  reads?: () => "open" | "token";
  /** The action token's current value, the key of read sessions. */
  sessionKey?: () => string | undefined;
  /** Where the production build of ui/ is (tests). */
  uiDir?: string;
  /** The promotion loop's status (its `/api/status` section); absent: no `promotion` collection. */
  promotion?: { status(): PromotionServiceStatus[] };
  /** The healing loop's pools (its `/api/status` section, the pools declared, its journal and apply progress); absent: no `pools` collection. */
  healing?: {
    poolStatuses(): PoolStatus[];
    readonly pools: ReadonlyArray<{ name: string }>;
    cache: { incidents: ReadonlyMap<string, { record: IncidentRecord }>; progress?: ReadonlyMap<string, ApplyProgress> };
  };
  /** Each environment's latest deployment per job (sources/nomad-deployments.ts); absent: cells carry no deployment. */
  deployments?: { latestOf(env: string, jobId: string): LatestDeployment | undefined; synced(env: string): boolean };
  /** The live instances from their presence keys (sources/instances.ts); absent: only the leader is shown. */
  instances?: { list(): InstanceInfo[] };
  /** Passed to the hub (tests, benchmarks). */
  hub?: { flushMs?: number; bufferSize?: number };
}

/**
 * A daemon's live view: the hub (sections, the `sync` collection, events),
 * the hooks the daemon calls from the sync loop, the controls watch and the
 * desired-state source, and the routes (`/ui/`, `/api/events`, actions).
 * Every instance has one: a standby's cells come from its own warm caches;
 * the leader's add what its passes know (last action, errors, drift).
 */
export class DaemonLive {
  readonly hub: LiveHub;
  private readonly prevStatus = new Map<string, KeyStatus>();
  /** env → the latest ISO time of a pass that ended Ready (ISO strings of one format order as their times). */
  private readonly lastSyncByEnv = new Map<string, string>();
  private lastLeaderId: string | undefined;
  private lastRevision: string | undefined;
  /** Per service, the time of the latest journal line already sent as an event. */
  private readonly historySeen = new Map<string, number>();
  private promotionCache: { at: number; byService: Map<string, PromotionServiceStatus> } | undefined;
  private promotionDiffedAt = 0;
  private poolsDiffedAt = 0;
  /** Per pool, what was last sent as events: each incident's step, the short-circuit, the actions' reasons. */
  private readonly poolSeen = new Map<string, { steps: Map<string, string>; shortCircuited: boolean; reasons: Set<string> }>();

  constructor(private readonly d: DaemonLiveDeps) {
    this.hub = new LiveHub({ sections: () => this.sections(), ...d.hub });
    this.hub.register("sync", this.syncSource());
    if (d.promotion) this.hub.register("promotion", this.promotionSource());
    if (d.healing) this.hub.register("pools", this.poolsSource());
  }

  /** The healing loop's hooks (a pool's pass ended, its apply printed a line): that pool's item, and its new steps as events. */
  onPoolChange(pool: string): void {
    this.hub.touch("pools", pool);
  }

  /**
   * A manual decision appeared in Consul KV (from the page, the API, the CLI
   * or by hand): an event naming who decided. Decisions older than a minute
   * are the store's first read at startup, not news.
   */
  onApproval(a: Approval | undefined): void {
    if (!a) return;
    const at = a.at ? Date.parse(a.at) : NaN;
    if (!(Date.now() - at < 60_000)) return;
    this.hub.touch("promotion", a.service);
    this.hub.record({
      loop: "promotion",
      kind: a.decision,
      service: a.service,
      ...(a.stage ? { env: a.stage } : {}),
      ...(a.by ? { by: a.by } : {}),
      message: `${a.service} ${a.digest.slice(7, 19)}: ${a.decision === "approve" ? "approved" : "rejected"}${a.stage ? ` for ${a.stage}` : ""}${a.by ? ` by ${a.by}` : ""}${a.reason ? ` (${a.reason})` : ""}`,
    });
  }

  /** The promotion loop's retry hook (leader): a refused retry request, with why, in the event stream. An honoured one shows as its journal line. */
  onRetry(e: { service: string; digest: string; stage: string; by: string; honoured: boolean; message: string }): void {
    this.hub.touch("promotion", e.service);
    if (e.honoured) return;
    this.hub.record({ loop: "promotion", kind: "RetryRefused", reason: "RetryRefused", level: "warn", service: e.service, env: e.stage, by: e.by, message: `${e.service}: ${e.message}` });
  }

  /** The promotion loop's hooks (a pass ended, a stage's digest changed): that service's item and journal lines. */
  onPromotionChange(service: string): void {
    this.hub.touch("promotion", service);
  }

  /**
   * The sync loop's status hook (leader): the cell, and the pass's events.
   * A pass that repeats the verdict of the key's previous one (a sync-now
   * over unchanged jobs) is worth neither: the cell is not recomputed, so its
   * `lastSync` stays at the pass that reached the verdict.
   */
  onSyncStatus(st: KeyStatus): void {
    const prev = this.prevStatus.get(st.key);
    this.prevStatus.set(st.key, st);
    const at = st.lastReconcileTime;
    if (at && st.conditions[0]?.type === "Ready" && st.conditions[0].status === "True") {
      const env = st.key.slice(0, st.key.indexOf("/"));
      if (at > (this.lastSyncByEnv.get(env) ?? "")) this.lastSyncByEnv.set(env, at);
    }
    if (prev && repeatsVerdict(prev, st)) return;
    const service = this.serviceOf(st.key);
    for (const e of syncEventsOf(prev, st, service)) this.hub.record(e);
    this.hub.touch("sync", st.key);
  }

  /** The sync loop's change hook (every instance): one key, or every key. */
  onSyncChange(key: SyncKey | undefined): void {
    this.hub.touch("sync", key ? `${key.env}/${key.jobId}` : undefined);
  }

  /** The deployments watch (every instance): the cells of the jobs whose latest deployment changed in `env`. */
  onDeployments(env: string, jobIds: readonly string[]): void {
    for (const job of jobIds) this.hub.touch("sync", `${env}/${job}`);
  }

  /** The instances watch (every instance): an instance came, went or changed; the instance section is sent at once. */
  onInstances(): void {
    this.hub.touchSections();
  }

  /** The controls watch (every instance): the switches turned on or off, with the note of who did it. */
  onControls(next: Controls, prev: Controls | undefined): void {
    this.hub.touch("sync");
    if (!prev || prev.index === 0) return;
    for (const [path, raw] of next.notes) {
      if (prev.notes.get(path) === raw) continue;
      const note = parseNote(raw);
      this.hub.record({ loop: "controls", kind: "switch-on", message: `${path} on${note.by ? ` by ${note.by}` : ""}${note.reason ? `: ${note.reason}` : ""}`, ...serviceOfSwitch(path), ...(note.by ? { by: note.by } : {}) });
    }
    for (const path of prev.notes.keys()) {
      if (!next.notes.has(path)) this.hub.record({ loop: "controls", kind: "switch-off", message: `${path} off`, ...serviceOfSwitch(path) });
    }
    if (next.syncNowIndex !== prev.syncNowIndex && next.syncNowIndex !== 0) {
      const s = next.syncNowScope;
      const what = s.service ? `service ${s.service}` : s.env ? `environment ${s.env}` : "everything";
      this.hub.record({ loop: "controls", kind: "sync-now", message: `sync-now requested for ${what}`, ...(s.env ? { env: s.env } : {}), ...(s.service ? { service: s.service } : {}) });
    }
  }

  /** The desired-state source's verdict on a revision (every instance). */
  onRevision(verdict: "accepted" | "refused" | "pending", snapshot: TreeSnapshot): void {
    if (verdict === "pending" || snapshot.revision === this.lastRevision) return;
    this.lastRevision = snapshot.revision;
    const short = snapshot.revision.slice(0, 12);
    if (verdict === "accepted") this.hub.record({ loop: "sync", kind: "revision", message: `revision ${short} accepted (${snapshot.origin})` });
    else {
      const issues = this.d.sync.revision.refused?.issues ?? [];
      const first = issues[0];
      const where = first ? `${first.file ?? ""}${first.line ? `:${first.line}` : ""}${first.field ? ` ${first.field}` : ""}: ${first.message}` : "";
      this.hub.record({ loop: "sync", kind: "refused", level: "error", message: `revision ${short} refused (${issues.length} problem${issues.length === 1 ? "" : "s"}) ${where}; the last good revision stays in force` });
    }
  }

  /** The routes to mount on the daemon's HTTP server. */
  route(): Route {
    return liveRoutes({
      hub: this.hub,
      logger: this.d.logger,
      actions: this.actions(),
      plan: (s) => this.plan(s),
      ...(this.d.uiDir ? { uiDir: this.d.uiDir } : {}),
      ...(this.d.reads ? { reads: this.d.reads } : {}),
      ...(this.d.sessionKey ? { sessionKey: this.d.sessionKey } : {}),
    });
  }

  close(): void {
    this.hub.close();
  }

  /** Every job of a service in every environment, planned now as `steward plan` would, with Nomad's diff for changes. */
  async plan(service: string): Promise<ServicePlan> {
    const rev = this.d.sync.cache.revision;
    if (!rev) return { service, entries: [], error: "the desired state has not been read on this instance yet" };
    const entries: ServicePlanEntry[] = [];
    const now = Date.now();
    try {
      for (const env of rev.state.environments) {
        for (const [job, desired] of rev.jobs.get(env.name) ?? []) {
          if (desired.service !== service) continue;
          const { actions } = await this.d.sync.planKey({ env: env.name, jobId: job }, now);
          for (const a of actions) {
            const diff = a.kind === "register" && a.reason !== "JobMissing" ? (await this.d.sync.clients.get(env).reader.planJob(a.spec as never)).fields : [];
            entries.push({ env: env.name, job, kind: a.kind, reason: a.reason, message: a.message, diff });
          }
        }
      }
    } catch (err) {
      return { service, revision: this.d.sync.revision.good?.revision ?? "", entries, error: (err as Error).message };
    }
    return { service, ...(this.d.sync.revision.good ? { revision: this.d.sync.revision.good.revision } : {}), entries };
  }

  private actions(): LiveActions {
    const { writer } = this.d;
    const record = (e: Omit<LiveRecord, "loop">): void => this.hub.record({ loop: "ui", ...e });
    return {
      authorize: (req) => this.d.authorize(req),
      enabled: () => this.d.actionsEnabled(),
      syncNow: async (scope, by, reason) => {
        this.checkScope(scope);
        await writer.putControl({ kind: "sync-now" }, { by, ...(reason ? { reason } : {}), ...scope });
        const what = scope.service ? `service ${scope.service}` : scope.env ? `environment ${scope.env}` : "everything";
        record({ kind: "sync-now", by, message: `${by}: sync now, ${what}`, ...scope });
        return `a sync of ${what} was requested`;
      },
      pause: async (service, by, reason) => {
        if (service !== undefined) this.checkScope({ service });
        await writer.putControl({ kind: "pause", ...(service ? { service } : {}) }, { by, ...(reason ? { reason } : {}) });
        record({ kind: "pause", by, message: `${by}: pause ${service ?? "everything"}${reason ? ` (${reason})` : ""}`, ...(service ? { service } : {}) });
        return `${service ?? "everything"} paused`;
      },
      resume: async (service, by) => {
        await writer.deleteControl({ kind: "pause", ...(service ? { service } : {}) });
        record({ kind: "resume", by, message: `${by}: resume ${service ?? "everything"}`, ...(service ? { service } : {}) });
        return `${service ?? "everything"} resumed`;
      },
      freeze: async (env, by, reason) => {
        this.checkEnv(env);
        await writer.putControl({ kind: "freeze", env }, { by, ...(reason ? { reason } : {}) });
        record({ kind: "freeze", by, env, message: `${by}: freeze ${env}${reason ? ` (${reason})` : ""}` });
        return `${env} frozen: nothing is deployed there until it is unfrozen`;
      },
      unfreeze: async (env, by) => {
        this.checkEnv(env);
        await writer.deleteControl({ kind: "freeze", env });
        record({ kind: "unfreeze", by, env, message: `${by}: unfreeze ${env}` });
        return `${env} unfrozen`;
      },
      retryGate: async (r, by, reason) => {
        if (!this.d.gateRetries) throw new ActionRefusedError(503, "retrying a gate is not available on this instance");
        const why = retryRefusal(this.d.promotionRecord?.(r.service, r.digest), r.stage);
        if (why) throw new ActionRefusedError(409, `${r.service} ${r.digest.slice(7, 19)}: cannot retry a gate of ${r.stage}: ${why}`);
        await this.d.gateRetries.request({ ...r, by, ...(reason ? { reason } : {}) });
        record({ kind: "retry-gate", by, env: r.stage, service: r.service, message: `${by}: retry the failed gate of ${r.service} ${r.digest.slice(7, 19)} in ${r.stage}${reason ? ` (${reason})` : ""}` });
        return `a retry of ${r.service} ${r.digest.slice(7, 19)}'s failed gate in ${r.stage} was requested; the leader runs it`;
      },
      ...(this.d.healing ? { ackShortCircuit: (pool: string, by: string, reason?: string) => this.ackShortCircuit(pool, by, reason) } : {}),
    };
  }

  /** @throws ActionRefusedError (404) naming an environment the revision in force does not have */
  private checkEnv(env: string): void {
    const names = this.d.sync.cache.revision?.state.environments.map((e) => e.name) ?? [];
    if (!names.includes(env)) throw new ActionRefusedError(404, `no environment ${env} in the desired state (environments: ${names.join(", ") || "none read yet"})`);
  }

  /**
   * Writes `ack-short-circuit/<pool>` with who and why, as `steward
   * ack-short-circuit` does. A pool this instance's last plan shows healthy
   * is refused (the loop would delete the acknowledgement at once); a
   * standby, which plans nothing, leaves that to the leader.
   * @throws ActionRefusedError 404 naming a pool the desired state does not have, 409 for one that is not short-circuited
   */
  private async ackShortCircuit(pool: string, by: string, reason: string | undefined): Promise<string> {
    const h = this.d.healing;
    const declared = h?.pools.map((p) => p.name) ?? [];
    if (!declared.includes(pool)) throw new ActionRefusedError(404, `no pool ${pool} in the desired state${declared.length ? ` (pools: ${declared.join(", ")})` : ""}`);
    const st = h?.poolStatuses().find((p) => p.pool === pool);
    if (st && !st.summary.shortCircuited) throw new ActionRefusedError(409, `pool ${pool} is not short-circuited (${st.summary.unhealthy} of ${st.summary.members} nodes unhealthy): there is nothing to acknowledge`);
    await this.d.writer.putControl({ kind: "ack-short-circuit", pool }, { by, ...(reason ? { reason } : {}) });
    this.hub.record({ loop: "ui", kind: "ack-short-circuit", by, pool, key: pool, level: "warn", message: `${by}: acknowledged the short-circuit of pool ${pool}${reason ? ` (${reason})` : ""}: replacements proceed within the other guards` });
    this.hub.touch("pools", pool);
    return `the short-circuit of pool ${pool} is acknowledged: replacements proceed within maxConcurrent, cooldown, quorum and the apply budget`;
  }

  /** @throws Error naming the environment or service the revision in force does not have */
  private checkScope(scope: { env?: string; service?: string }): void {
    const rev = this.d.sync.cache.revision;
    if (scope.env && !rev?.state.environments.some((e) => e.name === scope.env)) throw new Error(`no environment ${scope.env} in the desired state`);
    if (scope.service && !rev?.state.services.some((s) => s.name === scope.service)) throw new Error(`no service ${scope.service} in the desired state`);
  }

  private promotionSource(): LiveCollectionSource<PromotionServiceStatus> {
    // status() builds every service at once: one build serves every key looked at in the same flush.
    const all = (): Map<string, PromotionServiceStatus> => {
      const now = Date.now();
      if (!this.promotionCache || now - this.promotionCache.at > 20) {
        this.promotionCache = { at: now, byService: new Map((this.d.promotion?.status() ?? []).map((p) => [p.service, p])) };
      }
      return this.promotionCache.byService;
    };
    const withEvents = (p: PromotionServiceStatus | undefined): PromotionServiceStatus | undefined => {
      if (p) this.recordHistory(p);
      return p;
    };
    return {
      list: () => [...all()].map(([k, p]) => [k, withEvents(p) as PromotionServiceStatus]),
      get: (service) => withEvents(all().get(service)),
    };
  }

  private poolsSource(): LiveCollectionSource<PoolStatus> {
    // The last plan's summary, with the incidents as the journal has them now: a step written mid-pass (applying) shows while it lasts.
    const all = (): Map<string, PoolStatus> => new Map((this.d.healing?.poolStatuses() ?? []).map((p) => [p.pool, { ...p, incidents: this.liveIncidents(p.pool) }]));
    const withEvents = (p: PoolStatus | undefined): PoolStatus | undefined => {
      if (p) this.recordPool(p);
      return p;
    };
    return {
      list: () => [...all()].map(([k, p]) => [k, withEvents(p) as PoolStatus]),
      get: (pool) => withEvents(all().get(pool)),
    };
  }

  private liveIncidents(pool: string): PoolStatus["incidents"] {
    return incidentViews(this.d.healing?.cache.incidents.values() ?? [], pool, this.d.healing?.cache.progress);
  }

  /** A pool's news as events: an incident's next step, a short-circuit tripping or clearing, a new reason among its actions. */
  private recordPool(p: PoolStatus): void {
    const before = this.poolSeen.get(p.pool);
    const now = { steps: new Map(p.incidents.map((i) => [i.nodeName, i.step as string])), shortCircuited: p.summary.shortCircuited, reasons: new Set(p.actions.map((a) => `${a.kind}:${a.reason}`)) };
    this.poolSeen.set(p.pool, now);
    const base = { loop: "healing", pool: p.pool, env: p.env, key: p.pool };
    for (const a of p.actions) {
      if (before?.reasons.has(`${a.kind}:${a.reason}`) || a.reason === "Healthy") continue;
      const level = ["ShortCircuit", "QuorumAtRisk", "BudgetExhausted", "OrphanedInstance", "ApplyRetryBackoff", "ReplacementSlow"].includes(a.reason) ? "warn" : "info";
      this.hub.record({ ...base, kind: a.kind, reason: a.reason, level, message: `${p.pool}: ${a.message}` });
    }
    for (const i of p.incidents) {
      if (before?.steps.get(i.nodeName) === i.step) continue;
      const level = i.step === "apply-failed" ? "warn" : "info";
      this.hub.record({ ...base, kind: `step-${i.step}`, level, message: `${p.pool}: ${i.nodeName}${i.address ? ` (${i.address})` : ""} ${i.step}${i.lastError ? `: ${i.lastError}` : ""}` });
    }
    if (before && before.shortCircuited !== p.summary.shortCircuited) {
      this.hub.record({ ...base, kind: "short-circuit", level: p.summary.shortCircuited ? "error" : "info", message: `${p.pool}: ${p.summary.shortCircuited ? "short-circuited: nothing is replaced" : "short-circuit cleared"}` });
    }
  }

  /** New journal lines of a service become events (the first look only marks where the stream starts). */
  private recordHistory(p: PromotionServiceStatus): void {
    const seen = this.historySeen.get(p.service);
    const latest = p.history.reduce((m, h) => Math.max(m, h.at), 0);
    this.historySeen.set(p.service, Math.max(latest, seen ?? 0));
    if (seen === undefined) return;
    for (const h of p.history) {
      if (h.at <= seen) continue;
      const level = /Failed|TimedOut|RolledBack|NoLastGood|ProgressDeadline/.test(h.reason) ? "warn" : "info";
      this.hub.record({
        loop: "promotion",
        kind: h.reason,
        reason: h.reason,
        level,
        at: new Date(h.at).toISOString(),
        service: p.service,
        ...(h.stage ? { env: h.stage } : {}),
        message: `${p.service} ${h.tag ?? h.digest.slice(7, 19)}${h.stage ? ` in ${h.stage}` : ""}: ${h.message}`,
      });
    }
  }

  private syncSource(): LiveCollectionSource<SyncCell> {
    return {
      list: () => {
        const out: Array<[string, SyncCell]> = [];
        for (const k of this.d.sync.cache.keys()) {
          const cell = this.cell(k.env, k.jobId);
          if (cell) out.push([cell.key, cell]);
        }
        return out;
      },
      get: (key) => {
        const slash = key.indexOf("/");
        return slash > 0 ? this.cell(key.slice(0, slash), key.slice(slash + 1)) : undefined;
      },
    };
  }

  private cell(env: string, job: string): SyncCell | undefined {
    const { cache } = this.d.sync;
    const k = `${env}/${job}`;
    const desired = cache.revision?.jobs.get(env)?.get(job);
    const stub = cache.actual.get(env)?.get(job);
    const service = desired?.service ?? stub?.Meta?.["steward.service"] ?? job;
    const leading = this.d.sync.leading;
    return syncCellOf({
      env,
      job,
      desired,
      stub,
      full: cache.fullJobs.get(k),
      drift: cache.drift.get(k),
      appliedIndex: leading ? cache.applied.get(k)?.jobModifyIndex : undefined,
      status: leading ? this.d.sync.statusOf(k) : undefined,
      paused: cache.paused.all || cache.paused.services.has(service),
      deployments: this.d.deployments?.synced(env) ? { latest: this.d.deployments.latestOf(env, job) } : undefined,
      frozen: cache.frozen.get(env),
    });
  }

  private serviceOf(key: string): string {
    const slash = key.indexOf("/");
    const env = key.slice(0, slash);
    const job = key.slice(slash + 1);
    const { cache } = this.d.sync;
    return cache.revision?.jobs.get(env)?.get(job)?.service ?? cache.actual.get(env)?.get(job)?.Meta?.["steward.service"] ?? job;
  }

  /**
   * Per environment, the latest of its last Ready pass and the resync's
   * last check: a resync that skipped every unchanged job still synced the
   * environment (it read Nomad's list and compared every job).
   */
  private lastSyncByEnvView(): Record<string, string> {
    const out: Record<string, string> = Object.fromEntries(this.lastSyncByEnv);
    if (this.d.sync.leading) {
      for (const [env, t] of this.d.sync.lastChecked()) {
        const checked = new Date(t).toISOString();
        if (checked > (out[env] ?? "")) out[env] = checked;
      }
    }
    return out;
  }

  private sections(): LiveSections {
    // The journal, the registry and the gates move without a sync event: the promotion items are re-diffed each second.
    if (this.d.promotion && Date.now() - this.promotionDiffedAt >= 1_000) {
      this.promotionDiffedAt = Date.now();
      this.hub.touch("promotion");
    }
    if (this.d.healing && Date.now() - this.poolsDiffedAt >= 1_000) {
      this.poolsDiffedAt = Date.now();
      this.hub.touch("pools");
    }
    const leader = this.d.elector.currentLeader();
    const leading = this.d.elector.isLeader;
    if (leader?.instanceId !== this.lastLeaderId) {
      const was = this.lastLeaderId;
      this.lastLeaderId = leader?.instanceId;
      this.hub.record({
        loop: "leader",
        kind: "leader",
        level: leader ? "info" : "warn",
        message: leader ? `${leader.instanceId} leads${was ? ` (was ${was})` : ""}` : `nobody leads${was ? ` (${was} stepped down)` : ""}`,
      });
    }
    if (!leading && this.prevStatus.size) this.prevStatus.clear();
    const rev = this.d.sync.revision;
    const iso = (t: number): string => new Date(t).toISOString();
    const revision: RevisionSection = {
      lastSyncByEnv: this.lastSyncByEnvView(),
      ...(rev.good ? { good: { revision: rev.good.revision, origin: rev.good.origin, at: iso(rev.good.at) } } : {}),
      ...(rev.refused ? { refused: { revision: rev.refused.revision, origin: rev.refused.origin, at: iso(rev.refused.at), issues: rev.refused.issues.map(issueView) } } : {}),
      ...(rev.pending ? { pending: { revision: rev.pending.revision, error: rev.pending.error, at: iso(rev.pending.at) } } : {}),
    };
    const c = this.d.controls();
    const controls: ControlsSection = {
      paused: c.paused.all,
      pausedServices: [...c.paused.services].sort(),
      frozen: Object.fromEntries(c.frozen),
      notes: Object.fromEntries([...c.notes].map(([p, raw]) => [p, parseNote(raw)])),
    };
    return {
      instance: {
        id: this.d.instanceId,
        startedAt: iso(this.d.startedAt()),
        leading,
        ...(leader ? { leader: { id: leader.instanceId, address: leader.address, since: leader.since } } : {}),
        ...(this.d.instances ? { instances: instanceViews(this.d.instances.list(), leader?.instanceId) } : {}),
        access: { actionsEnabled: this.d.actionsEnabled() },
      },
      revision,
      controls,
      environments: { names: this.d.sync.cache.revision?.state.environments.map((e) => e.name) ?? [] },
    };
  }
}

/** The live instances as the overview lists them: the leader first, then the standbys by ID. */
export function instanceViews(list: readonly InstanceInfo[], leaderId: string | undefined): InstanceView[] {
  const views = list.map((i): InstanceView => ({
    id: i.instanceId,
    address: i.address,
    startedAt: i.startedAt,
    ready: i.ready,
    ...(i.notReady ? { notReady: i.notReady } : {}),
    leading: i.instanceId === leaderId,
  }));
  return views.sort((a, b) => Number(b.leading) - Number(a.leading) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The next status says what the previous one said, but for the pass's own
 * time and ID: the conditions reused as they were (computeStatus keeps them
 * when a pass repeats a success), the same last error, failures and last
 * action (an action that changed something is news each time).
 */
function repeatsVerdict(prev: KeyStatus, next: KeyStatus): boolean {
  const a = prev.lastAction;
  const b = next.lastAction;
  return (
    prev.conditions === next.conditions &&
    prev.lastError === next.lastError &&
    prev.failures === next.failures &&
    a !== undefined &&
    b !== undefined &&
    b.result !== "changed" &&
    a.kind === b.kind &&
    a.reason === b.reason &&
    a.result === b.result &&
    a.message === b.message
  );
}

function issueView(i: { message: string; file?: string | undefined; line?: number | undefined; field?: string | undefined }): { message: string; file?: string; line?: number; field?: string } {
  return { message: i.message, ...(i.file ? { file: i.file } : {}), ...(i.line ? { line: i.line } : {}), ...(i.field ? { field: i.field } : {}) };
}

/** A switch's note (`{"at","by","reason"}`); a value that is not such JSON is shown as the reason. */
function parseNote(raw: string): { by?: string; reason?: string; at?: string } {
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (v && typeof v === "object") {
      return {
        ...(typeof v.by === "string" ? { by: v.by } : {}),
        ...(typeof v.reason === "string" ? { reason: v.reason } : {}),
        ...(typeof v.at === "string" ? { at: v.at } : {}),
      };
    }
  } catch {
    // A hand-written value (`consul kv put steward/control/pause yes`): shown as it is.
  }
  return raw.trim() ? { reason: raw.trim().slice(0, 200) } : {};
}

function serviceOfSwitch(path: string): { service?: string; env?: string; pool?: string } {
  const [head, name] = path.split("/");
  if (head === "pause" && name) return { service: name };
  if (head === "ack-short-circuit" && name) return { pool: name };
  if ((head === "prune-override" || head === "freeze") && name) return { env: name };
  return {};
}

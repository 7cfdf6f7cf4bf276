import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createLogger, type Logger } from "./log.js";
import { createMetrics, initMetrics, type StewardMetrics } from "./metrics.js";
import type { StewardConfig } from "./config/schema.js";
import { readSecret } from "./config/load.js";
import type { TreeSnapshot } from "./model/types.js";
import { snapshotFromDirectory } from "./model/snapshot-dir.js";
import { ConsulClient } from "./sources/consul.js";
import { ConsulKvTreeSource } from "./sources/consul-kv-tree.js";
import { ControlsSource, syncNowRequested } from "./sources/controls.js";
import { GitSource } from "./sources/git.js";
import { TreePoller } from "./sources/tree-poller.js";
import { ConsulKvWriter, SyncStateStore } from "./actuators/consul-kv.js";
import { LeaderElector } from "./reconciler/core/leader.js";
import { SyncLoop } from "./reconciler/sync/loop.js";
import { NomadClients, envTokens, vaultTokens } from "./reconciler/sync/clients.js";
import { VaultSource, vaultAuthFromConfig } from "./sources/vault.js";
import { syncStateOf } from "./reconciler/sync/loop.js";
import { findCondition } from "./reconciler/core/status.js";
import { startServer, type StewardServer } from "./server/http.js";
import { createHealingLoop } from "./reconciler/healing/wire.js";
import { HEALING_ACTION_KINDS } from "./reconciler/healing/plan.js";
import type { HealingLoop, HealingLoopOptions } from "./reconciler/healing/loop.js";
import { actionAuthFromConfig, type ActionAuth } from "./server/action-auth.js";
import { ApprovalStore } from "./sources/approvals.js";
import { ApprovalWriter } from "./actuators/approvals.js";
import { GateRetryStore } from "./sources/gate-retries.js";
import { GateRetryWriter } from "./actuators/gate-retries.js";
import { GateNomadClients, GateRunner } from "./reconciler/promotion/gates.js";
import { PrometheusReader } from "./sources/gate-probes.js";
import { PromotionJournalStore } from "./actuators/journal.js";
import { PromotionLoop, type PromotionLoopOptions } from "./reconciler/promotion/loop.js";
import { promotedImageResolver } from "./reconciler/promotion/observe.js";
import { pinnedImage } from "./reconciler/sync/intake.js";
import { RegistryClient } from "./sources/registry.js";
import { registryCredentialsProvider } from "./sources/registry-credentials.js";
import { checkAction } from "./server/action-auth.js";
import { DaemonLive, instanceViews } from "./server/live-daemon.js";
import { NomadDeploymentsWatch } from "./sources/nomad-deployments.js";
import { InstancesWatch } from "./sources/instances.js";
import { InstancePresence, advertisedUrl } from "./reconciler/core/presence.js";
import { HeapCompactor } from "./heap-compactor.js";

/** How often a directory source is re-read (it has no webhook): a local tree for demos and development. */
const DIRECTORY_POLL_MS = 2_000;

/** Overrides for tests and the demo: time, logging, Nomad HTTP retry pacing. */
export interface DaemonOverrides {
  logger?: Logger;
  metrics?: StewardMetrics;
  leader?: { ttlMs?: number; lockDelayMs?: number; stepDownMarginMs?: number; waitMs?: number };
  watchWaitMs?: number;
  /** Promotion loop pacing (registry poll period and backoff, queue backoff). */
  promotion?: Partial<Pick<PromotionLoopOptions, "pollIntervalMs" | "pollBackoff" | "runner" | "gates" | "approvals">>;
  /** Where the production build of ui/ is. @default dist/ui */
  uiDir?: string;
  /** Healing loop overrides (a sim clock, a fake Terraform). */
  healing?: Partial<HealingLoopOptions>;
  /** The presence session's pacing (reconciler/core/presence.ts). */
  presence?: { ttlMs?: number; renewIntervalMs?: number };
}

/**
 * Steward's main job: one instance of the daemon. Every instance watches
 * (so a standby's caches are warm); the one holding the Consul lock acts.
 */
export class Daemon {
  readonly logger: Logger;
  readonly metrics: StewardMetrics;
  readonly sync: SyncLoop;
  readonly promotion: PromotionLoop;
  /** The healing loop, when `config.healing` is set. */
  readonly healing: HealingLoop | undefined;
  readonly consul: ConsulClient;
  readonly elector: LeaderElector;
  /** Steward's credentials from Vault, when `config.vault` is set. */
  readonly vault: VaultSource | undefined;
  /** The live UI's state, events and routes. */
  readonly live: DaemonLive;
  /** One full GC after a revision or a lead, once quiet: the heap a large intake grew is given back. */
  private readonly heapCompactor: HeapCompactor;
  private readonly controls: ControlsSource;
  /** Each environment's latest deployment per job, for the overview's cells (every instance). */
  readonly deployments: NomadDeploymentsWatch;
  /** Every live instance, from the presence keys (every instance). */
  readonly instances: InstancesWatch;
  /** This instance's presence key; made at start, once the HTTP address is known. */
  private presence: InstancePresence | undefined;
  /** Manual approvals (`<statePrefix>/approvals/`), watched on every instance so the cache is warm at failover. */
  readonly approvals: ApprovalStore;
  private readonly approvalWriter: ApprovalWriter;
  /** Operators' requests to retry a failed gate (`<statePrefix>/gate-retries/`), watched on every instance; the leader acts on them. */
  readonly gateRetries: GateRetryStore;
  private readonly gateRetryWriter: GateRetryWriter;
  private readonly writer: ConsulKvWriter;
  private poller: TreePoller | undefined;
  private kvTree: ConsulKvTreeSource | undefined;
  private server: StewardServer | undefined;
  /** The action endpoints' bearer token (steward.yaml `api.actionToken`); undefined: actions are refused. */
  private readonly actionAuth: ActionAuth | undefined;
  private startedAt = Date.now();

  constructor(
    readonly config: StewardConfig & { instanceId: string },
    private readonly overrides: DaemonOverrides = {},
  ) {
    this.logger = overrides.logger ?? createLogger({ base: { instance: config.instanceId } });
    this.metrics = overrides.metrics ?? createMetrics();
    initMetrics(this.metrics, { actionKinds: { sync: ["register", "stop", "noop"], promotion: ["setStageDigest", "startGate", "record", "fail", "retryGate", "dropRetry"], healing: HEALING_ACTION_KINDS } });
    this.vault = config.vault
      ? new VaultSource({ address: config.vault.address, auth: vaultAuthFromConfig(config.vault.auth), kvMount: config.vault.kvMount, logger: this.logger, metrics: this.metrics })
      : undefined;
    // Before the Vault source starts, so its first read includes the token.
    this.actionAuth = actionAuthFromConfig(config.api?.actionToken, this.vault);
    this.consul = new ConsulClient({
      address: config.consul.address,
      token: consulToken(config.consul.token, this.vault),
      metrics: this.metrics,
      logger: this.logger,
    });
    const prefix = config.statePrefix.replace(/\/+$/, "");
    const writer = new ConsulKvWriter(this.consul, { controlPrefix: `${prefix}/control/` });
    this.writer = writer;
    this.approvals = new ApprovalStore({ consul: this.consul, prefix: `${prefix}/approvals/`, logger: this.logger, metrics: this.metrics });
    this.approvalWriter = new ApprovalWriter(writer, { prefix: `${prefix}/approvals/` });
    this.gateRetries = new GateRetryStore({ consul: this.consul, prefix: `${prefix}/gate-retries/`, logger: this.logger, metrics: this.metrics });
    this.gateRetryWriter = new GateRetryWriter(writer, { prefix: `${prefix}/gate-retries/` });
    const tokens = this.vault ? vaultTokens(this.vault) : envTokens;
    // The gates' own Nomad clients: a verify gate registers its batch job in the stage it gates.
    const gateNomad = new GateNomadClients({ environments: () => this.promotion.cache.state?.environments ?? [], tokens, logger: this.logger, metrics: this.metrics });
    this.promotion = new PromotionLoop({
      approvals: this.approvals,
      retries: {
        requestFor: (service, digest) => this.gateRetries.requestFor(service, digest),
        digestsOf: (service) => this.gateRetries.digestsOf(service),
        watch: (listener) => this.gateRetries.watch(listener),
        remove: (service, digest, index) => this.gateRetryWriter.remove(service, digest, index),
      },
      onRetry: (e) => this.live.onRetry(e),
      gates: new GateRunner({
        nomad: (stage) => gateNomad.for(stage),
        prometheus: config.prometheus ? new PrometheusReader(config.prometheus.address, { logger: this.logger, metrics: this.metrics }) : undefined,
        logger: this.logger,
        metrics: this.metrics,
      }),
      // Sync's clients: one reader per environment, shared.
      nomad: (env) => this.sync.clients.get(env).reader,
      registry: new RegistryClient({ credentials: registryCredentialsProvider(config.registries ?? [], this.vault), http: { logger: this.logger, metrics: this.metrics } }),
      journal: new PromotionJournalStore(this.consul, writer, { prefix: `${prefix}/journal/promotion/`, logger: this.logger }),
      logger: this.logger,
      metrics: this.metrics,
      onStageDigest: (service) => {
        this.live.onPromotionChange(service);
        return this.sync.refreshService(service);
      },
      onStatus: (st) => this.live.onPromotionChange(st.key),
      ...(overrides.watchWaitMs !== undefined ? { watchWaitMs: overrides.watchWaitMs } : {}),
      ...overrides.promotion,
    });
    this.sync = new SyncLoop({
      clients: new NomadClients({ tokens: this.vault ? vaultTokens(this.vault) : envTokens, logger: this.logger, metrics: this.metrics }),
      store: new SyncStateStore(this.consul, writer, { prefix: `${prefix}/state/sync/`, logger: this.logger }),
      logger: this.logger,
      metrics: this.metrics,
      // The promotion journal decides each promoted service's image per stage; the pinned digest otherwise.
      resolveImage: promotedImageResolver(this.promotion.cache, pinnedImage),
      ...(overrides.watchWaitMs !== undefined ? { watchWaitMs: overrides.watchWaitMs } : {}),
      onStatus: (st) => this.live.onSyncStatus(st),
      onChange: (key) => this.live.onSyncChange(key),
    });
    this.healing = config.healing
      ? createHealingLoop({
          config: config.healing,
          consul: this.consul,
          consulToken: consulToken(config.consul.token, this.vault),
          writer,
          tokens: this.vault ? vaultTokens(this.vault) : envTokens,
          statePrefix: prefix,
          logger: this.logger,
          metrics: this.metrics,
          overrides: { ...overrides.healing, onStatus: (st) => this.live.onPoolChange(st.key), onProgress: (pool) => this.live.onPoolChange(pool) },
        })
      : undefined;
    this.controls = new ControlsSource({ consul: this.consul, prefix: `${prefix}/control/`, logger: this.logger, metrics: this.metrics });
    this.elector = new LeaderElector({
      consul: this.consul,
      instanceId: config.instanceId,
      address: `http://${config.http.listen}`,
      key: `${prefix}/leader`,
      logger: this.logger,
      metrics: this.metrics,
      ...overrides.leader,
    });
    this.deployments = new NomadDeploymentsWatch({
      reader: (env) => this.sync.clients.get(env).reader,
      onChange: (env, jobs) => this.live.onDeployments(env, jobs),
      ...(overrides.watchWaitMs !== undefined ? { waitMs: overrides.watchWaitMs } : {}),
      logger: this.logger,
      metrics: this.metrics,
    });
    this.instances = new InstancesWatch({
      consul: this.consul,
      prefix: `${prefix}/instances/`,
      onChange: () => this.live.onInstances(),
      ...(overrides.watchWaitMs !== undefined ? { waitMs: overrides.watchWaitMs } : {}),
      logger: this.logger,
      metrics: this.metrics,
    });
    this.heapCompactor = new HeapCompactor({ logger: this.logger });
    this.live = new DaemonLive({
      instanceId: config.instanceId,
      deployments: this.deployments,
      instances: this.instances,
      promotion: this.promotion,
      ...(this.healing ? { healing: this.healing } : {}),
      startedAt: () => this.startedAt,
      sync: this.sync,
      elector: this.elector,
      controls: () => this.controls.current,
      writer,
      gateRetries: this.gateRetryWriter,
      promotionRecord: (service, digest) => this.promotion.cache.records.get(service)?.find((e) => e.record.digest === digest)?.record,
      logger: this.logger,
      authorize: (req) => checkAction(req, this.actionAuth),
      actionsEnabled: () => this.actionAuth !== undefined,
      reads: () => config.api?.uiReads ?? "open",
      sessionKey: () => this.actionAuth?.token(),
      ...(overrides.uiDir ? { uiDir: overrides.uiDir } : {}),
    });
  }

  /** The HTTP address, once started. */
  get url(): string | undefined {
    return this.server?.url;
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    const webhookSecret = await readSecret(this.config.webhookSecret);
    const registrySecret = await readSecret(this.config.registryWebhookSecret);
    this.server = await startServer(this.config.http.listen, {
      registry: this.metrics.registry,
      logger: this.logger,
      healthy: () => true,
      ready: () => this.readiness(),
      status: () => this.status(),
      webhookSecret,
      onGitHook: () => this.onGitHook(),
      actionAuth: this.actionAuth,
      approvals: { record: (r) => this.approvalWriter.record(r), list: () => this.approvals.list() },
      registryHook: { secret: registrySecret, onPushes: (pushes) => this.onRegistryHook(pushes) },
      routes: [this.live.route()],
    });
    if (this.vault) {
      // The Consul token may be in Vault, and every loop needs its credentials: nothing starts before the first read.
      this.vault.start();
      await this.vault.whenReady();
    }
    this.controls.onChange((next, prev) => {
      this.sync.cache.paused = { all: next.paused.all, services: new Set(next.paused.services) };
      this.promotion.cache.paused.clear();
      for (const s of next.paused.all ? (this.sync.cache.revision?.state.services.map((x) => x.name) ?? []) : next.paused.services) this.promotion.cache.paused.add(s);
      this.sync.cache.pruneOverride = new Set(next.pruneOverride);
      this.sync.cache.frozen = next.frozen;
      this.promotion.cache.frozen = next.frozen;
      this.healing?.setAcks(next.shortCircuitAcks);
      if (next.unknown.length) this.logger.warn({ keys: next.unknown }, "controls: unknown keys ignored");
      if (prev !== undefined && syncNowRequested(prev, next)) this.poller?.trigger();
      const pauseChanged = prev === undefined || prev.paused.all !== next.paused.all || !sameSet(prev.paused.services, next.paused.services);
      const scope = next.syncNowScope;
      if (syncNowRequested(prev, next) && !pauseChanged && (scope.env || scope.service)) this.wakeScope(scope);
      else if (syncNowRequested(prev, next) || pauseChanged) {
        // sync-now means "really re-plan"; a pause switched only un-skips the keys it changes.
        this.sync.wakeAll({ force: syncNowRequested(prev, next) });
        this.promotion.wakeAll();
      }
      if (prev !== undefined && syncNowRequested(prev, next)) this.promotion.pollAll();
      // A freeze or unfreeze: that environment's jobs are looked at again (their plans say Frozen, or act), and every promotion.
      const frozenChanged = [...new Set([...(prev?.frozen.keys() ?? []), ...next.frozen.keys()])].filter((env) => prev?.frozen.has(env) !== next.frozen.has(env));
      for (const env of frozenChanged) this.wakeScope({ env });
      if (frozenChanged.length) this.promotion.wakeAll();
      this.live.onControls(next, prev);
    });
    this.controls.start();
    this.presence = new InstancePresence({
      consul: this.consul,
      instanceId: this.config.instanceId,
      address: advertisedUrl(this.server.url),
      startedAt: this.startedAt,
      readiness: () => this.readiness(),
      prefix: `${this.config.statePrefix.replace(/\/+$/, "")}/instances/`,
      logger: this.logger,
      ...this.overrides.presence,
    });
    this.presence.start();
    this.instances.start();
    this.approvals.watch((service, digest) => this.live.onApproval(this.approvals.list().find((a) => a.service === service && a.digest === digest)));
    this.approvals.start();
    this.gateRetries.start();
    this.promotion.start();
    this.startSource();
    this.elector.onChange((leading) => {
      if (this.healing) {
        const h = this.healing;
        void (leading ? h.lead() : h.standBy()).catch((err: unknown) => this.logger.error({ err: (err as Error).message, loop: "healing" }, "healing: could not change role"));
      }
      // Sync registers a promoted stage's image only once the journal says which one it is.
      const lead = async (): Promise<void> => {
        await this.promotion.whenJournalSynced();
        await this.promotion.catchUp();
        await Promise.all([this.sync.lead(), this.promotion.lead()]);
        this.heapCompactor.schedule();
      };
      void (leading ? lead() : Promise.all([this.sync.standBy(), this.promotion.standBy()])).catch((err: unknown) =>
        this.logger.error({ err: (err as Error).message }, leading ? "could not start leading" : "could not stand by"),
      );
    });
    this.elector.start();
    this.logger.info({ listen: this.server.url, source: this.sourceName() }, "steward started");
  }

  async stop(): Promise<void> {
    // Leaving first: the others' overviews drop this instance at once.
    await this.presence?.stop();
    await this.elector.stop();
    await this.poller?.stop();
    await this.kvTree?.stop();
    await this.controls.stop();
    await this.approvals.stop();
    await this.instances.stop();
    await this.deployments.stop();
    await this.gateRetries.stop();
    await this.promotion.stop();
    await this.sync.stop();
    await this.healing?.stop();
    await this.vault?.stop();
    this.live.close();
    this.heapCompactor.close();
    await this.server?.close();
  }

  /**
   * A webhook may reach any instance (a load balancer picks one), but only the
   * leader acts: the hook fetches here, and a standby also flips the
   * `sync-now` control so the leader, which watches the controls, fetches too.
   */
  private onGitHook(): void {
    this.poller?.trigger();
    if (!this.elector.isLeader) {
      void this.writer.putControl({ kind: "sync-now" }, { by: this.config.instanceId, reason: "git webhook" }).catch((err: unknown) =>
        this.logger.warn({ err: (err as Error).message }, "could not pass the webhook on to the leader"),
      );
    }
  }

  /**
   * A registry notification: the services it names poll the registry now.
   * A standby also flips `sync-now`, so the leader (which acts) polls too,
   * the way a git webhook reaches it.
   */
  private onRegistryHook(pushes: ReadonlyArray<{ repository: string }>): string[] {
    const services = this.promotion.notify(pushes);
    if (services.length && !this.elector.isLeader) {
      void this.writer.putControl({ kind: "sync-now" }, { by: this.config.instanceId, reason: "registry webhook" }).catch((err: unknown) =>
        this.logger.warn({ err: (err as Error).message }, "could not pass the registry webhook on to the leader"),
      );
    }
    return services;
  }

  /** A scoped sync-now: wakes the jobs of one environment and/or one service. */
  private wakeScope(scope: { env?: string; service?: string }): void {
    const rev = this.sync.cache.revision;
    for (const k of this.sync.cache.keys()) {
      if (scope.env && k.env !== scope.env) continue;
      if (scope.service && rev?.jobs.get(k.env)?.get(k.jobId)?.service !== scope.service) continue;
      this.sync.wake(k);
    }
  }

  private startSource(): void {
    const src = this.config.source;
    const accept = async (s: TreeSnapshot): Promise<"accepted" | "refused" | "pending"> => {
      const result = await this.sync.acceptSnapshot(s);
      if (result === "accepted" && this.sync.cache.revision) this.promotion.setRevision(this.sync.cache.revision);
      this.live.onRevision(result, s);
      if (result === "accepted") this.heapCompactor.schedule();
      // Healing reads the same revision in force (its pools and environments).
      const state = this.sync.cache.revision?.state;
      if (result === "accepted" && state) this.healing?.setDesired(state);
      if (result === "accepted" && state) this.deployments.ensure(state.environments);
      return result;
    };
    if ("consul" in src) {
      this.kvTree = new ConsulKvTreeSource({ consul: this.consul, prefix: src.consul.prefix, onSnapshot: async (s) => void (await accept(s)), logger: this.logger, metrics: this.metrics });
      this.kvTree.start();
      return;
    }
    if ("git" in src) {
      const git = new GitSource({
        url: src.git.url,
        branch: src.git.branch,
        subdir: src.git.subdir,
        cacheDir: path.join(this.dataDir(), "git"),
      });
      this.poller = new TreePoller({ name: "git", read: () => git.snapshot(), onSnapshot: accept, intervalMs: src.git.fetchIntervalMs, logger: this.logger, metrics: this.metrics });
    } else {
      const dir = path.resolve(src.directory.path);
      let seq = 0;
      let last = "";
      this.poller = new TreePoller({
        name: "directory",
        // A directory has no commits: its revision is a content hash, so an unchanged tree is not offered again.
        read: async () => {
          const snap = await snapshotFromDirectory(dir, "pending", `dir:${dir}`);
          const hash = contentHash(snap);
          if (hash !== last) {
            last = hash;
            seq++;
          }
          return { ...snap, revision: `dir-${seq}-${hash.slice(0, 12)}` };
        },
        onSnapshot: accept,
        intervalMs: DIRECTORY_POLL_MS,
        logger: this.logger,
        metrics: this.metrics,
      });
    }
    this.poller.start();
  }

  private sourceName(): string {
    const src = this.config.source;
    return "git" in src ? `git:${src.git.url}` : "consul" in src ? `consul:${src.consul.prefix}` : `dir:${src.directory.path}`;
  }

  private dataDir(): string {
    return this.config.dataDir ?? path.resolve(".cache", "steward", this.config.instanceId);
  }

  /** Ready when the desired state is loaded, every watched cluster was read, and the controls and approvals were read. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.sync.revision.good) reasons.push(this.sync.revision.refused ? "the desired state is invalid and no earlier revision is in force" : "the desired state has not been read yet");
    else if (!this.sync.synced) reasons.push("not every environment's Nomad jobs have been read yet");
    if (!this.controls.synced) reasons.push("the controls in Consul KV have not been read yet");
    if (!this.approvals.synced) reasons.push("the manual approvals in Consul KV have not been read yet");
    if (this.poller?.lastError) reasons.push(`desired-state source: ${this.poller.lastError}`);
    if (this.vault && !this.vault.ready) reasons.push(`Steward's credentials have not been read from Vault yet${this.vault.problems().map((p) => `; ${p.path}: ${p.message}`).join("")}`);
    return { ready: reasons.length === 0, reasons };
  }

  /** The `/api/status` document: who leads, the revision in force (and a refused one), and every job's state and reason. */
  status(): unknown {
    const leader = this.elector.currentLeader();
    return {
      instance: this.config.instanceId,
      startedAt: new Date(this.startedAt).toISOString(),
      leader: { self: this.elector.isLeader, ...(leader ? { id: leader.instanceId, address: leader.address } : {}) },
      instances: instanceViews(this.instances.list(), leader?.instanceId),
      revision: this.sync.revision,
      environments: this.sync.cache.revision?.state.environments.map((e) => e.name) ?? [],
      promotion: this.promotion.status(),
      controls: { paused: this.sync.cache.paused.all, pausedServices: [...this.sync.cache.paused.services], frozen: Object.fromEntries(this.sync.cache.frozen) },
      gateRetries: this.gateRetries.list().map(({ service, digest, stage, by, at, reason }) => ({ service, digest, stage, by, ...(at ? { at } : {}), ...(reason ? { reason } : {}) })),
      ...(this.healing ? { healing: { pools: this.healing.poolStatuses(), declared: this.healing.pools.map((p) => p.name) } } : {}),
      resync: resyncView(this.sync.lastChecked(), this.sync.nextResyncAt),
      jobs: this.sync.statuses().map((s) => {
        const ready = findCondition(s, "Ready");
        return {
          key: s.key,
          state: syncStateOf(s),
          ready: ready?.status ?? "Unknown",
          reason: s.lastAction?.reason ?? ready?.reason,
          message: s.lastAction?.message ?? ready?.message,
          ...(s.lastError && ready?.status !== "True" ? { error: s.lastError.message } : {}),
          lastReconcileTime: s.lastReconcileTime,
        };
      }),
    };
  }
}

/**
 * The safety net in `/api/status`: per environment, when the last full resync
 * read its jobs list and looked at every job (a job it skipped, because
 * nothing it depends on changed, keeps its own `lastReconcileTime`), and when
 * the next one is due. Empty on a standby.
 */
function resyncView(checked: ReadonlyMap<string, number>, next: number | undefined): { lastCheckedByEnv: Record<string, string>; next?: string } {
  return {
    lastCheckedByEnv: Object.fromEntries([...checked].map(([env, at]) => [env, new Date(at).toISOString()])),
    ...(next !== undefined ? { next: new Date(next).toISOString() } : {}),
  };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** The Consul token per call: from Vault (asked for now, so the first read includes it) or the environment. */
function consulToken(ref: StewardConfig["consul"]["token"], vault: VaultSource | undefined): () => string | undefined {
  if (ref && "vault" in ref) {
    const { path: secret, key } = ref.vault;
    vault?.want(secret, key);
    return () => vault?.get(secret, key);
  }
  if (ref && "file" in ref) {
    // Nomad's template re-renders the file when the token rotates, so it is read on each call (it is tiny).
    const file = ref.file;
    return () => {
      try {
        return readFileSync(file, "utf8").trim() || undefined;
      } catch {
        return undefined;
      }
    };
  }
  const name = ref && "env" in ref ? ref.env : undefined;
  return () => (name ? process.env[name] : undefined);
}

function contentHash(snap: TreeSnapshot): string {
  const h = createHash("sha256");
  for (const [file, buf] of [...snap.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(file).update("\0").update(buf).update("\0");
  return h.digest("hex");
}

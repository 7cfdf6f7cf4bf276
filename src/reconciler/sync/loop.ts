import { isDeepStrictEqual } from "node:util";
import type { Logger } from "../../log.js";
import { SYNC_STATES, type StewardMetrics } from "../../metrics.js";
import type { EnvironmentSpec, TreeSnapshot } from "../../model/types.js";
import { InvalidInputError, type ValidationIssue } from "../../model/errors.js";
import { Watch } from "../../sources/watch.js";
import type { NomadJobStub, NomadReader } from "../../sources/nomad.js";
import { LEAD_SYNC_WAIT_MS, SYNC_LIST_WAIT_RECHECK_MS, WATCH_BLOCKING_WAIT_MS } from "../../config/defaults.js";
import { Runner, type PassContext, type RunnerOptions } from "../core/runner.js";
import { WaitingError, type ActionRecord, type PassResult } from "../core/outcome.js";
import type { KeyStatus } from "../core/status.js";
import { RevisionIntake, type ImageResolver, type RenderedRevision, pinnedImage } from "./intake.js";
import { SyncCache, observeSync, sameSyncInputs, syncInputs, syncKeyString, type SyncInputs, type SyncKey } from "./observe.js";
import { planSync, type AppliedRecord, type DriftCheck, type SyncAction, type SyncPlan } from "./plan.js";
import type { NomadClients } from "./clients.js";

/** Where Steward keeps what it registered, so a new leader knows (Consul KV in production). */
export interface AppliedStore {
  /** `env/job` → record. */
  loadApplied(): Promise<Map<string, AppliedRecord>>;
  putApplied(env: string, jobId: string, record: AppliedRecord & { revision: string }): Promise<void>;
}

/** A store in memory, for `steward plan` and tests; a failover forgets it. */
export class MemorySyncStateStore implements AppliedStore {
  readonly records = new Map<string, AppliedRecord>();
  loadApplied(): Promise<Map<string, AppliedRecord>> {
    return Promise.resolve(new Map(this.records));
  }
  putApplied(env: string, jobId: string, r: AppliedRecord): Promise<void> {
    this.records.set(`${env}/${jobId}`, { jobModifyIndex: r.jobModifyIndex, specHash: r.specHash });
    return Promise.resolve();
  }
}

/** What became of the latest revisions: the one in force, and the last one refused. */
export interface RevisionStatus {
  good?: { revision: string; origin: string; at: number };
  refused?: { revision: string; origin: string; at: number; issues: ValidationIssue[] };
  /** A revision that could not be rendered yet (Nomad unreachable for parsing): retried. */
  pending?: { revision: string; error: string; at: number };
}

export interface SyncLoopOptions {
  clients: NomadClients;
  store: AppliedStore;
  logger: Logger;
  metrics?: StewardMetrics;
  /** Which image each service runs per environment. @default the digest pinned in service.yaml */
  resolveImage?: ImageResolver;
  /** Server-side wait of the jobs-list blocking queries. @default WATCH_BLOCKING_WAIT_MS */
  watchWaitMs?: number;
  runner?: Partial<Pick<RunnerOptions<SyncKey>, "workers" | "resyncIntervalMs" | "queue" | "clock" | "random">>;
  now?: () => number;
  onStatus?: (s: KeyStatus) => void;
  /**
   * Called on every instance when what a key's view depends on may have
   * changed: its job moved in Nomad, the desired state or the switches
   * changed (key undefined: every key), or the leader is about to act on it.
   * For views (the live UI); it must not throw or block.
   */
  onChange?: (key: SyncKey | undefined) => void;
}

/**
 * The sync loop: keeps every environment's Nomad jobs equal to the desired
 * state. It wires the pieces and nothing more: sources fill the cache,
 * `observeSync` builds a snapshot, `planSync` decides, the Nomad actuator
 * writes, and the runner records.
 *
 * Standby instances run the watches (their caches stay warm); only the
 * leader runs the runner, so only the leader writes.
 */
export class SyncLoop {
  readonly cache = new SyncCache();
  readonly revision: RevisionStatus = {};
  private readonly intake: RevisionIntake;
  private readonly watches = new Map<string, { fingerprint: string; watch: Watch<NomadJobStub[]> }>();
  private runner: Runner<SyncKey> | undefined;
  private readonly now: () => number;
  private readonly jobStates = new Map<string, SyncState>();
  /**
   * `env/job` → the inputs its last clean pass planned from (noops only, no
   * recheck), in this term of leadership: a resync skips the key while they
   * are unchanged. Dropped at the start of every pass, so a failed one leaves none.
   */
  private readonly settled = new Map<string, SyncInputs>();
  /** The latest noop record per reason (see `noopRecord`). */
  private readonly noopRecords = new Map<string, ActionRecord>();
  /** env → when a full resync (or, leading, the first list) last read its jobs list afresh and looked at every key (epoch ms). */
  private readonly checked = new Map<string, number>();

  /** The Nomad clients per environment (read-only use outside the loop: `steward plan`). */
  get clients(): NomadClients {
    return this.o.clients;
  }

  constructor(private readonly o: SyncLoopOptions) {
    this.now = o.now ?? Date.now;
    this.intake = new RevisionIntake((env) => o.clients.get(env).reader, o.resolveImage ?? pinnedImage);
  }

  /** True while this instance runs the loop's writes. */
  get leading(): boolean {
    return this.runner !== undefined;
  }

  /** Every environment's jobs list has been read at least once. */
  get synced(): boolean {
    return this.cache.revision !== undefined && [...this.watches.values()].every((w) => w.watch.synced);
  }

  /** Statuses of every key the runner has seen (empty on a standby). */
  statuses(): KeyStatus[] {
    return this.runner?.status.list() ?? [];
  }

  /** The status of one key (`qa/web`); undefined on a standby or before its first pass. */
  statusOf(key: string): KeyStatus | undefined {
    return this.runner?.status.get(key);
  }

  /**
   * Per environment, when the last full resync read its jobs list afresh and
   * looked at every key (epoch ms): the safety net ran, even for keys it
   * skipped because nothing they depend on changed. Empty on a standby.
   */
  lastChecked(): ReadonlyMap<string, number> {
    return this.checked;
  }

  /** When the next full resync is due (epoch ms); undefined on a standby. */
  get nextResyncAt(): number | undefined {
    return this.runner?.nextResyncAt;
  }

  /**
   * Takes a new revision of the desired state. A valid one replaces the one in
   * force and wakes every key; an invalid one is refused whole, and the last
   * good one stays in force.
   * @returns what became of it
   */
  async acceptSnapshot(snapshot: TreeSnapshot): Promise<"accepted" | "refused" | "pending"> {
    const at = this.now();
    try {
      const rendered = await this.intake.accept(snapshot);
      const before = this.cache.revision;
      const changed = changedKeys(before, rendered);
      this.cache.revision = rendered;
      for (const k of changed) {
        const job = rendered.jobs.get(k.env)?.get(k.jobId);
        if (job) this.cache.lastPolicy.set(syncKeyString(k), job.policy);
      }
      this.revision.good = { revision: snapshot.revision, origin: snapshot.origin, at };
      delete this.revision.pending;
      if (this.revision.refused?.revision === snapshot.revision) delete this.revision.refused;
      this.ensureWatches(rendered.state.environments);
      const m = this.o.metrics;
      if (m) {
        m.desiredStateValid.set(1);
        m.desiredStateInfo.reset();
        m.desiredStateInfo.set({ revision: snapshot.revision.slice(0, 12) }, 1);
        for (const e of rendered.state.environments) for (const st of SYNC_STATES) m.syncJobs.inc({ env: e.name, state: st }, 0);
      }
      this.o.logger.info(
        { revision: snapshot.revision, origin: snapshot.origin, jobs: countJobs(rendered.jobs), changed: changed.length, rendered: this.intake.lastRendered, load: this.intake.loader.lastLoad.mode },
        "sync: revision accepted",
      );
      // A key whose desired job is the same object has nothing new to look at: only what the revision
      // changed is woken (the periodic resync still looks at every key). Environments or steward.yaml's
      // defaults changing touch every key.
      if (before && before.state.environments === rendered.state.environments && before.state.syncDefaults === rendered.state.syncDefaults) {
        for (const k of [...changed, ...absentKeysOf(this.cache, before, rendered, changed)]) this.wake(k);
      } else this.wakeAll({ force: true });
      return "accepted";
    } catch (err) {
      if (err instanceof InvalidInputError) {
        this.revision.refused = { revision: snapshot.revision, origin: snapshot.origin, at, issues: err.issues };
        this.o.metrics?.sourceErrorsTotal.inc({ source: "desired-state" });
        this.o.metrics?.desiredStateValid.set(0);
        this.o.logger.error(
          { revision: snapshot.revision, origin: snapshot.origin, issues: err.issues.length, in_force: this.revision.good?.revision },
          err.message,
        );
        return "refused";
      }
      this.revision.pending = { revision: snapshot.revision, error: (err as Error).message, at };
      this.o.logger.warn({ revision: snapshot.revision, err: (err as Error).message }, "sync: revision could not be rendered yet; will retry");
      return "pending";
    }
  }

  /**
   * Starts writing: waits until every environment's jobs list was read (else
   * the first passes would take existing jobs for missing ones), loads
   * Steward's records of what it registered, then runs every key.
   */
  async lead(): Promise<void> {
    if (this.runner) return;
    // Bounded: one unreachable cluster must not keep the leader from acting on the others.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenSynced(), new Promise<void>((r) => (timer = setTimeout(r, LEAD_SYNC_WAIT_MS)))]);
    clearTimeout(timer);
    const applied = await this.o.store.loadApplied();
    this.cache.applied.clear();
    for (const [k, v] of applied) this.cache.applied.set(k, v);
    // A new term starts from real passes: what an earlier term saw is not taken on trust.
    this.settled.clear();
    this.checked.clear();
    const r = this.o.runner ?? {};
    this.runner = new Runner<SyncKey>({
      loop: "sync",
      keyOf: syncKeyString,
      keyFields: (k) => ({ env: k.env, nomad_job: k.jobId }),
      reconcile: (key, ctx) => this.reconcile(key, ctx),
      listKeys: () => this.listForResync(),
      upToDate: (key, id) => this.upToDate(key, id),
      logger: this.o.logger,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      onStatus: (st) => {
        this.recordJobState(st);
        this.o.onStatus?.(st);
      },
      ...r,
    });
    this.runner.start();
    this.o.logger.info({ loop: "sync" }, "sync: leading; writes enabled");
  }

  /** Stops writing (leadership lost); watches keep the caches warm. */
  async standBy(): Promise<void> {
    const r = this.runner;
    this.runner = undefined;
    this.settled.clear();
    this.checked.clear();
    if (r) await r.stop();
  }

  /**
   * Runs the full resync now (the periodic one, RESYNC_INTERVAL_MS, does the
   * same): reads every environment's jobs list afresh, then looks at every
   * key, skipping those whose inputs are those of their last clean pass.
   * @returns keys queued and skipped; undefined on a standby
   */
  async resync(): Promise<{ queued: number; skipped: number } | undefined> {
    return this.runner?.resyncNow();
  }

  /**
   * The resync's key list. The jobs lists are read first, without blocking:
   * skipping keys trusts the caches, and a watch that missed a change (stuck
   * in backoff, a hung connection) must not hide it. A list whose index has
   * not moved since the watch's last answer is not parsed again.
   */
  private async listForResync(): Promise<SyncKey[]> {
    await Promise.all(
      [...this.watches].map(async ([name, { watch }]) => {
        const env = this.envSpec(name);
        // Not read yet: the watch's own first answer wakes the keys.
        if (!env || !watch.synced) return;
        try {
          const r = await this.o.clients.get(env).reader.listJobsNow(watch.index);
          if (r.data) {
            this.o.logger.warn({ env: name, index: r.index, watch_index: watch.index }, "sync: the resync found a jobs list the watch had not delivered");
            this.onJobs(name, r.data);
          }
          this.checked.set(name, this.now());
        } catch (err) {
          this.o.logger.warn({ env: name, err: (err as Error).message }, "sync: resync could not read the jobs list; comparing against the cached one");
        }
      }),
    );
    return this.cache.keys();
  }

  /** The key's last pass was clean and nothing its plan depends on changed since. */
  private upToDate(key: SyncKey, id: string): boolean {
    const before = this.settled.get(id);
    return before !== undefined && sameSyncInputs(before, syncInputs(this.cache, key, this.cache.revision?.jobs.has(key.env) === true, id));
  }

  /** Wakes one key now (a webhook, an operator's sync-now). */
  wake(key: SyncKey): void {
    this.o.onChange?.(key);
    this.runner?.add(key);
  }

  /**
   * Renders one service's jobs again with the image the resolver gives now
   * and looks at them at once: the promotion loop calls it after the journal
   * changed which digest a stage runs (or holds). A job whose ID changed with
   * the image is not expected (the ID must not depend on `var.image`).
   * @throws TransientError when an environment's Nomad cannot be reached to parse
   */
  async refreshService(name: string): Promise<void> {
    const rev = this.cache.revision;
    const service = rev?.state.services.find((s) => s.name === name);
    if (!rev || !service) return;
    const { jobs, issues } = await this.intake.renderService(rev.state, service);
    for (const i of issues) this.o.logger.error({ service: name, env: i.env, file: i.file }, `sync: re-render for a new image refused: ${i.message}`);
    // A revision accepted meanwhile was rendered with the resolver's current answer already.
    if (this.cache.revision !== rev) return;
    for (const [env, job] of jobs) {
      const id = String(job.spec.ID);
      rev.jobs.get(env)?.set(id, job);
      this.wake({ env, jobId: id });
    }
  }

  /** Waits until every environment's jobs list was read once. */
  async whenSynced(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.watch.whenSynced()));
  }

  /**
   * Looks at every key again. With `force` (an operator's sync-now: "really
   * re-plan") each gets a real pass; without (a new revision, a pause
   * switched), a key whose inputs are those of its last clean pass is
   * skipped, as a resync would.
   * @returns how many keys were queued (0 on a standby)
   */
  wakeAll(opts: { force?: boolean } = {}): number {
    this.o.onChange?.(undefined);
    const r = this.runner;
    if (!r) return 0;
    let queued = 0;
    for (const k of this.cache.keys()) {
      if (opts.force) {
        r.add(k);
        queued++;
      } else if (r.visit(k)) queued++;
    }
    return queued;
  }

  async stop(): Promise<void> {
    await this.standBy();
    await Promise.all([...this.watches.values()].map((w) => w.watch.stop()));
    this.watches.clear();
  }

  /**
   * Observes one key (reading from Nomad only what the caches cannot answer:
   * a full job for autoscaled counts, a plan diff for an outside change) and
   * plans it. Changes nothing in Nomad; `steward plan` uses it as it is.
   */
  async planKey(key: SyncKey, now: number): Promise<SyncPlan> {
    const env = this.envSpec(key.env);
    if (!env) return { actions: [] };
    const { reader } = this.o.clients.get(env);
    const k = syncKeyString(key);
    const first = observeSync(this.cache, key);
    const { needs } = first;
    let { snapshot } = first;
    if (needs.fullJob) {
      const job = await reader.getJob(key.jobId);
      if (job) this.cache.fullJobs.set(k, job);
    }
    if (needs.driftCheck) this.cache.drift.set(k, await this.checkDrift(key, reader));
    // Observed again only when something was read (an idle key reads nothing).
    if (needs.fullJob || needs.driftCheck) snapshot = observeSync(this.cache, key).snapshot;
    const absentBefore = this.cache.absentSince.has(k);
    this.trackAbsence(k, snapshot.desired !== undefined, snapshot.actual !== undefined && !snapshot.actual.stopped, now);
    if (this.cache.absentSince.has(k) !== absentBefore) snapshot = observeSync(this.cache, key).snapshot;
    return planSync(snapshot, now);
  }

  /** One pass over one job in one environment: observe, plan, act. */
  async reconcile(key: SyncKey, ctx: PassContext): Promise<PassResult> {
    const k = syncKeyString(key);
    this.settled.delete(k);
    // Before its environment's jobs list is read, every existing job would look missing and its
    // register would be refused: the key waits, and the first list wakes it.
    const watch = this.watches.get(key.env)?.watch;
    if (watch && !watch.synced) {
      throw new WaitingError(`waiting for the first read of ${key.env}'s jobs list`, SYNC_LIST_WAIT_RECHECK_MS, { env: key.env, nomadJob: key.jobId });
    }
    // Taken before planning: whatever the pass itself changes (a read, a record) makes the next resync look again.
    const seen = syncInputs(this.cache, key, this.cache.revision?.jobs.has(key.env) === true, k);
    const plan = await this.planKey(key, ctx.now);
    if (plan.actions.some((a) => a.kind !== "noop")) this.o.onChange?.(key);
    for (const action of plan.actions) {
      if (ctx.signal.aborted) break;
      ctx.recordAction(await this.act(action, key, ctx));
    }
    // An outside change that turned out to be no change (the Autoscaler, a re-register of the same spec) is recorded, so it is not compared again.
    const drift = this.cache.drift.get(k);
    const stub = this.cache.actual.get(key.env)?.get(key.jobId);
    const applied = this.cache.applied.get(k);
    if (drift && !drift.drifted && stub && applied && drift.atIndex === stub.JobModifyIndex && applied.jobModifyIndex !== stub.JobModifyIndex) {
      const rec = { jobModifyIndex: stub.JobModifyIndex, specHash: applied.specHash };
      await this.o.store.putApplied(key.env, key.jobId, { ...rec, revision: this.revision.good?.revision ?? "" });
      this.cache.applied.set(k, rec);
    }
    // Nothing to do and nothing time-dependent pending (a grace period): the same inputs would plan the same.
    if (!ctx.signal.aborted && plan.recheckAfterMs === undefined && plan.actions.every((a) => a.kind === "noop")) this.settled.set(k, seen);
    return { actions: [], ...(plan.recheckAfterMs !== undefined ? { recheckAfterMs: plan.recheckAfterMs } : {}) };
  }

  private async act(action: SyncAction, key: SyncKey, ctx: PassContext): Promise<ActionRecord> {
    if (action.kind === "noop") return this.noopRecord(action.reason, action.message);
    const base = { kind: action.kind, reason: action.reason, message: action.message };
    const env = this.envSpec(key.env);
    if (!env) return { ...base, result: "skipped" };
    const { actuator } = this.o.clients.get(env);
    const k = syncKeyString(key);
    await ctx.acquireWrite();
    if (action.kind === "register") {
      const res = await actuator.registerJob(action.spec as never, action.enforceIndex);
      const record = { jobModifyIndex: res.jobModifyIndex, specHash: action.specHash };
      this.cache.applied.set(k, record);
      // The watch will confirm; until then the cache must not invite a second register of the same spec.
      this.patchStub(key, { JobModifyIndex: res.jobModifyIndex, Stop: false, Meta: (action.spec.Meta as Record<string, string>) ?? {} });
      await this.o.store.putApplied(key.env, key.jobId, { ...record, revision: this.revision.good?.revision ?? "" });
      ctx.log.info({ reason: action.reason, job_modify_index: res.jobModifyIndex, eval_id: res.evalId }, action.message);
      return { ...base, result: res.changed ? "changed" : "unchanged" };
    }
    const res = await actuator.stopJob(key.jobId, action.enforceIndex);
    this.patchStub(key, { Stop: true });
    ctx.log.info({ reason: action.reason }, action.message);
    return { ...base, result: res.changed ? "changed" : "unchanged" };
  }

  /**
   * The record of a noop, one frozen object per reason and message: most
   * passes plan one, and the status keeps the message it derives from the
   * record's identity (status.ts).
   */
  private noopRecord(reason: SyncAction["reason"], message: string): ActionRecord {
    const known = this.noopRecords.get(reason);
    if (known?.message === message) return known;
    const record: ActionRecord = Object.freeze({ kind: "noop", reason, message, result: "unchanged" });
    this.noopRecords.set(reason, record);
    return record;
  }

  /** Compares a job changed outside Steward with what Steward would register, through Nomad's plan (no write). */
  private async checkDrift(key: SyncKey, reader: NomadReader): Promise<DriftCheck> {
    const k = syncKeyString(key);
    const stub = this.cache.actual.get(key.env)?.get(key.jobId);
    const desired = this.cache.revision?.jobs.get(key.env)?.get(key.jobId);
    if (!stub || !desired) return { atIndex: stub?.JobModifyIndex ?? 0, drifted: false, fields: [] };
    const full = this.cache.fullJobs.get(k);
    const counts: Record<string, number> = {};
    for (const g of full?.TaskGroups ?? []) counts[g.Name] = g.Count;
    // Steward's own Meta (the revision) may differ from the running job's without anyone having changed the job.
    const meta = { ...(desired.spec.Meta as Record<string, string>) };
    for (const [mk, mv] of Object.entries(stub.Meta ?? {})) if (mk.startsWith("steward.")) meta[mk] = mv;
    const groups = (desired.spec.TaskGroups as Array<Record<string, unknown>> | undefined)?.map((g) =>
      desired.scaledGroups.includes(String(g.Name)) && counts[String(g.Name)] !== undefined ? { ...g, Count: counts[String(g.Name)] } : g,
    );
    const diff = await reader.planJob({ ...(desired.spec as Record<string, unknown>), Meta: meta, ...(groups ? { TaskGroups: groups } : {}) } as never);
    return { atIndex: stub.JobModifyIndex, drifted: diff.type !== "None", fields: diff.fields };
  }

  /** Keeps `steward_sync_jobs` equal to the states of the jobs' latest passes, in O(1) per pass. */
  private recordJobState(st: KeyStatus): void {
    const env = st.key.slice(0, st.key.indexOf("/"));
    const state = syncStateOf(st);
    const before = this.jobStates.get(st.key);
    if (before === state) return;
    const m = this.o.metrics;
    if (before) m?.syncJobs.dec({ env, state: before });
    if (state) {
      this.jobStates.set(st.key, state);
      m?.syncJobs.inc({ env, state });
    } else this.jobStates.delete(st.key);
    if (state === "in_sync") m?.syncLastSuccess.set({ env }, Math.floor(this.now() / 1000));
  }

  private trackAbsence(k: string, desired: boolean, running: boolean, now: number): void {
    if (desired || !running) this.cache.absentSince.delete(k);
    else if (!this.cache.absentSince.has(k)) this.cache.absentSince.set(k, now);
  }

  private patchStub(key: SyncKey, patch: Partial<NomadJobStub>): void {
    const envJobs = this.cache.actual.get(key.env) ?? new Map<string, NomadJobStub>();
    this.cache.actual.set(key.env, envJobs);
    this.cache.touch(key.env);
    const old = envJobs.get(key.jobId);
    envJobs.set(key.jobId, { ID: key.jobId, Name: key.jobId, Type: "service", Status: "pending", Stop: false, Version: 0, JobModifyIndex: 0, ModifyIndex: 0, ...old, ...patch });
  }

  private envSpec(name: string): EnvironmentSpec | undefined {
    return this.cache.revision?.state.environments.find((e) => e.name === name);
  }

  /** One jobs-list watch per environment of the revision in force; rebuilt when its address changes. */
  private ensureWatches(envs: EnvironmentSpec[]): void {
    const wanted = new Set(envs.map((e) => e.name));
    for (const [name, w] of this.watches) {
      if (!wanted.has(name)) {
        void w.watch.stop();
        this.watches.delete(name);
        this.cache.actual.delete(name);
      }
    }
    for (const env of envs) {
      const fingerprint = JSON.stringify(env.nomad);
      const known = this.watches.get(env.name);
      if (known?.fingerprint === fingerprint) continue;
      if (known) void known.watch.stop();
      const reader = this.o.clients.get(env).reader;
      const waitMs = this.o.watchWaitMs ?? WATCH_BLOCKING_WAIT_MS;
      const watch = new Watch<NomadJobStub[]>({
        query: {
          name: "nomad-jobs",
          fetch: async (index, signal) => {
            const r = await reader.listJobs(index, waitMs, signal);
            // No data means the index did not move: the watch drops such an answer without looking at it.
            return { index: r.index, data: r.data ?? [] };
          },
        },
        onChange: (jobs) => this.onJobs(env.name, jobs),
        // onJobs compares job by job anyway; a deep comparison of the whole list first would double the work.
        equal: () => false,
        logger: this.o.logger,
        ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      });
      this.watches.set(env.name, { fingerprint, watch });
      watch.start();
    }
  }

  /** A new jobs list: wake exactly the keys whose job changed, appeared or vanished. */
  private onJobs(env: string, jobs: NomadJobStub[]): void {
    const first = !this.cache.actual.has(env);
    const before = this.cache.actual.get(env) ?? new Map<string, NomadJobStub>();
    const after = new Map(jobs.map((j) => [j.ID, j]));
    this.cache.actual.set(env, after);
    this.cache.touch(env);
    const desired = this.cache.revision?.jobs.get(env);
    // Jobs Steward neither wants nor manages are none of its business: no key, no status.
    const ours = (id: string, j: NomadJobStub | undefined): boolean => desired?.has(id) === true || j?.Meta?.["steward.managed-by"] === "steward";
    for (const [id, j] of after) {
      const old = before.get(id);
      if ((!old || old.JobModifyIndex !== j.JobModifyIndex || old.Stop !== j.Stop) && (ours(id, j) || ours(id, old))) this.wake({ env, jobId: id });
    }
    for (const [id, old] of before) if (!after.has(id) && ours(id, old)) this.wake({ env, jobId: id });
    // Keys that waited for this first list (desired jobs not in Nomad yet included) go now.
    if (first) for (const id of desired?.keys() ?? []) if (!after.has(id)) this.wake({ env, jobId: id });
    // A first list read while leading woke every key of the environment: as good as a resync's check.
    if (first && this.runner) this.checked.set(env, this.now());
  }
}

type SyncState = (typeof SYNC_STATES)[number];

const OUT_OF_SYNC_REASONS = new Set(["PruneDisabled", "PruneGracePeriod", "PruneGuardTripped", "AwaitingImage", "Paused", "Frozen", "NotManaged"]);

/** A job's sync state from its status: failed passes are `error`; otherwise the last action's reason decides. Absent jobs Steward leaves alone count in no state. */
export function syncStateOf(st: KeyStatus): SyncState | undefined {
  const ready = st.conditions.find((c) => c.type === "Ready");
  if (ready?.status === "False") return "error";
  const reason = st.lastAction?.reason;
  if (reason === undefined || reason === "AlreadyAbsent") return undefined;
  if (reason === "DriftReported") return "drifted";
  if (OUT_OF_SYNC_REASONS.has(reason) || ready?.status === "Unknown") return "out_of_sync";
  return "in_sync";
}

/** Keys whose desired job a new revision added, removed, or changed in spec, policy or image. */
function changedKeys(before: RenderedRevision | undefined, after: RenderedRevision): SyncKey[] {
  const out: SyncKey[] = [];
  for (const [env, jobs] of after.jobs) {
    const old = before?.jobs.get(env);
    for (const [jobId, job] of jobs) {
      const was = old?.get(jobId);
      // The intake hands an unchanged job over as the same object.
      if (was === job) continue;
      if (!was || was.specHash !== job.specHash || was.imagePending !== job.imagePending || !isDeepStrictEqual(was.policy, job.policy)) out.push({ env, jobId });
    }
  }
  for (const [env, jobs] of before?.jobs ?? []) {
    const now = after.jobs.get(env);
    for (const jobId of jobs.keys()) if (!now?.has(jobId)) out.push({ env, jobId });
  }
  return out;
}

/**
 * When a revision adds or removes desired jobs in an environment, the jobs
 * Steward manages there that no revision wants (prune candidates) see their
 * prune guard's share change: they are looked at again.
 */
function absentKeysOf(cache: SyncCache, before: RenderedRevision, after: RenderedRevision, changed: readonly SyncKey[]): SyncKey[] {
  const envs = new Set(changed.filter((k) => before.jobs.get(k.env)?.has(k.jobId) !== after.jobs.get(k.env)?.has(k.jobId)).map((k) => k.env));
  const out: SyncKey[] = [];
  for (const env of envs) {
    const jobs = after.jobs.get(env);
    for (const [id, stub] of cache.actual.get(env) ?? []) if (!jobs?.has(id) && stub.Meta?.["steward.managed-by"] === "steward") out.push({ env, jobId: id });
  }
  return out;
}

function countJobs(jobs: Map<string, Map<string, unknown>>): number {
  let n = 0;
  for (const m of jobs.values()) n += m.size;
  return n;
}

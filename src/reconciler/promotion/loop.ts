import { PROMOTION_MAX_STEPS_PER_PASS, PROMOTION_RECHECK_MS, PROMOTION_STATUS_HISTORY, WATCH_BLOCKING_WAIT_MS } from "../../config/defaults.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import type { EnvironmentSpec, ServiceSpec } from "../../model/types.js";
import type { JournalEntry, PromotionJournalStore } from "../../actuators/journal.js";
import type { NomadReader } from "../../sources/nomad.js";
import { Watch } from "../../sources/watch.js";
import { ConflictError } from "../core/outcome.js";
import type { ActionRecord, PassResult } from "../core/outcome.js";
import { Runner, type PassContext, type RunnerOptions } from "../core/runner.js";
import { errorMessage } from "../core/status.js";
import type { KeyStatus } from "../core/status.js";
import type { RenderedRevision } from "../sync/intake.js";
import { CandidatePoller, type PollState, type RegistryReader } from "./candidates.js";
import type { ApprovalStoreLike, GateContext, GateRunnerLike, RetryRequestsLike } from "./gate-types.js";
import { gateKey } from "./gate-types.js";
import { stageDigest, type HistoryEntry, type PromotionRecord } from "./journal.js";
import { GATE_RETRY_RESULTS, PROMOTION_RESULTS, promotionMetrics, type PromotionMetrics } from "./metrics.js";
import { PromotionCache, observePromotion, promotionKeyString, stagesOf, type CandidateSeen } from "./observe.js";
import { imageOf, planPromotion, type GateObservation, type PromotionAction, type PromotionSnapshot } from "./plan.js";
import type { PromotionReason } from "./reasons.js";
import { StageWatcher } from "./stage-watch.js";

/** The journal operations the loop uses (a PromotionJournalStore, in Consul KV). */
export type JournalStore = Pick<PromotionJournalStore, "advance" | "list" | "listAll" | "query" | "prune">;

/** Options of a PromotionLoop. Durations in ms. */
export interface PromotionLoopOptions {
  /** The reader of one environment's Nomad (sync's NomadClients). */
  nomad: (env: EnvironmentSpec) => NomadReader;
  registry: RegistryReader;
  journal: JournalStore;
  logger: Logger;
  metrics?: StewardMetrics;
  /** Runs the verify, http and prometheus gates; without one those gates time out. */
  gates?: GateRunnerLike;
  /** Manual approvals; without one a manual gate waits for ever. */
  approvals?: ApprovalStoreLike;
  /** Operators' requests to retry a failed gate; without them a failed digest stays failed. */
  retries?: RetryRequestsLike;
  /**
   * Called on the leader when a retry request was honoured or refused, with
   * one sentence saying which and why (the event stream). Must not throw.
   */
  onRetry?: (e: { service: string; digest: string; stage: string; by: string; honoured: boolean; message: string }) => void;
  /**
   * Called after the journal changed which digest a stage of `service` runs
   * (or holds): sync re-renders the service's jobs and looks at them now.
   * Called on every instance (standbys keep sync's desired jobs current).
   */
  onStageDigest?: (service: string) => Promise<void> | void;
  /** Registry poll period. @default PROMOTION_POLL_INTERVAL_MS */
  pollIntervalMs?: number;
  /** Registry poll backoff after failures. */
  pollBackoff?: { baseMs?: number; capMs?: number };
  /** Server-side wait of the Nomad and journal blocking queries. @default WATCH_BLOCKING_WAIT_MS */
  watchWaitMs?: number;
  runner?: Partial<Pick<RunnerOptions<string>, "workers" | "resyncIntervalMs" | "queue" | "clock" | "random">>;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  onStatus?: (s: KeyStatus) => void;
}

/** One digest's pending step as `steward plan` and the status show it. */
export interface PendingPromotion {
  digest: string;
  tag?: string;
  kind: PromotionAction["kind"];
  reason: PromotionReason;
  message: string;
}

/** What `/api/status` shows about one promoted service. */
export interface PromotionServiceStatus {
  service: string;
  repository: string;
  /** Each stage in promotion order: the digest the journal says it runs, or `hold` while a deployment or rollback is under way. */
  stages: Array<{ name: string; digest?: string; tag?: string; hold?: true; source: "journal" | "pinned" | "none" }>;
  /** Digests still moving, and why each waits or what it does next. */
  pending: PendingPromotion[];
  /** Digests that failed for good. */
  failed: Array<{ digest: string; tag?: string; stage?: string; reason?: string; message?: string }>;
  registry: PollState;
  /** The latest journal lines across the service's records, oldest first (bounded). */
  history: Array<HistoryEntry & { digest: string; tag?: string }>;
}

/** Reasons of digests that are done with (not "pending"). */
const SETTLED: ReadonlySet<PromotionReason> = new Set(["PromotionComplete", "Superseded", "DigestFailed"]);

interface StageEntry {
  jobId: string;
  fingerprint: string;
  watcher: StageWatcher;
}

/**
 * The promotion loop: new image digests roll through the stages
 * (environments in promotion order), gated, pinned by digest, recorded in
 * the journal, rolled back on failure. It wires the pieces:
 * - sources fill the PromotionCache: the registry poller (candidates), one
 *   StageWatcher per (stage, service) (the job, its deployments and
 *   allocations), the journal watch, the gate runner and approvals;
 * - `observePromotion` builds a snapshot per (service, digest), and
 *   `planPromotion` decides the next step;
 * - acting is a check-and-set journal write first, then its effect (sync
 *   re-renders the stage's job; a gate starts);
 * - the runner records status and metrics.
 *
 * The runner's key is the service: one pass plans all of a service's
 * digests in turn, so "at most one in flight per stage" and "a newer one
 * supersedes" are decided without two passes racing. Every instance runs
 * the watches (warm caches, and sync's image resolver on a standby reads
 * the journal); only the leader runs the runner, so only it writes.
 */
export class PromotionLoop {
  readonly cache = new PromotionCache();
  private revision: RenderedRevision | undefined;
  private readonly poller: CandidatePoller;
  private readonly stages = new Map<string, StageEntry>();
  private journalWatch: Watch<Map<string, JournalEntry[]>> | undefined;
  private journalHealth = { ok: false, lastOkAt: 0 };
  private runner: Runner<string> | undefined;
  private readonly now: () => number;
  private readonly pm: PromotionMetrics | undefined;
  private readonly pending = new Map<string, PendingPromotion[]>();
  private readonly startedGates = new Map<string, GateContext>();
  private readonly seen = new Set<string>();
  private readonly stageDigestLabels = new Map<string, string>();
  private readonly seenFailedGauge = new Set<string>();
  /** Retry requests this leader dealt with (`service/digest@modifyIndex`): the watch may still show them for a moment. */
  private readonly handledRetries = new Set<string>();

  constructor(private readonly o: PromotionLoopOptions) {
    this.now = o.now ?? Date.now;
    this.pm = o.metrics ? promotionMetrics(o.metrics.registry) : undefined;
    this.poller = new CandidatePoller({
      registry: o.registry,
      onCandidates: (service, list) => this.onCandidates(service, list),
      logger: o.logger,
      ...(o.metrics ? { metrics: o.metrics } : {}),
      ...(o.pollIntervalMs !== undefined ? { intervalMs: o.pollIntervalMs } : {}),
      ...(o.pollBackoff?.baseMs !== undefined ? { backoffBaseMs: o.pollBackoff.baseMs } : {}),
      ...(o.pollBackoff?.capMs !== undefined ? { backoffCapMs: o.pollBackoff.capMs } : {}),
      ...(o.runner?.clock ? { clock: o.runner.clock } : {}),
    });
    o.gates?.onChange?.((ctx) => this.wake(ctx.service));
    o.approvals?.watch?.((service) => this.wake(service));
    o.retries?.watch?.((service) => this.wake(service));
  }

  /** True while this instance runs the loop's writes. */
  get leading(): boolean {
    return this.runner !== undefined;
  }

  /** Starts the journal watch (every instance). */
  start(): void {
    if (this.journalWatch) return;
    const query = this.o.journal.query(this.o.watchWaitMs ?? WATCH_BLOCKING_WAIT_MS);
    this.journalWatch = new Watch({
      query: {
        name: query.name,
        fetch: async (index, signal, options) => {
          try {
            const res = await query.fetch(index, signal, options);
            this.journalHealth = { ok: true, lastOkAt: this.now() };
            return res;
          } catch (err) {
            this.journalHealth.ok = false;
            throw err;
          }
        },
      },
      onChange: (byService) => this.onJournal(byService),
      // Records carry their ModifyIndex, so equal maps are rare; compare cheaply by index.
      equal: (a, b) => journalFingerprint(a) === journalFingerprint(b),
      logger: this.o.logger,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
    });
    this.journalWatch.start();
  }

  /** Resolves once the journal was read (sync must not register a stage's image before). */
  async whenJournalSynced(): Promise<void> {
    await this.journalWatch?.whenSynced();
  }

  /**
   * Takes the revision the sync loop accepted: which services are promoted
   * (`image.policy`), in which stages, under which job ID. Starts and stops
   * registry polling and stage watches to match, and wakes every service.
   */
  setRevision(rendered: RenderedRevision): void {
    this.revision = rendered;
    this.cache.state = rendered.state;
    const promoted = rendered.state.services.filter((s) => s.image.policy);
    this.poller.setServices(promoted);
    const wanted = new Map<string, { env: EnvironmentSpec; service: ServiceSpec; jobId: string }>();
    for (const env of rendered.state.environments) {
      const jobs = rendered.jobs.get(env.name);
      for (const s of promoted) {
        if (!(env.name in s.environments)) continue;
        const job = [...(jobs?.values() ?? [])].find((j) => j.service === s.name);
        const jobId = job ? String(job.spec.ID) : s.jobId;
        if (jobId) wanted.set(`${env.name}/${s.name}`, { env, service: s, jobId });
      }
    }
    for (const [k, e] of this.stages) {
      if (!wanted.has(k)) {
        void e.watcher.stop();
        this.stages.delete(k);
        this.cache.stages.delete(k);
      }
    }
    for (const [k, w] of wanted) {
      const fingerprint = `${JSON.stringify(w.env.nomad)}/${w.jobId}`;
      if (this.stages.get(k)?.fingerprint === fingerprint) continue;
      const old = this.stages.get(k);
      if (old) void old.watcher.stop();
      const watcher = new StageWatcher({
        reader: this.o.nomad(w.env),
        env: w.env.name,
        service: w.service.name,
        jobId: w.jobId,
        waitMs: this.o.watchWaitMs ?? WATCH_BLOCKING_WAIT_MS,
        logger: this.o.logger,
        ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
        now: this.now,
        onChange: () => this.wake(w.service.name),
      });
      this.stages.set(k, { jobId: w.jobId, fingerprint, watcher });
      watcher.start();
    }
    for (const s of promoted) {
      this.updateStageMetrics(s.name);
      this.zeroSeries(s);
    }
    this.wakeAll();
  }

  /**
   * A registry notification: polls the services whose repository the push
   * names, at once. Resolves with the services it woke (none: the push is
   * for a repository no service promotes).
   */
  notify(pushes: ReadonlyArray<{ repository: string; digest?: string }>): string[] {
    const woken = new Set<string>();
    for (const p of pushes) {
      for (const s of this.poller.servicesFor(p.repository)) {
        this.poller.trigger(s, p.digest);
        woken.add(s);
      }
    }
    return [...woken];
  }

  /** Polls every promoted service's registry now (a standby passed a notification on; an operator's sync-now). */
  pollAll(): void {
    for (const s of this.poller.states().keys()) this.poller.trigger(s);
  }

  /** Waits for the registry polls in flight (tests, benches). */
  async pollsIdle(): Promise<void> {
    await this.poller.idle();
  }

  /**
   * Reads the whole journal once (not through the watch) and applies it,
   * sync's re-renders included. A new leader calls it before sync leads: a
   * step the old leader wrote just before it died is then seen, so sync
   * never registers an image the journal has already moved past. A failed
   * read is logged and the watched copy is used: it never rejects.
   */
  async catchUp(): Promise<void> {
    try {
      await this.onJournal(await this.o.journal.listAll());
    } catch (err) {
      // The watch's copy stands; a Consul hiccup must not keep a new leader from leading.
      this.o.logger.warn({ err: errorMessage(err) }, "promotion: could not read the journal at takeover; going on with the watched copy");
    }
  }

  /** Starts writing: catches up with the journal, then runs every promoted service. */
  async lead(): Promise<void> {
    if (this.runner) return;
    this.start();
    await this.whenJournalSynced();
    await this.catchUp();
    const r = this.o.runner ?? {};
    this.runner = new Runner<string>({
      loop: "promotion",
      keyOf: (k) => k,
      keyFields: (k) => ({ service: k }),
      reconcile: (key, ctx) => this.reconcile(key, ctx),
      listKeys: () => this.services().map((s) => s.name),
      logger: this.o.logger,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      ...(this.o.onStatus ? { onStatus: this.o.onStatus } : {}),
      ...r,
    });
    this.runner.start();
    this.o.logger.info({ loop: "promotion" }, "promotion: leading; writes enabled");
  }

  /** Stops writing (leadership lost); watches keep the caches warm. */
  async standBy(): Promise<void> {
    const r = this.runner;
    this.runner = undefined;
    if (r) await r.stop();
    for (const ctx of this.startedGates.values()) this.o.gates?.stop(ctx);
    this.startedGates.clear();
  }

  async stop(): Promise<void> {
    await this.standBy();
    await this.poller.stop();
    await Promise.all([...this.stages.values()].map((e) => e.watcher.stop()));
    this.stages.clear();
    await this.journalWatch?.stop();
    this.journalWatch = undefined;
  }

  /** Looks at one service now. */
  wake(service: string): void {
    this.runner?.add(service);
  }

  wakeAll(): void {
    for (const s of this.services()) this.runner?.add(s.name);
  }

  /** Statuses of every service the runner has seen (empty on a standby). */
  statuses(): KeyStatus[] {
    return this.runner?.status.list() ?? [];
  }

  /** The `/api/status` section: every promoted service's stages, pending digests and history. */
  status(): PromotionServiceStatus[] {
    const polls = this.poller.states();
    return this.services().map((s) => {
      const records = this.records(s.name);
      const stages = this.cache.state ? stagesOf(this.cache.state, s) : [];
      const history = records
        .flatMap((r) => r.history.map((h) => ({ ...h, digest: r.digest, ...(r.tag !== undefined && { tag: r.tag }) })))
        .sort((a, b) => a.at - b.at)
        .slice(-PROMOTION_STATUS_HISTORY);
      return {
        service: s.name,
        repository: s.image.repository,
        stages: stages.map((st) => {
          const d = stageDigest(records, st.name);
          if (d && "hold" in d) return { name: st.name, hold: true as const, source: "journal" as const };
          if (d) {
            const tag = records.find((r) => r.digest === d.digest)?.tag;
            return { name: st.name, digest: d.digest, ...(tag !== undefined && { tag }), source: "journal" as const };
          }
          return s.image.digest ? { name: st.name, digest: s.image.digest, source: "pinned" as const } : { name: st.name, source: "none" as const };
        }),
        pending: this.pending.get(s.name) ?? [],
        failed: records
          .filter((r) => r.status === "failed")
          .map((r) => {
            const st = r.stages.find((x) => x.status === "failed" || x.status === "rolledBack");
            return { digest: r.digest, ...(r.tag !== undefined && { tag: r.tag }), ...(st && { stage: st.name }), ...(st?.reason !== undefined && { reason: st.reason }), ...(st?.message !== undefined && { message: st.message }) };
          }),
        registry: polls.get(s.name) ?? { failures: 0 },
        history,
      };
    });
  }

  /**
   * Plans every digest of one service from the caches and returns the
   * pending steps, changing nothing (`steward plan` and tests).
   */
  planService(service: string, now: number): PendingPromotion[] {
    const out: PendingPromotion[] = [];
    for (const digest of this.digestsOf(service)) {
      const snap = this.snapshot(service, digest, now);
      if (!snap) continue;
      for (const a of planPromotion(snap, now).actions) if (!SETTLED.has(a.reason)) out.push(pendingOf(a, snap.tag));
    }
    return out;
  }

  /**
   * One pass over one service: plan each of its digests (those in flight
   * first, then newest first); take the first step any of them has (a
   * journal write, then its effect), then plan again from the updated
   * cache, until nothing moves or PROMOTION_MAX_STEPS_PER_PASS.
   */
  async reconcile(service: string, ctx: PassContext): Promise<PassResult> {
    let recheck: number | undefined;
    for (let step = 0; step < PROMOTION_MAX_STEPS_PER_PASS; step++) {
      if (ctx.signal.aborted) break;
      const next = this.nextStep(service, this.now());
      recheck = next.recheckAfterMs;
      if (!next.write) {
        this.pending.set(service, next.waits);
        break;
      }
      await ctx.acquireWrite();
      ctx.recordAction(await this.act(next.write, ctx));
    }
    this.stopSettledGates(service);
    return { actions: [], ...(recheck !== undefined && Number.isFinite(recheck) ? { recheckAfterMs: Math.max(0, recheck) } : {}) };
  }

  /** The first write any digest of the service has to make now, else what each waits for. */
  private nextStep(service: string, now: number): { write?: Exclude<PromotionAction, { kind: "wait" | "noop" }>; waits: PendingPromotion[]; recheckAfterMs?: number } {
    let recheck = Infinity;
    const waits: PendingPromotion[] = [];
    for (const digest of this.digestsOf(service)) {
      const snap = this.snapshot(service, digest, now);
      if (!snap) continue;
      const plan = planPromotion(snap, now);
      if (plan.recheckAfterMs !== undefined) recheck = Math.min(recheck, plan.recheckAfterMs);
      const write = plan.actions.find((a): a is Exclude<PromotionAction, { kind: "wait" | "noop" }> => a.kind !== "wait" && a.kind !== "noop");
      if (!write) {
        for (const a of plan.actions) if (!SETTLED.has(a.reason)) waits.push(pendingOf(a, snap.tag));
        continue;
      }
      // A register not seen done yet is re-issued at most once per recheck period, not on every event.
      const age = now - (snap.journal?.record.updatedAt ?? 0);
      if (write.reason === "RegisterReissued" && age < PROMOTION_RECHECK_MS) {
        recheck = Math.min(recheck, PROMOTION_RECHECK_MS - age);
        waits.push({ ...pendingOf(write, snap.tag), kind: "wait", message: `waiting for sync to register the digest in ${"stage" in write ? write.stage : "the stage"}` });
        continue;
      }
      return { write, waits };
    }
    return { waits, ...(Number.isFinite(recheck) && { recheckAfterMs: recheck }) };
  }

  /** Journal write first (check-and-set), then the effect. A lost CAS re-reads the service's records and plans again. */
  private async act(a: Exclude<PromotionAction, { kind: "wait" | "noop" }>, ctx: PassContext): Promise<ActionRecord> {
    const base = { kind: a.kind, reason: a.reason, message: a.message };
    if (a.kind === "dropRetry") {
      // Refused, or honoured before a failover: nothing to journal; the request goes so it is not looked at again.
      await this.o.retries?.remove(a.service, a.digest, a.request.modifyIndex);
      this.retryHandled(a.service, a.digest, a.request.modifyIndex);
      const fields = { digest: a.digest, stage: a.stage, by: a.request.by, reason: a.reason };
      if (a.refused) {
        ctx.log.warn(fields, a.message);
        this.pm?.gateRetries.inc({ service: a.service, stage: a.stage, result: "refused" });
        this.o.onRetry?.({ service: a.service, digest: a.digest, stage: a.stage, by: a.request.by, honoured: false, message: a.message });
      } else ctx.log.info(fields, a.message);
      return { ...base, result: "changed" };
    }
    const before = this.records(a.service);
    let entry: JournalEntry;
    try {
      entry = await this.o.journal.advance(a.record, a.expectedModifyIndex);
    } catch (err) {
      if (err instanceof ConflictError) {
        ctx.log.info({ digest: a.digest, err: err.message }, "promotion: journal moved under us; re-reading the service's records");
        this.replaceRecords(a.service, await this.o.journal.list(a.service));
        return { ...base, result: "skipped" };
      }
      throw err;
    }
    this.setRecord(entry);
    ctx.log.info({ digest: a.digest, tag: a.record.tag, reason: a.reason, modify_index: entry.modifyIndex }, a.message);
    this.countStep(entry.record);
    if (entry.record.status === "promoted" || entry.record.status === "superseded") {
      // Bounded history: the oldest finished records go (failed ones, which bar their digest, never do).
      await this.o.journal.prune(a.service).catch((err: unknown) => ctx.log.warn({ err: errorMessage(err) }, "promotion: journal prune failed; retried after the next promotion"));
    }
    if (a.kind === "retryGate") {
      this.retryHandled(a.service, a.digest, a.request.modifyIndex);
      // The journal holds the request's id now: removing the request can fail or be lost to a failover without a second retry.
      await this.o.retries?.remove(a.service, a.digest, a.request.modifyIndex).catch((err: unknown) => ctx.log.warn({ err: errorMessage(err) }, "promotion: could not remove an honoured retry request; removed at the next pass"));
      this.pm?.gateRetries.inc({ service: a.service, stage: a.stage, result: "honoured" });
      this.o.onRetry?.({ service: a.service, digest: a.digest, stage: a.stage, by: a.request.by, honoured: true, message: a.message });
    }
    if (a.kind === "startGate" && this.o.gates && isProbed(a.spec.kind)) {
      const gctx = this.gateContext(entry.record, a.stage, a.gate);
      if (gctx) await this.startGate(gctx);
    }
    const changed = await this.afterRecordsChanged(a.service, before);
    // A re-issued register changes nothing in the journal's answer, but its effect is exactly to have sync look again.
    if (a.kind === "setStageDigest" && !changed) await this.o.onStageDigest?.(a.service);
    return { ...base, result: "changed" };
  }

  /** Candidates from a poll: new digests counted, the service looked at. */
  private onCandidates(service: string, list: CandidateSeen[]): void {
    for (const k of list.map((c) => `${service}/${c.digest}`).filter((x) => !this.seen.has(x))) {
      this.seen.add(k);
      this.pm?.candidatesSeen.inc({ service });
    }
    const before = JSON.stringify(this.cache.candidates.get(service) ?? []);
    this.cache.candidates.set(service, list);
    if (JSON.stringify(list) !== before) this.o.logger.info({ service, candidates: list.map((c) => `${c.tag ?? "-"}@${c.digest.slice(7, 19)}`) }, "promotion: registry candidates");
    this.wake(service);
  }

  /** A journal listing: newer records replace older ones (by ModifyIndex), vanished ones go. */
  private async onJournal(byService: Map<string, JournalEntry[]>): Promise<void> {
    const names = new Set([...byService.keys(), ...this.cache.records.keys()]);
    for (const service of names) {
      const before = this.records(service);
      const mine = new Map((this.cache.records.get(service) ?? []).map((e) => [e.record.digest, e]));
      const listed = byService.get(service) ?? [];
      const next = listed.map((e) => {
        const m = mine.get(e.record.digest);
        return m && m.modifyIndex > e.modifyIndex ? m : e;
      });
      // A record written by this instance after the listing was taken is kept until a listing shows it.
      const listedDigests = new Set(listed.map((e) => e.record.digest));
      const maxListed = Math.max(0, ...listed.map((e) => e.modifyIndex));
      for (const e of mine.values()) if (!listedDigests.has(e.record.digest) && e.modifyIndex > maxListed) next.push(e);
      this.cache.records.set(service, next.sort((a, b) => a.record.createdAt - b.record.createdAt));
      // Awaited: the watch counts as synced only once sync has the stages' images (a new leader relies on it).
      await this.afterRecordsChanged(service, before).catch((err: unknown) =>
        this.o.logger.warn({ service, err: errorMessage(err) }, "promotion: could not hand the stage digest to sync"),
      );
      this.wake(service);
    }
  }

  private setRecord(entry: JournalEntry): void {
    const list = (this.cache.records.get(entry.record.service) ?? []).filter((e) => e.record.digest !== entry.record.digest);
    list.push(entry);
    this.cache.records.set(entry.record.service, list.sort((a, b) => a.record.createdAt - b.record.createdAt));
  }

  private replaceRecords(service: string, entries: JournalEntry[]): void {
    this.cache.records.set(service, entries);
  }

  /** When the journal changed what a stage runs: metrics, and sync is told. */
  private async afterRecordsChanged(service: string, before: PromotionRecord[]): Promise<boolean> {
    const after = this.records(service);
    const svc = this.services().find((s) => s.name === service);
    if (!svc || !this.cache.state) return false;
    this.pm?.failedDigests.set({ service }, after.filter((r) => r.status === "failed").length);
    const stages = stagesOf(this.cache.state, svc).map((s) => s.name);
    const changed = stages.some((st) => JSON.stringify(stageDigest(before, st)) !== JSON.stringify(stageDigest(after, st)));
    if (!changed) return false;
    this.updateStageMetrics(service);
    await this.o.onStageDigest?.(service);
    return true;
  }

  /** Every outcome series of a promoted service at 0, so `increase()` sees its first failure (a series born at 1 shows none). */
  private zeroSeries(s: ServiceSpec): void {
    const pm = this.pm;
    if (!pm || !this.cache.state) return;
    pm.candidatesSeen.inc({ service: s.name }, 0);
    for (const st of stagesOf(this.cache.state, s)) {
      for (const result of PROMOTION_RESULTS) pm.promotions.inc({ service: s.name, stage: st.name, result }, 0);
      for (const result of GATE_RETRY_RESULTS) pm.gateRetries.inc({ service: s.name, stage: st.name, result }, 0);
      for (const kind of ["deployment", ...new Set(st.gates.map((g) => g.kind))]) {
        for (const result of ["passed", "failed", "timed_out"]) pm.gateResults.inc({ service: s.name, stage: st.name, kind, result }, 0);
      }
    }
    if (!this.seenFailedGauge.has(s.name)) {
      this.seenFailedGauge.add(s.name);
      pm.failedDigests.set({ service: s.name }, this.records(s.name).filter((r) => r.status === "failed").length);
    }
  }

  private updateStageMetrics(service: string): void {
    const svc = this.services().find((s) => s.name === service);
    if (!this.pm || !svc || !this.cache.state) return;
    const records = this.records(service);
    for (const st of stagesOf(this.cache.state, svc)) {
      const d = stageDigest(records, st.name);
      const digest = d && "digest" in d ? d.digest : d ? "hold" : (svc.image.digest ?? "none");
      const label = digest.slice(0, 19);
      const k = `${service}/${st.name}`;
      const old = this.stageDigestLabels.get(k);
      if (old === label) continue;
      if (old !== undefined) this.pm.stageDigest.remove({ service, stage: st.name, digest: old });
      this.pm.stageDigest.set({ service, stage: st.name, digest: label }, 1);
      this.stageDigestLabels.set(k, label);
    }
  }

  /** Counts what the record's latest journal line says happened. */
  private countStep(r: PromotionRecord): void {
    const pm = this.pm;
    const h = r.history[r.history.length - 1];
    if (!pm || !h) return;
    const service = r.service;
    const stage = h.stage ?? "";
    const gateKind = h.gate !== undefined ? (r.stages.find((s) => s.name === stage)?.gates[h.gate]?.spec.kind ?? "unknown") : "deployment";
    switch (h.reason) {
      case "StageEntered":
      case "Promoted":
        pm.promotions.inc({ service, stage, result: "entered" });
        break;
      case "DeploymentSucceeded":
        pm.gateResults.inc({ service, stage, kind: "deployment", result: "passed" });
        break;
      case "GatePassed":
        pm.gateResults.inc({ service, stage, kind: gateKind, result: "passed" });
        break;
      case "DeploymentFailed":
      case "ProgressDeadlineExceeded":
      case "GateFailed":
      case "GateTimedOut":
        pm.gateResults.inc({ service, stage, kind: gateKind, result: h.reason === "GateTimedOut" ? "timed_out" : "failed" });
        pm.promotions.inc({ service, stage, result: "failed" });
        break;
      case "StagePassed":
        pm.promotions.inc({ service, stage, result: "passed" });
        break;
      case "PromotionComplete":
        pm.promotions.inc({ service, stage, result: "passed" });
        pm.leadTime.observe({ service }, Math.max(0, (h.at - r.createdAt) / 1000));
        break;
      case "RolledBack":
      case "AutoReverted":
      case "NoLastGood":
        pm.promotions.inc({ service, stage, result: "rolled_back" });
        break;
      case "Superseded":
        pm.promotions.inc({ service, stage: r.stages.find((s) => s.status === "pending")?.name ?? "", result: "superseded" });
        break;
      default:
        break;
    }
  }

  /** The snapshot of one digest, with this service's freshness, gate observations and approval filled in. */
  private snapshot(service: string, digest: string, now: number): PromotionSnapshot | undefined {
    const svc = this.services().find((s) => s.name === service);
    if (!svc) return undefined;
    const c = this.cache;
    c.refreshedAt.clear();
    c.refreshedAt.set("journal", this.journalHealth.ok ? now : this.journalHealth.lastOkAt);
    const record = this.records(service).find((r) => r.digest === digest);
    for (const env of Object.keys(svc.environments)) {
      const k = `${env}/${service}`;
      const e = this.stages.get(k);
      if (!e) continue;
      c.refreshedAt.set(`nomad:${k}`, e.watcher.freshAt(now));
      const obs = e.watcher.observation();
      obs.gates = this.gateObservations(record, env);
      c.stages.set(k, obs);
    }
    const key = promotionKeyString({ service, digest });
    // A decision may name the stage it is for; the stage gating now is the one it must match.
    const gating = record?.stages.find((s) => s.status === "gating")?.name;
    // A retried manual gate asks again: the decision that failed it (or any older one) does not count.
    const retried = record?.retries?.filter((x) => x.stage === gating).at(-1);
    const decision = this.o.approvals?.decisionIndex?.(service, digest, gating);
    const stale = retried?.decisionIndex !== undefined && decision !== undefined && decision <= retried.decisionIndex;
    if (!stale && this.o.approvals?.isApproved(service, digest, gating)) c.approvals.add(key);
    else c.approvals.delete(key);
    if (!stale && this.o.approvals?.isRejected?.(service, digest, gating)) c.rejections.add(key);
    else c.rejections.delete(key);
    const snap = observePromotion(c, { service, digest });
    const req = this.o.retries?.requestFor(service, digest);
    if (snap && req && !this.handledRetries.has(`${service}/${digest}@${req.modifyIndex}`)) {
      snap.retryRequest = req;
      const index = this.o.approvals?.decisionIndex?.(service, digest, req.stage);
      if (index !== undefined) snap.decisionIndex = index;
    }
    return snap;
  }

  private retryHandled(service: string, digest: string, modifyIndex: number): void {
    // Bounded: an entry matters only until the watch shows the request gone, a blocking-query round trip.
    if (this.handledRetries.size > 1_000) this.handledRetries.clear();
    this.handledRetries.add(`${service}/${digest}@${modifyIndex}`);
  }

  /** What each running probed gate of the record's stage last saw; starts (again) a gate this instance has not started (a failover). */
  private gateObservations(record: PromotionRecord | undefined, stage: string): Record<number, GateObservation> {
    const out: Record<number, GateObservation> = {};
    const st = record?.stages.find((s) => s.name === stage);
    if (!record || record.status !== "active" || st?.status !== "gating" || !this.o.gates) return out;
    st.gates.forEach((g, i) => {
      if (g.status !== "running" || !isProbed(g.spec.kind)) return;
      const ctx = this.gateContext(record, stage, i);
      if (!ctx) return;
      if (!this.startedGates.has(gateKey(ctx)) && this.runner) void this.startGate(ctx);
      const seen = this.o.gates?.observe(ctx);
      if (seen) out[i] = seen;
    });
    return out;
  }

  private async startGate(ctx: GateContext): Promise<void> {
    this.startedGates.set(gateKey(ctx), ctx);
    try {
      await this.o.gates?.start(ctx);
    } catch (err) {
      // Started again at the next pass; the gate's timeout bounds how long that can go on.
      this.startedGates.delete(gateKey(ctx));
      this.o.logger.warn({ service: ctx.service, stage: ctx.stage, gate: ctx.gateIndex, err: errorMessage(err) }, "promotion: gate could not be started; will retry");
    }
  }

  /** Stops probing gates whose result the journal has (or whose record is no longer active). */
  private stopSettledGates(service: string): void {
    for (const [k, ctx] of this.startedGates) {
      if (ctx.service !== service) continue;
      const r = this.records(service).find((x) => x.digest === ctx.digest);
      const g = r?.stages.find((s) => s.name === ctx.stage)?.gates[ctx.gateIndex];
      if (r?.status === "active" && g?.status === "running") continue;
      this.o.gates?.stop(ctx);
      this.startedGates.delete(k);
    }
  }

  private gateContext(record: PromotionRecord, stage: string, gateIndex: number): GateContext | undefined {
    const svc = this.services().find((s) => s.name === record.service);
    const g = record.stages.find((s) => s.name === stage)?.gates[gateIndex];
    const jobId = this.stages.get(`${stage}/${record.service}`)?.jobId;
    if (!svc || !g || !jobId) return undefined;
    return {
      service: record.service,
      stage,
      gateIndex,
      gate: g.spec,
      digest: record.digest,
      image: imageOf({ repository: svc.image.repository }, record.digest),
      startedAt: g.startedAt ?? record.updatedAt,
      nomadJob: jobId,
      attempt: Math.max(1, g.attempts),
    };
  }

  /** The service's digests to plan: those with a stage in flight first, then by candidate order, newest first. */
  private digestsOf(service: string): string[] {
    const records = this.records(service);
    const inFlight = records.filter((r) => r.status !== "promoted" && r.status !== "superseded" && r.stages.some((s) => s.status !== "pending" && s.status !== "passed" && s.status !== "rolledBack"));
    const candidates = [...(this.cache.candidates.get(service) ?? [])].sort((a, b) => b.order - a.order);
    const active = records.filter((r) => r.status === "active");
    // A retry request may name a digest the registry no longer lists (or one never promoted, to be refused).
    const retried = this.o.retries?.digestsOf(service) ?? [];
    return [...new Set([...retried, ...inFlight.map((r) => r.digest), ...candidates.map((c) => c.digest), ...active.map((r) => r.digest)])];
  }

  private records(service: string): PromotionRecord[] {
    return (this.cache.records.get(service) ?? []).map((e) => e.record);
  }

  private services(): ServiceSpec[] {
    return this.cache.state?.services.filter((s) => s.image.policy) ?? [];
  }

  /** The revision in force (for tests and the daemon). */
  get rendered(): RenderedRevision | undefined {
    return this.revision;
  }
}

function isProbed(kind: string): boolean {
  return kind === "verify" || kind === "http" || kind === "prometheus";
}

function pendingOf(a: PromotionAction, tag: string | undefined): PendingPromotion {
  return { digest: a.digest, ...(tag !== undefined && { tag }), kind: a.kind, reason: a.reason, message: a.message };
}

function journalFingerprint(m: Map<string, JournalEntry[]>): string {
  return [...m].map(([s, es]) => `${s}:${es.map((e) => `${e.record.digest}@${e.modifyIndex}`).join(",")}`).join(";");
}

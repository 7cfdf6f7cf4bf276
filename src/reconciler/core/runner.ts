import { setImmediate as nextTurn } from "node:timers/promises";
import {
  RESYNC_INTERVAL_MS,
  RESYNC_JITTER_FRACTION,
  RUNNER_CONFLICT_IMMEDIATE_RETRIES,
  RUNNER_SLICE_MS,
  RUNNER_WORKERS,
} from "../../config/defaults.js";
import { childLogger, type LogFields, type Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import { checkOption, jitterInterval, systemClock, systemRandom, type Clock, type Random, type Timer } from "./clock.js";
import { ERROR_POLICY, computeOutcome, errorKind, type ActionRecord, type ErrorKind, type Outcome, type PassResult } from "./outcome.js";
import { WorkQueue, type WorkQueueOptions } from "./queue.js";
import { reconcileIds } from "./reconcile-id.js";
import { StatusStore, computeStatus, errorContext, errorMessage, isStalledStatus, type KeyStatus } from "./status.js";

/** What a reconcile pass gets besides its key. Its functions are methods: call them on the context (`ctx.acquireWrite()`), do not detach them. */
export interface PassContext {
  /** Unique per pass; the same id is on the pass's log lines and in the key's status. */
  reconcileId: string;
  /** A logger carrying `loop`, `reconcile_id` and the key's fields. */
  log: Logger;
  /** Epoch ms when the pass started: the `now` to give the planner (time is an argument, never read inside). */
  now: number;
  /** Aborted when the runner stops (shutdown or leadership lost): stop before the next write. */
  signal: AbortSignal;
  /**
   * Waits for the loop's shared write budget; call once before each write.
   * @throws QueueShutDownError when the runner stops while waiting
   */
  acquireWrite(): Promise<void>;
  /**
   * Records an action as it completes, so actions done before a later
   * failure are still counted and shown. Report each action either here or in
   * the returned `PassResult.actions`, not both.
   */
  recordAction(action: ActionRecord): void;
}

/**
 * One pass over one key: observe, plan, act. It returns what it did, or
 * throws a classified error (outcome.ts); the runner decides what happens
 * next. It must be reentrant: it may run again at any time, and never
 * concurrently for the same key.
 */
export type Reconcile<K> = (key: K, ctx: PassContext) => Promise<PassResult>;

/** Options of a `Runner`. Durations in milliseconds. */
export interface RunnerOptions<K> {
  // ── identity ──
  /** The loop's name, the `loop` label of metrics and logs (`sync`, `promotion`, `healing`). */
  loop: string;
  /** The string form of a key (`qa/web`): status is kept under it. */
  keyOf: (key: K) => string;
  /** Log fields of a key (`env`, `nomad_job`, `pool`, …). @default none */
  keyFields?: (key: K) => LogFields;

  // ── work ──
  reconcile: Reconcile<K>;
  /** Concurrent passes (over different keys). @default RUNNER_WORKERS (4) */
  workers?: number;
  /**
   * Every key that should be looked at (desired ∪ actual), listed at start
   * and at each full resync; new keys join the known set. A failure is logged
   * and the resync goes on with the keys already known.
   */
  listKeys?: () => K[] | Promise<K[]>;
  /** Backoff and write-budget settings of the loop's queue. */
  queue?: Pick<WorkQueueOptions<K>, "backoffBaseMs" | "backoffCapMs" | "writeQps" | "writeBurst">;
  /**
   * Whether a pass over `key` would only repeat its last one: nothing it
   * depends on changed since (the loop keeps what its last clean pass saw).
   * A full resync and `visit` skip such a key when it is also settled: Ready
   * without failures, and no recheck, retry or backoff pending. `add` never
   * skips. It must be cheap and must not throw. @default nothing is skipped
   */
  upToDate?: (key: K, id: string) => boolean;

  // ── timing ──
  /** Period of the full resync, and of a converged key's next visit. @default RESYNC_INTERVAL_MS (10 min) */
  resyncIntervalMs?: number;
  /** Jitter of that period, as a share of it (0.1 = ±10 %). @default RESYNC_JITTER_FRACTION */
  resyncJitterFraction?: number;
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: Random;

  // ── recording ──
  logger: Logger;
  metrics?: StewardMetrics;
  /** Called with each key's status after every pass (for events and the API). */
  onStatus?: (status: KeyStatus) => void;
  /** @default `reconcileIds()`: a random prefix per runner and a counter (`3f2a9-1b`) */
  newReconcileId?: () => string;
}

/**
 * Runs a loop: `workers` workers take keys from a `WorkQueue`, call
 * `reconcile`, and then, in one place (Flux's deferred summarize), turn the
 * pass into its outcome and schedule, status, metrics and one log line:
 *
 * - `done`: backoff forgotten; the next full resync looks at the key again
 *   (and skips it when `upToDate` says its inputs did not change);
 * - `requeue`: visited again after `afterMs` (capped at the resync interval);
 *   a conflict is re-observed at once, but conflicts in a row beyond
 *   RUNNER_CONFLICT_IMMEDIATE_RETRIES back off, so a stale cache cannot spin;
 * - `retry`: per-key backoff, no sooner than the error's Retry-After;
 * - `stalled`: not visited again until `add(key)` (an input changed);
 *   the full resync skips stalled keys.
 *
 * The log line is at the error policy's level for failures, `info` when
 * something changed, and `debug` for an idle pass.
 */
export class Runner<K> {
  /** Per-key status, written only by the runner. */
  readonly status = new StatusStore();
  /** The loop's queue: add keys through `add`, use it for `acquireWrite`. */
  readonly queue: WorkQueue<K>;

  private readonly o: RunnerOptions<K>;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly workers: number;
  private readonly resyncIntervalMs: number;
  private readonly resyncJitter: number;
  private readonly log: Logger;
  private readonly known = new Map<string, K>();
  private readonly conflictStreak = new Map<string, number>();
  private readonly abort = new AbortController();
  private running: Promise<void>[] = [];
  private resyncTimer: Timer | undefined;
  private state: "new" | "running" | "stopped" = "new";
  /** When the workers last let the event loop run (performance.now() ms). */
  private sliceStartedAt = 0;
  /** When the next full resync is due (clock ms), once scheduled. */
  private resyncAt: number | undefined;
  /** Reconcile IDs (a UUID per pass cost more than the pass's plan). */
  private readonly nextReconcileId: () => string;
  /** Metric label sets made once, not per pass. */
  private readonly loopLabels: { loop: string };
  private readonly resultLabels: Record<Outcome["result"], { loop: string; result: Outcome["result"] }>;

  /** @throws RangeError naming the option when a count or duration is out of range */
  constructor(options: RunnerOptions<K>) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.workers = checkOption("workers", options.workers ?? RUNNER_WORKERS, 1);
    this.resyncIntervalMs = checkOption("resyncIntervalMs", options.resyncIntervalMs ?? RESYNC_INTERVAL_MS, 1);
    this.resyncJitter = checkOption("resyncJitterFraction", options.resyncJitterFraction ?? RESYNC_JITTER_FRACTION);
    if (this.resyncJitter >= 1) throw new RangeError(`resyncJitterFraction: must be < 1, got ${this.resyncJitter}`);
    this.log = childLogger(options.logger, { loop: options.loop });
    this.nextReconcileId = options.newReconcileId ?? reconcileIds();
    const loop = options.loop;
    this.loopLabels = { loop };
    this.resultLabels = { done: { loop, result: "done" }, requeue: { loop, result: "requeue" }, retry: { loop, result: "retry" }, stalled: { loop, result: "stalled" } };
    const depth = options.metrics?.queueDepth;
    this.queue = new WorkQueue<K>({
      ...options.queue,
      keyOf: options.keyOf,
      clock: this.clock,
      random: this.random,
      ...(depth ? { onDepth: (d: number) => this.reportDepth(depth, d) } : {}),
    });
  }

  private depthNow = 0;
  private depthPending = false;

  /**
   * The queue reports its depth at every add and hand-out (twice per key of a
   * pass); the gauge takes the latest value once per turn of the event loop.
   */
  private reportDepth(gauge: NonNullable<StewardMetrics["queueDepth"]>, depth: number): void {
    this.depthNow = depth;
    if (this.depthPending) return;
    this.depthPending = true;
    setImmediate(() => {
      this.depthPending = false;
      gauge.set({ loop: this.o.loop }, this.depthNow);
    });
  }

  /** Starts the workers and the full resync (a first one runs at once). Call once. */
  start(): void {
    if (this.state !== "new") throw new Error(`runner ${this.o.loop}: start() called twice`);
    this.state = "running";
    for (let i = 0; i < this.workers; i++) this.running.push(this.work());
    void this.resync();
  }

  /** Queues `key` now and remembers it for resyncs: a real pass, never skipped. Use for every event mapped to this key. */
  add(key: K): void {
    this.known.set(this.o.keyOf(key), key);
    this.queue.add(key);
  }

  /**
   * Queues `key` now unless it is settled and `upToDate` (see the option),
   * and remembers it for resyncs. What a resync does for every key.
   * @returns true when queued, false when skipped
   */
  visit(key: K): boolean {
    const id = this.o.keyOf(key);
    this.known.set(id, key);
    if (this.skippable(key, id, this.status.get(id))) return false;
    this.queue.add(key);
    return true;
  }

  /** When the next full resync is due (epoch ms of the runner's clock); undefined before start and after stop. */
  get nextResyncAt(): number | undefined {
    return this.state === "running" ? this.resyncAt : undefined;
  }

  /**
   * Runs a full resync now (and the next one a resync interval later):
   * lists the keys, then visits every known key that is not stalled.
   * @returns how many keys were queued and how many skipped as up to date
   */
  async resyncNow(): Promise<{ queued: number; skipped: number }> {
    this.resyncTimer?.cancel();
    this.resyncTimer = undefined;
    return this.resync();
  }

  /** Forgets a key that no longer exists: no more resyncs, no status. */
  remove(key: K): void {
    const id = this.o.keyOf(key);
    this.known.delete(id);
    this.conflictStreak.delete(id);
    this.status.delete(id);
    this.queue.forget(key);
  }

  /**
   * Stops: aborts in-flight passes' signals, drops queued keys, and resolves
   * once every worker has finished its current pass.
   */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.resyncTimer?.cancel();
    this.abort.abort(new Error(`runner ${this.o.loop} stopped`));
    this.queue.shutdown();
    await Promise.all(this.running);
  }

  /** Lists keys, visits every known key that is not stalled, and schedules the next resync. */
  private async resync(): Promise<{ queued: number; skipped: number }> {
    let queued = 0;
    let skipped = 0;
    if (this.state !== "running") return { queued, skipped };
    if (this.o.listKeys) {
      try {
        for (const key of await this.o.listKeys()) this.known.set(this.o.keyOf(key), key);
      } catch (err) {
        this.log.warn({ err }, "resync: listing keys failed; resyncing the keys already known");
      }
    }
    if (this.state !== "running") return { queued, skipped };
    for (const [id, key] of this.known) {
      const st = this.status.get(id);
      if (isStalledStatus(st)) continue;
      if (this.skippable(key, id, st)) skipped++;
      else {
        this.queue.add(key);
        queued++;
      }
    }
    // A resync started by hand replaced the scheduled one; two must never be pending.
    this.resyncTimer?.cancel();
    const next = jitterInterval(this.resyncIntervalMs, this.resyncJitter, this.random);
    this.resyncAt = this.clock.now() + next;
    this.resyncTimer = this.clock.setTimeout(() => void this.resync(), next);
    this.log.debug({ queued, skipped }, "resync: keys visited");
    return { queued, skipped };
  }

  /**
   * A key a visit may skip: its last pass succeeded with nothing pending (no
   * failure counted, no recheck, retry or backoff waiting in the queue) and
   * the loop says its inputs are those of that pass.
   */
  private skippable(key: K, id: string, st: KeyStatus | undefined): boolean {
    const upToDate = this.o.upToDate;
    if (!upToDate) return false;
    const ready = st?.conditions.length === 1 ? st.conditions[0] : undefined;
    if (!st || ready?.status !== "True" || st.failures > 0 || this.queue.isDelayed(id)) return false;
    return upToDate(key, id);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.pass(key);
      } finally {
        this.queue.done(key);
      }
      await this.yieldWhenBusy();
    }
  }

  /**
   * Idle passes resolve through promises alone, so a queue of thousands runs
   * as one long turn of the event loop; every RUNNER_SLICE_MS the workers step
   * aside for timers and I/O (an answer to a write, a lock renewal).
   */
  private async yieldWhenBusy(): Promise<void> {
    if (performance.now() - this.sliceStartedAt < RUNNER_SLICE_MS) return;
    await nextTurn();
    this.sliceStartedAt = performance.now();
  }

  private async pass(key: K): Promise<void> {
    const id = this.o.keyOf(key);
    this.known.set(id, key);
    const reconcileId = this.nextReconcileId();
    const started = this.clock.now();
    // One object per pass, its methods on the prototype: a pass over 10,000 keys makes no closures.
    const ctx = new Pass<K>(this, key, reconcileId, started);
    let result: PassResult | undefined;
    let error: unknown;
    try {
      // Inside the try, a reconcile that throws synchronously is caught like one that rejects.
      result = await this.o.reconcile(key, ctx);
    } catch (err) {
      error = err ?? new Error("reconcile threw a nullish value");
    }
    if (error !== undefined && this.state === "stopped") {
      // Interrupted by stop (shutdown, lost leadership): not an outcome of the key, so no status, metrics or error.
      ctx.log.info({ err: error }, "pass interrupted: runner stopping");
      return;
    }
    const returned = result?.actions ?? [];
    const actions = ctx.recorded.length === 0 ? returned : returned.length === 0 ? ctx.recorded : [...ctx.recorded, ...returned];
    const outcome = computeOutcome(error, result?.recheckAfterMs);
    const nextInMs = this.schedule(key, id, outcome, error);
    this.record({ key, id, reconcileId, ctx, started, actions, outcome, error, nextInMs });
  }

  /** The logger of one pass (used by `Pass`): the loop's, with the key's fields and the reconcile ID. */
  passLogger(key: K, reconcileId: string): Logger {
    return childLogger(this.log, { ...this.o.keyFields?.(key), reconcile_id: reconcileId });
  }

  /** The write budget for one pass (used by `Pass`). */
  passAcquireWrite(): Promise<void> {
    return this.queue.acquireWrite(this.abort.signal);
  }

  /** Aborted when the runner stops. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Puts the key back in the queue as the outcome says; returns the delay, or undefined when none is scheduled (done: the next resync; stalled). */
  private schedule(key: K, id: string, outcome: Outcome, error: unknown): number | undefined {
    const kind = error === undefined ? undefined : errorKind(error);
    if (kind !== "conflict") this.conflictStreak.delete(id);
    switch (outcome.result) {
      case "done":
        // No follow-up of its own: the full resync looks at every settled key, and skips it while nothing changed.
        this.queue.forget(key);
        return undefined;
      case "requeue": {
        if (kind === "conflict") return this.scheduleConflict(key, id);
        // Waiting, or a recheck the planner asked for: progress, not failure.
        this.queue.forget(key);
        const next = Math.min(outcome.afterMs, jitterInterval(this.resyncIntervalMs, this.resyncJitter, this.random));
        this.queue.addAfter(key, next);
        return next;
      }
      case "retry":
        return this.queue.addRateLimited(key, outcome.afterMs ?? 0);
      case "stalled":
        this.queue.forget(key);
        return undefined;
    }
  }

  private scheduleConflict(key: K, id: string): number {
    const streak = (this.conflictStreak.get(id) ?? 0) + 1;
    this.conflictStreak.set(id, streak);
    if (streak <= RUNNER_CONFLICT_IMMEDIATE_RETRIES) {
      this.queue.add(key);
      return 0;
    }
    return this.queue.addRateLimited(key);
  }

  /** The single place a pass is recorded: status, metrics, one log line. */
  private record(p: {
    key: K;
    id: string;
    reconcileId: string;
    ctx: Pass<K>;
    started: number;
    actions: ActionRecord[];
    outcome: Outcome;
    error: unknown;
    nextInMs: number | undefined;
  }): void {
    const now = this.clock.now();
    const { loop } = this.o;
    const status = computeStatus(this.status.get(p.id), p.id, {
      outcome: p.outcome,
      ...(p.error !== undefined ? { error: p.error } : {}),
      actions: p.actions,
      now,
      reconcileId: p.reconcileId,
      ...(p.nextInMs !== undefined ? { nextInMs: p.nextInMs } : {}),
      failures: this.queue.failuresOf(p.id),
    });
    this.status.set(status);

    const m = this.o.metrics;
    const kind = p.error === undefined ? undefined : errorKind(p.error);
    if (m) {
      m.reconcileTotal.inc(this.resultLabels[p.outcome.result]);
      if (kind && ERROR_POLICY[kind].counted) m.reconcileErrorsTotal.inc({ loop, kind });
      m.reconcileDuration.observe(this.loopLabels, Math.max(0, now - p.started) / 1000);
      for (const a of p.actions) m.actionsTotal.inc({ loop, kind: a.kind, result: a.result });
    }

    const acted = p.actions.some((a) => a.result !== "unchanged");
    const level = kind ? ERROR_POLICY[kind].logged : acted ? "info" : "debug";
    if (this.log.isLevelEnabled(level)) this.logPass(p, level, kind, now);
    try {
      this.o.onStatus?.(status);
    } catch (err) {
      // A broken observer must not break the loop; it is a bug to see in the logs.
      p.ctx.log.error({ err }, "onStatus observer threw");
    }
  }

  private logPass(
    p: { ctx: Pass<K>; started: number; actions: ActionRecord[]; outcome: Outcome; error: unknown; nextInMs: number | undefined },
    level: "debug" | "info" | "warn" | "error",
    kind: ErrorKind | undefined,
    now: number,
  ): void {
    const fields = {
      outcome: p.outcome.result,
      duration_ms: now - p.started,
      ...(p.nextInMs !== undefined ? { next_in_ms: p.nextInMs } : {}),
      actions: p.actions.map(({ kind: k, reason, result }) => ({ kind: k, reason, result })),
      ...(kind ? { error_kind: kind, error_context: errorContext(p.error), err: p.error } : {}),
    };
    p.ctx.log[level](fields, kind ? `pass ${p.outcome.result}: ${errorMessage(p.error)}` : `pass ${p.outcome.result}`);
  }
}

/** A pass's context: what `reconcile` gets besides its key. */
class Pass<K> implements PassContext {
  readonly recorded: ActionRecord[] = [];
  readonly signal: AbortSignal;
  // A child logger costs a redaction of its bindings; an idle pass logs nothing at info, so it is made only when used.
  private child: Logger | undefined;

  constructor(
    private readonly runner: Runner<K>,
    private readonly key: K,
    readonly reconcileId: string,
    readonly now: number,
  ) {
    this.signal = runner.signal;
  }

  get log(): Logger {
    return (this.child ??= this.runner.passLogger(this.key, this.reconcileId));
  }

  acquireWrite(): Promise<void> {
    return this.runner.passAcquireWrite();
  }

  recordAction(action: ActionRecord): void {
    this.recorded.push(action);
  }
}

import { isDeepStrictEqual } from "node:util";
import {
  WATCH_BACKOFF_BASE_MS,
  WATCH_BACKOFF_CAP_MS,
  WATCH_DITHER_MS,
  WATCH_MIN_INTERVAL_MS,
} from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { StewardMetrics } from "../metrics.js";
import { checkOption, fullJitterBackoff, sleep, systemClock, systemRandom, type Clock, type Random } from "../reconciler/core/clock.js";
import { TransientError } from "../reconciler/core/outcome.js";

/** One answer of a blocking query. */
export interface WatchResponse<T> {
  /** The server's index for the answer (X-Consul-Index, X-Nomad-Index, a git commit counter, …). */
  index: number;
  data: T;
  /** Milliseconds since the answering server last heard from the leader (X-Consul-LastContact, X-Nomad-LastContact), for `maxStaleMs`. */
  lastContactMs?: number;
}

/** How one call of a query is made. */
export interface FetchOptions {
  /** Any server may answer (Consul/Nomad `?stale`); false asks the leader. */
  allowStale: boolean;
}

/**
 * A query family that can block until its index moves past `index`
 * (consul-template's Dependency). It only reads; it resolves with the newest
 * answer, or rejects (a TransientError for what is worth retrying).
 * `signal` aborts the call when the watch stops.
 */
export interface WatchQuery<T> {
  /** The `source` label of metrics and logs (`nomad-jobs`, `consul-kv`, …). */
  readonly name: string;
  fetch(index: number, signal: AbortSignal, options: FetchOptions): Promise<WatchResponse<T>>;
}

/** Options of a `Watch`. Durations in milliseconds. */
export interface WatchOptions<T> {
  // ── what to watch, whom to tell ──
  query: WatchQuery<T>;
  /** Called with each new answer, in order, never concurrently; a throw is logged and the watch goes on. */
  onChange: (data: T, index: number) => void | Promise<void>;
  /** Whether two answers are the same (no wake-up). @default util.isDeepStrictEqual */
  equal?: (a: T, b: T) => boolean;

  // ── pacing ──
  /** Least time between the starts of two calls. @default WATCH_MIN_INTERVAL_MS (100) */
  minIntervalMs?: number;
  /** Up to this much random extra wait when the floor applies. @default WATCH_DITHER_MS (20) */
  ditherMs?: number;

  // ── errors ──
  /** First delay after a failure; doubled per failure, full jitter. @default WATCH_BACKOFF_BASE_MS (250) */
  backoffBaseMs?: number;
  /** Longest delay after failures. @default WATCH_BACKOFF_CAP_MS (60 s) */
  backoffCapMs?: number;

  // ── staleness ──
  /**
   * When set, calls allow stale reads, and an answer whose server last heard
   * from the leader more than this long ago is thrown away and asked again
   * of the leader (consul-template's max_stale). When unset, every call asks
   * the leader.
   */
  maxStaleMs?: number;

  // ── time, chance, recording ──
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  metrics?: StewardMetrics;
}

/**
 * The one blocking-query loop (consul-template's watch/view.go rules):
 * - the same index again (the server's wait ran out) → call again, no wake-up;
 * - the index went backwards (a snapshot restore, a new cluster) → reset to 0
 *   and list again;
 * - an index below 1 is used as 1, since Consul and Nomad answer index 0 at once;
 * - equal data under a new index → no wake-up, but the index is kept;
 * - at least `minIntervalMs` (+ dither) between the starts of two calls;
 * - on error, jittered exponential backoff (no sooner than a TransientError's
 *   retryAfterMs), reset after any successful call;
 * - `synced` turns true at the first answer delivered, for /readyz.
 */
export class Watch<T> {
  private readonly o: WatchOptions<T>;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly minIntervalMs: number;
  private readonly ditherMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly equal: (a: T, b: T) => boolean;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private lastIndex = 0;
  private current: { data: T } | undefined;
  private failureCount = 0;
  private lastErr: unknown;
  private readonly syncedPromise: Promise<void>;
  private markSynced!: () => void;

  /** @throws RangeError naming the option when a duration is out of range */
  constructor(options: WatchOptions<T>) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.minIntervalMs = checkOption("minIntervalMs", options.minIntervalMs ?? WATCH_MIN_INTERVAL_MS);
    this.ditherMs = checkOption("ditherMs", options.ditherMs ?? WATCH_DITHER_MS);
    this.backoffBaseMs = checkOption("backoffBaseMs", options.backoffBaseMs ?? WATCH_BACKOFF_BASE_MS, 1);
    this.backoffCapMs = checkOption("backoffCapMs", options.backoffCapMs ?? WATCH_BACKOFF_CAP_MS, this.backoffBaseMs);
    if (options.maxStaleMs !== undefined) checkOption("maxStaleMs", options.maxStaleMs);
    this.equal = options.equal ?? isDeepStrictEqual;
    this.syncedPromise = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** The query's name. */
  get name(): string {
    return this.o.query.name;
  }

  /** True once the first answer was delivered. */
  get synced(): boolean {
    return this.current !== undefined;
  }

  /** The index the next call will block on. */
  get index(): number {
    return this.lastIndex;
  }

  /** The latest answer delivered, if any. */
  get data(): T | undefined {
    return this.current?.data;
  }

  /** Failed calls since the last successful one. */
  get failures(): number {
    return this.failureCount;
  }

  /** The latest error, until a call succeeds. */
  get lastError(): unknown {
    return this.lastErr;
  }

  /** Resolves at the first answer delivered; never rejects (errors are retried). */
  whenSynced(): Promise<void> {
    return this.syncedPromise;
  }

  /** Starts the loop. Call once. */
  start(): void {
    if (this.loop) throw new Error(`watch ${this.name}: start() called twice`);
    this.loop = this.run();
  }

  /** Aborts the call in flight and any wait, and resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.abort.abort(new Error(`watch ${this.name} stopped`));
    await this.loop;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let lastStart: number | undefined;
    let allowStale = this.o.maxStaleMs !== undefined;
    while (!this.stopped) {
      if (lastStart !== undefined && !(await this.pace(lastStart))) return;
      lastStart = this.clock.now();
      let res: WatchResponse<T>;
      try {
        res = await this.o.query.fetch(this.lastIndex, this.abort.signal, { allowStale });
      } catch (err) {
        if (this.stopped) return;
        if (!(await this.backOff(err))) return;
        continue;
      }
      if (this.stopped) return;
      this.failureCount = 0;
      this.lastErr = undefined;

      const maxStale = this.o.maxStaleMs;
      if (maxStale !== undefined) {
        const tooStale = allowStale && (res.lastContactMs ?? 0) > maxStale;
        // Stale answers are fine again once the leader answered; only this one is thrown away.
        allowStale = !tooStale;
        if (tooStale) continue;
      }
      await this.accept(res);
    }
  }

  /** Applies the index and equality rules; delivers the answer when it is new. */
  private async accept(res: WatchResponse<T>): Promise<void> {
    if (this.current !== undefined) {
      if (res.index === this.lastIndex) return;
      if (res.index < this.lastIndex) {
        this.o.logger?.info({ source: this.name, from: this.lastIndex, to: res.index }, "watch: index went backwards; listing again");
        this.lastIndex = 0;
        return;
      }
    }
    this.lastIndex = Math.max(1, res.index);
    if (this.current !== undefined && this.equal(this.current.data, res.data)) return;
    const first = this.current === undefined;
    this.current = { data: res.data };
    try {
      await this.o.onChange(res.data, this.lastIndex);
    } catch (err) {
      this.o.logger?.error({ err, source: this.name, index: this.lastIndex }, "watch: onChange threw");
    }
    if (first) this.markSynced();
  }

  /** Waits out the floor between calls; false when stopped meanwhile. */
  private async pace(lastStart: number): Promise<boolean> {
    const remaining = lastStart + this.minIntervalMs - this.clock.now();
    if (remaining <= 0) return true;
    return this.wait(remaining + Math.floor(this.random() * this.ditherMs));
  }

  /** Counts and logs a failure, then waits its backoff; false when stopped meanwhile. */
  private async backOff(err: unknown): Promise<boolean> {
    const failures = this.failureCount++;
    this.lastErr = err;
    const floor = err instanceof TransientError ? (err.retryAfterMs ?? 0) : 0;
    const delay = Math.max(floor, fullJitterBackoff(failures, this.backoffBaseMs, this.backoffCapMs, this.random));
    this.o.metrics?.sourceErrorsTotal.inc({ source: this.name });
    this.o.logger?.warn({ err, source: this.name, failures: this.failureCount, retry_in_ms: delay }, "watch: call failed; backing off");
    return delay <= 0 || this.wait(delay);
  }

  private async wait(ms: number): Promise<boolean> {
    try {
      await sleep(this.clock, ms, this.abort.signal);
      return true;
    } catch {
      return false;
    }
  }
}

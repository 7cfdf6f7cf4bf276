import {
  QUEUE_BACKOFF_BASE_MS,
  QUEUE_BACKOFF_CAP_MS,
  WRITE_BUCKET_BURST,
  WRITE_BUCKET_QPS,
} from "../../config/defaults.js";
import { checkOption, fullJitterBackoff, systemClock, systemRandom, type Clock, type Random, type Timer } from "./clock.js";

/** Options of a `WorkQueue`. Durations in milliseconds. */
export interface WorkQueueOptions<K> {
  // ── identity ──
  /** The string form of a key: two keys with the same string are the same key. */
  keyOf: (key: K) => string;

  // ── per-key retry backoff ──
  /** First retry delay of a failing key. @default QUEUE_BACKOFF_BASE_MS (500) */
  backoffBaseMs?: number;
  /** Longest retry delay of a failing key. @default QUEUE_BACKOFF_CAP_MS (5 min) */
  backoffCapMs?: number;

  // ── global write budget ──
  /** Sustained `acquireWrite` grants per second. @default WRITE_BUCKET_QPS (10) */
  writeQps?: number;
  /** Grants available at once before the rate applies. @default WRITE_BUCKET_BURST (100) */
  writeBurst?: number;

  // ── time, chance, observation ──
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: Random;
  /** Called whenever the number of ready keys changes (for `steward_queue_depth`). */
  onDepth?: (depth: number) => void;
}

/** Raised to writers still waiting for the write budget when the queue shuts down: the loop is stopping (or lost leadership), so the write must not happen. */
export class QueueShutDownError extends Error {
  constructor() {
    super("work queue shut down");
    this.name = "QueueShutDownError";
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A keyed work queue in the manner of client-go's workqueue, with the retry
 * policy kept here rather than in reconcilers (controller-runtime).
 *
 * Guarantees:
 * - a key added many times before a worker takes it is handed out once;
 * - a key is never handed to two workers at once: added while in process, it
 *   is handed out again after `done(key)`;
 * - `addAfter` keeps the earliest of the pending times for a key; `add` (now)
 *   supersedes any pending delayed add, because every pass schedules its own
 *   follow-up;
 * - `addRateLimited` waits per key with exponential backoff and full jitter,
 *   growing until `forget(key)`;
 * - `acquireWrite` is one token bucket shared by every key of the loop.
 */
export class WorkQueue<K> {
  private readonly keyOf: (key: K) => string;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly writeQps: number;
  private readonly writeBurst: number;
  private readonly onDepth: ((depth: number) => void) | undefined;

  /** The latest key value seen for each string form. */
  private readonly items = new Map<string, K>();
  private ready: string[] = [];
  /** Keys that must be processed (again): queued in `ready`, or waiting for their current pass to end. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Key → when its delayed add falls due (epoch ms). */
  private readonly delayed = new Map<string, number>();
  /**
   * The delayed adds in time order, behind one timer for the earliest: a
   * pass over N keys schedules N follow-ups, and N runtime timers of
   * jittered lengths cost far more than a heap. Entries whose key was since
   * added, or rescheduled earlier, stay until popped and are skipped.
   */
  private heap: DelayedEntry[] = [];
  private heapSeq = 0;
  private delayTimer: { at: number; timer: Timer } | undefined;
  private readonly failures = new Map<string, number>();
  private getters: ((key: K | undefined) => void)[] = [];
  private closed = false;

  private tokens: number;
  private refilledAt: number;
  private writers: Waiter[] = [];
  private writeTimer: Timer | undefined;

  /** @throws RangeError naming the option when a duration or rate is out of range */
  constructor(options: WorkQueueOptions<K>) {
    this.keyOf = options.keyOf;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.backoffBaseMs = checkOption("backoffBaseMs", options.backoffBaseMs ?? QUEUE_BACKOFF_BASE_MS);
    this.backoffCapMs = checkOption("backoffCapMs", options.backoffCapMs ?? QUEUE_BACKOFF_CAP_MS, this.backoffBaseMs);
    this.writeQps = checkOption("writeQps", options.writeQps ?? WRITE_BUCKET_QPS, Number.MIN_VALUE);
    this.writeBurst = checkOption("writeBurst", options.writeBurst ?? WRITE_BUCKET_BURST, 1);
    this.onDepth = options.onDepth;
    this.tokens = this.writeBurst;
    this.refilledAt = this.clock.now();
  }

  /** Keys ready for a worker (not counting delayed ones or those in process). */
  get depth(): number {
    return this.ready.length;
  }

  /** Keys waiting for a delayed or rate-limited add. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  /** True while a delayed or rate-limited add of the key (its string form) is pending. */
  isDelayed(id: string): boolean {
    return this.delayed.has(id);
  }

  /** True once `shutdown()` was called. */
  get isShutDown(): boolean {
    return this.closed;
  }

  /** Queues `key` for processing now. Ignored after shutdown. */
  add(key: K): void {
    if (this.closed) return;
    const id = this.remember(key);
    this.cancelDelayed(id);
    if (this.dirty.has(id)) return;
    this.dirty.add(id);
    if (this.processing.has(id)) return;
    this.ready.push(id);
    this.dispatch();
  }

  /**
   * Queues `key` after `ms` milliseconds (`ms <= 0` is `add`). When the key is
   * already due earlier, the earlier time stands.
   */
  addAfter(key: K, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const id = this.remember(key);
    // Already queued to run now (or right after its current pass): nothing is earlier.
    if (this.dirty.has(id)) return;
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(id);
    if (pending !== undefined && pending <= at) return;
    this.delayed.set(id, at);
    if (this.heap.length > 2 * this.delayed.size + HEAP_SLACK) this.heap = rebuildHeap(this.delayed, () => this.heapSeq++);
    else heapPush(this.heap, { at, seq: this.heapSeq++, id });
    this.armDelayTimer();
  }

  /**
   * Queues `key` after its next backoff delay, uniform in
   * [0, min(cap, base · 2^failures)), and counts one more failure.
   * @param atLeastMs a floor for the delay, e.g. a server's Retry-After
   * @returns the delay chosen, in milliseconds
   */
  addRateLimited(key: K, atLeastMs = 0): number {
    const id = this.keyOf(key);
    const failures = this.failures.get(id) ?? 0;
    const delay = Math.max(atLeastMs, fullJitterBackoff(failures, this.backoffBaseMs, this.backoffCapMs, this.random));
    this.failures.set(id, failures + 1);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the backoff of `key` (after a success). */
  forget(key: K): void {
    this.failures.delete(this.keyOf(key));
  }

  /** Failures counted for `key` since the last `forget`. */
  numRequeues(key: K): number {
    return this.failuresOf(this.keyOf(key));
  }

  /** `numRequeues` by the key's string form. */
  failuresOf(id: string): number {
    return this.failures.get(id) ?? 0;
  }

  /**
   * The next key to process, waiting until one is ready. Resolves `undefined`
   * once the queue is shut down. The caller must call `done(key)` afterwards.
   */
  get(): Promise<K | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.getters.push(resolve);
      this.dispatch();
    });
  }

  /** Ends the processing of `key`; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    const id = this.keyOf(key);
    this.processing.delete(id);
    if (this.dirty.has(id) && !this.closed) {
      this.ready.push(id);
      this.dispatch();
    }
  }

  /**
   * Waits for one unit of the loop's write budget (token bucket: `writeQps`
   * per second, `writeBurst` at once). Grants are first come, first served.
   * @throws QueueShutDownError if the queue shuts down first; the signal's reason if it aborts first
   */
  acquireWrite(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new QueueShutDownError());
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    this.refill();
    if (this.writers.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = (): void => {
        this.writers = this.writers.filter((w) => w !== waiter);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.writers.push(waiter);
      this.scheduleWriters();
    });
  }

  /**
   * Stops the queue: pending and delayed keys are dropped, waiting `get`s
   * resolve `undefined`, waiting writers reject with `QueueShutDownError`.
   * Keys in process finish; their `done` no longer requeues.
   */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.delayTimer?.timer.cancel();
    this.delayTimer = undefined;
    this.delayed.clear();
    this.heap = [];
    this.ready = [];
    this.dirty.clear();
    for (const get of this.getters) get(undefined);
    this.getters = [];
    this.writeTimer?.cancel();
    this.writeTimer = undefined;
    for (const w of this.writers) w.reject(new QueueShutDownError());
    this.writers = [];
    this.onDepth?.(0);
  }

  private remember(key: K): string {
    const id = this.keyOf(key);
    this.items.set(id, key);
    return id;
  }

  private cancelDelayed(id: string): void {
    if (!this.delayed.delete(id)) return;
    if (this.delayed.size === 0) {
      this.heap = [];
      this.armDelayTimer();
    }
  }

  /** Keeps the one timer set for the earliest live delayed add (none when there is none). */
  private armDelayTimer(): void {
    const heap = this.heap;
    for (let top = heap[0]; top && this.delayed.get(top.id) !== top.at; top = heap[0]) heapPop(heap);
    const next = heap[0];
    if (!next) {
      this.delayTimer?.timer.cancel();
      this.delayTimer = undefined;
      return;
    }
    if (this.delayTimer && this.delayTimer.at <= next.at) return;
    this.delayTimer?.timer.cancel();
    const at = next.at;
    this.delayTimer = { at, timer: this.clock.setTimeout(() => this.fireDelayed(), at - this.clock.now()) };
  }

  private fireDelayed(): void {
    this.delayTimer = undefined;
    const now = this.clock.now();
    const heap = this.heap;
    for (let top = heap[0]; top && top.at <= now; top = heap[0]) {
      heapPop(heap);
      if (this.delayed.get(top.id) !== top.at) continue;
      this.delayed.delete(top.id);
      const latest = this.items.get(top.id);
      if (latest !== undefined) this.add(latest);
    }
    this.armDelayTimer();
  }

  private dispatch(): void {
    while (this.getters.length > 0 && this.ready.length > 0) {
      const id = this.ready.shift() as string;
      const get = this.getters.shift() as (key: K | undefined) => void;
      this.dirty.delete(id);
      this.processing.add(id);
      get(this.items.get(id));
    }
    this.onDepth?.(this.ready.length);
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.writeBurst, this.tokens + ((now - this.refilledAt) * this.writeQps) / 1000);
    this.refilledAt = now;
  }

  private scheduleWriters(): void {
    if (this.writeTimer || this.writers.length === 0) return;
    const waitMs = Math.ceil(((1 - this.tokens) * 1000) / this.writeQps);
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = undefined;
      this.refill();
      while (this.writers.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        (this.writers.shift() as Waiter).resolve();
      }
      this.scheduleWriters();
    }, waitMs);
  }
}

/** Stale heap entries tolerated beyond twice the live ones before the heap is rebuilt. */
const HEAP_SLACK = 1024;

interface DelayedEntry {
  at: number;
  /** Ties fall due in the order they were scheduled. */
  seq: number;
  id: string;
}

function before(a: DelayedEntry, b: DelayedEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function heapPush(heap: DelayedEntry[], e: DelayedEntry): void {
  heap.push(e);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = heap[p] as DelayedEntry;
    if (!before(e, parent)) break;
    heap[i] = parent;
    i = p;
  }
  heap[i] = e;
}

function heapPop(heap: DelayedEntry[]): DelayedEntry | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const c = r < heap.length && before(heap[r] as DelayedEntry, heap[l] as DelayedEntry) ? r : l;
    const child = heap[c] as DelayedEntry;
    if (!before(child, last)) break;
    heap[i] = child;
    i = c;
  }
  heap[i] = last;
  return top;
}

/** A heap of the live delayed adds only, in due order. */
function rebuildHeap(delayed: ReadonlyMap<string, number>, seq: () => number): DelayedEntry[] {
  const entries = [...delayed].map(([id, at]) => ({ at, seq: seq(), id }));
  entries.sort((a, b) => a.at - b.at || a.seq - b.seq);
  return entries;
}

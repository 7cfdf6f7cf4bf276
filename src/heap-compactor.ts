import v8 from "node:v8";
import vm from "node:vm";
import { HEAP_COMPACT_DELAY_MS } from "./config/defaults.js";
import type { Logger } from "./log.js";
import type { Clock, Timer } from "./reconciler/core/clock.js";

/** A full, synchronous garbage collection. */
export type CollectGarbage = () => void;

/**
 * A full, compacting garbage collection: V8's `gc` (the global one when Node
 * runs with `--expose-gc`, else one enabled at runtime: the flag set, then
 * read from a new context, which V8 creates with the gc extension) run with
 * `--compact-on-every-full-gc` set for that one call. A plain full GC frees
 * the garbage but leaves most pages in place, each with a few live objects:
 * heap committed stayed ~160 MB for ~105 MB live after an intake; compacted,
 * it comes down to about the live size. Undefined if `gc` cannot be had.
 */
export function runtimeGc(): CollectGarbage | undefined {
  let gc: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== "function") {
    try {
      v8.setFlagsFromString("--expose-gc");
      gc = vm.runInNewContext("gc");
    } catch {
      return undefined;
    }
  }
  if (typeof gc !== "function") return undefined;
  const full = gc as CollectGarbage;
  return () => {
    v8.setFlagsFromString("--compact-on-every-full-gc");
    try {
      full();
    } finally {
      v8.setFlagsFromString("--no-compact-on-every-full-gc");
    }
  };
}

/** Options of a {@link HeapCompactor}. */
export interface HeapCompactorOptions {
  /** Quiet time after the last `schedule()` before collecting, in ms. @default HEAP_COMPACT_DELAY_MS (10 s) */
  delayMs?: number;
  /** @default runtimeGc() */
  collect?: CollectGarbage;
  /** @default the runtime's timers, unreferenced (never what keeps the process up) */
  clock?: Pick<Clock, "setTimeout">;
  logger?: Logger;
}

const unrefTimers: Pick<Clock, "setTimeout"> = {
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/**
 * One full garbage collection after a burst of work (a revision read and
 * rendered, the first passes over every key), once things are quiet again.
 * V8 collects when it next needs room, which an idle daemon may not for
 * minutes: until then the heap keeps the size the burst grew it to (at
 * 10,000 jobs, ~160 MB for ~105 MB live). A compacting collection here
 * costs a few hundred ms of one turn of the event loop per burst (the
 * leader's renewals allow 1 s), and gives the rest back.
 */
export class HeapCompactor {
  private readonly delayMs: number;
  private readonly collect: CollectGarbage | undefined;
  private readonly clock: Pick<Clock, "setTimeout">;
  private timer: Timer | undefined;
  private closed = false;
  /** Collections done (tests, logs). */
  collections = 0;

  constructor(private readonly o: HeapCompactorOptions = {}) {
    this.delayMs = o.delayMs ?? HEAP_COMPACT_DELAY_MS;
    this.collect = o.collect ?? runtimeGc();
    this.clock = o.clock ?? unrefTimers;
  }

  /** A burst of work just happened: collect once `delayMs` pass without another. */
  schedule(): void {
    if (this.closed || !this.collect) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => this.run(), this.delayMs);
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private run(): void {
    this.timer = undefined;
    if (this.closed || !this.collect) return;
    const before = process.memoryUsage();
    const started = performance.now();
    this.collect();
    this.collections++;
    const after = process.memoryUsage();
    const mb = (n: number): number => Math.round(n / 2 ** 20);
    this.o.logger?.info({ ms: Math.round(performance.now() - started), heap_mb: [mb(before.heapTotal), mb(after.heapTotal)], heap_used_mb: [mb(before.heapUsed), mb(after.heapUsed)] }, "memory: heap collected after a burst of work");
  }
}

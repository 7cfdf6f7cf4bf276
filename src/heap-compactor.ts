import v8 from "node:v8";
import vm from "node:vm";
import { HEAP_COMPACT_DELAY_MS } from "./config/defaults.js";
import type { Logger } from "./log.js";
import type { Clock, Timer } from "./reconciler/core/clock.js";

/** A full, synchronous garbage collection (V8's `gc`). */
export type CollectGarbage = () => void;

/**
 * V8's `gc` function: the global one when Node runs with `--expose-gc`, else
 * one enabled at runtime (the flag set, then read from a new context, which
 * V8 creates with the gc extension); undefined if neither works.
 */
export function runtimeGc(): CollectGarbage | undefined {
  const global = (globalThis as { gc?: CollectGarbage }).gc;
  if (typeof global === "function") return global;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? (gc as CollectGarbage) : undefined;
  } catch {
    return undefined;
  }
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
 * 10,000 jobs, ~150 MB for ~110 MB live). A collection here costs tens of
 * ms of CPU per burst, and gives the rest back.
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

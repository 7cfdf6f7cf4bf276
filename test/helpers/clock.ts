import type { Clock, Random, Timer } from "../../src/reconciler/core/clock.js";

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when the test says so. Timers fire in time order
 * (ties in scheduling order) during `advance`, with pending promise callbacks
 * flushed before and after each one, so async code built on the clock runs as
 * it would in real time, without any real wait.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const p: Pending = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get timerCount(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Delays (ms from now) of the pending timers, soonest first. */
  pendingDelays(): number[] {
    return this.live().map((p) => p.at - this.current);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await flush();
    for (;;) {
      const next = this.live()[0];
      if (!next || next.at > target) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      next.fn();
      await flush();
    }
    this.current = target;
    this.pending = this.pending.filter((p) => !p.cancelled);
    await flush();
  }

  /** Advances to the next pending timer and fires it (and any due at the same instant). */
  async next(): Promise<void> {
    const soonest = this.live()[0];
    await this.advance(soonest ? soonest.at - this.current : 0);
  }

  private live(): Pending[] {
    return this.pending.filter((p) => !p.cancelled).sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}

/** Lets every promise callback that is ready run: a few macrotask turns, no timer of the clock's. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A `Random` that returns `values` in turn, then repeats the last (0.5 when empty). */
export function fixedRandom(...values: number[]): Random {
  let i = 0;
  return () => {
    const v = values[Math.min(i, values.length - 1)] ?? 0.5;
    i++;
    return v;
  };
}

import type { Clock, SimTimer } from "../core/clock.js";

/**
 * Keyed background timers on the sim clock (session TTLs, TTL checks,
 * failure detection, tombstone reaping). Setting a key replaces its timer;
 * `clear()` cancels all of them when the server closes. The timers are
 * unref'd: a pending session expiry must not keep a test process alive.
 */
export class TimerSet {
  private readonly timers = new Map<string, SimTimer>();

  constructor(private readonly clock: Clock) {}

  /** Runs `fn` after `simMs` sim milliseconds, replacing any timer under `key`. */
  set(key: string, simMs: number, fn: () => void): void {
    this.cancel(key);
    const t = this.clock.setTimeout(
      () => {
        if (this.timers.get(key) === t) this.timers.delete(key);
        fn();
      },
      simMs,
      { unref: true },
    );
    this.timers.set(key, t);
  }

  cancel(key: string): void {
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
  }

  has(key: string): boolean {
    return this.timers.has(key);
  }

  clear(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }
}

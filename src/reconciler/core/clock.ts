/**
 * Time and chance, injected. Every component that waits or jitters takes a
 * `Clock` and a `Random`, so tests drive time with a fake clock
 * (test/helpers/clock.ts) instead of sleeping (nomad-autoscaler's `nowFunc`,
 * client-node's `delayFn`).
 */

/** A scheduled callback; `cancel()` is safe to call more than once, and after it fired. */
export interface Timer {
  cancel(): void;
}

/** Wall-clock time and timers. `now()` is epoch milliseconds; `setTimeout` takes milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
}

/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/** The real clock: `Date.now()` and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(handle) };
  },
};

/** The runtime's random numbers. */
export const systemRandom: Random = Math.random;

/**
 * Resolves after `ms` on `clock`; rejects with the signal's reason as soon as
 * `signal` aborts (at once if it already has). `ms <= 0` still yields to the
 * clock, so a loop built on it cannot spin without giving timers a turn.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason as Error);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Exponential backoff with full jitter (the AWS architecture blog's "full
 * jitter"): uniform in [0, min(cap, base · 2^failures)). Spreads retries of
 * many keys that failed together, at the price of sometimes retrying soon.
 * @param failures failures so far before this delay, 0 for the first retry
 */
export function fullJitterBackoff(failures: number, baseMs: number, capMs: number, random: Random): number {
  // 2^failures overflows to Infinity past ~1000 failures; min() keeps it at the cap.
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, failures));
  return Math.floor(random() * ceiling);
}

/**
 * `intervalMs` moved by up to ±`fraction` of itself (Flux's jitter/interval.go),
 * so periodic work started together drifts apart.
 */
export function jitterInterval(intervalMs: number, fraction: number, random: Random): number {
  return Math.max(0, Math.round(intervalMs * (1 + fraction * (2 * random() - 1))));
}

/**
 * Checks an option at construction time, so a bad value fails at startup with
 * the option's name (Temporal's compileRetryPolicy) instead of misbehaving later.
 * @throws RangeError naming `field` when `value` is not a finite number ≥ `min`
 */
export function checkOption(field: string, value: number, min = 0): number {
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`${field}: must be a finite number >= ${min}, got ${String(value)}`);
  }
  return value;
}

import pRetry, { AbortError } from "p-retry";
import { HTTP_RETRY_AFTER_CAP_MS, HTTP_RETRY_ATTEMPTS, HTTP_RETRY_BASE_MS, HTTP_RETRY_CAP_MS } from "../config/defaults.js";
import { checkOption, fullJitterBackoff, type Clock, type Random } from "../reconciler/core/clock.js";
import type { Logger } from "../log.js";
import type { StewardMetrics } from "../metrics.js";
import { TransientError } from "../reconciler/core/outcome.js";

/** Retries of one call (layer 1 of three; STYLE 4.4). Durations in milliseconds. */
export interface HttpRetryPolicy {
  /** Attempts in all, the first included. @default HTTP_RETRY_ATTEMPTS (4) */
  attempts: number;
  /** First delay between attempts; doubled per attempt, full jitter. @default HTTP_RETRY_BASE_MS (200) */
  baseMs: number;
  /** Longest delay between attempts. @default HTTP_RETRY_CAP_MS (5 s) */
  capMs: number;
  /** Longest Retry-After waited inside the call; longer ones end the call with a TransientError carrying it. @default HTTP_RETRY_AFTER_CAP_MS (30 s) */
  retryAfterCapMs: number;
}

/** Limits, pacing and recording shared by Steward's HTTP clients (HttpClient, ConsulClient). */
export interface ClientCallOptions {
  // ── limits ──
  /** Timeout of an ordinary call. @default HTTP_TIMEOUT_MS (10 s) */
  timeoutMs?: number;
  /** Added to a blocking query's wait (besides wait/16) for its timeout. @default HTTP_BLOCKING_MARGIN_MS (5 s) */
  blockingMarginMs?: number;
  /** Retries of calls that are safe to repeat (layer 1 of STYLE 4.4). */
  retry?: Partial<HttpRetryPolicy>;

  // ── time, chance, recording ──
  /** Waits between attempts; injectable so tests observe delays without waiting. @default sleep on `clock` */
  delay?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** For Retry-After dates and the default delay. @default systemClock */
  clock?: Clock;
  random?: Random;
  metrics?: StewardMetrics;
  logger?: Logger;
}

/**
 * Fills in and checks a retry policy.
 * @throws RangeError naming the field (`retry.capMs`, …) when a value is out of range
 */
export function compileRetryPolicy(r: Partial<HttpRetryPolicy> = {}): HttpRetryPolicy {
  const baseMs = checkOption("retry.baseMs", r.baseMs ?? HTTP_RETRY_BASE_MS);
  return {
    attempts: checkOption("retry.attempts", r.attempts ?? HTTP_RETRY_ATTEMPTS, 1),
    baseMs,
    capMs: checkOption("retry.capMs", r.capMs ?? HTTP_RETRY_CAP_MS, baseMs),
    retryAfterCapMs: checkOption("retry.retryAfterCapMs", r.retryAfterCapMs ?? HTTP_RETRY_AFTER_CAP_MS),
  };
}

export interface RetryRun {
  policy: HttpRetryPolicy;
  random: Random;
  /** Waits between attempts (injectable, so tests see the delays without waiting). */
  delay: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal | undefined;
  /** Told before each wait, for a debug log line. */
  onRetry?: (info: { attempt: number; waitMs: number; error: Error }) => void;
}

/**
 * Runs `attempt` until it succeeds, throws anything but a TransientError, or
 * runs out of attempts. Between attempts it waits the server's Retry-After
 * when given (ending the call at once when that exceeds the cap, so the queue
 * waits instead of a worker), else a jittered exponential delay. The one
 * retry loop of Steward's HTTP clients (HttpClient, ConsulClient).
 */
export async function withRetries<T>(attempt: () => Promise<T>, run: RetryRun): Promise<T> {
  const { policy } = run;
  if (policy.attempts === 1) return attempt();
  return pRetry(
    async () => {
      try {
        return await attempt();
      } catch (err) {
        // Only transient errors are worth another attempt; anything else ends the call as it is.
        throw err instanceof TransientError ? err : new AbortError(err as Error);
      }
    },
    {
      retries: policy.attempts - 1,
      // p-retry's own timer is off: the delay is ours, so Retry-After and the injected delay decide.
      minTimeout: 0,
      maxTimeout: 0,
      shouldRetry: async ({ error, attemptNumber }) => {
        const retryAfter = error instanceof TransientError ? error.retryAfterMs : undefined;
        if (retryAfter !== undefined && retryAfter > policy.retryAfterCapMs) return false;
        const waitMs = retryAfter ?? fullJitterBackoff(attemptNumber - 1, policy.baseMs, policy.capMs, run.random);
        run.onRetry?.({ attempt: attemptNumber, waitMs, error });
        await run.delay(waitMs, run.signal);
        return true;
      },
      ...(run.signal ? { signal: run.signal } : {}),
    },
  );
}

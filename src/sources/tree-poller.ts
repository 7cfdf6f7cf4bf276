import type { Logger } from "../log.js";
import type { StewardMetrics } from "../metrics.js";
import type { TreeSnapshot } from "../model/types.js";
import { InvalidInputError } from "../model/errors.js";
import { fullJitterBackoff, systemClock, systemRandom, type Clock, type Random, type Timer } from "../reconciler/core/clock.js";

/** What a poller asks its owner to do with a new revision. `pending` = could not be used yet; retry later. */
export type SnapshotVerdict = "accepted" | "refused" | "pending";

export interface TreePollerOptions {
  /** Reads the tree at its current tip (a git fetch + read, a directory read). */
  read: () => Promise<TreeSnapshot>;
  /** Cheap check of the tip's revision, to skip a full read when nothing moved. @default read().revision */
  peek?: () => Promise<string>;
  onSnapshot: (s: TreeSnapshot) => Promise<SnapshotVerdict>;
  /** Safety-net period between polls, in ms. */
  intervalMs: number;
  /** `source` label of `steward_source_errors_total`. */
  name: string;
  logger: Logger;
  metrics?: StewardMetrics;
  clock?: Clock;
  random?: Random;
}

/**
 * Polls a desired-state tree (git or a directory) and hands each new
 * revision on, once. `trigger()` (a webhook) polls now; polls never overlap,
 * and a trigger during a poll runs one more poll after it. Failures back off
 * with jitter; a revision that could not be used yet is offered again.
 */
export class TreePoller {
  private readonly clock: Clock;
  private readonly random: Random;
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private lastHandled: string | undefined;
  /** Last poll error, for /readyz and status. */
  lastError: string | undefined;

  constructor(private readonly o: TreePollerOptions) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? systemRandom;
  }

  start(): void {
    this.trigger();
  }

  /** Polls as soon as possible. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer?.cancel();
    this.running = this.poll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.trigger();
      }
    });
  }

  /** Resolves when the poll in progress (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.idle();
  }

  private async poll(): Promise<void> {
    let next = this.o.intervalMs;
    try {
      const tip = this.o.peek ? await this.o.peek() : undefined;
      if (tip === undefined || tip !== this.lastHandled) {
        const snap = await this.o.read();
        if (snap.revision !== this.lastHandled) {
          const verdict = await this.o.onSnapshot(snap);
          // A refused revision is handled too: it stays refused until a new commit.
          if (verdict !== "pending") this.lastHandled = snap.revision;
          else next = fullJitterBackoff(++this.failures, 1_000, this.o.intervalMs, this.random);
        }
      }
      if (next === this.o.intervalMs) this.failures = 0;
      this.lastError = undefined;
    } catch (err) {
      if (err instanceof InvalidInputError) {
        // A tree git cannot even hand over (a symlink, a huge file) is a refused revision, not an outage.
        this.lastError = err.message;
        this.o.logger.error({ source: this.o.name, issues: err.issues }, err.message);
      } else {
        this.lastError = (err as Error).message;
        this.o.metrics?.sourceErrorsTotal.inc({ source: this.o.name });
        this.o.logger.warn({ source: this.o.name, err: this.lastError }, "source: poll failed; backing off");
      }
      next = fullJitterBackoff(++this.failures, 1_000, Math.max(this.o.intervalMs, 1_000), this.random);
    }
    if (!this.stopped) this.timer = this.clock.setTimeout(() => this.trigger(), next);
  }
}

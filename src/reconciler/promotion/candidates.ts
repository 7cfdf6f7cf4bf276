import {
  PROMOTION_CANDIDATES_RESOLVED,
  PROMOTION_POLL_BACKOFF_BASE_MS,
  PROMOTION_POLL_BACKOFF_CAP_MS,
  PROMOTION_NOTIFIED_RECHECK_MS,
  PROMOTION_NOTIFIED_RECHECKS,
  PROMOTION_POLL_INTERVAL_MS,
} from "../../config/defaults.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import type { ServiceSpec } from "../../model/types.js";
import { rankTags } from "../../model/tag-policy.js";
import { RegistryNotFoundError, type RegistryClient } from "../../sources/registry.js";
import { errorMessage } from "../core/status.js";
import { TransientError } from "../core/outcome.js";
import { systemClock, systemRandom, type Clock, type Random, type Timer } from "../core/clock.js";
import type { CandidateSeen } from "./observe.js";

/** The registry calls candidates need (a RegistryClient, or a fake in tests). */
export type RegistryReader = Pick<RegistryClient, "listTags" | "resolveDigest">;

/**
 * The candidates of one service now: the newest `limit` tags its
 * `image.policy` accepts, each resolved to its digest (a HEAD each), newest
 * first, `order` higher for newer. A `digest` policy needs no call. A
 * repository the registry does not know yet (registry 2.8 answers
 * NAME_UNKNOWN for a repository whose first push has not happened, or whose
 * tags were all deleted) has no candidates; a tag deleted between the list
 * and its HEAD is left out.
 * @throws whatever the registry client throws otherwise (TransientError,
 *   RegistryAuthError, …): the caller keeps the candidates it had, so a
 *   failed poll can never look like "no new build" or promote anything
 */
export async function pollCandidates(registry: RegistryReader, service: ServiceSpec, limit = PROMOTION_CANDIDATES_RESOLVED): Promise<CandidateSeen[]> {
  const policy = service.image.policy;
  if (!policy) return [];
  if (policy.type === "digest") return [{ digest: policy.digest, order: 0 }];
  let tags: string[];
  try {
    tags = await registry.listTags(service.image.repository);
  } catch (err) {
    if (err instanceof RegistryNotFoundError && err.code === "NAME_UNKNOWN") return [];
    throw err;
  }
  const ranked = rankTags(policy, tags);
  const out: CandidateSeen[] = [];
  for (const [i, r] of ranked.slice(0, limit).entries()) {
    try {
      const { digest } = await registry.resolveDigest(service.image.repository, r.tag);
      out.push({ digest, tag: r.tag, order: ranked.length - i });
    } catch (err) {
      if (err instanceof RegistryNotFoundError) continue;
      throw err;
    }
  }
  return out;
}

/** Options of a CandidatePoller. Durations in ms. */
export interface CandidatePollerOptions {
  registry: RegistryReader;
  /** Called with each successful poll's candidates (possibly unchanged). */
  onCandidates: (service: string, candidates: CandidateSeen[]) => void;
  logger: Logger;
  metrics?: StewardMetrics;
  /** @default PROMOTION_POLL_INTERVAL_MS (1 min) */
  intervalMs?: number;
  /** @default PROMOTION_POLL_BACKOFF_BASE_MS */
  backoffBaseMs?: number;
  /** @default PROMOTION_POLL_BACKOFF_CAP_MS */
  backoffCapMs?: number;
  clock?: Clock;
  random?: Random;
}

/** How one service's registry polling stands, for status. */
export interface PollState {
  /** Epoch ms of the last successful poll. */
  lastOkAt?: number;
  /** Failed polls in a row. */
  failures: number;
  lastError?: string;
  /** Epoch ms of the next scheduled poll. */
  nextAt?: number;
}

interface Entry {
  service: ServiceSpec;
  state: PollState;
  timer?: Timer;
  running?: Promise<void> | undefined;
  again: boolean;
  /** A notified digest not listed yet, and how many quick re-polls are left for it. */
  expect?: { digest: string; left: number } | undefined;
}

/**
 * Polls the registry for each promoted service: at `intervalMs` while it
 * answers; after a failure with exponential backoff (half fixed, half
 * jittered, never sooner than the error's Retry-After), so a registry that
 * is down, slow, throttling (429) or refusing Steward (401) is not
 * hammered. `trigger` (a registry notification) polls at once, whatever
 * the backoff: the registry that sent it is evidently up. One poll per
 * service at a time; a trigger during a poll polls again right after.
 */
export class CandidatePoller {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly random: Random;
  private stopped = false;

  constructor(private readonly o: CandidatePollerOptions) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? systemRandom;
  }

  /** Makes the polled set equal to `services` (those with `image.policy`); new ones are polled at once. */
  setServices(services: readonly ServiceSpec[]): void {
    const wanted = new Map(services.filter((s) => s.image.policy).map((s) => [s.name, s]));
    for (const [name, e] of this.entries) {
      if (!wanted.has(name)) {
        e.timer?.cancel();
        this.entries.delete(name);
      }
    }
    for (const [name, s] of wanted) {
      const e = this.entries.get(name);
      if (e) {
        const changed = JSON.stringify(e.service.image) !== JSON.stringify(s.image);
        e.service = s;
        if (changed) this.trigger(name);
      } else {
        this.entries.set(name, { service: s, state: { failures: 0 }, again: false });
        this.trigger(name);
      }
    }
  }

  /**
   * Polls one service now (a notification named its repository). Unknown
   * services are ignored. With `digest` (the pushed manifest's), the service
   * is polled again every PROMOTION_NOTIFIED_RECHECK_MS until the digest is
   * listed (at most PROMOTION_NOTIFIED_RECHECKS times): docker-registry
   * sends the push event before it links the tag, so the first listing may
   * not show it yet. The registry's listing stays the only source.
   */
  trigger(service: string, digest?: string): void {
    const e = this.entries.get(service);
    if (!e || this.stopped) return;
    if (digest !== undefined) e.expect = { digest, left: PROMOTION_NOTIFIED_RECHECKS };
    if (e.running) {
      e.again = true;
      return;
    }
    e.timer?.cancel();
    e.running = this.poll(service, e).finally(() => {
      e.running = undefined;
      if (e.again && !this.stopped) {
        e.again = false;
        this.trigger(service);
      }
    });
  }

  /** Services whose repository is `repository` (`host/name` or the registry-side name `name`). */
  servicesFor(repository: string): string[] {
    return [...this.entries.values()]
      .filter((e) => e.service.image.repository === repository || e.service.image.repository.endsWith(`/${repository}`))
      .map((e) => e.service.name);
  }

  /** Every service's polling state. */
  states(): Map<string, PollState> {
    return new Map([...this.entries].map(([k, e]) => [k, { ...e.state }]));
  }

  /** Waits for the polls in flight (tests and benches). */
  async idle(): Promise<void> {
    await Promise.all([...this.entries.values()].flatMap((e) => (e.running ? [e.running] : [])));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) e.timer?.cancel();
    await this.idle();
  }

  private async poll(service: string, e: Entry): Promise<void> {
    let delay: number;
    try {
      const list = await pollCandidates(this.o.registry, e.service);
      e.state = { failures: 0, lastOkAt: this.clock.now() };
      delay = this.o.intervalMs ?? PROMOTION_POLL_INTERVAL_MS;
      if (e.expect && !list.some((c) => c.digest === e.expect?.digest) && e.expect.left > 0) {
        e.expect.left -= 1;
        delay = Math.min(delay, PROMOTION_NOTIFIED_RECHECK_MS);
      } else e.expect = undefined;
      if (!this.stopped && this.entries.get(service) === e) this.o.onCandidates(service, list);
    } catch (err) {
      const failures = e.state.failures + 1;
      const base = this.o.backoffBaseMs ?? PROMOTION_POLL_BACKOFF_BASE_MS;
      const ceiling = Math.min(this.o.backoffCapMs ?? PROMOTION_POLL_BACKOFF_CAP_MS, base * 2 ** Math.min(30, failures - 1));
      const floor = err instanceof TransientError ? (err.retryAfterMs ?? 0) : 0;
      delay = Math.max(floor, Math.round(ceiling / 2 + this.random() * (ceiling / 2)));
      e.state = { ...e.state, failures, lastError: errorMessage(err) };
      this.o.metrics?.sourceErrorsTotal.inc({ source: "registry" });
      this.o.logger.warn({ service, repository: e.service.image.repository, failures, retry_in_ms: delay, err: errorMessage(err) }, "promotion: registry poll failed; candidates kept, backing off");
    }
    if (this.stopped || this.entries.get(service) !== e) return;
    e.state.nextAt = this.clock.now() + delay;
    e.timer = this.clock.setTimeout(() => this.trigger(service), delay);
  }
}

import {
  LEADER_KEY,
  LEADER_LOCK_DELAY_MS,
  LEADER_RENEWALS_PER_TTL,
  LEADER_RETRY_BASE_MS,
  LEADER_RETRY_CAP_MS,
  LEADER_SESSION_TTL_MS,
  LEADER_STEP_DOWN_MARGIN_MS,
  WATCH_BLOCKING_WAIT_MS,
} from "../../config/defaults.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import type { ConsulClient } from "../../sources/consul.js";
import { Watch, type WatchQuery } from "../../sources/watch.js";
import { checkOption, fullJitterBackoff, systemClock, systemRandom, type Clock, type Random, type Timer } from "./clock.js";

/** Who leads, as the leader writes it into the lock key's value (for /api/status). */
export interface LeaderInfo {
  instanceId: string;
  /** Where the leader's HTTP API answers. */
  address: string;
  /** When it took the lock, ISO 8601. */
  since: string;
}

/** Options of a `LeaderElector`. Durations in milliseconds, on `clock`. */
export interface LeaderElectorOptions {
  // ── who ──
  consul: ConsulClient;
  /** This instance's ID (the Nomad allocation ID in production); the session is named `steward-<instanceId>`. */
  instanceId: string;
  /** Where this instance's HTTP API answers, shown to the others while it leads. */
  address: string;

  // ── the lock ──
  /** @default LEADER_KEY ("steward/leader") */
  key?: string;
  /** Session TTL (Consul accepts 10 s to 24 h). @default LEADER_SESSION_TTL_MS (15 s) */
  ttlMs?: number;
  /** Session lock-delay (Consul caps it at 60 s). @default LEADER_LOCK_DELAY_MS (5 s) */
  lockDelayMs?: number;
  /** Time between renewals. @default ttlMs / LEADER_RENEWALS_PER_TTL */
  renewIntervalMs?: number;
  /** A leader whose last successful renewal was sent more than ttlMs - this ago steps down. @default LEADER_STEP_DOWN_MARGIN_MS (3 s) */
  stepDownMarginMs?: number;
  /** Server-side wait of the blocking query on the key (real time). @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
  /** First delay after a failed session create or acquire; doubled per failure, full jitter. @default LEADER_RETRY_BASE_MS (500) */
  retryBaseMs?: number;
  /** @default LEADER_RETRY_CAP_MS (15 s) */
  retryCapMs?: number;

  // ── time, chance, recording ──
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /** `steward_leader` follows isLeader. */
  metrics?: StewardMetrics;
}

/** Called with true when this instance starts leading and false when it stops. */
export type LeadershipListener = (isLeader: boolean) => void;

/** The lock key as the watch sees it. */
interface KeyState {
  /** The session holding the lock; undefined when free (or the key is absent). */
  session: string | undefined;
  value: string;
}

/**
 * Leader election on a Consul session lock (Consul's leader-election guide):
 * one session per instance (TTL, lock-delay, behavior release), and
 * `PUT <key>?acquire=<session>` with this instance's LeaderInfo as value.
 *
 * - The session is renewed every renewIntervalMs. A renewal is trusted from
 *   the moment it was *sent*: Consul does not end a session before its TTL
 *   has passed since the last renewal it applied, so the lock is certainly
 *   ours until sent + TTL.
 * - A leader that cannot renew (errors, timeouts) steps down at
 *   sent + TTL - stepDownMarginMs, before anyone else could take the lock,
 *   and gives that session up (best-effort release and destroy; a session it
 *   could not vouch for is never used again). A renewal answered 404 (the
 *   session ended) steps down at once. `isLeader` checks the deadline
 *   itself, so a late timer cannot stretch leadership.
 * - Every instance watches the key with a blocking query. A leader that sees
 *   the key held by another session, or free, steps down. A standby that sees
 *   it free tries to acquire; Consul refuses during lock-delay (false), and
 *   the try is repeated after lockDelayMs. A failed call backs off.
 * - `stop()` steps down, releases the key and destroys the session: a
 *   standby takes over within one blocking-query round-trip (an explicit
 *   release sets no lock-delay). After a crash the session ends on its own
 *   (Consul: up to 2 x TTL) and lock-delay follows.
 */
export class LeaderElector {
  private readonly o: LeaderElectorOptions;
  private readonly key: string;
  private readonly ttlMs: number;
  private readonly lockDelayMs: number;
  private readonly renewIntervalMs: number;
  private readonly marginMs: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly watch: Watch<KeyState>;
  private readonly listeners = new Set<LeadershipListener>();

  private sessionId: string | undefined;
  /** The session is certainly alive until then (the last renewal's send time + TTL). */
  private validUntil = 0;
  private leading: LeaderInfo | undefined;
  private renewTimer: Timer | undefined;
  private deadlineTimer: Timer | undefined;
  private acquireTimer: Timer | undefined;
  private acquiring: Promise<void> | undefined;
  private failures = 0;
  /** The watch index last seen before the acquire that made this instance leader. */
  private acquiredAfterIndex = 0;
  private stopped = false;
  private started = false;

  /** @throws RangeError naming the option when a duration is out of range, or when a renewal cannot fit before the step-down deadline */
  constructor(options: LeaderElectorOptions) {
    this.o = options;
    this.key = options.key ?? LEADER_KEY;
    this.ttlMs = checkOption("ttlMs", options.ttlMs ?? LEADER_SESSION_TTL_MS, 1);
    this.lockDelayMs = checkOption("lockDelayMs", options.lockDelayMs ?? LEADER_LOCK_DELAY_MS);
    this.renewIntervalMs = checkOption("renewIntervalMs", options.renewIntervalMs ?? Math.floor(this.ttlMs / LEADER_RENEWALS_PER_TTL), 1);
    this.marginMs = checkOption("stepDownMarginMs", options.stepDownMarginMs ?? LEADER_STEP_DOWN_MARGIN_MS);
    if (this.renewIntervalMs + this.marginMs >= this.ttlMs) {
      throw new RangeError(
        `stepDownMarginMs: renewIntervalMs (${this.renewIntervalMs}) + stepDownMarginMs (${this.marginMs}) must be below ttlMs (${this.ttlMs}), or a leader steps down before its first renewal`,
      );
    }
    this.retryBaseMs = checkOption("retryBaseMs", options.retryBaseMs ?? LEADER_RETRY_BASE_MS, 1);
    this.retryCapMs = checkOption("retryCapMs", options.retryCapMs ?? LEADER_RETRY_CAP_MS, this.retryBaseMs);
    const waitMs = checkOption("waitMs", options.waitMs ?? WATCH_BLOCKING_WAIT_MS, 1);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.watch = new Watch<KeyState>({
      query: keyQuery(options.consul, this.key, waitMs),
      onChange: () => this.evaluate(),
      clock: this.clock,
      random: this.random,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
  }

  /**
   * True while this instance holds the lock and its session is certainly
   * alive. Reading it past the step-down deadline steps down at once (the
   * listeners hear false), so a late timer cannot stretch leadership and a
   * renewal answered late cannot bring it back unheard.
   */
  get isLeader(): boolean {
    if (this.leading !== undefined && this.clock.now() >= this.validUntil - this.marginMs) this.onDeadline();
    return this.leading !== undefined;
  }

  /**
   * Who leads, from the lock key's value as last seen (or this instance
   * while it leads); undefined when the lock is free, unknown yet, or its
   * value is unreadable.
   */
  currentLeader(): LeaderInfo | undefined {
    if (this.isLeader) return this.leading;
    const k = this.watch.data;
    if (!k?.session || k.session === this.sessionId) return undefined;
    return parseLeaderInfo(k.value);
  }

  /** Adds a listener; returns a function that removes it. Listeners run synchronously; a throw is logged. */
  onChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts campaigning. Call once. */
  start(): void {
    if (this.started) throw new Error("leader elector: start() called twice");
    this.started = true;
    this.watch.start();
  }

  /**
   * Graceful handover: steps down (listeners hear false first), then releases
   * the lock and destroys the session. Consul errors are logged, not thrown:
   * the session then ends at its TTL.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.halt();
    const id = this.sessionId;
    this.sessionId = undefined;
    const info = this.leading;
    this.stepDown("stopping");
    if (id === undefined) return;
    const log = this.o.logger;
    if (info !== undefined || this.watch.data?.session === id) {
      await this.o.consul
        .kvPut(this.key, info ? JSON.stringify(info) : (this.watch.data?.value ?? ""), { release: id })
        .catch((err: unknown) => log?.warn({ err, key: this.key }, "leader: release failed; the lock frees when the session ends"));
    }
    await this.o.consul.sessionDestroy(id).catch((err: unknown) => log?.warn({ err }, "leader: session destroy failed; it ends at its TTL"));
  }

  /**
   * For tests: behaves like a crash. Timers and the watch stop, nothing is
   * released or destroyed, so the session lives until its TTL runs out.
   * Listeners hear false (the process is gone).
   */
  async abandon(): Promise<void> {
    if (this.stopped) return;
    await this.halt();
    this.stepDown("abandoned");
  }

  private async halt(): Promise<void> {
    this.stopped = true;
    for (const t of [this.renewTimer, this.deadlineTimer, this.acquireTimer]) t?.cancel();
    await this.watch.stop();
    await this.acquiring;
  }

  /** Decides from the key as last seen and this instance's own state; runs after every change of either. */
  private evaluate(): void {
    if (this.stopped) return;
    const k = this.watch.data;
    if (!k) return;
    if (k.session !== undefined && k.session === this.sessionId) {
      // Ours: normally already leading since the acquire returned; this covers the watch answering first.
      this.becomeLeader(parseLeaderInfo(k.value) ?? this.ownInfo());
      return;
    }
    // An answer read before our acquire landed says nothing about the lock we now hold.
    if (this.leading && this.watch.index <= this.acquiredAfterIndex) return;
    if (this.leading) this.stepDown(k.session === undefined ? "the lock was released" : "the lock is held by another session");
    if (k.session === undefined) this.scheduleAcquire(0);
  }

  private ownInfo(): LeaderInfo {
    return { instanceId: this.o.instanceId, address: this.o.address, since: new Date(this.clock.now()).toISOString() };
  }

  /** Tries to acquire after `delayMs`, unless a try is already pending or running. */
  private scheduleAcquire(delayMs: number): void {
    if (this.stopped || this.acquireTimer || this.acquiring) return;
    this.acquireTimer = this.clock.setTimeout(() => {
      this.acquireTimer = undefined;
      this.acquiring = this.tryAcquire().then((retryInMs) => {
        this.acquiring = undefined;
        if (retryInMs !== undefined) this.scheduleAcquire(retryInMs);
      });
    }, delayMs);
  }

  /** One try at the lock; never rejects. Resolves with when to try again, or undefined when there is no need. */
  private async tryAcquire(): Promise<number | undefined> {
    if (this.stopped || this.watch.data?.session !== undefined) return undefined;
    let id: string | undefined;
    try {
      id = await this.ensureSession();
      if (this.stopped || id !== this.sessionId) return undefined;
      const info = this.ownInfo();
      const seenIndex = this.watch.index;
      const acquired = await this.o.consul.kvPut(this.key, JSON.stringify(info), { acquire: id });
      this.failures = 0;
      if (this.stopped || id !== this.sessionId) return undefined;
      if (acquired) {
        this.acquiredAfterIndex = seenIndex;
        this.becomeLeader(info);
        return undefined;
      }
      // Refused: lock-delay still runs, or another instance was first (then the watch says so and the retry finds the key taken).
      this.o.logger?.debug({ key: this.key, retry_in_ms: this.lockDelayMs }, "leader: acquire refused; trying again after the lock-delay");
      return this.lockDelayMs;
    } catch (err) {
      const delay = fullJitterBackoff(this.failures++, this.retryBaseMs, this.retryCapMs, this.random);
      this.o.logger?.warn({ err, key: this.key, retry_in_ms: delay }, "leader: could not campaign; backing off");
      // The session may be gone (Consul answers an acquire with an unknown session with a 500): start over with a new one.
      if (id !== undefined && id === this.sessionId) this.giveUpSession();
      return delay;
    }
  }

  /** The session to acquire with: the current one while it is certainly alive, else a new one. */
  private async ensureSession(): Promise<string> {
    if (this.sessionId !== undefined && this.clock.now() < this.validUntil - this.marginMs) return this.sessionId;
    // A session whose renewals failed may still hold locks Consul keeps for it; never lead on it.
    this.giveUpSession();
    const sent = this.clock.now();
    const id = await this.o.consul.sessionCreate({ name: `steward-${this.o.instanceId}`, ttlMs: this.ttlMs, lockDelayMs: this.lockDelayMs, behavior: "release" });
    if (this.stopped) {
      await this.o.consul.sessionDestroy(id).catch(() => undefined);
      return id;
    }
    this.sessionId = id;
    this.validUntil = sent + this.ttlMs;
    this.scheduleRenew();
    return id;
  }

  private scheduleRenew(): void {
    this.renewTimer?.cancel();
    this.renewTimer = this.clock.setTimeout(() => void this.renew(), this.renewIntervalMs);
  }

  private async renew(): Promise<void> {
    const id = this.sessionId;
    if (this.stopped || id === undefined) return;
    const sent = this.clock.now();
    try {
      const alive = await this.o.consul.sessionRenew(id, this.renewIntervalMs);
      if (this.stopped || id !== this.sessionId) return;
      if (!alive) {
        this.o.logger?.warn({ key: this.key }, "leader: the session ended (renew answered 404)");
        this.sessionId = undefined;
        this.renewTimer?.cancel();
        this.stepDown("the session ended");
        this.evaluate();
        return;
      }
      this.validUntil = sent + this.ttlMs;
      if (this.leading) this.armDeadline();
      // A standby whose acquire landed while its session was in doubt may lead now that the session is certain.
      else this.evaluate();
    } catch (err) {
      if (this.stopped || id !== this.sessionId) return;
      this.o.logger?.warn({ err, key: this.key, leader: this.leading !== undefined, valid_for_ms: this.validUntil - this.clock.now() }, "leader: session renewal failed");
    }
    if (!this.stopped && id === this.sessionId) this.scheduleRenew();
  }

  private becomeLeader(info: LeaderInfo): void {
    if (this.leading || this.stopped || this.clock.now() >= this.validUntil - this.marginMs) return;
    this.leading = info;
    this.armDeadline();
    this.o.metrics?.leader.set(1);
    this.o.logger?.info({ key: this.key, instance_id: info.instanceId }, "leader: leading");
    this.notify(true);
  }

  /** Arms the step-down at the session's certain end minus the margin; re-armed by each successful renewal. */
  private armDeadline(): void {
    this.deadlineTimer?.cancel();
    this.deadlineTimer = this.clock.setTimeout(() => this.onDeadline(), this.validUntil - this.marginMs - this.clock.now());
  }

  private onDeadline(): void {
    if (!this.leading || this.stopped) return;
    if (this.clock.now() < this.validUntil - this.marginMs) {
      this.armDeadline();
      return;
    }
    this.stepDown("the session could not be renewed in time");
    this.giveUpSession();
    this.evaluate();
  }

  /** Stops using the session; releases and destroys it in the background (best-effort: failing that, it ends at its TTL). */
  private giveUpSession(): void {
    const id = this.sessionId;
    if (id === undefined) return;
    this.sessionId = undefined;
    this.renewTimer?.cancel();
    const log = this.o.logger;
    void this.o.consul.sessionDestroy(id).catch((err: unknown) => log?.warn({ err }, "leader: could not destroy a session given up; it ends at its TTL"));
  }

  private stepDown(reason: string): void {
    this.deadlineTimer?.cancel();
    if (!this.leading) return;
    this.leading = undefined;
    this.o.metrics?.leader.set(0);
    this.o.logger?.warn({ key: this.key, reason }, "leader: stepped down");
    this.notify(false);
  }

  private notify(isLeader: boolean): void {
    for (const l of this.listeners) {
      try {
        l(isLeader);
      } catch (err) {
        this.o.logger?.error({ err }, "leader: onChange listener threw");
      }
    }
  }
}

/** The blocking query on the lock key. */
function keyQuery(consul: ConsulClient, key: string, waitMs: number): WatchQuery<KeyState> {
  return {
    name: "consul-kv",
    async fetch(index, signal, options) {
      const { meta, entry } = await consul.kvGet(key, { index, waitMs, allowStale: options.allowStale, signal });
      return { index: meta.index, data: { session: entry?.session, value: entry?.value.toString("utf8") ?? "" }, lastContactMs: meta.lastContactMs };
    },
  };
}

/** The LeaderInfo in a lock value, or undefined when it is not one. */
export function parseLeaderInfo(value: string): LeaderInfo | undefined {
  try {
    const v = JSON.parse(value) as Partial<LeaderInfo> | null;
    if (typeof v?.instanceId === "string" && typeof v.address === "string" && typeof v.since === "string") {
      return { instanceId: v.instanceId, address: v.address, since: v.since };
    }
  } catch {
    // Not JSON: written by hand or by another tool.
  }
  return undefined;
}

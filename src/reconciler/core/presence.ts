import { networkInterfaces } from "node:os";
import {
  CONSUL_INSTANCES_PREFIX,
  LEADER_RENEWALS_PER_TTL,
  PRESENCE_RETRY_BASE_MS,
  PRESENCE_RETRY_CAP_MS,
  PRESENCE_SESSION_TTL_MS,
} from "../../config/defaults.js";
import type { Logger } from "../../log.js";
import type { ConsulClient } from "../../sources/consul.js";
import { checkOption, fullJitterBackoff, systemClock, systemRandom, type Clock, type Random, type Timer } from "./clock.js";

/** What an instance says about itself under `<prefix><instanceId>` (JSON), for the others' overview and `/api/status`. */
export interface InstanceInfo {
  instanceId: string;
  /** Where its HTTP API (and UI) answers. */
  address: string;
  /** When the process started, ISO 8601. */
  startedAt: string;
  /** Whether its /readyz answers 200. */
  ready: boolean;
  /** Why it is not ready (the first of /readyz's reasons); absent when ready. */
  notReady?: string;
}

/** Options of an `InstancePresence`. Durations in milliseconds, on `clock`. */
export interface InstancePresenceOptions {
  consul: ConsulClient;
  instanceId: string;
  address: string;
  /** When the process started (epoch ms). */
  startedAt: number;
  /** The instance's readiness now (the daemon's /readyz). */
  readiness: () => { ready: boolean; reasons: string[] };
  /** @default CONSUL_INSTANCES_PREFIX ("steward/instances/") */
  prefix?: string;
  /** Session TTL (Consul accepts 10 s to 24 h). @default PRESENCE_SESSION_TTL_MS (15 s) */
  ttlMs?: number;
  /** Time between renewals, and between readiness checks. @default ttlMs / LEADER_RENEWALS_PER_TTL */
  renewIntervalMs?: number;
  /** @default PRESENCE_RETRY_BASE_MS (500) */
  retryBaseMs?: number;
  /** @default PRESENCE_RETRY_CAP_MS (15 s) */
  retryCapMs?: number;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
}

/**
 * Makes this instance visible to every other one: a Consul session of its
 * own (`steward-presence-<instanceId>`, behavior **delete**, no lock-delay)
 * holds the key `<prefix><instanceId>` with this instance's InstanceInfo.
 * Consul deletes the key when the session ends (a graceful stop destroys it
 * at once; a crash ends it at up to 2 x TTL), so the prefix lists exactly the
 * live instances, with one blocking query and no cleanup.
 *
 * The leader lock's session is not reused: its behavior is `release` (the
 * lock key must survive a leader's death for lock-delay to apply), Consul
 * sets the behavior per session, not per key, and a standby holds no lock
 * session until it campaigns.
 *
 * Every renewIntervalMs the session is renewed (a new one is made when
 * Consul answers that it ended) and the key is written again when its
 * content changed (readiness flipped). Failures back off with jitter and
 * are logged; they never stop the daemon.
 */
export class InstancePresence {
  private readonly o: InstancePresenceOptions;
  private readonly key: string;
  private readonly ttlMs: number;
  private readonly renewIntervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private sessionId: string | undefined;
  /** The value the current session's key holds, as last written. */
  private written: string | undefined;
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;

  /** @throws RangeError naming the option when a duration is out of range */
  constructor(options: InstancePresenceOptions) {
    this.o = options;
    this.key = `${options.prefix ?? CONSUL_INSTANCES_PREFIX}${options.instanceId}`;
    this.ttlMs = checkOption("ttlMs", options.ttlMs ?? PRESENCE_SESSION_TTL_MS, 1);
    this.renewIntervalMs = checkOption("renewIntervalMs", options.renewIntervalMs ?? Math.floor(this.ttlMs / LEADER_RENEWALS_PER_TTL), 1);
    if (this.renewIntervalMs >= this.ttlMs) throw new RangeError(`renewIntervalMs: ${this.renewIntervalMs} must be below ttlMs (${this.ttlMs}), or the session ends between renewals`);
    this.retryBaseMs = checkOption("retryBaseMs", options.retryBaseMs ?? PRESENCE_RETRY_BASE_MS, 1);
    this.retryCapMs = checkOption("retryCapMs", options.retryCapMs ?? PRESENCE_RETRY_CAP_MS, this.retryBaseMs);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
  }

  /** The presence key of this instance. */
  get presenceKey(): string {
    return this.key;
  }

  /** Announces this instance now, then keeps the announcement alive. Call once. */
  start(): void {
    this.schedule(0);
  }

  /** Leaves: destroys the session, so Consul deletes the key at once. Errors are logged (the key then goes at the TTL). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.halt();
    const id = this.sessionId;
    this.sessionId = undefined;
    if (id === undefined) return;
    await this.o.consul.sessionDestroy(id).catch((err: unknown) => this.o.logger?.warn({ err, key: this.key }, "presence: session destroy failed; the key goes when the session times out"));
  }

  /** For tests: behaves like a crash. Renewals stop and nothing is destroyed, so the key lives until the session's TTL runs out. */
  async abandon(): Promise<void> {
    await this.halt();
  }

  private async halt(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => (this.running = undefined));
    }, delayMs);
  }

  /** One round: a live session, then the key with the current info. Never rejects; schedules the next round. */
  private async tick(): Promise<void> {
    try {
      await this.ensureSession();
      await this.announce();
      this.failures = 0;
      this.schedule(this.renewIntervalMs);
    } catch (err) {
      const delay = Math.min(fullJitterBackoff(this.failures++, this.retryBaseMs, this.retryCapMs, this.random), this.renewIntervalMs);
      this.o.logger?.warn({ err, key: this.key, retry_in_ms: delay }, "presence: could not announce this instance; retrying");
      this.schedule(delay);
    }
  }

  private async ensureSession(): Promise<void> {
    if (this.sessionId !== undefined && (await this.o.consul.sessionRenew(this.sessionId, this.renewIntervalMs))) return;
    if (this.stopped) return;
    if (this.sessionId !== undefined) this.o.logger?.warn({ key: this.key }, "presence: the session ended; announcing again with a new one");
    this.sessionId = undefined;
    this.written = undefined;
    const id = await this.o.consul.sessionCreate({ name: `steward-presence-${this.o.instanceId}`, ttlMs: this.ttlMs, lockDelayMs: 0, behavior: "delete" });
    if (this.stopped) {
      await this.o.consul.sessionDestroy(id).catch(() => undefined);
      return;
    }
    this.sessionId = id;
  }

  private async announce(): Promise<void> {
    const id = this.sessionId;
    if (this.stopped || id === undefined) return;
    const r = this.o.readiness();
    const info: InstanceInfo = {
      instanceId: this.o.instanceId,
      address: this.o.address,
      startedAt: new Date(this.o.startedAt).toISOString(),
      ready: r.ready,
      ...(!r.ready && r.reasons[0] ? { notReady: r.reasons[0] } : {}),
    };
    const value = JSON.stringify(info);
    if (value === this.written) return;
    // Refused while a dead session of the same instance ID still holds the key (a quick restart): the next round tries again.
    if (await this.o.consul.kvPut(this.key, value, { acquire: id, retry: true })) this.written = value;
    else this.o.logger?.info({ key: this.key }, "presence: the key is held by an earlier session of this instance ID; trying again at the next renewal");
  }
}

/** The InstanceInfo in a presence key's value, or undefined when it is not one. */
export function parseInstanceInfo(value: string): InstanceInfo | undefined {
  try {
    const v = JSON.parse(value) as Partial<InstanceInfo> | null;
    if (typeof v?.instanceId === "string" && typeof v.address === "string" && typeof v.startedAt === "string") {
      return {
        instanceId: v.instanceId,
        address: v.address,
        startedAt: v.startedAt,
        ready: v.ready === true,
        ...(typeof v.notReady === "string" ? { notReady: v.notReady } : {}),
      };
    }
  } catch {
    // Not JSON: written by hand.
  }
  return undefined;
}

/**
 * The address to tell the others for an HTTP server's URL: the URL itself,
 * unless the server listens on every interface (`0.0.0.0`, `::`), which no
 * one can connect to; then the first non-internal IPv4 address of this
 * machine (on a Nomad client, its own), or the URL unchanged when it has none.
 * @param interfaces the machine's interfaces. @default os.networkInterfaces()
 */
export function advertisedUrl(url: string, interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string {
  const u = new URL(url);
  if (u.hostname !== "0.0.0.0" && u.hostname !== "[::]") return url;
  for (const list of Object.values(interfaces)) {
    const ip = list?.find((a) => a.family === "IPv4" && !a.internal)?.address;
    if (ip) {
      u.hostname = ip;
      return u.toString().replace(/\/$/, "");
    }
  }
  return url;
}

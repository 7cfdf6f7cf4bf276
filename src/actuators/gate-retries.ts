import { randomUUID } from "node:crypto";
import { CONSUL_GATE_RETRIES_PREFIX } from "../config/defaults.js";
import { InvalidInputError } from "../model/errors.js";
import { ENV_NAME, OBJECT_NAME } from "../model/schema-common.js";
import { IMAGE_DIGEST } from "../model/schema-service.js";
import { systemClock, type Clock } from "../reconciler/core/clock.js";
import { ConflictError } from "../reconciler/core/outcome.js";
import { folderPrefix } from "../sources/consul-kv-tree.js";
import { gateRetryKey } from "../sources/gate-retries.js";
import type { ConsulKvWriter } from "./consul-kv.js";

/** A retry to ask for: what `steward retry-gate`, `POST /api/actions/retry-gate` and the UI send. */
export interface GateRetryAsk {
  service: string;
  /** `sha256:` and 64 lowercase hex digits. */
  digest: string;
  /** The stage whose failed gate is to run again. */
  stage: string;
  /** Who asks, as the journal's `gateRetried` line records it. */
  by: string;
  reason?: string;
}

/** The JSON value stored at `<prefix><service>/<digest>`. */
export interface StoredGateRetry {
  stage: string;
  by: string;
  /** ISO 8601. */
  at: string;
  /** Fresh per request: the journal records it, so the leader honours the request once. */
  id: string;
  reason?: string;
}

/**
 * Checks a request's names before anything is written.
 * @throws InvalidInputError naming the field (service, digest, stage, by)
 */
export function checkGateRetryAsk(r: GateRetryAsk): void {
  const bad = (field: string, message: string): never => {
    throw new InvalidInputError(`${field}: ${message}`, { field, service: r.service });
  };
  if (!OBJECT_NAME.test(r.service)) bad("service", `"${r.service}" is not a service name (a-z, 0-9 and -, up to 63 characters)`);
  if (!IMAGE_DIGEST.test(r.digest)) bad("digest", `"${r.digest}" is not a full image digest (sha256: followed by 64 lowercase hex digits)`);
  if (!ENV_NAME.test(r.stage)) bad("stage", `"${r.stage}" is not an environment name`);
  if (!r.by.trim()) bad("by", "must name who asks");
}

/**
 * Writes and removes retry requests in Consul KV, one key per service and
 * digest (a new request replaces an older one). The leader's promotion loop
 * decides whether to honour one; nothing is decided here.
 */
export class GateRetryWriter {
  /** The prefix, ending in `/`. */
  readonly prefix: string;
  private readonly clock: Clock;

  constructor(
    private readonly writer: ConsulKvWriter,
    options: { /** @default CONSUL_GATE_RETRIES_PREFIX ("steward/gate-retries/") */ prefix?: string; clock?: Clock } = {},
  ) {
    this.prefix = folderPrefix(options.prefix ?? CONSUL_GATE_RETRIES_PREFIX);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Writes the request (`at` is now, `id` fresh) and returns the key and value stored.
   * @throws InvalidInputError for a bad name (see checkGateRetryAsk); ConsulClient's errors
   */
  async request(r: GateRetryAsk): Promise<{ key: string; value: StoredGateRetry }> {
    checkGateRetryAsk(r);
    const value: StoredGateRetry = { stage: r.stage, by: r.by, at: new Date(this.clock.now()).toISOString(), id: randomUUID(), ...(r.reason !== undefined && { reason: r.reason }) };
    const key = gateRetryKey(this.prefix, r.service, r.digest);
    await this.writer.putJson(key, value, { context: { service: r.service, env: r.stage } });
    return { key, value };
  }

  /**
   * Removes a request the loop dealt with, with check-and-set at the index it
   * read: a newer request written meanwhile stays (it is looked at next).
   * Resolves with whether it was removed.
   */
  async remove(service: string, digest: string, modifyIndex: number): Promise<boolean> {
    try {
      return await this.writer.deleteKey(gateRetryKey(this.prefix, service, digest), { cas: modifyIndex, context: { service } });
    } catch (err) {
      if (err instanceof ConflictError) return false;
      throw err;
    }
  }
}

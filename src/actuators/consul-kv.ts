import { randomUUID } from "node:crypto";
import { z } from "zod";
import { CONSUL_CONTROL_PREFIX, CONSUL_SYNC_STATE_PREFIX } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { ErrorContext } from "../model/errors.js";
import { systemClock, type Clock } from "../reconciler/core/clock.js";
import { ConflictError } from "../reconciler/core/outcome.js";
import type { ConsulClient } from "../sources/consul.js";
import { folderPrefix } from "../sources/consul-kv-tree.js";
import { controlPath, type ControlSwitch } from "../sources/controls.js";

/** Options of a check-and-set protected write. */
export interface CasOptions {
  /** Apply only if the key's ModifyIndex is still this; 0 only if the key is absent. */
  cas?: number;
  /** What the write is about (env, nomadJob, …), copied into errors. */
  context?: ErrorContext;
}

/**
 * The writes Steward makes to Consul KV, and nothing else: JSON values with
 * optional check-and-set, deletes, and the runtime switches the CLI sets.
 * No decisions here. Errors are ConsulClient's (TransientError, …) plus
 * ConflictError when a check-and-set lost.
 */
export class ConsulKvWriter {
  /** The control prefix, ending in `/`. */
  readonly controlPrefix: string;

  constructor(
    private readonly consul: ConsulClient,
    private readonly options: {
      /** @default CONSUL_CONTROL_PREFIX ("steward/control/") */
      controlPrefix?: string;
      /** For the `at` of switch notes. @default systemClock */
      clock?: Clock;
    } = {},
  ) {
    this.controlPrefix = folderPrefix(options.controlPrefix ?? CONSUL_CONTROL_PREFIX);
  }

  /**
   * Writes `value` as JSON. Resolves with whether Consul applied it (without
   * `cas` it always does). Writing the value already stored changes nothing
   * (Consul keeps the ModifyIndex), so the call is idempotent.
   * @throws ConflictError when `cas` was given and the key moved on (or exists, for cas 0)
   */
  async putJson(key: string, value: unknown, opts: CasOptions = {}): Promise<boolean> {
    const context: ErrorContext = { ...opts.context, endpoint: `PUT /v1/kv/${key}` };
    const applied = await this.consul.kvPut(key, JSON.stringify(value), { ...(opts.cas !== undefined ? { cas: opts.cas } : {}), context });
    if (!applied && opts.cas !== undefined) {
      throw new ConflictError(`${key}: check-and-set at index ${opts.cas} lost; the key changed since it was read`, context);
    }
    return applied;
  }

  /**
   * Deletes a key (or every key under it with `recurse`). Deleting an absent
   * key succeeds. Resolves with whether Consul applied it.
   * @throws ConflictError when `cas` was given and the key moved on
   */
  async deleteKey(key: string, opts: CasOptions & { recurse?: boolean } = {}): Promise<boolean> {
    const context: ErrorContext = { ...opts.context, endpoint: `DELETE /v1/kv/${key}` };
    const applied = await this.consul.kvDelete(key, {
      ...(opts.cas !== undefined ? { cas: opts.cas } : {}),
      ...(opts.recurse ? { recurse: true } : {}),
      context,
    });
    if (!applied && opts.cas !== undefined) {
      throw new ConflictError(`${key}: check-and-set delete at index ${opts.cas} lost; the key changed since it was read`, context);
    }
    return applied;
  }

  /**
   * Turns a switch on (`steward pause`, `steward sync-now`, …). The value is
   * a JSON note `{at, by?, reason?}` that status shows. A `sync-now` note
   * also carries a fresh `id`, so two requests in the same millisecond are
   * still two writes (Consul skips a write of the value already stored);
   * its `env`/`service` narrow the pass to those jobs.
   */
  async putControl(s: ControlSwitch, note: { by?: string; reason?: string; env?: string; service?: string } = {}): Promise<void> {
    const at = new Date((this.options.clock ?? systemClock).now()).toISOString();
    const value = { at, ...note, ...(s.kind === "sync-now" ? { id: randomUUID() } : {}) };
    await this.putJson(`${this.controlPrefix}${controlPath(s)}`, value);
  }

  /**
   * Turns a switch off by deleting its key; turning off a switch that is off
   * succeeds. With `cas` (the ModifyIndex the switch was read at), only that
   * write of it is deleted.
   * @throws ConflictError when `cas` was given and the switch was written again since
   */
  async deleteControl(s: ControlSwitch, cas?: number): Promise<void> {
    await this.deleteKey(`${this.controlPrefix}${controlPath(s)}`, cas !== undefined ? { cas } : {});
  }
}

/**
 * What Steward registered last for one job in one environment. A superset of
 * the sync planner's AppliedRecord, kept in Consul so a new leader knows it.
 */
export interface SyncRecord {
  /** The JobModifyIndex Nomad answered the registration with. */
  jobModifyIndex: number;
  /** The spec hash Steward registered. */
  specHash: string;
  /** The desired-state revision it came from. */
  revision: string;
  /** When, as ISO 8601 (readable in the Consul UI). */
  at: string;
}

const syncRecordSchema = z.object({
  jobModifyIndex: z.number().int().nonnegative(),
  specHash: z.string().min(1),
  revision: z.string(),
  at: z.string(),
});

/** Options of a `SyncStateStore`. */
export interface SyncStateStoreOptions {
  /** @default CONSUL_SYNC_STATE_PREFIX ("steward/state/sync/") */
  prefix?: string;
  /** For the default `at` of a record. @default systemClock */
  clock?: Clock;
  /** Where unreadable records are reported. */
  logger?: Logger;
}

/**
 * The sync loop's record of what it registered, one key per job:
 * `<prefix><env>/<job>` holding a SyncRecord as JSON. The job ID is
 * percent-encoded (encodeURIComponent), so an ID with a `/` stays one key.
 * Only the leader writes; a record is rewritten after each registration.
 */
export class SyncStateStore {
  /** The prefix, ending in `/`. */
  readonly prefix: string;
  private readonly clock: Clock;

  constructor(
    private readonly consul: ConsulClient,
    private readonly writer: ConsulKvWriter,
    private readonly options: SyncStateStoreOptions = {},
  ) {
    this.prefix = folderPrefix(options.prefix ?? CONSUL_SYNC_STATE_PREFIX);
    this.clock = options.clock ?? systemClock;
  }

  /** The key of one job's record. */
  keyOf(env: string, job: string): string {
    return `${this.prefix}${env}/${encodeURIComponent(job)}`;
  }

  /**
   * Every record, keyed `env/job` (the sync loop's key string). A record that
   * does not parse is left out and logged (warn): the job is then treated as
   * one Steward has no record of, which re-registers at worst; it never
   * stops the other jobs.
   */
  async loadApplied(): Promise<Map<string, SyncRecord>> {
    const { entries } = await this.consul.kvList(this.prefix, { context: { endpoint: `GET /v1/kv/${this.prefix}` } });
    const out = new Map<string, SyncRecord>();
    for (const e of entries) {
      if (!e.key.startsWith(this.prefix)) continue;
      const rest = e.key.slice(this.prefix.length);
      const slash = rest.indexOf("/");
      // Folder keys and keys not shaped <env>/<job> are not records.
      if (rest.endsWith("/") || slash <= 0) continue;
      const env = rest.slice(0, slash);
      let job: string;
      try {
        job = decodeURIComponent(rest.slice(slash + 1));
      } catch {
        job = rest.slice(slash + 1);
      }
      const record = parseRecord(e.value);
      if (!record) {
        this.options.logger?.warn({ env, nomad_job: job, key: e.key }, "sync state: unreadable record left out");
        continue;
      }
      out.set(`${env}/${job}`, record);
    }
    return out;
  }

  /** Writes one job's record (`at` defaults to now). */
  async putApplied(env: string, job: string, record: Omit<SyncRecord, "at"> & { at?: string }): Promise<void> {
    const full: SyncRecord = {
      jobModifyIndex: record.jobModifyIndex,
      specHash: record.specHash,
      revision: record.revision,
      at: record.at ?? new Date(this.clock.now()).toISOString(),
    };
    await this.writer.putJson(this.keyOf(env, job), full, { context: { env, nomadJob: job } });
  }

  /** Removes one job's record (after a prune); removing an absent record succeeds. */
  async deleteApplied(env: string, job: string): Promise<void> {
    await this.writer.deleteKey(this.keyOf(env, job), { context: { env, nomadJob: job } });
  }
}

function parseRecord(value: Buffer): SyncRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(value.toString("utf8"));
  } catch {
    return undefined;
  }
  const parsed = syncRecordSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

import { CONSUL_HEALING_JOURNAL_PREFIX, HEALING_DONE_RECORDS_KEPT, JOURNAL_HISTORY_LIMIT } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { IncidentEntry, IncidentRecord } from "../reconciler/healing/journal.js";
import type { ConsulClient, KvEntry } from "../sources/consul.js";
import { folderPrefix } from "../sources/consul-kv-tree.js";
import type { ConsulKvWriter } from "./consul-kv.js";

/** The store of healing incidents, as the loop uses it (Consul KV in production, memory in tests). */
export interface IncidentStore {
  /** Every readable incident, any pool, oldest first. */
  listAll(): Promise<IncidentEntry[]>;
  /**
   * Writes the record's next state if the stored one is still at
   * `expectedModifyIndex` (0: only if none exists).
   * @throws ConflictError when another writer moved it first (nothing is written)
   */
  advance(record: IncidentRecord, expectedModifyIndex: number): Promise<IncidentEntry>;
  /** Deletes the oldest `done` incidents of a pool beyond the ones kept; resolves with how many. */
  prune(pool: string): Promise<number>;
}

/** Options of a HealingJournalStore. */
export interface HealingJournalOptions {
  /** @default CONSUL_HEALING_JOURNAL_PREFIX ("steward/journal/healing/") */
  prefix?: string;
  /** History lines kept per record. @default JOURNAL_HISTORY_LIMIT (50) */
  historyLimit?: number;
  /** `done` incidents kept per pool by `prune`. @default HEALING_DONE_RECORDS_KEPT (20) */
  keepDone?: number;
  logger?: Logger;
}

/**
 * The healing journal in Consul KV: one JSON record per incident at
 * `<prefix><pool>/<nodeId>`, every write check-and-set against the
 * ModifyIndex it was read at, so two leaders can never both take the same
 * step (the loser gets a ConflictError and re-observes). No decisions here;
 * the steps are in reconciler/healing/journal.ts.
 */
export class HealingJournalStore implements IncidentStore {
  readonly prefix: string;
  private readonly historyLimit: number;
  private readonly keepDone: number;

  constructor(
    private readonly consul: ConsulClient,
    private readonly writer: ConsulKvWriter,
    private readonly options: HealingJournalOptions = {},
  ) {
    this.prefix = folderPrefix(options.prefix ?? CONSUL_HEALING_JOURNAL_PREFIX);
    this.historyLimit = Math.max(1, options.historyLimit ?? JOURNAL_HISTORY_LIMIT);
    this.keepDone = Math.max(0, options.keepDone ?? HEALING_DONE_RECORDS_KEPT);
  }

  keyOf(pool: string, nodeId: string): string {
    return `${this.prefix}${pool}/${nodeId}`;
  }

  async listAll(): Promise<IncidentEntry[]> {
    const { entries } = await this.consul.kvList(this.prefix, { context: { endpoint: `GET /v1/kv/${this.prefix}` } });
    return entries.flatMap((e) => this.parse(e) ?? []).sort((a, b) => a.record.createdAt - b.record.createdAt);
  }

  async advance(record: IncidentRecord, expectedModifyIndex: number): Promise<IncidentEntry> {
    const key = this.keyOf(record.pool, record.nodeId);
    const context = { pool: record.pool, node: record.nodeName };
    const stored: IncidentRecord = { ...record, history: record.history.slice(-this.historyLimit) };
    await this.writer.putJson(key, stored, { cas: expectedModifyIndex, context });
    const { entry } = await this.consul.kvGet(key, { context: { ...context, endpoint: `GET /v1/kv/${key}` } });
    return { record: stored, modifyIndex: entry?.modifyIndex ?? expectedModifyIndex };
  }

  async prune(pool: string): Promise<number> {
    const prefix = `${this.prefix}${pool}/`;
    const { entries } = await this.consul.kvList(prefix, { context: { pool } });
    const done = entries.flatMap((e) => this.parse(e) ?? []).filter((e) => e.record.step === "done").sort((a, b) => (a.record.finishedAt ?? 0) - (b.record.finishedAt ?? 0));
    let deleted = 0;
    for (const e of done.slice(0, Math.max(0, done.length - this.keepDone))) {
      if (await this.consul.kvDelete(this.keyOf(pool, e.record.nodeId), { cas: e.modifyIndex, context: { pool } })) deleted++;
    }
    return deleted;
  }

  private parse(e: KvEntry): IncidentEntry | undefined {
    let v: unknown;
    try {
      v = JSON.parse(e.value.toString("utf8"));
    } catch {
      v = undefined;
    }
    const r = v as Partial<IncidentRecord> | null;
    if (!r || typeof r !== "object" || typeof r.pool !== "string" || typeof r.nodeId !== "string" || typeof r.step !== "string" || !Array.isArray(r.history)) {
      this.options.logger?.warn({ key: e.key }, "healing journal: unreadable record left out");
      return undefined;
    }
    return { record: r as IncidentRecord, modifyIndex: e.modifyIndex };
  }
}

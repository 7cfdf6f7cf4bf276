import { CONSUL_PROMOTION_JOURNAL_PREFIX, JOURNAL_FINISHED_RECORDS_KEPT, JOURNAL_HISTORY_LIMIT } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { ErrorContext } from "../model/errors.js";
import { stageDigest, type PromotionRecord } from "../reconciler/promotion/journal.js";
import type { ConsulClient, KvEntry } from "../sources/consul.js";
import { folderPrefix } from "../sources/consul-kv-tree.js";
import type { WatchQuery } from "../sources/watch.js";
import type { ConsulKvWriter } from "./consul-kv.js";

/** A journal record and the Consul ModifyIndex it was read at: the index the next write must check against. */
export interface JournalEntry {
  record: PromotionRecord;
  modifyIndex: number;
}

/** Options of a PromotionJournalStore. */
export interface PromotionJournalOptions {
  /** @default CONSUL_PROMOTION_JOURNAL_PREFIX ("steward/journal/promotion/") */
  prefix?: string;
  /** History lines kept per record on each write. @default JOURNAL_HISTORY_LIMIT (50) */
  historyLimit?: number;
  /** Promoted or superseded records kept per service by `prune`. @default JOURNAL_FINISHED_RECORDS_KEPT (20) */
  keepFinished?: number;
  /** Where unreadable records are reported. */
  logger?: Logger;
}

/**
 * The promotion journal in Consul KV: one JSON record per (service, digest)
 * at `<prefix><service>/<digest>`. Every write is check-and-set against the
 * ModifyIndex the record was read at (0: it must not exist yet), so two
 * leaders can never both take the same step: the loser gets a ConflictError
 * and re-observes. No decisions here; the transitions are in
 * reconciler/promotion/journal.ts.
 */
export class PromotionJournalStore {
  /** The prefix, ending in `/`. */
  readonly prefix: string;
  private readonly historyLimit: number;
  private readonly keepFinished: number;

  constructor(
    private readonly consul: ConsulClient,
    private readonly writer: ConsulKvWriter,
    private readonly options: PromotionJournalOptions = {},
  ) {
    this.prefix = folderPrefix(options.prefix ?? CONSUL_PROMOTION_JOURNAL_PREFIX);
    this.historyLimit = Math.max(1, options.historyLimit ?? JOURNAL_HISTORY_LIMIT);
    this.keepFinished = Math.max(0, options.keepFinished ?? JOURNAL_FINISHED_RECORDS_KEPT);
  }

  /** The key of one record. */
  keyOf(service: string, digest: string): string {
    return `${this.prefix}${service}/${digest}`;
  }

  /** One record, or undefined when there is none (or it is unreadable, which is logged). */
  async load(service: string, digest: string): Promise<JournalEntry | undefined> {
    const key = this.keyOf(service, digest);
    const { entry } = await this.consul.kvGet(key, { context: { service, endpoint: `GET /v1/kv/${key}` } });
    return entry ? this.parse(entry) : undefined;
  }

  /** Every readable record of one service, oldest first (by createdAt). */
  async list(service: string): Promise<JournalEntry[]> {
    const prefix = `${this.prefix}${service}/`;
    const { entries } = await this.consul.kvList(prefix, { context: { service, endpoint: `GET /v1/kv/${prefix}` } });
    return entries.flatMap((e) => this.parse(e) ?? []).sort((a, b) => a.record.createdAt - b.record.createdAt);
  }

  /** Every readable record, by service: what the promotion cache and sync's resolver start from. */
  async listAll(): Promise<Map<string, JournalEntry[]>> {
    const { entries } = await this.consul.kvList(this.prefix, { context: { endpoint: `GET /v1/kv/${this.prefix}` } });
    return this.fromEntries(entries);
  }

  /**
   * The whole journal as a blocking query, for a Watch: every instance keeps
   * its copy current (sync's image resolver reads it on standbys too).
   * @param waitMs server-side wait of each blocking list
   */
  query(waitMs: number): WatchQuery<Map<string, JournalEntry[]>> {
    const prefix = this.prefix;
    return {
      name: "consul-kv",
      fetch: async (index, signal, options) => {
        const { meta, entries } = await this.consul.kvList(prefix, { index, waitMs, allowStale: options.allowStale, signal, context: { endpoint: `GET /v1/kv/${prefix}` } });
        return { index: meta.index, data: this.fromEntries(entries), lastContactMs: meta.lastContactMs };
      },
    };
  }

  /** Readable records among KV entries under the prefix (a blocking list's answer), by service, oldest first. */
  fromEntries(entries: readonly KvEntry[]): Map<string, JournalEntry[]> {
    const out = new Map<string, JournalEntry[]>();
    for (const e of entries) {
      const parsed = this.parse(e);
      if (!parsed) continue;
      const list = out.get(parsed.record.service) ?? [];
      list.push(parsed);
      out.set(parsed.record.service, list);
    }
    for (const list of out.values()) list.sort((a, b) => a.record.createdAt - b.record.createdAt);
    return out;
  }

  /**
   * Writes the record's next state, if the stored one is still at
   * `expectedModifyIndex` (0: only if none exists). History is cut to the
   * last `historyLimit` lines. Resolves with the entry as stored, whose
   * `modifyIndex` the next step must check against.
   * @throws ConflictError when another writer moved the record first (nothing is written)
   */
  async advance(record: PromotionRecord, expectedModifyIndex: number): Promise<JournalEntry> {
    const key = this.keyOf(record.service, record.digest);
    const context: ErrorContext = { service: record.service };
    const stored: PromotionRecord = { ...record, history: record.history.slice(-this.historyLimit) };
    await this.writer.putJson(key, stored, { cas: expectedModifyIndex, context });
    const { entry } = await this.consul.kvGet(key, { context: { ...context, endpoint: `GET /v1/kv/${key}` } });
    // Read back for the new index; a record changed again in between is the next step's conflict to find.
    return { record: stored, modifyIndex: entry?.modifyIndex ?? expectedModifyIndex };
  }

  /**
   * Deletes the oldest promoted or superseded records of a service beyond
   * `keepFinished`. Failed records are never deleted (they bar their digest
   * for good), nor active ones, nor one that a stage still runs. Each delete
   * is check-and-set, so a record that moved meanwhile stays. Resolves with
   * how many were deleted.
   */
  async prune(service: string): Promise<number> {
    const entries = await this.list(service);
    const records = entries.map((e) => e.record);
    const running = new Set(
      records.flatMap((r) => r.stages.map((s) => s.name)).flatMap((stage) => {
        const d = stageDigest(records, stage);
        return d && "digest" in d ? [d.digest] : [];
      }),
    );
    const finished = entries.filter((e) => (e.record.status === "promoted" || e.record.status === "superseded") && !running.has(e.record.digest));
    const drop = finished.slice(0, Math.max(0, finished.length - this.keepFinished));
    let deleted = 0;
    for (const e of drop) {
      const applied = await this.consul.kvDelete(this.keyOf(service, e.record.digest), { cas: e.modifyIndex, context: { service } });
      if (applied) deleted++;
    }
    return deleted;
  }

  private parse(e: KvEntry): JournalEntry | undefined {
    let value: unknown;
    try {
      value = JSON.parse(e.value.toString("utf8"));
    } catch {
      value = undefined;
    }
    if (!looksLikeRecord(value)) {
      this.options.logger?.warn({ key: e.key }, "promotion journal: unreadable record left out");
      return undefined;
    }
    return { record: value, modifyIndex: e.modifyIndex };
  }
}

function looksLikeRecord(v: unknown): v is PromotionRecord {
  if (v === null || typeof v !== "object") return false;
  const r = v as Partial<PromotionRecord>;
  return (
    typeof r.service === "string" &&
    typeof r.digest === "string" &&
    typeof r.status === "string" &&
    Array.isArray(r.stages) &&
    Array.isArray(r.history) &&
    typeof r.createdAt === "number"
  );
}

import { CONSUL_APPROVALS_PREFIX, WATCH_BLOCKING_WAIT_MS } from "../config/defaults.js";
import type { ApprovalStoreLike } from "../reconciler/promotion/gate-types.js";
import type { ConsulClient, KvEntry } from "./consul.js";
import { folderPrefix } from "./consul-kv-tree.js";
import { Watch, type WatchOptions, type WatchQuery } from "./watch.js";

/** What someone decided about a digest of a service. */
export type ApprovalDecision = "approve" | "reject";

/**
 * One manual decision, as stored at `<prefix><service>/<digest>` (one key
 * per service and digest: the last decision wins). The value is JSON
 * `{decision, by, at, stage?, reason?}` as `steward approve`, the API and
 * the writer store it; a key written by hand may hold plain text instead:
 * `reject` (or `rejected`, `false`, `no`, `0`, any case) rejects, anything
 * else, the empty value included, approves, so `consul kv put
 * steward/approvals/web/sha256:… ` is an approval.
 */
export interface Approval {
  service: string;
  /** `sha256:…`. */
  digest: string;
  decision: ApprovalDecision;
  /** Who decided: the API token's name (with the requester when given), the CLI's `--by`/$USER, or absent for a hand-written key. */
  by?: string;
  /** When, ISO 8601, as written. */
  at?: string;
  /** The stage it is for; absent: every stage's manual gate. */
  stage?: string;
  reason?: string;
  /** The key's ModifyIndex. */
  modifyIndex: number;
}

const REJECT_WORDS = new Set(["reject", "rejected", "false", "no", "0"]);

/** The key of one decision under `prefix` (which ends in `/`). */
export function approvalKey(prefix: string, service: string, digest: string): string {
  return `${folderPrefix(prefix)}${service}/${digest}`;
}

/**
 * Reads one entry under the approvals prefix, or undefined when its key is
 * not `<service>/<digest>` (a folder key, a stray key). A JSON object is
 * read field by field (an unknown or missing `decision` approves, as a
 * present key does); any other value is plain text (see {@link Approval}).
 */
export function parseApprovalEntry(prefix: string, e: KvEntry): Approval | undefined {
  const root = folderPrefix(prefix);
  if (!e.key.startsWith(root) || e.key.endsWith("/")) return undefined;
  const parts = e.key.slice(root.length).split("/");
  const [service, digest] = parts;
  if (parts.length !== 2 || !service || !digest) return undefined;
  const text = e.value.toString("utf8").trim();
  const base = { service, digest, modifyIndex: e.modifyIndex };
  const json = parseObject(text);
  if (!json) return { ...base, decision: REJECT_WORDS.has(text.toLowerCase()) ? "reject" : "approve" };
  const str = (k: string): string | undefined => (typeof json[k] === "string" && json[k] !== "" ? json[k] : undefined);
  const decision = str("decision")?.toLowerCase();
  return {
    ...base,
    decision: decision !== undefined && REJECT_WORDS.has(decision) ? "reject" : "approve",
    ...optional("by", str("by")),
    ...optional("at", str("at")),
    ...optional("stage", str("stage")),
    ...optional("reason", str("reason")),
  };
}

function optional<K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, string>);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Every decision under the prefix, keyed `service/digest`. */
export function approvalsFromEntries(prefix: string, entries: readonly KvEntry[]): Map<string, Approval> {
  const out = new Map<string, Approval>();
  for (const e of entries) {
    const a = parseApprovalEntry(prefix, e);
    if (a) out.set(`${a.service}/${a.digest}`, a);
  }
  return out;
}

/**
 * Whether a decision applies to a stage's manual gate: one without a stage
 * applies to every stage; one naming a stage only to that stage. With no
 * stage asked, any decision applies.
 */
export function appliesTo(a: Approval, stage: string | undefined): boolean {
  return stage === undefined || a.stage === undefined || a.stage === stage;
}

/** Called with the service and digest whose decision appeared, changed or went away. */
export type ApprovalListener = (service: string, digest: string) => void;

/** Options of an `ApprovalStore`. */
export interface ApprovalStoreOptions extends Omit<WatchOptions<Map<string, Approval>>, "query" | "onChange" | "equal"> {
  consul: ConsulClient;
  /** @default CONSUL_APPROVALS_PREFIX ("steward/approvals/") */
  prefix?: string;
  /** Server-side wait of each blocking query. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
}

/**
 * The manual decisions in Consul KV, kept warm by one recursive blocking
 * query on the approvals prefix, so `isApproved` answers from memory.
 * Before the first answer nothing is approved (a gate waits; it never
 * passes on a Consul that has not answered). Listeners hear each key whose
 * decision appeared, changed or was deleted.
 */
export class ApprovalStore implements ApprovalStoreLike {
  /** The watched prefix, ending in `/`. */
  readonly prefix: string;
  private readonly w: Watch<Map<string, Approval>>;
  private readonly listeners = new Set<ApprovalListener>();
  private current = new Map<string, Approval>();

  constructor(options: ApprovalStoreOptions) {
    const { consul, prefix, waitMs, ...watchOptions } = options;
    this.prefix = folderPrefix(prefix ?? CONSUL_APPROVALS_PREFIX);
    this.w = new Watch({
      ...watchOptions,
      query: approvalsQuery(consul, this.prefix, waitMs),
      onChange: (next) => this.deliver(next),
      equal: sameApprovals,
    });
  }

  /** Whether `digest` of `service` is approved (for `stage`'s gate when given). From the cache; false before the first answer. */
  isApproved(service: string, digest: string, stage?: string): boolean {
    return this.decisionOf(service, digest, stage)?.decision === "approve";
  }

  /** Whether it is rejected: a manual gate then fails instead of waiting. */
  isRejected(service: string, digest: string, stage?: string): boolean {
    return this.decisionOf(service, digest, stage)?.decision === "reject";
  }

  /** The ModifyIndex of the decision that applies (ApprovalStoreLike), or undefined. */
  decisionIndex(service: string, digest: string, stage?: string): number | undefined {
    return this.decisionOf(service, digest, stage)?.modifyIndex;
  }

  /** The decision that applies (see {@link appliesTo}), or undefined. */
  decisionOf(service: string, digest: string, stage?: string): Approval | undefined {
    const a = this.current.get(`${service}/${digest}`);
    return a && appliesTo(a, stage) ? a : undefined;
  }

  /** Every decision seen, sorted by service then digest (for /api/approvals and status). */
  list(): Approval[] {
    return [...this.current.values()].sort((a, b) => (a.service === b.service ? (a.digest < b.digest ? -1 : 1) : a.service < b.service ? -1 : 1));
  }

  /** Adds a listener (ApprovalStoreLike). */
  watch(listener: ApprovalListener): void {
    this.listeners.add(listener);
  }

  /** Starts watching. Call once. */
  start(): void {
    this.w.start();
  }

  /** Stops the watch and waits for its loop to end. */
  stop(): Promise<void> {
    return this.w.stop();
  }

  /** True once the first answer was delivered. */
  get synced(): boolean {
    return this.w.synced;
  }

  /** Resolves at the first answer. */
  whenSynced(): Promise<void> {
    return this.w.whenSynced();
  }

  private deliver(next: Map<string, Approval>): void {
    const prev = this.current;
    this.current = next;
    const changed = [...new Set([...prev.keys(), ...next.keys()])].filter((k) => prev.get(k)?.modifyIndex !== next.get(k)?.modifyIndex);
    let failure: Error | undefined;
    for (const k of changed) {
      const a = next.get(k) ?? prev.get(k);
      if (!a) continue;
      for (const l of this.listeners) {
        try {
          l(a.service, a.digest);
        } catch (err) {
          failure ??= err instanceof Error ? err : new Error("approval listener threw", { cause: err });
        }
      }
    }
    // Every listener ran; the first failure goes to the watch, which logs it.
    if (failure) throw failure;
  }
}

/** The blocking query behind the store: one recursive read of the prefix. */
export function approvalsQuery(consul: ConsulClient, prefix: string, waitMs = WATCH_BLOCKING_WAIT_MS): WatchQuery<Map<string, Approval>> {
  const root = folderPrefix(prefix);
  return {
    name: "consul-kv",
    async fetch(index, signal, options) {
      const { meta, entries } = await consul.kvList(root, { index, waitMs, allowStale: options.allowStale, signal, context: { endpoint: `GET /v1/kv/${root}` } });
      return { index: meta.index, data: approvalsFromEntries(root, entries), lastContactMs: meta.lastContactMs };
    },
  };
}

function sameApprovals(a: Map<string, Approval>, b: Map<string, Approval>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k)?.modifyIndex === v.modifyIndex);
}

import { CONSUL_GATE_RETRIES_PREFIX, WATCH_BLOCKING_WAIT_MS } from "../config/defaults.js";
import type { RetryRequest } from "../reconciler/promotion/plan.js";
import type { ConsulClient, KvEntry } from "./consul.js";
import { folderPrefix } from "./consul-kv-tree.js";
import { Watch, type WatchOptions, type WatchQuery } from "./watch.js";

/** One retry request as read from `<prefix><service>/<digest>`: the planner's RetryRequest with its key's names. */
export interface GateRetryEntry extends RetryRequest {
  service: string;
  /** `sha256:…`. */
  digest: string;
  /** When it was asked, ISO 8601, as written (absent for a hand-written key). */
  at?: string;
}

/** The key of one request under `prefix`. */
export function gateRetryKey(prefix: string, service: string, digest: string): string {
  return `${folderPrefix(prefix)}${service}/${digest}`;
}

/**
 * Reads one entry under the prefix, or undefined when its key is not
 * `<service>/<digest>` or it names no stage. The value is JSON `{stage, by,
 * at, id, reason?}` as `steward retry-gate`, the UI and GateRetryWriter
 * write it; a key written by hand may hold just the stage's name (`consul kv
 * put steward/gate-retries/web/sha256:… prod`): its `by` is then
 * `consul kv` and its id the key's ModifyIndex.
 */
export function parseGateRetryEntry(prefix: string, e: KvEntry): GateRetryEntry | undefined {
  const root = folderPrefix(prefix);
  if (!e.key.startsWith(root) || e.key.endsWith("/")) return undefined;
  const parts = e.key.slice(root.length).split("/");
  const [service, digest] = parts;
  if (parts.length !== 2 || !service || !digest) return undefined;
  const text = e.value.toString("utf8").trim();
  const base = { service, digest, modifyIndex: e.modifyIndex };
  let json: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) json = v as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  if (!json) return /^[A-Za-z0-9._-]+$/.test(text) ? { ...base, stage: text, by: "consul kv", id: `kv-${e.modifyIndex}` } : undefined;
  const str = (k: string): string | undefined => (typeof json[k] === "string" && json[k] !== "" ? json[k] : undefined);
  const stage = str("stage");
  if (!stage) return undefined;
  const reason = str("reason");
  const at = str("at");
  return { ...base, stage, by: str("by") ?? "consul kv", id: str("id") ?? `kv-${e.modifyIndex}`, ...(reason !== undefined && { reason }), ...(at !== undefined && { at }) };
}

/** Called with the service and digest whose request appeared, changed or went away. */
export type GateRetryListener = (service: string, digest: string) => void;

/** Options of a `GateRetryStore`. */
export interface GateRetryStoreOptions extends Omit<WatchOptions<Map<string, GateRetryEntry>>, "query" | "onChange" | "equal"> {
  consul: ConsulClient;
  /** @default CONSUL_GATE_RETRIES_PREFIX ("steward/gate-retries/") */
  prefix?: string;
  /** Server-side wait of each blocking query. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
}

/**
 * Operators' requests to retry a failed gate, kept warm by one recursive
 * blocking query on the prefix (every instance watches; only the leader's
 * promotion loop acts on them and removes them). Keys that are not requests
 * are ignored. Listeners hear each key whose request appeared, changed or
 * went away.
 */
export class GateRetryStore {
  /** The watched prefix, ending in `/`. */
  readonly prefix: string;
  private readonly w: Watch<Map<string, GateRetryEntry>>;
  private readonly listeners = new Set<GateRetryListener>();
  private current = new Map<string, GateRetryEntry>();

  constructor(options: GateRetryStoreOptions) {
    const { consul, prefix, waitMs, ...watchOptions } = options;
    this.prefix = folderPrefix(prefix ?? CONSUL_GATE_RETRIES_PREFIX);
    const root = this.prefix;
    const query: WatchQuery<Map<string, GateRetryEntry>> = {
      name: "consul-kv",
      async fetch(index, signal, o) {
        const { meta, entries } = await consul.kvList(root, { index, waitMs: waitMs ?? WATCH_BLOCKING_WAIT_MS, allowStale: o.allowStale, signal, context: { endpoint: `GET /v1/kv/${root}` } });
        const data = new Map<string, GateRetryEntry>();
        for (const e of entries) {
          const r = parseGateRetryEntry(root, e);
          if (r) data.set(`${r.service}/${r.digest}`, r);
        }
        return { index: meta.index, data, lastContactMs: meta.lastContactMs };
      },
    };
    this.w = new Watch({
      ...watchOptions,
      query,
      onChange: (next) => this.deliver(next),
      equal: (a, b) => a.size === b.size && [...a].every(([k, v]) => b.get(k)?.modifyIndex === v.modifyIndex),
    });
  }

  /** The request for one digest of a service, from the cache. */
  requestFor(service: string, digest: string): GateRetryEntry | undefined {
    return this.current.get(`${service}/${digest}`);
  }

  /** The digests of a service that have a request. */
  digestsOf(service: string): string[] {
    return [...this.current.values()].filter((r) => r.service === service).map((r) => r.digest);
  }

  /** Every request seen, sorted by service then digest. */
  list(): GateRetryEntry[] {
    return [...this.current.values()].sort((a, b) => (a.service === b.service ? (a.digest < b.digest ? -1 : 1) : a.service < b.service ? -1 : 1));
  }

  /** Adds a listener. */
  watch(listener: GateRetryListener): void {
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

  private deliver(next: Map<string, GateRetryEntry>): void {
    const prev = this.current;
    this.current = next;
    const changed = [...new Set([...prev.keys(), ...next.keys()])].filter((k) => prev.get(k)?.modifyIndex !== next.get(k)?.modifyIndex);
    let failure: Error | undefined;
    for (const k of changed) {
      const r = next.get(k) ?? prev.get(k);
      if (!r) continue;
      for (const l of this.listeners) {
        try {
          l(r.service, r.digest);
        } catch (err) {
          failure ??= err instanceof Error ? err : new Error("gate retry listener threw", { cause: err });
        }
      }
    }
    // Every listener ran; the first failure goes to the watch, which logs it.
    if (failure) throw failure;
  }
}

import { isDeepStrictEqual } from "node:util";
import { CONSUL_DESIRED_STATE_PREFIX, WATCH_BLOCKING_WAIT_MS } from "../config/defaults.js";
import type { TreeSnapshot } from "../model/types.js";
import type { ConsulClient, KvEntry } from "./consul.js";
import { Watch, type WatchOptions, type WatchQuery } from "./watch.js";

/** The `source` label of a Consul KV watch (metrics and logs). */
const SOURCE = "consul-kv";

/** `steward/desired-state` → `steward/desired-state/`: a prefix always names a folder, so `foo` never matches `foobar/…`. */
export function folderPrefix(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/**
 * The tree under `prefix` as a snapshot: files keyed by their path relative
 * to the prefix, values as stored (bytes, binary-safe). Folder keys (ending
 * in `/`, Consul's UI makes them) are skipped. The revision is
 * `consul:<index>`, the X-Consul-Index of the answer.
 */
export function treeFromEntries(prefix: string, entries: readonly KvEntry[], index: number): TreeSnapshot {
  const root = folderPrefix(prefix);
  const files = new Map<string, Buffer>();
  for (const e of entries) {
    if (!e.key.startsWith(root) || e.key.endsWith("/")) continue;
    files.set(e.key.slice(root.length), e.value);
  }
  return { revision: `consul:${index}`, origin: `consul:${root.slice(0, -1)}`, files };
}

/** The blocking query behind the tree watch: one recursive read of the prefix. */
export function kvTreeQuery(consul: ConsulClient, prefix: string, waitMs = WATCH_BLOCKING_WAIT_MS): WatchQuery<TreeSnapshot> {
  const root = folderPrefix(prefix);
  return {
    name: SOURCE,
    async fetch(index, signal, options) {
      const { meta, entries } = await consul.kvList(root, { index, waitMs, allowStale: options.allowStale, signal, context: { endpoint: `GET /v1/kv/${root}` } });
      return { index: meta.index, data: treeFromEntries(root, entries, meta.index), lastContactMs: meta.lastContactMs };
    },
  };
}

/** Reads the tree once (for `steward validate` and `steward plan`). Errors as ConsulClient's. */
export async function readConsulKvTree(consul: ConsulClient, prefix: string = CONSUL_DESIRED_STATE_PREFIX): Promise<TreeSnapshot> {
  const root = folderPrefix(prefix);
  const { meta, entries } = await consul.kvList(root);
  return treeFromEntries(root, entries, meta.index);
}

/** Options of a `ConsulKvTreeSource`. */
export interface ConsulKvTreeSourceOptions extends Omit<WatchOptions<TreeSnapshot>, "query" | "onChange" | "equal"> {
  consul: ConsulClient;
  /** @default CONSUL_DESIRED_STATE_PREFIX ("steward/desired-state/") */
  prefix?: string;
  /** Server-side wait of each blocking query. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
  /** Called with each new tree, in order, never concurrently; a throw is logged and the watch goes on. */
  onSnapshot: (snapshot: TreeSnapshot) => void | Promise<void>;
}

/**
 * A desired-state tree kept under a Consul KV prefix, watched with one
 * recursive blocking query (sources/watch.ts rules). A new snapshot is
 * delivered when the files change; a new index with the same files (a key
 * written with its old value) wakes nobody. An empty or missing prefix is a
 * tree with no files, which the loader then reports.
 */
export class ConsulKvTreeSource {
  private readonly watch: Watch<TreeSnapshot>;
  /** The watched prefix, ending in `/`. */
  readonly prefix: string;

  constructor(options: ConsulKvTreeSourceOptions) {
    const { consul, prefix, waitMs, onSnapshot, ...watchOptions } = options;
    this.prefix = folderPrefix(prefix ?? CONSUL_DESIRED_STATE_PREFIX);
    this.watch = new Watch<TreeSnapshot>({
      ...watchOptions,
      query: kvTreeQuery(consul, this.prefix, waitMs),
      onChange: (snapshot) => onSnapshot(snapshot),
      equal: (a, b) => isDeepStrictEqual(a.files, b.files),
    });
  }

  /** Starts watching. Call once. */
  start(): void {
    this.watch.start();
  }

  /** Stops the watch and waits for its loop to end. */
  stop(): Promise<void> {
    return this.watch.stop();
  }

  /** The latest snapshot delivered, if any. */
  get snapshot(): TreeSnapshot | undefined {
    return this.watch.data;
  }

  /** True once a first snapshot was delivered (for /readyz). */
  get synced(): boolean {
    return this.watch.synced;
  }

  /** Resolves at the first snapshot delivered. */
  whenSynced(): Promise<void> {
    return this.watch.whenSynced();
  }
}

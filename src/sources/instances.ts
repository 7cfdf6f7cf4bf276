import { CONSUL_INSTANCES_PREFIX, WATCH_BLOCKING_WAIT_MS } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { StewardMetrics } from "../metrics.js";
import { parseInstanceInfo, type InstanceInfo } from "../reconciler/core/presence.js";
import type { ConsulClient } from "./consul.js";
import { Watch } from "./watch.js";

/** Options of an `InstancesWatch`. */
export interface InstancesWatchOptions {
  consul: ConsulClient;
  /** @default CONSUL_INSTANCES_PREFIX ("steward/instances/") */
  prefix?: string;
  /** Called with the new list whenever an instance appears, leaves or changes. */
  onChange?: (instances: InstanceInfo[]) => void;
  /** Server-side wait of the blocking query (real time). @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
  logger?: Logger;
  metrics?: StewardMetrics;
}

/**
 * Every live Steward instance, from one blocking query on the presence
 * prefix (see reconciler/core/presence.ts): a key exists while its
 * instance's session lives. Keys no session holds (written by hand) and
 * values that are not an InstanceInfo are left out. Reads only.
 */
export class InstancesWatch {
  private readonly watch: Watch<InstanceInfo[]>;

  constructor(o: InstancesWatchOptions) {
    const prefix = o.prefix ?? CONSUL_INSTANCES_PREFIX;
    const waitMs = o.waitMs ?? WATCH_BLOCKING_WAIT_MS;
    this.watch = new Watch<InstanceInfo[]>({
      query: {
        name: "consul-kv",
        async fetch(index, signal, options) {
          const { meta, entries } = await o.consul.kvList(prefix, { index, waitMs, allowStale: options.allowStale, signal });
          const list: InstanceInfo[] = [];
          for (const e of entries) {
            const info = e.session ? parseInstanceInfo(e.value.toString("utf8")) : undefined;
            if (info) list.push(info);
          }
          list.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
          return { index: meta.index, data: list, lastContactMs: meta.lastContactMs };
        },
      },
      onChange: (list) => o.onChange?.(list),
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.metrics ? { metrics: o.metrics } : {}),
    });
  }

  /** The live instances as last read, sorted by ID; empty before the first read. */
  list(): InstanceInfo[] {
    return this.watch.data ?? [];
  }

  /** True once the prefix was read. */
  get synced(): boolean {
    return this.watch.synced;
  }

  start(): void {
    this.watch.start();
  }

  async stop(): Promise<void> {
    await this.watch.stop();
  }
}

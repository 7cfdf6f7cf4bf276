import type { SimContext } from "../core/context.js";
import type { Machine } from "../core/world.js";
import type { CatalogStore } from "./catalog-store.js";
import type { TimerSet } from "./timers.js";
import { SERF_ALIVE, SERF_CHECK_ID, SERF_CHECK_NAME, SERF_FAILED, type CheckStatus } from "./types.js";

/** A Serf member as `/v1/agent/members` lists it. */
export interface Member {
  name: string;
  address: string;
  /** Serf's status codes: 1 alive, 4 failed. */
  status: 1 | 4;
  role: "consul" | "node";
}

export interface SerfOptions {
  datacenter: string;
  /** Sim ms from a machine dying (or being cut off) to its serfHealth turning critical. */
  failureDetectionMs: number;
  server: { name: string; id: string; address: string };
}

/**
 * Serf membership as the servers see it, driven by the sim's World: each
 * machine runs a Consul agent, so a booted machine joins the catalog with a
 * passing `serfHealth`; a dead machine's serfHealth turns critical after the
 * failure-detection delay (gossip probes and suspicion take a few seconds);
 * a revived one passes again at once; a removed machine leaves (its node is
 * deregistered). A partition cuts every client agent off from the servers:
 * their serfHealth turns critical after the same delay, while Nomad still
 * sees its clients. The server's own node always passes.
 */
export class SerfMembers {
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly ctx: SimContext,
    private readonly catalog: CatalogStore,
    private readonly timers: TimerSet,
    private readonly opts: SerfOptions,
  ) {}

  start(): void {
    const { world } = this.ctx;
    const on = <E extends "machine-added" | "machine-down" | "machine-up" | "machine-removed">(event: E, fn: (m: Machine) => void): void => {
      world.on(event, fn as never);
      this.offs.push(() => world.off(event, fn as never));
    };
    on("machine-added", (m) => this.join(m));
    on("machine-down", (m) => this.refresh(m));
    on("machine-up", (m) => this.refresh(m));
    on("machine-removed", (m) => this.leave(m));
    const onPartition = (): void => {
      for (const m of world.list()) this.refresh(m);
    };
    world.on("partition", onPartition);
    this.offs.push(() => world.off("partition", onPartition));
    for (const m of world.list()) this.join(m);
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }

  /** The server plus every client machine still in the catalog. */
  members(): Member[] {
    const { server } = this.opts;
    const out: Member[] = [{ name: server.name, address: server.address, status: 1, role: "consul" }];
    for (const m of this.ctx.world.list()) {
      const check = this.catalog.check(m.name, SERF_CHECK_ID);
      if (!check) continue;
      out.push({ name: m.name, address: m.address, status: check.Status === "passing" ? 1 : 4, role: m.role === "server" ? "consul" : "node" });
    }
    return out;
  }

  private reachable(m: Machine): boolean {
    // A partition cuts client agents off from the servers; server machines stay in touch with each other.
    return m.state === "up" && (m.role === "server" || !this.ctx.world.isPartitioned);
  }

  private join(m: Machine): void {
    this.catalog.ensureNode({
      ID: m.id,
      Node: m.name,
      Address: m.address,
      Datacenter: this.opts.datacenter,
      TaggedAddresses: { lan: m.address, lan_ipv4: m.address, wan: m.address, wan_ipv4: m.address },
      Meta: { "consul-network-segment": "", ...m.meta },
    });
    this.setSerf(m.name, this.reachable(m) ? "passing" : "critical");
  }

  /** Reachable again: pass now. Unreachable: fail once failure detection has had its time. */
  private refresh(m: Machine): void {
    const key = `serf:${m.name}`;
    if (this.reachable(m)) {
      this.timers.cancel(key);
      this.setSerf(m.name, "passing");
      return;
    }
    if (this.timers.has(key) || this.catalog.check(m.name, SERF_CHECK_ID)?.Status === "critical") return;
    this.timers.set(key, this.opts.failureDetectionMs, () => this.setSerf(m.name, "critical"));
  }

  private leave(m: Machine): void {
    this.timers.cancel(`serf:${m.name}`);
    this.catalog.deregisterNode(m.name);
  }

  private setSerf(node: string, status: CheckStatus): void {
    if (!this.catalog.node(node)) return;
    setSerfHealth(this.catalog, node, status);
  }
}

/** Writes a node's `serfHealth` check as Consul's agent reports it (the server node's too). */
export function setSerfHealth(catalog: CatalogStore, node: string, status: CheckStatus): void {
  catalog.ensureCheck({
    Node: node,
    CheckID: SERF_CHECK_ID,
    Name: SERF_CHECK_NAME,
    Status: status,
    Notes: "",
    Output: status === "passing" ? SERF_ALIVE : SERF_FAILED,
    ServiceID: "",
    Type: "",
    Interval: "",
    Timeout: "",
    ExposedPort: 0,
    Definition: {},
  });
}

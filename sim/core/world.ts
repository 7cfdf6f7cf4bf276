import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";

/**
 * A machine of the emulated fleet: one VM running a Nomad client (in
 * `cluster`) and a Consul agent. The two fail together, as they do on a real
 * machine, because they share the machine's fate.
 */
export interface Machine {
  /** Stable id; the Nomad node ID is this value. */
  id: string;
  /** Host name; the Nomad node Name and the Consul node name. */
  name: string;
  address: string;
  /** Which sim Nomad cluster the client joins (`qa`, `prod`, ...). */
  cluster: string;
  datacenter: string;
  nodePool: string;
  nodeClass: string;
  meta: Record<string, string>;
  /**
   * `client` (the default): a Nomad client and a Consul client agent.
   * `server`: a Nomad server of `cluster` and a Consul server; it is a Raft
   * peer of both (`/v1/operator/raft/configuration`), not a Nomad client node.
   */
  role: "client" | "server";
  /** `up`: both agents run; `down`: the machine is dead (killed, or its instance terminated). */
  state: "up" | "down";
  /** EC2 instance id when an instance of sim's EC2 runs this machine. */
  instanceId?: string;
  createdAt: number;
}

export interface MachineSpec {
  cluster: string;
  name?: string;
  datacenter?: string;
  nodePool?: string;
  nodeClass?: string;
  meta?: Record<string, string>;
  instanceId?: string;
  id?: string;
  /** The machine's IP (an EC2 instance's private address); one is made up when absent. */
  address?: string;
  /** @default "client" */
  role?: "client" | "server";
}

/**
 * Events of the world. Products subscribe; nobody else mutates machines.
 * - `machine-added` (m): a machine booted; its agents start.
 * - `machine-down` (m): the machine died.
 * - `machine-up` (m): a dead machine came back (same id and name).
 * - `machine-removed` (m): the machine is gone for good (instance terminated and purged).
 * - `partition` (on: boolean): Consul agents lose (or regain) their servers while Nomad still sees its clients.
 */
export interface WorldEvents {
  "machine-added": [Machine];
  "machine-down": [Machine];
  "machine-up": [Machine];
  "machine-removed": [Machine];
  partition: [boolean];
}

export class World extends EventEmitter<WorldEvents> {
  readonly machines = new Map<string, Machine>();
  private partitioned = false;
  private octet = 10;

  constructor(private readonly now: () => number) {
    super();
    this.setMaxListeners(100);
  }

  addMachine(spec: MachineSpec): Machine {
    if (!spec.cluster) throw new Error("machine: cluster is required");
    const n = ++this.octet;
    const id = spec.id ?? randomUUID();
    const m: Machine = {
      id,
      name: spec.name ?? `${spec.cluster}-${spec.role === "server" ? "server" : "client"}-${n - 10}`,
      address: spec.address ?? `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      cluster: spec.cluster,
      datacenter: spec.datacenter ?? "dc1",
      nodePool: spec.nodePool ?? "default",
      nodeClass: spec.nodeClass ?? "",
      meta: { ...(spec.meta ?? {}) },
      role: spec.role ?? "client",
      state: "up",
      createdAt: this.now(),
      ...(spec.instanceId !== undefined ? { instanceId: spec.instanceId } : {}),
    };
    if ([...this.machines.values()].some((o) => o.name === m.name)) {
      throw new Error(`machine: name ${m.name} is already taken`);
    }
    this.machines.set(m.id, m);
    this.emit("machine-added", m);
    return m;
  }

  get(idOrName: string): Machine | undefined {
    return this.machines.get(idOrName) ?? [...this.machines.values()].find((m) => m.name === idOrName);
  }

  /** Kills a machine: its Nomad client stops heartbeating and its Consul agent stops answering. */
  kill(idOrName: string): Machine {
    const m = this.must(idOrName);
    if (m.state === "down") return m;
    m.state = "down";
    this.emit("machine-down", m);
    return m;
  }

  revive(idOrName: string): Machine {
    const m = this.must(idOrName);
    if (m.state === "up") return m;
    m.state = "up";
    this.emit("machine-up", m);
    return m;
  }

  /** Removes a machine for good (its instance was terminated). */
  remove(idOrName: string): Machine {
    const m = this.must(idOrName);
    if (m.state === "up") this.kill(m.id);
    this.machines.delete(m.id);
    this.emit("machine-removed", m);
    return m;
  }

  get isPartitioned(): boolean {
    return this.partitioned;
  }

  /** Cuts (or heals) the network between the Consul agents and their servers. */
  setPartition(on: boolean): void {
    if (this.partitioned === on) return;
    this.partitioned = on;
    this.emit("partition", on);
  }

  list(cluster?: string): Machine[] {
    return [...this.machines.values()].filter((m) => cluster === undefined || m.cluster === cluster);
  }

  private must(idOrName: string): Machine {
    const m = this.get(idOrName);
    if (!m) throw new Error(`machine ${idOrName} not found`);
    return m;
  }
}

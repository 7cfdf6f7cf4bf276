import type { SimContext } from "../core/context.js";
import type { MachineSpec } from "../core/world.js";
import { NETWORK } from "./catalog.js";
import type { Instance, InstanceStateName } from "./instance.js";

/** How instance tags become a booted Nomad client (see sim/ec2/README.md, "Tags"). */
export const TAGS = {
  name: "Name",
  cluster: "nomad_cluster",
  datacenter: "nomad_datacenter",
  nodePool: "nomad_node_pool",
  nodeClass: "nomad_node_class",
  /** `nomad_meta:<key>` = value becomes client meta `<key>`. */
  metaPrefix: "nomad_meta:",
  /** Copied into client meta as `steward_pool`, so a node names its pool. */
  stewardPool: "steward:pool",
  /** Copied into client meta as `terraform_key`: the for_each key, so a node names its Terraform address. */
  terraformKey: "terraform_key",
  /** `server`: the instance runs the Nomad and Consul servers (a Raft peer), anything else a client. */
  role: "steward:role",
} as const;

export interface FleetOptions {
  region: string;
  accountId: string;
  bootDelayMs: number;
  terminateDelayMs: number;
  terminatedVisibleMs: number;
  clusterForInstance: (tags: Record<string, string>) => string;
}

/** What RunInstances asks for, already validated. */
export interface LaunchSpec {
  imageId: string;
  instanceType: string;
  count: number;
  subnetId: string;
  availabilityZone: string;
  clientToken: string;
  tags: Map<string, string>;
  volumeTags: Map<string, string>;
  userData: string;
  disableApiTermination: boolean;
  disableApiStop: boolean;
  shutdownBehavior: "stop" | "terminate";
  ebsOptimized: boolean;
  monitoring: boolean;
  cpuCredits?: "standard" | "unlimited";
  /** A fixed primary private address (checked by the caller); one is handed out when absent. */
  privateIp?: string;
}

/**
 * The instances of the emulated account and their lifecycle. Every state
 * change runs on the sim clock; the moment an instance is `running` its
 * machine boots in the world (as cloud-init would start Nomad and Consul),
 * and the moment it starts shutting down that machine goes down, to be
 * removed from the world once the instance is terminated.
 */
export class Fleet {
  private readonly byId = new Map<string, Instance>();
  private seq = 0;
  private ipSeq = 0;

  constructor(
    private readonly ctx: SimContext,
    private readonly opts: FleetOptions,
  ) {}

  get(id: string): Instance | undefined {
    return this.byId.get(id);
  }

  /** Every instance still visible (terminated ones stay for `terminatedVisibleMs`), in launch order. */
  all(): Instance[] {
    return [...this.byId.values()];
  }

  launch(spec: LaunchSpec): { reservationId: string; instances: Instance[] } {
    const reservationId = this.id("r-");
    const now = this.ctx.clock.now();
    const instances: Instance[] = [];
    for (let n = 0; n < spec.count; n++) {
      const host = this.seq++;
      const privateIp = spec.privateIp ?? this.freeIp();
      const inst: Instance = {
        instanceId: this.id("i-"),
        reservationId,
        ownerId: this.opts.accountId,
        imageId: spec.imageId,
        instanceType: spec.instanceType,
        state: "pending",
        transitionReason: "",
        launchTime: now,
        launchIndex: n,
        availabilityZone: spec.availabilityZone,
        subnetId: spec.subnetId,
        vpcId: NETWORK.vpcId,
        privateIp,
        privateDnsName: `ip-${privateIp.replace(/\./g, "-")}.${this.opts.region === "us-east-1" ? "ec2.internal" : `${this.opts.region}.compute.internal`}`,
        clientToken: spec.clientToken,
        tags: new Map(spec.tags),
        userData: spec.userData,
        disableApiTermination: spec.disableApiTermination,
        disableApiStop: spec.disableApiStop,
        shutdownBehavior: spec.shutdownBehavior,
        ebsOptimized: spec.ebsOptimized,
        monitoring: spec.monitoring,
        sourceDestCheck: true,
        ...(spec.cpuCredits !== undefined ? { cpuCredits: spec.cpuCredits } : {}),
        rootVolume: {
          volumeId: this.id("vol-"),
          device: "/dev/xvda",
          sizeGiB: 8,
          type: "gp3",
          iops: 3000,
          throughput: 125,
          createTime: now,
          tags: new Map(spec.volumeTags),
        },
        volumeDeleted: false,
        networkInterfaceId: this.id("eni-"),
        attachmentId: this.id("eni-attach-"),
        macAddress: `0a:${[host >> 16, host >> 8, host].map((b) => (b & 255).toString(16).padStart(2, "0")).join(":")}:00:01`,
      };
      this.byId.set(inst.instanceId, inst);
      inst.timer = this.ctx.clock.setTimeout(() => this.boot(inst), this.opts.bootDelayMs, { unref: true });
      instances.push(inst);
    }
    return { reservationId, instances };
  }

  /** Starts termination; answers the state before and after, as TerminateInstances reports them. */
  terminate(inst: Instance): { previous: InstanceStateName; current: InstanceStateName } {
    const previous = inst.state;
    if (previous === "terminated" || previous === "shutting-down") return { previous, current: previous };
    inst.timer?.cancel();
    inst.state = "shutting-down";
    inst.transitionReason = `User initiated (${gmt(this.ctx.clock.now())})`;
    inst.stateReason = { code: "Client.UserInitiatedShutdown", message: "Client.UserInitiatedShutdown: User initiated shutdown" };
    this.machineDown(inst);
    inst.timer = this.ctx.clock.setTimeout(() => this.finish(inst), this.opts.terminateDelayMs, { unref: true });
    return { previous, current: "shutting-down" };
  }

  /**
   * The instance dies behind its owner's back (host failure, a spot
   * reclaim, a console click): it is terminated at once and its machine is
   * removed. With `vanish` it is purged too, so lookups answer NotFound.
   */
  kill(inst: Instance, vanish: boolean): void {
    inst.timer?.cancel();
    if (inst.state !== "terminated") {
      inst.state = "shutting-down";
      inst.transitionReason = `Server initiated (${gmt(this.ctx.clock.now())})`;
      inst.stateReason = { code: "Server.InternalError", message: "Server.InternalError: Internal error on the host" };
      this.machineDown(inst);
      this.finish(inst);
    }
    if (vanish) this.purge(inst);
  }

  /** Cancels every pending state change (the sim is shutting down). Machines are left as they are. */
  close(): void {
    for (const inst of this.byId.values()) inst.timer?.cancel();
  }

  private boot(inst: Instance): void {
    if (inst.state !== "pending") return;
    inst.state = "running";
    const tags = Object.fromEntries(inst.tags);
    const spec = machineSpec(inst, tags, this.opts.clusterForInstance(tags));
    const world = this.ctx.world;
    // The Name tag is the node name (a stable name across replacements);
    // when another live machine holds it (create_before_destroy) the host
    // name is used, as an unconfigured Nomad client would.
    const names = [spec.name, inst.privateDnsName].filter((n): n is string => !!n && !world.get(n));
    const name = names[0];
    if (name === undefined) {
      inst.bootError = `node name ${spec.name ?? inst.privateDnsName} is taken by another machine`;
      return;
    }
    try {
      inst.machineId = world.addMachine({ ...spec, name }).id;
    } catch (err) {
      inst.bootError = (err as Error).message;
    }
  }

  private machineDown(inst: Instance): void {
    const m = inst.machineId !== undefined ? this.ctx.world.get(inst.machineId) : undefined;
    if (m && m.state === "up") this.ctx.world.kill(m.id);
  }

  private finish(inst: Instance): void {
    inst.state = "terminated";
    inst.terminatedAt = this.ctx.clock.now();
    inst.volumeDeleted = true;
    if (inst.machineId !== undefined && this.ctx.world.get(inst.machineId)) this.ctx.world.remove(inst.machineId);
    inst.timer = this.ctx.clock.setTimeout(() => this.purge(inst), this.opts.terminatedVisibleMs, { unref: true });
  }

  private purge(inst: Instance): void {
    inst.timer?.cancel();
    this.byId.delete(inst.instanceId);
  }

  /** The next address of .10-.249 of 10.0.1.0/24, then the next /24, as a subnet hands them out, skipping those live instances hold. */
  private freeIp(): string {
    const held = new Set(this.all().filter((i) => i.state !== "terminated").map((i) => i.privateIp));
    for (;;) {
      const n = this.ipSeq++;
      const ip = `10.0.${1 + Math.floor(n / 240)}.${10 + (n % 240)}`;
      if (!held.has(ip)) return ip;
    }
  }

  /** EC2-style ids: a prefix and 17 hex digits, from the sim's seeded random source. */
  private id(prefix: string): string {
    let s = "";
    for (let i = 0; i < 17; i++) s += Math.floor(this.ctx.random() * 16).toString(16);
    return prefix + s;
  }
}

/** The machine an instance's cloud-init would start, read from its tags. */
export function machineSpec(inst: Instance, tags: Record<string, string>, cluster: string): MachineSpec {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (k.startsWith(TAGS.metaPrefix) && k.length > TAGS.metaPrefix.length) meta[k.slice(TAGS.metaPrefix.length)] = v;
  }
  const pool = tags[TAGS.stewardPool];
  if (pool !== undefined) meta.steward_pool = pool;
  const key = tags[TAGS.terraformKey];
  if (key !== undefined) meta.terraform_key = key;
  const name = tags[TAGS.name];
  return {
    cluster,
    name: name !== undefined && name !== "" ? name : inst.privateDnsName,
    datacenter: tags[TAGS.datacenter] ?? "dc1",
    nodePool: tags[TAGS.nodePool] ?? "default",
    nodeClass: tags[TAGS.nodeClass] ?? "",
    meta,
    instanceId: inst.instanceId,
    address: inst.privateIp,
    role: tags[TAGS.role] === "server" ? "server" : "client",
  };
}

/** `YYYY-MM-DD HH:MM:SS GMT`, the format of EC2's stateTransitionReason. */
function gmt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} GMT`;
}

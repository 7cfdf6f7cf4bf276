import type { SimTimer } from "../core/clock.js";
import type { Machine } from "../core/world.js";
import type { NomadCore } from "./core.js";
import { NomadError } from "./errors.js";
import { findGroup } from "./alloc-util.js";
import { subjectOf } from "./scheduler.js";
import type { AllocRec, DrainStrategy, EvalRec, JsonObject, NodeRec } from "./types.js";
import { ZERO_TIME, allocTerminal, clientTerminal } from "./types.js";

const MAX_EVENTS = 10;

/** structs.NodeDrainUpdateResponse / NodeEligibilityUpdateResponse. */
export interface NodeUpdateReply {
  EvalIDs: string[] | null;
  EvalCreateIndex: number;
  NodeModifyIndex: number;
  Index: number;
}

/**
 * Client nodes of one cluster, driven by the world: a machine of this
 * cluster registers (initializing, then ready); a dead machine misses
 * heartbeats and turns `down` after the TTL, or `disconnected` when an
 * allocation's group tolerates disconnects (its allocations go `unknown`
 * until `lost_after`); a machine that comes back is ready again. Also the
 * operator side: drain (with migrate max_parallel and deadline),
 * eligibility and purge.
 */
export class NodeManager {
  private readonly ttl = new Map<string, SimTimer>();
  private readonly drainTimers = new Map<string, SimTimer>();
  private readonly pools = new Set<string>(["default", "all"]);
  private drainQueued = false;
  private readonly listeners: [string, (m: Machine) => void][] = [];

  constructor(private readonly core: NomadCore) {
    const on = (event: "machine-added" | "machine-down" | "machine-up" | "machine-removed", fn: (m: Machine) => void): void => {
      const wrapped = (m: Machine): void => {
        // A server machine runs this cluster's Nomad server, not a client: it is no node.
        if (m.cluster === core.cfg.name && m.role !== "server" && !core.closed) fn(m);
      };
      core.ctx.world.on(event, wrapped);
      this.listeners.push([event, wrapped]);
    };
    on("machine-added", (m) => this.register(m));
    on("machine-down", (m) => this.missHeartbeats(m));
    on("machine-up", (m) => this.heartbeat(m));
    on("machine-removed", () => undefined);
    for (const m of core.ctx.world.list(core.cfg.name)) {
      if (m.role === "server") continue;
      this.register(m);
      if (m.state === "down") this.missHeartbeats(m);
    }
  }

  close(): void {
    for (const [event, fn] of this.listeners) this.core.ctx.world.off(event as "machine-added", fn);
    this.listeners.length = 0;
  }

  poolExists(pool: string): boolean {
    return this.pools.has(pool);
  }

  /** A client registers: a new node, or a known one coming back. */
  register(m: Machine): NodeRec {
    const store = this.core.store;
    const existing = store.nodes.get(m.id);
    if (existing) {
      this.heartbeat(m);
      return existing;
    }
    const idx = store.write("nodes");
    const node = newNode(this.core, m, idx);
    this.pools.add(node.NodePool);
    store.putNode(node);
    this.core.timers.after(this.core.cfg.nodeReadyAfterMs, () => {
      if (node.Status === "initializing" && this.core.ctx.world.machines.get(m.id)?.state === "up") this.setStatus(node, "ready", "");
    });
    return node;
  }

  /** The machine is dead: the server notices when the heartbeat TTL runs out. */
  private missHeartbeats(m: Machine): void {
    if (this.ttl.has(m.id)) return;
    this.ttl.set(
      m.id,
      this.core.timers.after(this.core.cfg.heartbeatTtlMs, () => {
        this.ttl.delete(m.id);
        const node = this.core.store.nodes.get(m.id);
        if (!node || node.Status === "down" || this.core.ctx.world.machines.get(m.id)?.state === "up") return;
        const lostAfter = this.disconnectWindow(node);
        if (lostAfter > 0 && node.Status !== "disconnected") {
          this.setStatus(node, "disconnected", "", "Node heartbeat missed");
          this.core.timers.after(lostAfter, () => {
            if (node.Status === "disconnected") this.setStatus(node, "down", "", "Node heartbeat missed");
          });
        } else this.setStatus(node, "down", "", "Node heartbeat missed");
      }),
    );
  }

  /** The longest disconnect window (sim ms) of the groups with allocations on the node. */
  private disconnectWindow(node: NodeRec): number {
    let max = 0;
    for (const a of this.core.store.allocsByNode(node.ID)) {
      if (allocTerminal(a)) continue;
      const g = findGroup(a.job, a.TaskGroup);
      const ns = (g?.Disconnect?.LostAfter ?? 0) || (g?.MaxClientDisconnect ?? 0);
      max = Math.max(max, ns / 1e6);
    }
    return max;
  }

  /** The machine is up again and heartbeating. */
  private heartbeat(m: Machine): void {
    this.core.timers.cancel(this.ttl.get(m.id));
    this.ttl.delete(m.id);
    const node = this.core.store.nodes.get(m.id);
    if (!node) return;
    if (node.Status === "disconnected") {
      this.setStatus(node, "ready", "", "Node reconnected");
      for (const a of [...this.core.store.allocsByNode(node.ID)]) this.core.client.reconnect(a);
    } else if (node.Status === "down") this.setStatus(node, "initializing", "", "Node re-registered");
    if (node.Status === "initializing") {
      this.core.timers.after(this.core.cfg.nodeReadyAfterMs, () => {
        if (node.Status === "initializing" && this.core.ctx.world.machines.get(m.id)?.state === "up") this.setStatus(node, "ready", "");
      });
    }
  }

  /** Changes a node's status and creates the node-update evaluations it implies. */
  setStatus(node: NodeRec, status: NodeRec["Status"], description: string, event?: string): void {
    if (node.Status === status) return;
    const evals = status === "initializing" ? [] : this.nodeEvals(node, "node-update");
    const idx = this.core.store.write("nodes", ...(evals.length ? (["evals", "jobs", "job_summary"] as const) : []));
    node.Status = status;
    node.StatusDescription = description;
    node.StatusUpdatedAt = Math.floor(this.core.nowMs() / 1000);
    node.ModifyIndex = idx;
    if (event) addEvent(this.core, node, "Cluster", event, idx);
    for (const ev of evals) {
      ev.NodeModifyIndex = idx;
      this.core.scheduler.submit(ev, idx);
    }
    if (status === "ready") this.core.scheduler.unblockAll();
  }

  /** One evaluation per job with allocations on the node, plus every system job. */
  private nodeEvals(node: NodeRec, trigger: string): EvalRec[] {
    const seen = new Set<string>();
    const evals: EvalRec[] = [];
    const add = (ns: string, id: string): void => {
      const k = `${ns}\u0000${id}`;
      if (seen.has(k)) return;
      seen.add(k);
      const rec = this.core.store.job(ns, id);
      const subject = rec ? subjectOf(rec.current) : { namespace: ns, jobID: id, type: "service", priority: 50 };
      evals.push(this.core.scheduler.newEval(subject, trigger, { NodeID: node.ID, JobModifyIndex: rec?.current.JobModifyIndex ?? 0 }));
    };
    for (const a of this.core.store.allocsByNode(node.ID)) if (!allocTerminal(a) || a.ClientStatus === "unknown") add(a.Namespace, a.JobID);
    for (const rec of this.core.store.jobs.values()) {
      const t = rec.current.Type;
      if ((t === "system" || t === "sysbatch") && !rec.current.Stop) add(rec.current.Namespace, rec.current.ID);
    }
    return evals;
  }

  /** Node.UpdateDrain: sets or cancels a drain. */
  drain(id: string, spec: { Deadline: number; IgnoreSystemJobs: boolean } | null, markEligible: boolean, meta: JsonObject | null): NodeUpdateReply {
    const node = this.mustNode(id);
    const idx = this.core.store.write("nodes");
    const now = this.core.nowRfc();
    this.core.timers.cancel(this.drainTimers.get(id));
    this.drainTimers.delete(id);
    if (spec) {
      const force = spec.Deadline < 0 ? now : spec.Deadline > 0 ? new Date(this.core.nowMs() + spec.Deadline / 1e6).toISOString() : ZERO_TIME;
      node.DrainStrategy = { Deadline: spec.Deadline, IgnoreSystemJobs: spec.IgnoreSystemJobs, ForceDeadline: force, StartedAt: now };
      node.SchedulingEligibility = "ineligible";
      node.LastDrain = { Status: "draining", StartedAt: now, UpdatedAt: now, Meta: meta, AccessorID: "" };
      addEvent(this.core, node, "Drain", "Node drain strategy set", idx);
      if (spec.Deadline > 0) this.drainTimers.set(id, this.core.timers.after(spec.Deadline / 1e6, () => this.drainStep(node, true)));
      setImmediate(() => this.drainStep(node, spec.Deadline < 0));
    } else {
      if (node.DrainStrategy && node.LastDrain) node.LastDrain = { ...node.LastDrain, Status: "canceled", UpdatedAt: now };
      node.DrainStrategy = null;
      if (markEligible) node.SchedulingEligibility = "eligible";
      addEvent(this.core, node, "Drain", "Node drain strategy cancelled", idx);
      if (markEligible) this.core.scheduler.unblockAll();
    }
    node.ModifyIndex = idx;
    return { EvalIDs: null, EvalCreateIndex: 0, NodeModifyIndex: idx, Index: idx };
  }

  /** Node.UpdateEligibility. */
  eligibility(id: string, value: string): NodeUpdateReply {
    const node = this.mustNode(id);
    if (value !== "eligible" && value !== "ineligible") throw new NomadError(500, `invalid scheduling eligibility "${value}"`);
    if (node.DrainStrategy && value === "eligible") throw new NomadError(500, "can not set node's scheduling eligibility to eligible while it is draining");
    const idx = this.core.store.write("nodes");
    if (node.SchedulingEligibility !== value) {
      node.SchedulingEligibility = value;
      addEvent(this.core, node, "Cluster", value === "eligible" ? "Node marked as eligible for scheduling" : "Node marked as ineligible for scheduling", idx);
    }
    node.ModifyIndex = idx;
    if (value === "eligible") this.core.scheduler.unblockAll();
    return { EvalIDs: null, EvalCreateIndex: 0, NodeModifyIndex: idx, Index: idx };
  }

  /** Node.Deregister (purge): the node is forgotten; its allocations get lost and replaced. */
  purge(id: string): JsonObject {
    const node = this.mustNode(id);
    const evals = this.nodeEvals(node, "node-update").filter((e) => !this.isSystemOnly(e, node));
    const idx = this.core.store.write("nodes", "evals", "jobs", "job_summary");
    this.core.store.deleteNode(id);
    this.core.timers.cancel(this.ttl.get(id));
    this.ttl.delete(id);
    for (const ev of evals) {
      ev.NodeModifyIndex = idx;
      this.core.scheduler.submit(ev, idx);
    }
    return {
      HeartbeatTTL: 0,
      EvalIDs: evals.length ? evals.map((e) => e.ID) : null,
      EvalCreateIndex: evals.length ? idx : 0,
      NodeModifyIndex: idx,
      LeaderRPCAddr: "",
      NumNodes: 0,
      Servers: null,
      SchedulingEligibility: "",
      Index: idx,
      LastContact: 0,
      KnownLeader: false,
    };
  }

  private isSystemOnly(e: EvalRec, node: NodeRec): boolean {
    if (e.Type !== "system" && e.Type !== "sysbatch") return false;
    for (const a of this.core.store.allocsByNode(node.ID)) if (a.JobID === e.JobID && !allocTerminal(a)) return false;
    return true;
  }

  private mustNode(id: string): NodeRec {
    const node = this.core.store.nodes.get(id);
    if (!node) throw new NomadError(500, "node not found");
    return node;
  }

  /** Allocations changed somewhere: let the drainer make progress (once per turn). */
  allocsChanged(): void {
    if (this.drainQueued) return;
    let any = false;
    for (const n of this.core.store.nodes.values()) if (n.DrainStrategy) any = true;
    if (!any) return;
    this.drainQueued = true;
    setImmediate(() => {
      this.drainQueued = false;
      for (const n of this.core.store.nodes.values()) if (n.DrainStrategy) this.drainStep(n, false);
    });
  }

  /**
   * One step of the drainer: migrates the node's allocations, at most the
   * group's migrate max_parallel at a time (waiting for replacements to run),
   * system jobs last unless ignored; everything at once past the deadline.
   * Marks the drain complete when nothing is left to move.
   */
  private drainStep(node: NodeRec, force: boolean): void {
    const ds = node.DrainStrategy;
    if (!ds || this.core.closed || !this.core.store.nodes.has(node.ID)) return;
    const forced = force || (ds.ForceDeadline !== ZERO_TIME && Date.parse(ds.ForceDeadline) <= this.core.nowMs());
    const live = [...this.core.store.allocsByNode(node.ID)].filter((a) => a.DesiredStatus === "run" && !clientTerminal(a));
    const isSystem = (a: AllocRec): boolean => a.job.Type === "system" || a.job.Type === "sysbatch";
    const services = live.filter((a) => !isSystem(a));
    const system = live.filter(isSystem);
    const toMark: AllocRec[] = [];
    if (forced) toMark.push(...live.filter((a) => !a.DesiredTransition.Migrate && (!isSystem(a) || !ds.IgnoreSystemJobs)));
    else {
      const groups = new Map<string, AllocRec[]>();
      for (const a of services) {
        const k = `${a.Namespace}\u0000${a.JobID}\u0000${a.TaskGroup}`;
        const list = groups.get(k);
        if (list) list.push(a);
        else groups.set(k, [a]);
      }
      for (const list of groups.values()) {
        const first = list[0] as AllocRec;
        const max = findGroup(first.job, first.TaskGroup)?.Migrate?.MaxParallel ?? 1;
        const inflight = this.migrationsInFlight(node, first);
        const waiting = list.filter((a) => !a.DesiredTransition.Migrate);
        toMark.push(...waiting.slice(0, Math.max(0, max - inflight)));
      }
      if (services.length === 0 && !ds.IgnoreSystemJobs) toMark.push(...system.filter((a) => !a.DesiredTransition.Migrate));
    }
    if (toMark.length) {
      const jobs = new Map<string, AllocRec>();
      for (const a of toMark) jobs.set(`${a.Namespace}\u0000${a.JobID}`, a);
      const evals = [...jobs.values()].map((a) => this.core.scheduler.newEval(subjectOf(a.job), "node-drain", { NodeID: node.ID, JobModifyIndex: a.job.JobModifyIndex }));
      const idx = this.core.store.write("allocs", "evals", "jobs", "job_summary");
      for (const a of toMark) {
        a.DesiredTransition = { ...a.DesiredTransition, Migrate: true };
        a.ModifyIndex = idx;
      }
      for (const ev of evals) this.core.scheduler.submit(ev, idx);
      return;
    }
    const remaining = live.filter((a) => !isSystem(a) || !ds.IgnoreSystemJobs);
    if (remaining.length === 0 && this.migrationsInFlight(node, undefined) === 0) this.completeDrain(node);
  }

  /** Replacements of allocations migrated off this node that are not running yet. */
  private migrationsInFlight(node: NodeRec, like: AllocRec | undefined): number {
    let n = 0;
    for (const a of this.core.store.allocsByNode(node.ID)) {
      if (!a.DesiredTransition.Migrate) continue;
      if (like && (a.JobID !== like.JobID || a.TaskGroup !== like.TaskGroup || a.Namespace !== like.Namespace)) continue;
      const next = a.NextAllocation ? this.core.store.allocs.get(a.NextAllocation) : undefined;
      if (a.DesiredStatus === "run" && !clientTerminal(a)) {
        if (!next) n++;
        continue;
      }
      if (next && next.ClientStatus === "pending" && next.DesiredStatus === "run") n++;
    }
    return n;
  }

  private completeDrain(node: NodeRec): void {
    const idx = this.core.store.write("nodes");
    const now = this.core.nowRfc();
    node.DrainStrategy = null;
    if (node.LastDrain) node.LastDrain = { ...node.LastDrain, Status: "complete", UpdatedAt: now };
    addEvent(this.core, node, "Drain", "Node drain complete", idx);
    node.ModifyIndex = idx;
    this.core.timers.cancel(this.drainTimers.get(node.ID));
    this.drainTimers.delete(node.ID);
  }
}

function addEvent(core: NomadCore, node: NodeRec, subsystem: string, message: string, idx: number): void {
  node.Events = [...node.Events, { CreateIndex: idx, Details: null, Message: message, Subsystem: subsystem, Timestamp: core.nowRfc() }].slice(-MAX_EVENTS);
}

/** A node as a Nomad client fingerprints and registers itself. */
function newNode(core: NomadCore, m: Machine, idx: number): NodeRec {
  const attrs: Record<string, string> = {
    "consul.datacenter": m.datacenter,
    "consul.revision": "a1b2c3d4",
    "consul.server": "false",
    "consul.version": "1.20.1",
    "consul.connect": "true",
    "cpu.arch": "amd64",
    "cpu.frequency": "2000",
    "cpu.modelname": "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
    "cpu.numcores": "2",
    "cpu.reservablecores": "2",
    "cpu.totalcompute": "4000",
    "cpu.usablecompute": "4000",
    "driver.docker": "1",
    "driver.docker.bridge_ip": "172.17.0.1",
    "driver.docker.os_type": "linux",
    "driver.docker.runtimes": "io.containerd.runc.v2,runc",
    "driver.docker.version": "27.3.1",
    "driver.docker.volumes.enabled": "true",
    "driver.exec": "1",
    "kernel.arch": "x86_64",
    "kernel.name": "linux",
    "kernel.version": "6.1.0-26-amd64",
    "memory.totalbytes": String(8192 * 1024 * 1024),
    "nomad.advertise.address": `${m.address}:4646`,
    "nomad.bridge.hairpin_mode": "false",
    "nomad.revision": "e2c1d8d3a2b3c4d5e6f708192a3b4c5d6e7f8091",
    "nomad.service_discovery": "true",
    "nomad.version": "1.9.7",
    "os.name": "debian",
    "os.signals": "SIGABRT,SIGALRM,SIGBUS,SIGCHLD,SIGCONT,SIGFPE,SIGHUP,SIGILL,SIGINT,SIGIO,SIGIOT,SIGKILL,SIGPIPE,SIGPROF,SIGQUIT,SIGSEGV,SIGSTOP,SIGSYS,SIGTERM,SIGTRAP,SIGTSTP,SIGTTIN,SIGTTOU,SIGURG,SIGUSR1,SIGUSR2,SIGWINCH,SIGXCPU,SIGXFSZ",
    "os.version": "12",
    "platform.aws.placement.availability-zone": `${m.datacenter}a`,
    "unique.advertise.address": `${m.address}:4646`,
    "unique.cgroup.mountpoint": "/sys/fs/cgroup",
    "unique.cgroup.version": "v2",
    "unique.consul.name": m.name,
    "unique.hostname": m.name,
    "unique.network.ip-address": m.address,
    "unique.storage.bytesfree": String(100_000 * 1024 * 1024),
    "unique.storage.bytestotal": String(120_000 * 1024 * 1024),
    "unique.storage.volume": "/dev/nvme0n1p1",
    ...(m.instanceId ? { "unique.platform.aws.instance-id": m.instanceId } : {}),
  };
  const meta: Record<string, string> = {
    "connect.gateway_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
    "connect.log_level": "info",
    "connect.proxy_concurrency": "1",
    "connect.sidecar_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
    ...m.meta,
  };
  const now = core.nowRfc();
  return {
    ID: m.id,
    Name: m.name,
    Address: m.address,
    Datacenter: m.datacenter,
    NodePool: m.nodePool,
    NodeClass: m.nodeClass,
    Meta: meta,
    Attributes: attrs,
    Status: "initializing",
    StatusDescription: "",
    StatusUpdatedAt: Math.floor(core.nowMs() / 1000),
    SchedulingEligibility: "eligible",
    DrainStrategy: null as DrainStrategy | null,
    LastDrain: null,
    Events: [{ CreateIndex: idx, Details: null, Message: "Node registered", Subsystem: "Cluster", Timestamp: now }],
    ComputedClass: computedClass(m, attrs, meta),
    CreateIndex: idx,
    ModifyIndex: idx,
    capacity: { cpu: 4000, memoryMB: 8192, diskMB: 100_000 },
  };
}

/** Nodes with the same datacenter, class, pool, attributes and meta share a class (a stable hash). */
function computedClass(m: Machine, attrs: Record<string, string>, meta: Record<string, string>): string {
  const parts = [m.datacenter, m.nodeClass, m.nodePool, ...Object.entries(attrs).filter(([k]) => !k.startsWith("unique.")).map(([k, v]) => `${k}=${v}`), ...Object.entries(meta).filter(([k]) => !k.startsWith("unique.")).map(([k, v]) => `${k}=${v}`)].sort();
  let h = 0xcbf29ce484222325n;
  for (const ch of parts.join("\n")) {
    h ^= BigInt(ch.codePointAt(0) ?? 0);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `v1:${h.toString()}`;
}

import type { Machine, World } from "./world.js";

/**
 * One server as Raft and autopilot see it. Nomad and Consul render it in
 * their own JSON (`/v1/operator/raft/configuration`, `/v1/operator/autopilot/health`).
 */
export interface QuorumServer {
  id: string;
  name: string;
  /** The machine's IP; each product adds its Raft port. */
  ip: string;
  leader: boolean;
  voter: boolean;
  /** Autopilot's view: the server is up (alive in Serf, in contact with the leader). */
  healthy: boolean;
  serfStatus: "alive" | "failed";
  /** Sim ms when `healthy` last changed. */
  stableSince: number;
  /** Sim ms since the leader last heard from it (0 for the leader and for healthy servers). */
  lastContactMs: number;
  /** Raft index the server has: the current one while healthy, the one it had when it failed otherwise. */
  lastIndex: number;
}

/** The cluster as autopilot reports it. */
export interface QuorumView {
  servers: QuorumServer[];
  /** Undefined when the voters that are up are no majority: no leader, no writes. */
  leader?: QuorumServer;
  /** Every server healthy. */
  healthy: boolean;
  /** Healthy voters that could fail without losing quorum (autopilot's FailureTolerance). */
  failureTolerance: number;
  term: number;
}

/** Servers that form a new cluster (`bootstrap_expect`): three, as terraform/modules/server runs them. */
export const BOOTSTRAP_EXPECT = 3;

/** Autopilot's default ServerStabilizationTime: a new server votes after being healthy this long (sim ms). */
export const SERVER_STABILIZATION_MS = 10_000;

/** What a ServerQuorum follows. */
export interface QuorumOptions {
  /** Whose server machines are followed; joins are noted as they happen, so the first `bootstrapExpect` are known even when the view is read later. */
  world: World;
  /** Sim time, ms. */
  now: () => number;
  /** The product's current Raft index. */
  index: () => number;
  /** Which server machines belong to this cluster. */
  isMember: (m: Machine) => boolean;
  /** The servers when the world holds none: the product's built-in server. */
  fallback: Machine[];
  /** @default BOOTSTRAP_EXPECT */
  bootstrapExpect?: number;
}

interface Tracked {
  healthy: boolean;
  since: number;
  index: number;
}

/**
 * Raft membership and autopilot health derived from the world's server
 * machines (role `server`), as both Nomad and Consul servers run it:
 *
 * - every server machine in the world is a Raft peer; a removed machine
 *   (its instance terminated) is gone from the configuration, as autopilot's
 *   dead-server cleanup does once it is replaced;
 * - the first `bootstrapExpect` servers ever seen (in creation order) form
 *   the cluster and vote at once, as `bootstrap_expect` does; any later server
 *   joins as a non-voter and becomes a voter after `SERVER_STABILIZATION_MS`
 *   of sim time (autopilot's stable-server introduction);
 * - a server whose machine is down stays in the configuration (still a voter)
 *   but is unhealthy, with SerfStatus `failed`;
 * - the leader is kept while it is an up voter and the up voters are a
 *   majority; otherwise the oldest up voter leads, or nobody when the up
 *   voters are no majority. Each change of leader is a new term.
 *
 * Health changes are noticed when the view is read, so `stableSince` is the
 * read that first saw the change.
 */
export class ServerQuorum {
  private readonly tracked = new Map<string, Tracked>();
  private leaderId: string | undefined;
  private term = 1;
  private readonly bootstrapped = new Set<string>();
  private readonly seen = new Set<string>();

  private readonly onAdded = (m: Machine): void => {
    if (this.opts.isMember(m)) this.see(m);
  };

  constructor(private readonly opts: QuorumOptions) {
    for (const m of opts.world.list()) if (opts.isMember(m)) this.see(m);
    opts.world.on("machine-added", this.onAdded);
  }

  /** Stops following the world. */
  close(): void {
    this.opts.world.off("machine-added", this.onAdded);
  }

  private see(m: Machine): void {
    if (this.seen.has(m.id)) return;
    this.seen.add(m.id);
    if (this.seen.size <= (this.opts.bootstrapExpect ?? BOOTSTRAP_EXPECT)) this.bootstrapped.add(m.id);
  }

  private servers(): Machine[] {
    const own = this.opts.world.list().filter(this.opts.isMember);
    if (own.length > 0) return own;
    for (const m of this.opts.fallback) this.bootstrapped.add(m.id);
    return this.opts.fallback;
  }

  view(): QuorumView {
    const now = this.opts.now();
    const machines = [...this.servers()].sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name));
    for (const id of this.tracked.keys()) if (!machines.some((m) => m.id === id)) this.tracked.delete(id);
    for (const m of machines) this.see(m);
    const voters = new Set(machines.filter((m) => this.bootstrapped.has(m.id) || m.createdAt + SERVER_STABILIZATION_MS <= now).map((m) => m.id));
    const up = (m: Machine): boolean => m.state === "up";
    const upVoters = machines.filter((m) => voters.has(m.id) && up(m));
    const quorum = Math.floor(voters.size / 2) + 1;
    let leaderId: string | undefined;
    if (upVoters.length >= quorum) leaderId = upVoters.some((m) => m.id === this.leaderId) ? this.leaderId : upVoters[0]?.id;
    if (leaderId !== this.leaderId) {
      if (leaderId !== undefined) this.term++;
      this.leaderId = leaderId;
    }
    const servers = machines.map((m) => this.server(m, voters.has(m.id), m.id === leaderId, now));
    const leader = servers.find((s) => s.leader);
    return {
      servers,
      ...(leader ? { leader } : {}),
      healthy: leader !== undefined && servers.every((s) => s.healthy),
      failureTolerance: leader === undefined ? 0 : Math.max(0, upVoters.length - quorum),
      term: this.term,
    };
  }

  private server(m: Machine, voter: boolean, leader: boolean, now: number): QuorumServer {
    const healthy = m.state === "up";
    let t = this.tracked.get(m.id);
    if (!t) {
      t = { healthy, since: m.createdAt, index: this.opts.index() };
      this.tracked.set(m.id, t);
    } else if (t.healthy !== healthy) {
      t.healthy = healthy;
      t.since = now;
    }
    if (healthy) t.index = this.opts.index();
    return {
      id: m.id,
      name: m.name,
      ip: m.address,
      leader,
      voter,
      healthy,
      serfStatus: healthy ? "alive" : "failed",
      stableSince: t.since,
      lastContactMs: healthy ? 0 : Math.max(0, now - t.since),
      lastIndex: t.index,
    };
  }
}

/** Whether a machine runs servers (Nomad and Consul), not a client. */
export function isServer(m: Machine): boolean {
  return m.role === "server";
}

/** A duration as Go's time.Duration.String() prints it: `0s`, `250ms`, `1m30s`, `2h0m0s`. */
export function goDurationString(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${+ms.toFixed(6)}ms`;
  const totalS = ms / 1000;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = +(totalS % 60).toFixed(3);
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

import type { PoolSpec } from "../../model/types.js";
import type { IncidentEntry } from "./journal.js";
import type { HealingSnapshot, InstanceObservation, InstancesView, NodeObservation, RaftHealth, ShortCircuitAck } from "./plan.js";
import type { ApplyProgress } from "./progress.js";
import { isUnhealthy } from "./plan.js";
import { selectsNode } from "./template.js";

/** One Nomad node as the caches hold it: the list's stub fields and, once read, its meta. */
export interface CachedNode {
  id: string;
  name: string;
  status: string;
  eligible: boolean;
  draining: boolean;
  nodeClass: string;
  nodePool: string;
  /** Absent until `/v1/node/:id` was read (meta is not in the list). */
  meta?: Record<string, string>;
}

/** The health history of one node, kept from the watches (standbys keep it too, so a new leader is warm). */
export interface NodeHistory {
  unhealthySince?: number;
  turns: number[];
}

/** What a Terraform state said about a pool's working directory, and when it was read. */
export interface StateView {
  at: number;
  byAddress: Map<string, InstanceObservation>;
  /** Running or pending instances with the pool's tag that the state does not hold. */
  orphans: string[];
  /** Set after an apply: read again before the next decision. */
  invalid: boolean;
}

/**
 * Healing's caches, filled by the watches and reads of loop.ts; `snapshotOf`
 * turns them into the planner's input without I/O.
 */
export class HealingCache {
  /** env → node id → node. */
  readonly nodes = new Map<string, Map<string, CachedNode>>();
  /** Consul catalog nodes by name: server pools' members (servers run no Nomad client). */
  consulNodes = new Map<string, { id: string; name: string; meta: Record<string, string> }>();
  /** Consul node name → serfHealth. */
  serf = new Map<string, "passing" | "warning" | "critical">();
  /** env → node id → history. */
  readonly history = new Map<string, Map<string, NodeHistory>>();
  /** `dir\0workspace` → state. */
  readonly states = new Map<string, StateView>();
  /** `pool/nodeId` → incident. */
  readonly incidents = new Map<string, IncidentEntry>();
  /** Sources (`nomad-nodes:<env>`, `consul-health`) whose watch is failing or not synced yet. */
  readonly stale = new Set<string>();
  /** env → Raft health of both clusters, read before a server pool's pass. */
  readonly quorum = new Map<string, { nomad?: RaftHealth; consul?: RaftHealth }>();
  /** Incidents (node ids) whose apply this process runs now. */
  readonly applying = new Set<string>();
  /** pool → the operator's short-circuit acknowledgement in Consul KV, with the ModifyIndex it was read at (its removal is check-and-set on it). */
  acks: ReadonlyMap<string, ShortCircuitAck & { modifyIndex: number }> = new Map();
  /** pool → the last lines of its latest apply run by this process (bounded; see progress.ts). */
  readonly progress = new Map<string, ApplyProgress>();

  /**
   * Updates every node's health history of `env` from the current Nomad and
   * Consul views, at `now`: a node that turns unhealthy starts a streak and
   * adds a turn; a healthy one ends its streak. Turns older than `keepMs` go.
   */
  updateHistory(env: string, now: number, keepMs: number): void {
    const nodes = env === CONSUL_NODES ? this.consulAsNodes() : (this.nodes.get(env) ?? new Map<string, CachedNode>());
    const hist = this.history.get(env) ?? new Map<string, NodeHistory>();
    this.history.set(env, hist);
    for (const [id, n] of nodes) {
      const h = hist.get(id) ?? { turns: [] };
      const bad = isUnhealthy(this.observation(n, h));
      if (bad && h.unhealthySince === undefined) {
        h.unhealthySince = now;
        h.turns.push(now);
      } else if (!bad) delete h.unhealthySince;
      h.turns = h.turns.filter((t) => t > now - keepMs);
      hist.set(id, h);
    }
    for (const id of hist.keys()) if (!nodes.has(id)) hist.delete(id);
  }

  /** A pool's nodes as the planner sees them. Nodes whose meta is not read yet are left out (`pending` counts them). */
  poolNodes(pool: PoolSpec): { nodes: NodeObservation[]; pending: number } {
    const nodes: NodeObservation[] = [];
    let pending = 0;
    const source = pool.role === "server" ? CONSUL_NODES : pool.env;
    const hist = this.history.get(source);
    const members = pool.role === "server" ? this.consulAsNodes().values() : (this.nodes.get(pool.env)?.values() ?? []);
    for (const n of members) {
      if (n.meta === undefined) {
        pending++;
        continue;
      }
      const obs = this.observation(n, hist?.get(n.id) ?? { turns: [] });
      if (selectsNode(pool.select, obs)) nodes.push(obs);
    }
    return { nodes, pending };
  }

  /** Consul's catalog nodes as cached nodes: Nomad status `server` (no client, never drained); health is serfHealth alone. */
  consulAsNodes(): Map<string, CachedNode> {
    const out = new Map<string, CachedNode>();
    for (const n of this.consulNodes.values()) out.set(n.id, { id: n.id, name: n.name, status: "server", eligible: false, draining: false, nodeClass: "", nodePool: "", meta: n.meta });
    return out;
  }

  private observation(n: CachedNode, h: NodeHistory): NodeObservation {
    return {
      id: n.id,
      name: n.name,
      nomadStatus: n.status,
      eligible: n.eligible,
      draining: n.draining,
      serf: this.serf.get(n.name) ?? "unknown",
      nodeClass: n.nodeClass,
      nodePool: n.nodePool,
      meta: n.meta ?? {},
      ...(h.unhealthySince !== undefined ? { unhealthySince: h.unhealthySince } : {}),
      unhealthyTurns: [...h.turns],
    };
  }
}

/** The history key of Consul catalog nodes (server pools). */
export const CONSUL_NODES = "\0consul";

/** The key of a working directory's state in the cache. */
export function stateKey(dir: string, workspace: string): string {
  return `${dir}\0${workspace}`;
}

/** What observe needs besides the cache: the pool, its resolved directory, budget and timing. */
export interface ObserveInput {
  pool: PoolSpec;
  dir: string;
  budget: HealingSnapshot["budget"];
  timing: HealingSnapshot["timing"];
  stateMaxAgeMs: number;
  now: number;
}

/** Builds one pool's snapshot from the caches. No I/O. */
export function observeHealing(cache: HealingCache, input: ObserveInput): HealingSnapshot {
  const { pool, now } = input;
  const { nodes, pending } = cache.poolNodes(pool);
  const state = cache.states.get(stateKey(input.dir, pool.terraform.workspace));
  const stale = [...cache.stale].filter((s) => s === "consul-health" || s === `nomad-nodes:${pool.env}` || (pool.role === "server" && s === "consul-nodes"));
  if (pending > 0) stale.push(`node details (${pending} not read yet)`);
  const stateStale = !state || state.invalid || now - state.at > input.stateMaxAgeMs;
  const instances: InstancesView | undefined = state ? { byAddress: state.byAddress, orphans: state.orphans } : undefined;
  const incidents = [...cache.incidents.values()].filter((e) => e.record.pool === pool.name).map((e) => e.record);
  const quorum = pool.role === "server" ? cache.quorum.get(pool.env) : undefined;
  const known = cache.acks.get(pool.name);
  const ack: ShortCircuitAck | undefined = known ? { ...(known.by ? { by: known.by } : {}), ...(known.reason ? { reason: known.reason } : {}), ...(known.at ? { at: known.at } : {}) } : undefined;
  return {
    pool,
    nodes,
    ...(instances ? { instances } : {}),
    incidents,
    stale,
    stateStale,
    budget: input.budget,
    ...(quorum ? { quorum } : {}),
    applying: cache.applying,
    ...(ack ? { shortCircuitAck: ack } : {}),
    timing: input.timing,
  };
}

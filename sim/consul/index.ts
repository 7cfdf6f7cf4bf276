import type { SimContext } from "../core/context.js";
import type { Router } from "../core/http.js";
import { Acl } from "./acl.js";
import { AgentState } from "./agent-state.js";
import { CatalogStore } from "./catalog-store.js";
import { ConsulRouter } from "./http.js";
import { uuidFrom } from "./ids.js";
import { KvStore } from "./kv-store.js";
import { Raft } from "./raft.js";
import { SerfMembers, setSerfHealth, type Member } from "./serf.js";
import { SessionStore } from "./session-store.js";
import { TimerSet } from "./timers.js";
import type { ConsulParts } from "./parts.js";
import type { CatalogNode, DirEntry, HealthCheck, Session } from "./types.js";
import { kvRoutes } from "./kv-routes.js";
import { sessionRoutes } from "./session-routes.js";
import { catalogRoutes } from "./catalog-routes.js";
import { healthRoutes } from "./health-routes.js";
import { agentRoutes, CONSUL_VERSION } from "./agent-routes.js";
import { consulQuorum, statusRoutes } from "./status-routes.js";
import type { ServerQuorum } from "../core/server-quorum.js";

export interface ConsulServerOptions {
  datacenter: string;
  /** When set, ACLs are on (default policy deny) and this is the one management token. */
  aclToken?: string;
  /** Sim ms from a machine dying or being partitioned to its serfHealth turning critical. @default 5000 */
  failureDetectionMs?: number;
  /** The server's node name. @default "consul-server-1" */
  serverName?: string;
}

/** Where the single server lives: outside the 10.0.0.11+ range the World hands to machines. */
const SERVER_ADDRESS = "10.0.0.2";

/**
 * The emulated Consul: one server, whose own agent answers the HTTP API
 * (KV, sessions, catalog, health, agent, status), with catalog nodes and
 * serfHealth driven by the sim's World. `router` is served by sim/core's
 * `serve()`; `close()` cancels every timer (session TTLs, TTL checks,
 * failure detection, tombstone reaping) and stops following the World.
 */
export class ConsulServer {
  readonly router: Router;
  readonly datacenter: string;
  readonly serverName: string;
  private readonly raft = new Raft(1);
  private readonly timers: TimerSet;
  private readonly kv: KvStore;
  private readonly catalog: CatalogStore;
  private readonly sessions: SessionStore;
  private readonly agent: AgentState;
  private readonly serf: SerfMembers;
  private readonly quorum: ServerQuorum;

  constructor(ctx: SimContext, options: ConsulServerOptions) {
    this.datacenter = options.datacenter;
    this.serverName = options.serverName ?? "consul-server-1";
    const server = { name: this.serverName, id: uuidFrom(ctx.random), address: SERVER_ADDRESS };
    this.timers = new TimerSet(ctx.clock);
    this.kv = new KvStore(this.raft, ctx.clock, this.timers);
    this.catalog = new CatalogStore(this.raft);
    this.sessions = new SessionStore(this.raft, this.kv, this.catalog, this.timers, () => uuidFrom(ctx.random));
    this.catalog.setInvalidator(this.sessions);
    this.agent = new AgentState(this.catalog, this.timers, server.name);
    this.serf = new SerfMembers(ctx, this.catalog, this.timers, {
      datacenter: this.datacenter,
      failureDetectionMs: options.failureDetectionMs ?? 5000,
      server,
    });
    this.registerServer(server);
    this.serf.start();
    this.quorum = consulQuorum(ctx, server, () => this.raft.index);

    const acl = new Acl(options.aclToken);
    const parts: ConsulParts = {
      datacenter: this.datacenter,
      raft: this.raft,
      kv: this.kv,
      sessions: this.sessions,
      catalog: this.catalog,
      agent: this.agent,
      serf: this.serf,
      acl,
      random: ctx.random,
      server,
      quorum: this.quorum,
    };
    const r = new ConsulRouter(acl);
    kvRoutes(r, parts);
    sessionRoutes(r, parts);
    catalogRoutes(r, parts);
    healthRoutes(r, parts);
    agentRoutes(r, parts);
    statusRoutes(r, parts);
    this.router = r.router;
  }

  /** Cancels every pending timer and stops following the World. */
  close(): void {
    this.serf.stop();
    this.quorum.close();
    this.timers.clear();
  }

  // ---- inspection helpers for tests ----

  /** The latest Raft index. */
  get index(): number {
    return this.raft.index;
  }

  /** Blocking queries currently parked (leak checks). */
  get waiting(): number {
    return this.raft.notifier.waiting;
  }

  kvEntry(key: string): DirEntry | undefined {
    return this.kv.get(key).entry;
  }

  kvEntries(): DirEntry[] {
    return this.kv.all();
  }

  sessionList(): Session[] {
    return this.sessions.list().sessions;
  }

  nodes(): CatalogNode[] {
    return this.catalog.listNodes().nodes;
  }

  /** A node's check, e.g. `check("qa-client-1", "serfHealth")?.Status`. */
  check(node: string, checkId: string): HealthCheck | undefined {
    return this.catalog.check(node, checkId);
  }

  members(): Member[] {
    return this.serf.members();
  }

  /** Reaps KV tombstones now instead of after `tombstone_ttl` (makes a prefix's index go back). */
  reapTombstones(): number {
    return this.kv.reapTombstones();
  }

  private registerServer(server: { name: string; id: string; address: string }): void {
    this.catalog.ensureNode({
      ID: server.id,
      Node: server.name,
      Address: server.address,
      Datacenter: this.datacenter,
      TaggedAddresses: { lan: server.address, lan_ipv4: server.address, wan: server.address, wan_ipv4: server.address },
      Meta: { "consul-network-segment": "" },
    });
    this.catalog.ensureService(server.name, {
      Kind: "",
      ID: "consul",
      Service: "consul",
      Tags: [],
      Address: "",
      TaggedAddresses: null,
      Meta: { raft_version: "3", serf_protocol_current: "2", serf_protocol_max: "5", serf_protocol_min: "1", version: CONSUL_VERSION },
      Port: 8300,
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false,
    });
    setSerfHealth(this.catalog, server.name, "passing");
  }
}

export type { Member } from "./serf.js";
export type { CatalogNode, DirEntry, HealthCheck, Session } from "./types.js";

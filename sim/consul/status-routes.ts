import type { Machine } from "../core/world.js";
import { ServerQuorum, goDurationString, isServer, type QuorumServer } from "../core/server-quorum.js";
import type { SimContext } from "../core/context.js";
import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { json } from "./http.js";
import { ConsulError } from "./errors.js";
import { parseQuery } from "./query.js";
import { CONSUL_VERSION } from "./agent-routes.js";

/** Consul's server RPC (Raft) port. */
const RAFT_PORT = 8300;
/** structs.ErrNoLeader. */
const NO_LEADER = "No cluster leader";

/**
 * The Consul servers: every server machine (role `server`) in the world,
 * whatever Nomad cluster it serves (one Consul datacenter holds them all);
 * when there is none, the single built-in server that answers the API.
 */
export function consulQuorum(ctx: SimContext, server: { name: string; id: string; address: string }, index: () => number): ServerQuorum {
  const builtin: Machine = {
    id: server.id,
    name: server.name,
    address: server.address,
    cluster: "",
    datacenter: "",
    nodePool: "",
    nodeClass: "",
    meta: {},
    role: "server",
    state: "up",
    createdAt: 0,
  };
  return new ServerQuorum({ world: ctx.world, now: () => ctx.clock.now(), index, isMember: isServer, fallback: [builtin] });
}

/**
 * `/v1/status/leader`, `/v1/status/peers` (no ACL), and
 * `/v1/operator/raft/configuration`, `/v1/operator/autopilot/health`
 * (`operator:read`), following the servers of consulQuorum: a dead server
 * stays a voter but is unhealthy (health answers 429), and without a majority
 * of voters up there is no leader (`""`, or 500 `No cluster leader`).
 */
export function statusRoutes(r: ConsulRouter, p: ConsulParts): void {
  const addr = (s: QuorumServer): string => `${s.ip}:${RAFT_PORT}`;
  r.add("/v1/status/leader", {
    GET: () => {
      const leader = p.quorum.view().leader;
      return json(leader ? addr(leader) : "");
    },
  });
  r.add("/v1/status/peers", { GET: () => json(p.quorum.view().servers.filter((s) => s.voter).map(addr)) });

  r.add("/v1/operator/raft/configuration", {
    GET: (req) => {
      const q = parseQuery(req, p.datacenter);
      p.acl.require(p.acl.resolve(q.token), "operator", "read", "");
      const v = p.quorum.view();
      if (!v.leader && q.consistency !== "stale") throw new ConsulError(500, NO_LEADER);
      return json({
        Servers: v.servers.map((s) => ({
          ID: s.id,
          Node: s.name,
          Address: addr(s),
          Leader: s.leader,
          ProtocolVersion: "3",
          Voter: s.voter,
          LastIndex: s.lastIndex,
        })),
        Index: p.raft.index,
      });
    },
  });

  r.add("/v1/operator/autopilot/health", {
    GET: (req) => {
      const q = parseQuery(req, p.datacenter);
      p.acl.require(p.acl.resolve(q.token), "operator", "read", "");
      const v = p.quorum.view();
      if (!v.leader) throw new ConsulError(500, NO_LEADER);
      return json(
        {
          Healthy: v.healthy,
          FailureTolerance: v.failureTolerance,
          Servers: v.servers.map((s) => ({
            ID: s.id,
            Name: s.name,
            Address: addr(s),
            SerfStatus: s.serfStatus,
            Version: CONSUL_VERSION,
            Leader: s.leader,
            LastContact: goDurationString(s.lastContactMs),
            LastTerm: v.term,
            LastIndex: s.lastIndex,
            Healthy: s.healthy,
            Voter: s.voter,
            StableSince: new Date(s.stableSince).toISOString().replace(/\.000Z$/, "Z"),
          })),
        },
        {},
        // Consul answers 429 with the same body while any server is unhealthy.
        v.healthy ? 200 : 429,
      );
    },
  });
}

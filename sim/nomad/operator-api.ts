import type { Router, SimReply } from "../core/http.js";
import type { Machine } from "../core/world.js";
import { ServerQuorum, goDurationString, isServer, type QuorumServer, type QuorumView } from "../core/server-quorum.js";
import type { NomadCore } from "./core.js";
import { NomadError, textError } from "./errors.js";
import { guarded } from "./query.js";

/** Nomad's server RPC port: Raft addresses are `<ip>:4647`. */
const RPC_PORT = 4647;
/** The version autopilot reports for each server (the clients' `nomad.version`). */
const SERVER_VERSION = "1.9.7";
/** structs.ErrNoLeader. */
const NO_LEADER = "No cluster leader";

/**
 * The servers of one cluster: its server machines (role `server`) in the
 * world, or, when it has none, the single built-in server every older test
 * knows (`127.0.0.1:4647`, always up and the leader).
 */
export function clusterQuorum(core: NomadCore): ServerQuorum {
  const builtin: Machine = {
    id: builtinId(core.cfg.name),
    name: "nomad-server-1",
    address: "127.0.0.1",
    cluster: core.cfg.name,
    datacenter: core.cfg.datacenters[0] ?? "dc1",
    nodePool: "default",
    nodeClass: "",
    meta: {},
    role: "server",
    state: "up",
    createdAt: 0,
  };
  return new ServerQuorum({
    world: core.ctx.world,
    now: () => core.ctx.clock.now(),
    index: () => core.store.index,
    isMember: (m) => isServer(m) && m.cluster === core.cfg.name,
    fallback: [builtin],
  });
}

/**
 * `/v1/status/leader`, `/v1/status/peers`, `/v1/operator/raft/configuration`
 * and `/v1/operator/autopilot/health`, following the cluster's servers (see
 * clusterQuorum): a dead server stays a voter but is unhealthy, and without
 * a majority of voters up there is no leader.
 */
export function addOperatorRoutes(core: NomadCore, r: Router, quorum: ServerQuorum): void {
  const addr = (s: QuorumServer): string => `${s.ip}:${RPC_PORT}`;
  // No ACL on status, as on a real agent; "" when there is no leader.
  r.add("GET", "/v1/status/leader", () => {
    const leader = quorum.view().leader;
    return { status: 200, body: JSON.stringify(leader ? addr(leader) : ""), contentType: "application/json" };
  });
  r.add("GET", "/v1/status/peers", () => ({ status: 200, body: quorum.view().servers.filter((s) => s.voter).map(addr) }));

  r.add(
    "GET",
    "/v1/operator/raft/configuration",
    guarded(core, (req) => {
      const v = quorum.view();
      if (!v.leader && !req.query.has("stale")) throw new NomadError(500, NO_LEADER);
      return {
        status: 200,
        body: {
          Index: core.store.index,
          Servers: v.servers.map((s) => ({
            Address: addr(s),
            ID: s.id,
            Leader: s.leader,
            Node: `${s.name}.${core.cfg.region}`,
            RaftProtocol: "3",
            Voter: s.voter,
          })),
        },
      };
    }),
  );
  r.add(
    "GET",
    "/v1/operator/autopilot/health",
    guarded(core, () => health(quorum.view(), addr)),
  );
}

/** Nomad answers 429 with the same body when the cluster is not healthy (OperatorServerHealth). */
function health(v: QuorumView, addr: (s: QuorumServer) => string): SimReply {
  if (!v.leader) return textError(500, NO_LEADER);
  return {
    status: v.healthy ? 200 : 429,
    body: {
      Healthy: v.healthy,
      FailureTolerance: v.failureTolerance,
      Servers: v.servers.map((s) => ({
        ID: s.id,
        Name: s.name,
        Address: addr(s),
        SerfStatus: s.serfStatus,
        Version: SERVER_VERSION,
        Leader: s.leader,
        LastContact: goDurationString(s.lastContactMs),
        LastTerm: v.term,
        LastIndex: s.lastIndex,
        Healthy: s.healthy,
        Voter: s.voter,
        StableSince: new Date(Math.round(s.stableSince / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z"),
      })),
      Leader: v.leader.id,
      Voters: v.servers.filter((s) => s.voter).map((s) => s.id),
    },
  };
}

/** A stable UUID-shaped id for the built-in server of a cluster. */
function builtinId(cluster: string): string {
  let h = 0x811c9dc5;
  for (const c of cluster) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const hex = h.toString(16).padStart(8, "0");
  return `${hex}-0000-4000-8000-${hex}0000`;
}

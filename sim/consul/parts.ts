import type { Acl } from "./acl.js";
import type { AgentState } from "./agent-state.js";
import type { CatalogStore } from "./catalog-store.js";
import type { KvStore } from "./kv-store.js";
import type { Raft } from "./raft.js";
import type { SerfMembers } from "./serf.js";
import type { SessionStore } from "./session-store.js";
import type { ServerQuorum } from "../core/server-quorum.js";

/** Everything a route module needs from the server. */
export interface ConsulParts {
  datacenter: string;
  raft: Raft;
  kv: KvStore;
  sessions: SessionStore;
  catalog: CatalogStore;
  agent: AgentState;
  serf: SerfMembers;
  acl: Acl;
  /** The sim's seeded random source (blocking-query jitter). */
  random: () => number;
  server: { name: string; id: string; address: string };
  /** Raft peers and autopilot health, from the world's server machines. */
  quorum: ServerQuorum;
}

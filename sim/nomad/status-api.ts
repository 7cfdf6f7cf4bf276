import type { Router } from "../core/http.js";
import type { NomadCore } from "./core.js";

/** The server's RPC address as status endpoints report it (one server, the leader). */
export const LEADER_ADDR = "127.0.0.1:4647";

/** /v1/status/leader and /v1/status/peers: no ACL needed, as on a real agent. */
export function addStatusRoutes(_core: NomadCore, r: Router): void {
  r.add("GET", "/v1/status/leader", () => ({ status: 200, body: JSON.stringify(LEADER_ADDR), contentType: "application/json" }));
  r.add("GET", "/v1/status/peers", () => ({ status: 200, body: [LEADER_ADDR] }));
}

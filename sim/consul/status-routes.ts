import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { json } from "./http.js";

/** `/v1/status/leader` and `/v1/status/peers`: the single server, at its Raft port. No ACL applies. */
export function statusRoutes(r: ConsulRouter, p: ConsulParts): void {
  const addr = `${p.server.address}:8300`;
  r.add("/v1/status/leader", { GET: () => json(addr) });
  r.add("/v1/status/peers", { GET: () => json([addr]) });
}

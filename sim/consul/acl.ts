import { ConsulError } from "./errors.js";

/** The anonymous token's accessor ID, fixed in every Consul cluster. */
export const ANONYMOUS_ACCESSOR = "00000000-0000-0000-0000-000000000002";

/**
 * Who a request acts as. `all`: ACLs are off, or the request carries the
 * configured (management) token; `anonymous`: ACLs are on and the request
 * carries no token, so it gets the anonymous token, which under the default
 * `deny` policy may do nothing.
 */
export type Authz = "all" | "anonymous";

export type Resource = "key" | "session" | "node" | "service" | "agent" | "operator";
export type Access = "read" | "write";

/**
 * The sim's ACL system, kept small: one management token (the configured
 * `aclToken`), default policy `deny`, an anonymous token with no rules.
 *
 * - a token that is not the management token: 403 `ACL not found`
 *   (acl.ErrNotFound; Consul answers 403 for it as for a denial);
 * - no token: the anonymous token. Writes and single reads answer 403
 *   `Permission denied: anonymous token lacks permission '<resource>:<access>' on "<name>". ...`
 *   (acl.PermissionDeniedError's text); list reads are filtered to what it
 *   may see, which is nothing.
 */
export class Acl {
  constructor(private readonly managementToken: string | undefined) {}

  get enabled(): boolean {
    return this.managementToken !== undefined;
  }

  /** The value of `X-Consul-Default-Acl-Policy`, sent on every reply since Consul 1.9. */
  get defaultPolicy(): "allow" | "deny" {
    return this.enabled ? "deny" : "allow";
  }

  /** Resolves a request's token; throws 403 `ACL not found` for an unknown one. */
  resolve(token: string): Authz {
    if (!this.enabled || token === this.managementToken) return "all";
    if (token === "" || token === "anonymous") return "anonymous";
    throw new ConsulError(403, "ACL not found");
  }

  /** Throws Consul's permission-denied error unless `authz` may do this. */
  require(authz: Authz, resource: Resource, access: Access, name: string): void {
    if (authz === "all") return;
    const on = name !== "" ? ` on ${JSON.stringify(name)}` : "";
    throw new ConsulError(
      403,
      `Permission denied: anonymous token lacks permission '${resource}:${access}'${on}. The anonymous token is used implicitly when a request does not specify a token.`,
    );
  }

  /** Whether list reads are left unfiltered. */
  sees(authz: Authz): boolean {
    return authz === "all";
  }
}

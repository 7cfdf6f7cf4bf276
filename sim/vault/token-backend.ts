import type { SimReply } from "../core/http.js";
import {
  boolField,
  durationField,
  firstError,
  intField,
  isError,
  stringField,
  stringListField,
  stringMapField,
  value,
} from "./fields.js";
import type { PolicyStore } from "./policy.js";
import { envelope, errors, json, noContent } from "./reply.js";
import type { Mount, VaultRequest } from "./routes.js";
import { sanitizePolicies, type TokenStore } from "./tokens.js";

/**
 * The token auth method at `auth/token/`: create, lookup, lookup-self,
 * renew, renew-self, revoke, revoke-self. Service tokens only.
 */
export function tokenMount(tokens: TokenStore, policies: PolicyStore): Mount {
  const lookupReply = (req: VaultRequest, id: string): SimReply => {
    const entry = tokens.lookup(id);
    if (!entry) return errors(403, ["bad token"]);
    return json(envelope(req.requestId, req.mountType, { data: tokens.lookupData(entry) }));
  };
  return {
    path: "auth/token/",
    type: "token",
    routes: [
      { pattern: /^create$/, write: (r) => create(r, tokens, policies) },
      { pattern: /^lookup-self$/, read: (r) => lookupReply(r, r.token?.id ?? "") },
      {
        pattern: /^lookup$/,
        write: (r) => {
          const id = stringField(r.data, "token");
          return lookupReply(r, typeof id === "string" && id !== "" ? id : (r.token?.id ?? ""));
        },
      },
      { pattern: /^renew-self$/, write: (r) => renew(r, tokens, r.token?.id ?? "") },
      {
        pattern: /^renew$/,
        write: (r) => {
          const id = stringField(r.data, "token");
          if (typeof id !== "string" || id === "") return errors(400, ["token missing"]);
          return renew(r, tokens, id);
        },
      },
      {
        pattern: /^revoke-self$/,
        write: (r) => {
          if (r.token) tokens.revoke(r.token.id);
          return noContent();
        },
      },
      {
        pattern: /^revoke$/,
        write: (r) => {
          const id = stringField(r.data, "token");
          if (typeof id !== "string" || id === "") return errors(400, ["missing token"]);
          tokens.revoke(id);
          return noContent();
        },
      },
    ],
  };
}

function renew(req: VaultRequest, tokens: TokenStore, id: string): SimReply {
  const entry = tokens.lookup(id);
  if (!entry) return errors(400, ["invalid token"]);
  const increment = durationField(req.data, "increment");
  if (isError(increment)) return errors(400, [increment.error]);
  const result = tokens.renew(entry, increment ?? 0);
  if (!result.ok) return errors(400, [result.error]);
  return json(envelope(req.requestId, req.mountType, { auth: tokens.authBlock(entry) }));
}

function create(req: VaultRequest, tokens: TokenStore, policies: PolicyStore): SimReply {
  const parent = req.token;
  if (!parent) return errors(403, ["permission denied"]);
  const d = req.data;
  const fields = {
    requested: stringListField(d, "policies"),
    meta: stringMapField(d, "meta"),
    noParent: boolField(d, "no_parent"),
    noDefault: boolField(d, "no_default_policy"),
    renewable: boolField(d, "renewable"),
    ttl: durationField(d, "ttl"),
    explicitMax: durationField(d, "explicit_max_ttl"),
    displayName: stringField(d, "display_name"),
    numUses: intField(d, "num_uses"),
    id: stringField(d, "id"),
    type: stringField(d, "type"),
  };
  const bad = firstError(...Object.values(fields));
  if (bad) return errors(400, [bad]);
  const requested = value(fields.requested);
  const meta = value(fields.meta);
  const noParent = value(fields.noParent);
  const noDefault = value(fields.noDefault);
  const renewable = value(fields.renewable);
  const ttl = value(fields.ttl);
  const explicitMax = value(fields.explicitMax);
  const displayName = value(fields.displayName);
  const numUses = value(fields.numUses);
  const id = value(fields.id);
  const type = value(fields.type);
  if (type !== undefined && type !== "service" && type !== "default") {
    return errors(400, [`token type ${JSON.stringify(type)} is not supported by the sim (service tokens only)`]);
  }

  const isRoot = parent.policies.includes("root");
  if (!isRoot && id) return errors(400, ["root or sudo privileges required to specify token id"]);
  if (!isRoot && noParent) return errors(400, ["root or sudo privileges required to create orphan token"]);
  const wanted = requested && requested.length > 0 ? requested : parent.policies;
  const addDefault = noDefault !== true;
  const childPolicies = sanitizePolicies(wanted, addDefault);
  if (!isRoot) {
    const parentSet = new Set(sanitizePolicies(parent.policies, addDefault));
    if (!childPolicies.every((p) => parentSet.has(p))) return errors(400, ["child policies must be subset of parent"]);
  }
  if (typeof ttl === "number" && ttl < 0) return errors(400, ["ttl must be positive"]);

  const entry = tokens.create({
    policies: wanted,
    noDefaultPolicy: !addDefault,
    ttlS: ttl ?? 0,
    explicitMaxTtlS: explicitMax ?? 0,
    renewable: renewable ?? true,
    meta: meta ?? null,
    displayName: displayName ? `token-${displayName}` : "token",
    path: "auth/token/create",
    orphan: noParent === true,
    parentId: noParent === true ? null : parent.id,
    numUses: numUses ?? 0,
    ...(id ? { id } : {}),
  });
  const warnings = entry.policies
    .filter((p) => p !== "default" && p !== "root" && !policies.has(p))
    .map((p) => `Policy ${JSON.stringify(p)} does not exist`);
  return json(envelope(req.requestId, req.mountType, { auth: tokens.authBlock(entry), warnings }));
}

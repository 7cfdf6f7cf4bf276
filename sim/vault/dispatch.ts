import type { SimReply, SimRequest } from "../core/http.js";
import type { Operation, PolicyStore } from "./policy.js";
import type { TokenStore } from "./tokens.js";
import type { Mount, VaultHandler, VaultRoute } from "./routes.js";
import { errors, multiError, permissionDenied } from "./reply.js";
import { uuid } from "./ids.js";

const MERGE_PATCH = "application/merge-patch+json";

/** What the dispatcher needs from the server. */
export interface DispatchDeps {
  tokens: TokenStore;
  policies: PolicyStore;
  mounts: () => Mount[];
  random: () => number;
  sealed: () => boolean;
}

/**
 * Vault's logical request path, in Vault's order: HTTP verb → operation,
 * seal check, body parsing, the trailing-slash write guard, token and ACL
 * (with the existence check deciding create vs update), then routing to a
 * mount and one of its paths, and finally the backend handler.
 */
export function dispatch(deps: DispatchDeps, req: SimRequest): SimReply {
  const path = decodePath(req.path.slice("/v1/".length));
  if (!req.path.startsWith("/v1/") || path === "") return errors(404);

  const verb = operationOf(req);
  if ("reply" in verb) return verb.reply;
  let op: Operation = verb.op;
  const logical = op === "list" && !path.endsWith("/") ? `${path}/` : path;

  if (deps.sealed()) return errors(503, ["Vault is sealed"]);

  const parsed = requestData(req, op);
  if ("reply" in parsed) return parsed.reply;

  if (logical.endsWith("/") && op === "update") return errors(400, ["cannot write to a path ending in '/'"]);

  const mount = longestMount(deps.mounts(), logical);
  const inner = mount ? logical.slice(mount.path.length) : logical;
  const found = mount ? findRoute(mount.routes, inner) : undefined;

  let token;
  if (!found?.route.unauthenticated) {
    token = deps.tokens.lookup(tokenOf(req));
    if (!token) return permissionDenied();
    if (op === "update" && found?.route.exists && !found.route.exists(found.match)) op = "create";
    const policies = [...token.policies, ...token.identityPolicies];
    if (!deps.policies.allows(policies, logical, op)) return permissionDenied();
  }

  if (!mount) return errors(404, [`no handler for route "${logical}". route entry not found.`]);
  if (!found) return errors(404, [multiError("unsupported path")]);
  const handler = handlerFor(found.route, op);
  if (!handler) return errors(405, [multiError("unsupported operation")]);
  return handler({
    op,
    path: logical,
    match: found.match,
    data: parsed.data,
    headers: req.headers,
    token,
    requestId: uuid(deps.random),
    mountType: mount.type,
  });
}

/** The token of a request: `X-Vault-Token`, else `Authorization: Bearer`. */
export function tokenOf(req: SimRequest): string | undefined {
  const header = req.headers["x-vault-token"];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct) return direct;
  const authz = req.headers.authorization;
  if (authz?.startsWith("Bearer ")) return authz.slice("Bearer ".length).trim() || undefined;
  return undefined;
}

function operationOf(req: SimRequest): { op: Operation } | { reply: SimReply } {
  switch (req.method) {
    case "GET": {
      const list = req.query.get("list");
      if (list === null || list === "") return { op: "read" };
      const b = parseGoBool(list);
      if (b === undefined) return { reply: errors(400) };
      return { op: b ? "list" : "read" };
    }
    case "LIST":
      return { op: "list" };
    case "POST":
    case "PUT":
      return { op: "update" };
    case "PATCH":
      return { op: "patch" };
    case "DELETE":
      return { op: "delete" };
    default:
      return { reply: errors(405) };
  }
}

function requestData(req: SimRequest, op: Operation): { data: Record<string, unknown> } | { reply: SimReply } {
  if (op === "patch") {
    const type = headerValue(req, "content-type");
    if (!type) return { reply: errors(400, ["mime: no media type"]) };
    const media = (type.split(";")[0] ?? "").trim().toLowerCase();
    if (media !== MERGE_PATCH) {
      return { reply: errors(415, [`PATCH requires Content-Type of ${MERGE_PATCH}, provided ${media}`]) };
    }
  }
  if (op === "update" || op === "patch") {
    const text = req.body.toString("utf8");
    if (text.trim() === "") return { data: {} };
    try {
      const value: unknown = JSON.parse(text);
      if (value === null) return { data: {} };
      if (typeof value !== "object" || Array.isArray(value)) return { reply: errors(400, ["error parsing JSON"]) };
      return { data: value as Record<string, unknown> };
    } catch {
      return { reply: errors(400, ["error parsing JSON"]) };
    }
  }
  const data: Record<string, unknown> = {};
  for (const key of new Set(req.query.keys())) {
    if (key === "list") continue;
    const values = req.query.getAll(key);
    data[key] = values.length === 1 ? values[0] : values;
  }
  return { data };
}

function longestMount(mounts: Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    if (path.startsWith(m.path) && (!best || m.path.length > best.path.length)) best = m;
  }
  return best;
}

function findRoute(routes: VaultRoute[], inner: string): { route: VaultRoute; match: RegExpExecArray } | undefined {
  for (const route of routes) {
    const match = route.pattern.exec(inner);
    if (match) return { route, match };
  }
  return undefined;
}

function handlerFor(route: VaultRoute, op: Operation): VaultHandler | undefined {
  switch (op) {
    case "read":
      return route.read;
    case "list":
      return route.list;
    case "create":
    case "update":
      return route.write;
    case "patch":
      return route.patch;
    case "delete":
      return route.delete;
  }
}

function headerValue(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

import { parseJsonBody, type SimReply, type SimRequest } from "../core/http.js";
import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { json } from "./http.js";
import { badRequest, notFound, rpcError } from "./errors.js";
import { blockingQuery, metaHeaders, parseQuery, tokenOf } from "./query.js";
import { renderSession } from "./render.js";
import { field, isObject, str } from "./fields.js";
import { parseGoDuration } from "../core/blocking.js";
import type { SessionInput } from "./session-store.js";
import type { Session } from "./types.js";
import { SERF_CHECK_ID } from "./types.js";

/** Lock-delay values below this many nanoseconds are read as seconds (Session.UnmarshalJSON). */
const LOCK_DELAY_MIN_THRESHOLD_NS = 1000;

/** `/v1/session/*` (agent/session_endpoint.go). */
export function sessionRoutes(r: ConsulRouter, p: ConsulParts): void {
  r.add("/v1/session/create", { PUT: (req) => create(p, req) });
  r.add("/v1/session/destroy/", { PUT: () => missingSession() });
  r.add("/v1/session/destroy/:id", { PUT: (req) => destroy(p, req) });
  r.add("/v1/session/renew/", { PUT: () => missingSession() });
  r.add("/v1/session/renew/:id", { PUT: (req) => renew(p, req) });
  r.add("/v1/session/info/", { GET: () => missingSession() });
  r.add("/v1/session/info/:id", { GET: (req) => read(p, req, () => p.sessions.get(req.params.id ?? "")) });
  r.add("/v1/session/list", { GET: (req) => read(p, req, () => p.sessions.list()) });
  r.add("/v1/session/node/", { GET: () => Promise.reject(badRequest("Missing node name")) });
  r.add("/v1/session/node/:node", { GET: (req) => read(p, req, () => p.sessions.forNode(req.params.node ?? "")) });
}

function missingSession(): Promise<SimReply> {
  return Promise.reject(badRequest("Missing session"));
}

function create(p: ConsulParts, req: SimRequest): SimReply {
  const dc = req.query.get("dc") || p.datacenter;
  const input: SessionInput = {
    Name: "",
    Node: p.agent.nodeName,
    LockDelay: 15e9,
    Behavior: "release",
    TTL: "",
    NodeChecks: [SERF_CHECK_ID],
    ServiceChecks: null,
    Checks: [SERF_CHECK_ID],
  };
  if (req.body.length > 0) decodeSession(req.body, input);
  fixupEmptySessionChecks(input);
  if (dc !== p.datacenter) throw rpcError("No path to datacenter");
  const authz = p.acl.resolve(tokenOf(req));
  p.acl.require(authz, "session", "write", input.Node);
  return json({ ID: p.sessions.create(input) });
}

/** Decodes a create body over the defaults, with Consul's decode errors (400 "Request decode failed: ..."). */
function decodeSession(body: Buffer, into: SessionInput): void {
  const parsed = parseJsonBody<unknown>(body);
  if (!parsed.ok) throw badRequest(`Request decode failed: ${parsed.error}`);
  const b = parsed.value;
  if (!isObject(b)) throw badRequest("Request decode failed: json: cannot unmarshal into Go value of type structs.Session");
  for (const name of ["Name", "Node", "Behavior", "TTL"] as const) {
    const v = field(b, name);
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw badRequest(`Request decode failed: json: cannot unmarshal ${typeof v} into Go struct field .${name} of type string`);
    into[name] = v;
  }
  const ld = field(b, "LockDelay");
  if (ld !== undefined && ld !== null) {
    let ns: number;
    if (typeof ld === "string") {
      const ms = parseGoDuration(ld);
      if (ms === undefined) throw badRequest(`Request decode failed: time: invalid duration ${JSON.stringify(ld)}`);
      ns = ms * 1e6;
    } else if (typeof ld === "number") {
      ns = ld;
    } else {
      throw badRequest(`Request decode failed: json: cannot unmarshal ${typeof ld} into Go struct field .LockDelay of type time.Duration`);
    }
    into.LockDelay = ns < LOCK_DELAY_MIN_THRESHOLD_NS ? ns * 1e9 : ns;
  }
  const list = (name: string): string[] | null | undefined => {
    const v = field(b, name);
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      throw badRequest(`Request decode failed: json: cannot unmarshal into Go struct field .${name} of type []string`);
    }
    return v as string[];
  };
  const checks = list("Checks");
  if (checks !== undefined) into.Checks = checks;
  const nodeChecks = list("NodeChecks");
  if (nodeChecks !== undefined) into.NodeChecks = nodeChecks;
  const sc = field(b, "ServiceChecks");
  if (Array.isArray(sc)) {
    into.ServiceChecks = sc.filter(isObject).map((c) => ({ ID: str(c, "ID") ?? "", Namespace: str(c, "Namespace") ?? "" }));
  }
}

/**
 * Backwards compatibility for the pre-1.7 `Checks` field (fixupEmptySessionChecks):
 * `Checks: []` means no checks at all; the default `[serfHealth]` defers to
 * NodeChecks; an empty NodeChecks drops the defaulted Checks.
 */
function fixupEmptySessionChecks(s: SessionInput): void {
  if (!s.Checks || s.Checks.length === 0) {
    s.NodeChecks = [];
    return;
  }
  if (s.Checks.length === 1 && s.Checks[0] === SERF_CHECK_ID) {
    s.Checks = null;
    return;
  }
  if (!s.NodeChecks || s.NodeChecks.length === 0) s.Checks = null;
}

function destroy(p: ConsulParts, req: SimRequest): SimReply {
  const id = req.params.id ?? "";
  const authz = p.acl.resolve(tokenOf(req));
  const existing = p.sessions.get(id).sessions[0];
  if (existing) p.acl.require(authz, "session", "write", existing.Node);
  p.sessions.destroy(id);
  return json(true);
}

function renew(p: ConsulParts, req: SimRequest): SimReply {
  parseQuery(req, p.datacenter);
  const id = req.params.id ?? "";
  // Session.Renew looks the session up before it resolves the token.
  const existing = p.sessions.get(id).sessions[0];
  if (!existing) throw notFound(`Session id '${id}' not found`);
  p.acl.require(p.acl.resolve(tokenOf(req)), "session", "write", existing.Node);
  const s = p.sessions.renew(id);
  if (!s) throw notFound(`Session id '${id}' not found`);
  return json([renderSession(s)]);
}

async function read(p: ConsulParts, req: SimRequest, pick: () => { index: number; sessions: Session[] }): Promise<SimReply> {
  const q = parseQuery(req, p.datacenter);
  const sees = p.acl.sees(p.acl.resolve(q.token));
  const res = await blockingQuery(p.raft, q, p.random, req.signal, () => {
    const { index, sessions } = pick();
    return { index, value: sees ? sessions : [] };
  });
  return json(res.value.map(renderSession), metaHeaders(res.index, q.consistency));
}

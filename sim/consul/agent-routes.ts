import { parseJsonBody, type SimReply, type SimRequest } from "../core/http.js";
import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { empty, json } from "./http.js";
import { badRequest, goQuote, notFound, rpcError } from "./errors.js";
import { hashBlockingQuery, parseQuery, tokenOf } from "./query.js";
import { renderAgentService, renderCheck } from "./render.js";
import { field, isObject, str, strings } from "./fields.js";
import { parseGoDuration } from "../core/blocking.js";
import type { AgentCheckDef } from "./agent-state.js";
import { CHECK_STATUSES, type CheckStatus } from "./types.js";
import { serviceInput } from "./catalog-routes.js";

export const CONSUL_VERSION = "1.21.4";

/**
 * `/v1/agent/*` of the agent the sim answers as: self, members, services
 * (hash-blocking), checks, service and check (de)registration, and the TTL
 * check updates pass/warn/fail/update.
 */
export function agentRoutes(r: ConsulRouter, p: ConsulParts): void {
  r.add("/v1/agent/self", { GET: (req) => self(p, req) });
  r.add("/v1/agent/members", { GET: (req) => members(p, req) });
  r.add("/v1/agent/services", { GET: (req) => services(p, req) });
  r.add("/v1/agent/checks", { GET: (req) => checks(p, req) });
  r.add("/v1/agent/service/register", { PUT: (req) => registerService(p, req) });
  r.add("/v1/agent/service/deregister/:id", { PUT: (req) => deregisterService(p, req) });
  r.add("/v1/agent/check/register", { PUT: (req) => registerCheck(p, req) });
  r.add("/v1/agent/check/deregister/:id", { PUT: (req) => deregisterCheck(p, req) });
  for (const [verb, status] of [
    ["pass", "passing"],
    ["warn", "warning"],
    ["fail", "critical"],
  ] as const) {
    r.add(`/v1/agent/check/${verb}/:id`, { PUT: (req) => updateCheck(p, req, status, req.query.get("note") ?? "") });
  }
  r.add("/v1/agent/check/update/:id", { PUT: (req) => updateFromBody(p, req) });
}

function self(p: ConsulParts, req: SimRequest): SimReply {
  p.acl.require(p.acl.resolve(tokenOf(req)), "agent", "read", p.server.name);
  return json({
    Config: {
      Datacenter: p.datacenter,
      PrimaryDatacenter: p.datacenter,
      NodeName: p.server.name,
      NodeID: p.server.id,
      Revision: "sim",
      Server: true,
      Version: CONSUL_VERSION,
      BuildDate: "2025-07-01T00:00:00Z",
    },
    Member: member(p, p.serf.members()[0] ?? { name: p.server.name, address: p.server.address, status: 1, role: "consul" }),
    Meta: { "consul-network-segment": "" },
    Stats: { consul: { leader: "true", server: "true", known_datacenters: "1" } },
  });
}

function member(p: ConsulParts, m: ReturnType<ConsulParts["serf"]["members"]>[number]): Record<string, unknown> {
  return {
    Name: m.name,
    Addr: m.address,
    Port: 8301,
    Tags: { dc: p.datacenter, role: m.role, segment: "", build: `${CONSUL_VERSION}:sim`, ...(m.role === "consul" ? { port: "8300" } : {}) },
    Status: m.status,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}

function members(p: ConsulParts, req: SimRequest): SimReply {
  const authz = p.acl.resolve(tokenOf(req));
  const list = p.acl.sees(authz) ? p.serf.members() : [];
  return json(list.map((m) => member(p, m)));
}

async function services(p: ConsulParts, req: SimRequest): Promise<SimReply> {
  const q = parseQuery(req, p.datacenter);
  const sees = p.acl.sees(p.acl.resolve(q.token));
  const res = await hashBlockingQuery(p.raft, q, p.random, req.signal, () =>
    Object.fromEntries((sees ? p.agent.services() : []).map((s) => [s.ID, renderAgentService(s, p.datacenter)])),
  );
  return json(res.value, { "X-Consul-Contenthash": res.hash });
}

function checks(p: ConsulParts, req: SimRequest): SimReply {
  const q = parseQuery(req, p.datacenter);
  const sees = p.acl.sees(p.acl.resolve(q.token));
  const out: Record<string, unknown> = {};
  if (sees) {
    for (const id of p.agent.checkIds()) {
      const c = p.catalog.check(p.agent.nodeName, id);
      if (c) out[id] = renderCheck(c);
    }
  }
  return json(out);
}

function decode(req: SimRequest): Record<string, unknown> {
  const parsed = parseJsonBody<unknown>(req.body);
  if (!parsed.ok) throw badRequest(`Request decode failed: ${parsed.error}`);
  if (!isObject(parsed.value)) throw badRequest("Request decode failed: json: cannot unmarshal into Go value of type structs.ServiceDefinition");
  return parsed.value;
}

/** PUT /v1/agent/service/register (AgentRegisterService): 200 with no body. */
function registerService(p: ConsulParts, req: SimRequest): SimReply {
  const b = decode(req);
  const svc = serviceInput(b, "Name");
  if (svc.Service === "") throw badRequest("Missing service name");
  if (svc.TaggedAddresses === null && /^\d+\.\d+\.\d+\.\d+$/.test(svc.Address)) {
    // The agent tags an IPv4 service address for LAN and WAN.
    svc.TaggedAddresses = { lan_ipv4: { Address: svc.Address, Port: svc.Port }, wan_ipv4: { Address: svc.Address, Port: svc.Port } };
  }
  const defs: AgentCheckDef[] = [];
  const single = field(b, "Check");
  const many = field(b, "Checks");
  const raw = [...(isObject(single) ? [single] : []), ...(Array.isArray(many) ? many.filter(isObject) : [])];
  raw.forEach((c, i) => {
    const def = checkDef(c, svc.Service, svc.ID);
    if (str(c, "CheckID") === undefined && str(c, "ID") === undefined) def.CheckID = raw.length > 1 ? `service:${svc.ID}:${i + 1}` : `service:${svc.ID}`;
    defs.push(def);
  });
  p.acl.require(p.acl.resolve(tokenOf(req)), "service", "write", svc.Service);
  const replace = ["true", "1", "t", "T", "TRUE", "True"].includes(req.query.get("replace-existing-checks") ?? "");
  p.agent.registerService(svc, defs, replace);
  return empty();
}

/**
 * A check definition (structs.CheckType) with CheckType.Validate()'s rules:
 * interval checks need an interval, TTL checks a TTL. The sim does not run
 * interval checks; they report passing.
 */
function checkDef(c: Record<string, unknown>, serviceName: string, serviceId: string): AgentCheckDef {
  const ttl = str(c, "TTL") ?? "";
  const ttlMs = ttl === "" ? 0 : parseGoDuration(ttl);
  if (ttlMs === undefined) throw badRequest(`Request decode failed: time: invalid duration ${goQuote(ttl)}`);
  const interval = str(c, "Interval") ?? "";
  const type = str(c, "HTTP") ? "http" : str(c, "TCP") ? "tcp" : str(c, "GRPC") ? "grpc" : str(c, "UDP") ? "udp" : str(c, "H2PING") ? "h2ping"
    : (strings(c, "Args")?.length ?? 0) > 0 || str(c, "Script") ? "script" : str(c, "AliasService") || str(c, "AliasNode") ? "alias" : ttlMs > 0 ? "ttl" : "";
  const intervalCheck = ["http", "tcp", "grpc", "udp", "h2ping", "script"].includes(type);
  const intervalMs = interval === "" ? 0 : (parseGoDuration(interval) ?? 0);
  if (intervalMs > 0 && ttlMs > 0) throw badRequest("Invalid check: Interval and TTL cannot both be specified");
  if (intervalCheck && intervalMs <= 0) throw badRequest("Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks");
  if (type === "") throw badRequest("Invalid check: TTL must be > 0 for TTL checks");
  const status = str(c, "Status") ?? "";
  if (status !== "" && !CHECK_STATUSES.includes(status)) throw badRequest(`Invalid check status: ${goQuote(status)}`);
  return {
    CheckID: str(c, "CheckID") ?? str(c, "ID") ?? "",
    Name: str(c, "Name") ?? `Service '${serviceName}' check`,
    Notes: str(c, "Notes") ?? "",
    Status: status as CheckStatus | "",
    ServiceID: serviceId,
    Type: type,
    Interval: interval,
    Timeout: str(c, "Timeout") ?? "",
    ttlMs,
  };
}

function deregisterService(p: ConsulParts, req: SimRequest): SimReply {
  const id = req.params.id ?? "";
  const authz = p.acl.resolve(tokenOf(req));
  const svc = p.agent.services().find((s) => s.ID === id);
  if (!svc) throw notFound(`Unknown service ID ${goQuote(id)}. Ensure that the service ID is passed, not the service name.`);
  p.acl.require(authz, "service", "write", svc.Service);
  p.agent.deregisterService(id);
  return empty();
}

/** PUT /v1/agent/check/register: a check on the agent's node, or on one of its services. */
function registerCheck(p: ConsulParts, req: SimRequest): SimReply {
  const b = decode(req);
  const name = str(b, "Name") ?? "";
  if (name === "") throw badRequest("Missing check name");
  const serviceId = str(b, "ServiceID") ?? "";
  const svc = serviceId !== "" ? p.agent.services().find((s) => s.ID === serviceId) : undefined;
  if (serviceId !== "" && !svc) throw rpcError(`ServiceID ${goQuote(serviceId)} does not exist`);
  const def = checkDef(b, svc?.Service ?? "", serviceId);
  def.Name = name;
  if (def.CheckID === "") def.CheckID = name;
  const authz = p.acl.resolve(tokenOf(req));
  if (svc) p.acl.require(authz, "service", "write", svc.Service);
  else p.acl.require(authz, "node", "write", p.agent.nodeName);
  p.agent.registerCheck(def);
  return empty();
}

function deregisterCheck(p: ConsulParts, req: SimRequest): SimReply {
  const id = req.params.id ?? "";
  vetCheck(p, req, id);
  p.agent.deregisterCheck(id);
  return empty();
}

/** Unknown check: 404; then the write permission on its service or node. */
function vetCheck(p: ConsulParts, req: SimRequest, id: string): void {
  const authz = p.acl.resolve(tokenOf(req));
  const c = p.agent.hasCheck(id) ? p.catalog.check(p.agent.nodeName, id) : undefined;
  if (!c) throw notFound(`Unknown check ID ${goQuote(id)}. Ensure that the check ID is passed, not the check name.`);
  if (c.ServiceName !== "") p.acl.require(authz, "service", "write", c.ServiceName);
  else p.acl.require(authz, "node", "write", p.agent.nodeName);
}

function updateCheck(p: ConsulParts, req: SimRequest, status: CheckStatus, output: string): SimReply {
  const id = req.params.id ?? "";
  vetCheck(p, req, id);
  const err = p.agent.updateCheck(id, status, output);
  if (err) throw rpcError(err);
  return empty();
}

/** PUT /v1/agent/check/update/:id with `{Status, Output}`. */
function updateFromBody(p: ConsulParts, req: SimRequest): SimReply {
  const b = decode(req);
  const status = str(b, "Status") ?? "";
  if (!CHECK_STATUSES.includes(status)) throw badRequest(`Invalid check status: ${goQuote(status)}`);
  return updateCheck(p, req, status as CheckStatus, str(b, "Output") ?? "");
}

import { parseJsonBody, type SimReply, type SimRequest } from "../core/http.js";
import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { json } from "./http.js";
import { badRequest, rpcError } from "./errors.js";
import { blockingQuery, metaHeaders, parseQuery, tokenOf } from "./query.js";
import { renderNode, renderNodeService, renderServiceNode } from "./render.js";
import { field, isObject, num, str, stringMap, strings, bool } from "./fields.js";
import { CHECK_STATUSES, type CheckStatus, type ServiceAddress } from "./types.js";
import type { ServiceInput } from "./catalog-store.js";

/**
 * `/v1/catalog/*` (agent/catalog_endpoint.go): datacenters, nodes, services,
 * one service's instances, one node's services, and register/deregister for
 * nodes that no agent runs on (the way tests and external services seed the
 * catalog). Reads block on `?index`; the anonymous token sees nothing.
 */
export function catalogRoutes(r: ConsulRouter, p: ConsulParts): void {
  r.add("/v1/catalog/datacenters", { GET: () => json([p.datacenter]) });
  r.add("/v1/catalog/nodes", {
    GET: (req) =>
      read(p, req, (sees) => {
        const { index, nodes } = p.catalog.listNodes();
        return { index, value: sees ? nodes.map(renderNode) : [] };
      }),
  });
  r.add("/v1/catalog/services", {
    GET: (req) =>
      read(p, req, (sees) => {
        const { index, services } = p.catalog.listServices();
        return { index, value: sees ? services : {} };
      }),
  });
  r.add("/v1/catalog/service/:service", {
    GET: (req) =>
      read(p, req, (sees) => {
        const name = req.params.service ?? "";
        const tags = req.query.getAll("tag");
        const entries = p.catalog.serviceEntries(name).filter((e) => tags.every((t) => e.service.Tags.includes(t)));
        return { index: p.catalog.serviceIndex(name, false), value: sees ? entries.map((e) => renderServiceNode(e.node, e.service)) : [] };
      }),
  });
  r.add("/v1/catalog/node/:node", {
    GET: (req) =>
      read(p, req, (sees) => {
        const { index, node, services } = p.catalog.nodeServices(req.params.node ?? "");
        if (!node || !sees) return { index, value: null };
        return { index, value: { Node: renderNode(node), Services: Object.fromEntries(services.map((s) => [s.ID, renderNodeService(s)])) } };
      }),
  });
  r.add("/v1/catalog/register", { PUT: (req) => register(p, req) });
  r.add("/v1/catalog/deregister", { PUT: (req) => deregister(p, req) });
}

async function read<T>(p: ConsulParts, req: SimRequest, run: (sees: boolean) => { index: number; value: T }): Promise<SimReply> {
  const q = parseQuery(req, p.datacenter);
  const sees = p.acl.sees(p.acl.resolve(q.token));
  const res = await blockingQuery(p.raft, q, p.random, req.signal, () => run(sees));
  return json(res.value, metaHeaders(res.index, q.consistency));
}

function body(req: SimRequest): Record<string, unknown> {
  const parsed = parseJsonBody<unknown>(req.body);
  if (!parsed.ok) throw badRequest(`Request decode failed: ${parsed.error}`);
  if (!isObject(parsed.value)) throw badRequest("Request decode failed: json: cannot unmarshal into Go value of type structs.RegisterRequest");
  return parsed.value;
}

/** PUT /v1/catalog/register: a node, optionally one service and checks (Catalog.Register). */
function register(p: ConsulParts, req: SimRequest): SimReply {
  const b = body(req);
  const dc = str(b, "Datacenter") || req.query.get("dc") || p.datacenter;
  const node = str(b, "Node") ?? "";
  const address = str(b, "Address") ?? "";
  if (dc !== p.datacenter) throw rpcError("No path to datacenter");
  if (node === "" || address === "") throw rpcError("Must provide node and address");
  p.acl.require(p.acl.resolve(tokenOf(req)), "node", "write", node);
  const existing = p.catalog.node(node);
  if (!bool(b, "SkipNodeUpdate") || !existing) {
    p.catalog.ensureNode({
      ID: str(b, "ID") ?? existing?.ID ?? "",
      Node: node,
      Address: address,
      Datacenter: p.datacenter,
      TaggedAddresses: stringMap(b, "TaggedAddresses") ?? { lan: address, lan_ipv4: address, wan: address, wan_ipv4: address },
      Meta: stringMap(b, "NodeMeta") ?? {},
    });
  }
  const svc = field(b, "Service");
  if (isObject(svc)) {
    const input = serviceInput(svc);
    if (input.Service === "") throw rpcError("Must provide service name");
    p.catalog.ensureService(node, input);
  }
  const checks = [field(b, "Check"), ...((field(b, "Checks") as unknown[] | undefined) ?? [])].filter(isObject);
  for (const c of checks) {
    const status = str(c, "Status") ?? "critical";
    if (!CHECK_STATUSES.includes(status)) throw rpcError(`Invalid check status: ${JSON.stringify(status)}`);
    const checkId = str(c, "CheckID") || str(c, "Name") || "";
    if (checkId === "") throw rpcError("Missing check ID");
    p.catalog.ensureCheck({
      Node: node,
      CheckID: checkId,
      Name: str(c, "Name") ?? checkId,
      Status: status as CheckStatus,
      Notes: str(c, "Notes") ?? "",
      Output: str(c, "Output") ?? "",
      ServiceID: str(c, "ServiceID") ?? "",
      Type: str(c, "Type") ?? "",
      Interval: "",
      Timeout: "",
      ExposedPort: 0,
      Definition: {},
    });
  }
  return json(true);
}

/** A service definition from a request body; the ID defaults to the name. */
export function serviceInput(svc: Record<string, unknown>, nameField = "Service"): ServiceInput {
  const name = str(svc, nameField) ?? "";
  const tagged = field(svc, "TaggedAddresses");
  let taggedAddresses: Record<string, ServiceAddress> | null = null;
  if (isObject(tagged)) {
    taggedAddresses = {};
    for (const [k, v] of Object.entries(tagged)) taggedAddresses[k] = { Address: str(v, "Address") ?? "", Port: num(v, "Port") ?? 0 };
  }
  const weights = field(svc, "Weights");
  return {
    Kind: str(svc, "Kind") ?? "",
    ID: str(svc, "ID") || name,
    Service: name,
    Tags: strings(svc, "Tags") ?? [],
    Address: str(svc, "Address") ?? "",
    TaggedAddresses: taggedAddresses,
    Meta: stringMap(svc, "Meta") ?? {},
    Port: num(svc, "Port") ?? 0,
    Weights: isObject(weights) ? { Passing: num(weights, "Passing") ?? 1, Warning: num(weights, "Warning") ?? 1 } : { Passing: 1, Warning: 1 },
    EnableTagOverride: bool(svc, "EnableTagOverride") ?? false,
  };
}

/** PUT /v1/catalog/deregister: a whole node, or one service or check on it. */
function deregister(p: ConsulParts, req: SimRequest): SimReply {
  const b = body(req);
  const node = str(b, "Node") ?? "";
  if (node === "") throw rpcError("Must provide node");
  p.acl.require(p.acl.resolve(tokenOf(req)), "node", "write", node);
  const serviceId = str(b, "ServiceID") ?? "";
  const checkId = str(b, "CheckID") ?? "";
  if (serviceId !== "") p.catalog.deregisterService(node, serviceId);
  if (checkId !== "") p.catalog.deregisterCheck(node, checkId);
  if (serviceId === "" && checkId === "") p.catalog.deregisterNode(node);
  return json(true);
}

import type { CatalogNode, DirEntry, HealthCheck, NodeService, Session } from "./types.js";

/**
 * JSON as a current open-source Consul server writes it (Go field names,
 * `omitempty` honoured). Enterprise-only fields (`Namespace`, `Partition`)
 * are not sent, as an OSS server does not send them.
 */

/** structs.DirEntry: Value is base64, null when empty; Session omitted when unlocked. */
export function renderEntry(e: DirEntry): Record<string, unknown> {
  return {
    LockIndex: e.LockIndex,
    Key: e.Key,
    Flags: e.Flags,
    Value: e.Value.length === 0 ? null : e.Value.toString("base64"),
    ...(e.Session !== "" ? { Session: e.Session } : {}),
    CreateIndex: e.CreateIndex,
    ModifyIndex: e.ModifyIndex,
  };
}

export function renderSession(s: Session): Record<string, unknown> {
  return {
    ID: s.ID,
    Name: s.Name,
    Node: s.Node,
    LockDelay: s.LockDelay,
    Behavior: s.Behavior,
    TTL: s.TTL,
    NodeChecks: s.NodeChecks,
    ServiceChecks: s.ServiceChecks,
    ...(s.Checks && s.Checks.length > 0 ? { Checks: s.Checks } : {}),
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

export function renderNode(n: CatalogNode): Record<string, unknown> {
  return { ...n, TaggedAddresses: { ...n.TaggedAddresses }, Meta: { ...n.Meta } };
}

export function renderCheck(c: HealthCheck): Record<string, unknown> {
  return { ...c, ServiceTags: [...c.ServiceTags], Definition: { ...c.Definition } };
}

/** structs.NodeService, as in `/v1/health/service` entries and `/v1/catalog/node`. */
export function renderNodeService(s: NodeService): Record<string, unknown> {
  return {
    ...(s.Kind !== "" ? { Kind: s.Kind } : {}),
    ID: s.ID,
    Service: s.Service,
    Tags: [...s.Tags],
    Address: s.Address,
    ...(s.TaggedAddresses ? { TaggedAddresses: taggedCopy(s.TaggedAddresses) } : {}),
    Meta: { ...s.Meta },
    Port: s.Port,
    Weights: { ...s.Weights },
    EnableTagOverride: s.EnableTagOverride,
    Proxy: { MeshGateway: {}, Expose: {} },
    Connect: {},
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/** structs.ServiceNode, as in `/v1/catalog/service/:service`. */
export function renderServiceNode(n: CatalogNode, s: NodeService): Record<string, unknown> {
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: { ...n.TaggedAddresses },
    NodeMeta: { ...n.Meta },
    ServiceKind: s.Kind,
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: [...s.Tags],
    ServiceAddress: s.Address,
    ...(s.TaggedAddresses ? { ServiceTaggedAddresses: taggedCopy(s.TaggedAddresses) } : {}),
    ServiceWeights: { ...s.Weights },
    ServiceMeta: { ...s.Meta },
    ServicePort: s.Port,
    ServiceSocketPath: "",
    ServiceEnableTagOverride: s.EnableTagOverride,
    ServiceProxy: { MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/** structs.AgentService, as in `/v1/agent/services`. */
export function renderAgentService(s: NodeService, datacenter: string): Record<string, unknown> {
  return {
    ...(s.Kind !== "" ? { Kind: s.Kind } : {}),
    ID: s.ID,
    Service: s.Service,
    Tags: [...s.Tags],
    Meta: { ...s.Meta },
    Port: s.Port,
    Address: s.Address,
    ...(s.TaggedAddresses ? { TaggedAddresses: taggedCopy(s.TaggedAddresses) } : {}),
    Weights: { ...s.Weights },
    EnableTagOverride: s.EnableTagOverride,
    Datacenter: datacenter,
  };
}

function taggedCopy(t: NodeService["TaggedAddresses"]): Record<string, { Address: string; Port: number }> {
  return Object.fromEntries(Object.entries(t ?? {}).map(([k, v]) => [k, { Address: v.Address, Port: v.Port }]));
}

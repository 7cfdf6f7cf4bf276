import type { Raft } from "./raft.js";
import type { CatalogNode, CheckStatus, HealthCheck, NodeService } from "./types.js";
import { rpcError } from "./errors.js";

/** What the catalog tells the session table: checks and nodes that sessions may depend on. */
export interface SessionInvalidator {
  /** A check went critical or was removed: sessions that name it end. */
  checkLost(node: string, checkId: string): void;
  /** The node left the catalog: every session on it ends. */
  nodeLost(node: string): void;
}

/** A service instance together with its node and the checks that decide its health. */
export interface ServiceEntry {
  node: CatalogNode;
  service: NodeService;
  checks: HealthCheck[];
}

export type NodeInput = Omit<CatalogNode, "CreateIndex" | "ModifyIndex">;
export type ServiceInput = Omit<NodeService, "CreateIndex" | "ModifyIndex">;
export type CheckInput = Omit<HealthCheck, "CreateIndex" | "ModifyIndex" | "ServiceName" | "ServiceTags">;

/**
 * The catalog: nodes, the services on them and health checks, with the
 * indexes Consul reports for them (table indexes, and a per-service index
 * that also moves when the service's node or checks change, so a watcher of
 * `/v1/health/service/web` wakes when a web node's serfHealth fails).
 */
export class CatalogStore {
  private readonly nodes = new Map<string, CatalogNode>();
  private readonly services = new Map<string, Map<string, NodeService>>();
  private readonly checks = new Map<string, Map<string, HealthCheck>>();
  private readonly serviceIndexes = new Map<string, number>();
  /** Index at which some service name last lost its final instance (Consul's "service_extinction"). */
  private extinction = 0;
  private invalidator: SessionInvalidator = { checkLost: () => undefined, nodeLost: () => undefined };

  constructor(private readonly raft: Raft) {}

  setInvalidator(inv: SessionInvalidator): void {
    this.invalidator = inv;
  }

  // ---- writes ----

  /** Registers or updates a node; a no-op when nothing changed. */
  ensureNode(input: NodeInput): void {
    const existing = this.node(input.Node);
    if (existing && sameRecord(existing, input)) return;
    const idx = this.raft.next();
    this.nodes.set(key(input.Node), { ...input, CreateIndex: existing?.CreateIndex ?? idx, ModifyIndex: idx });
    this.raft.touch("nodes", idx);
    if (existing) this.touchServicesOf(input.Node, idx);
  }

  ensureService(node: string, input: ServiceInput): void {
    if (!this.node(node)) throw rpcError("Missing node registration");
    const onNode = this.servicesMap(node);
    const existing = onNode.get(input.ID);
    if (existing && sameRecord(existing, input)) return;
    const idx = this.raft.next();
    onNode.set(input.ID, { ...input, CreateIndex: existing?.CreateIndex ?? idx, ModifyIndex: idx });
    this.raft.touch("services", idx);
    this.serviceIndexes.set(input.Service, idx);
    if (existing && existing.Service !== input.Service) this.serviceIndexes.set(existing.Service, idx);
    // The service's checks carry its name and tags.
    for (const c of this.checksMap(node).values()) {
      if (c.ServiceID === input.ID) this.checksMap(node).set(c.CheckID, { ...c, ServiceName: input.Service, ServiceTags: [...input.Tags], ModifyIndex: idx });
    }
  }

  /** Registers or updates a check. Going critical ends the sessions that depend on it. */
  ensureCheck(input: CheckInput): void {
    if (!this.node(input.Node)) throw rpcError("Missing node registration");
    let svc: NodeService | undefined;
    if (input.ServiceID !== "") {
      svc = this.servicesMap(input.Node).get(input.ServiceID);
      if (!svc) throw rpcError(`Missing service registration`);
    }
    const onNode = this.checksMap(input.Node);
    const existing = onNode.get(input.CheckID);
    const next = { ...input, ServiceName: svc?.Service ?? "", ServiceTags: svc ? [...svc.Tags] : [] };
    if (existing && sameRecord(existing, next)) return;
    const idx = this.raft.next();
    onNode.set(input.CheckID, { ...next, CreateIndex: existing?.CreateIndex ?? idx, ModifyIndex: idx });
    this.raft.touch("checks", idx);
    if (svc) this.serviceIndexes.set(svc.Service, idx);
    else this.touchServicesOf(input.Node, idx);
    if (input.Status === "critical") this.invalidator.checkLost(input.Node, input.CheckID);
  }

  /** Sets a check's status and output; false when the check does not exist. */
  updateCheck(node: string, checkId: string, status: CheckStatus, output: string): boolean {
    const c = this.checksMap(node).get(checkId);
    if (!c) return false;
    const { CreateIndex: _c, ModifyIndex: _m, ServiceName: _n, ServiceTags: _t, ...rest } = c;
    this.ensureCheck({ ...rest, Status: status, Output: output });
    return true;
  }

  deregisterNode(node: string): boolean {
    const existing = this.node(node);
    if (!existing) return false;
    const idx = this.raft.next();
    this.touchServicesOf(node, idx);
    const names = [...this.servicesMap(node).values()].map((s) => s.Service);
    this.nodes.delete(key(node));
    this.services.delete(key(node));
    this.checks.delete(key(node));
    for (const t of ["nodes", "services", "checks"]) this.raft.touch(t, idx);
    this.noteExtinctions(names, idx);
    this.invalidator.nodeLost(existing.Node);
    return true;
  }

  /** Removes a service and its checks; false when unknown. */
  deregisterService(node: string, serviceId: string): boolean {
    const svc = this.servicesMap(node).get(serviceId);
    if (!svc) return false;
    const idx = this.raft.next();
    this.servicesMap(node).delete(serviceId);
    this.raft.touch("services", idx);
    this.serviceIndexes.set(svc.Service, idx);
    this.noteExtinctions([svc.Service], idx);
    const lost = [...this.checksMap(node).values()].filter((c) => c.ServiceID === serviceId);
    for (const c of lost) this.checksMap(node).delete(c.CheckID);
    if (lost.length > 0) this.raft.touch("checks", idx);
    for (const c of lost) this.invalidator.checkLost(node, c.CheckID);
    return true;
  }

  deregisterCheck(node: string, checkId: string): boolean {
    const c = this.checksMap(node).get(checkId);
    if (!c) return false;
    const idx = this.raft.next();
    this.checksMap(node).delete(checkId);
    this.raft.touch("checks", idx);
    if (c.ServiceID !== "") this.serviceIndexes.set(c.ServiceName, idx);
    else this.touchServicesOf(node, idx);
    this.invalidator.checkLost(node, checkId);
    return true;
  }

  // ---- reads ----

  node(name: string): CatalogNode | undefined {
    return this.nodes.get(key(name));
  }

  check(node: string, checkId: string): HealthCheck | undefined {
    return this.checks.get(key(node))?.get(checkId);
  }

  listNodes(): { index: number; nodes: CatalogNode[] } {
    return { index: this.raft.tableIndex("nodes"), nodes: [...this.nodes.values()].sort(byNode) };
  }

  /** Service name -> the union of its instances' tags. */
  listServices(): { index: number; services: Record<string, string[]> } {
    const services: Record<string, string[]> = {};
    for (const svc of this.allServices()) {
      const tags = (services[svc.service.Service] ??= []);
      for (const t of svc.service.Tags) if (!tags.includes(t)) tags.push(t);
    }
    return { index: this.raft.tableIndex("services"), services };
  }

  /**
   * Index of one service name (maxIndexForService): its own when it has
   * instances; for an absent name the index at which a service last died
   * out, so watchers of an absent service wake when it appears, not on
   * every catalog write; the tables' index when none ever did.
   */
  serviceIndex(name: string, withChecks: boolean): number {
    const own = this.serviceIndexes.get(name);
    const exists = this.allServices().some((s) => s.service.Service === name);
    if (exists && own !== undefined) return own;
    if (!exists && this.extinction > 0) return this.extinction;
    return withChecks ? this.raft.tableIndex("nodes", "services", "checks") : this.raft.tableIndex("nodes", "services");
  }

  /** Instances of a service with their nodes and checks (node-level checks included). */
  serviceEntries(name: string): ServiceEntry[] {
    return this.allServices()
      .filter((s) => s.service.Service === name)
      .map(({ node, service }) => ({
        node,
        service,
        checks: [...this.checksMap(node.Node).values()]
          .filter((c) => c.ServiceID === "" || c.ServiceID === service.ID)
          .sort(byCheckId),
      }));
  }

  nodeServices(name: string): { index: number; node: CatalogNode | undefined; services: NodeService[] } {
    const node = this.node(name);
    const services = node ? [...this.servicesMap(name).values()].sort((a, b) => a.ID.localeCompare(b.ID)) : [];
    return { index: this.raft.tableIndex("nodes", "services"), node, services };
  }

  /** Checks selected by `pick`, sorted by node then check ID; the index is the checks table's. */
  listChecks(pick: (c: HealthCheck) => boolean): { index: number; checks: HealthCheck[] } {
    const checks: HealthCheck[] = [];
    for (const node of [...this.nodes.values()].sort(byNode)) {
      checks.push(...[...this.checksMap(node.Node).values()].filter(pick).sort(byCheckId));
    }
    return { index: this.raft.tableIndex("checks"), checks };
  }

  private allServices(): Array<{ node: CatalogNode; service: NodeService }> {
    const out: Array<{ node: CatalogNode; service: NodeService }> = [];
    for (const node of [...this.nodes.values()].sort(byNode)) {
      for (const service of this.servicesMap(node.Node).values()) out.push({ node, service });
    }
    return out;
  }

  private noteExtinctions(names: string[], idx: number): void {
    const alive = new Set(this.allServices().map((s) => s.service.Service));
    if (names.some((n) => !alive.has(n))) this.extinction = idx;
  }

  private touchServicesOf(node: string, idx: number): void {
    for (const s of this.servicesMap(node).values()) this.serviceIndexes.set(s.Service, idx);
  }

  private servicesMap(node: string): Map<string, NodeService> {
    let m = this.services.get(key(node));
    if (!m) this.services.set(key(node), (m = new Map<string, NodeService>()));
    return m;
  }

  private checksMap(node: string): Map<string, HealthCheck> {
    let m = this.checks.get(key(node));
    if (!m) this.checks.set(key(node), (m = new Map<string, HealthCheck>()));
    return m;
  }
}

/** Consul node names are case-insensitive. */
function key(node: string): string {
  return node.toLowerCase();
}

function byNode(a: CatalogNode, b: CatalogNode): number {
  return key(a.Node) < key(b.Node) ? -1 : key(a.Node) > key(b.Node) ? 1 : 0;
}

function byCheckId(a: HealthCheck, b: HealthCheck): number {
  return a.CheckID < b.CheckID ? -1 : a.CheckID > b.CheckID ? 1 : 0;
}

/** Equal apart from the Raft indexes, whatever the key order: Consul skips such no-op writes. */
function sameRecord(a: object, b: object): boolean {
  return canonical({ ...a, CreateIndex: 0, ModifyIndex: 0 }) === canonical({ ...b, CreateIndex: 0, ModifyIndex: 0 });
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1))) : x,
  );
}

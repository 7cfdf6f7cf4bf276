import type { CatalogStore, ServiceInput } from "./catalog-store.js";
import type { TimerSet } from "./timers.js";
import type { CheckStatus, NodeService } from "./types.js";

/** A check as the local agent runs it. Only TTL checks change on their own; the sim does not run HTTP/TCP/script checks. */
export interface AgentCheckDef {
  CheckID: string;
  Name: string;
  Notes: string;
  /** Initial status; "" = Consul's default (critical for TTL checks). */
  Status: CheckStatus | "";
  ServiceID: string;
  Type: string;
  Interval: string;
  Timeout: string;
  /** TTL in ms for TTL checks, else 0. */
  ttlMs: number;
}

/**
 * The local state of the agent the sim answers as (the server's own agent,
 * `consul-server-1`): services and checks registered through `/v1/agent/*`.
 * Anti-entropy is instant: every change is written to the catalog under the
 * agent's node at once. TTL checks turn critical ("TTL expired") when not
 * updated within their TTL, measured on the sim clock.
 */
export class AgentState {
  private readonly checkDefs = new Map<string, AgentCheckDef>();
  private readonly serviceIds = new Set<string>();

  constructor(
    private readonly catalog: CatalogStore,
    private readonly timers: TimerSet,
    readonly nodeName: string,
  ) {}

  /** Registers (or replaces) a service with its checks. Existing checks of the service stay unless `replaceChecks`. */
  registerService(service: ServiceInput, checks: AgentCheckDef[], replaceChecks: boolean): void {
    this.catalog.ensureService(this.nodeName, service);
    this.serviceIds.add(service.ID);
    if (replaceChecks) {
      for (const def of [...this.checkDefs.values()]) {
        if (def.ServiceID === service.ID && !checks.some((c) => c.CheckID === def.CheckID)) this.deregisterCheck(def.CheckID);
      }
    }
    for (const c of checks) this.registerCheck(c);
  }

  deregisterService(id: string): boolean {
    if (!this.serviceIds.has(id)) return false;
    for (const def of [...this.checkDefs.values()]) {
      if (def.ServiceID === id) {
        this.checkDefs.delete(def.CheckID);
        this.timers.cancel(`check:${def.CheckID}`);
      }
    }
    this.serviceIds.delete(id);
    this.catalog.deregisterService(this.nodeName, id);
    return true;
  }

  registerCheck(def: AgentCheckDef): void {
    const previous = this.catalog.check(this.nodeName, def.CheckID);
    this.checkDefs.set(def.CheckID, def);
    // HTTP/TCP/script checks are not run: they report passing, as a healthy target would.
    const initial: CheckStatus = def.Status !== "" ? def.Status : def.ttlMs > 0 ? (previous?.Status ?? "critical") : "passing";
    this.catalog.ensureCheck({
      Node: this.nodeName,
      CheckID: def.CheckID,
      Name: def.Name,
      Status: initial,
      Notes: def.Notes,
      Output: previous?.Output ?? "",
      ServiceID: def.ServiceID,
      Type: def.Type,
      Interval: def.Interval,
      Timeout: def.Timeout,
      ExposedPort: 0,
      Definition: {},
    });
    if (def.ttlMs > 0) this.armTtl(def);
  }

  deregisterCheck(id: string): boolean {
    if (!this.checkDefs.delete(id)) return false;
    this.timers.cancel(`check:${id}`);
    this.catalog.deregisterCheck(this.nodeName, id);
    return true;
  }

  hasCheck(id: string): boolean {
    return this.checkDefs.has(id);
  }

  /** `/v1/agent/check/pass|warn|fail|update`: only TTL checks accept updates. Returns an error text or undefined. */
  updateCheck(id: string, status: CheckStatus, output: string): string | undefined {
    const def = this.checkDefs.get(id);
    if (!def) return undefined;
    if (def.ttlMs <= 0) return `CheckID "${id}" does not have associated TTL`;
    this.catalog.updateCheck(this.nodeName, id, status, output);
    this.armTtl(def);
    return undefined;
  }

  /** The agent's services as NodeService records, by ID. */
  services(): NodeService[] {
    return this.catalog.nodeServices(this.nodeName).services.filter((s) => this.serviceIds.has(s.ID));
  }

  checkIds(): string[] {
    return [...this.checkDefs.keys()].sort();
  }

  private armTtl(def: AgentCheckDef): void {
    this.timers.set(`check:${def.CheckID}`, def.ttlMs, () => {
      if (this.checkDefs.get(def.CheckID) !== def) return;
      this.catalog.updateCheck(this.nodeName, def.CheckID, "critical", "TTL expired");
    });
  }
}

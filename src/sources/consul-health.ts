import type { HttpClient } from "./http-client.js";
import type { AutopilotHealth, RaftServer } from "./nomad-nodes.js";
import type { WatchResponse } from "./watch.js";

/** Consul's agent-liveness check, one per node. */
export const SERF_HEALTH_CHECK = "serfHealth";

/** A node's `serfHealth` status (`passing`, `warning`, `critical`), by Consul node name. */
export type SerfHealthByNode = Map<string, "passing" | "warning" | "critical">;

/** One catalog node. */
export interface ConsulNode {
  id: string;
  name: string;
  meta: Record<string, string>;
}

interface RawCheck {
  Node: string;
  CheckID: string;
  Status: string;
}

/**
 * Reads Consul's node health (the `serfHealth` check of every node, through
 * `/v1/health/state/any` as a blocking query) and its servers' Raft health.
 * Never writes (catalog deregistration is in src/actuators/consul-catalog.ts).
 */
export class ConsulHealthReader {
  constructor(private readonly http: HttpClient) {}

  /**
   * Every node's serfHealth status, as a blocking query on the checks table.
   * @param index 0 for an immediate answer; else wait for a change past it
   */
  async listSerfHealth(index: number, waitMs: number, signal?: AbortSignal): Promise<WatchResponse<SerfHealthByNode>> {
    const res = await this.http.request<RawCheck[]>({
      method: "GET",
      path: "/v1/health/state/any",
      params: index > 0 ? { index, wait: `${Math.max(1, Math.round(waitMs / 1000))}s` } : {},
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
    });
    const out: SerfHealthByNode = new Map();
    for (const c of res.data ?? []) {
      if (c.CheckID === SERF_HEALTH_CHECK && (c.Status === "passing" || c.Status === "warning" || c.Status === "critical")) out.set(c.Node, c.Status);
    }
    return { index: Number(res.headers["x-consul-index"] ?? 0), data: out, lastContactMs: Number(res.headers["x-consul-lastcontact"] ?? 0) || 0 };
  }

  /** Every catalog node (name, ID, node meta), as a blocking query: how server pools, which have no Nomad client node, are seen. */
  async listNodes(index: number, waitMs: number, signal?: AbortSignal): Promise<WatchResponse<ConsulNode[]>> {
    const res = await this.http.request<Array<{ ID: string; Node: string; Meta?: Record<string, string> | null }>>({
      method: "GET",
      path: "/v1/catalog/nodes",
      params: index > 0 ? { index, wait: `${Math.max(1, Math.round(waitMs / 1000))}s` } : {},
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
    });
    const nodes = (res.data ?? []).map((n) => ({ id: n.ID, name: n.Node, meta: { ...(n.Meta ?? {}) } }));
    return { index: Number(res.headers["x-consul-index"] ?? 0), data: nodes, lastContactMs: Number(res.headers["x-consul-lastcontact"] ?? 0) || 0 };
  }

  /** The Consul servers' Raft configuration. */
  async raftConfiguration(): Promise<RaftServer[]> {
    const res = await this.http.request<{ Servers?: RaftServer[] | null }>({ method: "GET", path: "/v1/operator/raft/configuration" });
    return res.data.Servers ?? [];
  }

  /** Autopilot's health of the Consul servers (Consul answers 429 with the same body while unhealthy). */
  async autopilotHealth(): Promise<AutopilotHealth> {
    const res = await this.http.request<AutopilotHealth>({ method: "GET", path: "/v1/operator/autopilot/health", okStatuses: [429] });
    return res.data;
  }
}

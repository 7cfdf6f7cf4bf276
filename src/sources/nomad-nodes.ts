import type { HttpClient } from "./http-client.js";
import type { WatchResponse } from "./watch.js";

/** One node as Nomad's nodes list shows it (`/v1/nodes`). */
export interface NomadNodeStub {
  ID: string;
  Name: string;
  NodeClass: string;
  NodePool: string;
  /** `initializing`, `ready`, `down`, `disconnected`. */
  Status: string;
  /** `eligible` or `ineligible`. */
  SchedulingEligibility: string;
  Drain: boolean;
  CreateIndex: number;
  ModifyIndex: number;
}

/** The parts of a full node (`/v1/node/:id`) healing reads: its meta, and the instance id the AWS fingerprint adds. */
export interface NomadNodeDetail {
  ID: string;
  Name: string;
  Meta?: Record<string, string> | null;
  Attributes?: Record<string, string> | null;
}

/** One server of a Raft configuration (`/v1/operator/raft/configuration`, Nomad and Consul alike). */
export interface RaftServer {
  ID: string;
  Node: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
}

/** One server in autopilot's health (`/v1/operator/autopilot/health`). */
export interface AutopilotServer {
  ID: string;
  Name: string;
  Healthy: boolean;
  Voter: boolean;
}

/** Autopilot's view of the cluster. */
export interface AutopilotHealth {
  Healthy: boolean;
  FailureTolerance: number;
  Servers: AutopilotServer[];
}

/**
 * Reads one environment's Nomad nodes and its servers' Raft health. Never
 * writes (drain, eligibility and purge are in src/actuators/nomad-nodes.ts).
 * Errors are the HttpClient's kinds, with `env` and `endpoint` in context.
 */
export class NomadNodesReader {
  constructor(
    private readonly env: string,
    private readonly http: HttpClient,
    private readonly region = "global",
  ) {}

  /**
   * The nodes list, as a blocking query.
   * @param index 0 for an immediate answer; else wait for a change past it
   * @param waitMs server-side wait of the blocking query
   */
  async listNodes(index: number, waitMs: number, signal?: AbortSignal): Promise<WatchResponse<NomadNodeStub[]>> {
    const res = await this.http.request<NomadNodeStub[]>({
      method: "GET",
      path: "/v1/nodes",
      params: { region: this.region, ...(index > 0 ? { index, wait: `${Math.max(1, Math.round(waitMs / 1000))}s` } : {}) },
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      context: { env: this.env },
    });
    return { index: Number(res.headers["x-nomad-index"] ?? 0), data: res.data, lastContactMs: Number(res.headers["x-nomad-lastcontact"] ?? 0) || 0 };
  }

  /** One node in full, or undefined when Nomad no longer knows it (purged). */
  async getNode(id: string, signal?: AbortSignal): Promise<NomadNodeDetail | undefined> {
    const res = await this.http.request<NomadNodeDetail>({
      method: "GET",
      path: `/v1/node/${encodeURIComponent(id)}`,
      params: { region: this.region },
      okStatuses: [404],
      ...(signal ? { signal } : {}),
      context: { env: this.env, node: id },
    });
    return res.status === 404 ? undefined : res.data;
  }

  /** Autopilot's health of the servers. */
  async autopilotHealth(): Promise<AutopilotHealth> {
    // Nomad answers 429 (Consul: 429 too) while autopilot is unhealthy, with the same body: an answer, not an error.
    const res = await this.http.request<AutopilotHealth>({
      method: "GET",
      path: "/v1/operator/autopilot/health",
      params: { region: this.region },
      okStatuses: [429],
      context: { env: this.env },
    });
    return res.data;
  }
}

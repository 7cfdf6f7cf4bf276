import type { HttpClient } from "../sources/http-client.js";

/** What a node write did. `changed: false` is a no-op reported as a value (the node was already gone or in that state). */
export interface NodeWriteResult {
  changed: boolean;
}

/**
 * Writes to one environment's Nomad nodes: eligibility, drain, purge. No
 * decisions here. Each call is idempotent (marking an ineligible node
 * ineligible, draining a draining node with the same spec, purging a purged
 * node), so each may be retried; a node Nomad no longer knows is `changed: false`.
 */
export class NomadNodesActuator {
  constructor(
    private readonly env: string,
    private readonly http: HttpClient,
    private readonly region = "global",
  ) {}

  /**
   * Marks the node ineligible and drains it: allocations move within
   * `deadlineMs` (then are stopped). System jobs are drained last.
   */
  async drainNode(nodeId: string, deadlineMs: number): Promise<NodeWriteResult> {
    const res = await this.http.request({
      method: "POST",
      path: `/v1/node/${encodeURIComponent(nodeId)}/drain`,
      params: { region: this.region },
      data: { NodeID: nodeId, DrainSpec: { Deadline: Math.round(deadlineMs * 1e6), IgnoreSystemJobs: false }, MarkEligible: false, Meta: { "steward.reason": "healing: node lost" } },
      retry: true,
      okStatuses: [404],
      context: { env: this.env, node: nodeId },
    });
    return { changed: res.status !== 404 };
  }

  /** Removes a (down) node from Nomad for good. */
  async purgeNode(nodeId: string): Promise<NodeWriteResult> {
    const res = await this.http.request({
      method: "POST",
      path: `/v1/node/${encodeURIComponent(nodeId)}/purge`,
      params: { region: this.region },
      retry: true,
      okStatuses: [404],
      context: { env: this.env, node: nodeId },
    });
    return { changed: res.status !== 404 };
  }
}

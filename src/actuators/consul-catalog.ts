import type { HttpClient } from "../sources/http-client.js";

/**
 * Writes to Consul's catalog. No decisions here. Deregistering a node that
 * is not registered succeeds, so the call is idempotent and retried.
 */
export class ConsulCatalogActuator {
  constructor(private readonly http: HttpClient) {}

  /** Removes a node (its services and checks with it) from the catalog, as `consul force-leave -prune` does for a dead agent. */
  async deregisterNode(node: string, datacenter?: string): Promise<void> {
    await this.http.request({
      method: "PUT",
      path: "/v1/catalog/deregister",
      data: { Node: node, ...(datacenter ? { Datacenter: datacenter } : {}) },
      retry: true,
      context: { node },
    });
  }
}

/**
 * The records the sim stores, in the field names Consul puts on the wire,
 * so rendering is a copy. Times inside records are Go durations as Consul
 * keeps them (strings like "30s", or nanoseconds where Consul sends numbers).
 */

export type CheckStatus = "passing" | "warning" | "critical";

export const CHECK_STATUSES: readonly string[] = ["passing", "warning", "critical"];

/** A KV entry (structs.DirEntry). `Value` is the raw bytes; base64 on the wire. */
export interface DirEntry {
  LockIndex: number;
  Key: string;
  Flags: number;
  Value: Buffer;
  /** "" when unlocked; omitted on the wire then (`json:",omitempty"`). */
  Session: string;
  CreateIndex: number;
  ModifyIndex: number;
}

export type SessionBehavior = "release" | "delete";

/** A session (structs.Session). `LockDelay` is in nanoseconds, as Consul sends it. */
export interface Session {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: SessionBehavior;
  TTL: string;
  NodeChecks: string[] | null;
  ServiceChecks: Array<{ ID: string; Namespace: string }> | null;
  /** Deprecated `Checks` field; sent only when non-empty (`omitempty`). */
  Checks: string[] | null;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A catalog node (structs.Node). */
export interface CatalogNode {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface ServiceAddress {
  Address: string;
  Port: number;
}

/** A service instance registered on a node (structs.NodeService). */
export interface NodeService {
  Kind: string;
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  TaggedAddresses: Record<string, ServiceAddress> | null;
  Meta: Record<string, string>;
  Port: number;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A health check (structs.HealthCheck). */
export interface HealthCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: CheckStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
  Interval: string;
  Timeout: string;
  ExposedPort: number;
  Definition: Record<string, unknown>;
  CreateIndex: number;
  ModifyIndex: number;
}

/** The check every agent's node carries; its status is the agent's Serf membership. */
export const SERF_CHECK_ID = "serfHealth";
export const SERF_CHECK_NAME = "Serf Health Status";
export const SERF_ALIVE = "Agent alive and reachable";
export const SERF_FAILED = "Agent not live or unreachable";

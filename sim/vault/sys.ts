import type { SimReply, SimRequest } from "../core/http.js";
import { parseGoBool } from "./dispatch.js";
import { envelope, errors, json } from "./reply.js";
import type { Mount } from "./routes.js";

/** The node state `sys/health` reports; tests flip it to exercise health handling. */
export interface VaultStatus {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  performanceStandby: boolean;
}

/** Identity of the emulated cluster, as sys/health shows it. */
export interface ClusterInfo {
  clusterName: string;
  clusterId: string;
  version: string;
}

/**
 * GET/HEAD `sys/health` (http/sys_health.go): unauthenticated, served even
 * when sealed. The status code follows the node state, each overridable by
 * its query parameter; a malformed parameter is a 400 with an empty errors
 * list. HEAD answers with the status alone.
 */
export function sysHealth(req: SimRequest, status: VaultStatus, cluster: ClusterInfo, nowMs: number): SimReply {
  if (req.method !== "GET" && req.method !== "HEAD") return errors(405);
  const q = req.query;
  const standbyOk = boolParam(q, "standbyok");
  const perfStandbyOk = boolParam(q, "perfstandbyok");
  const codes = {
    uninit: codeParam(q, "uninitcode", 501),
    sealed: codeParam(q, "sealedcode", 503),
    standby: codeParam(q, "standbycode", 429),
    active: codeParam(q, "activecode", 200),
    drSecondary: codeParam(q, "drsecondarycode", 472),
    perfStandby: codeParam(q, "performancestandbycode", 473),
  };
  if (standbyOk === null || perfStandbyOk === null || Object.values(codes).some((c) => c === null)) return errors(400);

  let code = codes.active;
  if (!status.initialized) code = codes.uninit;
  else if (status.sealed) code = codes.sealed;
  else if (status.performanceStandby) code = perfStandbyOk ? code : codes.perfStandby;
  else if (status.standby) code = standbyOk ? code : codes.standby;
  if (code === null || code < 100 || code > 999) return errors(400);

  const body: Record<string, unknown> = {
    initialized: status.initialized,
    sealed: status.sealed || !status.initialized,
    standby: status.standby || status.performanceStandby,
    performance_standby: status.performanceStandby,
    replication_performance_mode: "disabled",
    replication_dr_mode: "disabled",
    server_time_utc: Math.floor(nowMs / 1000),
    version: cluster.version,
    enterprise: false,
    echo_duration_ms: 0,
    clock_skew_ms: 0,
  };
  if (!body.sealed) {
    body.cluster_name = cluster.clusterName;
    body.cluster_id = cluster.clusterId;
  }
  const headers = { "Cache-Control": "no-store" };
  if (req.method === "HEAD") return { status: code, headers, contentType: "application/json" };
  return { status: code, headers, body, contentType: "application/json" };
}

/** `sys/` as a mount: `sys/mounts` lists the mount table (data also injected at top level, as Vault does for sys/). */
export function sysMount(mountTable: () => Mount[], describe: (m: Mount) => Record<string, unknown>): Mount {
  return {
    path: "sys/",
    type: "system",
    routes: [
      {
        pattern: /^mounts$/,
        read: (req) => {
          const data: Record<string, unknown> = {};
          for (const m of mountTable()) if (!m.path.startsWith("auth/")) data[m.path] = describe(m);
          return json({ ...data, ...envelope(req.requestId, req.mountType, { data }) });
        },
      },
    ],
  };
}

function boolParam(q: URLSearchParams, name: string): boolean | null {
  const v = q.get(name);
  if (v === null) return false;
  return parseGoBool(v) ?? null;
}

function codeParam(q: URLSearchParams, name: string, fallback: number): number | null {
  const v = q.get(name);
  if (v === null) return fallback;
  return /^[+-]?\d+$/.test(v) ? Number(v) : null;
}

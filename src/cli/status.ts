import axios from "axios";
import type { PromotionServiceStatus } from "../reconciler/promotion/loop.js";
import { formatPromotion } from "./promotion.js";
import { formatHealing } from "./healing.js";
import type { PoolStatus } from "../reconciler/healing/loop.js";

/** The parts of `/api/status` the status command prints. */
export interface StatusDoc {
  instance: string;
  leader: { self: boolean; id?: string };
  /** Every live instance (leader first), from their presence keys; absent from older daemons. */
  instances?: Array<{ id: string; address: string; startedAt: string; ready: boolean; notReady?: string; leading: boolean }>;
  revision: {
    good?: { revision: string; origin: string };
    refused?: { revision: string; issues: Array<{ file?: string; line?: number; field?: string; message: string }> };
  };
  jobs: Array<{ key: string; state?: string; ready: string; reason?: string; message?: string; error?: string }>;
  /** The full resync: when it last checked each environment, when it runs next (leader only; absent from older daemons). */
  resync?: { lastCheckedByEnv: Record<string, string>; next?: string };
  /** Promoted services: each stage's digest, pending digests, history. */
  promotion?: PromotionServiceStatus[];
  healing?: { pools?: PoolStatus[] };
  controls?: { paused?: boolean; pausedServices?: string[]; frozen?: Record<string, { by?: string; reason?: string; at?: string }> };
  /** Retry requests of failed gates not dealt with yet. */
  gateRetries?: Array<{ service: string; digest: string; stage: string; by: string; at?: string; reason?: string }>;
}

/**
 * `steward status`: what a running daemon says about every job, from its
 * `/api/status`. Exit 0 when every job is in sync, 3 when any is not, 1 when
 * the daemon cannot be reached.
 */
export async function statusCommand(args: { url: string; json?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let doc: StatusDoc;
  try {
    doc = (await axios.get<StatusDoc>(`${args.url.replace(/\/$/, "")}/api/status`, { timeout: 5_000 })).data;
  } catch (err) {
    out.write(`cannot reach Steward at ${args.url}: ${(err as Error).message}\n`);
    return 1;
  }
  if (args.json) {
    out.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    out.write(`instance ${doc.instance} (${doc.leader.self ? "leader" : `standby; leader: ${doc.leader.id ?? "none"}`})\n`);
    for (const line of formatInstances(doc.instances ?? [])) out.write(`${line}\n`);
    out.write(`desired state in force: ${doc.revision.good ? `${doc.revision.good.revision.slice(0, 12)} (${doc.revision.good.origin})` : "none yet"}\n`);
    if (doc.revision.refused) {
      out.write(`REFUSED revision ${doc.revision.refused.revision.slice(0, 12)}:\n`);
      for (const i of doc.revision.refused.issues) out.write(`  ${i.file ?? ""}${i.line ? `:${i.line}` : ""}: ${i.field ? `${i.field}: ` : ""}${i.message}\n`);
    }
    for (const line of formatControls(doc.controls, doc.gateRetries)) out.write(`${line}\n`);
    for (const line of formatResync(doc.resync)) out.write(`${line}\n`);
    const w = Math.max(10, ...doc.jobs.map((j) => j.key.length));
    for (const j of doc.jobs) out.write(`${j.key.padEnd(w)}  ${(j.state ?? "-").padEnd(11)}  ${j.reason ?? ""}${j.error ? `  error: ${j.error}` : ""}\n`);
    for (const line of formatPromotion(doc.promotion ?? [])) out.write(`${line}\n`);
    for (const line of formatHealing(doc.healing?.pools ?? [])) out.write(`${line}\n`);
  }
  return doc.jobs.every((j) => j.state === "in_sync") && !doc.revision.refused ? 0 : 3;
}

/** One line per live instance: `  leader  steward-a  http://10.0.0.5:8080  up since …, ready`. */
export function formatInstances(list: NonNullable<StatusDoc["instances"]>): string[] {
  if (!list.length) return [];
  const w = Math.max(...list.map((i) => i.id.length));
  return [
    "instances:",
    ...list.map((i) => `  ${(i.leading ? "leader" : "standby").padEnd(7)}  ${i.id.padEnd(w)}  ${i.address}  up since ${i.startedAt}, ${i.ready ? "ready" : `not ready: ${i.notReady ?? "?"}`}`),
  ];
}

/**
 * The safety net's line: `resync: qa checked 2026-…Z, prod checked 2026-…Z; next 2026-…Z`.
 * A job the resync skipped (nothing it depends on changed) keeps the time of its last real pass.
 */
export function formatResync(resync: StatusDoc["resync"]): string[] {
  if (!resync) return [];
  const envs = Object.entries(resync.lastCheckedByEnv).map(([env, at]) => `${env} checked ${at}`);
  if (!envs.length && !resync.next) return [];
  return [`resync: ${envs.length ? envs.join(", ") : "no environment checked yet"}${resync.next ? `; next ${resync.next}` : ""}`];
}

/** The operator controls in force, one line each: pauses, frozen environments (who, why, since), gate retries not dealt with yet. */
export function formatControls(controls: StatusDoc["controls"], retries: StatusDoc["gateRetries"]): string[] {
  const out: string[] = [];
  if (controls?.paused) out.push("PAUSED: everything");
  if (controls?.pausedServices?.length) out.push(`paused services: ${controls.pausedServices.join(", ")}`);
  for (const [env, f] of Object.entries(controls?.frozen ?? {})) {
    out.push(`FROZEN: ${env}${f.by ? ` by ${f.by}` : ""}${f.reason ? ` (${f.reason})` : ""}${f.at ? ` since ${f.at}` : ""}: nothing is deployed there`);
  }
  for (const r of retries ?? []) out.push(`gate retry requested: ${r.service} ${r.digest.slice(0, 19)} in ${r.stage} by ${r.by}${r.reason ? ` (${r.reason})` : ""}`);
  return out;
}

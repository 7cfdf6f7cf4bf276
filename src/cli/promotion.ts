import axios from "axios";
import type { PendingPromotion, PromotionServiceStatus } from "../reconciler/promotion/loop.js";

/** `sha256:0123456789ab` — enough of a digest to tell builds apart in a terminal. */
function short(digest: string | undefined): string {
  return digest ? digest.slice(0, 19) : "-";
}

function named(d: { digest?: string; tag?: string }): string {
  return d.tag ? `${d.tag} (${short(d.digest)})` : short(d.digest);
}

/** One pending digest as a line: what it is, the reason code, why. */
export function pendingLine(p: PendingPromotion): string {
  return `${named(p)}  ${p.kind}  [${p.reason}] ${p.message}`;
}

/**
 * The promotion part of `steward status`: per service, the digest each
 * stage runs, what is pending and why, failed digests, registry trouble,
 * and the latest journal lines (`history` lines at most).
 */
export function formatPromotion(services: readonly PromotionServiceStatus[], history = 10): string[] {
  const out: string[] = [];
  for (const s of services) {
    out.push(`promotion ${s.service} (${s.repository})`);
    const w = Math.max(4, ...s.stages.map((x) => x.name.length));
    for (const st of s.stages) {
      const what = st.hold ? "held while Nomad deploys or a rollback is decided" : st.digest ? `${named(st)}${st.source === "pinned" ? "  (pinned in service.yaml)" : ""}` : "no image yet";
      out.push(`  ${st.name.padEnd(w)}  ${what}`);
    }
    for (const p of s.pending) out.push(`  pending  ${pendingLine(p)}`);
    for (const f of s.failed) out.push(`  failed   ${named(f)} in ${f.stage ?? "?"}: ${f.reason ?? ""} ${f.message ?? ""}`.trimEnd());
    if (s.registry.failures > 0) out.push(`  registry ${s.registry.failures} failed poll(s) in a row: ${s.registry.lastError ?? ""}`);
    const lines = s.history.slice(-history);
    if (lines.length) out.push(`  history (last ${lines.length}):`);
    for (const h of lines) out.push(`    ${new Date(h.at).toISOString()}  ${named(h)}  ${h.stage ?? "-"}  [${h.reason}] ${h.message}`);
  }
  return out;
}

/**
 * The pending promotions a running daemon reports (`/api/status`), for
 * `steward plan`: promotion decisions need the journal, the registry and the
 * clusters' deployments, which only the daemon watches. Undefined when no
 * daemon answers at `url`.
 */
export async function fetchPromotion(url: string): Promise<PromotionServiceStatus[] | undefined> {
  try {
    const doc = (await axios.get<{ promotion?: PromotionServiceStatus[] }>(`${url.replace(/\/$/, "")}/api/status`, { timeout: 3_000 })).data;
    return doc.promotion ?? [];
  } catch {
    return undefined;
  }
}

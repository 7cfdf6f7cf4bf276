import axios from "axios";
import type { PoolStatus } from "../reconciler/healing/loop.js";
import { describeAck } from "../reconciler/healing/plan.js";

/** Each pool's last plan from a running daemon's `/api/status`, or undefined when it cannot be reached (or heals nothing). */
export async function fetchHealing(url: string): Promise<PoolStatus[] | undefined> {
  try {
    const res = await axios.get<{ healing?: { pools?: PoolStatus[] } }>(`${url.replace(/\/$/, "")}/api/status`, { timeout: 5_000 });
    return res.data.healing?.pools;
  } catch {
    return undefined;
  }
}

/**
 * The healing part of `steward status` and `steward plan`: per pool, its
 * counts, the short-circuit and who acknowledged it, every action of its
 * last plan with the reason (what would be replaced, and why not), and its
 * open incidents with the last Terraform line of their apply.
 */
export function formatHealing(pools: readonly PoolStatus[]): string[] {
  const out: string[] = [];
  for (const p of pools) {
    const s = p.summary;
    const ack = p.shortCircuitAck ? ` (acknowledged${describeAck(p.shortCircuitAck)})` : "";
    out.push(
      `pool ${p.pool} (${p.role}, ${p.env}): ${s.members} nodes, ${s.unhealthy} unhealthy, ${s.lost} lost, ${s.inFlight} replacement(s) in flight${s.shortCircuited ? `, SHORT-CIRCUITED${ack}` : ""}${s.orphans ? `, ${s.orphans} orphaned instance(s)` : ""}, ${p.budgetTokens} apply(s) left in the budget`,
    );
    for (const a of p.actions) out.push(`  ${a.kind === "noop" ? " " : "~"} ${a.kind === "noop" ? "" : `${a.kind}  `}[${a.reason}] ${a.message}`);
    for (const i of p.incidents.filter((x) => x.step !== "done")) {
      out.push(`    incident ${i.nodeName} → ${i.address}: ${i.step}, ${i.attempts} apply(s)${i.lastError ? `; last error: ${i.lastError}` : ""}`);
      const last = i.progress?.at(-1);
      if (last) out.push(`      terraform: ${last.message}`);
    }
  }
  return out;
}

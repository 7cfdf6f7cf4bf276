import { SyncLoop, MemorySyncStateStore } from "../reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../reconciler/sync/clients.js";
import { describeIssue } from "../model/errors.js";
import { createLogger } from "../log.js";
import type { SyncAction } from "../reconciler/sync/plan.js";
import { readTree, type TreeArgs } from "./desired.js";
import { fetchPromotion, pendingLine } from "./promotion.js";
import { fetchHealing, formatHealing } from "./healing.js";

/**
 * `steward plan`: what the sync loop would do now, job by job, with the
 * reason, changing nothing. Exit code 0: nothing to do; 2: there are
 * changes; 1: the desired state is invalid or a cluster cannot be read.
 */
export async function planCommand(args: TreeArgs & { json?: boolean; url?: string }, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const snapshot = await readTree(args);
  const loop = new SyncLoop({ clients: new NomadClients({ tokens: envTokens }), store: new MemorySyncStateStore(), logger: createLogger({ level: "silent" }) });
  try {
    const result = await loop.acceptSnapshot(snapshot);
    if (result === "refused") {
      for (const i of loop.revision.refused?.issues ?? []) out.write(`${describeIssue(i)}\n`);
      return 1;
    }
    if (result === "pending") {
      out.write(`cannot plan: ${loop.revision.pending?.error ?? "a cluster could not be reached"}\n`);
      return 1;
    }
    await loop.whenSynced();
    const now = Date.now();
    const actions: SyncAction[] = [];
    for (const key of loop.cache.keys()) actions.push(...(await loop.planKey(key, now)).actions);
    const changes = actions.filter((a) => a.kind !== "noop");
    const promotion = args.url ? await fetchPromotion(args.url) : undefined;
    const healing = args.url ? await fetchHealing(args.url) : undefined;
    if (args.json) {
      const pending = promotion?.map((p) => ({ service: p.service, pending: p.pending }));
      out.write(`${JSON.stringify({ revision: snapshot.revision, actions: actions.map(({ env, jobId, kind, reason, message }) => ({ env, jobId, kind, reason, message })), ...(pending && { promotions: pending }), ...(healing && { healing }) }, null, 2)}\n`);
    } else {
      out.write(`Desired state ${snapshot.origin} @ ${snapshot.revision.slice(0, 12)}\n`);
      for (const a of actions) {
        out.write(`${symbol(a)} ${a.env}/${a.jobId}  ${a.kind === "noop" ? "" : `${a.kind}  `}[${a.reason}] ${a.message}\n`);
        for (const line of await diffLines(loop, a)) out.write(`      ${line}\n`);
      }
      out.write(changes.length ? `\n${changes.length} change(s) to make.\n` : "\nNothing to do: every job is as desired.\n");
      if (args.url && !promotion) out.write(`\nPending promotions: no Steward answers at ${args.url} (promotion decisions need the daemon's journal and watches).\n`);
      const pending = (promotion ?? []).flatMap((p) => p.pending.map((x) => `  ${p.service}  ${pendingLine(x)}`));
      if (promotion) out.write(pending.length ? `\nPending promotions (from ${args.url}):\n${pending.join("\n")}\n` : "\nNo promotion pending.\n");
      // Healing decisions need the daemon's watches and journal: shown as its leader last planned them.
      if (healing?.length) out.write(`\nNode pools (from ${args.url}):\n${formatHealing(healing).join("\n")}\n`);
    }
    return changes.length ? 2 : 0;
  } finally {
    await loop.stop();
  }
}

/** For a register of a job that exists, Nomad's own plan diff: which fields would change (`steward plan` only; the loop never needs it). */
async function diffLines(loop: SyncLoop, a: SyncAction): Promise<string[]> {
  if (a.kind !== "register" || a.reason === "JobMissing") return [];
  const env = loop.cache.revision?.state.environments.find((e) => e.name === a.env);
  if (!env) return [];
  const diff = await loop.clients.get(env).reader.planJob(a.spec as never);
  return diff.fields.length ? diff.fields.map((f) => `~ ${f}`) : [`(Nomad reports diff type ${diff.type})`];
}

function symbol(a: SyncAction): string {
  if (a.kind === "register") return a.reason === "JobMissing" ? "+" : "~";
  if (a.kind === "stop") return "-";
  return " ";
}

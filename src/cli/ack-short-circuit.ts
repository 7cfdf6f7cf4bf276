import axios from "axios";
import { loadConfig } from "../config/load.js";
import { ConsulClient } from "../sources/consul.js";
import { ConsulKvWriter } from "../actuators/consul-kv.js";
import type { PoolStatus } from "../reconciler/healing/loop.js";

/** What `/api/status` says about healing: the pools declared, and the leader's last plan of each. */
interface HealingView {
  declared?: string[];
  pools?: PoolStatus[];
}

/**
 * `steward ack-short-circuit POOL [--reason TEXT] [--by NAME] [--url URL]
 * [--config FILE]`: acknowledges a pool's short-circuit by writing
 * `<statePrefix>/control/ack-short-circuit/<pool>` (a JSON note: who, why,
 * when) in Consul KV, the switch the daemon watches, as the page's
 * "Acknowledge short-circuit" does. The pool is checked first against the
 * running daemon at `--url`: an unknown pool, a daemon without healing, or a
 * pool its leader sees healthy is refused with the reason (exit 1); a daemon
 * that cannot be reached is too (nothing is written on a guess). The healing
 * loop deletes the switch once the pool is no longer short-circuited. Exit
 * 64 without a pool.
 */
export async function ackShortCircuitCommand(
  args: { pool?: string | undefined; reason?: string | undefined; by?: string | undefined; url: string; config?: string | undefined },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (!args.pool) {
    err.write("usage: steward ack-short-circuit POOL [--reason TEXT] [--by NAME] [--url URL] [--config FILE]\n");
    return 64;
  }
  const pool = args.pool;
  const problem = await checkPool(args.url, pool);
  if (problem) {
    err.write(`steward: ${problem}\n`);
    return 1;
  }
  const config = await loadConfig(args.config);
  const tokenEnv = config.consul.token && "env" in config.consul.token ? config.consul.token.env : undefined;
  const consul = new ConsulClient({ address: config.consul.address, token: () => (tokenEnv ? process.env[tokenEnv] : undefined) });
  const writer = new ConsulKvWriter(consul, { controlPrefix: `${config.statePrefix.replace(/\/+$/, "")}/control/` });
  const by = args.by ?? process.env.USER ?? "steward-cli";
  try {
    await writer.putControl({ kind: "ack-short-circuit", pool }, { by, ...(args.reason ? { reason: args.reason } : {}) });
  } finally {
    consul.close();
  }
  out.write(`the short-circuit of pool ${pool} is acknowledged by ${by}: replacements proceed within maxConcurrent, cooldown, quorum and the apply budget; the acknowledgement is removed once the pool recovers (Consul ${config.consul.address})\n`);
  return 0;
}

/** Why `pool` cannot be acknowledged according to the daemon at `url`, or undefined when it can. */
async function checkPool(url: string, pool: string): Promise<string | undefined> {
  let healing: HealingView | undefined;
  try {
    const res = await axios.get<{ healing?: HealingView }>(`${url.replace(/\/$/, "")}/api/status`, { timeout: 5_000 });
    healing = res.data.healing;
  } catch (e) {
    return `cannot check pool ${pool} against a running Steward at ${url} (${(e as Error).message}): pass --url, or write the switch by hand (consul kv put <statePrefix>/control/ack-short-circuit/${pool})`;
  }
  if (!healing) return `healing is off on the Steward at ${url} (no healing section in its configuration): there is no short-circuit to acknowledge`;
  const declared = healing.declared ?? healing.pools?.map((p) => p.pool) ?? [];
  if (!declared.includes(pool)) return `no pool ${pool} in the desired state of the Steward at ${url}${declared.length ? ` (pools: ${declared.join(", ")})` : ""}`;
  const st = healing.pools?.find((p) => p.pool === pool);
  // A standby plans nothing: the leader decides whether the acknowledgement is used.
  if (st && !st.summary.shortCircuited) return `pool ${pool} is not short-circuited (${st.summary.unhealthy} of ${st.summary.members} nodes unhealthy): there is nothing to acknowledge`;
  return undefined;
}

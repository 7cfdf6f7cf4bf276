import { loadConfig } from "../config/load.js";
import { IMAGE_DIGEST } from "../model/schema-service.js";
import { ConsulClient } from "../sources/consul.js";
import { ConsulKvWriter } from "../actuators/consul-kv.js";
import { GateRetryWriter } from "../actuators/gate-retries.js";
import { PromotionJournalStore } from "../actuators/journal.js";
import { retryRefusal } from "../reconciler/promotion/journal.js";

/**
 * `steward retry-gate SERVICE DIGEST|TAG --stage STAGE [--by NAME] [--reason TEXT]`:
 * asks the leader to run again the gate that failed (or timed out) for
 * that digest in that stage, by writing
 * `<statePrefix>/gate-retries/<service>/<digest>` in Consul KV (the key every
 * daemon watches; the UI and a key written by hand act alike). A tag
 * (`build-42`) is looked up in the service's journal. The journal is read
 * first, so a digest that did not fail at a gate of that stage is refused
 * here with the reason (exit 1) and nothing is written. Exit 64 for
 * missing arguments.
 */
export async function retryGateCommand(
  args: { config?: string | undefined; service?: string | undefined; digest?: string | undefined; stage?: string | undefined; by?: string | undefined; reason?: string | undefined },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (!args.service || !args.digest || !args.stage) {
    err.write("usage: steward retry-gate SERVICE DIGEST|TAG --stage STAGE [--by NAME] [--reason TEXT] [--config FILE]\n");
    return 64;
  }
  const config = await loadConfig(args.config);
  const tokenEnv = config.consul.token && "env" in config.consul.token ? config.consul.token.env : undefined;
  const consul = new ConsulClient({ address: config.consul.address, token: () => (tokenEnv ? process.env[tokenEnv] : undefined) });
  const prefix = config.statePrefix.replace(/\/+$/, "");
  const kv = new ConsulKvWriter(consul);
  const journal = new PromotionJournalStore(consul, kv, { prefix: `${prefix}/journal/promotion/` });
  const records = (await journal.list(args.service)).map((e) => e.record);
  const wanted = args.digest;
  const record = IMAGE_DIGEST.test(wanted) ? records.find((r) => r.digest === wanted) : records.filter((r) => r.tag === wanted).at(-1);
  const digest = record?.digest ?? wanted;
  if (!IMAGE_DIGEST.test(digest)) {
    err.write(`steward retry-gate: ${args.service} has no promotion of a build tagged ${wanted} in the journal\n`);
    return 1;
  }
  const why = retryRefusal(record, args.stage);
  if (why) {
    err.write(`steward retry-gate: cannot retry a gate of ${args.stage} for ${args.service} ${digest.slice(0, 19)}: ${why}\n`);
    return 1;
  }
  const by = args.by ?? process.env.USER ?? "steward-cli";
  const writer = new GateRetryWriter(kv, { prefix: `${prefix}/gate-retries/` });
  const { key } = await writer.request({ service: args.service, digest, stage: args.stage, by, ...(args.reason !== undefined && { reason: args.reason }) });
  const failed = record?.stages.find((s) => s.name === args.stage);
  out.write(`retry of ${args.service} ${record?.tag ?? digest.slice(0, 19)}'s failed gate in ${args.stage} (${failed?.reason ?? "?"}) requested by ${by}: the leader runs it (${key} in Consul ${config.consul.address})\n`);
  return 0;
}

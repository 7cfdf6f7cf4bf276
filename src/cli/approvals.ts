import { loadConfig } from "../config/load.js";
import { ConsulClient } from "../sources/consul.js";
import { ConsulKvWriter } from "../actuators/consul-kv.js";
import { ApprovalWriter } from "../actuators/approvals.js";

/**
 * `steward approve SERVICE DIGEST [--stage S] [--by NAME] [--reason TEXT]`
 * and `steward reject …`: record a manual decision under
 * `<statePrefix>/approvals/<service>/<digest>` in Consul KV, the key the
 * daemon watches (so the CLI, `POST /api/approvals` and a key written by
 * hand all act alike). Who decided is `--by`, else $USER. Exit 64 for
 * missing arguments; a bad service name or digest throws InvalidInputError
 * naming the field (exit 1).
 */
export async function approvalCommand(
  verb: "approve" | "reject",
  args: { config?: string | undefined; service?: string | undefined; digest?: string | undefined; stage?: string | undefined; by?: string | undefined; reason?: string | undefined },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (!args.service || !args.digest) {
    err.write(`usage: steward ${verb} SERVICE DIGEST [--stage STAGE] [--by NAME] [--reason TEXT] [--config FILE]\n`);
    return 64;
  }
  const config = await loadConfig(args.config);
  const tokenEnv = config.consul.token && "env" in config.consul.token ? config.consul.token.env : undefined;
  const consul = new ConsulClient({ address: config.consul.address, token: () => (tokenEnv ? process.env[tokenEnv] : undefined) });
  const prefix = `${config.statePrefix.replace(/\/+$/, "")}/approvals/`;
  const writer = new ApprovalWriter(new ConsulKvWriter(consul), { prefix });
  const by = args.by ?? process.env.USER ?? "steward-cli";
  const { key } = await writer.record({
    service: args.service,
    digest: args.digest,
    decision: verb,
    by,
    ...(args.stage !== undefined && { stage: args.stage }),
    ...(args.reason !== undefined && { reason: args.reason }),
  });
  const what = verb === "approve" ? "approved" : "rejected";
  out.write(`${args.service} ${args.digest} ${what}${args.stage ? ` for ${args.stage}` : ""} by ${by} (${key} in Consul ${config.consul.address})\n`);
  return 0;
}

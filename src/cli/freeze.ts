import axios from "axios";
import { loadConfig } from "../config/load.js";
import { ENV_NAME } from "../model/schema-common.js";
import { ConsulClient } from "../sources/consul.js";
import { ConsulKvWriter } from "../actuators/consul-kv.js";

/** Asks the daemon at `url` which environments the desired state in force has; undefined when it cannot be asked. */
async function environmentsAt(url: string): Promise<string[] | undefined> {
  try {
    const doc = (await axios.get<{ environments?: string[] }>(`${url.replace(/\/$/, "")}/api/status`, { timeout: 3_000 })).data;
    return Array.isArray(doc.environments) && doc.environments.length > 0 ? doc.environments : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `steward freeze ENV [--reason TEXT] [--by NAME]` and `steward unfreeze ENV`:
 * set or clear `<statePrefix>/control/freeze/<env>` in Consul KV, the switch
 * every daemon watches (so the CLI, the UI and a key written by hand act
 * alike). While it is set, sync writes nothing to that environment and
 * promotion starts no stage there. The note records who (`--by`, else
 * $USER) and why. The name is checked against the environments of the
 * daemon at `url` when one answers (an unknown one exits 1 naming it);
 * otherwise a warning says it was not checked. Exit 64 without ENV.
 */
export async function freezeCommand(
  verb: "freeze" | "unfreeze",
  args: { config?: string | undefined; env?: string | undefined; reason?: string | undefined; by?: string | undefined; url: string },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (!args.env) {
    err.write(`usage: steward ${verb} ENV${verb === "freeze" ? " [--reason TEXT] [--by NAME]" : ""} [--config FILE] [--url URL]\n`);
    return 64;
  }
  if (!ENV_NAME.test(args.env)) {
    err.write(`steward ${verb}: "${args.env}" is not an environment name\n`);
    return 1;
  }
  const envs = await environmentsAt(args.url);
  if (envs && !envs.includes(args.env)) {
    err.write(`steward ${verb}: no environment ${args.env} in the desired state (environments: ${envs.join(", ")})\n`);
    return 1;
  }
  if (!envs) err.write(`steward ${verb}: no daemon answered at ${args.url}; the name ${args.env} was not checked against the desired state\n`);
  const config = await loadConfig(args.config);
  const tokenEnv = config.consul.token && "env" in config.consul.token ? config.consul.token.env : undefined;
  const consul = new ConsulClient({ address: config.consul.address, token: () => (tokenEnv ? process.env[tokenEnv] : undefined) });
  const writer = new ConsulKvWriter(consul, { controlPrefix: `${config.statePrefix.replace(/\/+$/, "")}/control/` });
  const by = args.by ?? process.env.USER ?? "steward-cli";
  if (verb === "freeze") {
    await writer.putControl({ kind: "freeze", env: args.env }, { by, ...(args.reason ? { reason: args.reason } : {}) });
    out.write(`${args.env} frozen by ${by}${args.reason ? ` (${args.reason})` : ""}: nothing is deployed there until \`steward unfreeze ${args.env}\` (Consul ${config.consul.address})\n`);
  } else {
    await writer.deleteControl({ kind: "freeze", env: args.env });
    out.write(`${args.env} unfrozen (Consul ${config.consul.address})\n`);
  }
  return 0;
}

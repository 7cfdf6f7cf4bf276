import { loadConfig } from "../config/load.js";
import { ConsulClient } from "../sources/consul.js";
import { ConsulKvWriter } from "../actuators/consul-kv.js";
import type { ControlSwitch } from "../sources/controls.js";

/**
 * `steward pause [SERVICE]`, `steward resume [SERVICE]`, `steward sync-now`:
 * flip a runtime switch under `<statePrefix>/control/` in Consul KV, the same
 * keys the daemon watches (so a switch set here, in the Consul UI, or by
 * another tool all act alike). The note records who did it.
 */
export async function controlCommand(
  verb: "pause" | "resume" | "sync-now",
  args: { config?: string | undefined; service?: string | undefined; reason?: string | undefined },
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const config = await loadConfig(args.config);
  const tokenEnv = config.consul.token && "env" in config.consul.token ? config.consul.token.env : undefined;
  const consul = new ConsulClient({ address: config.consul.address, token: () => (tokenEnv ? process.env[tokenEnv] : undefined) });
  const writer = new ConsulKvWriter(consul, { controlPrefix: `${config.statePrefix.replace(/\/+$/, "")}/control/` });
  const by = process.env.USER ?? "steward-cli";
  const sw: ControlSwitch = verb === "sync-now" ? { kind: "sync-now" } : { kind: "pause", ...(args.service ? { service: args.service } : {}) };
  if (verb === "resume") await writer.deleteControl(sw);
  else await writer.putControl(sw, { by, ...(args.reason ? { reason: args.reason } : {}) });
  const what = verb === "sync-now" ? "a full sync was requested" : `${args.service ?? "everything"} ${verb === "pause" ? "paused" : "resumed"}`;
  out.write(`${what} (Consul ${config.consul.address})\n`);
  return 0;
}

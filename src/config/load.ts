import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parse as parseYaml } from "yaml";
import { InvalidInputError } from "../model/errors.js";
import { configSchema, type SecretRef, type StewardConfig } from "./schema.js";

/**
 * Reads Steward's configuration: a YAML file when `path` is given, then the
 * environment (`STEWARD_GIT_URL`, `CONSUL_HTTP_ADDR`, `STEWARD_LISTEN`, …)
 * over it, then defaults.
 * @throws InvalidInputError naming the file and field of a bad value
 */
export async function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<StewardConfig> {
  let raw: Record<string, unknown> = {};
  const file = path ?? "(environment)";
  if (path) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new InvalidInputError(`cannot read the config file: ${(err as Error).message}`, { file: path }, undefined, { cause: err });
    }
    try {
      raw = (parseYaml(text) as Record<string, unknown> | null) ?? {};
    } catch (err) {
      throw new InvalidInputError(`not valid YAML: ${(err as Error).message}`, { file: path }, undefined, { cause: err });
    }
  }
  raw = applyEnv(raw, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ message: i.message, file, field: i.path.join(".") }));
    throw new InvalidInputError(`invalid configuration: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`, { file }, issues);
  }
  return { ...parsed.data, instanceId: parsed.data.instanceId ?? `${hostname()}-${process.pid}` };
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = { ...raw };
  if (env.STEWARD_GIT_URL) {
    out.source = { git: { url: env.STEWARD_GIT_URL, ...(env.STEWARD_GIT_BRANCH ? { branch: env.STEWARD_GIT_BRANCH } : {}) } };
  } else if (env.STEWARD_DESIRED_STATE_DIR) {
    out.source = { directory: { path: env.STEWARD_DESIRED_STATE_DIR } };
  }
  if (env.CONSUL_HTTP_ADDR) {
    const addr = env.CONSUL_HTTP_ADDR.includes("://") ? env.CONSUL_HTTP_ADDR : `http://${env.CONSUL_HTTP_ADDR}`;
    out.consul = { ...(out.consul as object | undefined), address: addr };
  }
  if (env.STEWARD_LISTEN) out.http = { listen: env.STEWARD_LISTEN };
  if (env.VAULT_ADDR && out.vault && typeof out.vault === "object") out.vault = { ...(out.vault), address: env.VAULT_ADDR };
  if (env.STEWARD_INSTANCE_ID) out.instanceId = env.STEWARD_INSTANCE_ID;
  return out;
}

/** Reads a secret named by the config, from the environment or a file (as Nomad's template renders it). */
export async function readSecret(ref: SecretRef | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (!ref) return undefined;
  if ("env" in ref) return env[ref.env];
  return (await readFile(ref.file, "utf8")).trim();
}

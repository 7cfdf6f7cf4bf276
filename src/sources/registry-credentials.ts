import { readFileSync } from "node:fs";
import type { VaultSource } from "./vault.js";
import type { CredentialsProvider, RegistryCredentials } from "./registry-auth.js";

/** Where a registry password comes from: the environment, a file (re-read on use), or Vault KV v2. */
export type RegistrySecretRef = { env: string } | { file: string } | { vault: { path: string; key: string } };

/** One registry Steward logs in to (config `registries`). */
export interface RegistryLogin {
  /** `host[:port]` as image references name it (`registry.example:5000`, `ghcr.io`). */
  registry: string;
  username: string;
  password: RegistrySecretRef;
}

/**
 * The RegistryClient's credentials per registry host, from Steward's config:
 * the password is read on each login (an env variable, a file Nomad's
 * template re-renders, or a Vault secret registered with `vault` now so its
 * first read includes it), never cached here and never logged. A registry
 * not listed, or whose password cannot be read yet, gets no credentials
 * (anonymous; a registry that insists answers 401 and the poll backs off).
 */
export function registryCredentialsProvider(logins: readonly RegistryLogin[], vault?: Pick<VaultSource, "want" | "get">, env: NodeJS.ProcessEnv = process.env): CredentialsProvider {
  for (const l of logins) if ("vault" in l.password) vault?.want(l.password.vault.path, l.password.vault.key);
  return (registry: string): RegistryCredentials | undefined => {
    const login = logins.find((l) => l.registry === registry);
    if (!login) return undefined;
    const password = readRef(login.password, vault, env);
    return password === undefined ? undefined : { username: login.username, password };
  };
}

function readRef(ref: RegistrySecretRef, vault: Pick<VaultSource, "get"> | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if ("env" in ref) return env[ref.env] || undefined;
  if ("vault" in ref) return vault?.get(ref.vault.path, ref.vault.key) || undefined;
  try {
    return readFileSync(ref.file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

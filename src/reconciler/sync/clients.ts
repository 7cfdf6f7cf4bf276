import type { EnvironmentSpec, TokenSource } from "../../model/types.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import { NomadReader, nomadHttpClient } from "../../sources/nomad.js";
import { NomadActuator } from "../../actuators/nomad.js";
import type { HttpClientOptions } from "../../sources/http-client.js";
import type { VaultSource } from "../../sources/vault.js";

/**
 * Turns a token source into a function that returns the current token.
 * Called per request, so a token rotated in Vault is picked up.
 */
export type TokenResolver = (source: TokenSource, env: string) => () => string | undefined;

/** Tokens from the daemon's environment; Vault-backed sources come from src/sources/vault.ts. */
export const envTokens: TokenResolver = (source) => {
  if (source.kind === "env") return () => process.env[source.name];
  return () => undefined;
};

/**
 * Tokens from Vault KV v2 (`{ kind: "vault", path, key }`, path as
 * `secret/data/steward/nomad-qa`), read from the cache `vault` keeps fresh:
 * resolving a source asks `vault` for the secret (read at once if new), and
 * the returned function gives the cached value per request, undefined until
 * the first read (the call then goes without a token and Nomad's 403 is
 * retried with backoff). Other kinds resolve as `envTokens` does.
 */
export function vaultTokens(vault: Pick<VaultSource, "want" | "get">): TokenResolver {
  return (source, env) => {
    if (source.kind !== "vault") return envTokens(source, env);
    vault.want(source.path, source.key);
    return () => vault.get(source.path, source.key);
  };
}

/** The reader and the writer of one environment's Nomad. */
export interface NomadPair {
  reader: NomadReader;
  actuator: NomadActuator;
}

/**
 * One reader and actuator per environment, kept while the environment's
 * address, region, namespace and token source stay the same in the desired
 * state, and rebuilt when they change.
 */
export class NomadClients {
  private readonly pairs = new Map<string, { fingerprint: string; pair: NomadPair }>();

  constructor(
    private readonly opts: {
      tokens: TokenResolver;
      logger?: Logger;
      metrics?: StewardMetrics;
      http?: Partial<HttpClientOptions>;
    },
  ) {}

  get(env: EnvironmentSpec): NomadPair {
    // Called on every pass: the same spec object of the revision in force skips the fingerprint.
    const byObject = this.byObject.get(env);
    if (byObject) return byObject;
    const pair = this.build(env);
    this.byObject.set(env, pair);
    return pair;
  }

  private readonly byObject = new WeakMap<EnvironmentSpec, NomadPair>();

  private build(env: EnvironmentSpec): NomadPair {
    const fingerprint = JSON.stringify(env.nomad);
    const known = this.pairs.get(env.name);
    if (known && known.fingerprint === fingerprint) return known.pair;
    const http = nomadHttpClient(env, this.opts.tokens(env.nomad.token, env.name), {
      ...(this.opts.logger ? { logger: this.opts.logger } : {}),
      ...(this.opts.metrics ? { metrics: this.opts.metrics } : {}),
      ...this.opts.http,
    });
    const pair = { reader: new NomadReader(env, http), actuator: new NomadActuator(env, http) };
    this.pairs.set(env.name, { fingerprint, pair });
    return pair;
  }
}

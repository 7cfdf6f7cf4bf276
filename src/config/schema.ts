import { z } from "zod";
import {
  DEFAULT_CONSUL_ADDRESS,
  DEFAULT_GIT_BRANCH,
  DEFAULT_GIT_FETCH_INTERVAL_MS,
  DEFAULT_GIT_SUBDIR,
  DEFAULT_LISTEN,
  DEFAULT_STATE_PREFIX,
  DEFAULT_VAULT_ADDRESS,
  DEFAULT_VAULT_APPROLE_MOUNT,
  DEFAULT_VAULT_KV_MOUNT,
} from "./defaults.js";

const tokenFrom = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);

/**
 * A secret in Vault's KV v2 engine: `path` is the API path
 * (`secret/data/steward/consul`) or a path under `vault.kvMount`
 * (`steward/consul`), `key` the field inside the secret.
 */
const vaultRef = z.strictObject({ vault: z.strictObject({ path: z.string().min(1), key: z.string().min(1) }) });

/**
 * How Steward logs in to Vault: a token as given (from the environment or a
 * file Nomad's template renders), or AppRole (role id and secret id, the
 * method mounted at `mount`).
 */
/**
 * The bearer token of the action endpoints (`POST /api/approvals`, the UI's
 * actions): from the environment, a file, or Vault (needs the `vault`
 * section). `name` is who an action taken with it is recorded as.
 */
const actionTokenRef = z.union([
  z.strictObject({ env: z.string().min(1), name: z.string().min(1).optional() }),
  z.strictObject({ file: z.string().min(1), name: z.string().min(1).optional() }),
  z.strictObject({ vault: z.strictObject({ path: z.string().min(1), key: z.string().min(1) }), name: z.string().min(1).optional() }),
]);

const vaultAuth = z.union([
  z.strictObject({ token: tokenFrom }),
  z.strictObject({
    approle: z.strictObject({
      roleId: tokenFrom,
      secretId: tokenFrom,
      mount: z.string().min(1).default(DEFAULT_VAULT_APPROLE_MOUNT),
    }),
  }),
]);

/**
 * Steward's own configuration (not the desired state): where the desired
 * state comes from, how to reach Consul, where to listen. Every field has a
 * default that runs against the local sim.
 */
export const configSchema = z.strictObject({
  /** Where the desired-state tree is read from: a git repository or a Consul KV prefix. */
  source: z
    .union([
      z.strictObject({
        git: z.strictObject({
          url: z.string().min(1),
          branch: z.string().min(1).default(DEFAULT_GIT_BRANCH),
          subdir: z.string().default(DEFAULT_GIT_SUBDIR),
          fetchIntervalMs: z.number().int().min(1000).default(DEFAULT_GIT_FETCH_INTERVAL_MS),
        }),
      }),
      z.strictObject({ consul: z.strictObject({ prefix: z.string().min(1) }) }),
      z.strictObject({ directory: z.strictObject({ path: z.string().min(1) }) }),
    ])
    .default({ directory: { path: "desired-state" } }),
  consul: z
    .strictObject({
      address: z.url().default(DEFAULT_CONSUL_ADDRESS),
      /** Steward's Consul ACL token: from the environment, a file, or Vault (needs the `vault` section). */
      token: z.union([tokenFrom, vaultRef]).optional(),
    })
    .default({ address: DEFAULT_CONSUL_ADDRESS }),
  /** Consul KV prefix for Steward's leader lock, controls, journal and records. */
  statePrefix: z.string().min(1).default(DEFAULT_STATE_PREFIX),
  http: z.strictObject({ listen: z.string().default(DEFAULT_LISTEN) }).default({ listen: DEFAULT_LISTEN }),
  /** The HTTP API's action endpoints. Without `actionToken` every action is refused (401). */
  api: z
    .strictObject({
      actionToken: actionTokenRef.optional(),
      /** Who may read the live UI's data (`/api/events`, `/api/live`, plans): `open` (default), or `token`: only a page signed in with the action token. */
      uiReads: z.enum(["open", "token"]).optional(),
    })
    .optional(),
  /** The Prometheus that `prometheus` gates query (`http://prometheus.service.consul:9090`). No default: without it such a gate fails with a message naming this field. */
  prometheus: z.strictObject({ address: z.url() }).optional(),
  /** The shared secret of `POST /hooks/git` (X-Hub-Signature-256). Without it the hook is off. */
  webhookSecret: tokenFrom.optional(),
  /**
   * The shared secret of `POST /hooks/registry`: the registry's notification
   * endpoint sends it as `Authorization: Bearer <secret>` (its `headers`
   * config). Without it the hook is off and promotion finds builds by polling.
   */
  registryWebhookSecret: tokenFrom.optional(),
  /**
   * Registries Steward logs in to when listing tags and resolving digests
   * (basic, or a bearer token fetched with these credentials): `registry` is
   * the `host[:port]` of image references. Others are read anonymously.
   */
  registries: z
    .array(z.strictObject({ registry: z.string().min(1), username: z.string().min(1), password: z.union([tokenFrom, vaultRef]) }))
    .optional(),
  /** This instance's name in the leader lock and in logs. @default the host name and process id */
  instanceId: z.string().min(1).optional(),
  /** Directory Steward may write to (its git mirror). @default .cache/steward under the working directory */
  dataDir: z.string().min(1).optional(),
  /**
   * The healing loop (pools/*.yaml): off when absent. Pools' `terraform.dir`
   * is relative to `terraformRoot`; `env` is added to terraform's environment
   * (e.g. AWS_ENDPOINT_URL_EC2, TF_CLI_CONFIG_FILE).
   */
  healing: z
    .strictObject({
      terraformRoot: z.string().min(1).default("."),
      binary: z.string().min(1).optional(),
      env: z.record(z.string(), z.string()).optional(),
      applyTimeoutMs: z.number().int().min(1000).optional(),
      budget: z.strictObject({ perDir: z.number().int().min(1).optional(), global: z.number().int().min(1).optional(), windowMs: z.number().int().min(1000).optional() }).optional(),
    })
    .optional(),
  /**
   * Vault, where Steward reads its own credentials (Nomad tokens named
   * `vault:` in steward.yaml, the Consul token). Off when absent.
   */
  vault: z
    .strictObject({
      address: z.url().default(DEFAULT_VAULT_ADDRESS),
      auth: vaultAuth,
      /** KV v2 mount that relative secret paths are read under. @default DEFAULT_VAULT_KV_MOUNT ("secret") */
      kvMount: z.string().min(1).default(DEFAULT_VAULT_KV_MOUNT),
    })
    .optional(),
}).superRefine((c, ctx) => {
  if (c.consul.token && "vault" in c.consul.token && !c.vault) {
    ctx.addIssue({ code: "custom", path: ["consul", "token", "vault"], message: "a Consul token from Vault needs the vault section" });
  }
  c.registries?.forEach((r, i) => {
    if ("vault" in r.password && !c.vault) ctx.addIssue({ code: "custom", path: ["registries", i, "password", "vault"], message: "a registry password from Vault needs the vault section" });
  });
  if (c.api?.actionToken && "vault" in c.api.actionToken && !c.vault) {
    ctx.addIssue({ code: "custom", path: ["api", "actionToken", "vault"], message: "an action token from Vault needs the vault section" });
  }
});

export type StewardConfig = z.output<typeof configSchema>;
export type SecretRef = z.output<typeof tokenFrom>;
/** Where the action endpoints' bearer token comes from, and its name. */
export type ActionTokenRef = z.output<typeof actionTokenRef>;
/** Steward's Vault connection, when configured. */
export type VaultConfig = NonNullable<StewardConfig["vault"]>;
/** A secret in Vault KV v2 named by the config. */
export type VaultSecretRef = z.output<typeof vaultRef>["vault"];

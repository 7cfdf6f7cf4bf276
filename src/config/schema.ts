import { z } from "zod";
import {
  DEFAULT_CONSUL_ADDRESS,
  DEFAULT_GIT_BRANCH,
  DEFAULT_GIT_FETCH_INTERVAL_MS,
  DEFAULT_GIT_SUBDIR,
  DEFAULT_LISTEN,
  DEFAULT_STATE_PREFIX,
} from "./defaults.js";

const tokenFrom = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
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
      token: tokenFrom.optional(),
    })
    .default({ address: DEFAULT_CONSUL_ADDRESS }),
  /** Consul KV prefix for Steward's leader lock, controls, journal and records. */
  statePrefix: z.string().min(1).default(DEFAULT_STATE_PREFIX),
  http: z.strictObject({ listen: z.string().default(DEFAULT_LISTEN) }).default({ listen: DEFAULT_LISTEN }),
  /** The shared secret of `POST /hooks/git` (X-Hub-Signature-256). Without it the hook is off. */
  webhookSecret: tokenFrom.optional(),
  /** This instance's name in the leader lock and in logs. @default the host name and process id */
  instanceId: z.string().min(1).optional(),
  /** Directory Steward may write to (its git mirror). @default .cache/steward under the working directory */
  dataDir: z.string().min(1).optional(),
});

export type StewardConfig = z.output<typeof configSchema>;
export type SecretRef = z.output<typeof tokenFrom>;

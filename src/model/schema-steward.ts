import { z } from "zod";
import {
  DEFAULT_MAX_PRUNE_SHARE,
  DEFAULT_NOMAD_NAMESPACE,
  DEFAULT_NOMAD_REGION,
  DEFAULT_PRUNE_GRACE_PERIOD_MS,
  DEFAULT_SYNC_ADOPT,
  DEFAULT_SYNC_DRIFT,
  DEFAULT_SYNC_PRUNE,
} from "../config/defaults.js";
import type { EnvironmentSpec, FreezeWindow, SyncPolicy, TokenSource } from "./types.js";
import { durationMs, envName, share, strict } from "./schema-common.js";

/** `http://host:port` or `https://…`; the trailing slash is dropped so clients can append `/v1/…`. */
const nomadAddress = z.string().transform((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    ctx.issues.push({ code: "custom", message: "must be an http(s) URL such as http://127.0.0.1:4646", input: text });
    return z.NEVER;
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    ctx.issues.push({ code: "custom", message: "must not carry a query, fragment or credentials (a token goes in nomad.token)", input: text });
    return z.NEVER;
  }
  return text.replace(/\/+$/, "");
});

const tokenSchema = strict({
  env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an environment variable name such as NOMAD_TOKEN_QA" }).optional(),
  vault: strict({ path: z.string().min(1), key: z.string().min(1) }).optional(),
})
  .refine((t) => (t.env === undefined) !== (t.vault === undefined), { error: "must set exactly one of env or vault" })
  .transform((t): TokenSource => (t.env !== undefined ? { kind: "env", name: t.env } : t.vault ? { kind: "vault", ...t.vault } : { kind: "none" }));

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** `Fri 18:00` (UTC) → minutes since Monday 00:00 UTC. */
const weekTime = z.string().transform((text, ctx) => {
  const m = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!m) {
    ctx.issues.push({ code: "custom", message: `must be a weekday and a UTC time such as "Fri 18:00" (Mon..Sun, 24-hour HH:MM)`, input: text });
    return z.NEVER;
  }
  return WEEKDAYS.indexOf(m[1] ?? "") * 1440 + Number(m[2]) * 60 + Number(m[3]);
});

/** A weekly freeze window in UTC: nothing is promoted into the environment from `from` until `to`; it wraps over Sunday night. */
const freezeWindowSchema = strict({ from: weekTime, to: weekTime })
  .refine((w) => w.from !== w.to, { error: "from and to are the same time; the window would be empty" })
  .transform((w): FreezeWindow => ({ fromMinute: w.from, toMinute: w.to, text: "" }));

const environmentSchema = strict({
  name: envName,
  nomad: strict({
    address: nomadAddress,
    region: z.string().min(1).default(DEFAULT_NOMAD_REGION),
    namespace: z.string().min(1).default(DEFAULT_NOMAD_NAMESPACE),
    token: tokenSchema.optional(),
  }),
  freeze: z.array(freezeWindowSchema, { error: "must be a list of { from, to } windows" }).optional(),
}).transform(
  (e): EnvironmentSpec => ({
    name: e.name,
    nomad: { address: e.nomad.address, region: e.nomad.region, namespace: e.nomad.namespace, token: e.nomad.token ?? { kind: "none" } },
    ...(e.freeze !== undefined && { freeze: e.freeze.map((w) => ({ ...w, text: `${weekText(w.fromMinute)} - ${weekText(w.toMinute)}` })) }),
  }),
);

function weekText(minute: number): string {
  const day = WEEKDAYS[Math.floor(minute / 1440)] ?? "?";
  const hm = minute % 1440;
  return `${day} ${String(Math.floor(hm / 60)).padStart(2, "0")}:${String(hm % 60).padStart(2, "0")} UTC`;
}

const driftSchema = z.enum(["heal", "report"], { error: "must be heal or report" });

/** The sync options a service may override: every field optional. */
export const syncOverrideSchema = strict({
  drift: driftSchema.optional(),
  adopt: z.boolean().optional(),
  prune: z.boolean().optional(),
  pruneGracePeriod: durationMs.optional(),
  maxPruneShare: share.optional(),
});

/** What a service's `sync:` may set; merged over steward.yaml's sync policy. */
export type SyncOverride = z.output<typeof syncOverrideSchema>;

const syncSchema = strict({
  drift: driftSchema.default(DEFAULT_SYNC_DRIFT),
  adopt: z.boolean().default(DEFAULT_SYNC_ADOPT),
  prune: z.boolean().default(DEFAULT_SYNC_PRUNE),
  pruneGracePeriod: durationMs.default(DEFAULT_PRUNE_GRACE_PERIOD_MS),
  maxPruneShare: share.default(DEFAULT_MAX_PRUNE_SHARE),
}).transform(
  (s): SyncPolicy => ({
    drift: s.drift,
    adopt: s.adopt,
    prune: s.prune,
    pruneGracePeriodMs: s.pruneGracePeriod,
    maxPruneShare: s.maxPruneShare,
  }),
);

/**
 * `steward.yaml`: the environments in promotion order and the sync defaults.
 * Environment names must be unique (checked by the loader, which knows lines).
 */
export const stewardFileSchema = strict({
  environments: z.array(environmentSchema, { error: listError }).min(1, { error: "must list at least one environment" }),
  sync: syncSchema.prefault({}),
});

/** The validated, defaulted content of `steward.yaml`. */
export type StewardFile = z.output<typeof stewardFileSchema>;

function listError(iss: { input: unknown }): string {
  return iss.input === undefined || iss.input === null ? "is required: list the environments in promotion order" : "must be a list of environments";
}

/** A service's sync policy: its overrides over the tree-wide defaults. */
export function mergeSync(defaults: SyncPolicy, over: SyncOverride | undefined): SyncPolicy {
  if (!over) return defaults;
  return {
    drift: over.drift ?? defaults.drift,
    adopt: over.adopt ?? defaults.adopt,
    prune: over.prune ?? defaults.prune,
    pruneGracePeriodMs: over.pruneGracePeriod ?? defaults.pruneGracePeriodMs,
    maxPruneShare: over.maxPruneShare ?? defaults.maxPruneShare,
  };
}

import { z } from "zod";
import {
  DEFAULT_POOL_COOLDOWN_MS,
  DEFAULT_POOL_DRAIN_DEADLINE_MS,
  DEFAULT_POOL_FLAP_COUNT,
  DEFAULT_POOL_FLAP_WINDOW_MS,
  DEFAULT_POOL_MAX_CONCURRENT,
  DEFAULT_POOL_MAX_UNHEALTHY_PERCENT,
  DEFAULT_POOL_UNHEALTHY_AFTER_MS,
  DEFAULT_TERRAFORM_WORKSPACE,
} from "../config/defaults.js";
import { durationMs, envName, strict } from "./schema-common.js";

const MAX_UNHEALTHY_HINT = 'must be a count (2) or a percentage ("40%")';

/** `2` (nodes) or `"40%"` (of the pool's nodes), as CAPI's maxUnhealthy. */
const maxUnhealthy = z.union([z.number(), z.string()], { error: MAX_UNHEALTHY_HINT }).transform((v, ctx) => {
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0) return { count: v };
  } else {
    const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(v.trim());
    const percent = m?.[1] !== undefined ? Number(m[1]) : NaN;
    if (percent >= 0 && percent <= 100) return { percent };
  }
  ctx.issues.push({ code: "custom", message: `${MAX_UNHEALTHY_HINT}, between 0 and 100%`, input: v });
  return z.NEVER;
});

const selectSchema = strict({
  nodePool: z.string().min(1).optional(),
  nodeClass: z.string().min(1).optional(),
  meta: z.record(z.string(), z.string({ error: "meta values must be strings (quote numbers: \"1\")" })).optional(),
}).refine((s) => s.nodePool !== undefined || s.nodeClass !== undefined || Object.keys(s.meta ?? {}).length > 0, {
  error: "must set at least one of nodePool, nodeClass, meta",
});

/** `${meta.<key>}` and `${node.name|id|class|pool}`: what an address template may refer to. */
export const ADDRESS_TEMPLATE_REF = /\$\{([^}]*)\}/g;
const ADDRESS_REF_NAME = /^(meta\.[A-Za-z0-9_.-]+|node\.(name|id|class|pool))$/;

/** A Terraform resource address with `${…}` references to the node (checked for its references only; Terraform checks the rest). */
const addressTemplate = z.string().min(1).superRefine((text, ctx) => {
  for (const m of text.matchAll(ADDRESS_TEMPLATE_REF)) {
    if (!ADDRESS_REF_NAME.test((m[1] ?? "").trim())) {
      ctx.addIssue({ code: "custom", message: `\${${m[1] ?? ""}} is not a node reference: use \${meta.<key>}, \${node.name}, \${node.id}, \${node.class} or \${node.pool}` });
    }
  }
});

/**
 * `pools/<name>.yaml`: a node pool for the healing loop. The environment name
 * is checked against steward.yaml by the loader.
 */
export const poolFileSchema = strict({
  env: envName,
  role: z.enum(["worker", "server"], { error: "must be worker or server" }),
  select: selectSchema,
  terraform: strict({
    dir: z.string().min(1),
    workspace: z.string().min(1).default(DEFAULT_TERRAFORM_WORKSPACE),
    address: addressTemplate,
  }),
  health: strict({
    unhealthyAfter: durationMs.default(DEFAULT_POOL_UNHEALTHY_AFTER_MS),
    /** A node that turned unhealthy `count` times within `window` flaps: reported, replaced only when `replace` is true. */
    flapping: strict({
      count: z.number().int({ error: "must be a whole number" }).min(2).default(DEFAULT_POOL_FLAP_COUNT),
      window: durationMs.default(DEFAULT_POOL_FLAP_WINDOW_MS),
      replace: z.boolean().default(false),
    }).prefault({}),
  }).prefault({}),
  drain: strict({
    deadline: durationMs.default(DEFAULT_POOL_DRAIN_DEADLINE_MS),
  }).prefault({}),
  budgets: strict({
    maxUnhealthy: maxUnhealthy.default({ percent: DEFAULT_POOL_MAX_UNHEALTHY_PERCENT }),
    maxConcurrent: z.number().int({ error: "must be a whole number" }).min(1).default(DEFAULT_POOL_MAX_CONCURRENT),
    cooldown: durationMs.default(DEFAULT_POOL_COOLDOWN_MS),
  }).prefault({}),
});

/** The validated, defaulted content of a pool file. */
export type PoolFile = z.output<typeof poolFileSchema>;

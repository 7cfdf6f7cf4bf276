import { z } from "zod";
import { DEFAULT_GATE_TIMEOUT_MS, DEFAULT_HTTP_GATE_STATUS } from "../config/defaults.js";
import { durationMs, envName, strict } from "./schema-common.js";
import { syncOverrideSchema } from "./schema-steward.js";
import { tagPolicySchema } from "./tag-policy.js";
import type { GateSpec, PromotionPolicy } from "./types.js";

/**
 * An image repository without tag or digest, as the Docker reference grammar
 * has it: an optional registry host (with port), then lowercase path
 * components. `127.0.0.1:5000/web`, `ghcr.io/acme/api`, `redis`.
 */
export const IMAGE_REPOSITORY =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** A content digest as registries give it: `sha256:` and 64 lowercase hex digits. */
export const IMAGE_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** An HCL identifier, which a job file's variable name must be. */
export const HCL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** The variable through which Steward hands the pinned image to every job file. */
export const IMAGE_VARIABLE = "image";

const variableName = z
  .string()
  .regex(HCL_IDENTIFIER, { error: "variable names must be HCL identifiers (letters, digits, _ and -, not starting with a digit)" })
  .refine((k) => k !== IMAGE_VARIABLE, {
    error: `"image" is set by Steward (repository@digest of the promoted image) and may not be set here`,
  });

const variableValue = z.union([z.string(), z.number(), z.boolean()], {
  error: (iss) => (iss.input === null || iss.input === undefined ? "has no value; give a string, number or boolean" : "must be a string, number or boolean"),
});

const serviceEnvironmentSchema = z.preprocess(
  // `qa:` with nothing under it means "runs in qa, no variables".
  (v) => (v === null ? {} : v),
  strict({ variables: z.record(variableName, variableValue).default({}) }),
);

/**
 * `services/<name>/service.yaml`. The job path is relative to the service's
 * directory; environment names are checked against steward.yaml by the
 * loader (the schema cannot know them).
 */
export const serviceFileSchema = strict({
  job: z.string().min(1).optional(),
  image: strict({
    repository: z.string().regex(IMAGE_REPOSITORY, {
      error: (iss) =>
        typeof iss.input === "string" && /[@]|:[^/]*$/.test(iss.input)
          ? "must be a repository without tag or digest (such as 127.0.0.1:5000/web); the digest goes in image.digest"
          : "must be an image repository such as 127.0.0.1:5000/web",
    }),
    digest: z.string().regex(IMAGE_DIGEST, { error: "must be sha256: followed by 64 lowercase hex digits" }).optional(),
    policy: tagPolicySchema.optional(),
  }),
  environments: z.record(envName, serviceEnvironmentSchema).optional(),
  sync: syncOverrideSchema.optional(),
  promotion: z.lazy(() => promotionSchema).optional(),
});

const GATE_KINDS = ["verify", "http", "soak", "prometheus", "manual"] as const;

/**
 * One gate: a mapping with exactly one of the gate kinds as its key
 * (`- verify: { job: tests.nomad.hcl }`, `- manual: true`). The deployment
 * gate is implicit and comes first.
 */
const gateSchema = strict({
  verify: strict({ job: z.string().min(1), timeout: durationMs.default(DEFAULT_GATE_TIMEOUT_MS) }).optional(),
  http: strict({
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    expectStatus: z.int().min(100, { error: "must be an HTTP status (100..599)" }).max(599, { error: "must be an HTTP status (100..599)" }).default(DEFAULT_HTTP_GATE_STATUS),
    timeout: durationMs.default(DEFAULT_GATE_TIMEOUT_MS),
  }).optional(),
  soak: strict({ duration: durationMs }).optional(),
  prometheus: strict({ query: z.string().min(1), below: z.number(), for: durationMs, timeout: durationMs.default(DEFAULT_GATE_TIMEOUT_MS) }).optional(),
  manual: z.literal(true, { error: "must be true (a manual approval gate)" }).optional(),
})
  .refine((g) => GATE_KINDS.filter((k) => g[k] !== undefined).length === 1, {
    error: `must have exactly one of ${GATE_KINDS.join(", ")}`,
    // An unknown key already has its own message ("did you mean verify?"); a second one would only repeat it.
    when: (payload) => payload.issues.length === 0,
  })
  .transform((g): GateSpec => {
    if (g.verify) return { kind: "verify", job: g.verify.job, timeoutMs: g.verify.timeout };
    if (g.http) return { kind: "http", url: g.http.url, expectStatus: g.http.expectStatus, timeoutMs: g.http.timeout };
    if (g.soak) return { kind: "soak", durationMs: g.soak.duration };
    if (g.prometheus) return { kind: "prometheus", query: g.prometheus.query, below: g.prometheus.below, forMs: g.prometheus.for, timeoutMs: g.prometheus.timeout };
    return { kind: "manual" };
  });

/**
 * service.yaml's `promotion`: the gates of each stage, in order, that a
 * digest must pass there before it enters the next stage. Stage names are
 * checked against the service's environments by the loader.
 */
const promotionSchema = strict({
  gates: z.record(envName, z.array(gateSchema, { error: "must be a list of gates" })).default({}),
}).transform((p): PromotionPolicy => ({ gates: p.gates }));

/** The validated content of a `service.yaml`, before defaults from steward.yaml are merged in. */
export type ServiceFile = z.output<typeof serviceFileSchema>;

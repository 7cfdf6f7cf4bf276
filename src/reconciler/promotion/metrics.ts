import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * The promotion loop's metrics (`steward_promotion_*`). Labels are bounded by
 * the desired state: `service` (services with `image.policy`), `stage`
 * (environments), gate `kind` (5) and closed result sets. The digest appears
 * only on the info metric, one series per (service, stage) at a time.
 */
export interface PromotionMetrics {
  /** New candidate digests the registry showed, per service. */
  candidatesSeen: Counter<"service">;
  /** Stage outcomes: `entered`, `passed`, `failed`, `rolled_back`, `superseded`. */
  promotions: Counter<"service" | "stage" | "result">;
  /** Gate outcomes by kind (`deployment` for the implicit first gate): `passed`, `failed`, `timed_out`. */
  gateResults: Counter<"service" | "stage" | "kind" | "result">;
  /** Seconds from the first sight of a candidate (registry push) to its last stage passing. */
  leadTime: Histogram<"service">;
  /** Always 1, labelled with the digest (first 19 characters) each stage runs per the journal. */
  stageDigest: Gauge<"service" | "stage" | "digest">;
  /** Digests that failed for good, per service. */
  failedDigests: Gauge<"service">;
  /** Operators' requests to retry a failed gate, by stage and result: `honoured`, `refused`. */
  gateRetries: Counter<"service" | "stage" | "result">;
}

/** Result labels of `steward_promotion_gate_retries_total`. */
export const GATE_RETRY_RESULTS = ["honoured", "refused"] as const;

/** Stage outcome labels of `steward_promotion_promotions_total`. */
export const PROMOTION_RESULTS = ["entered", "passed", "failed", "rolled_back", "superseded"] as const;

/**
 * The promotion metrics in `registry`, created on first call and reused
 * after (a daemon and its tests may ask twice).
 */
export function promotionMetrics(registry: Registry): PromotionMetrics {
  const existing = registry.getSingleMetric("steward_promotion_candidates_seen_total");
  const cache = registryCache.get(registry);
  if (existing && cache) return cache;
  const registers = [registry];
  const m: PromotionMetrics = {
    candidatesSeen: new Counter({ name: "steward_promotion_candidates_seen_total", help: "New candidate digests seen in the registry, per service.", labelNames: ["service"], registers }),
    promotions: new Counter({
      name: "steward_promotion_promotions_total",
      help: "Promotion stage outcomes by service, stage and result (entered, passed, failed, rolled_back, superseded).",
      labelNames: ["service", "stage", "result"],
      registers,
    }),
    gateResults: new Counter({
      name: "steward_promotion_gate_results_total",
      help: "Gate results by service, stage, gate kind (deployment, verify, http, soak, prometheus, manual) and result (passed, failed, timed_out).",
      labelNames: ["service", "stage", "kind", "result"],
      registers,
    }),
    leadTime: new Histogram({
      name: "steward_promotion_lead_time_seconds",
      help: "Seconds from a candidate's first sight in the registry to its last stage passing (push to prod healthy).",
      labelNames: ["service"],
      buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400],
      registers,
    }),
    stageDigest: new Gauge({
      name: "steward_promotion_stage_digest_info",
      help: "Always 1, labelled with the digest each stage of each service runs according to the promotion journal.",
      labelNames: ["service", "stage", "digest"],
      registers,
    }),
    failedDigests: new Gauge({ name: "steward_promotion_failed_digests", help: "Digests that failed for good, per service (never promoted again).", labelNames: ["service"], registers }),
    gateRetries: new Counter({
      name: "steward_promotion_gate_retries_total",
      help: "Operators' requests to retry a failed gate, by service, stage and result (honoured, refused).",
      labelNames: ["service", "stage", "result"],
      registers,
    }),
  };
  registryCache.set(registry, m);
  return m;
}

const registryCache = new WeakMap<Registry, PromotionMetrics>();

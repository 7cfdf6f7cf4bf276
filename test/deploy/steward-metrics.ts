// The metric names a running Steward exports: src/metrics.ts's registry with
// the promotion and healing loops' metrics registered on it, as the daemon
// does (src/reconciler/promotion/loop.ts and healing/loop.ts register them
// on the daemon's registry when they are built).
import { createMetrics } from "../../src/metrics.js";
import { createHealingMetrics } from "../../src/reconciler/healing/metrics.js";
import { promotionMetrics } from "../../src/reconciler/promotion/metrics.js";

/** Series Prometheus itself adds to every scrape. */
export const PROMETHEUS_SERIES = new Set(["up"]);

/** Steward's metric names as registered, with a histogram's `_bucket`, `_sum` and `_count` series. */
export async function stewardSeries(): Promise<Set<string>> {
  const m = createMetrics({ defaultMetrics: false });
  promotionMetrics(m.registry);
  createHealingMetrics(m.registry);
  const out = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    out.add(metric.name);
    if (String(metric.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) out.add(metric.name + s);
  }
  return out;
}

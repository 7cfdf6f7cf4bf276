import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Results of one replacement, for `steward_healing_replacements_total{result}`. */
export const REPLACEMENT_RESULTS = ["succeeded", "failed"] as const;
/** Results of one apply, for `steward_healing_applies_total{result}`. */
export const APPLY_RESULTS = ["succeeded", "failed", "timed_out", "lock_held"] as const;

/**
 * The healing loop's metrics, labelled by `pool` (bounded: the pools of the
 * desired state). Registered on Steward's registry by the loop.
 */
export interface HealingMetrics {
  /** Unhealthy nodes per pool (Nomad down/disconnected or serfHealth critical), as of the pool's last pass. */
  unhealthyNodes: Gauge<"pool">;
  /** Nodes unhealthy for at least the pool's unhealthyAfter. */
  lostNodes: Gauge<"pool">;
  /** 1 while the pool's maxUnhealthy guard holds replacements back. */
  shortCircuited: Gauge<"pool">;
  /** 1 while the pool is short-circuited and an operator acknowledged it (replacements proceed within the other guards). */
  shortCircuitAcknowledged: Gauge<"pool">;
  /** Passes that tripped the maxUnhealthy guard. */
  shortCircuitsTotal: Counter<"pool">;
  /** Finished replacements by result. */
  replacementsTotal: Counter<"pool" | "result">;
  /** Terraform applies by result. */
  appliesTotal: Counter<"pool" | "result">;
  /** Wall time of one apply, in seconds. */
  applyDuration: Histogram<"pool">;
  /** Applies the pool's working directory may start now (the smaller of its bucket and the global one). */
  budgetTokens: Gauge<"pool">;
  /** Instances with the pool's tag that the state does not hold. */
  orphanedInstances: Gauge<"pool">;
  /** From the node's loss (first seen unhealthy) to its replacement ready, in seconds. */
  lossToReady: Histogram<"pool">;
}

/** Creates the healing metrics on `registry` (once per registry). */
export function createHealingMetrics(registry: Registry): HealingMetrics {
  const registers = [registry];
  const existing = registry.getSingleMetric("steward_healing_unhealthy_nodes");
  if (existing) return HEALING_METRICS.get(registry) as HealingMetrics;
  const m: HealingMetrics = {
    unhealthyNodes: new Gauge({ name: "steward_healing_unhealthy_nodes", help: "Unhealthy nodes per pool (Nomad down or disconnected, or Consul serfHealth critical).", labelNames: ["pool"], registers }),
    lostNodes: new Gauge({ name: "steward_healing_lost_nodes", help: "Nodes unhealthy for at least the pool's unhealthyAfter.", labelNames: ["pool"], registers }),
    shortCircuited: new Gauge({ name: "steward_healing_short_circuited", help: "1 while more of the pool is unhealthy than maxUnhealthy allows and nothing is replaced.", labelNames: ["pool"], registers }),
    shortCircuitAcknowledged: new Gauge({
      name: "steward_healing_short_circuit_acknowledged",
      help: "1 while the pool is short-circuited and an operator acknowledged it, so replacements proceed within the other guards.",
      labelNames: ["pool"],
      registers,
    }),
    shortCircuitsTotal: new Counter({ name: "steward_healing_short_circuits_total", help: "Passes in which the pool's maxUnhealthy guard held replacements back.", labelNames: ["pool"], registers }),
    replacementsTotal: new Counter({ name: "steward_healing_replacements_total", help: "Node replacements finished, by result.", labelNames: ["pool", "result"], registers }),
    appliesTotal: new Counter({ name: "steward_healing_applies_total", help: "terraform apply runs of the healing loop, by result.", labelNames: ["pool", "result"], registers }),
    applyDuration: new Histogram({
      name: "steward_healing_apply_duration_seconds",
      help: "Wall time of one terraform apply of the healing loop.",
      labelNames: ["pool"],
      buckets: [5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 900, 1800],
      registers,
    }),
    budgetTokens: new Gauge({ name: "steward_healing_budget_tokens", help: "Applies the pool's Terraform working directory may start now (its bucket and the global one).", labelNames: ["pool"], registers }),
    orphanedInstances: new Gauge({ name: "steward_healing_orphaned_instances", help: "Instances carrying the pool's tag that the Terraform state does not hold.", labelNames: ["pool"], registers }),
    lossToReady: new Histogram({
      name: "steward_healing_loss_to_ready_seconds",
      help: "From a node's loss (first seen unhealthy) to its replacement ready in Nomad and Consul.",
      labelNames: ["pool"],
      buckets: [60, 120, 300, 420, 600, 900, 1200, 1800, 3600],
      registers,
    }),
  };
  HEALING_METRICS.set(registry, m);
  return m;
}

const HEALING_METRICS = new WeakMap<Registry, HealingMetrics>();

/** Creates a pool's series at zero, so dashboards and alerts see them before the first event. */
export function initPoolMetrics(m: HealingMetrics, pool: string): void {
  for (const g of [m.unhealthyNodes, m.lostNodes, m.shortCircuited, m.shortCircuitAcknowledged, m.orphanedInstances]) g.set({ pool }, 0);
  m.shortCircuitsTotal.inc({ pool }, 0);
  for (const result of REPLACEMENT_RESULTS) m.replacementsTotal.inc({ pool, result }, 0);
  for (const result of APPLY_RESULTS) m.appliesTotal.inc({ pool, result }, 0);
}

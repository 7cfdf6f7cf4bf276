/**
 * Why the healing planner chose an action for a pool or one of its nodes, as
 * a closed set of codes. Every action, "nothing" and refusals included,
 * carries one, so `steward plan` and the status can say why a node was or
 * was not replaced.
 */
export const HEALING_REASONS = {
  // per node, nothing to do
  Healthy: "the node is ready in Nomad and passing in Consul",
  Unhealthy: "the node is unhealthy, but not yet for the pool's unhealthyAfter; it may come back",
  Flapping: "the node turned unhealthy too often within the flap window; it is reported, and replaced only when the pool's health.flapping.replace is true",
  AddressUnresolved: "the pool's address template refers to node meta this node does not have; Steward cannot tell which resource replaces it",
  AddressNotInState: "the node's Terraform address is not in the working directory's state; check the pool's address template (steward validate --terraform)",
  // guards: they refuse new replacements and say why
  StaleView: "Steward's view of Nomad, Consul or the instances is not current; nothing is decided on a stale view",
  ShortCircuit: "more of the pool is unhealthy than maxUnhealthy allows: the cause is likely the network or something shared, not the nodes; nothing is replaced",
  ShortCircuitAcknowledged:
    "more of the pool is unhealthy than maxUnhealthy allows, but an operator acknowledged the short-circuit (steward/control/ack-short-circuit/<pool>): replacements proceed, still within maxConcurrent, cooldown, server quorum and the apply budget",
  ShortCircuitAckSpent: "the pool is no longer short-circuited: the acknowledgement covered that incident and is removed, so the next short-circuit needs a new one",
  MaxConcurrent: "the pool already has maxConcurrent replacements in flight",
  Cooldown: "the pool finished a replacement less than its cooldown ago",
  BudgetExhausted: "no Terraform apply is left in the budget's window (for the working directory or globally)",
  DirBusy: "an apply is already running in the pool's Terraform working directory",
  QuorumAtRisk: "the Raft peers that remain would not keep quorum (Nomad's or Consul's raft configuration or autopilot), so no server is replaced",
  QuorumUnknown: "the Raft configuration or autopilot health of this cluster could not be read; no server is replaced without it",
  ServerOneAtATime: "another server replacement is in flight; servers are replaced one at a time",
  // steps of a replacement
  NodeLostDrained: "the node is lost but still answers Nomad: it is made ineligible and drained (with the pool's deadline) before it is replaced",
  Draining: "the lost node is draining; it is replaced when the drain is done or its deadline has passed",
  InstanceRunningUnderDeadNode: "the node is lost while its instance still runs: terraform apply -replace recreates the instance",
  InstanceGone: "the node's instance is terminated or gone: a plain terraform apply recreates it",
  ApplyInFlight: "an apply for this node started (here or under an earlier leader) and has not ended; it is never started twice",
  ApplyRetryBackoff: "the last apply for this node failed; it is retried after its backoff",
  ReplacementPending: "the apply ran; waiting for the new node to be ready in Nomad and passing in Consul",
  ReplacementSlow: "the apply ran, but no new node has become ready within the boot timeout; still waiting (see the instance's console)",
  ReplacementReady: "the new node is ready: the old one is purged from Nomad and deregistered from Consul's catalog",
  // the pool's instances
  OrphanedInstance: "an instance carries the pool's tag but the Terraform state does not hold it (a failed apply may have left it); reported, never deleted",
} as const;

/** One of the healing planner's reason codes. */
export type HealingReason = keyof typeof HEALING_REASONS;

import test from "ava";
import type { PoolSpec } from "../../../src/model/types.js";
import { planHealing, type HealingPlan, type HealingSnapshot, type InstanceObservation, type InstancesView, type NodeObservation } from "../../../src/reconciler/healing/plan.js";
import { newIncident, advanceIncident, type IncidentRecord, type IncidentStep } from "../../../src/reconciler/healing/journal.js";
import { HEALING_REASONS, type HealingReason } from "../../../src/reconciler/healing/reasons.js";
import { NOW } from "../../helpers/builders.js";

const MIN = 60_000;
const ADDR = (k: string): string => `module.workers.aws_instance.worker["${k}"]`;

function aPool(over: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: "workers",
    file: "pools/workers.yaml",
    env: "prod",
    role: "worker",
    select: { meta: { steward_pool: "workers" } },
    terraform: { dir: "tf/workers", workspace: "default", address: 'module.workers.aws_instance.worker["${meta.terraform_key}"]' },
    health: { unhealthyAfterMs: 5 * MIN, flapping: { count: 3, windowMs: 30 * MIN, replace: false } },
    drain: { deadlineMs: 5 * MIN },
    budgets: { maxUnhealthy: { percent: 40 }, maxConcurrent: 1, cooldownMs: 2 * MIN },
    ...over,
  };
}

/** A healthy node `k` (id `node-k`, meta terraform_key k); override what the row is about. */
function aNode(k: string, over: Partial<NodeObservation> = {}): NodeObservation {
  return {
    id: `node-${k}`,
    name: `workers-${k}`,
    nomadStatus: "ready",
    eligible: true,
    draining: false,
    serf: "passing",
    nodeClass: "",
    nodePool: "default",
    meta: { steward_pool: "workers", terraform_key: k },
    unhealthyTurns: [],
    ...over,
  };
}

/** Dead for `minutes` (Nomad down, serf critical). */
function dead(k: string, minutes: number, over: Partial<NodeObservation> = {}): NodeObservation {
  return aNode(k, { nomadStatus: "down", serf: "critical", unhealthySince: NOW - minutes * MIN, unhealthyTurns: [NOW - minutes * MIN], ...over });
}

function instances(keys: string[], state: InstanceObservation["state"] = "running", over: Record<string, InstanceObservation> = {}, orphans: string[] = []): InstancesView {
  const m = new Map<string, InstanceObservation>(keys.map((k) => [ADDR(k), { id: `i-${k}`, state }]));
  for (const [k, v] of Object.entries(over)) m.set(ADDR(k), v);
  return { byAddress: m, orphans };
}

function incident(k: string, step: IncidentStep, over: Partial<IncidentRecord> = {}): IncidentRecord {
  const base = newIncident({ pool: "workers", nodeId: `node-${k}`, nodeName: `workers-${k}`, address: ADDR(k), oldInstanceId: `i-${k}`, unhealthySince: NOW - 10 * MIN }, "draining", NOW - 4 * MIN, "opened");
  return { ...advanceIncident(base, step, NOW - 3 * MIN, step), ...over };
}

const KEYS = ["a", "b", "c", "d", "e"];
const ACK = { by: "alice via cli", reason: "rack 4 lost", at: "2026-11-25T19:00:00.000Z" };

function snap(over: Partial<HealingSnapshot> = {}): HealingSnapshot {
  return {
    pool: aPool(),
    nodes: KEYS.map((k) => aNode(k)),
    instances: instances(KEYS),
    incidents: [],
    stale: [],
    budget: { tokens: 2, dirBusy: false },
    applying: new Set(),
    timing: { applyTimeoutMs: 15 * MIN, bootTimeoutMs: 10 * MIN },
    ...over,
  };
}

/** The five nodes with some replaced by the given ones (by key). */
function nodes(...changed: NodeObservation[]): NodeObservation[] {
  return KEYS.map((k) => changed.find((n) => n.meta.terraform_key === k && n.id === `node-${k}`) ?? aNode(k)).concat(changed.filter((n) => n.id !== `node-${n.meta.terraform_key}`));
}

interface Row {
  name: string;
  given: HealingSnapshot;
  want: Array<{ kind: string; reason: HealingReason }>;
  check?: (p: HealingPlan) => string | undefined;
}

const rows: Row[] = [
  {
    name: "healthy_pool_does_nothing",
    given: snap(),
    want: [{ kind: "noop", reason: "Healthy" }],
  },
  {
    name: "unhealthy_below_unhealthy_after_waits_until_then",
    given: snap({ nodes: nodes(dead("a", 2)) }),
    want: [{ kind: "noop", reason: "Unhealthy" }],
    check: (p) => (p.recheckAfterMs === 3 * MIN ? undefined : `recheck at the loss time, got ${p.recheckAfterMs}`),
  },
  {
    name: "node_back_before_timeout_is_untouched",
    given: snap({ nodes: nodes(aNode("a", { unhealthyTurns: [NOW - 3 * MIN] })) }),
    want: [{ kind: "noop", reason: "Healthy" }],
  },
  {
    name: "lost_node_with_running_instance_is_replaced",
    given: snap({ nodes: nodes(dead("a", 6)) }),
    want: [{ kind: "apply", reason: "InstanceRunningUnderDeadNode" }],
    check: (p) => {
      const a = p.actions[0];
      return a?.kind === "apply" && a.replace.join() === ADDR("a") && a.recreate.length === 0 ? undefined : "one -replace of worker a";
    },
  },
  {
    name: "lost_node_with_terminated_instance_gets_plain_apply",
    given: snap({ nodes: nodes(dead("a", 6)), instances: instances(KEYS, "running", { a: { id: "i-a", state: "terminated" } }) }),
    want: [{ kind: "apply", reason: "InstanceGone" }],
    check: (p) => {
      const a = p.actions[0];
      return a?.kind === "apply" && a.replace.length === 0 && a.recreate.join() === ADDR("a") ? undefined : "a plain apply, no -replace";
    },
  },
  {
    name: "lost_node_that_still_answers_is_drained_first",
    given: snap({ nodes: nodes(aNode("a", { serf: "critical", unhealthySince: NOW - 6 * MIN, unhealthyTurns: [NOW - 6 * MIN] })) }),
    want: [{ kind: "drain", reason: "NodeLostDrained" }],
  },
  {
    name: "draining_node_waits_for_its_drain",
    given: snap({ nodes: nodes(aNode("a", { serf: "critical", draining: true, eligible: false, unhealthySince: NOW - 9 * MIN })), incidents: [incident("a", "draining")] }),
    want: [{ kind: "noop", reason: "Draining" }],
  },
  {
    name: "drained_node_is_replaced",
    given: snap({ nodes: nodes(aNode("a", { serf: "critical", draining: false, eligible: false, unhealthySince: NOW - 9 * MIN })), incidents: [incident("a", "draining")] }),
    want: [{ kind: "apply", reason: "InstanceRunningUnderDeadNode" }],
  },
  {
    name: "flapping_node_is_reported_not_replaced",
    given: snap({ nodes: nodes(dead("a", 6, { unhealthyTurns: [NOW - 20 * MIN, NOW - 12 * MIN, NOW - 6 * MIN] })) }),
    want: [{ kind: "noop", reason: "Flapping" }],
  },
  {
    name: "flapping_node_is_replaced_when_the_pool_says_so",
    given: snap({
      pool: aPool({ health: { unhealthyAfterMs: 5 * MIN, flapping: { count: 3, windowMs: 30 * MIN, replace: true } } }),
      nodes: nodes(dead("a", 6, { unhealthyTurns: [NOW - 20 * MIN, NOW - 12 * MIN, NOW - 6 * MIN] })),
    }),
    want: [{ kind: "apply", reason: "InstanceRunningUnderDeadNode" }],
  },
  {
    name: "more_unhealthy_than_max_unhealthy_short_circuits",
    given: snap({ nodes: nodes(dead("a", 6), dead("b", 6), dead("c", 6)) }),
    want: [{ kind: "noop", reason: "ShortCircuit" }],
    check: (p) => (p.summary.shortCircuited && p.summary.unhealthy === 3 && p.summary.members === 5 ? undefined : "summary shows the short-circuit"),
  },
  {
    name: "max_unhealthy_as_count",
    given: snap({ pool: aPool({ budgets: { maxUnhealthy: { count: 0 }, maxConcurrent: 1, cooldownMs: 0 } }), nodes: nodes(dead("a", 6)) }),
    want: [{ kind: "noop", reason: "ShortCircuit" }],
  },
  {
    name: "max_concurrent_holds_back_the_rest",
    given: snap({ nodes: nodes(dead("a", 7), dead("b", 6)) }),
    want: [
      { kind: "noop", reason: "MaxConcurrent" },
      { kind: "apply", reason: "InstanceRunningUnderDeadNode" },
    ],
    check: (p) => (p.actions.find((a) => a.kind === "apply")?.message.includes("workers-a") ? undefined : "the longest-lost node goes first"),
  },
  {
    name: "in_flight_replacement_takes_the_slot",
    given: snap({ nodes: nodes(dead("a", 12), dead("b", 6)), incidents: [incident("a", "applied", { appliedAt: NOW - MIN })] }),
    want: [
      { kind: "noop", reason: "ReplacementPending" },
      { kind: "noop", reason: "MaxConcurrent" },
    ],
  },
  {
    name: "cooldown_after_a_replacement",
    given: snap({ nodes: nodes(dead("b", 6)), incidents: [incident("a", "done", { finishedAt: NOW - MIN })] }),
    want: [{ kind: "noop", reason: "Cooldown" }],
    check: (p) => (p.recheckAfterMs === MIN ? undefined : `recheck when the cooldown ends, got ${p.recheckAfterMs}`),
  },
  {
    name: "no_budget_token_no_apply",
    given: snap({ nodes: nodes(dead("a", 6)), budget: { tokens: 0, nextTokenInMs: 30_000, dirBusy: false } }),
    want: [{ kind: "noop", reason: "BudgetExhausted" }],
    check: (p) => (p.recheckAfterMs === 30_000 ? undefined : "recheck when a token comes"),
  },
  {
    name: "busy_working_directory_no_apply",
    given: snap({ nodes: nodes(dead("a", 6)), budget: { tokens: 1, dirBusy: true } }),
    want: [{ kind: "noop", reason: "DirBusy" }],
  },
  {
    name: "several_lost_nodes_are_batched_into_one_apply",
    given: snap({
      pool: aPool({ budgets: { maxUnhealthy: { count: 3 }, maxConcurrent: 3, cooldownMs: 0 } }),
      nodes: nodes(dead("a", 6), dead("b", 6), dead("c", 6)),
      instances: instances(KEYS, "running", { c: { id: "i-c", state: "terminated" } }),
    }),
    want: [{ kind: "apply", reason: "InstanceRunningUnderDeadNode" }],
    check: (p) => {
      const a = p.actions[0];
      return a?.kind === "apply" && a.replace.length === 2 && a.recreate.join() === ADDR("c") && a.nodes.length === 3 ? undefined : "one apply: two -replace, one recreate";
    },
  },
  {
    name: "stale_view_decides_nothing",
    given: snap({ nodes: nodes(dead("a", 6)), stale: ["consul-health"] }),
    want: [{ kind: "noop", reason: "StaleView" }],
  },
  {
    name: "stale_state_decides_no_apply",
    given: snap({ nodes: nodes(dead("a", 6)), stateStale: true }),
    want: [{ kind: "noop", reason: "StaleView" }],
  },
  {
    name: "stale_state_still_lets_a_ready_replacement_purge_the_old_node",
    given: snap({ nodes: nodes(dead("a", 9), aNode("a", { id: "node-a2" })), incidents: [incident("a", "applied", { appliedAt: NOW - MIN })], stateStale: true }),
    want: [
      { kind: "purge", reason: "ReplacementReady" },
      { kind: "noop", reason: "StaleView" },
    ],
  },
  {
    name: "unresolvable_address_is_reported",
    given: snap({ nodes: nodes(dead("a", 6, { meta: { steward_pool: "workers", terraform_key: "a" } }), dead("x", 6, { id: "node-y", meta: { steward_pool: "workers" } })) }),
    want: [
      { kind: "noop", reason: "AddressUnresolved" },
      { kind: "apply", reason: "InstanceRunningUnderDeadNode" },
    ],
  },
  {
    name: "address_not_in_state_is_reported",
    given: snap({ nodes: nodes(dead("a", 6)), instances: instances(["b", "c", "d", "e"]) }),
    want: [{ kind: "noop", reason: "AddressNotInState" }],
  },
  {
    name: "orphaned_instances_are_reported",
    given: snap({ instances: instances(KEYS, "running", {}, ["i-orphan"]) }),
    want: [{ kind: "report", reason: "OrphanedInstance" }],
    check: (p) => (p.summary.orphans === 1 ? undefined : "summary counts the orphan"),
  },
  {
    name: "apply_running_here_is_not_started_again",
    given: snap({ nodes: nodes(dead("a", 9)), incidents: [incident("a", "applying", { applyStartedAt: NOW - MIN })], applying: new Set(["node-a"]) }),
    want: [{ kind: "noop", reason: "ApplyInFlight" }],
  },
  {
    name: "apply_of_a_dead_leader_is_waited_for",
    given: snap({ nodes: nodes(dead("a", 9)), incidents: [incident("a", "applying", { applyStartedAt: NOW - MIN })] }),
    want: [{ kind: "noop", reason: "ApplyInFlight" }],
  },
  {
    name: "apply_of_a_dead_leader_that_finished_is_confirmed_not_repeated",
    given: snap({ nodes: nodes(dead("a", 9)), incidents: [incident("a", "applying", { applyStartedAt: NOW - MIN })], instances: instances(KEYS, "running", { a: { id: "i-new", state: "pending" } }) }),
    want: [{ kind: "confirm-applied", reason: "ReplacementPending" }],
  },
  {
    name: "apply_that_never_ended_is_started_again_after_its_timeout",
    given: snap({ nodes: nodes(dead("a", 30)), incidents: [incident("a", "applying", { applyStartedAt: NOW - 20 * MIN })] }),
    want: [{ kind: "apply", reason: "InstanceRunningUnderDeadNode" }],
  },
  {
    name: "failed_apply_backs_off",
    given: snap({ nodes: nodes(dead("a", 9)), incidents: [incident("a", "apply-failed", { retryAt: NOW + 30_000, lastError: "InsufficientInstanceCapacity" })] }),
    want: [{ kind: "noop", reason: "ApplyRetryBackoff" }],
    check: (p) => (p.actions[0]?.message.includes("InsufficientInstanceCapacity") ? undefined : "the diagnostic is shown"),
  },
  {
    name: "failed_apply_is_retried_after_backoff_as_recreate_when_the_instance_is_gone",
    given: snap({ nodes: nodes(dead("a", 9)), incidents: [incident("a", "apply-failed", { retryAt: NOW - 1 })], instances: instances(["b", "c", "d", "e"]) }),
    want: [{ kind: "apply", reason: "InstanceGone" }],
  },
  {
    name: "replacement_still_coming_up_is_not_replaced_again",
    given: snap({
      nodes: nodes(dead("a", 9), aNode("a", { id: "node-a2", nomadStatus: "initializing" })),
      incidents: [incident("a", "applied", { appliedAt: NOW - MIN })],
      instances: instances(KEYS, "running", { a: { id: "i-a2", state: "running" } }),
    }),
    want: [{ kind: "noop", reason: "ReplacementPending" }],
  },
  {
    name: "slow_replacement_is_reported",
    given: snap({ nodes: nodes(dead("a", 30)), incidents: [incident("a", "applied", { appliedAt: NOW - 11 * MIN })] }),
    want: [{ kind: "noop", reason: "ReplacementSlow" }],
  },
  {
    name: "ready_replacement_purges_the_old_node",
    given: snap({ nodes: nodes(dead("a", 9), aNode("a", { id: "node-a2" })), incidents: [incident("a", "applied", { appliedAt: NOW - MIN })] }),
    want: [{ kind: "purge", reason: "ReplacementReady" }],
    check: (p) => {
      const a = p.actions[0];
      return a?.kind === "purge" && a.node.id === "node-a" && a.newNodeId === "node-a2" ? undefined : "purges node-a for node-a2";
    },
  },
  {
    name: "purge_is_repeated_until_done",
    given: snap({ nodes: nodes(dead("a", 9), aNode("a", { id: "node-a2" })), incidents: [incident("a", "purging", { newNodeId: "node-a2" })] }),
    want: [{ kind: "purge", reason: "ReplacementReady" }],
  },
  {
    name: "replaced_node_left_over_is_not_counted",
    given: snap({ nodes: nodes(dead("a", 30), aNode("a", { id: "node-a2" })), incidents: [incident("a", "done", { finishedAt: NOW - 10 * MIN })] }),
    want: [{ kind: "noop", reason: "Healthy" }],
  },
  {
    name: "server_lost_with_quorum_is_replaced",
    given: snap({
      pool: aPool({ role: "server", budgets: { maxUnhealthy: { count: 1 }, maxConcurrent: 1, cooldownMs: 0 } }),
      nodes: nodes(dead("a", 6)),
      quorum: { nomad: { voters: 3, healthyVoters: 2, autopilotHealthy: true }, consul: { voters: 3, healthyVoters: 2 } },
    }),
    want: [{ kind: "apply", reason: "InstanceRunningUnderDeadNode" }],
  },
  {
    name: "server_not_replaced_without_quorum",
    given: snap({
      pool: aPool({ role: "server", budgets: { maxUnhealthy: { count: 2 }, maxConcurrent: 1, cooldownMs: 0 } }),
      nodes: nodes(dead("a", 6), dead("b", 6)),
      quorum: { nomad: { voters: 3, healthyVoters: 1 }, consul: { voters: 3, healthyVoters: 1 } },
    }),
    want: [{ kind: "noop", reason: "QuorumAtRisk" }],
  },
  {
    name: "server_not_replaced_when_autopilot_objects",
    given: snap({
      pool: aPool({ role: "server", budgets: { maxUnhealthy: { count: 1 }, maxConcurrent: 1, cooldownMs: 0 } }),
      nodes: nodes(dead("a", 6)),
      quorum: { nomad: { voters: 3, healthyVoters: 2, autopilotHealthy: false }, consul: { voters: 3, healthyVoters: 2 } },
    }),
    want: [{ kind: "noop", reason: "QuorumAtRisk" }],
  },
  {
    name: "server_not_replaced_when_raft_is_unknown",
    given: snap({ pool: aPool({ role: "server", budgets: { maxUnhealthy: { count: 1 }, maxConcurrent: 1, cooldownMs: 0 } }), nodes: nodes(dead("a", 6)) }),
    want: [{ kind: "noop", reason: "QuorumUnknown" }],
  },
  {
    name: "second_server_waits_for_the_first",
    given: snap({
      pool: aPool({ role: "server", budgets: { maxUnhealthy: { count: 2 }, maxConcurrent: 3, cooldownMs: 0 } }),
      nodes: nodes(dead("a", 12), dead("b", 6)),
      incidents: [incident("a", "applied", { appliedAt: NOW - MIN })],
      quorum: { nomad: { voters: 3, healthyVoters: 2 }, consul: { voters: 3, healthyVoters: 2 } },
    }),
    want: [
      { kind: "noop", reason: "ReplacementPending" },
      { kind: "noop", reason: "ServerOneAtATime" },
    ],
  },
  {
    name: "short_circuited_and_acknowledged_replaces_within_max_concurrent",
    given: snap({ nodes: nodes(dead("a", 8), dead("b", 7), dead("c", 6)), shortCircuitAck: ACK }),
    want: [
      { kind: "noop", reason: "ShortCircuitAcknowledged" },
      { kind: "noop", reason: "MaxConcurrent" },
      { kind: "apply", reason: "InstanceRunningUnderDeadNode" },
    ],
    check: (p) => {
      const a = p.actions.find((x) => x.kind === "apply");
      if (a?.kind !== "apply" || a.replace.join() !== ADDR("a")) return "one -replace, of the longest-lost node";
      if (!p.summary.shortCircuited || !p.summary.shortCircuitAcknowledged) return "the summary shows the short-circuit and its acknowledgement";
      return p.actions[0]?.message.includes("by alice") && p.actions[0].message.includes("rack 4") ? undefined : "the message names who acknowledged it and why";
    },
  },
  {
    name: "acknowledged_short_circuit_still_waits_for_the_replacement_in_flight",
    given: snap({ nodes: nodes(dead("a", 12), dead("b", 7), dead("c", 6), dead("d", 6)), incidents: [incident("a", "applied", { appliedAt: NOW - MIN })], shortCircuitAck: ACK }),
    want: [
      { kind: "noop", reason: "ReplacementPending" },
      { kind: "noop", reason: "ShortCircuitAcknowledged" },
      { kind: "noop", reason: "MaxConcurrent" },
    ],
  },
  {
    name: "acknowledged_short_circuit_still_needs_a_budget_token",
    given: snap({ nodes: nodes(dead("a", 8), dead("b", 7), dead("c", 6)), shortCircuitAck: ACK, budget: { tokens: 0, nextTokenInMs: 4 * MIN, dirBusy: false } }),
    want: [
      { kind: "noop", reason: "ShortCircuitAcknowledged" },
      { kind: "noop", reason: "MaxConcurrent" },
      { kind: "noop", reason: "BudgetExhausted" },
    ],
  },
  {
    name: "acknowledged_short_circuit_of_servers_still_needs_quorum",
    given: snap({
      pool: aPool({ role: "server", budgets: { maxUnhealthy: { count: 0 }, maxConcurrent: 1, cooldownMs: 0 } }),
      nodes: nodes(dead("a", 6)),
      quorum: { nomad: { voters: 3, healthyVoters: 1 }, consul: { voters: 3, healthyVoters: 2 } },
      shortCircuitAck: ACK,
    }),
    want: [
      { kind: "noop", reason: "ShortCircuitAcknowledged" },
      { kind: "noop", reason: "QuorumAtRisk" },
    ],
  },
  {
    name: "acknowledged_short_circuit_still_keeps_the_cooldown",
    given: snap({
      pool: aPool({ budgets: { maxUnhealthy: { count: 1 }, maxConcurrent: 2, cooldownMs: 2 * MIN } }),
      nodes: nodes(dead("a", 8), dead("b", 7)),
      incidents: [incident("e", "done", { finishedAt: NOW - MIN })],
      shortCircuitAck: ACK,
    }),
    want: [
      { kind: "noop", reason: "ShortCircuitAcknowledged" },
      { kind: "noop", reason: "Cooldown" },
    ],
  },
  {
    name: "acknowledgement_is_removed_once_the_pool_is_no_longer_short_circuited",
    given: snap({ shortCircuitAck: ACK }),
    want: [{ kind: "clear-ack", reason: "ShortCircuitAckSpent" }],
    check: (p) => (!p.summary.shortCircuitAcknowledged ? undefined : "not in use"),
  },
  {
    name: "acknowledgement_is_removed_while_the_last_replacement_boots",
    given: snap({ nodes: nodes(dead("a", 12)), incidents: [incident("a", "applied", { appliedAt: NOW - MIN })], shortCircuitAck: ACK, stateStale: true }),
    want: [
      { kind: "noop", reason: "ReplacementPending" },
      { kind: "noop", reason: "StaleView" },
      { kind: "clear-ack", reason: "ShortCircuitAckSpent" },
    ],
  },
  {
    name: "acknowledgement_is_kept_while_the_node_view_is_stale",
    given: snap({ nodes: nodes(dead("a", 8), dead("b", 7), dead("c", 6)), shortCircuitAck: ACK, stale: ["consul-health"] }),
    want: [{ kind: "noop", reason: "StaleView" }],
  },
];

for (const row of rows) {
  test(row.name, (t) => {
    const plan = planHealing(row.given, NOW);
    t.deepEqual(
      plan.actions.map((a) => ({ kind: a.kind, reason: a.reason })),
      row.want,
      plan.actions.map((a) => a.message).join("\n"),
    );
    for (const a of plan.actions) t.true(a.message.length > 0);
    const problem = row.check?.(plan);
    t.is(problem, undefined, problem);
  });
}

test("every_reason_code_appears_in_a_row", (t) => {
  const seen = new Set(rows.flatMap((r) => planHealing(r.given, NOW).actions.map((a) => a.reason)));
  const missing = (Object.keys(HEALING_REASONS) as HealingReason[]).filter((r) => !seen.has(r));
  t.deepEqual(missing, []);
});

import type { ExecutionContext } from "ava";
import type { KeyStatus } from "../../src/reconciler/core/status.js";

/**
 * The rules every key's status obeys (fluxcd/pkg conditions/check), as
 * messages naming the key, one per violation; empty when all hold:
 * - Ready is present exactly once, and first;
 * - Reconciling and Stalled appear only while True, and never together;
 * - Stalled implies Ready=False;
 * - Reconciling is absent when Ready=True;
 * - every key that is not Ready=True has a reason and a message on Ready.
 */
export function statusViolations(statuses: Iterable<KeyStatus>): string[] {
  const out: string[] = [];
  for (const s of statuses) {
    const at = (msg: string): void => void out.push(`${s.key}: ${msg}`);
    const ready = s.conditions.filter((c) => c.type === "Ready");
    const reconciling = s.conditions.find((c) => c.type === "Reconciling");
    const stalled = s.conditions.find((c) => c.type === "Stalled");
    if (ready.length !== 1) at(`Ready present ${ready.length} times, want 1`);
    if (s.conditions[0]?.type !== "Ready") at("Ready is not the first condition");
    const r = ready[0];
    if (reconciling && reconciling.status !== "True") at(`Reconciling shown while ${reconciling.status}`);
    if (stalled && stalled.status !== "True") at(`Stalled shown while ${stalled.status}`);
    if (reconciling && stalled) at("Reconciling and Stalled both present");
    if (stalled && r?.status !== "False") at(`Stalled but Ready=${r?.status}`);
    if (reconciling && r?.status === "True") at("Reconciling while Ready=True");
    if (r && r.status !== "True" && (!r.reason || !r.message)) at(`Ready=${r.status} without reason and message`);
    for (const c of s.conditions) {
      if (Number.isNaN(Date.parse(c.lastTransitionTime))) at(`${c.type} has no valid lastTransitionTime`);
    }
  }
  return out;
}

/** Fails the test with every violation of the status rules. */
export function assertStatusInvariants(t: ExecutionContext, statuses: Iterable<KeyStatus>): void {
  t.deepEqual(statusViolations(statuses), [], "status invariants");
}

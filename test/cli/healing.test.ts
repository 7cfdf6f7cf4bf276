import test from "ava";
import { formatHealing } from "../../src/cli/healing.js";

test("pools_show_counts_reasons_and_open_incidents", (t) => {
  const lines = formatHealing([
    {
      pool: "workers",
      env: "prod",
      role: "worker",
      at: 0,
      summary: { members: 5, unhealthy: 3, lost: 3, shortCircuited: true, shortCircuitAcknowledged: false, inFlight: 1, orphans: 1 },
      actions: [{ kind: "noop", reason: "ShortCircuit", message: "3 of 5 nodes of pool workers are unhealthy" }],
      budgetTokens: 2,
      incidents: [{ nodeName: "workers-a", address: 'w["a"]', step: "apply-failed", attempts: 2, unhealthySince: 0, lastError: "RequestLimitExceeded" }],
    },
  ]);
  t.regex(lines[0] ?? "", /pool workers \(worker, prod\): 5 nodes, 3 unhealthy, 3 lost, 1 replacement\(s\) in flight, SHORT-CIRCUITED, 1 orphaned instance\(s\), 2 apply\(s\) left in the budget/);
  t.regex(lines[1] ?? "", /\[ShortCircuit\] 3 of 5/);
  t.regex(lines[2] ?? "", /incident workers-a → w\["a"\]: apply-failed, 2 apply\(s\); last error: RequestLimitExceeded/);
});

test("an_acknowledged_short_circuit_names_who_and_an_apply_shows_its_last_terraform_line", (t) => {
  const lines = formatHealing([
    {
      pool: "workers",
      env: "prod",
      role: "worker",
      at: 0,
      summary: { members: 5, unhealthy: 3, lost: 3, shortCircuited: true, shortCircuitAcknowledged: true, inFlight: 1, orphans: 0 },
      shortCircuitAck: { by: "alice", reason: "rack 4 lost", at: "2026-11-25T19:00:00.000Z" },
      actions: [{ kind: "noop", reason: "ShortCircuitAcknowledged", message: "3 of 5 nodes of pool workers are unhealthy; short-circuit acknowledged by alice" }],
      budgetTokens: 1,
      incidents: [
        {
          nodeName: "workers-a",
          address: 'w["a"]',
          step: "applying",
          attempts: 1,
          unhealthySince: 0,
          progress: [
            { at: 1, level: "info", message: 'w["a"]: Destroying... [id=i-a]' },
            { at: 2, level: "info", message: 'w["a"]: Creating...' },
          ],
        },
      ],
    },
  ]);
  t.regex(lines[0] ?? "", /SHORT-CIRCUITED \(acknowledged by alice at 2026-11-25T19:00:00.000Z \(rack 4 lost\)\)/);
  t.regex(lines[1] ?? "", /\[ShortCircuitAcknowledged\]/);
  t.is(lines[3], '      terraform: w["a"]: Creating...');
});

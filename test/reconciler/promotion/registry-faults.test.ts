import test from "ava";
import type { FaultRule } from "../../../sim/core/faults.js";
import { eventually } from "../../helpers/eventually.js";
import { promotionFixture, runningImage } from "../../helpers/promotion-fixture.js";

const ZERO = `sha256:${"0".repeat(64)}`;

/**
 * One row per way the registry can misbehave (sim's registry, which injects
 * faults; the calls Steward makes are the same against the real one). While
 * the fault holds: polls fail (or find nothing) and back off, nothing is
 * promoted, qa keeps what it ran. Once it clears, a notification brings the
 * build through.
 */
const ROWS: Array<{ name: string; fault: Omit<FaultRule, "target">; failsPolls: boolean }> = [
  { name: "registry_down_503", fault: { kind: "error", status: 503, path: "/v2/" }, failsPolls: true },
  { name: "registry_slow_past_the_timeout", fault: { kind: "latency", latencyMs: 2_500, path: "/v2/" }, failsPolls: true },
  { name: "registry_refuses_steward_401", fault: { kind: "error", status: 401, path: "/v2/", body: { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] } }, failsPolls: true },
  { name: "registry_throttles_429", fault: { kind: "throttle", retryAfterS: 1, path: "/v2/" }, failsPolls: true },
  { name: "registry_answers_404_name_unknown", fault: { kind: "error", status: 404, path: "/v2/", body: { errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }] } }, failsPolls: false },
];

for (const row of ROWS) {
  test(`${row.name}_promotes_nothing_backs_off_and_recovers`, async (t) => {
    const f = await promotionFixture({ registry: "sim" });
    try {
      const a = await f.instance();
      await a.lead();
      await eventually(async () => (await runningImage(f.nomad.qa!)) === `${f.repository}@${ZERO}`, { timeoutMs: 15_000 });
      const fault = f.sim.control.addFault({ target: "registry", ...row.fault });
      const digest = await f.push(1);
      a.promotion.notify([{ repository: "hello" }]);
      const state = (): { failures: number; lastOkAt?: number } => a.promotion.status()[0]?.registry ?? { failures: 0 };
      if (row.failsPolls) await eventually(() => state().failures >= 1, { timeoutMs: 20_000 });
      else await eventually(() => state().lastOkAt !== undefined && f.sim.log.find({ server: "registry" }).length > 0, { timeoutMs: 10_000 });
      // Backoff: over a second, a handful of calls at most, not a tight loop.
      const before = f.sim.log.find({ server: "registry" }).length;
      await new Promise((r) => setTimeout(r, 1_000));
      const calls = f.sim.log.find({ server: "registry" }).length - before;
      t.true(calls <= 20, `${calls} registry calls in 1 s while it misbehaves`);
      // No false promotion: no record, qa unchanged.
      t.deepEqual(await f.records(), []);
      t.is(await runningImage(f.nomad.qa!), `${f.repository}@${ZERO}`);
      if (row.failsPolls) t.truthy(a.promotion.status()[0]?.registry.lastError, "the poll error is shown in status");

      f.sim.control.removeFault(fault.id);
      a.promotion.notify([{ repository: "hello" }]);
      await eventually(async () => (await runningImage(f.nomad.prod!)) === `${f.repository}@${digest}`, { timeoutMs: 30_000 });
      t.is(a.promotion.status()[0]?.registry.failures, 0);
    } finally {
      await f.close();
    }
  });
}

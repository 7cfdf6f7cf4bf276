import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { GateRunner } from "../../../src/reconciler/promotion/gates.js";
import type { GateContext } from "../../../src/reconciler/promotion/gate-types.js";
import { evaluateGate, type StageObservation } from "../../../src/reconciler/promotion/plan.js";
import type { GateSpec } from "../../../src/model/types.js";
import { FakeClock } from "../../helpers/clock.js";
import { eventually } from "../../helpers/eventually.js";

const D = `sha256:${"d".repeat(64)}`;

function ctx(gate: GateSpec, startedAt: number, gateIndex = 0): GateContext {
  return { service: "web", stage: "qa", gateIndex, gate, digest: D, image: `127.0.0.1:5000/web@${D}`, startedAt, nomadJob: "web" };
}

/** The verdict the promotion planner would give the runner's observation, as the user sees it in status. */
function verdict(r: GateRunner, c: GateContext, now: number): string {
  const obs = r.observe(c);
  const stage: StageObservation = { deployments: [], allocFailures: [], gates: obs ? { [c.gateIndex]: obs } : {} };
  return evaluateGate(c.gate, { startedAt: c.startedAt, now, approved: false, obs: stage, gate: c.gateIndex }).verdict;
}

async function statusServer(t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ url: string; set: (s: number) => void; hits: () => number }> {
  let status = 503;
  let hits = 0;
  const s = http.createServer((_req, res) => {
    hits++;
    res.writeHead(status).end();
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/health`, set: (x) => (status = x), hits: () => hits };
}

test("http gate: probes until the URL answers the expected status, then stops probing", async (t) => {
  const clock = new FakeClock();
  const srv = await statusServer(t);
  const runner = new GateRunner({ nomad: () => undefined, clock, httpIntervalMs: 1_000 });
  t.teardown(() => runner.stopAll());
  const changed: string[] = [];
  runner.onChange((c) => changed.push(c.service));
  const c = ctx({ kind: "http", url: srv.url, expectStatus: 200, timeoutMs: 60_000 }, clock.now());
  await runner.start(c);
  await eventually(() => runner.observe(c)?.kind === "http");
  t.like(runner.observe(c), { kind: "http", status: 503, at: clock.now() });
  t.is(verdict(runner, c, clock.now()), "pending");

  srv.set(200);
  await clock.advance(1_000);
  await eventually(() => runner.observe(c)?.kind === "http" && (runner.observe(c) as { status?: number }).status === 200);
  t.is(verdict(runner, c, clock.now()), "passed");
  t.is(clock.timerCount, 0, "no probe after the gate passed");
  t.is(srv.hits(), 2);
  t.deepEqual(changed, ["web", "web"]);
});

test("http gate: stops probing at the timeout, and the planner then says timedOut", async (t) => {
  const clock = new FakeClock();
  const srv = await statusServer(t);
  const runner = new GateRunner({ nomad: () => undefined, clock, httpIntervalMs: 1_000 });
  t.teardown(() => runner.stopAll());
  const c = ctx({ kind: "http", url: srv.url, expectStatus: 200, timeoutMs: 2_500 }, clock.now());
  await runner.start(c);
  await eventually(() => srv.hits() === 1 && clock.timerCount === 1);
  await clock.advance(1_000);
  await eventually(() => srv.hits() === 2 && clock.timerCount === 1);
  await clock.advance(1_000);
  await eventually(() => srv.hits() === 3 && runner.observe(c)?.kind === "http" && (runner.observe(c) as { at: number }).at === clock.now());
  await clock.advance(5_000);
  t.is(clock.timerCount, 0);
  t.is(srv.hits(), 3, "probes at 0, 1 and 2 s; none after the 2.5 s timeout");
  t.is(verdict(runner, c, clock.now()), "timedOut");
});

test("http gate: stop() ends probing and forgets the result", async (t) => {
  const clock = new FakeClock();
  const srv = await statusServer(t);
  const runner = new GateRunner({ nomad: () => undefined, clock, httpIntervalMs: 1_000 });
  const c = ctx({ kind: "http", url: srv.url, expectStatus: 200, timeoutMs: 60_000 }, clock.now());
  await runner.start(c);
  await eventually(() => runner.observe(c) !== undefined);
  runner.stop(c);
  t.is(runner.observe(c), undefined);
  await clock.advance(5_000);
  t.is(srv.hits(), 1);
});

/** A Prometheus that answers the given values in turn (then repeats the last). */
function fakePrometheus(values: Array<number | string>): { query: () => Promise<{ value: number; series: number } | { error: string }>; calls: () => number } {
  let i = 0;
  return {
    query: () => {
      const v = values[Math.min(i++, values.length - 1)];
      return Promise.resolve(typeof v === "number" ? { value: v, series: 1 } : { error: v ?? "none" });
    },
    calls: () => i,
  };
}

test("prometheus gate: passes once the value stayed below for `for`; a value above restarts the run", async (t) => {
  const clock = new FakeClock();
  const prom = fakePrometheus([0.9, 0.1, 0.2, 0.8, 0.1, 0.1, 0.1, 0.1]);
  const runner = new GateRunner({ nomad: () => undefined, clock, prometheus: prom, prometheusIntervalMs: 15_000 });
  t.teardown(() => runner.stopAll());
  const start = clock.now();
  const c = ctx({ kind: "prometheus", query: "errors", below: 0.5, forMs: 30_000, timeoutMs: 600_000 }, start);
  await runner.start(c);
  const seen: Array<number | undefined> = [];
  for (let i = 0; i < 8 && clock.timerCount > 0; i++) {
    await eventually(() => runner.observe(c) !== undefined);
    const o = runner.observe(c);
    seen.push(o?.kind === "prometheus" ? o.belowSince : -1);
    t.not(verdict(runner, c, clock.now()), "passed", `not passed at query ${i}`);
    await clock.advance(15_000);
  }
  await eventually(() => clock.timerCount === 0);
  // Queries at 0, 15, 30, 45, 60, 75, 90 s: below from 15 s, broken at 45 s, below again from 60 s, held 30 s at 90 s.
  t.deepEqual(seen, [undefined, start + 15_000, start + 15_000, undefined, start + 60_000, start + 60_000]);
  t.is(prom.calls(), 7);
  t.is(verdict(runner, c, clock.now()), "passed");
});

test("prometheus gate: without prometheus.address the observation says so, and the gate times out", async (t) => {
  const clock = new FakeClock();
  const runner = new GateRunner({ nomad: () => undefined, clock, prometheusIntervalMs: 15_000 });
  t.teardown(() => runner.stopAll());
  const c = ctx({ kind: "prometheus", query: "errors", below: 0.5, forMs: 30_000, timeoutMs: 60_000 }, clock.now());
  await runner.start(c);
  await eventually(() => runner.observe(c) !== undefined);
  t.regex(JSON.stringify(runner.observe(c)), /set prometheus\.address in Steward's configuration/);
  await clock.advance(60_000);
  t.is(verdict(runner, c, clock.now()), "timedOut");
});

test("soak and manual gates need no check: start resolves, observe is undefined", async (t) => {
  const runner = new GateRunner({ nomad: () => undefined, clock: new FakeClock() });
  for (const gate of [{ kind: "soak", durationMs: 1_000 }, { kind: "manual" }] as GateSpec[]) {
    const c = ctx(gate, 0);
    await runner.start(c);
    t.is(runner.observe(c), undefined);
  }
});

test("verify gate in a stage Steward does not know: start rejects naming the stage", async (t) => {
  const runner = new GateRunner({ nomad: () => undefined });
  const c = ctx({ kind: "verify", job: "web-tests", timeoutMs: 60_000 }, Date.now());
  await t.throwsAsync(runner.start(c), { message: /stage qa is not an environment Steward knows/ });
  t.is(runner.list().length, 0, "forgotten, so the next start tries again");
});

import test from "ava";
import { Writable } from "node:stream";
import { createLogger } from "../../../src/log.js";
import { createMetrics, initMetrics, type StewardMetrics } from "../../../src/metrics.js";
import {
  ConflictError,
  InvalidInputError,
  TransientError,
  WaitingError,
  type PassResult,
} from "../../../src/reconciler/core/outcome.js";
import { Runner, type PassContext, type Reconcile } from "../../../src/reconciler/core/runner.js";
import { findCondition } from "../../../src/reconciler/core/status.js";
import { FakeClock, fixedRandom, flush } from "../../helpers/clock.js";
import { assertStatusInvariants } from "../../helpers/status-invariants.js";
import { eventually } from "../../helpers/eventually.js";

interface Key {
  env: string;
  job: string;
}
const keyOf = (k: Key): string => `${k.env}/${k.job}`;
const web: Key = { env: "qa", job: "web" };
const api: Key = { env: "qa", job: "api" };
const RESYNC = 600_000;

const registered: PassResult = { actions: [{ kind: "register", reason: "SpecChanged", result: "changed", message: "spec changed" }] };
const idle: PassResult = { actions: [{ kind: "noop", reason: "UpToDate", result: "unchanged" }] };

function fixture(reconcile: Reconcile<Key>, opts: { workers?: number; random?: () => number; listKeys?: () => Key[]; upToDate?: (key: Key, id: string) => boolean } = {}) {
  const clock = new FakeClock();
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().trim().split("\n")) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  initMetrics(metrics);
  let ids = 0;
  const runner = new Runner<Key>({
    loop: "sync",
    keyOf,
    keyFields: (k) => ({ env: k.env, nomad_job: k.job }),
    reconcile,
    workers: opts.workers ?? 2,
    ...(opts.listKeys ? { listKeys: opts.listKeys } : {}),
    ...(opts.upToDate ? { upToDate: opts.upToDate } : {}),
    queue: { backoffBaseMs: 500, backoffCapMs: 8000 },
    resyncIntervalMs: RESYNC,
    clock,
    random: opts.random ?? fixedRandom(0.5),
    logger: createLogger({ destination, level: "debug" }),
    metrics,
    newReconcileId: () => `r${++ids}`,
  });
  runner.start();
  return { clock, runner, lines, metrics };
}

async function value(metrics: StewardMetrics, name: keyof StewardMetrics, labels: Record<string, string>): Promise<number> {
  const metric = metrics[name] as { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> };
  const { values } = await metric.get();
  const hit = values.find((v) => !v.metricName?.endsWith("_bucket") && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return hit?.value ?? 0;
}

/** A reconcile that plays `script` (a result, or an error to throw) in turn, then keeps returning `idle`. */
function scripted(...script: (PassResult | Error)[]) {
  const calls: { key: string; at: number }[] = [];
  const reconcile: Reconcile<Key> = async (key, ctx: PassContext) => {
    calls.push({ key: keyOf(key), at: ctx.now });
    const next = script.shift() ?? idle;
    if (next instanceof Error) throw next;
    return next;
  };
  return { reconcile, calls };
}

test("success_marks_ready_and_visits_again_at_the_resync_interval", async (t) => {
  const s = scripted(registered);
  const { clock, runner, metrics } = fixture(s.reconcile);
  runner.add(web);
  await flush();
  const st = runner.status.get("qa/web");
  t.like(findCondition(st, "Ready"), { status: "True", reason: "Succeeded", message: "register SpecChanged: spec changed" });
  t.like(st?.lastAction, { kind: "register", reason: "SpecChanged", result: "changed" });
  t.is(st?.nextReconcileTime, undefined, "a settled key has no pass of its own scheduled: the full resync looks at it");
  t.is(runner.nextResyncAt, clock.now() + RESYNC);
  t.is(await value(metrics, "reconcileTotal", { loop: "sync", result: "done" }), 1);
  t.is(await value(metrics, "actionsTotal", { loop: "sync", kind: "register", result: "changed" }), 1);
  await clock.advance(RESYNC - 1);
  t.is(s.calls.length, 1);
  await clock.advance(1);
  t.is(s.calls.length, 2);
  assertStatusInvariants(t, runner.status.list());
  await runner.stop();
});

test("transient_failure_backs_off_then_recovers", async (t) => {
  const s = scripted(new TransientError("nomad answered 503", { endpoint: "PUT /v1/jobs" }), new TransientError("nomad answered 503"), registered);
  const { clock, runner, metrics } = fixture(s.reconcile, { random: fixedRandom(0.9999) });
  runner.add(web);
  await flush();
  const failed = runner.status.get("qa/web");
  t.like(findCondition(failed, "Ready"), { status: "False", reason: "TransientFailure" });
  t.like(findCondition(failed, "Reconciling"), { status: "True", reason: "RetryScheduled" });
  t.like(failed?.lastError, { kind: "transient", context: { endpoint: "PUT /v1/jobs" } });
  assertStatusInvariants(t, runner.status.list());
  await clock.advance(498);
  t.is(s.calls.length, 1, "first retry waits the first backoff window");
  await clock.advance(1);
  t.is(s.calls.length, 2);
  t.is(runner.status.get("qa/web")?.failures, 2);
  await clock.advance(999);
  t.is(s.calls.length, 3, "second retry waits twice as long");
  const ok = runner.status.get("qa/web");
  t.is(findCondition(ok, "Ready")?.status, "True");
  t.is(findCondition(ok, "Reconciling"), undefined);
  t.is(ok?.failures, 0, "success forgets the backoff");
  t.is(await value(metrics, "reconcileErrorsTotal", { loop: "sync", kind: "transient" }), 2);
  t.is(await value(metrics, "reconcileTotal", { loop: "sync", result: "retry" }), 2);
  assertStatusInvariants(t, runner.status.list());
  await runner.stop();
});

test("retry_after_is_honoured", async (t) => {
  const s = scripted(new TransientError("429", {}, 20_000));
  const { clock, runner } = fixture(s.reconcile, { random: fixedRandom(0.1) });
  runner.add(web);
  await clock.advance(19_999);
  t.is(s.calls.length, 1);
  await clock.advance(1);
  t.is(s.calls.length, 2);
  await runner.stop();
});

test("invalid_input_stalls_until_the_key_is_added_again", async (t) => {
  const bad = new InvalidInputError("must be heal or report", { file: "services/web/service.yaml", field: "sync.drift" });
  const s = scripted(bad, registered);
  const { clock, runner, metrics } = fixture(s.reconcile);
  runner.add(web);
  await flush();
  const st = runner.status.get("qa/web");
  t.like(findCondition(st, "Stalled"), { status: "True", reason: "InvalidInput", message: "services/web/service.yaml: sync.drift: must be heal or report" });
  t.is(st?.nextReconcileTime, undefined);
  assertStatusInvariants(t, runner.status.list());
  await clock.advance(3 * RESYNC);
  t.is(s.calls.length, 1, "neither retries nor the full resync revisit a stalled key");
  t.is(await value(metrics, "reconcileErrorsTotal", { loop: "sync", kind: "invalid" }), 1);
  runner.add(web);
  await flush();
  t.is(s.calls.length, 2);
  t.is(findCondition(runner.status.get("qa/web"), "Stalled"), undefined);
  await runner.stop();
});

test("waiting_requeues_after_its_delay_without_counting_a_failure", async (t) => {
  const s = scripted(new WaitingError("deployment 7 running", 15_000, { env: "qa", nomadJob: "web" }));
  const { clock, runner, metrics } = fixture(s.reconcile);
  runner.add(web);
  await flush();
  t.like(findCondition(runner.status.get("qa/web"), "Reconciling"), { reason: "Waiting", message: "deployment 7 running (env qa, job web)" });
  t.is(await value(metrics, "reconcileErrorsTotal", { loop: "sync", kind: "waiting" }), 0);
  t.is(await value(metrics, "reconcileTotal", { loop: "sync", result: "requeue" }), 1);
  await clock.advance(15_000);
  t.is(s.calls.length, 2);
  assertStatusInvariants(t, runner.status.list());
  await runner.stop();
});

test("planner_recheck_is_capped_at_the_resync_interval", async (t) => {
  const s = scripted({ recheckAfterMs: 10 * RESYNC, actions: [] });
  const { clock, runner } = fixture(s.reconcile);
  runner.add(web);
  await clock.advance(RESYNC);
  t.is(s.calls.length, 2);
  await runner.stop();
});

test("conflict_reobserves_at_once_but_a_persistent_one_backs_off", async (t) => {
  const conflict = (): ConflictError => new ConflictError("job modified at index 42", { env: "qa", nomadJob: "web" });
  const s = scripted(conflict(), conflict(), conflict(), registered);
  const { clock, runner } = fixture(s.reconcile, { random: fixedRandom(0.9999) });
  runner.add(web);
  await flush();
  t.is(s.calls.length, 3, "two conflicts re-observed at once");
  t.like(findCondition(runner.status.get("qa/web"), "Ready"), { status: "Unknown", reason: "Conflict" });
  assertStatusInvariants(t, runner.status.list());
  await clock.advance(498);
  t.is(s.calls.length, 3, "the third conflict in a row waits for backoff");
  await clock.advance(1);
  t.is(s.calls.length, 4);
  t.is(findCondition(runner.status.get("qa/web"), "Ready")?.status, "True");
  await runner.stop();
});

test("a_key_is_never_reconciled_concurrently", async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  let passes = 0;
  const gates: (() => void)[] = [];
  const { runner } = fixture(
    async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      passes++;
      await new Promise<void>((r) => gates.push(r));
      inFlight--;
      return idle;
    },
    { workers: 4 },
  );
  runner.add(web);
  await flush();
  runner.add(web);
  runner.add(web);
  await flush();
  t.is(passes, 1);
  gates.shift()?.();
  await flush();
  t.is(passes, 2, "re-added during the pass: one more pass after it");
  gates.shift()?.();
  await flush();
  t.is(maxInFlight, 1);
  t.is(passes, 2);
  await runner.stop();
});

test("different_keys_run_in_parallel_up_to_the_worker_count", async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const gates: (() => void)[] = [];
  const { runner } = fixture(
    async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => gates.push(r));
      inFlight--;
      return idle;
    },
    { workers: 2 },
  );
  for (const job of ["a", "b", "c"]) runner.add({ env: "qa", job });
  await flush();
  t.is(maxInFlight, 2);
  while (gates.length > 0) {
    gates.shift()?.();
    await flush();
  }
  t.is(runner.status.list().length, 3);
  await runner.stop();
});

test("one_log_line_per_pass_with_reconcile_id_and_key_fields", async (t) => {
  const s = scripted(registered, new TransientError("timeout", { endpoint: "GET /v1/jobs" }));
  const { runner, lines } = fixture(s.reconcile);
  runner.add(web);
  runner.add(api);
  await flush();
  const passLines = lines.filter((l) => typeof l.outcome === "string");
  t.is(passLines.length, 2);
  t.deepEqual(passLines.map((l) => l.reconcile_id).sort(), ["r1", "r2"]);
  t.like(passLines[0], { loop: "sync", env: "qa", nomad_job: "web", outcome: "done", level: "info", actions: [{ kind: "register", reason: "SpecChanged", result: "changed" }] });
  t.like(passLines[1], { nomad_job: "api", outcome: "retry", level: "warn", error_kind: "transient", error_context: { endpoint: "GET /v1/jobs" } });
  t.is(runner.status.get("qa/web")?.reconcileId, "r1");
  await runner.stop();
});

test("idle_passes_log_at_debug", async (t) => {
  const { runner, lines } = fixture(scripted().reconcile);
  runner.add(web);
  await flush();
  t.like(lines.find((l) => l.outcome === "done"), { level: "debug" });
  await runner.stop();
});

test("actions_recorded_before_a_failure_are_counted_and_shown", async (t) => {
  const { runner, metrics } = fixture(async (_key, ctx) => {
    ctx.recordAction({ kind: "register", reason: "SpecChanged", result: "changed" });
    throw new TransientError("stop failed", { endpoint: "DELETE /v1/job/old" });
  });
  runner.add(web);
  await flush();
  t.is(await value(metrics, "actionsTotal", { loop: "sync", kind: "register", result: "changed" }), 1);
  t.like(runner.status.get("qa/web")?.lastAction, { kind: "register", reason: "SpecChanged" });
  await runner.stop();
});

test("synchronous_throw_is_caught_and_retried", async (t) => {
  const reconcile = ((): never => {
    throw new TypeError("bug");
  }) as unknown as Reconcile<Key>;
  const { runner } = fixture(reconcile);
  runner.add(web);
  await flush();
  t.like(findCondition(runner.status.get("qa/web"), "Ready"), { status: "False", reason: "UnexpectedError", message: "bug" });
  assertStatusInvariants(t, runner.status.list());
  await runner.stop();
});

test("full_resync_lists_keys_and_skips_stalled_ones", async (t) => {
  const listed: Key[] = [web];
  const seen: string[] = [];
  const { clock, runner } = fixture(
    async (key) => {
      seen.push(keyOf(key));
      if (key.job === "bad") throw new InvalidInputError("broken");
      return idle;
    },
    { listKeys: () => listed },
  );
  await flush();
  t.deepEqual(seen, ["qa/web"], "the first resync runs at start");
  runner.add({ env: "qa", job: "bad" });
  listed.push(api);
  await flush();
  seen.length = 0;
  await clock.advance(RESYNC);
  t.deepEqual(seen.sort(), ["qa/api", "qa/web"]);
  await runner.stop();
});

test("stop_aborts_the_pass_and_waits_for_it", async (t) => {
  let signal: AbortSignal | undefined;
  let finished = false;
  const { runner, clock, metrics } = fixture(async (_key, ctx) => {
    signal = ctx.signal;
    await new Promise((r) => ctx.signal.addEventListener("abort", r));
    finished = true;
    ctx.signal.throwIfAborted();
    return idle;
  });
  runner.add(web);
  await flush();
  t.false(signal?.aborted);
  await runner.stop();
  t.true(signal?.aborted);
  t.true(finished, "stop resolved only after the pass ended");
  t.is(clock.timerCount, 0, "no timer left behind");
  t.is(runner.status.get("qa/web"), undefined, "an interrupted pass is not a failure of the key");
  t.is(await value(metrics, "reconcileErrorsTotal", { loop: "sync", kind: "unknown" }), 0);
});

test("writes_share_the_loop_budget", async (t) => {
  let granted = 0;
  const { runner } = fixture(async (_key, ctx) => {
    await ctx.acquireWrite();
    granted++;
    return idle;
  });
  runner.add(web);
  await flush();
  t.is(granted, 1);
  await runner.stop();
});

test("bad_options_name_the_field", (t) => {
  const base = { loop: "sync", keyOf, reconcile: async () => idle, logger: createLogger() };
  t.throws(() => new Runner<Key>({ ...base, workers: 0 }), { message: /workers/ });
  t.throws(() => new Runner<Key>({ ...base, resyncJitterFraction: 1.5 }), { message: /resyncJitterFraction/ });
});

test("a_long_run_of_passes_lets_timers_run_before_it_ends", async (t) => {
  // Idle passes resolve through promises alone; without yielding, a queue of them would hold the event loop (and a lock renewal) to the end.
  const keys = Array.from({ length: 400 }, (_, i) => ({ env: "qa", job: `j${i}` }));
  let passes = 0;
  let passesWhenTimerRan: number | undefined;
  const { runner } = fixture(() => {
    // Each pass does some work, so the run lasts well past the runner's 10 ms slice.
    const until = performance.now() + 0.1;
    while (performance.now() < until) {
      // busy
    }
    passes++;
    return Promise.resolve(idle);
  });
  t.teardown(() => runner.stop());
  for (const k of keys) runner.add(k);
  setTimeout(() => (passesWhenTimerRan = passes), 0);
  await eventually(() => passes === keys.length);
  t.not(passesWhenTimerRan, undefined);
  t.true((passesWhenTimerRan ?? keys.length) < keys.length, `the timer ran after ${passesWhenTimerRan} of ${keys.length} passes`);
});

// ---- the resync's skip rule: the loop says a key is up to date; the runner still runs it unless it is settled ----

const skipRows: Array<{ rule: string; first: PassResult | Error; upToDate: boolean; runsAgain: boolean }> = [
  { rule: "a_settled_up_to_date_key_is_skipped", first: idle, upToDate: true, runsAgain: false },
  { rule: "a_settled_key_whose_inputs_changed_runs", first: idle, upToDate: false, runsAgain: true },
  { rule: "a_failing_key_in_backoff_is_never_skipped", first: new TransientError("nomad answered 503"), upToDate: true, runsAgain: true },
  { rule: "an_unexpected_error_is_never_skipped", first: new Error("bug"), upToDate: true, runsAgain: true },
  { rule: "a_waiting_key_is_never_skipped", first: new WaitingError("deployment running", 10 * RESYNC), upToDate: true, runsAgain: true },
  { rule: "a_key_with_a_recheck_pending_is_never_skipped", first: { recheckAfterMs: 10 * RESYNC, actions: [] }, upToDate: true, runsAgain: true },
  { rule: "a_key_after_a_conflict_is_never_skipped", first: new ConflictError("job modified at index 42"), upToDate: true, runsAgain: true },
];

for (const row of skipRows) {
  test(`resync_skip: ${row.rule}`, async (t) => {
    // A conflict is re-observed at once: only the one conflict, then the resync decides.
    const s = scripted(row.first, ...(row.first instanceof ConflictError ? [row.first, row.first] : []));
    const asked: string[] = [];
    const { runner } = fixture(s.reconcile, { random: fixedRandom(0.9999), upToDate: (_k, id) => (asked.push(id), row.upToDate) });
    runner.add(web);
    await flush();
    const calls = s.calls.length;
    const before = runner.status.get("qa/web");
    const result = await runner.resyncNow();
    await flush();
    t.is(s.calls.length > calls, row.runsAgain, row.runsAgain ? "the resync ran a pass" : "the resync skipped the key");
    t.deepEqual(result, row.runsAgain ? { queued: 1, skipped: 0 } : { queued: 0, skipped: 1 });
    if (!row.runsAgain) {
      t.is(runner.status.get("qa/web"), before, "a skipped key keeps its status, lastReconcileTime included");
      t.deepEqual(asked, ["qa/web"]);
    }
    await runner.stop();
  });
}

test("add_runs_a_real_pass_even_when_the_key_is_up_to_date", async (t) => {
  const s = scripted();
  const { runner } = fixture(s.reconcile, { upToDate: () => true });
  runner.add(web);
  await flush();
  runner.add(web);
  await flush();
  t.is(s.calls.length, 2, "add (an event, a sync-now) is never skipped");
  t.false(runner.visit(web), "visit (a resync, wakeAll) skips it");
  t.true(runner.visit(api), "a key never passed is visited");
  await flush();
  t.deepEqual(s.calls.map((c) => c.key), ["qa/web", "qa/web", "qa/api"]);
  await runner.stop();
});

test("the_periodic_resync_skips_up_to_date_keys_and_runs_the_others", async (t) => {
  const s = scripted();
  const changed = new Set<string>();
  const { clock, runner } = fixture(s.reconcile, { listKeys: () => [web, api], upToDate: (_k, id) => !changed.has(id) });
  await flush();
  t.is(s.calls.length, 2, "the first resync runs every key (nothing passed yet)");
  changed.add("qa/api");
  await clock.advance(RESYNC);
  t.deepEqual(s.calls.slice(2).map((c) => c.key), ["qa/api"]);
  t.is(runner.nextResyncAt, clock.now() + RESYNC);
  await runner.stop();
});

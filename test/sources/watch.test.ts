import test from "ava";
import { Writable } from "node:stream";
import { createLogger } from "../../src/log.js";
import { createMetrics } from "../../src/metrics.js";
import { TransientError } from "../../src/reconciler/core/outcome.js";
import { Watch, type FetchOptions, type WatchOptions, type WatchQuery, type WatchResponse } from "../../src/sources/watch.js";
import { FakeClock, fixedRandom, flush } from "../helpers/clock.js";

type Step<T> = WatchResponse<T> | Error;

/**
 * A query that answers from a script, one step per call, and then blocks
 * like a blocking query whose wait never ends, until aborted.
 */
class ScriptedQuery<T> implements WatchQuery<T> {
  readonly name = "nomad-jobs";
  readonly calls: { index: number; at: number; allowStale: boolean; signal: AbortSignal }[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly script: Step<T>[],
  ) {}

  fetch(index: number, signal: AbortSignal, options: FetchOptions): Promise<WatchResponse<T>> {
    this.calls.push({ index, at: this.clock.now(), allowStale: options.allowStale, signal });
    const step = this.script.shift();
    if (step instanceof Error) return Promise.reject(step);
    if (step) return Promise.resolve(step);
    return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
  }

  /** Adds steps after the watch has drained the first ones (the blocked call stays blocked). */
  push(...steps: Step<T>[]): void {
    this.script.push(...steps);
  }
}

function setup<T>(script: Step<T>[], opts: Partial<WatchOptions<T>> = {}) {
  const clock = new FakeClock();
  const start = clock.now();
  const query = new ScriptedQuery<T>(clock, script);
  const changes: { data: T; index: number }[] = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const logLines: string[] = [];
  const logger = createLogger({
    destination: new Writable({
      write(c: Buffer, _e, cb) {
        logLines.push(c.toString());
        cb();
      },
    }),
  });
  const watch = new Watch<T>({
    query,
    onChange: (data, index) => void changes.push({ data, index }),
    clock,
    random: fixedRandom(0.5),
    minIntervalMs: 100,
    ditherMs: 0,
    backoffBaseMs: 250,
    backoffCapMs: 4000,
    logger,
    metrics,
    ...opts,
  });
  watch.start();
  return { clock, query, changes, watch, metrics, logLines, elapsed: (at: number) => at - start };
}

async function sourceErrors(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  return (await metrics.sourceErrorsTotal.get()).values.find((v) => v.labels.source === "nomad-jobs")?.value ?? 0;
}

test("same_index_does_not_wake", async (t) => {
  // The second answer is a wait that ran out: same index, and it must not wake anyone even if the body differs.
  const { clock, query, changes, watch } = setup<string[]>([{ index: 5, data: ["web"] }, { index: 5, data: ["web", "noise"] }]);
  await clock.advance(1000);
  t.deepEqual(changes, [{ data: ["web"], index: 5 }]);
  t.deepEqual(query.calls.map((c) => c.index), [0, 5, 5]);
  await watch.stop();
});

test("index_reset_relists", async (t) => {
  const { clock, query, changes, watch } = setup<string[]>([
    { index: 10, data: ["web"] },
    { index: 4, data: ["web"] },
    { index: 4, data: ["web", "api"] },
  ]);
  await clock.advance(1000);
  t.deepEqual(query.calls.map((c) => c.index), [0, 10, 0, 4], "after the index went backwards, the next call lists from 0");
  t.deepEqual(changes, [
    { data: ["web"], index: 10 },
    { data: ["web", "api"], index: 4 },
  ]);
  await watch.stop();
});

test("equal_data_does_not_wake", async (t) => {
  const { clock, query, changes, watch } = setup<{ jobs: string[] }>([
    { index: 5, data: { jobs: ["web"] } },
    { index: 6, data: { jobs: ["web"] } },
    { index: 7, data: { jobs: ["web", "api"] } },
  ]);
  await clock.advance(1000);
  t.deepEqual(changes.map((c) => c.index), [5, 7]);
  t.deepEqual(query.calls.map((c) => c.index), [0, 5, 6, 7], "the index still moves on equal data");
  await watch.stop();
});

test("error_backs_off_then_recovers", async (t) => {
  const { clock, query, changes, watch, metrics, elapsed } = setup<string>(
    [new TransientError("503"), new TransientError("503"), new TransientError("503"), { index: 3, data: "a" }, new TransientError("503"), { index: 4, data: "b" }],
    { random: fixedRandom(0.9999) },
  );
  await clock.advance(10_000);
  // 0 → +249 → +499 → +999 (doubling, full-jitter ceiling) → success → +100 floor → error → +249: reset after success.
  t.deepEqual(query.calls.map((c) => elapsed(c.at)), [0, 249, 748, 1747, 1847, 2096, 2196]);
  t.deepEqual(changes.map((c) => c.data), ["a", "b"]);
  t.is(await sourceErrors(metrics), 4);
  t.is(watch.failures, 0);
  await watch.stop();
});

test("retry_after_sets_a_floor_for_the_backoff", async (t) => {
  const { clock, query, watch, elapsed } = setup<string>([new TransientError("429", {}, 5000), { index: 1, data: "a" }]);
  await clock.advance(10_000);
  t.deepEqual(query.calls.map((c) => elapsed(c.at)), [0, 5000, 5100]);
  await watch.stop();
});

test("synced_only_after_the_first_answer", async (t) => {
  const { clock, watch, query } = setup<string>([new Error("connection refused")]);
  await clock.advance(100);
  t.false(watch.synced);
  t.is((watch.lastError as Error).message, "connection refused");
  let synced = false;
  void watch.whenSynced().then(() => (synced = true));
  query.push({ index: 1, data: "a" });
  await clock.advance(1000);
  t.true(watch.synced);
  t.true(synced);
  t.is(watch.data, "a");
  await watch.stop();
});

test("calls_are_paced_by_a_floor_with_dither", async (t) => {
  const { clock, query, watch, elapsed } = setup<number>(
    [
      { index: 1, data: 1 },
      { index: 2, data: 2 },
      { index: 3, data: 3 },
    ],
    { ditherMs: 20, random: fixedRandom(0.5) },
  );
  await clock.advance(1000);
  t.deepEqual(query.calls.map((c) => elapsed(c.at)), [0, 110, 220, 330]);
  await watch.stop();
});

test("stop_aborts_inflight", async (t) => {
  const { clock, query, changes, watch, metrics } = setup<string>([]);
  await flush();
  t.is(query.calls.length, 1);
  t.false(query.calls[0]?.signal.aborted);
  await watch.stop();
  t.true(query.calls[0]?.signal.aborted);
  t.deepEqual(changes, []);
  t.is(await sourceErrors(metrics), 0, "an abort on stop is not a source error");
  t.is(clock.timerCount, 0);
});

test("stop_during_backoff_ends_at_once", async (t) => {
  const { clock, query, watch } = setup<string>([new Error("down")]);
  await flush();
  await watch.stop();
  await clock.advance(60_000);
  t.is(query.calls.length, 1);
});

test("too_stale_answer_is_asked_again_of_the_leader", async (t) => {
  const { clock, query, changes, watch } = setup<string>(
    [
      { index: 5, data: "old", lastContactMs: 30_000 },
      { index: 6, data: "fresh", lastContactMs: 0 },
    ],
    { maxStaleMs: 10_000 },
  );
  await clock.advance(1000);
  t.deepEqual(query.calls.map((c) => c.allowStale), [true, false, true]);
  t.deepEqual(changes, [{ data: "fresh", index: 6 }]);
  await watch.stop();
});

test("without_max_stale_every_call_asks_the_leader", async (t) => {
  const { clock, query, watch } = setup<string>([{ index: 5, data: "a", lastContactMs: 99_000 }]);
  await clock.advance(1000);
  t.deepEqual(query.calls.map((c) => c.allowStale), [false, false]);
  await watch.stop();
});

test("index_zero_is_used_as_one", async (t) => {
  const { clock, query, watch } = setup<string>([{ index: 0, data: "a" }]);
  await clock.advance(1000);
  t.deepEqual(query.calls.map((c) => c.index), [0, 1]);
  await watch.stop();
});

test("a_throwing_consumer_is_logged_and_the_watch_goes_on", async (t) => {
  const seen: string[] = [];
  const { clock, watch, logLines } = setup<string>(
    [
      { index: 1, data: "a" },
      { index: 2, data: "b" },
    ],
    {
      onChange: (d) => {
        seen.push(d);
        if (d === "a") throw new Error("consumer bug");
      },
    },
  );
  await clock.advance(1000);
  t.deepEqual(seen, ["a", "b"]);
  t.true(logLines.some((l) => l.includes("consumer bug")));
  await watch.stop();
});

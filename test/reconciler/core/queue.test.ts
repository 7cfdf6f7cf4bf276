import test from "ava";
import { WorkQueue, QueueShutDownError } from "../../../src/reconciler/core/queue.js";
import { FakeClock, fixedRandom, flush } from "../../helpers/clock.js";

interface Key {
  env: string;
  job: string;
}
const keyOf = (k: Key): string => `${k.env}/${k.job}`;
const web: Key = { env: "qa", job: "web" };
const api: Key = { env: "qa", job: "api" };

function makeQueue(opts: { random?: () => number; writeQps?: number; writeBurst?: number } = {}) {
  const clock = new FakeClock();
  const depths: number[] = [];
  const queue = new WorkQueue<Key>({
    keyOf,
    clock,
    random: opts.random ?? fixedRandom(0.5),
    backoffBaseMs: 500,
    backoffCapMs: 4000,
    writeQps: opts.writeQps ?? 10,
    writeBurst: opts.writeBurst ?? 100,
    onDepth: (d) => depths.push(d),
  });
  return { clock, queue, depths };
}

/** Takes every key that is ready right now, without waiting. */
async function drainReady(queue: WorkQueue<Key>): Promise<string[]> {
  const taken: string[] = [];
  while (queue.depth > 0) {
    const k = await queue.get();
    if (k) taken.push(keyOf(k));
  }
  return taken;
}

test("key_queued_twice_is_processed_once", async (t) => {
  const { queue } = makeQueue();
  queue.add(web);
  queue.add({ ...web });
  queue.add(api);
  t.is(queue.depth, 2);
  t.deepEqual(await drainReady(queue), ["qa/web", "qa/api"]);
});

test("key_readded_while_processing_runs_again_after_never_concurrently", async (t) => {
  const { queue } = makeQueue();
  queue.add(web);
  const first = await queue.get();
  queue.add(web);
  queue.add(web);
  // In process: not handed to a second worker.
  t.is(queue.depth, 0);
  let second: Key | undefined;
  void queue.get().then((k) => (second = k));
  await flush();
  t.is(second, undefined);
  queue.done(first as Key);
  await flush();
  t.deepEqual(second, web);
  queue.done(web);
  t.is(queue.depth, 0, "two adds during the pass give one more pass, not two");
});

test("add_after_earliest_wins", async (t) => {
  const { queue, clock } = makeQueue();
  queue.addAfter(web, 5000);
  queue.addAfter(web, 1000);
  queue.addAfter(web, 3000);
  t.deepEqual(clock.pendingDelays(), [1000]);
  await clock.advance(999);
  t.is(queue.depth, 0);
  await clock.advance(1);
  t.is(queue.depth, 1);
  t.deepEqual(await drainReady(queue), ["qa/web"]);
  await clock.advance(10_000);
  t.is(queue.depth, 0, "the later times did not fire again");
});

test("add_now_supersedes_a_delayed_add", async (t) => {
  const { queue, clock } = makeQueue();
  queue.addAfter(web, 1000);
  queue.add(web);
  t.is(queue.delayedCount, 0);
  t.deepEqual(await drainReady(queue), ["qa/web"]);
  queue.done(web);
  await clock.advance(2000);
  t.is(queue.depth, 0);
});

test("add_after_is_ignored_when_already_ready", async (t) => {
  const { queue } = makeQueue();
  queue.add(web);
  queue.addAfter(web, 1000);
  t.is(queue.delayedCount, 0);
  t.is(queue.depth, 1);
});

test("backoff_doubles_per_failure_up_to_the_cap", (t) => {
  // random just below 1 shows the ceiling of each full-jitter window.
  const { queue } = makeQueue({ random: fixedRandom(0.9999) });
  const delays = Array.from({ length: 6 }, () => queue.addRateLimited(web));
  t.deepEqual(delays, [499, 999, 1999, 3999, 3999, 3999]);
  t.is(queue.numRequeues(web), 6);
});

test("backoff_is_fully_jittered", (t) => {
  const { queue } = makeQueue({ random: fixedRandom(0, 0.25) });
  t.is(queue.addRateLimited(web), 0);
  t.is(queue.addRateLimited(web), 250);
});

test("backoff_is_per_key", (t) => {
  const { queue } = makeQueue({ random: fixedRandom(0.9999) });
  queue.addRateLimited(web);
  queue.addRateLimited(web);
  t.is(queue.addRateLimited(api), 499);
});

test("forget_resets_backoff", (t) => {
  const { queue } = makeQueue({ random: fixedRandom(0.9999) });
  queue.addRateLimited(web);
  queue.addRateLimited(web);
  queue.forget(web);
  t.is(queue.numRequeues(web), 0);
  t.is(queue.addRateLimited(web), 499);
});

test("retry_after_is_a_floor_for_backoff", async (t) => {
  const { queue, clock } = makeQueue({ random: fixedRandom(0.1) });
  t.is(queue.addRateLimited(web, 7000), 7000);
  await clock.advance(6999);
  t.is(queue.depth, 0);
  await clock.advance(1);
  t.is(queue.depth, 1);
});

test("write_bucket_grants_the_burst_then_the_rate", async (t) => {
  const { queue, clock } = makeQueue({ writeQps: 10, writeBurst: 3 });
  let granted = 0;
  for (let i = 0; i < 6; i++) void queue.acquireWrite().then(() => granted++);
  await flush();
  t.is(granted, 3, "burst");
  await clock.advance(99);
  t.is(granted, 3);
  await clock.advance(1);
  t.is(granted, 4, "one token per 100 ms at 10 qps");
  await clock.advance(200);
  t.is(granted, 6);
});

test("write_bucket_refills_while_idle_up_to_the_burst", async (t) => {
  const { queue, clock } = makeQueue({ writeQps: 10, writeBurst: 2 });
  await queue.acquireWrite();
  await queue.acquireWrite();
  await clock.advance(60_000);
  let granted = 0;
  for (let i = 0; i < 3; i++) void queue.acquireWrite().then(() => granted++);
  await flush();
  t.is(granted, 2);
});

test("write_wait_aborts_with_the_signal", async (t) => {
  const { queue } = makeQueue({ writeBurst: 1 });
  await queue.acquireWrite();
  const ac = new AbortController();
  const waiting = queue.acquireWrite(ac.signal);
  ac.abort(new Error("pass cancelled"));
  await t.throwsAsync(waiting, { message: "pass cancelled" });
});

test("shutdown_releases_workers_and_refuses_writes", async (t) => {
  const { queue, clock } = makeQueue({ writeBurst: 1 });
  await queue.acquireWrite();
  const writer = queue.acquireWrite();
  const worker = queue.get();
  queue.addAfter(web, 1000);
  queue.shutdown();
  t.is(await worker, undefined);
  await t.throwsAsync(writer, { instanceOf: QueueShutDownError });
  await t.throwsAsync(queue.acquireWrite(), { instanceOf: QueueShutDownError });
  queue.add(api);
  t.is(queue.depth, 0);
  t.is(clock.timerCount, 0, "delayed adds were cancelled");
});

test("depth_is_reported_as_it_changes", async (t) => {
  const { queue, depths } = makeQueue();
  queue.add(web);
  queue.add(api);
  await queue.get();
  t.deepEqual(depths, [1, 2, 1]);
});

test("bad_option_names_the_field", (t) => {
  t.throws(() => new WorkQueue<Key>({ keyOf, backoffBaseMs: -1 }), { message: /backoffBaseMs/ });
  t.throws(() => new WorkQueue<Key>({ keyOf, writeQps: 0 }), { message: /writeQps/ });
  t.throws(() => new WorkQueue<Key>({ keyOf, backoffBaseMs: 1000, backoffCapMs: 10 }), { message: /backoffCapMs/ });
});

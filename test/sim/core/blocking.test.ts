import test from "ava";
import { IndexNotifier, blockingRead, parseGoDuration } from "../../../sim/core/blocking.js";

test("read_without_index_answers_at_once", async (t) => {
  const n = new IndexNotifier(5);
  const r = await blockingRead(n, 0, 10_000, () => ({ index: 5, value: "x" }));
  t.is(r.index, 5);
});

test("change_wakes_waiter_and_other_writes_do_not_end_the_wait", async (t) => {
  const n = new IndexNotifier(10);
  let mine = 10;
  const started = Date.now();
  const p = blockingRead(n, 10, 5_000, () => ({ index: mine, value: mine }));
  n.bump(); // a write elsewhere: the waiter re-checks and keeps waiting
  await new Promise((r) => setTimeout(r, 50));
  mine = n.bump();
  const r = await p;
  t.is(r.value, mine);
  t.true(Date.now() - started >= 50, "answered before its own data changed");
});

test("wait_expiry_returns_same_index", async (t) => {
  const n = new IndexNotifier(3);
  const started = Date.now();
  const r = await blockingRead(n, 3, 120, () => ({ index: 3, value: null }));
  t.is(r.index, 3);
  t.true(Date.now() - started >= 110);
});

test("abort_ends_the_wait", async (t) => {
  const n = new IndexNotifier(3);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  await blockingRead(n, 3, 60_000, () => ({ index: 3, value: null }), ac.signal);
  t.is(n.waiting, 0, "no waiter left parked after abort");
});

const durations: Array<[string, number | undefined]> = [
  ["10s", 10_000],
  ["5m", 300_000],
  ["1h2m", 3_720_000],
  ["1.5s", 1_500],
  ["300ms", 300],
  ["0", 0],
  ["10", undefined],
  ["abc", undefined],
  ["5m x", undefined],
  ["", undefined],
];
for (const [text, want] of durations) {
  test(`go_duration_${JSON.stringify(text)}`, (t) => {
    t.is(parseGoDuration(text), want);
  });
}

test("many_wakeups_leave_no_listener_on_the_signal", async (t) => {
  const n = new IndexNotifier(1);
  const ac = new AbortController();
  let added = 0;
  let removed = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = ((...args: Parameters<typeof add>) => {
    added++;
    add(...args);
  }) as typeof add;
  ac.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    removed++;
    remove(...args);
  }) as typeof remove;
  let mine = 1;
  const p = blockingRead(n, 1, 5_000, () => ({ index: mine, value: null }), ac.signal);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
    n.bump(); // writes elsewhere: the waiter re-checks and waits again
  }
  mine = n.bump();
  await p;
  t.true(added >= 20);
  t.is(added, removed, "every listener added for a wait is removed when it ends");
});

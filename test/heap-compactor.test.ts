import test from "ava";
import { HeapCompactor, runtimeGc } from "../src/heap-compactor.js";
import { FakeClock } from "./helpers/clock.js";

function world(): { compactor: HeapCompactor; clock: FakeClock; runs: () => number } {
  const clock = new FakeClock(0);
  let n = 0;
  const compactor = new HeapCompactor({ delayMs: 1_000, collect: () => void n++, clock });
  return { compactor, clock, runs: () => n };
}

test("collects_once_when_the_delay_passes_after_the_last_burst", async (t) => {
  const { compactor, clock, runs } = world();
  compactor.schedule();
  await clock.advance(600);
  compactor.schedule();
  await clock.advance(600);
  t.is(runs(), 0, "a second burst restarts the wait");
  await clock.advance(400);
  t.is(runs(), 1);
  await clock.advance(5_000);
  t.is(runs(), 1, "nothing more without another burst");
});

test("a_closed_compactor_collects_nothing", async (t) => {
  const { compactor, clock, runs } = world();
  compactor.schedule();
  compactor.close();
  compactor.schedule();
  await clock.advance(5_000);
  t.is(runs(), 0);
});

test("the_runtime_gc_is_available_without_expose_gc_and_gives_the_heap_back", (t) => {
  const gc = runtimeGc();
  t.is(typeof gc, "function");
  // Live objects spread over many pages among garbage: a plain full GC would keep most of those pages.
  const keep: unknown[] = [];
  const holder: { garbage?: unknown[] } = { garbage: [] };
  for (let i = 0; i < 400_000; i++) (i % 10 === 0 ? keep : (holder.garbage ?? [])).push({ i, s: `x${i}` });
  const before = process.memoryUsage();
  delete holder.garbage;
  gc?.();
  const after = process.memoryUsage();
  t.true(after.heapUsed < before.heapUsed, "the garbage is gone");
  t.true(after.heapTotal < before.heapTotal - (before.heapUsed - after.heapUsed) / 2, "most of the pages it filled are given back");
  t.is(keep.length, 40_000);
});

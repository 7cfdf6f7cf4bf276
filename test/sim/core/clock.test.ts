import test from "ava";
import { Clock } from "../../../sim/core/clock.js";
import { eventually } from "../../helpers/eventually.js";

test("scaled_timer_fires_at_sim_time", async (t) => {
  const clock = new Clock(1000);
  const start = clock.now();
  const real = Date.now();
  await clock.sleep(5_000); // 5 sim seconds = 5 real ms
  t.true(clock.now() - start >= 5_000);
  t.true(Date.now() - real < 1_000, "a 5 s sim wait at 1000x must not take a real second");
});

test("scale_change_keeps_sim_deadline", async (t) => {
  const clock = new Clock(1);
  const start = clock.now();
  const fired = new Promise<number>((resolve) => clock.setTimeout(() => resolve(clock.now()), 60_000));
  clock.setScale(100_000);
  const at = await fired;
  t.true(at - start >= 60_000, `fired at +${at - start} sim ms, before its 60 s deadline`);
});

test("cancelled_timer_never_fires", async (t) => {
  const clock = new Clock(1000);
  let fired = false;
  const timer = clock.setTimeout(() => (fired = true), 10);
  timer.cancel();
  await clock.sleep(50);
  t.false(fired);
});

test("interval_repeats_until_cancelled", async (t) => {
  const clock = new Clock(100);
  let n = 0;
  const start = clock.now();
  const ticks: number[] = [];
  const timer = clock.setInterval(() => {
    n++;
    ticks.push(clock.now() - start);
  }, 1_000);
  await eventually(() => n >= 3, { timeoutMs: 5_000 });
  timer.cancel();
  const seen = n;
  t.true(ticks.every((at, i) => at >= (i + 1) * 1_000), `a tick came early: ${ticks.join(",")}`);
  await clock.sleep(3_000);
  t.is(n, seen);
});

test("bad_scale_is_refused", (t) => {
  t.throws(() => new Clock(0), { message: /scale must be > 0/ });
});

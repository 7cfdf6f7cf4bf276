// The apply budget: one row per rule. Time is an argument, so no clock.
import test from "ava";
import { ApplyBudget } from "../../../src/reconciler/healing/budget.js";

const MIN = 60_000;
const opts = { perDir: 2, global: 3, windowMs: 10 * MIN };

interface Row {
  name: string;
  /** Applies taken before the check: [dir, at]. */
  taken: [string, number][];
  check: [string, number];
  available: number;
  limitedBy?: "dir" | "global";
  nextAt?: number;
}

const rows: Row[] = [
  { name: "full_budget_allows_the_burst", taken: [], check: ["w", 0], available: 2 },
  { name: "dir_bucket_empty_limits_by_dir", taken: [["w", 0], ["w", 0]], check: ["w", 0], available: 0, limitedBy: "dir", nextAt: 5 * MIN },
  { name: "a_token_comes_back_after_window_over_capacity", taken: [["w", 0], ["w", 0]], check: ["w", 5 * MIN], available: 1 },
  { name: "other_dir_still_has_its_own_tokens", taken: [["w", 0], ["w", 0]], check: ["s", 0], available: 1 },
  { name: "global_bucket_empty_limits_every_dir", taken: [["w", 0], ["w", 0], ["s", 0]], check: ["x", 0], available: 0, limitedBy: "global", nextAt: Math.ceil((10 * MIN) / 3) },
  { name: "buckets_never_exceed_capacity", taken: [["w", 0]], check: ["w", 100 * MIN], available: 2 },
];
for (const row of rows) {
  test(row.name, (t) => {
    const b = new ApplyBudget(opts);
    for (const [dir, at] of row.taken) t.true(b.take(dir, at), `take ${dir} at ${at}`);
    const v = b.view(row.check[0], row.check[1]);
    t.is(v.available, row.available);
    t.is(v.limitedBy, row.limitedBy);
    if (row.nextAt !== undefined) t.is(v.nextAt, row.nextAt);
    else t.is(v.nextAt, row.check[1]);
  });
}

test("take_on_an_empty_bucket_spends_nothing", (t) => {
  const b = new ApplyBudget(opts);
  t.true(b.take("w", 0));
  t.true(b.take("w", 0));
  t.false(b.take("w", 0));
  t.is(b.globalTokens(0), 1, "the refused take did not touch the global bucket");
});

test("refund_returns_a_token_to_both_buckets", (t) => {
  const b = new ApplyBudget(opts);
  b.take("w", 0);
  b.refund("w", 0);
  t.like(b.view("w", 0), { dirTokens: 2, globalTokens: 3 });
});

test("a_clock_stepping_back_refills_nothing", (t) => {
  const b = new ApplyBudget(opts);
  b.take("w", 10 * MIN);
  b.take("w", 10 * MIN);
  t.is(b.view("w", 0).available, 0);
});

test("bad_limits_fail_at_construction_naming_the_field", (t) => {
  t.throws(() => new ApplyBudget({ perDir: 0 }), { message: /budget\.perDir/ });
  t.throws(() => new ApplyBudget({ windowMs: 1.5 }), { message: /budget\.windowMs/ });
});

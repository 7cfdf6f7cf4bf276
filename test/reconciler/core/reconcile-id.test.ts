import test from "ava";
import { newReconcileId, reconcileIds } from "../../../src/reconciler/core/reconcile-id.js";

test("reconcile_ids_are_distinct_uuids", (t) => {
  const ids = Array.from({ length: 100 }, () => newReconcileId());
  for (const id of ids) t.regex(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(new Set(ids).size, ids.length);
});

test("a_runner_s_pass_ids_share_a_random_prefix_and_count_up", (t) => {
  const next = reconcileIds();
  const ids = Array.from({ length: 100 }, () => next());
  for (const id of ids) t.regex(id, /^[0-9a-f]{5}-[0-9a-z]{1,6}$/);
  t.is(new Set(ids).size, ids.length);
  t.is(ids[36]?.split("-")[1], "11", "base 36");
});

import test from "ava";
import { newReconcileId } from "../../../src/reconciler/core/reconcile-id.js";

test("reconcile_ids_are_distinct_uuids", (t) => {
  const ids = Array.from({ length: 100 }, () => newReconcileId());
  for (const id of ids) t.regex(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(new Set(ids).size, ids.length);
});

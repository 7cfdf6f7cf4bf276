import { randomUUID } from "node:crypto";
import { flatString } from "../../flat-string.js";

/**
 * A new pass id (a random UUID, as `reconcile_id` in logs and `reconcileId`
 * in status), as one flat string: every key's status keeps its last one, and
 * `randomUUID()`'s own result is a rope of ~20 pieces (~500 bytes instead of
 * ~56, 4.6 MB at 10,000 keys).
 */
export function newReconcileId(): string {
  return flatString(randomUUID());
}

/**
 * A source of pass ids for one runner: a random prefix (5 hex digits) and a
 * counter in base 36 (`3f2a9-1b`), unique within the runner and, by the
 * prefix, most likely across runners and terms. Short enough (under 13
 * characters up to 2 billion passes) that V8 stores each as one flat string,
 * and about a tenth of the cost of a UUID per pass.
 */
export function reconcileIds(): () => string {
  const prefix = randomUUID().slice(0, 5);
  let seq = 0;
  return () => `${prefix}-${(++seq).toString(36)}`;
}

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

import test from "ava";
import { terraformMissing } from "./terraform.js";

/**
 * `test` when terraform and the provider mirror are present; otherwise
 * `test.skip`, with the reason printed once. On CI (`CI` set, as .ci/run
 * does) a missing tool is not skipped: the tests run and fail with the reason.
 */
export function terraformTest(): typeof test {
  const missing = terraformMissing();
  if (missing === undefined || process.env.CI) return test;
  console.log(`[skip] real-Terraform tests: ${missing}`);
  return test.skip as unknown as typeof test;
}

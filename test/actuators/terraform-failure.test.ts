// How a failed apply becomes the error the runner acts on: one row per rule,
// with the recorded streams of ../shared/api-reference/ as Terraform's words.
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { API_REFERENCE } from "../helpers/samples.js";
import { TerraformStream } from "../../src/actuators/terraform-stream.js";
import { TerraformError, TerraformInputError, applyFailure, goDuration, type ApplyResult } from "../../src/actuators/terraform.js";

function result(sample: string | undefined, over: Partial<ApplyResult> = {}): ApplyResult {
  const s = new TerraformStream();
  if (sample) {
    const body = (JSON.parse(readFileSync(path.join(API_REFERENCE, sample), "utf8")) as { body: unknown[] }).body;
    for (const m of body) s.push(JSON.stringify(m));
  }
  const sum = s.summary();
  return {
    ok: false,
    unmatchedReplace: [],
    dir: "/srv/tf/workers",
    workspace: "default",
    replace: ['module.workers.aws_instance.worker["b"]'],
    changes: { add: 0, change: 0, remove: 0 },
    resources: sum.resources,
    diagnostics: sum.diagnostics,
    durationMs: 12_000,
    timedOut: false,
    interrupted: false,
    killed: false,
    lockError: false,
    exitCode: 1,
    ...over,
  };
}

const rows: { name: string; r: ApplyResult; kind?: typeof TerraformError | typeof TerraformInputError; message?: RegExp }[] = [
  { name: "success_is_no_error", r: result(undefined, { ok: true, exitCode: 0 }) },
  {
    name: "throttled_is_transient_with_the_providers_words",
    r: result("ec2/observed-terraform-apply-throttled-failed.json"),
    kind: TerraformError,
    message: /^terraform apply in \/srv\/tf\/workers replacing module\.workers\.aws_instance\.worker\["b"\] failed: creating EC2 Instance: .*RequestLimitExceeded: Request limit exceeded\. \(aws_instance\.worker\["a"\], main\.tf:35\)$/,
  },
  {
    name: "held_lock_is_transient_and_names_the_holder",
    r: result("terraform/observed-stream-plan-lock-timeout.json", { lockError: true }),
    kind: TerraformError,
    message: /the state lock is held by another process \(root@vm, OperationTypeApply since 2026-11-25/,
  },
  {
    name: "timeout_interrupted_says_the_lock_was_released",
    r: result(undefined, { timedOut: true, durationMs: 900_000 }),
    kind: TerraformError,
    message: /timed out after 900 s and was interrupted \(state saved, lock released\)$/,
  },
  {
    name: "timeout_killed_warns_of_a_left_lock",
    r: result(undefined, { timedOut: true, killed: true, exitCode: null }),
    kind: TerraformError,
    message: /was killed \(the state lock may be left behind\)/,
  },
  {
    name: "invalid_replace_address_is_terminal",
    r: result("terraform/observed-stream-plan-invalid-replace-address.json"),
    kind: TerraformInputError,
    message: /: Invalid force-replace address "data\.x\.y"$/,
  },
  {
    name: "failure_without_a_diagnostic_shows_stderr",
    r: result(undefined, { stderr: "panic: boom\n" }),
    kind: TerraformError,
    message: /failed: exit 1: panic: boom$/,
  },
];
for (const row of rows) {
  test(row.name, (t) => {
    const err = applyFailure(row.r, { pool: "workers" });
    if (!row.kind) {
      t.is(err, undefined);
      return;
    }
    t.true(err instanceof row.kind, err?.constructor.name);
    t.regex(err?.message ?? "", row.message ?? /./);
    t.is(err?.dir, "/srv/tf/workers");
    t.deepEqual(err?.addresses, row.r.replace);
    t.deepEqual(err?.context, { pool: "workers" });
  });
}

test("lock_timeout_is_a_go_duration", (t) => {
  t.is(goDuration(30_000), "30s");
  t.is(goDuration(1_500), "1500ms");
});

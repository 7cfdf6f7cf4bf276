// Terraform's `-json` stream as Steward reads it, fed with the recorded
// streams of ../shared/api-reference/ (real v1.11.4 output, the docs' 0.1.0
// sample, and a fixture with message types newer than 1.11).
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { API_REFERENCE } from "../helpers/samples.js";
import {
  TerraformStream,
  isInputDiagnostic,
  isStateLockDiagnostic,
  isSupportedUiVersion,
  needsInitDiagnostic,
  type StreamSummary,
  type TerraformEvent,
} from "../../src/actuators/terraform-stream.js";

function read(rel: string): { summary: StreamSummary; events: TerraformEvent[] } {
  const sample = JSON.parse(readFileSync(path.join(API_REFERENCE, rel), "utf8")) as { body: unknown };
  const lines = (Array.isArray(sample.body) ? sample.body : [sample.body]).map((m) => JSON.stringify(m));
  const s = new TerraformStream();
  const events: TerraformEvent[] = [];
  for (const l of lines) {
    const e = s.push(l);
    if (e) events.push(e);
  }
  return { summary: s.summary(), events };
}

test("replace_stream_counts_one_add_one_remove_with_delete_then_create", (t) => {
  const { summary, events } = read("terraform/observed-stream-apply-replace-requested.json");
  t.is(summary.terraformVersion, "1.11.4");
  t.deepEqual(summary.planned, [{ address: "terraform_data.x", action: "replace", reason: "requested" }]);
  t.deepEqual(summary.plannedChanges, { add: 1, change: 0, remove: 1 });
  t.deepEqual(summary.appliedChanges, { add: 1, change: 0, remove: 1 });
  t.deepEqual(
    summary.resources.map((r) => `${r.address} ${r.action} ${r.status}`),
    ["terraform_data.x delete complete", "terraform_data.x create complete"],
  );
  t.regex(summary.resources[1]?.idValue ?? "", /^f53501a6-/);
  t.deepEqual(summary.outputs, { v: "a" }, "the final outputs line, not the planned one");
  t.true(events.some((e) => e.message === "Apply complete! Resources: 1 added, 0 changed, 1 destroyed."));
});

test("failed_apply_has_no_applied_summary_and_an_addressed_diagnostic", (t) => {
  const { summary, events } = read("ec2/observed-terraform-apply-throttled-failed.json");
  t.is(summary.appliedChanges, undefined);
  t.deepEqual(summary.resources.map((r) => `${r.action} ${r.status}`), ["create errored"]);
  const d = summary.diagnostics[0];
  t.like(d, { severity: "error", address: 'aws_instance.worker["a"]', location: "main.tf:35" });
  t.regex(d?.summary ?? "", /exceeded maximum number of attempts, 2, .*api error RequestLimitExceeded: Request limit exceeded\.$/);
  t.false(isInputDiagnostic(d!), "throttling may pass");
  t.is(events.at(-1)?.address, 'aws_instance.worker["a"]');
});

test("partial_apply_keeps_what_completed", (t) => {
  const { summary } = read("terraform/observed-stream-apply-progress-and-error.json");
  t.deepEqual(
    summary.resources.map((r) => `${r.address} ${r.status}`).sort(),
    ["terraform_data.bad errored", "terraform_data.slow complete"],
  );
  t.like(summary.diagnostics[0], { summary: "local-exec provisioner error", address: "terraform_data.bad" });
});

test("repeated_replace_flags_plan_every_address", (t) => {
  const { summary } = read("terraform/observed-stream-plan-replace-repeated-flag.json");
  t.deepEqual(summary.planned.map((p) => `${p.address} ${p.action}/${p.reason}`), ["terraform_data.a replace/requested", "terraform_data.b replace/requested"]);
  t.deepEqual(summary.plannedChanges, { add: 2, change: 0, remove: 2 });
});

test("lock_timeout_is_a_state_lock_diagnostic", (t) => {
  const { summary, events } = read("terraform/observed-stream-plan-lock-timeout.json");
  t.true(summary.diagnostics.some(isStateLockDiagnostic));
  t.true(events.some((e) => e.type === "state_lock_acquire"), "the lock wait is shown as progress");
  t.false(summary.diagnostics.some(isInputDiagnostic));
});

const inputErrors = [
  "terraform/observed-stream-plan-invalid-replace-address.json",
  "terraform/observed-stream-plan-missing-variable.json",
  "terraform/observed-stream-plan-destroy-with-replace.json",
];
for (const file of inputErrors) {
  test(`input_error_is_terminal: ${path.basename(file, ".json")}`, (t) => {
    const { summary } = read(file);
    t.true(summary.diagnostics.some(isInputDiagnostic), summary.diagnostics.map((d) => d.summary).join("; "));
    t.false(summary.diagnostics.some(isStateLockDiagnostic));
  });
}

test("docs_stream_of_ui_0_1_0_is_read", (t) => {
  const { summary } = read("terraform/ui-stream-apply-docs.json");
  t.is(summary.uiVersion, "0.1.0");
  t.true(isSupportedUiVersion("0.1.0"));
  t.deepEqual(summary.appliedChanges, { add: 1, change: 0, remove: 0 });
  t.deepEqual(summary.outputs, { pets: "smart-lizard" });
});

test("unknown_types_and_non_json_lines_are_skipped", (t) => {
  const s = new TerraformStream();
  t.is(s.push("Initializing the backend..."), undefined);
  t.is(s.push('{"truncated":'), undefined);
  const e = s.push(JSON.stringify({ "@level": "info", "@message": "something new", type: "action_invocation", extra: { x: 1 } }));
  t.like(e, { type: "action_invocation", message: "something new" }, "an unknown type still shows its @message");
  t.is(s.summary().otherLines, 2);
});

const uiVersions: [string, boolean][] = [
  ["1.2", true],
  ["1.3", true],
  ["1.0", true],
  ["0.1.0", true],
  ["2.0", false],
  ["", false],
];
for (const [ui, ok] of uiVersions) {
  test(`ui_version_${ui || "empty"}_${ok ? "accepted" : "refused"}`, (t) => t.is(isSupportedUiVersion(ui), ok));
}

test("missing_module_needs_init", (t) => {
  t.true(needsInitDiagnostic({ severity: "error", summary: "Module not installed", detail: "" }));
  t.false(needsInitDiagnostic({ severity: "error", summary: "Error acquiring the state lock", detail: "" }));
  t.false(needsInitDiagnostic({ severity: "warning", summary: "Module not installed", detail: "" }));
});

import test from "ava";
import { HEALING_PROGRESS_LINE_CHARS, HEALING_PROGRESS_LINES } from "../../../src/config/defaults.js";
import { addSecret } from "../../../src/log.js";
import { appendProgress, createRedactor, progressLineOf, sensitiveEnvValues, type ApplyProgress, type TerraformProgressEvent } from "../../../src/reconciler/healing/progress.js";

/** What a Terraform progress line may show on the pool page: chosen kinds only, nothing secret, bounded. */

const VAULT_VALUE = "vault-kv-db-password-7f3a9c";
addSecret(VAULT_VALUE);
const TF_VAR_VALUE = "ami-user-data-secret-42";
const redact = createRedactor(sensitiveEnvValues({ TF_VAR_bootstrap_token: TF_VAR_VALUE, AWS_REGION: "us-east-1", HOME: "/root" }));
const W = 'module.workers.aws_instance.worker["b"]';

interface Row {
  name: string;
  event: TerraformProgressEvent;
  /** The line shown, or undefined when none is. */
  want: string | undefined;
}

const rows: Row[] = [
  { name: "a_resource_hook_is_shown_as_terraform_says_it", event: { type: "apply_start", level: "info", message: `${W}: Creating...` }, want: `${W}: Creating...` },
  {
    name: "a_completion_with_its_new_id_is_shown",
    event: { type: "apply_complete", level: "info", message: `${W}: Creation complete after 31s [id=i-0b7f]` },
    want: `${W}: Creation complete after 31s [id=i-0b7f]`,
  },
  { name: "the_planned_replacement_is_shown", event: { type: "planned_change", level: "info", message: `${W}: Plan to replace` }, want: `${W}: Plan to replace` },
  { name: "a_diagnostic_shows_its_summary_line", event: { type: "diagnostic", level: "error", message: "Error: creating EC2 Instance: InsufficientInstanceCapacity" }, want: "Error: creating EC2 Instance: InsufficientInstanceCapacity" },
  { name: "free_text_log_lines_are_never_shown", event: { type: "log", level: "info", message: `provider said ${TF_VAR_VALUE}` }, want: undefined },
  { name: "outputs_are_never_shown", event: { type: "outputs", level: "info", message: "Outputs: 3" }, want: undefined },
  { name: "provisioner_output_is_never_shown", event: { type: "provision_progress", level: "info", message: `${W}: (local-exec): hunter2` }, want: undefined },
  { name: "a_type_terraform_adds_later_is_not_shown", event: { type: "ephemeral_open", level: "info", message: "something new" }, want: undefined },
  { name: "a_value_read_from_vault_is_redacted", event: { type: "apply_errored", level: "error", message: `${W}: error: user_data contains ${VAULT_VALUE}` }, want: `${W}: error: user_data contains [REDACTED]` },
  { name: "a_terraform_variable_from_the_environment_is_redacted", event: { type: "diagnostic", level: "error", message: `Error: invalid token ${TF_VAR_VALUE}` }, want: "Error: invalid token [REDACTED]" },
  { name: "an_aws_access_key_id_is_redacted", event: { type: "diagnostic", level: "error", message: "Error: The security token included in the request is invalid (AKIAIOSFODNN7EXAMPLE)" }, want: "Error: The security token included in the request is invalid ([REDACTED])" },
  { name: "a_vault_token_is_redacted", event: { type: "diagnostic", level: "error", message: "Error: permission denied for hvs.CAESIJ3tq9vyQ0c1bXhXq8Y2x" }, want: "Error: permission denied for [REDACTED]" },
  { name: "a_password_assignment_is_redacted", event: { type: "diagnostic", level: "error", message: 'Error: bad value password = "s3cr3t!!"' }, want: "Error: bad value password = [REDACTED]" },
  { name: "a_resource_named_secret_is_left_alone", event: { type: "apply_start", level: "info", message: "module.db.aws_secretsmanager_secret.db: Creating..." }, want: "module.db.aws_secretsmanager_secret.db: Creating..." },
  { name: "a_short_ordinary_env_value_is_not_taken_for_a_secret", event: { type: "refresh_start", level: "info", message: `${W}: Refreshing state... [id=i-1] us-east-1` }, want: `${W}: Refreshing state... [id=i-1] us-east-1` },
  { name: "control_characters_become_spaces", event: { type: "apply_progress", level: "info", message: `${W}: Still creating...\u001b[0m\n[10s elapsed]` }, want: `${W}: Still creating... [10s elapsed]` },
  { name: "an_empty_message_shows_nothing", event: { type: "apply_progress", level: "info", message: "  " }, want: undefined },
];

for (const row of rows) {
  test(row.name, (t) => {
    t.is(progressLineOf(row.event, 1_000, redact)?.message, row.want);
  });
}

test("a_long_line_is_cut_to_the_limit", (t) => {
  const line = progressLineOf({ type: "diagnostic", level: "error", message: `Error: ${"x".repeat(2 * HEALING_PROGRESS_LINE_CHARS)}` }, 1, redact);
  t.is(line?.message.length, HEALING_PROGRESS_LINE_CHARS);
  t.true(line?.message.endsWith("…"));
});

test("a_pool_keeps_the_last_lines_of_its_latest_apply_only", (t) => {
  const store = new Map<string, ApplyProgress>();
  appendProgress(store, "workers", "apply-1", { at: 0, level: "info", message: "old apply" });
  for (let i = 0; i < HEALING_PROGRESS_LINES + 5; i++) appendProgress(store, "workers", "apply-2", { at: i, level: "info", message: `line ${i}` });
  const p = store.get("workers");
  t.is(p?.applyId, "apply-2");
  t.is(p?.lines.length, HEALING_PROGRESS_LINES);
  t.is(p?.lines[0]?.message, "line 5");
  t.is(p?.lines.at(-1)?.message, `line ${HEALING_PROGRESS_LINES + 4}`);
});

test("sensitive_env_values_are_variables_and_secret_names", (t) => {
  t.deepEqual(
    sensitiveEnvValues({ TF_VAR_region: "eu-west-1", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI", AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", VAULT_TOKEN: "hvs.abcdef", PATH: "/usr/bin:/bin", SHORT_KEY: "abc" }).sort(),
    ["AKIAIOSFODNN7EXAMPLE", "eu-west-1", "hvs.abcdef", "wJalrXUtnFEMI"].sort(),
  );
});

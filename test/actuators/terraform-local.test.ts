// TerraformRunner with the real terraform binary on a configuration of
// built-in `terraform_data` resources: no provider, no cloud, a few seconds.
// Covers what needs no EC2: workspaces, the interrupt of a running apply and
// the release of its lock, the mutex per directory.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TerraformInputError, TerraformRunner, applyFailure } from "../../src/actuators/terraform.js";
import { terraformBinary } from "../helpers/terraform.js";
import { terraformTest } from "../helpers/terraform-test.js";

const test = terraformTest();
// Nothing of the machine's Terraform setup (a CLI config, a plugin cache) may leak in.
const env = { TF_CLI_CONFIG_FILE: "/dev/null", TF_PLUGIN_CACHE_DIR: "" };

function workdir(t: { teardown(fn: () => void): void }, config: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "steward-tf-local-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "main.tf"), config);
  return dir;
}

const WS_CONFIG = `
resource "terraform_data" "x" {
  input = terraform.workspace
}
output "ws" {
  value = terraform.workspace
}
`;

test("a_named_workspace_is_used_without_selecting_it_and_a_missing_one_is_refused", async (t) => {
  const dir = workdir(t, WS_CONFIG);
  const tf = new TerraformRunner({ binary: terraformBinary(), env });
  await tf.init(dir);
  execFileSync(terraformBinary(), [`-chdir=${dir}`, "workspace", "new", "blue"], { env: { ...process.env, ...env } });
  execFileSync(terraformBinary(), [`-chdir=${dir}`, "workspace", "select", "default"], { env: { ...process.env, ...env } });

  const blue = await tf.apply({ dir, workspace: "blue" });
  t.true(blue.ok, applyFailure(blue)?.message);
  t.deepEqual(blue.outputs, { ws: "blue" });
  const def = await tf.apply({ dir });
  t.deepEqual(def.outputs, { ws: "default" }, "nothing stayed selected");

  const err = await t.throwsAsync(tf.apply({ dir, workspace: "bleu" }));
  t.true(err instanceof TerraformInputError, "a typo is terminal, not retried");
  t.regex(err?.message ?? "", /workspace bleu does not exist in .* \(it has default, blue\)/);
  t.false(existsSync(path.join(dir, "terraform.tfstate.d", "bleu")), "and it was not created");
});

test("a_running_apply_is_interrupted_at_its_deadline_and_releases_the_lock", async (t) => {
  const dir = workdir(
    t,
    `
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "sleep 120"
  }
}
`,
  );
  const tf = new TerraformRunner({ binary: terraformBinary(), env, applyTimeoutMs: 4_000, interruptGraceMs: 30_000 });
  await tf.init(dir);
  const started: string[] = [];
  const r = await tf.apply({ dir, onProgress: (e) => e.type === "apply_start" && started.push(e.address ?? "") });
  t.deepEqual(started, ["terraform_data.slow"]);
  t.like(r, { ok: false, timedOut: true, killed: false, lockError: false });
  t.true(r.durationMs < 30_000, `stopped on the interrupt (${r.durationMs} ms), not the kill`);
  t.false(existsSync(path.join(dir, ".terraform.tfstate.lock.info")), "the lock was released");
  t.regex(applyFailure(r)?.message ?? "", /timed out after \d+ s and was interrupted .*: local-exec provisioner error \(terraform_data\.slow, main\.tf:\d+\)/);

  // The next apply in the directory takes the lock at once.
  const quick = new TerraformRunner({ binary: terraformBinary(), env, lockTimeoutMs: 1_000, applyTimeoutMs: 4_000 });
  const again = await quick.apply({ dir });
  t.false(again.lockError);
});

test("commands_in_one_directory_wait_for_each_other", async (t) => {
  const dir = workdir(t, WS_CONFIG);
  const tf = new TerraformRunner({ binary: terraformBinary(), env, lockTimeoutMs: 1_000 });
  // With a 1 s lock timeout, two concurrent applies would meet the lock; the runner serialises them.
  const [a, b] = await Promise.all([tf.apply({ dir }), tf.apply({ dir })]);
  t.true(a.ok && b.ok, `${applyFailure(a)?.message ?? ""} ${applyFailure(b)?.message ?? ""}`);
  t.false(tf.isBusy(dir));
});

test("a_replace_address_terraform_ignores_makes_the_apply_fail_as_an_input_error", async (t) => {
  const dir = workdir(t, WS_CONFIG);
  const tf = new TerraformRunner({ binary: terraformBinary(), env });
  const r = await tf.apply({ dir, replace: ["terraform_data.x", 'terraform_data.y["gone"]'] });
  t.is(r.exitCode, 0, "Terraform itself says nothing and applies");
  t.false(r.ok);
  t.deepEqual(r.unmatchedReplace, ['terraform_data.y["gone"]']);
  const err = applyFailure(r);
  t.true(err instanceof TerraformInputError);
  t.regex(err?.message ?? "", /Replace address matched no resource instance \(terraform_data\.y\["gone"\]\)/);
});

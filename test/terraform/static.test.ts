// The real terraform binary checks every file under terraform/: formatting,
// an offline `init` from the provider mirror, and `validate` of every root
// module in terraform/examples/ (which loads every module those call). Each
// root runs in its own copy of the tree, so the roots validate in parallel.
// Missing terraform or mirror fails with the helper's message: CI has both.
import test from "ava";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, describeRun, runTerraform, terraformBinary, terraformWorkdir } from "../helpers/terraform.js";

const TERRAFORM = path.join(REPO_ROOT, "terraform");
const ROOTS = readdirSync(path.join(TERRAFORM, "examples")).sort();
const MODULES = readdirSync(path.join(TERRAFORM, "modules")).sort();

/** Module directories (relative to terraform/) that `init` installed for a root, from .terraform/modules/modules.json. */
const loadedModules = new Map<string, Promise<string[]>>();

test("terraform_fmt_finds_nothing_to_reformat_under_terraform", async (t) => {
  // fmt needs no provider and never writes with -check; -diff shows what is off.
  const run = promisify(execFile);
  const r = await run(terraformBinary(), ["fmt", "-check", "-recursive", "-diff", "-no-color", TERRAFORM], {
    env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", CHECKPOINT_DISABLE: "1" },
  }).then(
    () => ({ code: 0, out: "" }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout ?? ""}${err.stderr ?? ""}` }),
  );
  t.is(r.code, 0, `terraform fmt -check -recursive terraform/ wants changes (run \`terraform fmt -recursive terraform/\`):\n${r.out}`);
});

for (const root of ROOTS) {
  const loaded = (async (): Promise<string[]> => {
    const w = terraformWorkdir({ module: `examples/${root}`, ec2Url: "http://127.0.0.1:9" });
    try {
      const init = await runTerraform(w, ["init", "-input=false", "-no-color", "-backend=false"]);
      if (init.code !== 0) throw new Error(describeRun(init));
      const validate = await runTerraform(w, ["validate", "-json", "-no-color"]);
      const report = JSON.parse(validate.stdout) as { valid: boolean; error_count: number; warning_count: number; diagnostics: { severity: string; summary: string; detail: string }[] };
      if (!report.valid || report.warning_count > 0) {
        throw new Error(`terraform validate of examples/${root}:\n${report.diagnostics.map((d) => `  ${d.severity}: ${d.summary}: ${d.detail}`).join("\n")}`);
      }
      const manifest = JSON.parse(readFileSync(path.join(w.dir, ".terraform", "modules", "modules.json"), "utf8")) as { Modules: { Dir: string }[] };
      return manifest.Modules.map((m) => path.relative(path.join(w.root, "terraform"), path.resolve(w.dir, m.Dir))).filter((d) => d.startsWith("modules/"));
    } finally {
      w.cleanup();
    }
  })();
  // The promise is awaited by the tests below; an early rejection must not crash the worker.
  loaded.catch(() => undefined);
  loadedModules.set(root, loaded);

  test(`terraform_init_offline_and_validate_accept_examples_${root}`, async (t) => {
    t.timeout(120_000, "init and validate start the provider: a few seconds each");
    const modules = await loadedModules.get(root);
    t.true(Array.isArray(modules));
  });
}

test("every_module_is_validated_through_some_example", async (t) => {
  t.timeout(120_000);
  const results = await Promise.allSettled([...loadedModules.values()]);
  const used = new Set(results.flatMap((r) => (r.status === "fulfilled" ? r.value : [])));
  t.true(results.every((r) => r.status === "fulfilled"), "every example validated (see its own test)");
  t.deepEqual(
    MODULES.filter((m) => !used.has(`modules/${m}`)),
    [],
    "a module no example calls is never validated: call it from an example",
  );
});

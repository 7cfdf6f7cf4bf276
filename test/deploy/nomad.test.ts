// deploy/nomad/*.nomad.hcl: each job file parses with HashiCorp's parser
// (@cdktf/hcl2json) and is accepted by sim's /v1/jobs/parse (hcl/v2) as the
// job type, groups and service checks the platform relies on; Steward's
// configuration template renders to a file Steward's own loader accepts;
// Prometheus's templates are deploy/prometheus/ unchanged.
import test from "ava";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { startSim, type Sim } from "../../sim/index.js";
import { DAEMON_MALLOC_ENV, DAEMON_NODE_OPTIONS } from "../../src/config/defaults.js";
import { loadConfig } from "../../src/config/load.js";
import { DEPLOY, REPO_ROOT, assertInstalled, hclToJson, parseWithSim, renderTemplate, tasksOf, templateAt } from "./fixture.js";

const NOMAD_DIR = path.join(DEPLOY, "nomad");

interface JobRow {
  file: string;
  /** The HCL2 variables file the test passes (the variables without defaults). */
  variables: string;
  type: "service" | "system";
  groups: string[];
  /** Per service name: its check paths and tags the platform depends on. */
  services: Record<string, { checks: string[]; tags: string[] }>;
  /** The Vault role of each task that reads secrets. */
  vaultRoles: Record<string, string>;
}

const STEWARD_VARS = 'image = "registry.service.consul:5000/steward@sha256:' + "a".repeat(64) + '"\ngit_url = "https://git.example.com/platform/desired.git"\n';

const JOBS: JobRow[] = [
  {
    file: "steward.nomad.hcl",
    variables: STEWARD_VARS,
    type: "system",
    groups: ["steward"],
    services: { steward: { checks: ["/healthz", "/readyz"], tags: ["prometheus", "urlprefix-/hooks/"] } },
    vaultRoles: { steward: "steward" },
  },
  {
    file: "registry.nomad.hcl",
    variables: "",
    type: "service",
    groups: ["registry"],
    services: { registry: { checks: ["/v2/"], tags: [] } },
    vaultRoles: { registry: "registry" },
  },
  {
    file: "fabio.nomad.hcl",
    variables: "",
    type: "system",
    groups: ["fabio"],
    services: { fabio: { checks: ["/health"], tags: [] } },
    vaultRoles: { fabio: "fabio" },
  },
  {
    file: "prometheus.nomad.hcl",
    variables: "",
    type: "service",
    groups: ["prometheus"],
    services: { prometheus: { checks: ["/-/healthy", "/-/ready"], tags: [] } },
    vaultRoles: { prometheus: "prometheus" },
  },
];

let sim: Sim;
const parsed = new Map<string, Record<string, any>>();

test.before(async () => {
  sim = await startSim({});
});
test.after.always(async () => {
  await sim?.close();
});

async function job(row: JobRow): Promise<Record<string, any>> {
  const hit = parsed.get(row.file);
  if (hit) return hit;
  const j = await parseWithSim(sim, path.join(NOMAD_DIR, row.file), row.variables);
  parsed.set(row.file, j);
  return j;
}

test("every_job_file_in_deploy_nomad_has_a_row", async (t) => {
  const files = (await readdir(NOMAD_DIR)).filter((f) => f.endsWith(".hcl")).sort();
  t.deepEqual(files, JOBS.map((r) => r.file).sort(), "a job file without a row here is not checked");
});

for (const row of JOBS) {
  test(`${row.file}_parses_with_hashicorps_parser_as_one_job_named_after_the_file`, async (t) => {
    const doc = await hclToJson(path.join(NOMAD_DIR, row.file));
    t.deepEqual(Object.keys(doc.job ?? {}), [row.file.replace(/\.nomad\.hcl$/, "")]);
  });

  test(`${row.file}_is_accepted_by_sims_parse_with_its_type_groups_and_checks`, async (t) => {
    const j = await job(row);
    t.is(j.ID, row.file.replace(/\.nomad\.hcl$/, ""));
    t.is(j.Type, row.type);
    t.deepEqual(j.TaskGroups.map((g: any) => String(g.Name)), row.groups);
    const services: Record<string, { checks: string[]; tags: string[] }> = {};
    for (const g of j.TaskGroups) {
      for (const s of g.Services ?? []) services[s.Name] = { checks: (s.Checks ?? []).map((c: any) => String(c.Path)), tags: s.Tags ?? [] };
    }
    for (const [name, want] of Object.entries(row.services)) {
      t.deepEqual(services[name]?.checks, want.checks, `${name}'s checks`);
      for (const tag of want.tags) t.true((services[name]?.tags ?? []).includes(tag), `${name} is tagged ${tag}`);
    }
    for (const { task, group } of tasksOf(j)) {
      t.truthy(task.Resources?.CPU && task.Resources?.MemoryMB, `${task.Name} declares resources`);
      t.truthy(group.RestartPolicy?.Attempts, `${group.Name} has a restart policy`);
      t.is(task.Vault?.Role, row.vaultRoles[task.Name], `${task.Name}'s Vault role`);
      // The task's own process never holds the Vault token; only its templates use it.
      if (task.Vault) t.deepEqual([task.Vault.Env, task.Vault.DisableFile], [false, true], `${task.Name} keeps the Vault token away from the process`);
    }
  });
}

test("every_hcl_file_of_deploy_and_the_hello_job_is_formatted_as_hashicorps_formatter_writes_it", async (t) => {
  // `terraform fmt` applies HCL's canonical layout to any HCL file given on stdin.
  const terraform = process.env.TERRAFORM_BIN ?? "/usr/local/bin/terraform";
  assertInstalled(terraform, "terraform (1.11.4, on the machine image's PATH)");
  const files = [
    ...(await readdir(NOMAD_DIR)).filter((f) => f.endsWith(".hcl")).map((f) => path.join(NOMAD_DIR, f)),
    ...(await Promise.all(["nomad", "consul", "vault"].map(async (d) => (await readdir(path.join(DEPLOY, "policies", d))).map((f) => path.join(DEPLOY, "policies", d, f))))).flat(),
    path.join(REPO_ROOT, "desired-state/services/hello/hello.nomad.hcl"),
  ];
  for (const file of files) {
    const text = await readFile(file, "utf8");
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(terraform, ["fmt", "-"], { env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" }, stdio: ["pipe", "pipe", "ignore"] });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.on("close", (code) => resolve({ code, out }));
      child.stdin.end(text);
    });
    t.is(r.code, 0, `terraform fmt could not read ${path.relative(REPO_ROOT, file)}`);
    t.is(r.out, text, `${path.relative(REPO_ROOT, file)} is not in canonical HCL layout (terraform fmt - < file)`);
  }
});

test("steward_rolls_one_instance_at_a_time_waiting_for_its_checks", async (t) => {
  const j = await job(JOBS[0]!);
  t.is(j.Update.MaxParallel, 1);
  t.is(j.Update.HealthCheck, "checks");
  const alive = j.TaskGroups[0].Services[0].Checks.find((c: any) => c.Path === "/healthz");
  const ready = j.TaskGroups[0].Services[0].Checks.find((c: any) => c.Path === "/readyz");
  t.truthy(alive.CheckRestart?.Limit, "a dead process is restarted");
  t.is(ready.CheckRestart, null, "a not-ready instance is kept out of traffic, not restarted");
  t.true(j.TaskGroups[0].Tasks[0].KillTimeout > 5_000_000_000, "stopping leaves time for the graceful handover (longer than the lock-delay)");
});

test("steward_runs_with_the_memory_settings_the_daemon_bench_measures", async (t) => {
  const j = await job(JOBS[0]!);
  const env = (j.TaskGroups[0].Tasks[0].Env ?? {}) as Record<string, string>;
  t.is(env.NODE_OPTIONS, DAEMON_NODE_OPTIONS);
  for (const [name, value] of Object.entries(DAEMON_MALLOC_ENV)) t.is(env[name], value, name);
});

test("stewards_config_template_renders_to_a_config_its_loader_accepts", async (t) => {
  const j = await job(JOBS[0]!);
  const task = j.TaskGroups[0].Tasks[0];
  const cfgTmpl = templateAt(task, "local/steward.yaml");
  const text = renderTemplate(cfgTmpl.EmbeddedTmpl, { env: { NOMAD_IP_http: "10.0.1.7", "node.unique.name": "worker-3" } });
  const dir = await mkdtemp(path.join(tmpdir(), "steward-deploy-config-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "steward.yaml");
  await writeFile(file, text);
  const config = await loadConfig(file, {});
  t.deepEqual(config.source, { git: { url: "https://git.example.com/platform/desired.git", branch: "main", subdir: "desired-state", fetchIntervalMs: 30_000 } });
  t.is(config.consul.address, "http://10.0.1.7:8500");
  t.is(config.instanceId, "worker-3");
  t.deepEqual(task.Config.args, ["run", "--config", "/local/steward.yaml"], "Steward runs with the rendered file");

  // Every secret the config names is rendered by a template of the task:
  // env names into the env template, files into a template at that path.
  const envTmpl = (task.Templates as any[]).find((x) => x.Envvars);
  const envNames = [...String(envTmpl?.EmbeddedTmpl ?? "").matchAll(/(?:^|\})([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]);
  t.true(config.consul.token !== undefined && "env" in config.consul.token && envNames.includes(config.consul.token.env), "the Consul token's variable is rendered");
  const hook = config.webhookSecret;
  t.true(hook !== undefined && "file" in hook && (task.Templates as any[]).some((x) => `/${x.DestPath}` === hook.file), "the webhook secret's file is rendered");
  t.true(envNames.includes("NOMAD_TOKEN_QA") && envNames.includes("NOMAD_TOKEN_PROD"), "a Nomad token per environment of the example steward.yaml");
});

test("steward_job_gives_healing_terraform_its_roots_and_aws_credentials", async (t) => {
  const j = await job(JOBS[0]!);
  const group = j.TaskGroups[0];
  const task = group.Tasks[0];
  const text = renderTemplate(templateAt(task, "local/steward.yaml").EmbeddedTmpl, { env: { NOMAD_IP_http: "10.0.1.7", "node.unique.name": "worker-3" } });
  const dir = await mkdtemp(path.join(tmpdir(), "steward-deploy-healing-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, "steward.yaml"), text);
  const healing = (await loadConfig(path.join(dir, "steward.yaml"), {})).healing;
  if (!healing) return t.fail("the rendered config turns healing on");
  // The binary and the roots are the task's artifacts, at the paths the config names (/local is the task's local/).
  const artifacts = (task.Artifacts ?? []) as { GetterSource: string; RelativeDest: string; GetterOptions?: Record<string, string> }[];
  const bin = artifacts.find((a) => a.GetterSource.startsWith("https://releases.hashicorp.com/terraform/1.11.4/terraform_1.11.4_linux_amd64.zip"));
  t.truthy(bin, "the Terraform release is fetched");
  t.is(healing.binary, `/${bin?.RelativeDest ?? "?"}/terraform`, "the config runs the fetched binary");
  t.regex(bin?.GetterOptions?.checksum ?? "", /^file:https:\/\/releases\.hashicorp\.com\/terraform\/1\.11\.4\/terraform_1\.11\.4_SHA256SUMS$/, "checked against HashiCorp's published sums");
  const roots = artifacts.find((a) => a.GetterSource.startsWith("git::"));
  t.is(roots?.GetterSource, "git::https://git.example.com/platform/desired.git", "the roots come from git_url when infra_git_url is empty");
  t.is(`/${roots?.RelativeDest ?? "?"}`, healing.terraformRoot);
  // Every pool of the example names a directory under the roots' checkout.
  for (const f of await readdir(path.join(REPO_ROOT, "desired-state/pools"))) {
    const pool = parseYaml(await readFile(path.join(REPO_ROOT, "desired-state/pools", f), "utf8")) as { terraform: { dir: string } };
    t.truthy((await readdir(path.join(REPO_ROOT, pool.terraform.dir))).find((x) => x.endsWith(".tf")), `${f}: ${pool.terraform.dir} is a Terraform root of this repository`);
  }
  t.is(healing.env?.AWS_REGION, "us-east-1");
  // The AWS credentials Terraform and the EC2 reads take from the environment come from Vault.
  const envTmpl = String(((task.Templates as any[]).find((x) => x.Envvars) as { EmbeddedTmpl: string }).EmbeddedTmpl);
  t.regex(envTmpl, /\{\{ with secret "secret\/data\/steward\/aws" \}\}AWS_ACCESS_KEY_ID=\{\{ \.Data\.data\.access_key_id \}\}\nAWS_SECRET_ACCESS_KEY=/);
  t.true(group.EphemeralDisk.SizeMB >= 1500 && group.EphemeralDisk.Sticky, "room for the AWS provider, kept across in-place updates");
  t.true(task.Resources.MemoryMB >= 512, "room for an apply next to Steward");
});

test("prometheus_job_carries_deploy_prometheus_files_unchanged", async (t) => {
  const j = await job(JOBS[3]!);
  const task = j.TaskGroups[0].Tasks[0];
  const config = templateAt(task, "local/prometheus.yml");
  t.is(config.EmbeddedTmpl, await readFile(path.join(DEPLOY, "prometheus/prometheus.yml"), "utf8"), "paste deploy/prometheus/prometheus.yml into the job");
  t.deepEqual([config.LeftDelim, config.RightDelim], ["[[", "]]"]);
  const files = (await readdir(path.join(DEPLOY, "prometheus/rules"))).filter((f) => f.endsWith(".yml")).sort();
  t.true(files.length >= 3);
  for (const f of files) {
    const rules = templateAt(task, `local/rules/${f}`);
    t.is(rules.EmbeddedTmpl, await readFile(path.join(DEPLOY, "prometheus/rules", f), "utf8"), `paste rules/${f} into the job`);
    // `[[ ]]`: the rules' `{{ $labels }}` must reach Prometheus, not the template runner.
    t.deepEqual([rules.LeftDelim, rules.RightDelim], ["[[", "]]"], f);
  }
  const cfg = parseYaml(config.EmbeddedTmpl) as { rule_files: string[] };
  t.deepEqual(cfg.rule_files, ["rules/*.yml"], "the rules land where the config looks (beside it in /local)");
  t.true(task.Config.args.includes("--config.file=/local/prometheus.yml"));
  t.truthy(templateAt(task, "secrets/consul-token"), "the credentials file the config names is rendered");
});

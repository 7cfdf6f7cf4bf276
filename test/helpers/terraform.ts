import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two levels above this file). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The provider the integration tests run; the machine image carries it in a filesystem mirror. */
export const AWS_PROVIDER_VERSION = "5.100.0";

/** Where provider mirrors usually live (TF_PROVIDER_MIRROR overrides). */
const MIRROR_ROOTS = [
  "/opt/tf-plugins",
  "/opt/terraform/plugins",
  "/usr/share/terraform/plugins",
  "/usr/local/share/terraform/plugins",
  path.join(os.homedir(), ".terraform.d/plugins"),
  path.join(os.homedir(), ".local/share/terraform/plugins"),
  "/usr/local/lib/terraform/plugins",
];
/** Searched a few levels deep when no usual root holds the provider. */
const SEARCH_ROOTS = ["/opt", "/usr/local", "/usr/share", "/srv", os.homedir()];

/**
 * The `terraform` binary on PATH. Throws a message that says what is
 * missing: the tests that need it must fail, not skip, when it is absent.
 */
export function terraformBinary(): string {
  const fromEnv = process.env.TERRAFORM_BIN;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(dir, "terraform");
    if (dir && existsSync(p)) return p;
  }
  throw new Error(
    "terraform is not on PATH: the real-Terraform tests need terraform 1.11.x (CI machines have it; set TERRAFORM_BIN to use another path)",
  );
}

/**
 * The root of the filesystem mirror holding hashicorp/aws (the directory
 * that contains `registry.terraform.io/`), found in the usual places.
 */
export function findProviderMirror(version = AWS_PROVIDER_VERSION): string {
  const rel = path.join("registry.terraform.io", "hashicorp", "aws", version);
  const holds = (root: string): boolean => {
    const dir = path.join(root, rel);
    if (!existsSync(dir)) return false;
    // Unpacked layout: <version>/<os_arch>/terraform-provider-aws_*; packed: a zip beside it.
    return readdirSync(dir).some((e) => e.includes("_") || e.startsWith("terraform-provider-aws"));
  };
  const env = process.env.TF_PROVIDER_MIRROR;
  if (env) {
    if (holds(env)) return env;
    throw new Error(`TF_PROVIDER_MIRROR=${env} does not hold registry.terraform.io/hashicorp/aws/${version}`);
  }
  for (const root of MIRROR_ROOTS) if (holds(root)) return root;
  for (const root of SEARCH_ROOTS) {
    const found = searchDir(root, 4, holds);
    if (found) return found;
  }
  throw new Error(
    `no Terraform provider mirror with hashicorp/aws ${version}: looked in ${MIRROR_ROOTS.join(", ")} and under ${SEARCH_ROOTS.join(", ")} ` +
      "(`find / -name 'terraform-provider-aws_*'` shows where it is; set TF_PROVIDER_MIRROR to the directory containing registry.terraform.io/)",
  );
}

function searchDir(dir: string, depth: number, holds: (root: string) => boolean): string | undefined {
  if (depth < 0) return undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  if (entries.includes("registry.terraform.io") && holds(dir)) return dir;
  for (const e of entries) {
    if (e === "node_modules" || e.startsWith(".git") || e === "proc") continue;
    const sub = path.join(dir, e);
    try {
      if (!statSync(sub).isDirectory()) continue;
    } catch {
      continue;
    }
    const found = searchDir(sub, depth - 1, holds);
    if (found) return found;
  }
  return undefined;
}

/** A working copy of the repository's `terraform/` tree, ready to run one root module in. */
export interface TerraformWorkdir {
  /** The temp copy of `terraform/`. */
  root: string;
  /** Where terraform runs: the copied root module. */
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Removes the temp copy. */
  cleanup(): void;
}

export interface WorkdirOptions {
  /** The root module to run, relative to `terraform/` (e.g. `examples/worker-pool`). */
  module: string;
  /** The emulator's EC2 endpoint, e.g. http://127.0.0.1:PORT. */
  ec2Url: string;
  /** @default ec2Url (sim serves STS on the same endpoint) */
  stsUrl?: string;
  /** Written as `zz-test.auto.tfvars.json` in the root module. */
  vars?: Record<string, unknown>;
}

/**
 * Copies `terraform/` to a temp dir (modules are referenced by relative
 * path, so the whole tree goes), writes a CLI config that installs
 * hashicorp/aws from the local mirror only, and builds the environment that
 * points the unmodified provider block at the emulator: endpoint URLs,
 * test credentials, no instance metadata service.
 */
export function terraformWorkdir(opts: WorkdirOptions): TerraformWorkdir {
  const binary = terraformBinary();
  const mirror = findProviderMirror();
  const root = mkdtempSync(path.join(os.tmpdir(), "steward-tf-"));
  const tree = path.join(root, "terraform");
  cpSync(path.join(REPO_ROOT, "terraform"), tree, {
    recursive: true,
    filter: (src) => !/(^|\/)(\.terraform|terraform\.tfstate[^/]*|\.terraform\.lock\.hcl)$/.test(src),
  });
  const dir = path.join(tree, opts.module);
  if (!existsSync(dir)) throw new Error(`terraform/${opts.module} does not exist`);
  const cliConfig = path.join(root, "terraformrc");
  writeFileSync(
    cliConfig,
    [
      "provider_installation {",
      "  filesystem_mirror {",
      `    path    = ${JSON.stringify(mirror)}`,
      '    include = ["registry.terraform.io/hashicorp/aws"]',
      "  }",
      "  direct {",
      '    exclude = ["registry.terraform.io/hashicorp/aws"]',
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  if (opts.vars) writeFileSync(path.join(dir, "zz-test.auto.tfvars.json"), JSON.stringify(opts.vars, null, 2));

  // Nothing of the caller's AWS or Terraform setup may leak in (a profile, a
  // real endpoint, a plugin cache): the run must only ever reach the emulator.
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_") && !k.startsWith("TF_") && k !== "TERRAFORM_BIN"),
  );
  Object.assign(env, {
    PATH: `${path.dirname(binary)}${path.delimiter}${process.env.PATH ?? ""}`,
    TF_CLI_CONFIG_FILE: cliConfig,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    AWS_ENDPOINT_URL_EC2: opts.ec2Url,
    AWS_ENDPOINT_URL_STS: opts.stsUrl ?? opts.ec2Url,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  });
  return { root, dir, env, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** One finished terraform command. `messages` are the parsed `-json` lines (other lines are skipped). */
export interface TerraformResult {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  messages: TerraformMessage[];
  ms: number;
}

/** One line of Terraform's machine-readable UI (`../shared/api-reference/terraform/README.md`). */
export interface TerraformMessage {
  type: string;
  "@level": string;
  "@message": string;
  [k: string]: unknown;
}

/** Runs `terraform <args>` in the workdir; kills it (and says so) after `timeoutMs`. */
export function runTerraform(w: TerraformWorkdir, args: string[], { timeoutMs = 180_000 } = {}): Promise<TerraformResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(terraformBinary(), args, { cwd: w.dir, env: w.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => {
      stderr += `\n[test helper] terraform ${args.join(" ")} did not finish within ${timeoutMs} ms; sent SIGINT\n`;
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ args, code, stdout, stderr, messages: parseJsonLines(stdout), ms: Date.now() - started });
    });
  });
}

function parseJsonLines(out: string): TerraformMessage[] {
  const msgs: TerraformMessage[] = [];
  for (const line of out.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      msgs.push(JSON.parse(line) as TerraformMessage);
    } catch {
      // not a UI message (e.g. human output of init)
    }
  }
  return msgs;
}

/** A short account of a failed run for assertion messages: exit code, diagnostics, stderr tail. */
export function describeRun(r: TerraformResult): string {
  const diags = r.messages
    .filter((m) => m.type === "diagnostic")
    .map((m) => m["@message"])
    .join("\n  ");
  return `terraform ${r.args.join(" ")} exited ${r.code} after ${r.ms} ms${diags ? `\n  ${diags}` : ""}\n${r.stderr.slice(-2000)}${r.messages.length === 0 ? r.stdout.slice(-2000) : ""}`;
}

/** `terraform version` of the binary on PATH, e.g. "1.11.4"; throws like terraformBinary when missing. */
export function terraformVersion(): string {
  const out = execFileSync(terraformBinary(), ["version", "-json"], { env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" } }).toString("utf8");
  return (JSON.parse(out) as { terraform_version: string }).terraform_version;
}

/**
 * Why the real-Terraform tests cannot run here (terraform or the provider
 * mirror missing), or undefined when they can.
 */
export function terraformMissing(): string | undefined {
  try {
    terraformBinary();
    findProviderMirror();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}


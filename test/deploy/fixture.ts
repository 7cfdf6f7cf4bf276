// Shared by the tests of deploy/ and examples/: reading the job files, asking
// sim's Nomad to parse them, rendering their templates the way Nomad's
// template runner would for the few functions they use, and running the real
// tools (promtool, prometheus) with a clear failure when one is missing.
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { readFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { parse as hcl2json } from "@cdktf/hcl2json";
import type { Sim } from "../../sim/index.js";
import { REPO_ROOT } from "../helpers/sync-fixture.js";

export { REPO_ROOT };
export const DEPLOY = path.join(REPO_ROOT, "deploy");
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

/** Throws a clear error when a Debian package's binary is missing: these tests fail, never skip. */
export function assertInstalled(bin: string, pkg: string): void {
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`${bin} is missing: install the Debian package ${pkg} (apt-get install ${pkg}, or npm run setup); CI installs it.`);
  }
}

/** Runs a program; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(
  bin: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err ? err.message : "") });
    });
  });
}

/** HashiCorp's parser (through @cdktf/hcl2json): the file as JSON, or a rejection naming the error. */
export async function hclToJson(file: string): Promise<Record<string, any>> {
  return await hcl2json(path.basename(file), await readFile(file, "utf8"));
}

/**
 * Asks sim's Nomad (`POST /v1/jobs/parse`, HashiCorp's hcl/v2 underneath) to
 * turn a job file into API JSON, with an HCL2 variables file. Throws with
 * Nomad's error text when it refuses the file.
 */
export async function parseWithSim(sim: Sim, file: string, variables = ""): Promise<Record<string, any>> {
  const res = await fetch(`${sim.urls.nomad.qa}/v1/jobs/parse`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ JobHCL: await readFile(file, "utf8"), Variables: variables, Canonicalize: true }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`sim's /v1/jobs/parse refused ${path.relative(REPO_ROOT, file)}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, any>;
}

/** Every task of a parsed job, with its group. */
export function tasksOf(job: Record<string, any>): { group: Record<string, any>; task: Record<string, any> }[] {
  const out: { group: Record<string, any>; task: Record<string, any> }[] = [];
  for (const group of job.TaskGroups ?? []) for (const task of group.Tasks ?? []) out.push({ group, task });
  return out;
}

/** The template of a task whose destination is `dest`; throws naming the task when there is none. */
export function templateAt(task: Record<string, any>, dest: string): Record<string, any> {
  const t = (task.Templates ?? []).find((x: any) => x.DestPath === dest);
  if (!t) throw new Error(`task ${task.Name} has no template with destination ${dest}`);
  return t as Record<string, any>;
}

/** The Vault KV paths a consul-template text reads (`{{ with secret "PATH" }}`). */
export function secretPaths(tmpl: string): string[] {
  return [...tmpl.matchAll(/\{\{-?\s*with\s+secret\s+"([^"]+)"\s*-?\}\}/g)].map((m) => m[1] ?? "");
}

/**
 * Renders the consul-template subset the job files use: `{{ env "X" }}` and
 * `{{ with secret "P" }}…{{ .Data.data.K }}…{{ end }}` (KV v2). Anything else
 * left between the delimiters is an error, so a template using more than this
 * renderer knows fails the test instead of passing unrendered.
 */
export function renderTemplate(
  tmpl: string,
  values: { env?: Record<string, string>; secrets?: Record<string, Record<string, string>> },
  delims: [string, string] = ["{{", "}}"],
): string {
  const [l, r] = [escapeRegExp(delims[0]), escapeRegExp(delims[1])];
  const withSecret = new RegExp(`${l}\\s*with\\s+secret\\s+"([^"]+)"\\s*${r}([\\s\\S]*?)${l}\\s*end\\s*${r}`, "g");
  let out = tmpl.replace(withSecret, (_m, p: string, body: string) => {
    const data = values.secrets?.[p];
    if (!data) throw new Error(`template reads secret ${p}, which the test did not provide`);
    return body.replace(new RegExp(`${l}\\s*\\.Data\\.data\\.(\\w+)\\s*${r}`, "g"), (_x, k: string) => {
      const v = data[k];
      if (v === undefined) throw new Error(`template reads key ${k} of secret ${p}, which the test did not provide`);
      return v;
    });
  });
  out = out.replace(new RegExp(`${l}\\s*env\\s+"([^"]+)"\\s*${r}`, "g"), (_m, k: string) => {
    const v = values.env?.[k];
    if (v === undefined) throw new Error(`template reads env ${k}, which the test did not provide`);
    return v;
  });
  const left = new RegExp(`${l}[\\s\\S]*?${r}`).exec(out);
  if (left) throw new Error(`template action the test renderer does not know: ${left[0]}`);
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[[\]{}()*+?.\\^$|]/g, "\\$&");
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

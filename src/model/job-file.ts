import { createHash } from "node:crypto";
import { hclParser } from "./hcl-parse.js";
import type { ValidationIssue } from "./errors.js";
import { located } from "./issues.js";
import { IMAGE_VARIABLE } from "./schema-service.js";

/** What the loader needs to know of a job file, read statically (nothing is evaluated). */
export interface JobFileFacts {
  /**
   * The job ID: the `id` attribute when it is a plain string, else the job
   * block's label (Nomad's rule). `undefined` when `id` is an expression
   * (`"web-${var.env}"`): then only Nomad's parse can tell.
   */
  jobId: string | undefined;
  /** The 1-based line of the `job` block, when found. */
  jobLine: number | undefined;
  /** Declared variables (`variable "x"` blocks and `variables { x = … }`), and whether each has a default. */
  variables: Map<string, { hasDefault: boolean }>;
}

/** Top-level blocks Nomad's jobspec2 accepts; anything else is `Unsupported block type` there. */
const TOP_LEVEL = new Set(["job", "variable", "variables", "locals"]);

/**
 * Checks one job file with HashiCorp's HCL parser: syntax, exactly one
 * labelled `job` block, only the top-level blocks Nomad accepts, and
 * `variable "image"` declared and used. Returns the facts when the file is
 * usable, and every problem found as issues located in `file`.
 * @param file the path relative to the tree root, used in issues
 */
export async function inspectJobFile(file: string, text: string): Promise<{ facts?: JobFileFacts; issues: ValidationIssue[] }> {
  // Every revision re-validates the whole tree, but few job files change between two: the
  // answer depends only on (file, text), so it is kept, and a webhook costs one parse, not N.
  // One flat 44-character digest: a key built as `${file}\0${hex}` was a rope of three pieces, ~150 bytes per job file.
  const key = createHash("sha256").update(file).update("\0").update(text).digest("base64");
  const hit = inspected.get(key);
  if (hit) return hit;
  const result = await inspectUncached(file, text);
  if (inspected.size >= INSPECTED_ENTRIES) {
    const oldest = inspected.keys().next().value;
    if (oldest !== undefined) inspected.delete(oldest);
  }
  inspected.set(key, result);
  return result;
}

/** Most inspections kept: two revisions of a 10,000-service tree. */
const INSPECTED_ENTRIES = 20_000;
const inspected = new Map<string, { facts?: JobFileFacts; issues: ValidationIssue[] }>();

async function inspectUncached(file: string, text: string): Promise<{ facts?: JobFileFacts; issues: ValidationIssue[] }> {
  if (text.trimStart().startsWith("{")) {
    return { issues: [located(file, 1, "", "HCL-JSON job files are not supported; write the job in native HCL syntax")] };
  }
  let body: Record<string, unknown>;
  try {
    body = await hclParser.parse(file, text);
  } catch (err) {
    return { issues: hclDiagnostics(file, err instanceof Error ? err.message : String(err)) };
  }
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(body).filter((k) => !TOP_LEVEL.has(k))) {
    issues.push(
      located(file, lineMatching(text, new RegExp(`^\\s*${escapeRegExp(key)}\\b`)), "", `unsupported top-level block or argument "${key}"; a job file holds variable, variables, locals and one job block`),
    );
  }
  const job = readJobBlock(file, text, body.job, issues);
  const variables = declaredVariables(body);
  if (!variables.has(IMAGE_VARIABLE)) {
    issues.push(located(file, undefined, "", `variable "image" is not declared; add variable "image" { type = string } and set the task's image = var.image`));
  } else if (!/\bvar\.image\b/.test(JSON.stringify(body.job ?? {}))) {
    issues.push(located(file, undefined, "", `variable "image" is declared but never used; set the task's image = var.image, or the promoted image never runs`));
  }
  return issues.length > 0 ? { issues } : { facts: { ...job, variables }, issues };
}

function readJobBlock(
  file: string,
  text: string,
  job: unknown,
  issues: ValidationIssue[],
): { jobId: string | undefined; jobLine: number | undefined } {
  const lines = linesMatching(text, /^\s*job\b/);
  if (job === undefined) {
    issues.push(located(file, undefined, "", `no job block; a job file holds exactly one job "<id>" { … } block`));
    return { jobId: undefined, jobLine: undefined };
  }
  // hcl2json gives an unlabelled block as a list, a labelled one as an object keyed by label.
  if (Array.isArray(job) || typeof job !== "object" || job === null) {
    issues.push(located(file, lines[0], "", `the job block needs its ID as a label: job "<id>" { … }`));
    return { jobId: undefined, jobLine: lines[0] };
  }
  type Block = { label: string; body: Record<string, unknown> | undefined };
  const blocks = Object.entries(job as Record<string, unknown>).flatMap(([label, v]): Block[] =>
    Array.isArray(v) ? (v as Array<Record<string, unknown>>).map((body) => ({ label, body })) : [{ label, body: undefined }],
  );
  if (blocks.some((b) => b.body === undefined)) {
    issues.push(located(file, lines[0], "", `the job block takes exactly one label, its ID: job "<id>" { … }`));
  }
  if (blocks.length > 1) {
    const labels = blocks.map((b) => `"${b.label}"`).join(", ");
    issues.push(located(file, lines[1], "", `more than one job block (${labels}); a job file holds exactly one job`));
  }
  const first = blocks[0];
  const id = first?.body?.id;
  const jobId = typeof id === "string" ? (id.includes("${") ? undefined : id) : first?.label;
  return { jobId, jobLine: lines[0] };
}

function declaredVariables(body: Record<string, unknown>): Map<string, { hasDefault: boolean }> {
  const out = new Map<string, { hasDefault: boolean }>();
  const blocks = body.variable;
  if (blocks && typeof blocks === "object" && !Array.isArray(blocks)) {
    for (const [name, list] of Object.entries(blocks as Record<string, unknown>)) {
      const first: unknown = Array.isArray(list) ? list[0] : undefined;
      const hasDefault = typeof first === "object" && first !== null && "default" in first;
      out.set(name, { hasDefault });
    }
  }
  // `variables { x = 1 }` declares x with that default.
  for (const block of Array.isArray(body.variables) ? (body.variables as unknown[]) : []) {
    if (block && typeof block === "object") for (const name of Object.keys(block)) out.set(name, { hasDefault: true });
  }
  return out;
}

/**
 * Turns the HCL parser's error text into issues. hcl2json reports
 * `parse config: [<file>:<line>,<col>-<end>: <summary>; <detail> <file>:…]`;
 * this is the one place that reads that text (it has no structured form).
 * Identical diagnostics on one line are reported once.
 */
export function hclDiagnostics(file: string, message: string): ValidationIssue[] {
  const head = new RegExp(`${escapeRegExp(file)}:(\\d+),\\d+-(?:\\d+,)?\\d+: `, "g");
  const starts = [...message.matchAll(head)];
  if (starts.length === 0) return [located(file, undefined, "", `HCL: ${message.replace(/^parse config: /, "")}`)];
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  starts.forEach((m, i) => {
    const from = m.index + m[0].length;
    const to = starts[i + 1]?.index ?? message.length;
    const raw = message.slice(from, to).trim().replace(/\]$/, "").trim();
    const [summary = raw, ...rest] = raw.split("; ");
    const text = rest.length > 0 ? `${summary}: ${rest.join("; ")}` : summary;
    const line = Number(m[1]);
    const key = `${line}\u0000${text}`;
    if (seen.has(key)) return;
    seen.add(key);
    issues.push(located(file, line, "", `HCL: ${text}`));
  });
  return issues;
}

function linesMatching(text: string, re: RegExp): number[] {
  return text.split("\n").flatMap((l, i) => (re.test(l) ? [i + 1] : []));
}

function lineMatching(text: string, re: RegExp): number | undefined {
  return linesMatching(text, re)[0];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

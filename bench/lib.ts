/**
 * Shared pieces of the benchmarks: a lean HTTP client (node:http with
 * keep-alive, so the client's own cost stays small next to what is
 * measured), statistics over repetitions, the machine's state (load average,
 * commit), forced GC, and the writer of bench/RESULTS.md sections.
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import { Session } from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const RESULTS_FILE = path.join(REPO_ROOT, "bench/RESULTS.md");

/** One HTTP answer: status, lower-cased headers, raw body, and when it was fully read (performance.now()). */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** performance.now() when the last byte of the body arrived. */
  doneAt: number;
  /** performance.now() when the request was sent. */
  sentAt: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * Sends one request and reads the whole body.
 * @param url an absolute http:// URL
 * @param body JSON-encoded when an object, sent as is when a string or Buffer
 */
export function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    const sentAt = performance.now();
    const req = http.request(url, { method, agent, headers: { ...(data ? { "content-length": String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), doneAt: performance.now(), sentAt }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** `request` that parses JSON and fails on a status outside 2xx. */
export async function json<T>(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ data: T; reply: Reply }> {
  const reply = await request(method, url, body, headers);
  if (reply.status < 200 || reply.status >= 300) throw new Error(`${method} ${url}: ${reply.status} ${reply.body.toString().slice(0, 300)}`);
  return { data: JSON.parse(reply.body.toString()) as T, reply };
}

/** Summary of repeated measurements, in the unit they were taken in. */
export interface Stats {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** p50/p95 by nearest rank over the samples. */
export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  return { n: s.length, min: s[0] ?? NaN, p50: rank(50), p95: rank(95), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

/** A number with `digits` decimals (ms and MB in tables). */
export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

export const MB = 1024 * 1024;

/** The 1/5/15-minute load averages and the core count, as one string. */
export function loadAverage(): string {
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return `${a.toFixed(2)} / ${b.toFixed(2)} / ${c.toFixed(2)} (1/5/15 min, ${os.cpus().length} cores)`;
}

/**
 * The commit checked out, with `+dirty (files)` when tracked files other than
 * bench/RESULTS.md (the benchmarks' own output) differ from it.
 */
export function commitId(): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: REPO_ROOT }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO_ROOT })
      .toString()
      .split("\n")
      .map((l) => l.slice(3).trim())
      .filter((f) => f && f !== "bench/RESULTS.md");
    return dirty.length ? `${sha}+dirty (${dirty.slice(0, 5).join(", ")}${dirty.length > 5 ? ", …" : ""})` : sha;
  } catch {
    return "unknown";
  }
}

/** The machine in one line: CPU model, cores, memory, Node version. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.version}`;
}

let gcFn: (() => void) | undefined;

/**
 * Runs a full GC. Uses `global.gc` when the process has `--expose-gc`, and
 * otherwise turns the flag on at run time and takes `gc` from a fresh
 * context, so `npm run bench:*` needs no node flags.
 */
export function forceGc(): void {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFn = vm.runInNewContext("gc") as () => void;
    }
  }
  gcFn();
  gcFn();
}

/** RSS and heap used after two full GCs and a short settle, in MB. */
export async function settledMemory(): Promise<{ rssMb: number; heapUsedMb: number; heapTotalMb: number; externalMb: number }> {
  forceGc();
  await sleep(200);
  forceGc();
  const m = process.memoryUsage();
  return { rssMb: m.rss / MB, heapUsedMb: m.heapUsed / MB, heapTotalMb: m.heapTotal / MB, externalMb: (m.external + m.arrayBuffers) / MB };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 5 ms; rejects naming `what` after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A markdown table from a header row and body rows. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * Replaces the section `name` of bench/RESULTS.md (between its
 * `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers), or appends it.
 * Other sections are left as they are, so each benchmark refreshes only its own.
 */
export async function writeResultsSection(name: string, markdown: string): Promise<void> {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let text = await readFile(RESULTS_FILE, "utf8").catch(() => "# Benchmark results\n\nWritten by the benchmarks (`npm run bench:*`); see bench/README.md for what each measures.\n");
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(RESULTS_FILE, text.endsWith("\n") ? text : `${text}\n`);
}

/** Prints a line to stderr (progress), keeping stdout for the tables. */
export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/**
 * CPU profiles of chosen phases through the inspector (no node flags):
 * `start()` then `stop(name)` writes `<dir>/<name>.cpuprofile` (open it in
 * Chrome DevTools) and returns the functions with the most self time.
 * Without a directory both are no-ops.
 */
export class PhaseProfiler {
  private session: Session | undefined;

  constructor(private readonly dir: string | undefined) {}

  async start(): Promise<void> {
    if (!this.dir) return;
    this.session = new Session();
    this.session.connect();
    await this.session.post("Profiler.enable");
    await this.session.post("Profiler.setSamplingInterval", { interval: 200 });
    await this.session.post("Profiler.start");
  }

  async stop(name: string): Promise<string[]> {
    const s = this.session;
    if (!s || !this.dir) return [];
    this.session = undefined;
    const { profile } = await s.post("Profiler.stop");
    s.disconnect();
    await mkdir(this.dir, { recursive: true });
    await writeFile(path.join(this.dir, `${name}.cpuprofile`), JSON.stringify(profile));
    return topSelfTime(profile, 12);
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[] | undefined;
}

/** The `n` functions with the most self time, as `ms  share  name (file:line)`; also the top inclusive frames of src/. */
function topSelfTime(profile: { nodes: ProfileNode[]; samples?: number[] | undefined; timeDeltas?: number[] | undefined }, n: number): string[] {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const label = (x: ProfileNode): string => {
    const f = x.callFrame;
    const file = f.url.replace(/^file:\/\//, "").replace(`${REPO_ROOT}/`, "");
    return `${f.functionName || "(anonymous)"} (${file.split("/node_modules/").pop() ?? file}:${f.lineNumber + 1})`;
  };
  const ancestors = (x: ProfileNode): ProfileNode[] => {
    const out: ProfileNode[] = [];
    for (let y: ProfileNode | undefined = x; y; y = byId.get(parent.get(y.id) ?? -1)) out.push(y);
    return out;
  };
  samples.forEach((id, i) => {
    const dt = deltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)") return;
    const chain = ancestors(node);
    // The profiler's own start shows up as a long native `dispatch` under node:inspector: not the code measured.
    if (chain.some((x) => x.callFrame.url === "node:inspector")) return;
    total += dt;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (const x of chain) {
      const l = label(x);
      if (!seen.has(l) && x.callFrame.url.includes("/src/")) incl.set(l, (incl.get(l) ?? 0) + dt);
      seen.add(l);
    }
  });
  const fmtRow = ([k, v]: [string, number]): string => `${(v / 1000).toFixed(0).padStart(6)} ms ${((100 * v) / (total || 1)).toFixed(1).padStart(5)}%  ${k}`;
  return [
    `busy ${(total / 1000).toFixed(0)} ms; self time:`,
    ...[...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(fmtRow),
    "inclusive, src/ frames:",
    ...[...incl.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(fmtRow),
  ];
}

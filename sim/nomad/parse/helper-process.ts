/**
 * The Go helper (hcl-helper/) as a long-lived child process: builds it when
 * missing or older than its sources, starts it, and speaks its line protocol
 * (one JSON request per line, one JSON answer per line, matched by id).
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SOURCE_DIR = path.join(ROOT, "sim/nomad/parse/hcl-helper");
const BUILD_SCRIPT = path.join(ROOT, "scripts/build-hcl-helper.sh");
/** Where the build script puts the binary (.cache/ is gitignored). */
export const HELPER_BINARY = path.join(ROOT, ".cache/hcl-helper/hcl-helper");

/** One answer line of the helper. */
export interface HelperAnswer {
  id: number;
  ok: boolean;
  tree?: unknown;
  error?: string;
  /** The helper itself failed (a bug), as opposed to the job file. */
  internal?: boolean;
}

/** Whether the binary is missing or older than a source file or the build script. */
function isStale(): boolean {
  if (!existsSync(HELPER_BINARY)) return true;
  const built = statSync(HELPER_BINARY).mtimeMs;
  const sources = readdirSync(SOURCE_DIR).filter((f) => f.endsWith(".go")).map((f) => path.join(SOURCE_DIR, f));
  return [...sources, BUILD_SCRIPT].some((f) => statSync(f).mtimeMs > built);
}

/** Test hooks for building the helper. */
export interface BuildOptions {
  /** Run the build script even when the binary is up to date. */
  rebuild?: boolean;
  /** Environment of the build script (e.g. a PATH without Go). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Builds the helper when needed. Rejects with the build script's message
 * (which names the packages to install) when Go or hcl/v2 is missing.
 */
export async function ensureHelperBuilt(options: BuildOptions = {}): Promise<void> {
  if (!options.rebuild && !isStale()) return;
  try {
    await promisify(execFile)("/bin/bash", [BUILD_SCRIPT], { cwd: ROOT, timeout: 300_000, env: options.env ?? process.env });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? "").trim() || e.message;
    throw new Error(
      `sim's jobspec parser could not build its hcl/v2 helper; it needs Go and Debian's golang-github-hashicorp-hcl-v2-dev and golang-github-zclconf-go-cty-dev (run \`bash scripts/setup.sh\`): ${detail}`,
      { cause: err },
    );
  }
}

/** A running helper. Requests may overlap; answers are matched by id. */
export class HelperProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, { resolve: (a: HelperAnswer) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited: Error | null = null;
  private readonly exitPromise: Promise<void>;
  private stderr = "";

  constructor(schema: unknown) {
    this.child = spawn(HELPER_BINARY, [], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.onLine(line));
    // Writing to a helper that just died fails with EPIPE; the exit handler
    // below rejects whatever was pending.
    this.child.stdin.on("error", () => undefined);
    this.exitPromise = new Promise((resolve) => {
      const done = (why: string): void => {
        this.exited ??= new Error(`hcl-helper ${why}${this.stderr ? `: ${this.stderr.trim()}` : ""}`);
        for (const p of this.pending.values()) p.reject(this.exited);
        this.pending.clear();
        resolve();
      };
      this.child.on("exit", (code, signal) => done(`exited (${signal ?? `code ${code}`})`));
      this.child.on("error", (err) => done(`failed to start: ${err.message}`));
    });
    // The schema goes first; a bad one fails every later request.
    void this.request({ op: "schema", schema }).catch(() => undefined);
  }

  /** True once the process has gone (then a new one must be started). */
  get dead(): boolean {
    return this.exited !== null;
  }

  /** The child's process id (for tests that kill it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  request(msg: Record<string, unknown>): Promise<HelperAnswer> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<HelperAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ ...msg, id })}\n`);
    });
  }

  private onLine(line: string): void {
    let answer: HelperAnswer;
    try {
      answer = JSON.parse(line) as HelperAnswer;
    } catch {
      return;
    }
    const p = this.pending.get(answer.id);
    if (!p) return;
    this.pending.delete(answer.id);
    p.resolve(answer);
  }

  /** Ends the process: closing stdin makes it exit; killed if it lingers. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

import { execFile } from "node:child_process";
import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { InvalidInputError } from "../model/errors.js";
import { TransientError } from "../reconciler/core/outcome.js";
import type { TreeSnapshot } from "../model/types.js";

/** Where a desired-state tree lives in git. */
export interface GitSourceOptions {
  /** A URL or a local path of the repository. */
  url: string;
  /** @default "main" */
  branch?: string;
  /** The tree's directory inside the repository. @default "desired-state" */
  subdir?: string;
  /** A directory Steward owns, where the bare mirror is kept. */
  cacheDir: string;
  /** Each git command is killed after this long. @default 60 000 ms */
  timeoutMs?: number;
  /** Files larger than this are refused (the whole revision is). @default 256 KiB */
  maxFileBytes?: number;
}

/**
 * Reads a desired-state tree from git with the git CLI: a bare mirror fetched
 * on demand, and the tree read at the branch tip with `ls-tree` and
 * `cat-file --batch`. It never checks out a work tree, so a revision is read
 * whole or not at all.
 */
export class GitSource {
  private readonly branch: string;
  private readonly subdir: string;
  private readonly timeoutMs: number;
  private readonly maxFileBytes: number;
  private initialized = false;
  /** The blobs of the last tree read, by object ID (content-addressed, so never stale). */
  private blobs = new Map<string, Buffer>();

  constructor(private readonly opts: GitSourceOptions) {
    this.branch = opts.branch ?? "main";
    this.subdir = (opts.subdir ?? "desired-state").replace(/^\/+|\/+$/g, "");
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxFileBytes = opts.maxFileBytes ?? 256 * 1024;
  }

  /** `git:<url>#<branch>:<subdir>`, for messages. */
  get origin(): string {
    return `git:${this.opts.url}#${this.branch}:${this.subdir}`;
  }

  /**
   * Fetches the branch and returns the commit at its tip.
   * @throws TransientError when git cannot reach the repository or the branch is missing
   */
  async fetch(): Promise<string> {
    await this.init();
    const ref = `refs/remotes/origin/${this.branch}`;
    await this.git(["fetch", "--quiet", "--prune", "--no-tags", "origin", `+refs/heads/${this.branch}:${ref}`], "fetch");
    // fetch writes the ref as a loose file; reading it saves a process (a fork of a large daemon is not cheap).
    const loose = await readFile(path.join(this.opts.cacheDir, ref), "utf8").then((t) => t.trim(), () => "");
    if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(loose)) return loose;
    return (await this.git(["rev-parse", "--verify", `${ref}^{commit}`], "rev-parse")).trim();
  }

  /**
   * Reads the tree at `revision`.
   * @throws InvalidInputError when the tree holds a symlink, a submodule or a file over the size limit
   */
  async read(revision: string): Promise<TreeSnapshot> {
    const prefix = this.subdir ? `${this.subdir}/` : "";
    const listing = await this.git(["ls-tree", "-r", "-z", "--long", "--full-tree", revision, "--", prefix || "."], "ls-tree");
    const entries = listing
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const [meta = "", file = ""] = line.split("\t");
        const [mode = "", type = "", oid = "", size = ""] = meta.split(/\s+/);
        return { mode, type, oid, size: Number(size), file: file.slice(prefix.length) };
      });
    const issues = entries.flatMap((e) => {
      if (e.mode === "120000") return [{ message: "symlinks are not allowed in the desired state", file: e.file }];
      if (e.type === "commit") return [{ message: "submodules are not allowed in the desired state", file: e.file }];
      if (e.size > this.maxFileBytes) return [{ message: `file is ${e.size} bytes, over the limit of ${this.maxFileBytes}`, file: e.file }];
      return [];
    });
    if (issues.length) {
      throw new InvalidInputError(`revision ${revision.slice(0, 12)} is refused: ${issues.length} problem(s)`, { revision }, issues.map((i) => ({ ...i, revision })));
    }
    // A commit changes a few files of many: only blobs the last read did not hold are read.
    const missing = [...new Set(entries.map((e) => e.oid).filter((oid) => !this.blobs.has(oid)))];
    const read = await this.catBlobs(missing);
    const blobs = new Map<string, Buffer>();
    for (const e of entries) blobs.set(e.oid, this.blobs.get(e.oid) ?? Buffer.alloc(0));
    missing.forEach((oid, i) => blobs.set(oid, read[i] ?? Buffer.alloc(0)));
    this.blobs = blobs;
    const files = new Map<string, Buffer>();
    for (const e of entries) files.set(e.file, blobs.get(e.oid) ?? Buffer.alloc(0));
    return { revision, origin: this.origin, files };
  }

  /** Fetch and read the tip: the usual way to get a snapshot. */
  async snapshot(): Promise<TreeSnapshot> {
    return this.read(await this.fetch());
  }

  private async init(): Promise<void> {
    if (this.initialized) return;
    await mkdir(this.opts.cacheDir, { recursive: true });
    const exists = await access(path.join(this.opts.cacheDir, "HEAD")).then(() => true, () => false);
    if (!exists) await this.git(["init", "--quiet", "--bare"], "init");
    // The remote is set every start so a changed URL in the config takes effect.
    await this.git(["remote", "remove", "origin"], "remote").catch(() => undefined);
    await this.git(["remote", "add", "origin", this.opts.url], "remote");
    this.initialized = true;
  }

  private catBlobs(oids: string[]): Promise<Buffer[]> {
    if (oids.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const child = execFile("git", ["cat-file", "--batch"], { cwd: this.opts.cacheDir, encoding: "buffer", maxBuffer: 1 << 30, timeout: this.timeoutMs }, (err, stdout) => {
        if (err) return reject(new TransientError(`git cat-file failed: ${err.message}`, { endpoint: this.origin }, undefined, { cause: err }));
        resolve(parseBatch(stdout, oids.length));
      });
      child.stdin?.end(oids.join("\n") + "\n");
    });
  }

  private git(args: string[], what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        "git",
        args,
        { cwd: this.opts.cacheDir, timeout: this.timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } },
        (err, stdout, stderr) => {
          if (err) {
            const detail = String(stderr).trim().split("\n").pop() ?? err.message;
            return reject(new TransientError(`git ${what} failed: ${detail}`, { endpoint: this.origin }, undefined, { cause: err }));
          }
          resolve(String(stdout));
        },
      );
    });
  }
}

/** Splits `git cat-file --batch` output: `<oid> <type> <size>\n<content>\n` per object. */
function parseBatch(out: Buffer, count: number): Buffer[] {
  const result: Buffer[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const nl = out.indexOf(0x0a, pos);
    const header = out.subarray(pos, nl).toString();
    const size = Number(header.split(" ")[2]);
    result.push(out.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return result;
}

import { execFile } from "node:child_process";
import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { InvalidInputError } from "../model/errors.js";
import { TransientError } from "../reconciler/core/outcome.js";
import type { TreeSnapshot } from "../model/types.js";
import { flatString } from "../flat-string.js";

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
 * on demand, and the tree read at the branch tip with `ls-tree` (first read)
 * or `diff-tree` against the previous read (later ones), and
 * `cat-file --batch` for the blobs not held yet. It never checks out a work
 * tree, so a revision is read whole or not at all.
 */
export class GitSource {
  private readonly branch: string;
  private readonly subdir: string;
  private readonly timeoutMs: number;
  private readonly maxFileBytes: number;
  private initialized = false;
  /** The last tree read whole (not refused): the base the next read's diff starts from. */
  private last: LastRead | undefined;

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
   * Reads the tree at `revision`. After a first read, only what changed is
   * read: `git diff-tree` against the previous revision read (one process),
   * `cat-file` for the new blobs, every other file taken from that read; the
   * snapshot then says so in `changes`. A full `ls-tree` is done for the first
   * read, or when the diff fails (the previous commit is gone from the mirror).
   * A diff compares two trees, so it is exact whatever the history between
   * them (a force-push included).
   * @throws InvalidInputError when the tree holds a symlink, a submodule or a file over the size limit
   */
  async read(revision: string): Promise<TreeSnapshot> {
    const last = this.last;
    if (last?.revision === revision) return { revision, origin: this.origin, files: last.files, changes: { since: revision, paths: [] } };
    if (last) {
      const changed = await this.diff(last.revision, revision).catch(() => undefined);
      if (changed) return this.readChanges(last, revision, changed);
    }
    return this.readFull(revision);
  }

  /** The tree read whole with `ls-tree`; blobs the last read held are not read again. */
  private async readFull(revision: string): Promise<TreeSnapshot> {
    const prefix = this.prefix;
    const listing = await this.git(["ls-tree", "-r", "-z", "--long", "--full-tree", revision, "--", prefix || "."], "ls-tree");
    const entries = listing
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const [meta = "", file = ""] = line.split("\t");
        const [mode = "", type = "", oid = "", size = ""] = meta.split(/\s+/);
        // Flat copies: the paths and object IDs are kept until the next read, and as slices they would keep the whole listing (2 MB at 10,000 services).
        return { mode, type, oid: flatString(oid), size: Number(size), file: flatString(file.slice(prefix.length)) };
      });
    const issues = entries.flatMap((e) => {
      const problem = entryProblem(e.mode, e.type === "commit") ?? (e.size > this.maxFileBytes ? this.sizeProblem(e.size) : undefined);
      return problem === undefined ? [] : [{ message: problem, file: e.file }];
    });
    if (issues.length) throw this.refusal(revision, issues);
    // A commit changes a few files of many: only blobs the last read did not hold are read.
    const known = new Map<string, Buffer>();
    for (const [file, oid] of this.last?.oids ?? []) {
      const blob = this.last?.files.get(file);
      if (blob) known.set(oid, blob);
    }
    const missing = [...new Set(entries.map((e) => e.oid).filter((oid) => !known.has(oid)))];
    const read = await this.catBlobs(missing);
    missing.forEach((oid, i) => known.set(oid, read[i] ?? Buffer.alloc(0)));
    const files = new Map<string, Buffer>();
    const oids = new Map<string, string>();
    for (const e of entries) {
      files.set(e.file, known.get(e.oid) ?? Buffer.alloc(0));
      oids.set(e.file, e.oid);
    }
    this.last = { revision, files, oids };
    return { revision, origin: this.origin, files };
  }

  /** The previous read with the changed paths applied: O(changed) git work (one copy of the path maps besides). */
  private async readChanges(last: LastRead, revision: string, changed: TreeChange[]): Promise<TreeSnapshot> {
    const issues: Array<{ message: string; file: string }> = [];
    const added: TreeChange[] = [];
    for (const c of changed) {
      if (c.deleted) continue;
      const problem = entryProblem(c.mode, c.mode === SUBMODULE_MODE);
      if (problem === undefined) added.push(c);
      else issues.push({ message: problem, file: c.file });
    }
    // Sizes are known once read (diff-tree does not give them); one commit adds few files.
    const wanted = [...new Set(added.map((c) => c.oid))];
    const blobs = await this.catBlobs(wanted);
    const byOid = new Map<string, Buffer>();
    wanted.forEach((oid, i) => byOid.set(oid, blobs[i] ?? Buffer.alloc(0)));
    for (const c of added) {
      const size = byOid.get(c.oid)?.length ?? 0;
      if (size > this.maxFileBytes) issues.push({ message: this.sizeProblem(size), file: c.file });
    }
    if (issues.length) throw this.refusal(revision, issues);
    const files = new Map(last.files);
    const oids = new Map(last.oids);
    for (const c of changed) {
      if (c.deleted) {
        files.delete(c.file);
        oids.delete(c.file);
      } else {
        files.set(c.file, byOid.get(c.oid) ?? Buffer.alloc(0));
        oids.set(c.file, c.oid);
      }
    }
    this.last = { revision, files, oids };
    return { revision, origin: this.origin, files, changes: { since: last.revision, paths: changed.map((c) => c.file) } };
  }

  /** The blobs that differ between two commits' trees under the subdir (`diff-tree -r --no-renames -z`). */
  private async diff(from: string, to: string): Promise<TreeChange[]> {
    const prefix = this.prefix;
    const out = await this.git(["diff-tree", "-r", "--no-renames", "-z", from, to, "--", ...(prefix ? [prefix] : [])], "diff-tree");
    const parts = out.split("\0");
    const changes: TreeChange[] = [];
    // Each change is `:<old mode> <new mode> <old oid> <new oid> <status>` NUL `<path>` NUL.
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const [, mode = "", , oid = "", status = ""] = (parts[i] ?? "").split(" ");
      changes.push({ file: flatString((parts[i + 1] ?? "").slice(prefix.length)), mode, oid: flatString(oid), deleted: status === "D" });
    }
    return changes;
  }

  private get prefix(): string {
    return this.subdir ? `${this.subdir}/` : "";
  }

  private sizeProblem(size: number): string {
    return `file is ${size} bytes, over the limit of ${this.maxFileBytes}`;
  }

  private refusal(revision: string, issues: Array<{ message: string; file: string }>): InvalidInputError {
    return new InvalidInputError(`revision ${revision.slice(0, 12)} is refused: ${issues.length} problem(s)`, { revision }, issues.map((i) => ({ ...i, revision })));
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

/** A tree as last read: its files and each file's blob ID, by path relative to the subdir. */
interface LastRead {
  revision: string;
  files: Map<string, Buffer>;
  oids: Map<string, string>;
}

/** One path `diff-tree` reports, relative to the subdir; `mode`/`oid` are the new ones. */
interface TreeChange {
  file: string;
  mode: string;
  oid: string;
  deleted: boolean;
}

const SYMLINK_MODE = "120000";
const SUBMODULE_MODE = "160000";

/** Why a tree entry cannot be part of the desired state, from its mode. */
function entryProblem(mode: string, submodule: boolean): string | undefined {
  if (mode === SYMLINK_MODE) return "symlinks are not allowed in the desired state";
  if (submodule) return "submodules are not allowed in the desired state";
  return undefined;
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

import { execFile } from "node:child_process";
import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { InvalidInputError } from "../model/errors.js";
import { TransientError } from "../reconciler/core/outcome.js";
import type { TreeSnapshot } from "../model/types.js";
import { flatString } from "../flat-string.js";
import { GitCatFile } from "./git-cat-file.js";

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
 * on demand, and the tree read at the branch tip, with `ls-tree` the first
 * time and later by comparing it with the previous read's tree, through one
 * long-lived `cat-file --batch` that also reads the blobs not held yet. It
 * never checks out a work tree, so a revision is read whole or not at all.
 */
export class GitSource {
  private readonly branch: string;
  private readonly subdir: string;
  private readonly timeoutMs: number;
  private readonly maxFileBytes: number;
  private initialized = false;
  /** The last tree read whole (not refused): the base the next read's diff starts from. */
  private last: LastRead | undefined;
  /** Trees and blobs are read through one long-lived process. */
  private readonly cat: GitCatFile;

  constructor(private readonly opts: GitSourceOptions) {
    this.branch = opts.branch ?? "main";
    this.subdir = (opts.subdir ?? "desired-state").replace(/^\/+|\/+$/g, "");
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxFileBytes = opts.maxFileBytes ?? 256 * 1024;
    this.cat = new GitCatFile(opts.cacheDir, this.timeoutMs, this.origin);
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
   * read: the tree is compared with the previous revision read's, and only
   * new blobs are read, every other file taken from that read (no process is
   * started); the snapshot says so in `changes`. A full `ls-tree` is done for
   * the first read, or when the comparison fails (the previous commit is gone
   * from the mirror). Comparing two trees is exact whatever the history
   * between them (a force-push included).
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

  /** The tree read whole with `ls-tree` (the first read, or when the comparison failed: rare). */
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
    const oids = [...new Set(entries.map((e) => e.oid))];
    const read = await this.catBlobs(oids);
    const blobs = new Map<string, Buffer>();
    oids.forEach((oid, i) => blobs.set(oid, read[i] ?? Buffer.alloc(0)));
    const files = new Map<string, Buffer>();
    for (const e of entries) files.set(e.file, blobs.get(e.oid) ?? Buffer.alloc(0));
    this.last = { revision, files };
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
    // A copy: the last snapshot's map stays as it was handed out.
    const files = new Map(last.files);
    for (const c of changed) {
      if (c.deleted) files.delete(c.file);
      else files.set(c.file, byOid.get(c.oid) ?? Buffer.alloc(0));
    }
    this.last = { revision, files };
    return { revision, origin: this.origin, files, changes: { since: last.revision, paths: changed.map((c) => c.file) } };
  }

  /**
   * The blobs that differ between two commits' trees under the subdir, the
   * same list as `git diff-tree -r --no-renames` (in another order): both
   * trees are walked through the long-lived `cat-file`, entering only
   * subtrees whose IDs differ, so no process is started.
   * @throws when either tree cannot be read (the caller reads the tree whole)
   */
  private async diff(from: string, to: string): Promise<TreeChange[]> {
    const root = (rev: string): string => (this.subdir ? `${rev}:${this.subdir}` : `${rev}^{tree}`);
    const [a, b] = await this.cat.read([root(from), root(to)]);
    if (a?.type !== "tree" || b?.type !== "tree") throw new Error("a tree to compare is missing");
    const oidBytes = a.oid.length / 2;
    const changes: TreeChange[] = [];
    let level: TreePair[] = [{ old: a.content, new: b.content, prefix: "" }];
    while (level.length > 0) {
      const next: SubtreePair[] = [];
      for (const pair of level) diffTrees(pair, oidBytes, changes, next);
      const wanted = next.flatMap((n) => [n.oldOid, n.newOid].filter((o): o is string => o !== undefined));
      const objects = await this.cat.read(wanted);
      let k = 0;
      level = next.map((n) => {
        const old = n.oldOid === undefined ? undefined : objects[k++];
        const neu = n.newOid === undefined ? undefined : objects[k++];
        if ((n.oldOid !== undefined && old?.type !== "tree") || (n.newOid !== undefined && neu?.type !== "tree")) throw new Error(`tree ${n.prefix} is missing`);
        return { old: old?.content, new: neu?.content, prefix: n.prefix };
      });
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

  /** Ends the long-lived `git cat-file` (a later read starts it again). */
  close(): void {
    this.cat.close();
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

  private async catBlobs(oids: string[]): Promise<Buffer[]> {
    const objects = await this.cat.read(oids);
    return objects.map((o, i) => {
      if (!o) throw new TransientError(`git cat-file: object ${oids[i] ?? ""} is missing`, { endpoint: this.origin });
      return o.content;
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

/** A tree as last read: its files by path relative to the subdir. */
interface LastRead {
  revision: string;
  files: Map<string, Buffer>;
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

/** Two versions of one tree (either absent: the directory was added or removed), under `prefix`. */
interface TreePair {
  old: Buffer | undefined;
  new: Buffer | undefined;
  prefix: string;
}

/** Subtrees to compare next, by object ID. */
interface SubtreePair {
  oldOid: string | undefined;
  newOid: string | undefined;
  prefix: string;
}

const TREE_MODE = "40000";
const NO_TREE = Buffer.alloc(0);

/** Where one raw tree entry (`<mode> <name>` NUL `<binary oid>`) starting at `pos` ends its parts. */
interface RawEntry {
  space: number;
  nul: number;
  end: number;
}

function rawEntry(buf: Buffer, pos: number, oidBytes: number): RawEntry {
  const space = buf.indexOf(0x20, pos);
  const nul = buf.indexOf(0, space);
  return { space, nul, end: nul + 1 + oidBytes };
}

/** Git sorts a tree's entries by name, a subtree's name taken with a trailing "/". */
function sortKey(buf: Buffer, pos: number, e: RawEntry): Buffer {
  const name = buf.subarray(e.space + 1, e.nul);
  return buf.toString("latin1", pos, e.space) === TREE_MODE ? Buffer.concat([name, Buffer.from("/")]) : name;
}

/**
 * Compares two raw trees entry by entry (both are sorted, so this is a
 * merge): equal entries are skipped without decoding them; changed blobs go
 * to `changes`, changed subtrees to `next`.
 */
function diffTrees(pair: TreePair, oidBytes: number, changes: TreeChange[], next: SubtreePair[]): void {
  const a = pair.old ?? NO_TREE;
  const b = pair.new ?? NO_TREE;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const ea = i < a.length ? rawEntry(a, i, oidBytes) : undefined;
    const eb = j < b.length ? rawEntry(b, j, oidBytes) : undefined;
    if (ea && eb && ea.end - i === eb.end - j && a.compare(b, j, eb.end, i, ea.end) === 0) {
      i = ea.end;
      j = eb.end;
      continue;
    }
    const order = !ea ? 1 : !eb ? -1 : Buffer.compare(sortKey(a, i, ea), sortKey(b, j, eb));
    const x = ea && order <= 0 ? decodeEntry(a, i, ea) : undefined;
    const y = eb && order >= 0 ? decodeEntry(b, j, eb) : undefined;
    if (ea && x) i = ea.end;
    if (eb && y) j = eb.end;
    // Flat: a rope of prefix and name would be kept as a path for as long as the file is.
    const path = flatString(pair.prefix + (x?.name ?? y?.name ?? ""));
    const xTree = x?.mode === TREE_MODE;
    const yTree = y?.mode === TREE_MODE;
    if (xTree || yTree) next.push({ oldOid: xTree ? x?.oid : undefined, newOid: yTree ? y?.oid : undefined, prefix: `${path}/` });
    if (x && !xTree && (!y || yTree)) changes.push({ file: path, mode: x.mode, oid: x.oid, deleted: true });
    if (y && !yTree) changes.push({ file: path, mode: y.mode, oid: y.oid, deleted: false });
  }
}

function decodeEntry(buf: Buffer, pos: number, e: RawEntry): { mode: string; name: string; oid: string } {
  return { mode: buf.toString("latin1", pos, e.space), name: buf.toString("utf8", e.space + 1, e.nul), oid: buf.toString("hex", e.nul + 1, e.end) };
}

import { lstat, readFile, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { InvalidInputError, describeIssue, type ValidationIssue } from "./errors.js";
import type { TreeSnapshot } from "./types.js";

/**
 * Reads a desired-state tree from a directory (a git checkout, or the
 * example tree) into a snapshot, for {@link loadDesiredState}.
 *
 * Paths in the snapshot are relative to `dir`, with forward slashes.
 * `.git` directories are skipped. A symlink is followed when its target
 * stays inside the tree (the file appears under the link's path); a symlink
 * leading outside it, a dangling one, or anything that is neither a file nor
 * a directory is refused.
 * @throws InvalidInputError listing every refused entry (file = its path in
 *   the tree), or naming `dir` itself when it is not a readable directory
 */
export async function snapshotFromDirectory(dir: string, revision: string, origin: string): Promise<TreeSnapshot> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error("not a directory");
  } catch (err) {
    throw new InvalidInputError(`desired-state directory ${dir} cannot be read: ${(err as Error).message}`, { file: dir, revision });
  }
  const files = new Map<string, Buffer>();
  const issues: ValidationIssue[] = [];
  await walk({ root, files, issues, visited: new Set([root]) }, root, "");
  if (issues.length > 0) {
    const lines = issues.map((i) => `  ${describeIssue(i)}`);
    throw new InvalidInputError([`desired-state directory ${dir} holds entries Steward refuses:`, ...lines].join("\n"), { revision }, issues);
  }
  return { revision, origin, files };
}

interface Walk {
  root: string;
  files: Map<string, Buffer>;
  issues: ValidationIssue[];
  /** Real paths of directories entered, so a symlink cycle is walked once. */
  visited: Set<string>;
}

async function walk(w: Walk, absDir: string, relDir: string): Promise<void> {
  const entries = (await readdir(absDir)).sort();
  for (const name of entries) {
    if (name === ".git") continue;
    const rel = relDir === "" ? name : `${relDir}/${name}`;
    await visit(w, path.join(absDir, name), rel);
  }
}

async function visit(w: Walk, abs: string, rel: string): Promise<void> {
  const own = await lstat(abs);
  let real = abs;
  if (own.isSymbolicLink()) {
    const target = await realpath(abs).catch(() => undefined);
    if (target === undefined) {
      w.issues.push({ file: rel, message: "symlink whose target does not exist" });
      return;
    }
    if (target !== w.root && !target.startsWith(w.root + path.sep)) {
      w.issues.push({ file: rel, message: `symlink leads outside the tree (to ${target}); the tree must hold its files itself` });
      return;
    }
    real = target;
  }
  const info = await stat(real);
  if (info.isDirectory()) {
    if (w.visited.has(real)) return;
    w.visited.add(real);
    await walk(w, real, rel);
  } else if (info.isFile()) {
    w.files.set(rel, await readFile(real));
  } else {
    w.issues.push({ file: rel, message: "neither a file nor a directory (a socket, FIFO or device)" });
  }
}

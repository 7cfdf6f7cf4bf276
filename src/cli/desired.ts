import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { snapshotFromDirectory } from "../model/snapshot-dir.js";
import type { TreeSnapshot } from "../model/types.js";
import { GitSource } from "../sources/git.js";

/** Where a CLI command reads the desired state from. */
export interface TreeArgs {
  dir?: string | undefined;
  git?: string | undefined;
  branch?: string | undefined;
  subdir?: string | undefined;
}

/**
 * Reads the desired-state tree a command works on: `--git URL` (fetched into
 * a throw-away mirror), else `--dir PATH` (default `desired-state`). A
 * directory inside a git work tree gets its HEAD commit as revision.
 */
export async function readTree(args: TreeArgs): Promise<TreeSnapshot> {
  if (args.git) {
    const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-cli-"));
    try {
      return await new GitSource({
        url: args.git,
        cacheDir,
        ...(args.branch ? { branch: args.branch } : {}),
        ...(args.subdir !== undefined ? { subdir: args.subdir } : {}),
      }).snapshot();
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
  const dir = path.resolve(args.dir ?? "desired-state");
  return snapshotFromDirectory(dir, headRevision(dir), `dir:${dir}`);
}

function headRevision(dir: string): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "."], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return "working-tree";
  }
}

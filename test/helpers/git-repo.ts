import { execFileSync } from "node:child_process";
import { mkdtemp, mkdir, writeFile, rm, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** A real git repository in a temp dir, for tests that commit like a user would. */
export class GitRepo {
  private constructor(readonly dir: string) {}

  static async create(branch = "main"): Promise<GitRepo> {
    const dir = await mkdtemp(path.join(tmpdir(), "steward-repo-"));
    const repo = new GitRepo(dir);
    repo.git("init", "--quiet", "-b", branch);
    repo.git("config", "user.email", "dev@example.invalid");
    repo.git("config", "user.name", "Dev");
    repo.git("config", "commit.gpgsign", "false");
    return repo;
  }

  git(...args: string[]): string {
    return execFileSync("git", args, { cwd: this.dir, encoding: "utf8" }).trim();
  }

  async write(file: string, content: string): Promise<void> {
    const full = path.join(this.dir, file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }

  /** Copies a directory of the repository under test (e.g. `desired-state`) into this repo. */
  async copyIn(from: string, to: string): Promise<void> {
    await cp(from, path.join(this.dir, to), { recursive: true });
  }

  async remove(file: string): Promise<void> {
    await rm(path.join(this.dir, file), { recursive: true, force: true });
  }

  /** Stages everything and commits; returns the new commit SHA. */
  commit(message: string): string {
    this.git("add", "-A");
    this.git("commit", "--quiet", "--allow-empty", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

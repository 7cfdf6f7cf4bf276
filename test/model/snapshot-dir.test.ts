import test from "ava";
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { snapshotFromDirectory } from "../../src/model/snapshot-dir.js";
import { InvalidInputError, describeIssue } from "../../src/model/errors.js";

/** A fresh temporary directory holding `files` (path → content), removed after the test. */
async function tree(t: { teardown: (fn: () => Promise<void>) => void }, files: Record<string, string>): Promise<string> {
  // realpath: messages name real paths, and the temp dir may sit behind a symlink (macOS /var).
  const dir = await realpath(await mkdtemp(path.join(tmpdir(), "steward-snapshot-")));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

async function refused(dir: string): Promise<string[]> {
  const err = await snapshotFromDirectory(dir, "r", "o").then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InvalidInputError)) throw new Error(`expected InvalidInputError, got ${String(err)}`);
  return err.issues.map(describeIssue);
}

test("files are keyed by their path in the tree, with forward slashes, and .git is skipped", async (t) => {
  const dir = await tree(t, { "steward.yaml": "a", "services/web/service.yaml": "b", ".git/HEAD": "ref", "services/.git/x": "y" });
  const s = await snapshotFromDirectory(dir, "abc", "dir:x");
  t.is(s.revision, "abc");
  t.is(s.origin, "dir:x");
  t.deepEqual([...s.files.keys()].sort(), ["services/web/service.yaml", "steward.yaml"]);
  t.is(s.files.get("services/web/service.yaml")?.toString(), "b");
});

test("a symlink inside the tree is followed and appears under its own path", async (t) => {
  const dir = await tree(t, { "steward.yaml": "a", "shared/web.nomad.hcl": "job" });
  await mkdir(path.join(dir, "services/web"), { recursive: true });
  await symlink("../../shared/web.nomad.hcl", path.join(dir, "services/web/web.nomad.hcl"));
  await symlink("shared", path.join(dir, "linked-dir"));
  const s = await snapshotFromDirectory(dir, "r", "o");
  t.is(s.files.get("services/web/web.nomad.hcl")?.toString(), "job");
  t.is(s.files.get("linked-dir/web.nomad.hcl")?.toString(), "job");
});

test("a symlink leaving the tree is refused, naming where it leads", async (t) => {
  const outside = await tree(t, { "secret.txt": "s" });
  const dir = await tree(t, { "steward.yaml": "a" });
  await symlink(path.join(outside, "secret.txt"), path.join(dir, "steal.yaml"));
  await symlink(outside, path.join(dir, "pools"));
  t.deepEqual(await refused(dir), [
    `pools: symlink leads outside the tree (to ${outside}); the tree must hold its files itself`,
    `steal.yaml: symlink leads outside the tree (to ${path.join(outside, "secret.txt")}); the tree must hold its files itself`,
  ]);
});

test("a dangling symlink is refused", async (t) => {
  const dir = await tree(t, { "steward.yaml": "a" });
  await symlink("nowhere.yaml", path.join(dir, "gone.yaml"));
  t.deepEqual(await refused(dir), ["gone.yaml: symlink whose target does not exist"]);
});

test("a symlink cycle is walked once", async (t) => {
  const dir = await tree(t, { "a/x.yaml": "x" });
  await symlink("..", path.join(dir, "a/up"));
  const s = await snapshotFromDirectory(dir, "r", "o");
  t.deepEqual([...s.files.keys()], ["a/x.yaml"]);
});

test("a directory that does not exist is refused with its name", async (t) => {
  const err = await t.throwsAsync(snapshotFromDirectory("/nonexistent/steward-tree", "r", "o"), { instanceOf: InvalidInputError });
  t.is(err?.context.file, "/nonexistent/steward-tree");
  t.regex(err?.message ?? "", /^desired-state directory \/nonexistent\/steward-tree cannot be read: /);
});

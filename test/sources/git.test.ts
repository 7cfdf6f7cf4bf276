import test from "ava";
import { chmod, mkdtemp, rm, symlink } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { GitSource } from "../../src/sources/git.js";
import { hubSignature, validHubSignature } from "../../src/sources/git-webhook.js";
import { InvalidInputError } from "../../src/model/errors.js";
import { TransientError } from "../../src/reconciler/core/outcome.js";
import { GitRepo } from "../helpers/git-repo.js";

async function fixture() {
  const repo = await GitRepo.create();
  const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-gitcache-"));
  const source = new GitSource({ url: repo.dir, cacheDir, maxFileBytes: 1024 });
  return { repo, source, cacheDir, cleanup: async () => Promise.all([repo.destroy(), rm(cacheDir, { recursive: true, force: true })]) };
}

test("reads_the_subdir_tree_at_the_branch_tip", async (t) => {
  const { repo, source, cleanup } = await fixture();
  t.teardown(cleanup);
  await repo.write("desired-state/steward.yaml", "environments: []\n");
  await repo.write("desired-state/services/web/web.nomad.hcl", 'job "web" {}\n');
  await repo.write("README.md", "outside the tree\n");
  const sha = repo.commit("first");
  const snap = await source.snapshot();
  t.is(snap.revision, sha);
  t.deepEqual([...snap.files.keys()].sort(), ["services/web/web.nomad.hcl", "steward.yaml"]);
  t.is(snap.files.get("steward.yaml")?.toString(), "environments: []\n");
  t.regex(snap.origin, /^git:.*#main:desired-state$/);
});

test("a_new_commit_is_seen_on_the_next_fetch", async (t) => {
  const { repo, source, cleanup } = await fixture();
  t.teardown(cleanup);
  await repo.write("desired-state/steward.yaml", "a: 1\n");
  const first = repo.commit("one");
  t.is(await source.fetch(), first);
  await repo.write("desired-state/steward.yaml", "a: 2\n");
  const second = repo.commit("two");
  const snap = await source.snapshot();
  t.is(snap.revision, second);
  t.is(snap.files.get("steward.yaml")?.toString(), "a: 2\n");
});

test("symlink_and_oversized_file_refuse_the_revision_naming_files", async (t) => {
  const { repo, source, cleanup } = await fixture();
  t.teardown(cleanup);
  await repo.write("desired-state/big.yaml", "x".repeat(2048));
  await symlink("/etc/passwd", path.join(repo.dir, "desired-state/link.yaml"));
  repo.commit("bad");
  const err = await t.throwsAsync(source.snapshot(), { instanceOf: InvalidInputError });
  const files = (err).issues.map((i) => i.file).sort();
  t.deepEqual(files, ["big.yaml", "link.yaml"]);
});

test("unreachable_repository_is_transient_and_named", async (t) => {
  const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-gitcache-"));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const source = new GitSource({ url: path.join(cacheDir, "does-not-exist"), cacheDir });
  const err = await t.throwsAsync(source.fetch(), { instanceOf: TransientError });
  t.regex(err.message, /git fetch failed/);
  t.regex((err).context.endpoint ?? "", /does-not-exist/);
});

test("missing_branch_is_an_error_not_an_empty_tree", async (t) => {
  const { repo, cleanup } = await fixture();
  t.teardown(cleanup);
  await repo.write("desired-state/steward.yaml", "a: 1\n");
  repo.commit("one");
  const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-gitcache-"));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const other = new GitSource({ url: repo.dir, branch: "release", cacheDir });
  await t.throwsAsync(other.snapshot(), { instanceOf: TransientError });
});

// ---- After a first read, a read diffs against the last one: the files must be exactly a full read's.

/** The same tip read whole by a fresh source (its own mirror): what an incremental read must equal. */
async function fullRead(url: string, t: { teardown: (fn: () => Promise<unknown>) => void }) {
  const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-gitcache-"));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  return new GitSource({ url, cacheDir, maxFileBytes: 1024 }).snapshot();
}

function texts(files: Map<string, Buffer>): Record<string, string> {
  const pairs: Array<[string, string]> = [...files].map(([k, v]) => [k, v.toString()]);
  return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function seeded() {
  const f = await fixture();
  await f.repo.write("desired-state/steward.yaml", "environments: []\n");
  await f.repo.write("desired-state/services/web/service.yaml", "image: web\n");
  await f.repo.write("desired-state/services/web/web.nomad.hcl", 'job "web" {}\n');
  await f.repo.write("desired-state/services/api/service.yaml", "image: api\n");
  await f.repo.write("desired-state/services/api/api.nomad.hcl", 'job "api" {}\n');
  await f.repo.write("outside/file.txt", "not in the tree\n");
  const first = f.repo.commit("first");
  const snap = await f.source.snapshot();
  return { ...f, first, snap };
}

test("a_later_read_lists_the_paths_changed_since_the_last_one_and_equals_a_full_read", async (t) => {
  const { repo, source, cleanup, first } = await seeded();
  t.teardown(cleanup);
  await repo.write("desired-state/services/web/web.nomad.hcl", 'job "web" { type = "batch" }\n'); // changed
  await repo.remove("desired-state/services/api"); // removed
  await repo.write("desired-state/services/backend/service.yaml", "image: api\n"); // renamed: the same content elsewhere
  await repo.write("desired-state/services/backend/backend.nomad.hcl", 'job "api" {}\n');
  await repo.write("outside/file.txt", "changed outside the tree\n"); // not the tree's business
  const second = repo.commit("second");
  const snap = await source.snapshot();
  t.is(snap.revision, second);
  t.is(snap.changes?.since, first);
  t.deepEqual([...(snap.changes?.paths ?? [])].sort(), [
    "services/api/api.nomad.hcl",
    "services/api/service.yaml",
    "services/backend/backend.nomad.hcl",
    "services/backend/service.yaml",
    "services/web/web.nomad.hcl",
  ]);
  t.deepEqual(texts(snap.files), texts((await fullRead(repo.dir, t)).files));
});

test("the_changed_paths_are_the_ones_git_diff_tree_reports", async (t) => {
  const { repo, source, cleanup, first } = await seeded();
  t.teardown(cleanup);
  await repo.write("desired-state/services/web/web.nomad.hcl", 'job "web" { type = "batch" }\n');
  await chmod(path.join(repo.dir, "desired-state/services/api/api.nomad.hcl"), 0o755); // a mode change alone
  await repo.remove("desired-state/services/api/service.yaml");
  await repo.write("desired-state/services/api/service.yaml/nested.yaml", "a file became a directory\n");
  await repo.write("desired-state/pools/a/b/c.yaml", "deep: 1\n");
  await repo.write("desired-state/services/z-last/service.yaml", "image: z\n");
  await repo.write("desired-state/services/web-2/service.yaml", "image: w2\n"); // sorts between "web" and "web/" in git's order
  const second = repo.commit("second");
  const snap = await source.snapshot();
  const expected = repo.git("diff-tree", "-r", "--no-renames", "--name-only", first, second, "--", "desired-state/").split("\n").map((p) => p.slice("desired-state/".length));
  t.deepEqual([...(snap.changes?.paths ?? [])].sort(), expected.sort());
  t.deepEqual(texts(snap.files), texts((await fullRead(repo.dir, t)).files));
});

test("a_first_read_and_a_diff_that_fails_read_the_whole_tree", async (t) => {
  const { repo, source, cacheDir, cleanup, snap: firstSnap } = await seeded();
  t.teardown(cleanup);
  t.is(firstSnap.changes, undefined, "the first read has nothing to diff against");
  // A force-push onto an unrelated history, then the old commit pruned from the mirror: the diff cannot run.
  repo.git("checkout", "--quiet", "--orphan", "rewritten");
  await repo.write("desired-state/services/web/web.nomad.hcl", 'job "web" { type = "system" }\n');
  repo.commit("rewritten");
  repo.git("branch", "--quiet", "-M", "rewritten", "main");
  await source.fetch();
  execFileSync("git", ["reflog", "expire", "--expire=now", "--all"], { cwd: cacheDir });
  execFileSync("git", ["gc", "--quiet", "--prune=now"], { cwd: cacheDir });
  const snap = await source.snapshot();
  t.is(snap.changes, undefined, "read whole");
  t.deepEqual(texts(snap.files), texts((await fullRead(repo.dir, t)).files));
});

test("a_force_push_to_an_unrelated_history_is_read_exactly", async (t) => {
  const { repo, source, cleanup, first } = await seeded();
  t.teardown(cleanup);
  repo.git("checkout", "--quiet", "--orphan", "rewritten");
  repo.git("rm", "--quiet", "-r", "--cached", "desired-state/services/api");
  await repo.remove("desired-state/services/api");
  await repo.write("desired-state/services/web/web.nomad.hcl", 'job "web" { type = "system" }\n');
  const rewritten = repo.commit("rewritten");
  repo.git("branch", "--quiet", "-M", "rewritten", "main");
  t.throws(() => repo.git("merge-base", "--is-ancestor", first, rewritten), undefined, "the old tip is not an ancestor of the new one");
  const snap = await source.snapshot();
  t.is(snap.revision, rewritten);
  // A diff compares the two trees, not the histories: exact whatever lies between them.
  t.deepEqual(texts(snap.files), texts((await fullRead(repo.dir, t)).files));
  t.false(snap.files.has("services/api/service.yaml"));
});

test("a_later_commit_adding_a_symlink_or_an_oversized_file_is_refused_and_the_next_one_read", async (t) => {
  const { repo, source, cleanup } = await seeded();
  t.teardown(cleanup);
  await repo.write("desired-state/services/web/big.yaml", "x".repeat(2048));
  await symlink("/etc/passwd", path.join(repo.dir, "desired-state/link.yaml"));
  repo.commit("bad");
  const err = await t.throwsAsync(source.snapshot(), { instanceOf: InvalidInputError });
  t.deepEqual(err.issues.map((i) => i.file).sort(), ["link.yaml", "services/web/big.yaml"]);
  await repo.remove("desired-state/services/web/big.yaml");
  await repo.remove("desired-state/link.yaml");
  await repo.write("desired-state/services/web/service.yaml", "image: web2\n");
  repo.commit("fixed");
  const snap = await source.snapshot();
  t.is(snap.files.get("services/web/service.yaml")?.toString(), "image: web2\n");
  t.deepEqual(texts(snap.files), texts((await fullRead(repo.dir, t)).files));
});

const body = Buffer.from('{"ref":"refs/heads/main"}');
const sigRows: Array<[string, string | undefined, boolean]> = [
  ["valid_signature_accepted", hubSignature("s3cret", body), true],
  ["wrong_secret_rejected", hubSignature("other", body), false],
  ["missing_header_rejected", undefined, false],
  ["sha1_header_rejected", "sha1=abcdef", false],
  ["truncated_signature_rejected", hubSignature("s3cret", body).slice(0, 20), false],
];
for (const [name, header, want] of sigRows) {
  test(`webhook_${name}`, (t) => {
    t.is(validHubSignature("s3cret", body, header), want);
  });
}

test("webhook_tampered_body_rejected", (t) => {
  t.false(validHubSignature("s3cret", Buffer.from('{"ref":"refs/heads/evil"}'), hubSignature("s3cret", body)));
});

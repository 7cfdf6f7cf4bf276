import test from "ava";
import { mkdtemp, rm, symlink } from "node:fs/promises";
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
  return { repo, source, cleanup: async () => Promise.all([repo.destroy(), rm(cacheDir, { recursive: true, force: true })]) };
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

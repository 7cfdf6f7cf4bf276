import test from "ava";
import { GitCatFile } from "../../src/sources/git-cat-file.js";
import { TransientError } from "../../src/reconciler/core/outcome.js";
import { GitRepo } from "../helpers/git-repo.js";

test("objects_are_read_by_name_in_order_and_a_missing_one_is_undefined", async (t) => {
  const repo = await GitRepo.create();
  t.teardown(() => repo.destroy());
  await repo.write("a.txt", "alpha\n");
  await repo.write("big.bin", "x".repeat(3 << 20)); // arrives in many chunks
  repo.commit("one");
  const cat = new GitCatFile(repo.dir, 10_000, "test");
  t.teardown(() => cat.close());
  const [a, missing, big, tree] = await cat.read(["HEAD:a.txt", "HEAD:nope.txt", "HEAD:big.bin", "HEAD^{tree}"]);
  t.is(a?.type, "blob");
  t.is(a?.content.toString(), "alpha\n");
  t.is(a?.oid, repo.git("rev-parse", "HEAD:a.txt"));
  t.is(missing, undefined);
  t.is(big?.content.length, 3 << 20);
  t.is(tree?.type, "tree");
});

test("objects_committed_after_the_process_started_are_found", async (t) => {
  const repo = await GitRepo.create();
  t.teardown(() => repo.destroy());
  await repo.write("a.txt", "one\n");
  repo.commit("one");
  const cat = new GitCatFile(repo.dir, 10_000, "test");
  t.teardown(() => cat.close());
  t.is((await cat.read(["HEAD:a.txt"]))[0]?.content.toString(), "one\n");
  await repo.write("a.txt", "two\n");
  const sha = repo.commit("two");
  repo.git("gc", "--quiet"); // into a new pack, too
  t.is((await cat.read([`${sha}:a.txt`]))[0]?.content.toString(), "two\n");
});

test("concurrent_reads_are_answered_each_with_its_own_objects", async (t) => {
  const repo = await GitRepo.create();
  t.teardown(() => repo.destroy());
  for (let i = 0; i < 20; i++) await repo.write(`f${i}.txt`, `${i}\n`);
  repo.commit("many");
  const cat = new GitCatFile(repo.dir, 10_000, "test");
  t.teardown(() => cat.close());
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => cat.read([`HEAD:f${i}.txt`, `HEAD:f${(i + 1) % 20}.txt`])));
  answers.forEach((objs, i) => t.deepEqual(objs.map((o) => o?.content.toString()), [`${i}\n`, `${(i + 1) % 20}\n`]));
});

test("a_repository_that_is_not_there_is_a_transient_error_and_a_later_read_starts_again", async (t) => {
  const repo = await GitRepo.create();
  t.teardown(() => repo.destroy());
  const cat = new GitCatFile(`${repo.dir}/not-yet`, 10_000, "git:test");
  t.teardown(() => cat.close());
  const err = await t.throwsAsync(cat.read(["HEAD"]), { instanceOf: TransientError });
  t.is(err.context.endpoint, "git:test");
  await repo.write("a.txt", "a\n");
  repo.commit("one");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(`${repo.dir}/not-yet`);
  repo.git("clone", "--quiet", "--bare", repo.dir, `${repo.dir}/not-yet/.`);
  t.is((await cat.read(["HEAD:a.txt"]))[0]?.content.toString(), "a\n");
});

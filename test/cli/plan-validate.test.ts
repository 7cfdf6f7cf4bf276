import test from "ava";
import { Writable } from "node:stream";
import { mkdtemp, rm, cp, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startSim } from "../../sim/index.js";
import { planCommand } from "../../src/cli/plan.js";
import { validateCommand } from "../../src/cli/validate.js";
import { REPO_ROOT, stewardYaml } from "../helpers/sync-fixture.js";
import { syncFixture } from "../helpers/sync-fixture.js";
import { eventually } from "../helpers/eventually.js";

function capture(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    out: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    }),
    text: () => chunks.join(""),
  };
}

test("validate_accepts_the_example_tree_offline", async (t) => {
  const c = capture();
  t.is(await validateCommand({ dir: path.join(REPO_ROOT, "desired-state") }, c.out), 0);
  t.regex(c.text(), /valid \(2 environments, 3 services, 1 pools\)/);
});

test("validate_names_file_line_and_field_of_a_broken_tree", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "steward-validate-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(REPO_ROOT, "desired-state"), dir, { recursive: true });
  const svc = path.join(dir, "services/web/service.yaml");
  await writeFile(svc, (await readFile(svc, "utf8")) + "sync:\n  drift: sometimes\n");
  const c = capture();
  t.is(await validateCommand({ dir }, c.out), 1);
  t.regex(c.text(), /services\/web\/service\.yaml:\d+: sync\.drift: /);
});

test("plan_lists_registrations_with_exit_2_then_nothing_with_exit_0", async (t) => {
  const f = await syncFixture({}, { lead: false });
  t.teardown(() => f.close());
  const dir = path.join(f.repo.dir, "desired-state");
  const first = capture();
  t.is(await planCommand({ dir }, first.out), 2, first.text());
  t.regex(first.text(), /\+ qa\/web {2}register {2}\[JobMissing\]/);
  t.regex(first.text(), /6 change\(s\) to make/);
  await f.loop.lead();
  await eventually(() => f.loop.statuses().length >= 6 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 10_000 });
  const second = capture();
  t.is(await planCommand({ dir, json: true }, second.out), 0, second.text());
  const doc = JSON.parse(second.text());
  t.true(doc.actions.every((a: { kind: string; reason: string }) => a.kind === "noop" && a.reason === "InSync"));
});

test("plan_shows_the_fields_a_change_would_touch", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await eventually(() => f.loop.statuses().length >= 6 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 10_000 });
  const svc = path.join(f.repo.dir, "desired-state/services/web/service.yaml");
  await writeFile(svc, (await readFile(svc, "utf8")).replace("count: 3", "count: 5"));
  const c = capture();
  t.is(await planCommand({ dir: path.join(f.repo.dir, "desired-state") }, c.out), 2, c.text());
  t.regex(c.text(), /~ prod\/web {2}register {2}\[SpecChanged\]/);
  t.regex(c.text(), /~ TaskGroups\[web\]\.Count/);
  t.notRegex(c.text(), /qa\/web {2}register/, "qa's count did not change");
});

test("plan_against_an_unreachable_cluster_fails_clearly", async (t) => {
  const sim = await startSim({ clusters: [{ name: "qa", nodes: 1 }, { name: "prod", nodes: 1 }] });
  const dir = await mkdtemp(path.join(tmpdir(), "steward-plan-"));
  t.teardown(async () => rm(dir, { recursive: true, force: true }));
  await cp(path.join(REPO_ROOT, "desired-state"), dir, { recursive: true });
  await writeFile(path.join(dir, "steward.yaml"), stewardYaml(sim));
  await sim.close();
  const c = capture();
  t.is(await planCommand({ dir }, c.out), 1);
  t.regex(c.text(), /cannot plan: .*(ECONNREFUSED|connect)/);
});

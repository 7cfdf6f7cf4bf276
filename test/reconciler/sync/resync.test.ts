import test from "ava";
import { Writable } from "node:stream";
import { eventually } from "../../helpers/eventually.js";
import { imageOf, readJob, syncFixture, type SyncFixture } from "../../helpers/sync-fixture.js";
import { createLogger } from "../../../src/log.js";

const ZERO = `sha256:${"0".repeat(64)}`;
const ONE = `sha256:${"1".repeat(64)}`;

/** Converged, and every key settled: one resync runs the keys whose last pass registered, the next finds nothing to run. */
async function settled(f: SyncFixture): Promise<void> {
  await eventually(() => f.loop.statuses().length >= 6 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 20_000 });
  await eventually(async () => (await f.loop.resync())?.queued === 0 && f.loop.statuses().every((s) => s.lastAction?.reason === "InSync"), { timeoutMs: 10_000, intervalMs: 200 });
}

const passIds = (f: SyncFixture): Map<string, string | undefined> => new Map(f.loop.statuses().map((s) => [s.key, s.reconcileId]));

test("an_idle_resync_skips_every_key_reads_each_jobs_list_once_and_marks_the_environments_checked", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await settled(f);
  const before = f.loop.statuses();
  const t0 = Date.now();
  f.sim.log.clear();
  const result = await f.loop.resync();
  t.deepEqual(result, { queued: 0, skipped: before.length });
  t.deepEqual(f.loop.statuses(), before, "skipped keys keep their status: lastReconcileTime is their last real pass");
  for (const env of ["qa", "prod"]) t.true((f.loop.lastChecked().get(env) ?? 0) >= t0, `${env} marked checked`);
  const calls = f.sim.log.find({}).filter((e) => e.server.startsWith("nomad:") && !(e.method === "GET" && e.path === "/v1/jobs" && e.query.includes("index=")));
  t.deepEqual(calls.map((e) => `${e.server} ${e.method} ${e.path}`).sort(), ["nomad:prod GET /v1/jobs", "nomad:qa GET /v1/jobs"], "one non-blocking list read per environment, nothing else");
});

test("sync_now_re_plans_every_key_even_when_nothing_changed", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await settled(f);
  const before = passIds(f);
  t.is(f.loop.wakeAll(), 0, "without force every settled key is skipped");
  t.is(f.loop.wakeAll({ force: true }), before.size);
  await eventually(() => f.loop.statuses().every((s) => s.reconcileId !== before.get(s.key)), { timeoutMs: 10_000 });
  t.true(f.loop.statuses().every((s) => s.lastAction?.reason === "InSync"));
});

test("a_new_revision_re_plans_the_jobs_it_changed_and_skips_the_others", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await settled(f);
  const before = passIds(f);
  const svc = await (await import("node:fs/promises")).readFile(`${f.repo.dir}/desired-state/services/web/service.yaml`, "utf8");
  await f.repo.write("desired-state/services/web/service.yaml", svc.replace(ZERO, ONE));
  await f.commit("web: new image");
  await eventually(async () => imageOf(await readJob(f.nomad.prod!, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 20_000 });
  await eventually(() => f.loop.statuses().every((s) => !s.key.endsWith("/web") || s.lastAction?.reason === "SpecChanged"), { timeoutMs: 10_000 });
  for (const s of f.loop.statuses()) {
    if (s.key.endsWith("/web")) t.not(s.reconcileId, before.get(s.key), `${s.key} passed again`);
    else t.is(s.reconcileId, before.get(s.key), `${s.key} was skipped`);
  }
});

test("a_change_the_watch_missed_is_caught_by_the_resync_read_and_healed", async (t) => {
  const lines: Array<{ msg?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().trim().split("\n")) lines.push(JSON.parse(l) as { msg?: string });
      cb();
    },
  });
  // A long watch wait: the hung long poll below outlasts the test.
  const f = await syncFixture({}, { watchWaitMs: 120_000, logger: createLogger({ destination, level: "warn" }) });
  t.teardown(() => f.close());
  await settled(f);
  const qa = f.nomad.qa!;
  // qa's watch gets stuck: its next long poll hangs. An unrelated job moves the list so the parked one answers and a new one is sent.
  const hang = f.sim.control.addFault({ target: "nomad:qa", kind: "timeout", method: "GET", path: "/v1/jobs" });
  const noise = await readJob(qa, "api");
  t.is((await qa.put("/v1/jobs", { Job: { ...noise, ID: "noise", Name: "noise", Meta: {} } })).status, 200);
  await eventually(() => hang.fired >= 1, { timeoutMs: 10_000 });
  f.sim.control.removeFault(hang.id);
  // Someone edits web by hand; the stuck watch does not see it.
  const web = await readJob(qa, "web");
  web!.TaskGroups[0].Tasks[0].Config.image = "127.0.0.1:5000/hand-edited:latest";
  t.is((await qa.put("/v1/jobs", { Job: web })).status, 200);
  t.is(imageOf(await readJob(qa, "web")), "127.0.0.1:5000/hand-edited:latest");

  await f.loop.resync();
  await eventually(async () => imageOf(await readJob(qa, "web")) === `127.0.0.1:5000/web@${ZERO}`, { timeoutMs: 20_000 });
  t.true(lines.some((l) => l.msg === "sync: the resync found a jobs list the watch had not delivered"));
  t.is(hang.fired, 1, "the watch was still stuck on its hung long poll");
});

import test from "ava";
import { eventually } from "../../helpers/eventually.js";
import { imageOf, readJob, syncFixture } from "../../helpers/sync-fixture.js";
import { statusViolations } from "../../helpers/status-invariants.js";
import { createLogger } from "../../../src/log.js";
import { MemorySyncStateStore, SyncLoop } from "../../../src/reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../../../src/reconciler/sync/clients.js";

const ZERO = `sha256:${"0".repeat(64)}`;
const ONE = `sha256:${"1".repeat(64)}`;

test("a_commit_reaches_every_environment_pinned_by_digest", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  for (const env of ["qa", "prod"]) {
    const web = await eventually(async () => readJob(f.nomad[env]!, "web"), { timeoutMs: 10_000 });
    t.is(imageOf(web), `127.0.0.1:5000/web@${ZERO}`, `${env} runs the pinned digest`);
    t.is(web?.Meta?.["steward.managed-by"], "steward");
    t.is(web?.TaskGroups?.[0]?.Count, env === "qa" ? 1 : 3, "per-environment variables applied");
    t.truthy(await readJob(f.nomad[env]!, "api"));
  }
  await eventually(() => f.loop.statuses().length >= 6 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 10_000 });
  t.deepEqual(statusViolations(f.loop.statuses()), []);
});

test("a_changed_commit_updates_only_what_changed", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  const apiBefore = await eventually(async () => readJob(f.nomad.prod!, "api"), { timeoutMs: 10_000 });
  await eventually(async () => (await readJob(f.nomad.prod!, "web"))?.Version === 0, { timeoutMs: 10_000 });
  const yaml = (await import("node:fs/promises")).readFile;
  const svc = await yaml(`${f.repo.dir}/desired-state/services/web/service.yaml`, "utf8");
  await f.repo.write("desired-state/services/web/service.yaml", svc.replace(ZERO, ONE));
  f.sim.log.clear();
  const sha = await f.commit("web: new image");
  await eventually(async () => imageOf(await readJob(f.nomad.prod!, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 10_000 });
  const apiAfter = await readJob(f.nomad.prod!, "api");
  t.is(apiAfter?.JobModifyIndex, apiBefore?.JobModifyIndex, "api was not touched");
  // Only the changed service's job file went through Nomad's parser, once per environment.
  for (const env of ["qa", "prod"]) t.is(f.sim.log.find({ server: `nomad:${env}`, method: "POST" }).filter((e) => e.path === "/v1/jobs/parse").length, 1, `${env}: one parse`);
  t.is((await readJob(f.nomad.prod!, "web"))?.Meta?.["steward.revision"], sha, "the register stamped the revision in force");
  t.is(apiAfter?.Meta?.["steward.revision"], apiBefore?.Meta?.["steward.revision"]);
});

test("a_broken_commit_is_refused_and_nothing_changes", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  const web = await eventually(async () => readJob(f.nomad.qa!, "web"), { timeoutMs: 10_000 });
  const good = f.loop.revision.good?.revision;
  const svc = await (await import("node:fs/promises")).readFile(`${f.repo.dir}/desired-state/services/web/service.yaml`, "utf8");
  await f.repo.write("desired-state/services/web/service.yaml", "sync:\n  drift: sometimes\n");
  const bad = await f.commit("broken");
  t.is(f.loop.revision.refused?.revision, bad);
  t.is(f.loop.revision.good?.revision, good, "the last good revision stays in force");
  t.true(f.loop.revision.refused?.issues.some((i) => i.file === "services/web/service.yaml" && i.field === "sync.drift"));
  const after = await readJob(f.nomad.qa!, "web");
  t.is(after?.JobModifyIndex, web?.JobModifyIndex);
  const metrics = await f.metrics.registry.getSingleMetricAsString("steward_desired_state_valid");
  t.regex(metrics, /steward_desired_state_valid 0/);
  // The next commit is read against the refused one, and fixing it is accepted.
  await f.repo.write("desired-state/services/web/service.yaml", svc);
  const fixed = await f.commit("fixed");
  t.is(f.loop.revision.good?.revision, fixed);
});

test("a_manual_change_is_healed_under_heal_and_reported_under_report", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  const web = await eventually(async () => readJob(f.nomad.qa!, "web"), { timeoutMs: 30_000 });
  const api = await eventually(async () => readJob(f.nomad.qa!, "api"), { timeoutMs: 30_000 });
  await eventually(() => f.loop.statuses().filter((s) => s.key.startsWith("qa/")).every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 30_000 });
  // Someone edits both jobs by hand in Nomad (web's service.yaml heals, api's reports).
  for (const job of [web!, api!]) {
    job.TaskGroups[0].Tasks[0].Config.image = "127.0.0.1:5000/hand-edited:latest";
    const r = await f.nomad.qa!.put("/v1/jobs", { Job: job });
    t.is(r.status, 200);
  }
  await eventually(async () => imageOf(await readJob(f.nomad.qa!, "web")) === `127.0.0.1:5000/web@${ZERO}`, { timeoutMs: 30_000 });
  await eventually(() => f.loop.statuses().find((s) => s.key === "qa/api")?.lastAction?.reason === "DriftReported", { timeoutMs: 30_000 });
  t.is(imageOf(await readJob(f.nomad.qa!, "api")), "127.0.0.1:5000/hand-edited:latest", "report leaves the job as it is");
  const webStatus = f.loop.statuses().find((s) => s.key === "qa/web");
  t.is(webStatus?.lastAction?.reason, "DriftHealed");
  t.regex(webStatus?.lastAction?.message ?? "", /image/);
});

test("nomad_faults_back_off_and_converge_without_duplicate_registrations", async (t) => {
  const f = await syncFixture({}, { lead: false });
  t.teardown(() => f.close());
  const fault = f.sim.control.addFault({ target: "nomad:*", kind: "error", status: 500, method: "PUT", path: "/v1/jobs", rate: 1, count: 3 });
  const throttle = f.sim.control.addFault({ target: "nomad:*", kind: "throttle", path: "/v1/job", rate: 0.3, retryAfterS: 0 });
  const hang = f.sim.control.addFault({ target: "nomad:qa", kind: "timeout", method: "PUT", path: "/v1/jobs", count: 2 });
  await f.loop.lead();
  for (const env of ["qa", "prod"]) for (const id of ["web", "api"]) await eventually(async () => readJob(f.nomad[env]!, id), { timeoutMs: 15_000 });
  f.sim.control.removeFault(throttle.id);
  t.true(fault.fired >= 3, "the injected 500s were hit");
  t.is(hang.fired, 2, "the hung registrations were hit and timed out");
  await eventually(() => f.loop.statuses().length >= 6 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 15_000 });
  for (const env of ["qa", "prod"]) {
    const registered = f.sim.log.find({ server: `nomad:${env}`, method: "PUT" }).filter((e) => e.path === "/v1/jobs" && e.status === 200);
    t.is(registered.length, 3, `${env}: each job registered exactly once`);
    for (const id of ["web", "api"]) t.is((await readJob(f.nomad[env]!, id))?.Version, 0, `${env}/${id} has a single version`);
  }
});

test("an_idle_pass_makes_no_plan_or_write_calls", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await eventually(() => f.loop.statuses().length >= 6 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 10_000 });
  f.sim.log.clear();
  const before = new Map(f.loop.statuses().map((s) => [s.key, s.reconcileId]));
  f.loop.wakeAll({ force: true }); // a real pass over every key of a converged state (a resync would skip them)
  await eventually(() => f.loop.statuses().every((s) => s.reconcileId !== before.get(s.key)), { timeoutMs: 5_000 });
  const calls = f.sim.log.find({}).filter((e) => e.server.startsWith("nomad:") && !(e.method === "GET" && e.path === "/v1/jobs"));
  t.deepEqual(calls.map((e) => `${e.method} ${e.path}`), [], "only the jobs-list long polls");
});

test("a_removed_service_is_pruned_only_with_prune_on_after_the_grace_period", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  // api opts in to prune (its flag travels with the job's Meta); web keeps the default (off).
  const { readFile } = await import("node:fs/promises");
  const apiYaml = `${f.repo.dir}/desired-state/services/api/service.yaml`;
  await f.repo.write("desired-state/services/api/service.yaml", (await readFile(apiYaml, "utf8")).replace(/^ {2}drift: report.*$/m, "  drift: report\n  prune: true"));
  t.is(await f.commit("api may be pruned").then(() => f.loop.revision.refused), undefined);
  await f.repo.remove("desired-state/services/api");
  await f.commit("remove api");
  await eventually(async () => (await readJob(f.nomad.qa!, "api"))?.Stop === true, { timeoutMs: 10_000 });
  await eventually(async () => (await readJob(f.nomad.prod!, "api"))?.Stop === true, { timeoutMs: 10_000 });
  t.is((await readJob(f.nomad.qa!, "web"))?.Stop, false);
  const stops = await f.metrics.registry.getSingleMetricAsString("steward_actions_total");
  t.regex(stops, /steward_actions_total\{loop="sync",kind="stop",result="changed"\} 2/, "one stop per environment, no more");

  // web's prune flag is off: removing it stops nothing and says so.
  await f.repo.remove("desired-state/services/web");
  await f.commit("remove web");
  await eventually(() => f.loop.statuses().find((s) => s.key === "qa/web")?.lastAction?.reason === "PruneDisabled", { timeoutMs: 10_000 });
  t.is((await readJob(f.nomad.qa!, "web"))?.Stop, false);
});

test("the_prune_guard_refuses_to_empty_an_environment", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  const { readFile } = await import("node:fs/promises");
  const yaml = await readFile(`${f.repo.dir}/desired-state/steward.yaml`, "utf8");
  await f.repo.write("desired-state/steward.yaml", yaml.replace("prune: false", "prune: true"));
  await f.commit("prune on");
  t.is(f.loop.revision.refused, undefined);
  // A commit that loses every service (3 of 3 managed jobs, above the 50% limit).
  await f.repo.remove("desired-state/services");
  await f.commit("oops: every service gone");
  await eventually(() => f.loop.statuses().filter((s) => s.key.startsWith("qa/")).every((s) => s.lastAction?.reason === "PruneGuardTripped"), { timeoutMs: 10_000 });
  t.is((await readJob(f.nomad.qa!, "web"))?.Stop, false);
  t.is((await readJob(f.nomad.qa!, "api"))?.Stop, false);
  t.regex(f.loop.statuses().find((s) => s.key === "qa/web")?.lastAction?.message ?? "", /3 of 3 managed jobs/);
});

const SCALED_JOB = `
variable "image" {
  type = string
}

job "scaled" {
  datacenters = ["dc1"]
  group "app" {
    count = 2
    scaling {
      min = 1
      max = 10
    }
    task "app" {
      driver = "docker"
      config {
        image = var.image
      }
      env {
        GREETING = "hello"
      }
    }
  }
}
`;

test("an_autoscaled_count_is_left_alone_and_kept_across_spec_changes", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await f.repo.write("desired-state/services/scaled/service.yaml", `image:\n  repository: 127.0.0.1:5000/scaled\n  digest: ${ZERO}\nenvironments:\n  qa: {}\n`);
  await f.repo.write("desired-state/services/scaled/scaled.nomad.hcl", SCALED_JOB);
  await f.commit("a service with a scaling block");
  t.is(f.loop.revision.refused, undefined, JSON.stringify(f.loop.revision.refused?.issues));
  const job = await eventually(async () => readJob(f.nomad.qa!, "scaled"), { timeoutMs: 10_000 });
  await eventually(() => f.loop.statuses().find((s) => s.key === "qa/scaled")?.conditions[0]?.status === "True", { timeoutMs: 10_000 });

  // The Autoscaler sets the count to 5 (as a register of the same job with another count).
  job!.TaskGroups[0].Count = 5;
  t.is((await f.nomad.qa!.put("/v1/jobs", { Job: job })).status, 200);
  const scaledIndex = (await readJob(f.nomad.qa!, "scaled"))?.JobModifyIndex;
  await eventually(() => f.loop.statuses().find((s) => s.key === "qa/scaled")?.lastAction?.reason === "InSync" && f.store.records.get("qa/scaled")?.jobModifyIndex === scaledIndex, { timeoutMs: 10_000 });
  t.is((await readJob(f.nomad.qa!, "scaled"))?.TaskGroups[0].Count, 5, "Steward did not undo the Autoscaler");

  // A real change of the job keeps the Autoscaler's count.
  await f.repo.write("desired-state/services/scaled/scaled.nomad.hcl", SCALED_JOB.replace('"hello"', '"bonjour"'));
  await f.commit("scaled: new greeting");
  await eventually(async () => (await readJob(f.nomad.qa!, "scaled"))?.TaskGroups[0].Tasks[0].Env?.GREETING === "bonjour", { timeoutMs: 10_000 });
  t.is((await readJob(f.nomad.qa!, "scaled"))?.TaskGroups[0].Count, 5);
});

test("a_leader_that_leads_before_its_first_revision_registers_nothing_until_it_has_read_nomad", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  await eventually(() => f.loop.statuses().length > 0 && f.loop.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 30_000 });
  await f.loop.standBy();
  // A new leader (fresh records) that starts writing before its first revision, as a daemon that wins
  // the lock at start does; qa's first jobs list is slow to come.
  const next = new SyncLoop({
    clients: new NomadClients({ tokens: envTokens, http: { retry: { baseMs: 20, capMs: 200 }, timeoutMs: 5_000 } }),
    store: new MemorySyncStateStore(),
    logger: createLogger({ level: "silent" }),
    watchWaitMs: 5_000,
  });
  t.teardown(() => next.stop());
  f.sim.log.clear();
  f.sim.control.addFault({ target: "nomad:qa", method: "GET", path: "/v1/jobs", kind: "latency", latencyMs: 1_500, count: 1 });
  await next.lead();
  t.is(await next.acceptSnapshot(await f.source.snapshot()), "accepted");
  await eventually(() => next.statuses().filter((s) => s.key.startsWith("qa/")).length >= 2 && next.statuses().every((s) => s.conditions[0]?.status === "True"), { timeoutMs: 30_000 });
  const writes = f.sim.log.find({ server: "nomad:qa", method: "PUT" }).filter((e) => e.path === "/v1/jobs");
  t.deepEqual(writes, [], "every job already runs as desired: no register, and none refused for a missing EnforceIndex");
});

// The deployments-list watch against sim's Nomad: one blocking query per
// environment, the latest deployment per job, only the changed jobs reported.
import test from "ava";
import { startNomadHarness } from "../../sim/nomad/harness.js";
import type { EnvironmentSpec } from "../../src/model/types.js";
import { NomadClients, envTokens } from "../../src/reconciler/sync/clients.js";
import type { NomadDeploymentStub } from "../../src/sources/nomad.js";
import { NomadDeploymentsWatch, changedJobs, latestByJob, type LatestDeployment } from "../../src/sources/nomad-deployments.js";
import { eventually } from "../helpers/eventually.js";

function stub(job: string, createIndex: number, status: string, extra: Partial<NomadDeploymentStub> = {}): NomadDeploymentStub {
  return { ID: `d-${job}-${createIndex}`, JobID: job, JobVersion: createIndex, Status: status, StatusDescription: "", CreateIndex: createIndex, ModifyIndex: createIndex, ...extra };
}

const latestRows: Array<{ name: string; list: NomadDeploymentStub[]; want: Record<string, string> }> = [
  { name: "the_highest_create_index_wins_whatever_the_order", list: [stub("web", 30, "running"), stub("web", 10, "successful"), stub("web", 20, "failed")], want: { web: "d-web-30" } },
  { name: "each_job_keeps_its_own_latest", list: [stub("web", 10, "successful"), stub("api", 12, "failed"), stub("api", 40, "running")], want: { web: "d-web-10", api: "d-api-40" } },
  { name: "an_empty_list_has_no_job", list: [], want: {} },
];
for (const row of latestRows) {
  test(`latest_by_job: ${row.name}`, (t) => {
    t.deepEqual(Object.fromEntries([...latestByJob(row.list)].map(([job, d]) => [job, d.id])), row.want);
  });
}

const d = (id: string, status: string, description = ""): LatestDeployment => ({ id, jobVersion: 0, status, description, createIndex: 1 });
const changedRows: Array<{ name: string; before: Array<[string, LatestDeployment]>; after: Array<[string, LatestDeployment]>; want: string[] }> = [
  { name: "same_deployment_same_status_is_not_a_change", before: [["web", d("1", "running")]], after: [["web", d("1", "running")]], want: [] },
  { name: "a_status_change_is_a_change", before: [["web", d("1", "running")]], after: [["web", d("1", "successful")]], want: ["web"] },
  { name: "a_new_description_is_a_change", before: [["web", d("1", "failed")]], after: [["web", d("1", "failed", "Failed due to progress deadline")]], want: ["web"] },
  { name: "a_newer_deployment_is_a_change", before: [["web", d("1", "successful")]], after: [["web", d("2", "successful")]], want: ["web"] },
  { name: "a_job_that_appears_or_leaves_is_a_change", before: [["old", d("1", "successful")]], after: [["new", d("2", "running")]], want: ["new", "old"] },
];
for (const row of changedRows) {
  test(`changed_jobs: ${row.name}`, (t) => {
    t.deepEqual(changedJobs(new Map(row.before), new Map(row.after)).sort(), row.want);
  });
}

function serviceJob(id: string, image: string): Record<string, unknown> {
  return {
    ID: id,
    Update: { MaxParallel: 1, MinHealthyTime: 0 },
    TaskGroups: [{ Name: "web", Count: 1, Tasks: [{ Name: "web", Driver: "docker", Config: { image }, Resources: { CPU: 50, MemoryMB: 32 } }] }],
  };
}

test("the_watch_wakes_on_a_new_deployment_and_follows_it_to_successful", async (t) => {
  const nomad = await startNomadHarness({ nodes: 2, healthyAfterMs: 300 });
  t.teardown(() => nomad.close());
  await nomad.ready();
  const env: EnvironmentSpec = { name: "qa", nomad: { address: nomad.url, region: "global", namespace: "default", token: { kind: "none" } } };
  const clients = new NomadClients({ tokens: envTokens, http: { retry: { attempts: 1 } } });
  const calls: Array<{ env: string; jobs: string[] }> = [];
  const watch = new NomadDeploymentsWatch({ reader: (e) => clients.get(e).reader, onChange: (e, jobs) => calls.push({ env: e, jobs: [...jobs].sort() }), waitMs: 5_000, minIntervalMs: 10 });
  t.teardown(() => watch.stop());
  watch.ensure([env]);
  await eventually(() => watch.synced("qa"));
  t.deepEqual(calls, [], "an empty namespace: nothing to report");
  t.is(watch.latestOf("qa", "web"), undefined);

  t.is((await nomad.call("PUT", "/v1/jobs", { body: { Job: serviceJob("web", "x@sha256:aaaa") } })).status, 200);
  await eventually(() => watch.latestOf("qa", "web")?.status === "successful", { timeoutMs: 10_000 });
  t.true(calls.every((c) => c.env === "qa" && c.jobs.join() === "web"), "only the job whose deployment changed is reported");
  t.is(watch.latestOf("qa", "web")?.description, "Deployment completed successfully");
  const first = watch.latestOf("qa", "web")?.id;

  // A second version: a newer deployment replaces the first as the job's latest.
  t.is((await nomad.call("PUT", "/v1/jobs", { body: { Job: serviceJob("web", "x@sha256:bbbb") } })).status, 200);
  await eventually(() => watch.latestOf("qa", "web")?.id !== first && watch.latestOf("qa", "web")?.status === "successful", { timeoutMs: 10_000 });
  t.is(watch.latestOf("qa", "web")?.jobVersion, 1);
});

test("an_environment_that_leaves_the_desired_state_is_forgotten_and_its_jobs_reported", async (t) => {
  const nomad = await startNomadHarness({ nodes: 1, healthyAfterMs: 200 });
  t.teardown(() => nomad.close());
  await nomad.ready();
  const env: EnvironmentSpec = { name: "qa", nomad: { address: nomad.url, region: "global", namespace: "default", token: { kind: "none" } } };
  t.is((await nomad.call("PUT", "/v1/jobs", { body: { Job: serviceJob("api", "x@sha256:cccc") } })).status, 200);
  const clients = new NomadClients({ tokens: envTokens, http: { retry: { attempts: 1 } } });
  const reported: string[] = [];
  const watch = new NomadDeploymentsWatch({ reader: (e) => clients.get(e).reader, onChange: (e, jobs) => reported.push(...jobs.map((j) => `${e}/${j}`)), waitMs: 5_000, minIntervalMs: 10 });
  t.teardown(() => watch.stop());
  watch.ensure([env]);
  await eventually(() => watch.latestOf("qa", "api") !== undefined);
  reported.length = 0;
  watch.ensure([]);
  t.false(watch.synced("qa"));
  t.is(watch.latestOf("qa", "api"), undefined);
  t.deepEqual(reported, ["qa/api"], "the cells of the jobs it knew are told to drop their deployment");
});

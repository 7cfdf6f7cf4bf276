import test from "ava";
import type { DesiredState } from "../../../src/model/types.js";
import type { NomadJobStub } from "../../../src/sources/nomad.js";
import type { RenderedRevision } from "../../../src/reconciler/sync/intake.js";
import { SyncCache, observeSync, sameSyncInputs, syncInputs, type SyncKey } from "../../../src/reconciler/sync/observe.js";
import { META, MANAGED_BY_VALUE, planSync, type DesiredJob } from "../../../src/reconciler/sync/plan.js";
import { NOW, aDesiredJob, aPolicy } from "../../helpers/builders.js";

const WEB: SyncKey = { env: "qa", jobId: "web" };
const OLD: SyncKey = { env: "qa", jobId: "old" };

function aStub(id: string, over: Partial<NomadJobStub> = {}, meta: Record<string, string> = {}): NomadJobStub {
  return {
    ID: id,
    Name: id,
    Type: "service",
    Status: "running",
    Stop: false,
    Version: 1,
    JobModifyIndex: 10,
    ModifyIndex: 10,
    Meta: { [META.managedBy]: MANAGED_BY_VALUE, [META.specHash]: "hash-1", ...meta },
    ...over,
  };
}

function aRevision(jobs: DesiredJob[], defaults = aPolicy({ prune: true, pruneGracePeriodMs: 0, maxPruneShare: 1 })): RenderedRevision {
  const state = { revision: "rev-1", origin: "test", environments: [], syncDefaults: defaults, services: [], pools: [] } as unknown as DesiredState;
  return { state, jobs: new Map([["qa", new Map(jobs.map((j) => [String(j.spec.ID), j]))]]) };
}

/**
 * A converged cache: `web` desired and running as Steward registered it;
 * `old` left the desired state, still running, already past its grace period.
 */
function aCache(): SyncCache {
  const cache = new SyncCache();
  cache.revision = aRevision([aDesiredJob()]);
  cache.actual.set("qa", new Map([["web", aStub("web")], ["old", aStub("old")], ["other", aStub("other", { JobModifyIndex: 3 })]]));
  cache.applied.set("qa/web", { jobModifyIndex: 10, specHash: "hash-1" });
  cache.absentSince.set("qa/old", NOW - 60_000);
  return cache;
}

const setStub = (c: SyncCache, id: string, over: Partial<NomadJobStub>, meta: Record<string, string> = {}): void => {
  const env = c.actual.get("qa") as Map<string, NomadJobStub>;
  env.set(id, aStub(id, over, meta));
  c.touch("qa");
};

/** Each change that could change the key's plan must make a resync look at it again. */
const unSkipRows: Array<{ rule: string; key: SyncKey; change: (c: SyncCache) => void }> = [
  { rule: "the_desired_spec_hash_changed", key: WEB, change: (c) => (c.revision = aRevision([aDesiredJob({ specHash: "hash-2" })])) },
  { rule: "the_image_became_pending", key: WEB, change: (c) => (c.revision = aRevision([aDesiredJob({ imagePending: true })])) },
  { rule: "the_sync_policy_changed", key: WEB, change: (c) => (c.revision = aRevision([aDesiredJob({ policy: aPolicy({ drift: "report" }) })])) },
  { rule: "the_job_left_the_desired_state", key: WEB, change: (c) => (c.revision = aRevision([])) },
  { rule: "the_job_modify_index_moved_in_nomad", key: WEB, change: (c) => setStub(c, "web", { JobModifyIndex: 11 }) },
  { rule: "the_job_was_stopped_in_nomad", key: WEB, change: (c) => setStub(c, "web", { Stop: true }) },
  { rule: "the_job_vanished_from_nomad", key: WEB, change: (c) => c.actual.get("qa")?.delete("web") },
  { rule: "the_running_spec_hash_meta_changed", key: WEB, change: (c) => setStub(c, "web", {}, { [META.specHash]: "hash-x" }) },
  { rule: "the_applied_record_changed", key: WEB, change: (c) => c.applied.set("qa/web", { jobModifyIndex: 9, specHash: "hash-1" }) },
  { rule: "a_drift_comparison_was_recorded", key: WEB, change: (c) => c.drift.set("qa/web", { atIndex: 10, drifted: true, fields: ["image"] }) },
  { rule: "pause_all_switched_on", key: WEB, change: (c) => (c.paused = { all: true, services: new Set() }) },
  { rule: "the_service_was_paused", key: WEB, change: (c) => (c.paused = { all: false, services: new Set(["web"]) }) },
  { rule: "the_environment_left_the_revision", key: WEB, change: () => undefined },
  { rule: "the_environment_was_frozen", key: WEB, change: (c) => (c.frozen = new Map([["qa", { by: "ana" }]])) },
  { rule: "absent_job_its_environment_was_frozen", key: OLD, change: (c) => (c.frozen = new Map([["qa", { by: "ana" }]])) },
  { rule: "absent_job_prune_override_switched_on", key: OLD, change: (c) => c.pruneOverride.add("qa") },
  { rule: "absent_job_another_managed_job_appeared", key: OLD, change: (c) => setStub(c, "new", {}) },
  { rule: "absent_job_steward_yaml_prune_default_changed", key: OLD, change: (c) => (c.revision = aRevision([aDesiredJob()], aPolicy({ prune: false }))) },
  { rule: "absent_job_its_last_policy_changed", key: OLD, change: (c) => c.lastPolicy.set("qa/old", aPolicy({ prune: false })) },
  { rule: "absent_job_first_seen_absent_again", key: OLD, change: (c) => c.absentSince.set("qa/old", NOW) },
];

for (const row of unSkipRows) {
  test(`un_skip: ${row.rule}`, (t) => {
    const cache = aCache();
    const before = syncInputs(cache, row.key, true);
    row.change(cache);
    const after = syncInputs(cache, row.key, row.rule !== "the_environment_left_the_revision");
    t.false(sameSyncInputs(before, after));
  });
}

/** Changes that cannot change the key's plan must leave it skipped: else a resync would re-plan every key after any event. */
const stillSkippedRows: Array<{ rule: string; key: SyncKey; given?: (c: SyncCache) => void; change: (c: SyncCache) => void }> = [
  { rule: "a_new_jobs_list_with_the_same_stubs", key: WEB, change: (c) => c.actual.set("qa", new Map([...(c.actual.get("qa") ?? [])].map(([id, s]) => [id, { ...s, Meta: { ...s.Meta } }]))) },
  { rule: "a_new_revision_that_left_the_job_as_it_was", key: WEB, change: (c) => (c.revision = aRevision([aDesiredJob({ spec: { ID: "web", Meta: { [META.service]: "web" } } })])) },
  { rule: "another_job_moved_in_nomad", key: WEB, change: (c) => setStub(c, "other", { JobModifyIndex: 12 }) },
  { rule: "another_managed_job_appeared_for_a_desired_key", key: WEB, change: (c) => setStub(c, "new", {}) },
  { rule: "the_prune_override_of_a_desired_key", key: WEB, change: (c) => c.pruneOverride.add("qa") },
  { rule: "another_service_was_paused", key: WEB, change: (c) => (c.paused = { all: false, services: new Set(["api"]) }) },
  { rule: "another_environment_was_frozen", key: WEB, change: (c) => (c.frozen = new Map([["prod", { by: "ana" }]])) },
  {
    rule: "the_same_freeze_read_again",
    key: WEB,
    given: (c) => (c.frozen = new Map([["qa", { by: "ana", reason: "release" }]])),
    change: (c) => (c.frozen = new Map([["qa", { by: "ana", reason: "release" }]])),
  },
];

for (const row of stillSkippedRows) {
  test(`still_skipped: ${row.rule}`, (t) => {
    const cache = aCache();
    row.given?.(cache);
    const before = syncInputs(cache, row.key, true);
    const planBefore = planSync(observeSync(cache, row.key).snapshot, NOW);
    row.change(cache);
    t.true(sameSyncInputs(before, syncInputs(cache, row.key, true)));
    t.deepEqual(planSync(observeSync(cache, row.key).snapshot, NOW), planBefore, "and the plan is indeed the same");
  });
}

import test from "ava";
import type { KeyStatus } from "../../src/reconciler/core/status.js";
import type { NomadJobStub } from "../../src/sources/nomad.js";
import { syncCellOf, syncEventsOf, type SyncCellInput } from "../../src/server/sync-view.js";
import type { SyncCell } from "../../src/server/live-types.js";
import { aDesiredJob } from "../helpers/builders.js";

const D1 = `sha256:${"a".repeat(64)}`;
const D2 = `sha256:${"b".repeat(64)}`;
const AT = "2026-11-25T12:00:00.000Z";

function desired(hash = "h1", digest = D1): ReturnType<typeof aDesiredJob> {
  return aDesiredJob({ specHash: hash, spec: { ID: "web", TaskGroups: [{ Name: "web", Tasks: [{ Name: "web", Config: { image: `r/web@${digest}` } }] }] } });
}

function stub(over: Partial<NomadJobStub> & { hash?: string } = {}): NomadJobStub {
  const { hash = "h1", ...rest } = over;
  return { ID: "web", Name: "web", Type: "service", Status: "running", Stop: false, Version: 1, JobModifyIndex: 10, ModifyIndex: 10, Meta: { "steward.managed-by": "steward", "steward.spec-hash": hash, "steward.service": "web", "steward.revision": "rev-1" }, ...rest };
}

function status(reason: string, ready: "True" | "False" | "Unknown" = "True", result = "unchanged"): KeyStatus {
  return {
    key: "qa/web",
    conditions: [{ type: "Ready", status: ready, reason: ready === "True" ? "Succeeded" : "TransientFailure", message: ready === "True" ? "ok" : "nomad down", lastTransitionTime: AT }],
    lastAction: { kind: reason === "InSync" || reason === "DriftReported" || reason === "Paused" ? "noop" : "register", reason, result: result as "unchanged", message: `because ${reason}`, at: AT },
    lastReconcileTime: AT,
    failures: 0,
    ...(ready === "False" ? { lastError: { kind: "transient" as const, message: "nomad down", context: {}, at: AT } } : {}),
  };
}

const base = (over: Partial<SyncCellInput>): SyncCellInput => ({ env: "qa", job: "web", paused: false, ...over });

const rows: Array<{ name: string; input: SyncCellInput; state: SyncCell["state"] | undefined; digest?: string; reason?: string }> = [
  { name: "matching_hash_on_a_standby_is_in_sync", input: base({ desired: desired(), stub: stub() }), state: "in_sync", digest: D1 },
  { name: "leader_in_sync_shows_its_reason", input: base({ desired: desired(), stub: stub(), status: status("InSync") }), state: "in_sync", reason: "InSync" },
  { name: "new_revision_not_applied_yet_is_out_of_sync_whatever_the_last_pass_said", input: base({ desired: desired("h2", D2), stub: stub(), status: status("InSync") }), state: "out_of_sync", reason: "SpecChanged" },
  { name: "missing_job_is_out_of_sync", input: base({ desired: desired() }), state: "out_of_sync", reason: "JobMissing" },
  { name: "stopped_job_is_out_of_sync", input: base({ desired: desired(), stub: stub({ Stop: true }) }), state: "out_of_sync", reason: "JobMissing" },
  { name: "paused_wins_over_everything", input: base({ desired: desired("h2"), stub: stub(), paused: true }), state: "paused", reason: "Paused" },
  { name: "frozen_environment_shows_frozen_whatever_is_held", input: base({ desired: desired("h2"), stub: stub(), status: status("Frozen"), frozen: { by: "ana", reason: "release night" } }), state: "frozen", reason: "Frozen" },
  { name: "failed_pass_is_error", input: base({ desired: desired(), stub: stub(), status: status("InSync", "False") }), state: "error" },
  { name: "drift_reported_is_drifted", input: base({ desired: desired(), stub: stub(), status: status("DriftReported") }), state: "drifted", reason: "DriftReported" },
  {
    name: "drift_found_at_the_current_index_is_drifted_before_the_heal",
    input: base({ desired: desired(), stub: stub({ JobModifyIndex: 12 }), appliedIndex: 10, drift: { atIndex: 12, drifted: true, fields: ["Config.image"] }, status: status("InSync") }),
    state: "drifted",
    reason: "DriftDetected",
  },
  {
    name: "drift_found_at_an_older_index_is_not_shown",
    input: base({ desired: desired(), stub: stub({ JobModifyIndex: 14 }), appliedIndex: 14, drift: { atIndex: 12, drifted: true, fields: ["Config.image"] }, status: status("DriftHealed", "True", "changed") }),
    state: "in_sync",
  },
  { name: "managed_job_no_longer_desired_is_out_of_sync", input: base({ stub: stub() }), state: "out_of_sync" },
  { name: "unmanaged_job_not_desired_has_no_cell", input: base({ stub: stub({ Meta: {} }) }), state: undefined },
  { name: "neither_desired_nor_running_has_no_cell", input: base({}), state: undefined },
];

for (const row of rows) {
  test(`cell: ${row.name}`, (t) => {
    const cell = syncCellOf(row.input);
    t.is(cell?.state, row.state);
    if (row.digest) t.is(cell?.digest, row.digest);
    if (row.reason) t.is(cell?.reason, row.reason);
  });
}

test("cell: a_spec_not_applied_yet_shows_both_digests", (t) => {
  const cell = syncCellOf(base({ desired: desired("h2", D2), stub: stub() }));
  t.is(cell?.digest, undefined, "the running digest is unknown from the stub alone");
  t.is(cell?.desiredDigest, D2);
  t.is(cell?.revision, "rev-1");
  t.is(cell?.nomadStatus, "running");
});

const dep = (status: string, description = "", id = "d1"): { latest: { id: string; jobVersion: number; status: string; description: string; createIndex: number } } => ({
  latest: { id, jobVersion: 3, status, description, createIndex: 7 },
});
const deploymentRows: Array<{ name: string; input: SyncCellInput; want: SyncCell["deployment"] }> = [
  { name: "list_not_read_yet_shows_no_deployment_field", input: base({ desired: desired(), stub: stub() }), want: undefined },
  { name: "job_without_deployment_is_none", input: base({ desired: desired(), stub: stub(), deployments: { latest: undefined } }), want: { status: "none" } },
  {
    name: "latest_deployment_with_its_description",
    input: base({ desired: desired(), stub: stub(), deployments: dep("successful", "Deployment completed successfully") }),
    want: { status: "successful", jobVersion: 3, description: "Deployment completed successfully" },
  },
  { name: "failed_deployment_is_shown_whatever_the_sync_state", input: base({ desired: desired("h2", D2), stub: stub(), deployments: dep("failed", "Failed due to unhealthy allocations") }), want: { status: "failed", jobVersion: 3, description: "Failed due to unhealthy allocations" } },
  { name: "empty_description_is_left_out", input: base({ desired: desired(), stub: stub(), deployments: dep("running") }), want: { status: "running", jobVersion: 3 } },
  { name: "job_not_in_nomad_has_no_deployment_even_if_an_old_one_is_listed", input: base({ desired: desired(), deployments: dep("successful") }), want: undefined },
  { name: "stopped_job_has_no_deployment", input: base({ desired: desired(), stub: stub({ Stop: true }), deployments: dep("cancelled") }), want: undefined },
];
for (const row of deploymentRows) {
  test(`cell deployment: ${row.name}`, (t) => {
    t.deepEqual(syncCellOf(row.input)?.deployment, row.want);
  });
}

test("events: a_changed_action_is_one_event", (t) => {
  const ev = syncEventsOf(status("InSync"), status("SpecChanged", "True", "changed"), "web");
  t.deepEqual(
    ev.map((e) => [e.kind, e.reason]),
    [["register", "SpecChanged"]],
  );
  t.is(ev[0]?.env, "qa");
  t.is(ev[0]?.service, "web");
});

test("events: an_idle_pass_is_none", (t) => {
  t.deepEqual(syncEventsOf(status("InSync"), status("InSync"), "web"), []);
});

test("events: a_new_failure_is_one_warning_and_a_repeat_is_none", (t) => {
  const failed = status("InSync", "False");
  t.deepEqual(
    syncEventsOf(status("InSync"), failed, "web").map((e) => [e.kind, e.level]),
    [["error", "warn"]],
  );
  t.deepEqual(syncEventsOf(failed, failed, "web"), []);
  t.deepEqual(
    syncEventsOf(failed, status("InSync"), "web").map((e) => e.kind),
    ["recovered"],
  );
});

test("events: drift_left_in_place_is_announced_once", (t) => {
  const drift = status("DriftReported");
  t.deepEqual(
    syncEventsOf(status("InSync"), drift, "web").map((e) => [e.kind, e.level]),
    [["drift", "warn"]],
  );
  t.deepEqual(syncEventsOf(drift, drift, "web"), []);
});

import test from "ava";
import type { GateSpec } from "../../../src/model/types.js";
import {
  JournalTransitionError,
  lastGoodDigest,
  newRecord,
  stageDigest,
  transition,
  type JournalEvent,
  type PromotionRecord,
} from "../../../src/reconciler/promotion/journal.js";
import { NOW } from "../../helpers/builders.js";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const MANUAL: GateSpec = { kind: "manual" };
type Ev = JournalEvent extends infer E ? (E extends JournalEvent ? Omit<E, "message"> : never) : never;

function after(events: Ev[], digest = D1, start = NOW): PromotionRecord {
  return events.reduce((r, e, i) => transition(r, { ...e, message: "m" }, start + i), newRecord({ service: "web", digest, stages: ["qa", "prod"] }, start - 1));
}

const enterQa: Ev = { type: "enter", stage: "qa", reason: "StageEntered" };
const deployQa: Ev = { type: "deploymentStarted", stage: "qa", jobVersion: 4 };
const succeedQa = (gates: GateSpec[] = []): Ev => ({ type: "deploymentSucceeded", stage: "qa", gates });
const passQa: Ev = { type: "stagePassed", stage: "qa" };
const enterProd: Ev = { type: "enter", stage: "prod", reason: "Promoted" };

interface Row {
  name: string;
  from: Ev[];
  event: Ev;
  /** Expected: record status, and each stage's status in order; or the refusal. */
  want: { status: PromotionRecord["status"]; stages: string[] } | "refused";
}

const rows: Row[] = [
  { name: "pending_stage_is_entered", from: [], event: enterQa, want: { status: "active", stages: ["entering", "pending"] } },
  { name: "reentering_an_entering_stage_counts_an_attempt_only", from: [enterQa], event: { ...enterQa, reason: "RegisterReissued" }, want: { status: "active", stages: ["entering", "pending"] } },
  { name: "later_stage_is_not_entered_before_previous_passed", from: [enterQa], event: enterProd, want: "refused" },
  { name: "entering_stage_starts_deploying", from: [enterQa], event: deployQa, want: { status: "active", stages: ["deploying", "pending"] } },
  { name: "pending_stage_cannot_deploy", from: [], event: deployQa, want: "refused" },
  { name: "deployment_success_opens_gates", from: [enterQa, deployQa], event: succeedQa([MANUAL]), want: { status: "active", stages: ["gating", "pending"] } },
  { name: "deployment_success_seen_directly_from_entering", from: [enterQa], event: succeedQa(), want: { status: "active", stages: ["gating", "pending"] } },
  { name: "gate_starts_while_gating", from: [enterQa, succeedQa([MANUAL])], event: { type: "gateStarted", stage: "qa", gate: 0 }, want: { status: "active", stages: ["gating", "pending"] } },
  { name: "later_gate_cannot_start_before_earlier_passed", from: [enterQa, succeedQa([MANUAL, MANUAL])], event: { type: "gateStarted", stage: "qa", gate: 1 }, want: "refused" },
  { name: "gate_passes_only_when_running", from: [enterQa, succeedQa([MANUAL])], event: { type: "gatePassed", stage: "qa", gate: 0 }, want: "refused" },
  { name: "passed_gate_cannot_restart", from: [enterQa, succeedQa([MANUAL]), { type: "gateStarted", stage: "qa", gate: 0 }, { type: "gatePassed", stage: "qa", gate: 0 }], event: { type: "gateStarted", stage: "qa", gate: 0 }, want: "refused" },
  { name: "stage_passes_when_every_gate_passed", from: [enterQa, succeedQa([MANUAL]), { type: "gateStarted", stage: "qa", gate: 0 }, { type: "gatePassed", stage: "qa", gate: 0 }], event: passQa, want: { status: "active", stages: ["passed", "pending"] } },
  { name: "stage_does_not_pass_with_a_gate_open", from: [enterQa, succeedQa([MANUAL])], event: passQa, want: "refused" },
  { name: "last_stage_passing_promotes_record", from: [enterQa, succeedQa(), passQa, enterProd, { type: "deploymentSucceeded", stage: "prod", gates: [] }], event: { type: "stagePassed", stage: "prod" }, want: { status: "promoted", stages: ["passed", "passed"] } },
  { name: "in_flight_stage_fails_the_record", from: [enterQa, deployQa], event: { type: "failed", stage: "qa", reason: "DeploymentFailed" }, want: { status: "failed", stages: ["failed", "pending"] } },
  { name: "passed_stage_cannot_fail", from: [enterQa, succeedQa(), passQa], event: { type: "failed", stage: "qa", reason: "GateFailed" }, want: "refused" },
  { name: "failed_record_is_never_entered_again", from: [enterQa, deployQa, { type: "failed", stage: "qa", reason: "DeploymentFailed" }], event: { ...enterQa, reason: "RegisterReissued" }, want: "refused" },
  { name: "failed_stage_is_rolled_back", from: [enterQa, deployQa, { type: "failed", stage: "qa", reason: "DeploymentFailed" }], event: { type: "rolledBack", stage: "qa", rollback: { via: "register", to: D2 } }, want: { status: "failed", stages: ["rolledBack", "pending"] } },
  { name: "stage_in_flight_is_not_rolled_back", from: [enterQa, deployQa], event: { type: "rolledBack", stage: "qa", rollback: { via: "none" } }, want: "refused" },
  { name: "queued_record_is_superseded", from: [enterQa, succeedQa(), passQa], event: { type: "superseded", by: D2 }, want: { status: "superseded", stages: ["passed", "pending"] } },
  { name: "record_in_flight_is_not_superseded", from: [enterQa], event: { type: "superseded", by: D2 }, want: "refused" },
  { name: "unknown_stage_is_refused", from: [], event: { type: "enter", stage: "staging", reason: "StageEntered" }, want: "refused" },
];

for (const row of rows) {
  test(row.name, (t) => {
    const from = after(row.from);
    const frozen = structuredClone(from);
    if (row.want === "refused") {
      t.throws(() => transition(from, { ...row.event, message: "m" }, NOW + 100), { instanceOf: JournalTransitionError });
    } else {
      const next = transition(from, { ...row.event, message: "m" }, NOW + 100);
      t.deepEqual({ status: next.status, stages: next.stages.map((s) => s.status) }, row.want);
      t.is(next.step?.kind, row.event.type, "the step begun last is recorded");
      t.is(next.updatedAt, NOW + 100);
    }
    t.deepEqual(from, frozen, "the input record is not changed");
  });
}

test("attempts_count_each_issue_of_a_step", (t) => {
  const r = after([enterQa, { ...enterQa, reason: "RegisterReissued" }, succeedQa([MANUAL]), { type: "gateStarted", stage: "qa", gate: 0 }]);
  t.is(r.stages[0]?.attempts, 2);
  t.is(r.stages[0]?.enteredAt, NOW, "a re-issue keeps the first entry time");
  t.is(r.stages[0]?.gates[0]?.attempts, 1);
});

test("history_is_bounded_and_keeps_the_newest", (t) => {
  let r = newRecord({ service: "web", digest: D1, stages: ["qa"] }, NOW);
  r = transition(r, { ...enterQa, message: "first" }, NOW, 3);
  for (let i = 0; i < 5; i++) r = transition(r, { type: "enter", stage: "qa", reason: "RegisterReissued", message: `again ${i}` }, NOW + i, 3);
  t.deepEqual(r.history.map((h) => h.message), ["again 2", "again 3", "again 4"]);
  t.deepEqual(r.history.map((h) => h.reason), ["RegisterReissued", "RegisterReissued", "RegisterReissued"]);
});

test("stage_digest_is_what_sync_runs_per_stage", (t) => {
  const good = after([enterQa, succeedQa(), passQa], D2, NOW - 1000);
  t.deepEqual(stageDigest([good], "qa"), { digest: D2 });
  t.is(stageDigest([good], "prod"), undefined, "no record entered prod: sync falls back to the pinned digest");

  const entering = after([enterQa]);
  t.deepEqual(stageDigest([good, entering], "qa"), { digest: D1 }, "the newest entry wins: sync registers it");
  t.deepEqual(stageDigest([good, after([enterQa, deployQa])], "qa"), { hold: true }, "while Nomad deploys, sync holds");
  const failed = after([enterQa, deployQa, { type: "failed", stage: "qa", reason: "DeploymentFailed" }]);
  t.deepEqual(stageDigest([good, failed], "qa"), { hold: true }, "until the rollback is recorded, sync holds (auto_revert is not fought)");
  const rolledBack = transition(failed, { type: "rolledBack", stage: "qa", rollback: { via: "register", to: D2 }, message: "m" }, NOW + 50);
  t.deepEqual(stageDigest([good, rolledBack], "qa"), { digest: D2 }, "after the rollback the last good digest is desired again");
  t.is(lastGoodDigest([good, rolledBack], "qa", D1), D2);
  t.is(lastGoodDigest([rolledBack], "qa", D1), undefined);
});

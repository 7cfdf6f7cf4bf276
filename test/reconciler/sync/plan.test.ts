import test from "ava";
import { planSync, type SyncSnapshot } from "../../../src/reconciler/sync/plan.js";
import { SYNC_REASONS, type SyncReason } from "../../../src/reconciler/sync/reasons.js";
import { NOW, aDesiredJob, aPolicy, aSyncSnapshot, anActualJob } from "../../helpers/builders.js";

interface Row {
  name: string;
  given: SyncSnapshot;
  want: Array<{ kind: string; reason: SyncReason; enforceIndex?: number }>;
  recheckAfterMs?: number;
  check?: (plan: ReturnType<typeof planSync>) => string | undefined;
}

const rows: Row[] = [
  {
    name: "new_job_registers_with_create_only_index",
    given: aSyncSnapshot({ desired: aDesiredJob() }),
    want: [{ kind: "register", reason: "JobMissing", enforceIndex: 0 }],
  },
  {
    name: "stopped_job_registers_again_at_its_index",
    given: aSyncSnapshot({ desired: aDesiredJob(), actual: anActualJob({ stopped: true, jobModifyIndex: 42 }) }),
    want: [{ kind: "register", reason: "JobMissing", enforceIndex: 42 }],
  },
  {
    name: "unchanged_hash_is_in_sync_without_writes",
    given: aSyncSnapshot({ desired: aDesiredJob(), actual: anActualJob(), applied: { jobModifyIndex: 10, specHash: "hash-1" } }),
    want: [{ kind: "noop", reason: "InSync" }],
  },
  {
    name: "new_revision_same_spec_is_in_sync",
    given: aSyncSnapshot({ desired: aDesiredJob(), actual: anActualJob(), revision: "rev-2" }),
    want: [{ kind: "noop", reason: "InSync" }],
  },
  {
    name: "register_stamps_the_revision_in_force_and_keeps_the_desired_job_intact",
    given: aSyncSnapshot({ desired: aDesiredJob({ specHash: "hash-2", spec: { ID: "web", Meta: { owner: "a" } } }), actual: anActualJob(), revision: "rev-2" }),
    want: [{ kind: "register", reason: "SpecChanged", enforceIndex: 10 }],
    check: (p) => {
      const a = p.actions[0];
      const meta = a?.kind === "register" ? (a.spec.Meta as Record<string, string>) : {};
      if (meta["steward.revision"] !== "rev-2" || meta.owner !== "a") return `the register must carry the revision in force and the job's own Meta, got ${JSON.stringify(meta)}`;
      return undefined;
    },
  },
  {
    name: "changed_spec_registers_with_cas",
    given: aSyncSnapshot({ desired: aDesiredJob({ specHash: "hash-2" }), actual: anActualJob({ jobModifyIndex: 17 }) }),
    want: [{ kind: "register", reason: "SpecChanged", enforceIndex: 17 }],
  },
  {
    name: "unmanaged_job_is_left_alone_by_default",
    given: aSyncSnapshot({ desired: aDesiredJob(), actual: anActualJob({ managed: false }) }),
    want: [{ kind: "noop", reason: "NotManaged" }],
  },
  {
    name: "unmanaged_job_is_adopted_when_allowed",
    given: aSyncSnapshot({ desired: aDesiredJob({ policy: aPolicy({ adopt: true }) }), actual: anActualJob({ managed: false, jobModifyIndex: 5 }) }),
    want: [{ kind: "register", reason: "Adopted", enforceIndex: 5 }],
  },
  {
    name: "drift_is_healed_under_heal",
    given: aSyncSnapshot({
      desired: aDesiredJob(),
      actual: anActualJob({ jobModifyIndex: 12 }),
      applied: { jobModifyIndex: 10, specHash: "hash-1" },
      drift: { atIndex: 12, drifted: true, fields: ["TaskGroups[web].Tasks[web].Config.image"] },
    }),
    want: [{ kind: "register", reason: "DriftHealed", enforceIndex: 12 }],
    check: (p) => (p.actions[0]?.message.includes("Config.image") ? undefined : "the message must name the drifted field"),
  },
  {
    name: "drift_is_only_reported_under_report",
    given: aSyncSnapshot({
      desired: aDesiredJob({ policy: aPolicy({ drift: "report" }) }),
      actual: anActualJob({ jobModifyIndex: 12 }),
      applied: { jobModifyIndex: 10, specHash: "hash-1" },
      drift: { atIndex: 12, drifted: true, fields: ["Meta.owner"] },
    }),
    want: [{ kind: "noop", reason: "DriftReported" }],
  },
  {
    name: "outside_change_without_difference_is_in_sync",
    given: aSyncSnapshot({
      desired: aDesiredJob(),
      actual: anActualJob({ jobModifyIndex: 12 }),
      applied: { jobModifyIndex: 10, specHash: "hash-1" },
      drift: { atIndex: 12, drifted: false, fields: [] },
    }),
    want: [{ kind: "noop", reason: "InSync" }],
  },
  {
    name: "stale_drift_check_is_not_acted_on",
    given: aSyncSnapshot({
      desired: aDesiredJob(),
      actual: anActualJob({ jobModifyIndex: 14 }),
      applied: { jobModifyIndex: 10, specHash: "hash-1" },
      drift: { atIndex: 12, drifted: true, fields: ["Meta.owner"] },
    }),
    want: [{ kind: "noop", reason: "InSync" }],
  },
  {
    name: "autoscaled_count_left_alone_on_register",
    given: aSyncSnapshot({
      desired: aDesiredJob({ specHash: "hash-2", scaledGroups: ["web"] }),
      actual: anActualJob({ groupCounts: { web: 7 } }),
    }),
    want: [{ kind: "register", reason: "SpecChanged", enforceIndex: 10 }],
    check: (p) => {
      const a = p.actions[0];
      const groups = a?.kind === "register" ? (a.spec.TaskGroups as Array<{ Count: number }>) : [];
      return groups[0]?.Count === 7 ? undefined : `scaled group count must stay 7, got ${groups[0]?.Count}`;
    },
  },
  {
    name: "paused_does_nothing",
    given: aSyncSnapshot({ desired: aDesiredJob({ specHash: "hash-2" }), actual: anActualJob(), paused: true }),
    want: [{ kind: "noop", reason: "Paused" }],
  },
  {
    name: "frozen_env_registers_nothing_and_names_who_froze_it",
    given: aSyncSnapshot({ desired: aDesiredJob({ specHash: "hash-2" }), actual: anActualJob(), frozen: { by: "ana", reason: "release night", at: "2026-11-25T20:00:00.000Z" } }),
    want: [{ kind: "noop", reason: "Frozen" }],
    check: (p) => {
      const m = p.actions[0]?.message ?? "";
      return /qa is frozen by ana \(release night\) since 2026-11-25T20:00:00.000Z/.test(m) && /held: register \(SpecChanged\)/.test(m) ? undefined : `message must name who, why and what is held: ${m}`;
    },
  },
  {
    name: "frozen_env_creates_no_missing_job",
    given: aSyncSnapshot({ desired: aDesiredJob(), frozen: { by: "ana" } }),
    want: [{ kind: "noop", reason: "Frozen" }],
    check: (p) => (/held: register \(JobMissing\)/.test(p.actions[0]?.message ?? "") ? undefined : "the held register is named"),
  },
  {
    name: "frozen_env_prunes_nothing",
    given: aSyncSnapshot({ actual: anActualJob({ prune: true }), prune: { absentSince: NOW - 900_000, managedInEnv: 10, candidatesInEnv: 1, override: false }, frozen: { reason: "incident" } }),
    want: [{ kind: "noop", reason: "Frozen" }],
    check: (p) => (/held: stop \(Pruned\)/.test(p.actions[0]?.message ?? "") ? undefined : "the held prune is named"),
  },
  {
    name: "frozen_env_in_sync_says_nothing_is_held",
    given: aSyncSnapshot({ desired: aDesiredJob(), actual: anActualJob(), frozen: {} }),
    want: [{ kind: "noop", reason: "Frozen" }],
    check: (p) => (/nothing held \(InSync\)/.test(p.actions[0]?.message ?? "") ? undefined : p.actions[0]?.message),
  },
  {
    name: "job_without_known_image_is_held_not_pruned",
    given: aSyncSnapshot({ desired: aDesiredJob({ imagePending: true }), actual: anActualJob({ hash: "old" }) }),
    want: [{ kind: "noop", reason: "AwaitingImage" }],
  },
  {
    name: "absent_and_not_running_is_nothing",
    given: aSyncSnapshot({}),
    want: [{ kind: "noop", reason: "AlreadyAbsent" }],
  },
  {
    name: "removed_service_unmanaged_job_never_pruned",
    given: aSyncSnapshot({ actual: anActualJob({ managed: false }), defaults: aPolicy({ prune: true }), prune: { absentSince: NOW - 3_600_000, managedInEnv: 10, candidatesInEnv: 1, override: false } }),
    want: [{ kind: "noop", reason: "NotManaged" }],
  },
  {
    name: "removed_service_prune_off_is_reported",
    given: aSyncSnapshot({ actual: anActualJob(), prune: { absentSince: NOW - 3_600_000, managedInEnv: 10, candidatesInEnv: 1, override: false } }),
    want: [{ kind: "noop", reason: "PruneDisabled" }],
  },
  {
    name: "removed_service_waits_grace_period",
    given: aSyncSnapshot({ actual: anActualJob({ prune: true }), prune: { absentSince: NOW - 60_000, managedInEnv: 10, candidatesInEnv: 1, override: false } }),
    want: [{ kind: "noop", reason: "PruneGracePeriod" }],
    recheckAfterMs: 240_000,
  },
  {
    name: "removed_service_pruned_after_grace",
    given: aSyncSnapshot({ actual: anActualJob({ prune: true, jobModifyIndex: 33 }), prune: { absentSince: NOW - 300_000, managedInEnv: 10, candidatesInEnv: 1, override: false } }),
    want: [{ kind: "stop", reason: "Pruned", enforceIndex: 33 }],
  },
  {
    name: "recorded_prune_flag_wins_over_defaults",
    given: aSyncSnapshot({ actual: anActualJob({ prune: false }), defaults: aPolicy({ prune: true }), prune: { absentSince: NOW - 900_000, managedInEnv: 10, candidatesInEnv: 1, override: false } }),
    want: [{ kind: "noop", reason: "PruneDisabled" }],
  },
  {
    name: "latest_policy_wins_over_the_flag_recorded_at_registration",
    given: aSyncSnapshot({ actual: anActualJob({ prune: false }), lastPolicy: aPolicy({ prune: true }), prune: { absentSince: NOW - 900_000, managedInEnv: 10, candidatesInEnv: 1, override: false } }),
    want: [{ kind: "stop", reason: "Pruned" }],
  },
  {
    name: "prune_guard_trips_above_share",
    given: aSyncSnapshot({ actual: anActualJob({ prune: true }), prune: { absentSince: NOW - 900_000, managedInEnv: 10, candidatesInEnv: 3, override: false } }),
    want: [{ kind: "noop", reason: "PruneGuardTripped" }],
  },
  {
    name: "prune_guard_override_lets_prune_through",
    given: aSyncSnapshot({ actual: anActualJob({ prune: true }), prune: { absentSince: NOW - 900_000, managedInEnv: 10, candidatesInEnv: 9, override: true } }),
    want: [{ kind: "stop", reason: "Pruned" }],
  },
  {
    name: "prune_share_at_limit_is_allowed",
    given: aSyncSnapshot({ actual: anActualJob({ prune: true }), prune: { absentSince: NOW - 900_000, managedInEnv: 8, candidatesInEnv: 2, override: false } }),
    want: [{ kind: "stop", reason: "Pruned" }],
  },
];

for (const row of rows) {
  test(row.name, (t) => {
    const plan = planSync(row.given, NOW);
    t.deepEqual(
      plan.actions.map((a) => ({ kind: a.kind, reason: a.reason, ...("enforceIndex" in a && row.want[0]?.enforceIndex !== undefined ? { enforceIndex: a.enforceIndex } : {}) })),
      row.want,
    );
    for (const a of plan.actions) t.true(a.message.length > 0, "every action says why");
    if (row.recheckAfterMs !== undefined) t.is(plan.recheckAfterMs, row.recheckAfterMs);
    const problem = row.check?.(plan);
    t.is(problem, undefined);
  });
}

test("every_reason_is_covered_by_a_row", (t) => {
  const covered = new Set(rows.flatMap((r) => r.want.map((w) => w.reason)));
  const missing = (Object.keys(SYNC_REASONS) as SyncReason[]).filter((r) => !covered.has(r));
  t.deepEqual(missing, []);
});

test("plan_is_deterministic", (t) => {
  for (const row of rows) t.deepEqual(planSync(row.given, NOW), planSync(structuredClone(row.given), NOW));
});

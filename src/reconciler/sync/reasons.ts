/**
 * Why the sync planner chose an action, as a closed set of codes. Every
 * action, including "nothing", carries one, so `steward plan` and the status
 * can say why a job was or was not touched.
 */
export const SYNC_REASONS = {
  // register
  JobMissing: "the job is in the desired state but not running in Nomad",
  SpecChanged: "the job file or its variables changed since Steward last registered it",
  DriftHealed: "the job was changed in Nomad behind Steward's back; the desired spec is registered again",
  Adopted: "a job of this ID that Steward did not create is taken over (sync.adopt)",
  // stop
  Pruned: "the job's service left the desired state; the job is stopped",
  // noop
  InSync: "the job in Nomad matches the desired state",
  DriftReported: "the job was changed in Nomad behind Steward's back; sync.drift is report, so it is left as it is",
  NotManaged: "a job of this ID exists but Steward did not create it; it is left alone",
  PruneDisabled: "the job's service left the desired state, but prune is off",
  PruneGracePeriod: "the job's service left the desired state; the prune grace period has not passed yet",
  PruneGuardTripped: "pruning would stop more than the allowed share of this environment's managed jobs; nothing is pruned",
  AlreadyAbsent: "the job is neither desired nor running",
  Paused: "sync is paused for this job",
  Frozen: "the environment is frozen: Steward registers and stops nothing there until it is unfrozen",
  AwaitingImage: "no image digest is known for this environment yet (none pinned in service.yaml, none promoted); the job is held",
} as const;

export type SyncReason = keyof typeof SYNC_REASONS;

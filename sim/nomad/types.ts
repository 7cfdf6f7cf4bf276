/**
 * The shapes the emulated Nomad server stores and serves. Jobs are kept as the
 * JSON the real server would return (structs.Job after Canonicalize); the
 * typed fields below are the ones the scheduler reads. Stored job objects are
 * never mutated after they are published: a change makes a shallow copy, so
 * allocations and versions can share them without cloning.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [k: string]: JsonValue;
}
/** Meta, Env, Attributes. */
export type StringMap = { [k: string]: string };

/** structs.Constraint. */
export interface Constraint extends JsonObject {
  LTarget: string;
  RTarget: string;
  Operand: string;
}

/** structs.UpdateStrategy (durations in ns). */
export interface UpdateStrategy extends JsonObject {
  Stagger: number;
  MaxParallel: number;
  HealthCheck: string;
  MinHealthyTime: number;
  HealthyDeadline: number;
  ProgressDeadline: number;
  AutoRevert: boolean;
  AutoPromote: boolean;
  Canary: number;
}

/** structs.ReschedulePolicy (durations in ns). */
export interface ReschedulePolicy extends JsonObject {
  Attempts: number;
  Interval: number;
  Delay: number;
  DelayFunction: string;
  MaxDelay: number;
  Unlimited: boolean;
}

/** structs.MigrateStrategy. */
export interface MigrateStrategy extends JsonObject {
  MaxParallel: number;
  HealthCheck: string;
  MinHealthyTime: number;
  HealthyDeadline: number;
}

/** structs.Port. */
export interface Port extends JsonObject {
  Label: string;
  Value: number;
  To: number;
  HostNetwork: string;
}

/** structs.NetworkResource. */
export interface NetworkResource extends JsonObject {
  Mode: string;
  Device: string;
  CIDR: string;
  IP: string;
  MBits: number;
  ReservedPorts: Port[] | null;
  DynamicPorts: Port[] | null;
}

/** structs.Resources of a task. */
export interface Resources extends JsonObject {
  CPU: number;
  Cores: number;
  MemoryMB: number;
  MemoryMaxMB: number;
  DiskMB: number;
  IOPS: number;
  Networks: NetworkResource[] | null;
  Devices: JsonValue;
}

/** structs.Task (the fields the scheduler reads). */
export interface Task extends JsonObject {
  Name: string;
  Driver: string;
  User: string;
  Config: JsonObject | null;
  Env: StringMap | null;
  Meta: StringMap | null;
  Constraints: Constraint[] | null;
  Resources: Resources;
  KillTimeout: number;
  Leader: boolean;
}

/** structs.DisconnectStrategy. */
export interface DisconnectStrategy extends JsonObject {
  LostAfter: number;
  Replace: boolean | null;
  Reconcile: string;
  StopOnClientAfter: number | null;
}

/** structs.TaskGroup (the fields the scheduler reads). */
export interface TaskGroup extends JsonObject {
  Name: string;
  Count: number;
  Constraints: Constraint[] | null;
  Tasks: Task[];
  Update: UpdateStrategy | null;
  ReschedulePolicy: ReschedulePolicy | null;
  Migrate: MigrateStrategy | null;
  Meta: StringMap | null;
  Networks: NetworkResource[] | null;
  EphemeralDisk: JsonObject;
  Disconnect: DisconnectStrategy | null;
  MaxClientDisconnect: number | null;
}

/** structs.Job as stored and served. */
export interface Job extends JsonObject {
  Region: string;
  Namespace: string;
  ID: string;
  ParentID: string;
  Name: string;
  Type: string;
  Priority: number;
  AllAtOnce: boolean;
  Datacenters: string[];
  NodePool: string;
  Constraints: Constraint[] | null;
  TaskGroups: TaskGroup[];
  Update: UpdateStrategy;
  Periodic: JsonObject | null;
  ParameterizedJob: JsonObject | null;
  Meta: StringMap | null;
  Stop: boolean;
  Status: string;
  StatusDescription: string;
  Stable: boolean;
  Version: number;
  SubmitTime: number;
  CreateIndex: number;
  ModifyIndex: number;
  JobModifyIndex: number;
}

/** A Nomad client node as the server keeps it (the API view is built in views.ts). */
export interface NodeRec {
  ID: string;
  Name: string;
  Address: string;
  Datacenter: string;
  NodePool: string;
  NodeClass: string;
  Meta: StringMap;
  Attributes: StringMap;
  Status: "initializing" | "ready" | "down" | "disconnected";
  StatusDescription: string;
  StatusUpdatedAt: number;
  SchedulingEligibility: "eligible" | "ineligible";
  DrainStrategy: DrainStrategy | null;
  LastDrain: JsonObject | null;
  Events: JsonObject[];
  ComputedClass: string;
  CreateIndex: number;
  ModifyIndex: number;
  /** Resources the scheduler may hand out. */
  capacity: { cpu: number; memoryMB: number; diskMB: number };
}

/** structs.DrainStrategy (DrainSpec embedded, as Go flattens it). */
export interface DrainStrategy extends JsonObject {
  Deadline: number;
  IgnoreSystemJobs: boolean;
  ForceDeadline: string;
  StartedAt: string;
}

/** structs.TaskEvent (see task-events.ts for every field). */
export interface TaskEvent extends JsonObject {
  Type: string;
  Time: number;
  Message: string;
  DisplayMessage: string;
}

/** structs.TaskState. */
export interface TaskState extends JsonObject {
  State: "pending" | "running" | "dead";
  Failed: boolean;
  Restarts: number;
  /** RFC 3339; Go's zero time `0001-01-01T00:00:00Z` when unset (time.Time is never null). */
  LastRestart: string;
  StartedAt: string;
  FinishedAt: string;
  Events: TaskEvent[];
}

/** structs.AllocDeploymentStatus. */
export interface AllocDeploymentStatus extends JsonObject {
  Healthy: boolean | null;
  Timestamp: string;
  Canary: boolean;
  ModifyIndex: number;
}

/** structs.RescheduleEvent. */
export interface RescheduleEvent extends JsonObject {
  RescheduleTime: number;
  PrevAllocID: string;
  PrevNodeID: string;
  Delay: number;
}

/** One allocation. `job` is the (shared, immutable) job version it runs. */
export interface AllocRec {
  ID: string;
  Namespace: string;
  EvalID: string;
  Name: string;
  NodeID: string;
  NodeName: string;
  JobID: string;
  job: Job;
  TaskGroup: string;
  DesiredStatus: "run" | "stop" | "evict";
  DesiredDescription: string;
  DesiredTransition: { Migrate: boolean | null; Reschedule: boolean | null; ForceReschedule: boolean | null };
  ClientStatus: "pending" | "running" | "complete" | "failed" | "lost" | "unknown";
  ClientDescription: string;
  TaskStates: Record<string, TaskState>;
  DeploymentID: string;
  DeploymentStatus: AllocDeploymentStatus | null;
  PreviousAllocation: string;
  NextAllocation: string;
  FollowupEvalID: string;
  RescheduleEvents: RescheduleEvent[] | null;
  /** Group networks with the ports this allocation was given. */
  networks: NetworkResource[];
  /** Task-level (legacy) networks per task, with their ports. */
  taskNetworks: Record<string, NetworkResource[]>;
  resources: { cpu: number; memoryMB: number; diskMB: number; staticPorts: number[] };
  Metrics: JsonObject;
  CreateIndex: number;
  ModifyIndex: number;
  AllocModifyIndex: number;
  CreateTime: number;
  ModifyTime: number;
}

/** structs.Evaluation, stored as served. */
export interface EvalRec extends JsonObject {
  ID: string;
  Namespace: string;
  Priority: number;
  Type: string;
  TriggeredBy: string;
  JobID: string;
  JobModifyIndex: number;
  NodeID: string;
  NodeModifyIndex: number;
  DeploymentID: string;
  Status: "pending" | "complete" | "blocked" | "failed" | "canceled";
  StatusDescription: string;
  Wait: number;
  WaitUntil: string | null;
  NextEval: string;
  PreviousEval: string;
  BlockedEval: string;
  FailedTGAllocs: { [group: string]: JsonObject } | null;
  ClassEligibility: { [cls: string]: boolean } | null;
  EscapedComputedClass: boolean;
  AnnotatePlan: boolean;
  QueuedAllocations: { [group: string]: number } | null;
  SnapshotIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
  CreateTime: number;
  ModifyTime: number;
}

/** structs.DeploymentState of one group. */
export interface DeploymentState extends JsonObject {
  AutoRevert: boolean;
  AutoPromote: boolean;
  ProgressDeadline: number;
  RequireProgressBy: string;
  Promoted: boolean;
  PlacedCanaries: string[] | null;
  DesiredCanaries: number;
  DesiredTotal: number;
  PlacedAllocs: number;
  HealthyAllocs: number;
  UnhealthyAllocs: number;
}

/** structs.Deployment, stored as served. */
export interface DeploymentRec extends JsonObject {
  ID: string;
  Namespace: string;
  JobID: string;
  JobVersion: number;
  JobModifyIndex: number;
  JobSpecModifyIndex: number;
  JobCreateIndex: number;
  IsMultiregion: boolean;
  TaskGroups: { [group: string]: DeploymentState };
  Status: "running" | "paused" | "failed" | "successful" | "cancelled";
  StatusDescription: string;
  EvalPriority: number;
  CreateIndex: number;
  ModifyIndex: number;
  CreateTime: number;
  ModifyTime: number;
}

/** Go's zero time.Time as JSON. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Client statuses after which an allocation never runs again. */
export function clientTerminal(a: AllocRec): boolean {
  return a.ClientStatus === "complete" || a.ClientStatus === "failed" || a.ClientStatus === "lost";
}

/** Nomad's Allocation.TerminalStatus: desired stop/evict, or a terminal client status. */
export function allocTerminal(a: AllocRec): boolean {
  return a.DesiredStatus !== "run" || clientTerminal(a);
}

export function deploymentActive(d: DeploymentRec): boolean {
  return d.Status === "running" || d.Status === "paused";
}

import type { GateObservation } from "./plan.js";

/**
 * Pure helpers of the gate runners (gates.ts): what a probe's result means
 * as a GateObservation, and how a verification job is named and built.
 * No I/O; the inputs are what the sources read. Times are epoch ms.
 */

type HttpObservation = Extract<GateObservation, { kind: "http" }>;
type PrometheusObservation = Extract<GateObservation, { kind: "prometheus" }>;
type VerifyObservation = Extract<GateObservation, { kind: "verify" }>;

/** One probe's result as the http gate's observation. */
export function httpObservation(result: { status: number } | { error: string }, at: number): HttpObservation {
  return "status" in result ? { kind: "http", at, status: result.status } : { kind: "http", at, error: result.error };
}

/**
 * The prometheus gate's next observation from the previous one and a new
 * query result. `belowSince` is when the current unbroken run of values
 * below `below` began: kept while values stay below, set to `at` by the
 * first value below, dropped by a value at or above it, NaN, or an error
 * (a failed query proves nothing, so the run must start again).
 */
export function nextPrometheusObservation(
  prev: PrometheusObservation | undefined,
  result: { value: number } | { error: string },
  at: number,
  below: number,
): PrometheusObservation {
  if ("error" in result) return { kind: "prometheus", at, error: result.error };
  const isBelow = result.value < below;
  const belowSince = isBelow ? (prev?.belowSince ?? at) : undefined;
  return { kind: "prometheus", at, value: result.value, ...(belowSince !== undefined && { belowSince }) };
}

/** A job's status and stop flag, as `/v1/job/:id` gives them. */
export interface BatchJobState {
  Status?: string;
  Stop?: boolean;
}

/** The parts of an allocation the verdict reads (sources/nomad-batch.ts `NomadBatchAlloc`). */
export interface BatchAllocState {
  TaskGroup: string;
  CreateIndex: number;
  ClientStatus: string;
  TaskStates?: Record<string, { Failed: boolean; Events?: Array<{ Type: string; ExitCode?: number; Details?: Record<string, string> | null }> | null }> | null;
}

/**
 * The verify gate's observation of its batch job. Nomad's job status says
 * when it is over (`dead`: every allocation terminal and nothing more to
 * place, so a failed allocation that will be rescheduled is not the end).
 * Then the newest allocation of each task group decides: all `complete` →
 * exit code 0; else the exit code of the first failed task's last
 * `Terminated` event (absent when it has none: lost, killed, never ran).
 * A job stopped by someone is dead without an exit code.
 */
export function verifyObservation(job: BatchJobState | undefined, allocs: readonly BatchAllocState[]): VerifyObservation {
  if (!job) return { kind: "verify", status: "pending" };
  if (job.Status !== "dead") return { kind: "verify", status: job.Status === "running" ? "running" : "pending" };
  if (job.Stop) return { kind: "verify", status: "dead" };
  const newest = new Map<string, BatchAllocState>();
  for (const a of allocs) {
    const seen = newest.get(a.TaskGroup);
    if (!seen || a.CreateIndex > seen.CreateIndex) newest.set(a.TaskGroup, a);
  }
  const last = [...newest.values()];
  if (last.length === 0) return { kind: "verify", status: "dead" };
  if (last.every((a) => a.ClientStatus === "complete" && !Object.values(a.TaskStates ?? {}).some((t) => t.Failed))) {
    return { kind: "verify", status: "dead", exitCode: 0 };
  }
  for (const a of last.filter((x) => x.ClientStatus !== "complete" || Object.values(x.TaskStates ?? {}).some((t) => t.Failed))) {
    for (const t of Object.values(a.TaskStates ?? {})) {
      const code = lastExitCode(t.Events ?? []);
      if (code !== undefined && code !== 0) return { kind: "verify", status: "dead", exitCode: code };
    }
  }
  return { kind: "verify", status: "dead" };
}

function lastExitCode(events: ReadonlyArray<{ Type: string; ExitCode?: number; Details?: Record<string, string> | null }>): number | undefined {
  const e = [...events].reverse().find((x) => x.Type === "Terminated");
  if (!e) return undefined;
  const detail = e.Details?.exit_code;
  if (detail !== undefined && /^-?\d+$/.test(detail)) return Number(detail);
  return e.ExitCode;
}

/**
 * The verification job's ID for one digest: `<base>-<first 12 hex digits>`,
 * the same on every leader, so a restarted one finds the job it (or its
 * predecessor) registered instead of running the tests twice. A gate an
 * operator retried (`attempt` 2 and up) gets `-<attempt>` appended: the
 * failed run's job is left as it is and the tests run afresh.
 */
export function verifyJobId(base: string, digest: string, attempt = 1): string {
  return `${base}-${digest.replace(/^sha256:/, "").slice(0, 12)}${attempt > 1 ? `-${attempt}` : ""}`;
}

/** Meta key on a verification job naming the service and digest it verifies (not `steward.managed-by`: sync must not adopt or prune it). */
export const VERIFY_META_KEY = "steward.verify-for";
/** Meta key carrying the pinned image; tasks read it as `NOMAD_META_image`. */
export const VERIFY_IMAGE_META_KEY = "image";

/** Fields of a read job that belong to the server, not to the spec: dropped before the copy is registered. */
const SERVER_FIELDS = [
  "Status",
  "StatusDescription",
  "Stable",
  "Version",
  "SubmitTime",
  "CreateIndex",
  "ModifyIndex",
  "JobModifyIndex",
  "Dispatched",
  "ParentID",
  "DispatchIdempotencyToken",
];

/**
 * The job to register for one digest, from the job file as Nomad parsed it
 * (with `var.image` already set) or from a registered job read as a
 * template: ID and Name replaced by `id`, never stopped, not periodic or
 * parameterized (a template registered as parameterized never runs on its
 * own; its copy runs once), Meta `image` and `steward.verify-for` added,
 * and every task whose `config.image` is of the service's repository
 * pinned to `image`.
 * @throws Error naming the job when it is not a batch job (the loop fails the gate with it)
 */
export function buildVerifyJob(source: Record<string, unknown>, o: { id: string; image: string; service: string; digest: string; from: string }): Record<string, unknown> {
  const type = typeof source.Type === "string" ? source.Type : "service";
  if (type !== "batch") throw new Error(`verification job ${o.from} is a ${type} job; it must be a batch job (type = "batch")`);
  const job: Record<string, unknown> = { ...source };
  for (const f of SERVER_FIELDS) delete job[f];
  const meta = source.Meta !== null && typeof source.Meta === "object" ? (source.Meta as Record<string, string>) : {};
  const repository = o.image.slice(0, o.image.lastIndexOf("@"));
  return {
    ...job,
    ID: o.id,
    Name: o.id,
    Stop: false,
    Periodic: null,
    ParameterizedJob: null,
    Meta: { ...meta, [VERIFY_IMAGE_META_KEY]: o.image, [VERIFY_META_KEY]: `${o.service}@${o.digest}` },
    TaskGroups: Array.isArray(source.TaskGroups) ? source.TaskGroups.map((g: unknown) => pinGroup(g, repository, o.image)) : source.TaskGroups,
  };
}

function pinGroup(g: unknown, repository: string, image: string): unknown {
  if (g === null || typeof g !== "object") return g;
  const group = g as Record<string, unknown>;
  if (!Array.isArray(group.Tasks)) return group;
  return {
    ...group,
    Tasks: group.Tasks.map((t: unknown) => {
      if (t === null || typeof t !== "object") return t;
      const task = t as Record<string, unknown>;
      const config = task.Config !== null && typeof task.Config === "object" ? (task.Config as Record<string, unknown>) : undefined;
      const current = config?.image;
      if (typeof current !== "string" || !isOfRepository(current, repository)) return task;
      return { ...task, Config: { ...config, image } };
    }),
  };
}

/** `repo`, `repo:tag`, `repo@sha256:…` are of `repo`; `repo-other:tag` is not. */
function isOfRepository(ref: string, repository: string): boolean {
  return ref === repository || ref.startsWith(`${repository}:`) || ref.startsWith(`${repository}@`);
}

import { HttpClient, type HttpClientOptions } from "./http-client.js";
import { InvalidInputError } from "../model/errors.js";
import type { ErrorContext } from "../model/errors.js";
import type { EnvironmentSpec } from "../model/types.js";

/** One Nomad job as the jobs list shows it (`/v1/jobs?meta=true`). */
export interface NomadJobStub {
  ID: string;
  Name: string;
  Type: string;
  Status: string;
  Stop: boolean;
  Version: number;
  JobModifyIndex: number;
  ModifyIndex: number;
  Meta?: Record<string, string> | null;
}

/** The parts of a full Nomad job Steward reads. */
export interface NomadJob {
  ID: string;
  Version: number;
  Stop: boolean;
  JobModifyIndex: number;
  Meta?: Record<string, string> | null;
  TaskGroups?: Array<{ Name: string; Count: number; Scaling?: unknown }> | null;
  [k: string]: unknown;
}

/** The parts of a Nomad deployment Steward reads (`/v1/job/:id/deployments`). */
export interface NomadDeployment {
  ID: string;
  JobVersion: number;
  Status: string;
  StatusDescription?: string;
}

/** A deployment of the namespace's list (`/v1/deployments`), reduced to what the overview shows. */
export interface NomadDeploymentStub {
  ID: string;
  JobID: string;
  JobVersion: number;
  /** `running`, `successful`, `failed`, `cancelled`, `paused`, `blocked`, `pending`, … */
  Status: string;
  StatusDescription: string;
  CreateIndex: number;
  ModifyIndex: number;
}

/** The parts of an allocation stub Steward reads (`/v1/job/:id/allocations`). */
export interface NomadAllocStub {
  ID: string;
  JobVersion: number;
  ClientStatus: string;
  DesiredStatus?: string;
  DeploymentStatus?: { Healthy?: boolean | null } | null;
}

/** A plan's diff reduced to what Steward reports: the type and the paths of changed fields. */
export interface PlanDiffSummary {
  type: "Added" | "Deleted" | "Edited" | "None";
  fields: string[];
}

/** Builds the HTTP client for one environment's Nomad, token included when there is one. */
export function nomadHttpClient(env: EnvironmentSpec, token: () => string | undefined, extra: Partial<HttpClientOptions> = {}): HttpClient {
  return new HttpClient({
    target: "nomad",
    baseURL: env.nomad.address,
    headers: () => {
      const t = token();
      return t ? { "X-Nomad-Token": t } : {};
    },
    ...extra,
  });
}

/**
 * Reads one environment's Nomad: jobs list (blocking), one job, parse and
 * plan. Never writes (register and stop are in src/actuators/nomad.ts).
 */
export class NomadReader {
  constructor(
    readonly env: EnvironmentSpec,
    private readonly http: HttpClient,
  ) {}

  private get q(): Record<string, string> {
    return { namespace: this.env.nomad.namespace, region: this.env.nomad.region };
  }

  private ctx(extra: ErrorContext = {}): ErrorContext {
    return { env: this.env.name, ...extra };
  }

  /**
   * The jobs list with Meta, as a blocking query, each job reduced to the
   * fields of `NomadJobStub` (a 10,000-job list is ~6 MB; its summaries are
   * not kept).
   * @param index 0 for an immediate answer; else wait for a change past it
   * @param waitMs server-side wait of the blocking query
   * @returns `data` is absent when the answer's X-Nomad-Index equals `index`
   *   (the wait ran out with no change): Nomad still sends the whole list,
   *   but it is not read
   */
  async listJobs(index: number, waitMs: number, signal?: AbortSignal): Promise<{ index: number; data?: NomadJobStub[] }> {
    return this.readJobsList(index, index > 0 ? waitMs : undefined, signal);
  }

  /**
   * The jobs list now, without blocking (a resync's check that a watch
   * missed nothing).
   * @param knownIndex the index of the list already held (0: none)
   * @returns `data` is absent when the answer's X-Nomad-Index equals
   *   `knownIndex`: the list is not read
   */
  async listJobsNow(knownIndex: number, signal?: AbortSignal): Promise<{ index: number; data?: NomadJobStub[] }> {
    return this.readJobsList(knownIndex, undefined, signal);
  }

  /** `/v1/jobs?meta=true`, blocking on `index` when `waitMs` is given; read only when its index differs from `index`. */
  private async readJobsList(index: number, waitMs: number | undefined, signal?: AbortSignal): Promise<{ index: number; data?: NomadJobStub[] }> {
    const res = await this.http.request<string | undefined>({
      method: "GET",
      path: "/v1/jobs",
      params: { ...this.q, meta: true, ...(waitMs !== undefined ? { index, wait: `${Math.round(waitMs / 1000)}s` } : {}) },
      ...(waitMs !== undefined ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      responseType: "text",
      // An answer at the index already held (a wait that ran out, a resync's check) is the same 6 MB list again: left unread.
      ...(index > 0 ? { skipBody: (h: Record<string, string>) => Number(h["x-nomad-index"] ?? 0) === index } : {}),
      context: this.ctx(),
    });
    const answered = Number(res.headers["x-nomad-index"] ?? 0);
    if (index > 0 && answered === index) return { index: answered };
    const list = JSON.parse(res.data ?? "[]") as NomadJobStub[];
    return { index: answered, data: list.map(slimStub) };
  }

  /**
   * The namespace's deployments, as a blocking query, each reduced to the
   * fields of `NomadDeploymentStub` (Nomad sends each group's counts too).
   * @param index 0 for an immediate answer; else wait for a change past it
   * @param waitMs server-side wait of the blocking query
   * @returns `data` is absent when the answer's X-Nomad-Index equals `index`
   *   (the wait ran out with no change): the body is then not parsed
   */
  async listDeployments(index: number, waitMs: number, signal?: AbortSignal): Promise<{ index: number; data?: NomadDeploymentStub[] }> {
    const res = await this.http.request<string>({
      method: "GET",
      path: "/v1/deployments",
      params: { ...this.q, ...blocking(index, waitMs) },
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      responseType: "text",
      context: this.ctx(),
    });
    const answered = Number(res.headers["x-nomad-index"] ?? 0);
    if (index > 0 && answered === index) return { index: answered };
    const list = JSON.parse(res.data) as NomadDeploymentStub[] | null;
    return { index: answered, data: (list ?? []).map(slimDeployment) };
  }

  /** One job, or undefined when Nomad does not know it. */
  async getJob(id: string): Promise<NomadJob | undefined> {
    const res = await this.http.request<NomadJob>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(id)}`,
      params: this.q,
      okStatuses: [404],
      context: this.ctx({ nomadJob: id }),
    });
    return res.status === 404 ? undefined : res.data;
  }

  /**
   * One job as a blocking query: `data` undefined while Nomad does not know
   * it (a 404 also carries an index to block on).
   * @param index 0 for an immediate answer; else wait for a change past it
   */
  async watchJob(id: string, index: number, waitMs: number, signal?: AbortSignal): Promise<{ index: number; data: NomadJob | undefined }> {
    const res = await this.http.request<NomadJob>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(id)}`,
      params: { ...this.q, ...blocking(index, waitMs) },
      okStatuses: [404],
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      context: this.ctx({ nomadJob: id }),
    });
    return { index: Number(res.headers["x-nomad-index"] ?? 0), data: res.status === 404 ? undefined : res.data };
  }

  /** The job's deployments (newest first, as Nomad lists them), as a blocking query; empty for an unknown job. */
  async watchDeployments(id: string, index: number, waitMs: number, signal?: AbortSignal): Promise<{ index: number; data: NomadDeployment[] }> {
    const res = await this.http.request<NomadDeployment[] | null>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(id)}/deployments`,
      params: { ...this.q, ...blocking(index, waitMs) },
      okStatuses: [404],
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      context: this.ctx({ nomadJob: id }),
    });
    return { index: Number(res.headers["x-nomad-index"] ?? 0), data: res.status === 404 || !Array.isArray(res.data) ? [] : res.data };
  }

  /** The job's allocations (terminal ones included), as a blocking query; empty for an unknown job. */
  async watchAllocations(id: string, index: number, waitMs: number, signal?: AbortSignal): Promise<{ index: number; data: NomadAllocStub[] }> {
    const res = await this.http.request<NomadAllocStub[] | null>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(id)}/allocations`,
      params: { ...this.q, all: true, ...blocking(index, waitMs) },
      okStatuses: [404],
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      context: this.ctx({ nomadJob: id }),
    });
    return { index: Number(res.headers["x-nomad-index"] ?? 0), data: res.status === 404 || !Array.isArray(res.data) ? [] : res.data };
  }

  /**
   * Turns a job file into API JSON with this environment's own parser.
   * @param file the job file's path, so a parse error names it
   * @throws InvalidInputError naming the file when Nomad refuses the job file
   */
  async parseJob(hcl: string, variables: string, file: string): Promise<NomadJob> {
    try {
      const res = await this.http.request<NomadJob>({
        method: "POST",
        path: "/v1/jobs/parse",
        params: this.q,
        data: { JobHCL: hcl, Variables: variables, Canonicalize: false },
        // Parsing changes nothing, so it is safe to repeat.
        retry: true,
        context: this.ctx({ file }),
      });
      return res.data;
    } catch (err) {
      if (err instanceof InvalidInputError) {
        const text = err.message.replace(/^POST \/v1\/jobs\/parse: 400 /, "");
        throw new InvalidInputError(`Nomad (${this.env.name}) refused the job file: ${text}`, { file, env: this.env.name, ...lineOf(text) }, undefined, { cause: err });
      }
      throw err;
    }
  }

  /** Asks Nomad what registering `job` would change (the plan endpoint changes nothing). */
  async planJob(job: NomadJob): Promise<PlanDiffSummary> {
    const res = await this.http.request<{ Diff?: NomadDiff | null }>({
      method: "POST",
      path: `/v1/job/${encodeURIComponent(job.ID)}/plan`,
      params: this.q,
      data: { Job: job, Diff: true, PolicyOverride: false },
      retry: true,
      context: this.ctx({ nomadJob: job.ID }),
    });
    const diff = res.data.Diff;
    return { type: (diff?.Type as PlanDiffSummary["type"]) ?? "None", fields: diff ? changedFields(diff) : [] };
  }
}

/** Query parameters of a blocking read: none for index 0 (answer at once). */
function blocking(index: number, waitMs: number): Record<string, string | number> {
  return index > 0 ? { index, wait: `${Math.round(waitMs / 1000)}s` } : {};
}

/** A list entry with only the fields Steward reads. */
function slimStub(j: NomadJobStub): NomadJobStub {
  return {
    ID: j.ID,
    Name: j.Name,
    Type: j.Type,
    Status: j.Status,
    Stop: j.Stop,
    Version: j.Version,
    JobModifyIndex: j.JobModifyIndex,
    ModifyIndex: j.ModifyIndex,
    Meta: j.Meta ?? null,
  };
}

function slimDeployment(d: NomadDeploymentStub): NomadDeploymentStub {
  return { ID: d.ID, JobID: d.JobID, JobVersion: d.JobVersion, Status: d.Status, StatusDescription: d.StatusDescription ?? "", CreateIndex: d.CreateIndex, ModifyIndex: d.ModifyIndex };
}

interface NomadDiff {
  Type?: string;
  Name?: string;
  Fields?: Array<{ Name: string; Type: string }> | null;
  Objects?: NomadDiff[] | null;
  TaskGroups?: NomadDiff[] | null;
  Tasks?: NomadDiff[] | null;
}

/** Flattens Nomad's nested job diff into `TaskGroups[web].Tasks[web].Config.image`-style paths. */
export function changedFields(d: NomadDiff, at = ""): string[] {
  const here = (name: string): string => (at ? `${at}.${name}` : name);
  const out: string[] = [];
  for (const f of d.Fields ?? []) if (f.Type !== "None") out.push(here(f.Name));
  for (const o of d.Objects ?? []) if (o.Type !== "None") out.push(...changedFields(o, here(o.Name ?? "?")));
  for (const g of d.TaskGroups ?? []) if (g.Type !== "None") out.push(...changedFields(g, here(`TaskGroups[${g.Name ?? "?"}]`)));
  for (const t of d.Tasks ?? []) if (t.Type !== "None") out.push(...changedFields(t, here(`Tasks[${t.Name ?? "?"}]`)));
  return out;
}

/** Nomad's parse errors start with `input.hcl:LINE,COL-COL:`; the line is the user's. */
export function lineOf(text: string): { line?: number } {
  const m = /input\.hcl:(\d+),\d+/.exec(text);
  return m ? { line: Number(m[1]) } : {};
}

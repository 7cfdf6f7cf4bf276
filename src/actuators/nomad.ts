import type { HttpClient } from "../sources/http-client.js";
import type { EnvironmentSpec } from "../model/types.js";
import type { NomadJob } from "../sources/nomad.js";
import { ConflictError, TransientError } from "../reconciler/core/outcome.js";

/** What a write did. `changed: false` is a no-op reported as a value, not an error. */
export interface WriteResult {
  changed: boolean;
  jobModifyIndex: number;
  evalId?: string;
}

/**
 * Writes to one environment's Nomad. No decisions here: each method does
 * exactly what the planner's action says, guarded by check-and-set.
 */
export class NomadActuator {
  constructor(
    readonly env: EnvironmentSpec,
    private readonly http: HttpClient,
  ) {}

  private get q(): Record<string, string> {
    return { namespace: this.env.nomad.namespace, region: this.env.nomad.region };
  }

  /**
   * Registers `job` only if its JobModifyIndex is still `enforceIndex`
   * (0 = only if the job does not exist).
   * @throws ConflictError when someone else wrote the job since it was observed
   */
  async registerJob(job: NomadJob, enforceIndex: number): Promise<WriteResult> {
    const context = { env: this.env.name, nomadJob: job.ID };
    // A CAS-guarded register is safe to repeat; Nomad answers a lost CAS with a 500 and text only.
    const res = await this.http.request<{ EvalID?: string; JobModifyIndex?: number } | string>({
      method: "PUT",
      path: "/v1/jobs",
      params: this.q,
      data: { Job: job, EnforceIndex: true, JobModifyIndex: enforceIndex },
      retry: false,
      okStatuses: [500],
      context,
    });
    if (res.status === 500) {
      const text = typeof res.data === "string" ? res.data : JSON.stringify(res.data);
      if (isEnforceIndexConflict(text)) throw new ConflictError(`job ${job.ID} changed in Nomad since it was observed (${text.trim()})`, context);
      throw new TransientError(`PUT /v1/jobs: 500 ${text.trim()}`, { ...context, endpoint: "PUT /v1/jobs" });
    }
    const body = typeof res.data === "object" ? res.data : {};
    return { changed: true, jobModifyIndex: body.JobModifyIndex ?? 0, ...(body.EvalID ? { evalId: body.EvalID } : {}) };
  }

  /**
   * Stops (deregisters, without purge) a job, only if it is still at
   * `expectIndex`: Nomad's deregister has no check-and-set, so the job is read first.
   * @throws ConflictError when the job changed since it was observed
   */
  async stopJob(jobId: string, expectIndex: number): Promise<WriteResult> {
    const context = { env: this.env.name, nomadJob: jobId };
    const current = await this.http.request<NomadJob>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(jobId)}`,
      params: this.q,
      okStatuses: [404],
      context,
    });
    if (current.status === 404 || current.data.Stop) return { changed: false, jobModifyIndex: expectIndex };
    if (current.data.JobModifyIndex !== expectIndex) {
      throw new ConflictError(`job ${jobId} changed in Nomad since it was observed (index ${current.data.JobModifyIndex}, expected ${expectIndex})`, context);
    }
    const res = await this.http.request<{ EvalID?: string; JobModifyIndex?: number }>({
      method: "DELETE",
      path: `/v1/job/${encodeURIComponent(jobId)}`,
      params: this.q,
      // Stopping a stopped job changes nothing, so a retry is harmless.
      retry: true,
      context,
    });
    return { changed: true, jobModifyIndex: res.data.JobModifyIndex ?? expectIndex, ...(res.data.EvalID ? { evalId: res.data.EvalID } : {}) };
  }
}

/**
 * Nomad reports a lost EnforceIndex check only as text (a 500 whose body
 * starts with this phrase); the match is kept here, in one place, with a test.
 */
export function isEnforceIndexConflict(body: string): boolean {
  return /Enforcing job modify index \d+/.test(body);
}

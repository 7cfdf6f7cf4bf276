import type { ErrorContext } from "../model/errors.js";
import type { EnvironmentSpec } from "../model/types.js";
import type { HttpClient } from "./http-client.js";
import type { NomadJob } from "./nomad.js";

/** A task's terminal event as the verify gate reads it (structs.TaskEvent). */
export interface NomadTaskEvent {
  Type: string;
  /** Deprecated by Nomad in favour of `Details.exit_code`, still sent; read when Details lacks it. */
  ExitCode?: number;
  Details?: Record<string, string> | null;
}

/** The parts of an allocation (`/v1/job/:id/allocations`) the verify gate reads. */
export interface NomadBatchAlloc {
  ID: string;
  TaskGroup: string;
  CreateIndex: number;
  ClientStatus: string;
  DesiredStatus?: string;
  TaskStates?: Record<string, { State: string; Failed: boolean; Events?: NomadTaskEvent[] | null }> | null;
}

/**
 * Reads a batch job's progress from one environment's Nomad: the job as a
 * blocking query (its `Status` turns `dead` when every allocation is
 * terminal and nothing more will be placed) and its allocations with their
 * task events. Never writes.
 */
export class NomadBatchReader {
  constructor(
    readonly env: EnvironmentSpec,
    private readonly http: HttpClient,
  ) {}

  private get q(): Record<string, string> {
    return { namespace: this.env.nomad.namespace, region: this.env.nomad.region };
  }

  private ctx(id: string): ErrorContext {
    return { env: this.env.name, nomadJob: id };
  }

  /**
   * The job, blocking until its ModifyIndex passes `index` (0: answer at
   * once); `data` undefined while Nomad does not know it.
   * @param waitMs the server-side wait of the blocking query
   */
  async watchJob(id: string, index: number, waitMs: number, signal?: AbortSignal): Promise<{ index: number; data: NomadJob | undefined }> {
    const res = await this.http.request<NomadJob>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(id)}`,
      params: { ...this.q, ...(index > 0 ? { index, wait: `${Math.max(1, Math.round(waitMs / 1000))}s` } : {}) },
      okStatuses: [404],
      ...(index > 0 ? { blockingWaitMs: waitMs } : {}),
      ...(signal ? { signal } : {}),
      context: this.ctx(id),
    });
    return { index: Number(res.headers["x-nomad-index"] ?? 0), data: res.status === 404 ? undefined : res.data };
  }

  /** Every allocation of the job, terminal ones included; empty for an unknown job. */
  async allocations(id: string, signal?: AbortSignal): Promise<NomadBatchAlloc[]> {
    const res = await this.http.request<NomadBatchAlloc[] | null>({
      method: "GET",
      path: `/v1/job/${encodeURIComponent(id)}/allocations`,
      params: { ...this.q, all: true },
      okStatuses: [404],
      ...(signal ? { signal } : {}),
      context: this.ctx(id),
    });
    return res.status === 404 || !Array.isArray(res.data) ? [] : res.data;
  }
}

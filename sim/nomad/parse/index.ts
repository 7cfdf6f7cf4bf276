/**
 * The jobspec parser behind sim's `POST /v1/jobs/parse`: HCL2 evaluated with
 * HashiCorp's own `hcl/v2` (a Go helper process), then mapped to the API job
 * JSON the way Nomad's `jobspec2` does (../shared/api-reference/nomad/JOBSPEC.md).
 */
export interface ParseRequest {
  JobHCL: string;
  /** A variables file's content (`name = value` lines). */
  Variables?: string;
  /** Run `api.Job.Canonicalize()` on the result. */
  Canonicalize?: boolean;
}

/** `error` is the text Nomad puts after `Failed to parse job: `. */
export type ParseResult = { ok: true; job: Record<string, unknown> } | { ok: false; error: string };

export interface JobParser {
  parse(req: ParseRequest): Promise<ParseResult>;
  close(): Promise<void>;
}

export { createJobParser } from "./parser.js";

/**
 * `createJobParser`: the jobspec parser behind sim's `POST /v1/jobs/parse`.
 * HCL2 is evaluated by the Go helper (HashiCorp's hcl/v2, as in Nomad); the
 * evaluated tree becomes the API job here (build-job.ts, normalize.ts,
 * canonicalize.ts).
 */
import { buildJob } from "./normalize.js";
import { canonicalizeJob } from "./canonicalize.js";
import { ensureHelperBuilt, HelperProcess, type BuildOptions } from "./helper-process.js";
import { goSchema } from "./schema.js";
import type { Tree } from "./build-job.js";
import type { JobParser, ParseRequest, ParseResult } from "./index.js";

/**
 * Builds the helper if needed (rejecting with what to install when Go or
 * hcl/v2 is missing) and starts it. Parses may run concurrently; a helper
 * that died is restarted on the next parse. `close()` ends the process.
 */
export async function createJobParser(options: BuildOptions = {}): Promise<JobParser> {
  await ensureHelperBuilt(options);
  const schema = goSchema();
  let helper = new HelperProcess(schema);
  let closed = false;

  return {
    async parse(req: ParseRequest): Promise<ParseResult> {
      if (closed) throw new Error("job parser is closed");
      const msg = { op: "parse", job: req.JobHCL, vars: req.Variables ?? "" };
      if (helper.dead) helper = new HelperProcess(schema);
      const answer = await helper.request(msg).catch(async (err: unknown) => {
        // The helper died under this request: a parse has no side effects,
        // so it is tried once more on a fresh process.
        if (closed || !helper.dead) throw err;
        helper = new HelperProcess(schema);
        return helper.request(msg);
      });
      if (answer.internal) throw new Error(`sim's jobspec helper failed: ${answer.error ?? "no detail"}`);
      if (!answer.ok) return { ok: false, error: answer.error ?? "" };
      const job = buildJob(answer.tree as Tree);
      if (req.Canonicalize) canonicalizeJob(job);
      return { ok: true, job };
    },
    async close(): Promise<void> {
      closed = true;
      await helper.close();
    },
  };
}

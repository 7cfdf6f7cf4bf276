import type { SimReply } from "../core/http.js";

/**
 * Nomad's error texts, as the HTTP agent writes them (plain text; see
 * command/agent/http.go wrap()). Errors without an HTTP code of their own
 * come back as 500, exactly like the real agent does for RPC errors.
 */
export const ERR = {
  invalidMethod: "Invalid method",
  invalidIndex: "Invalid index",
  invalidWait: "Invalid wait time",
  bodyEmpty: "Request body is empty",
  permissionDenied: "Permission denied",
  tokenNotFound: "ACL token not found",
  jobNotFound: "job not found",
  jobVersionsNotFound: "job versions not found",
  nodeNotFound: "node not found",
  allocNotFound: "alloc not found",
  evalNotFound: "eval not found",
  deploymentNotFound: "deployment not found",
  jobMustBeSpecified: "Job must be specified",
  jobIdMissing: "Job ID hasn't been provided",
  jobIdMismatchName: "Job ID does not match name",
  jobIdMismatch: "Job ID does not match",
  jobPlanNeedsId: "Job must have a valid ID",
  enforcePrefix: "Enforcing job modify index",
  deploymentTerminalNoFail: "can't fail terminal deployment",
  deploymentTerminalNoPause: "can't pause terminal deployment",
  deploymentTerminalNoResume: "can't resume terminal deployment",
  deploymentTerminalNoPromote: "can't promote terminal deployment",
  noCanariesToPromote: "no canaries to promote",
} as const;

/** A plain-text error reply, with the read headers when the handler had set them. */
export function textError(status: number, message: string, headers?: Record<string, string>): SimReply {
  return { status, body: message, contentType: "text/plain; charset=utf-8", ...(headers ? { headers } : {}) };
}

/** An error the handlers throw; `reply()` turns it into the agent's answer. */
export class NomadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** hashicorp/go-multierror's text for a list of errors. */
export function multiError(errors: string[]): string {
  const head = errors.length === 1 ? "1 error occurred:" : `${errors.length} errors occurred:`;
  return `${head}\n${errors.map((e) => `\t* ${e}`).join("\n")}\n\n`;
}

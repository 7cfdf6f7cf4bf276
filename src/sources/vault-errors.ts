import type { ErrorContext } from "../model/errors.js";
import { TransientError } from "../reconciler/core/outcome.js";
import { HttpStatusError } from "./http-client.js";

/** Network error codes worth retrying: Vault or the path to it failed, not the request. */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_CANCELED",
]);

/**
 * Statuses that say Vault is briefly unable to answer: 5xx (503 = sealed or
 * standby without a leader), 429 (rate limited, or a performance standby's
 * 429 from sys/health), 408 (request timeout).
 */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Turns what a node-vault call rejected with into Steward's error kinds,
 * naming the endpoint (`GET secret/data/steward/nomad-qa`):
 * - TransientError: 5xx, 429, 408, timeouts, connection refusals and resets;
 * - HttpStatusError: any other answer (`status` is Vault's: 403 permission
 *   denied, 404 no secret, 400 bad login), or a failure with no status (0).
 *
 * The message carries Vault's own error text (its `errors[0]`), which never
 * holds a credential. The node-vault error itself is not kept as the cause:
 * its axios form holds the request config, `X-Vault-Token` included, so the
 * cause is rebuilt from the error code and text only.
 */
export function vaultCallError(err: unknown, endpoint: string, context: ErrorContext = {}): TransientError | HttpStatusError {
  const ctx: ErrorContext = { ...context, endpoint };
  const status = statusOf(err);
  const text = err instanceof Error ? err.message : String(err);
  if (status !== undefined) {
    const message = `${endpoint}: ${status}${text && text !== `Status ${status}` ? ` ${text}` : ""}`;
    if (isTransientStatus(status)) return new TransientError(message, ctx);
    return new HttpStatusError(message, status, ctx);
  }
  const code = codeOf(err);
  const cause = new Error(code ? `${code}: ${text}` : text);
  if (TRANSIENT_CODES.has(code)) {
    const what = code === "ETIMEDOUT" || code === "ECONNABORTED" ? "timed out" : code;
    return new TransientError(`${endpoint}: ${what}`, ctx, undefined, { cause });
  }
  const failure = new HttpStatusError(`${endpoint}: ${code || text}`, 0, ctx);
  failure.cause = cause;
  return failure;
}

/**
 * The `code` label of `steward_api_requests_total` for a failed node-vault
 * call: Vault's status, or `timeout` / `network` when no answer came.
 */
export function vaultResponseCode(err: unknown): string {
  const status = statusOf(err);
  if (status !== undefined) return String(status);
  const code = codeOf(err);
  return code === "ETIMEDOUT" || code === "ECONNABORTED" ? "timeout" : "network";
}

/** True when `err` is Vault's answer with this status. */
export function hasStatus(err: unknown, status: number): err is HttpStatusError {
  return err instanceof HttpStatusError && err.status === status;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("response" in err)) return undefined;
  const res = (err as { response?: unknown }).response;
  if (typeof res !== "object" || res === null) return undefined;
  // node-vault's ApiResponseError has `statusCode`; a raw axios error has `status`.
  const r = res as { statusCode?: unknown; status?: unknown };
  const s = typeof r.statusCode === "number" ? r.statusCode : r.status;
  return typeof s === "number" ? s : undefined;
}

function codeOf(err: unknown): string {
  if (typeof err !== "object" || err === null || !("code" in err)) return "";
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}

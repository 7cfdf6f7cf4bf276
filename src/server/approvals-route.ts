import { z } from "zod";
import type { Logger } from "../log.js";
import { InvalidInputError } from "../model/errors.js";
import type { ApprovalRequest, StoredApproval } from "../actuators/approvals.js";
import type { Approval } from "../sources/approvals.js";
import { checkAction, type ActionAuth } from "./action-auth.js";

/** Largest `POST /api/approvals` body read (16 KiB): a decision is a few hundred bytes. */
export const MAX_APPROVAL_BODY_BYTES = 16 * 1024;

/** What the approvals endpoint needs from the daemon. */
export interface ApprovalsApi {
  /** Records a decision (ApprovalWriter.record). */
  record(r: ApprovalRequest): Promise<{ key: string; value: StoredApproval }>;
  /** The decisions as last seen (ApprovalStore.list); absent: `GET` answers 404. */
  list?(): Approval[];
}

/** An answer for http.ts to send as JSON. */
export interface RouteResult {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

const bodySchema = z.strictObject({
  service: z.string(),
  digest: z.string(),
  decision: z.enum(["approve", "reject"]),
  stage: z.string().optional(),
  /** Who asked, when the token is shared (a CI job, a person using the UI): recorded as `<by> via <token name>`. */
  by: z.string().min(1).max(200).optional(),
  reason: z.string().max(1000).optional(),
});

/**
 * `/api/approvals`:
 * - `POST` `{service, digest, decision: "approve"|"reject", stage?, by?, reason?}`
 *   with `Authorization: Bearer <api.actionToken>` records the decision
 *   (201 `{key, approval}`); 401 without a valid token (action-auth.ts),
 *   400 naming the field for a bad body, 405 for other methods;
 * - `GET` lists the decisions the daemon has seen (read-only, no token).
 * Who decided is the token's name, or `<by> via <name>` when the body says who.
 */
export async function approvalsRoute(
  req: { method: string; headers: Parameters<typeof checkAction>[0]["headers"]; body: () => Promise<Buffer | undefined> },
  deps: { approvals?: ApprovalsApi | undefined; actionAuth?: ActionAuth | undefined; logger: Logger },
): Promise<RouteResult> {
  const api = deps.approvals;
  if (req.method === "GET") {
    if (!api?.list) return { status: 404, body: { error: "approvals are not available on this instance" } };
    return { status: 200, body: { approvals: api.list() } };
  }
  if (req.method !== "POST") return { status: 405, headers: { Allow: "GET, POST" }, body: { error: "GET or POST only" } };
  const auth = checkAction(req, deps.actionAuth);
  if (!auth.ok) {
    deps.logger.warn({ path: "/api/approvals" }, `http: approval refused: ${auth.body.error}`);
    return { status: auth.status, headers: auth.headers, body: auth.body };
  }
  if (!api) return { status: 503, body: { error: "approvals are not available on this instance (no Consul writer)" } };
  const raw = await req.body();
  if (raw === undefined) return { status: 413, body: { error: `body over ${MAX_APPROVAL_BODY_BYTES} bytes` } };
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    return { status: 400, body: { error: `body is not JSON: ${(err as Error).message}` } };
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
    return { status: 400, body: { error: `invalid approval: ${problems.join("; ")}` } };
  }
  const b = parsed.data;
  const by = b.by ? `${b.by} via ${auth.by}` : auth.by;
  try {
    const { key, value } = await api.record({
      service: b.service,
      digest: b.digest,
      decision: b.decision,
      by,
      ...(b.stage !== undefined && { stage: b.stage }),
      ...(b.reason !== undefined && { reason: b.reason }),
    });
    deps.logger.info({ service: b.service, digest: b.digest, decision: b.decision, by, ...(b.stage ? { stage: b.stage } : {}) }, "approvals: decision recorded");
    return { status: 201, body: { key, approval: { service: b.service, digest: b.digest, ...value } } };
  } catch (err) {
    if (err instanceof InvalidInputError) return { status: 400, body: { error: `invalid approval: ${err.message}` } };
    throw err;
  }
}

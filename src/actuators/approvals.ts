import { CONSUL_APPROVALS_PREFIX } from "../config/defaults.js";
import { InvalidInputError } from "../model/errors.js";
import { OBJECT_NAME, ENV_NAME } from "../model/schema-common.js";
import { IMAGE_DIGEST } from "../model/schema-service.js";
import { systemClock, type Clock } from "../reconciler/core/clock.js";
import { folderPrefix } from "../sources/consul-kv-tree.js";
import { approvalKey, type ApprovalDecision } from "../sources/approvals.js";
import type { ConsulKvWriter } from "./consul-kv.js";

/** A decision to record: what `steward approve|reject`, `POST /api/approvals` and the UI send. */
export interface ApprovalRequest {
  service: string;
  /** `sha256:` and 64 lowercase hex digits. */
  digest: string;
  decision: ApprovalDecision;
  /** Who decided, as shown in status and the journal's gate message. */
  by: string;
  /** Only this stage's manual gate; absent: every stage's. */
  stage?: string;
  reason?: string;
}

/** The JSON value stored at `<prefix><service>/<digest>`. */
export interface StoredApproval {
  decision: ApprovalDecision;
  by: string;
  /** ISO 8601. */
  at: string;
  stage?: string;
  reason?: string;
}

/**
 * Checks a request's names before anything is written, so a typo cannot
 * create a key no gate will ever read.
 * @throws InvalidInputError naming the field (service, digest, stage, decision, by)
 */
export function checkApprovalRequest(r: ApprovalRequest): void {
  const bad = (field: string, message: string): never => {
    throw new InvalidInputError(`${field}: ${message}`, { field, service: r.service });
  };
  if (!OBJECT_NAME.test(r.service)) bad("service", `"${r.service}" is not a service name (a-z, 0-9 and -, up to 63 characters)`);
  if (!IMAGE_DIGEST.test(r.digest)) bad("digest", `"${r.digest}" is not a full image digest (sha256: followed by 64 lowercase hex digits)`);
  if (r.stage !== undefined && !ENV_NAME.test(r.stage)) bad("stage", `"${r.stage}" is not an environment name`);
  if (r.decision !== "approve" && r.decision !== "reject") bad("decision", `must be approve or reject, not "${String(r.decision)}"`);
  if (!r.by.trim()) bad("by", "must name who decides");
}

/**
 * Records manual decisions in Consul KV, one key per service and digest
 * (the last decision wins); the daemon's ApprovalStore watches the prefix.
 * No decisions are made here.
 */
export class ApprovalWriter {
  /** The prefix, ending in `/`. */
  readonly prefix: string;
  private readonly clock: Clock;

  constructor(
    private readonly writer: ConsulKvWriter,
    options: { /** @default CONSUL_APPROVALS_PREFIX ("steward/approvals/") */ prefix?: string; clock?: Clock } = {},
  ) {
    this.prefix = folderPrefix(options.prefix ?? CONSUL_APPROVALS_PREFIX);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Writes the decision (`at` is now) and returns the key and value stored.
   * Writing it again is harmless.
   * @throws InvalidInputError for a bad name (see checkApprovalRequest); ConsulClient's errors
   */
  async record(r: ApprovalRequest): Promise<{ key: string; value: StoredApproval }> {
    checkApprovalRequest(r);
    const value: StoredApproval = {
      decision: r.decision,
      by: r.by,
      at: new Date(this.clock.now()).toISOString(),
      ...(r.stage !== undefined && { stage: r.stage }),
      ...(r.reason !== undefined && { reason: r.reason }),
    };
    const key = approvalKey(this.prefix, r.service, r.digest);
    await this.writer.putJson(key, value, { context: { service: r.service } });
    return { key, value };
  }
}

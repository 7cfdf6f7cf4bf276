import type { SimReply } from "../core/http.js";

/**
 * Vault's HTTP replies. Every reply carries `Cache-Control: no-store` (Vault's
 * generic handler sets it on all responses) and is JSON, errors included.
 */

/** The `auth` block of a login, token create or renew reply. */
export interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  identity_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: string;
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

/** The standard response envelope (logical.HTTPResponse). */
export interface Envelope {
  request_id: string;
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  data: Record<string, unknown> | null;
  wrap_info: null;
  warnings: string[] | null;
  auth: AuthBlock | null;
  mount_type: string;
}

const BASE_HEADERS = { "Cache-Control": "no-store" };

/** Builds an envelope; `warnings` stays `null` when empty, as Vault omits none but sends null. */
export function envelope(
  requestId: string,
  mountType: string,
  parts: { data?: Record<string, unknown> | null; auth?: AuthBlock | null; warnings?: string[] },
): Envelope {
  return {
    request_id: requestId,
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data: parts.data ?? null,
    wrap_info: null,
    warnings: parts.warnings && parts.warnings.length > 0 ? parts.warnings : null,
    auth: parts.auth ?? null,
    mount_type: mountType,
  };
}

/** A 200 with a JSON body. */
export function json(body: unknown, status = 200): SimReply {
  return { status, headers: { ...BASE_HEADERS }, body, contentType: "application/json" };
}

/** A success without data: 204, still labelled JSON as Vault's respondOk does. */
export function noContent(): SimReply {
  return { status: 204, headers: { ...BASE_HEADERS, "Content-Type": "application/json" } };
}

/** `{"errors": [...]}` with the given status; an empty list is what a plain 404 carries. */
export function errors(status: number, messages: string[] = []): SimReply {
  return json({ errors: messages }, status);
}

/** The text of a Go multierror with one entry, as Vault reports backend errors that have no error response. */
export function multiError(message: string): string {
  return `1 error occurred:\n\t* ${message}\n\n`;
}

/** 403 permission denied: missing, unknown, expired token, or a policy that does not allow the operation. */
export function permissionDenied(): SimReply {
  return errors(403, ["permission denied"]);
}

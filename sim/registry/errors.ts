import type { SimReply } from "../core/http.js";

/** The header the reference registry puts on every /v2 answer (registry/handlers/app.go). */
export const API_VERSION_HEADER = { "Docker-Distribution-Api-Version": "registry/2.0" } as const;

/** Content type of every JSON body the reference registry writes (Go's json encoder behind a handler). */
export const JSON_TYPE = "application/json; charset=utf-8";

/**
 * The error codes of distribution's `registry/api/errcode` and `registry/api/v2`
 * tables that sim answers with, each with its message and HTTP status.
 */
const CODES = {
  UNKNOWN: { message: "unknown error", status: 500 },
  UNSUPPORTED: { message: "The operation is unsupported.", status: 405 },
  UNAUTHORIZED: { message: "authentication required", status: 401 },
  DENIED: { message: "requested access to the resource is denied", status: 403 },
  DIGEST_INVALID: { message: "provided digest did not match uploaded content", status: 400 },
  SIZE_INVALID: { message: "provided length did not match content length", status: 400 },
  NAME_INVALID: { message: "invalid repository name", status: 400 },
  TAG_INVALID: { message: "manifest tag did not match URI", status: 400 },
  NAME_UNKNOWN: { message: "repository name not known to registry", status: 404 },
  MANIFEST_UNKNOWN: { message: "manifest unknown", status: 404 },
  MANIFEST_INVALID: { message: "manifest invalid", status: 400 },
  MANIFEST_BLOB_UNKNOWN: { message: "blob unknown to registry", status: 400 },
  BLOB_UNKNOWN: { message: "blob unknown to registry", status: 404 },
  BLOB_UPLOAD_UNKNOWN: { message: "blob upload unknown to registry", status: 404 },
  BLOB_UPLOAD_INVALID: { message: "blob upload invalid", status: 404 },
  PAGINATION_NUMBER_INVALID: { message: "invalid number of results requested", status: 400 },
} as const;

export type RegistryErrorCode = keyof typeof CODES;

/**
 * One entry of an `{"errors":[...]}` body. `detail: undefined` leaves the key
 * out, as Go's `omitempty` does for a nil detail; `null` writes `"detail":null`
 * (a typed nil, as the auth challenges send it).
 */
export interface RegistryErrorEntry {
  code: RegistryErrorCode;
  message?: string;
  detail?: unknown;
}

/** An error reply with one error; the status is the code's own unless given. */
export function registryError(code: RegistryErrorCode, detail?: unknown, message?: string): SimReply {
  return registryErrors([{ code, detail, ...(message === undefined ? {} : { message }) }]);
}

/** An error reply with several errors; like errcode.ServeJSON, the first one decides the status. */
export function registryErrors(errors: RegistryErrorEntry[], headers: Record<string, string> = {}): SimReply {
  const first = errors[0];
  const status = first ? CODES[first.code].status : 500;
  const body = {
    errors: errors.map((e) => {
      const out: Record<string, unknown> = { code: e.code, message: e.message ?? CODES[e.code].message };
      if (e.detail !== undefined) out.detail = e.detail;
      return out;
    }),
  };
  return jsonReply(status, body, headers);
}

/** A JSON reply encoded the way Go's json.Encoder writes it. */
export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}, contentType: string = JSON_TYPE): SimReply {
  return { status, headers: { ...headers }, body: Buffer.from(goJson(body) + "\n"), contentType };
}

/**
 * JSON as Go's encoder writes it: compact, with `<`, `>`, `&`, U+2028 and
 * U+2029 escaped (HTML-safe by default), so byte lengths match the real server.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

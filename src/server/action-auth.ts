import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import type { ActionTokenRef } from "../config/schema.js";
import { addSecret } from "../log.js";
import type { VaultSource } from "../sources/vault.js";

/** Who an action is recorded as when the token's config names no one. */
export const DEFAULT_ACTION_TOKEN_NAME = "api";

/**
 * The bearer token that action endpoints (`POST /api/approvals`, the UI's
 * actions) require, and the name it is recorded under (`by` of an approval).
 * `token()` is asked per request, so a token rotated in a file or in Vault
 * is picked up without a restart; undefined means it cannot be read now.
 */
export interface ActionAuth {
  /** The label of the token (steward.yaml `api.actionToken.name`), recorded as who acted. */
  name: string;
  /** Where the token comes from, for messages (`env STEWARD_ACTION_TOKEN`, `file /run/…`, `vault secret/steward#token`): never the value. */
  source: string;
  token: () => string | undefined;
}

/** The outcome of checking a request: who acted, or the refusal to send. */
export type ActionAuthResult =
  | { ok: true; by: string }
  | { ok: false; status: 401; headers: Record<string, string>; body: { error: string } };

/**
 * Builds the ActionAuth for steward.yaml's `api.actionToken`, or undefined
 * when there is none (every action is then refused). A file is read on each
 * request (Nomad's template re-renders it on rotation; it is tiny); a Vault
 * secret is registered with `vault` so its first read includes it.
 */
export function actionAuthFromConfig(ref: ActionTokenRef | undefined, vault?: VaultSource, env: NodeJS.ProcessEnv = process.env): ActionAuth | undefined {
  if (!ref) return undefined;
  const name = ref.name ?? DEFAULT_ACTION_TOKEN_NAME;
  if ("vault" in ref) {
    const { path, key } = ref.vault;
    vault?.want(path, key);
    return { name, source: `vault ${path}#${key}`, token: () => vault?.get(path, key) };
  }
  if ("file" in ref) {
    const file = ref.file;
    return {
      name,
      source: `file ${file}`,
      token: () => {
        try {
          return readFileSync(file, "utf8").trim() || undefined;
        } catch {
          return undefined;
        }
      },
    };
  }
  return { name, source: `env ${ref.env}`, token: () => env[ref.env] || undefined };
}

/**
 * Checks `Authorization: Bearer <token>` against the action token, in
 * constant time (sha256 of both sides, so neither the value nor its length
 * leaks through timing). Refusals are 401 with `WWW-Authenticate` (RFC 6750)
 * and a JSON message that names what is missing: the server's token (not
 * configured, or unreadable now), the header, or a matching value. Neither
 * token is ever part of a message.
 */
export function checkAction(req: { headers: IncomingHttpHeaders }, auth: ActionAuth | undefined): ActionAuthResult {
  const refuse = (error: string, code?: string): ActionAuthResult => ({
    ok: false,
    status: 401,
    headers: { "WWW-Authenticate": `Bearer realm="steward"${code ? `, error="${code}"` : ""}` },
    body: { error },
  });
  if (!auth) return refuse("actions are disabled: steward's configuration has no api.actionToken, so no request can be authorised");
  const expected = auth.token();
  if (!expected) return refuse(`actions are unavailable: the action token (${auth.source}) cannot be read now`);
  addSecret(expected);
  const value = req.headers.authorization;
  if (!value) return refuse("missing Authorization header: send Authorization: Bearer <api.actionToken>");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!m?.[1]) return refuse("the Authorization header is not a bearer token: send Authorization: Bearer <api.actionToken>", "invalid_request");
  if (!sameSecret(m[1], expected)) return refuse("invalid bearer token: it is not api.actionToken", "invalid_token");
  return { ok: true, by: auth.name };
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

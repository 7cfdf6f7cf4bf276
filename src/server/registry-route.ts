import type http from "node:http";
import { REGISTRY_HOOK_HEADER } from "../config/defaults.js";
import type { Logger } from "../log.js";
import { InvalidInputError } from "../model/errors.js";
import { hasSharedSecret, parseRegistryNotification, type ManifestPush } from "./registry-hook.js";
import { readLimitedBody } from "./read-body.js";

/** Largest notification body read (1 MiB): distribution batches a few events per envelope. */
const MAX_REGISTRY_BODY_BYTES = 1 << 20;

/** What `POST /hooks/registry` needs from the daemon. */
export interface RegistryHookDeps {
  /** The shared secret; without one the hook answers 404. */
  secret: string | undefined;
  logger: Logger;
  /** Called with the tagged manifest pushes of a valid notification; returns the services it woke. */
  onPushes: (pushes: ManifestPush[]) => string[];
}

/** A JSON answer. */
export type HookReply = { status: number; body: unknown };

/**
 * `POST /hooks/registry`: the envelope the real docker-registry sends
 * (`notifications.endpoints`), authorised by `Authorization: Bearer <secret>`
 * compared in constant time. Answers 202 with the services woken (possibly
 * none); 401 without the secret, 400 for a body that is not an envelope,
 * 404 when no secret is configured, 413 over 1 MiB. The registry retries
 * non-2xx answers, so a bad envelope is refused once and logged, not retried
 * for ever by Steward.
 */
export async function registryHook(req: http.IncomingMessage, deps: RegistryHookDeps): Promise<HookReply> {
  if (req.method !== "POST") return { status: 405, body: { error: "POST only" } };
  if (!deps.secret) return { status: 404, body: { error: "the registry webhook is not configured (registryWebhookSecret)" } };
  if (!hasSharedSecret(req.headers, REGISTRY_HOOK_HEADER, `Bearer ${deps.secret}`)) {
    deps.logger.warn({ path: "/hooks/registry", remote: req.socket.remoteAddress }, "http: registry webhook with a missing or wrong secret refused");
    return { status: 401, body: { error: `invalid or missing ${REGISTRY_HOOK_HEADER}` } };
  }
  const body = await readLimitedBody(req, MAX_REGISTRY_BODY_BYTES);
  if (body === undefined) return { status: 413, body: { error: `body over ${MAX_REGISTRY_BODY_BYTES} bytes` } };
  let pushes: ManifestPush[];
  try {
    pushes = parseRegistryNotification(body, req.headers["content-type"]);
  } catch (err) {
    if (err instanceof InvalidInputError) {
      deps.logger.warn({ path: "/hooks/registry", err: err.message }, "http: registry notification refused");
      return { status: 400, body: { error: err.message } };
    }
    throw err;
  }
  const services = pushes.length ? deps.onPushes(pushes) : [];
  return { status: 202, body: { accepted: true, pushes: pushes.length, services } };
}

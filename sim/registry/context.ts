import type { SimRequest } from "../core/http.js";
import type { Actor } from "./auth.js";
import type { RegistryEvent } from "./notifications.js";
import type { RegistryStore } from "./store.js";

/**
 * Which release of the reference registry (distribution) sim answers like.
 * `2.8` is the Debian `docker-registry` package and the `registry:2` image;
 * `3` is distribution v3, whose source the api-reference samples quote.
 */
export type RegistryCompat = "2.8" | "3";

/** What every handler works with. */
export interface RegistryContext {
  store: RegistryStore;
  compat: RegistryCompat;
  deleteEnabled: boolean;
  /** A random UUID from the sim's seeded source. */
  uuid(): string;
  /** Queues an event for the notification endpoints. */
  emit(call: Call, action: RegistryEvent["action"], target: RegistryEvent["target"]): void;
}

/** One request being handled: the request, who made it, and the base URL it reached. */
export interface Call {
  req: SimRequest;
  actor: Actor;
  /** `scheme://host` as the client addressed the registry (Location and event URLs are built on it). */
  base: string;
  /** The request's id (shared by the events it causes). */
  requestId: string;
}

/**
 * A detail that is a Go error value: distribution 2.8 marshals the error
 * struct (`fields2x`, often `{}`), v3 sends the error's message.
 */
export function errorDetail(ctx: RegistryContext, fields2x: unknown, message3: string): unknown {
  return ctx.compat === "3" ? message3 : fields2x;
}

import { Router, type SimReply, type SimRequest } from "../core/http.js";
import type { Acl } from "./acl.js";
import { ConsulError, errorReply } from "./errors.js";

export type Method = "GET" | "PUT" | "POST" | "DELETE";
export type Endpoint = (req: SimRequest) => Promise<SimReply> | SimReply;

const ALL_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/**
 * Consul's HTTP wrapper (agent/http.go `wrap`) around the sim router: a
 * wrong method gets 405 `method X not allowed` with an `Allow` header,
 * OPTIONS lists the methods, thrown ConsulErrors become plain-text replies,
 * and every reply carries `X-Consul-Default-Acl-Policy`.
 */
export class ConsulRouter {
  readonly router: Router;

  constructor(private readonly acl: Acl) {
    this.router = new Router({
      // An unknown path falls through to the agent's index handler: 404, no body.
      notFound: () => this.finish({ status: 404 }),
      methodNotAllowed: (req) => this.finish({ status: 405, body: `method ${req.method} not allowed` }),
    });
  }

  add(path: string, handlers: Partial<Record<Method, Endpoint>>): this {
    const allowed = ["OPTIONS", ...Object.keys(handlers)].join(",");
    this.router.add(ALL_METHODS, path, async (req) => {
      if (req.method === "OPTIONS") return this.finish({ status: 200, headers: { Allow: allowed } });
      const handler = handlers[req.method as Method];
      if (!handler) return this.finish({ status: 405, headers: { Allow: allowed }, body: `method ${req.method} not allowed` });
      try {
        return this.finish(await handler(req));
      } catch (err) {
        if (err instanceof ConsulError) return this.finish(errorReply(err));
        throw err;
      }
    });
    return this;
  }

  private finish(reply: SimReply): SimReply {
    return { ...reply, headers: { ...(reply.headers ?? {}), "X-Consul-Default-Acl-Policy": this.acl.defaultPolicy } };
  }
}

/**
 * A JSON reply. `null` and strings are encoded here (the core would send a
 * string as plain text); `null` is the JSON literal, as Go encodes a nil pointer.
 */
export function json(body: unknown, headers: Record<string, string> = {}, status = 200): SimReply {
  if (body === null || typeof body === "string") {
    return { status, headers, body: Buffer.from(JSON.stringify(body)), contentType: "application/json" };
  }
  return { status, headers, body, contentType: "application/json" };
}

/** A success with no body (the handler returned nil). */
export function empty(headers: Record<string, string> = {}): SimReply {
  return { status: 200, headers };
}

import type { SimReply } from "../core/http.js";

/**
 * An error as Consul's HTTP layer writes it: a status and a plain-text body.
 * State-store and RPC errors are 500 (Consul's default for errors without a
 * status); handlers throw this and the route wrapper turns it into a reply.
 */
export class ConsulError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An RPC/state error: Consul answers these with 500 and the error text. */
export function rpcError(message: string): ConsulError {
  return new ConsulError(500, message);
}

export function badRequest(message: string): ConsulError {
  return new ConsulError(400, message);
}

export function notFound(message: string): ConsulError {
  return new ConsulError(404, message);
}

/** Go's `%q`/`%#v` of a string, as Consul's messages quote names. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

export function errorReply(err: ConsulError): SimReply {
  return { status: err.status, body: err.message };
}

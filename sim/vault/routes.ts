import type { IncomingHttpHeaders } from "node:http";
import type { SimReply } from "../core/http.js";
import type { Operation } from "./policy.js";
import type { TokenEntry } from "./tokens.js";

/** A request as a Vault backend sees it, after routing, auth and body parsing. */
export interface VaultRequest {
  /** The operation after Vault's existence check (create vs update). */
  op: Operation;
  /** Full logical path (no `/v1/`); list operations end with `/`. */
  path: string;
  /** Groups of the route pattern, matched against the path inside the mount. */
  match: RegExpExecArray;
  /** JSON body for writes and patches; query parameters for reads, lists and deletes. */
  data: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  /** The caller's token; undefined only on unauthenticated routes. */
  token: TokenEntry | undefined;
  requestId: string;
  mountType: string;
}

export type VaultHandler = (req: VaultRequest) => SimReply;

/**
 * One path of a backend. `write` serves both create and update (POST/PUT);
 * `exists` is the backend's existence check, which makes the ACL ask for
 * `create` or `update` as Vault does. Without it every write is an update.
 */
export interface VaultRoute {
  pattern: RegExp;
  read?: VaultHandler;
  list?: VaultHandler;
  write?: VaultHandler;
  patch?: VaultHandler;
  delete?: VaultHandler;
  exists?: (match: RegExpExecArray) => boolean;
  /** Login paths: no token, no ACL. */
  unauthenticated?: boolean;
}

/** A mounted backend: its path (with trailing `/`), type (`mount_type` of replies) and paths. */
export interface Mount {
  path: string;
  type: string;
  routes: VaultRoute[];
}

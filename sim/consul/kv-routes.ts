import type { SimReply, SimRequest } from "../core/http.js";
import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { json } from "./http.js";
import { ConsulError, badRequest, rpcError } from "./errors.js";
import { blockingQuery, metaHeaders, parseQuery, type QueryOptions } from "./query.js";
import { renderEntry } from "./render.js";
import { goEncodeQuery, parseUint } from "./goquery.js";
import type { DirEntry } from "./types.js";

/** Consul's default `kv_max_value_size`. */
export const KV_MAX_VALUE_SIZE = 512 * 1024;

/**
 * `/v1/kv/*` (agent/kvs_endpoint.go): GET one key, `?recurse`, `?keys` with
 * `?separator`, `?raw`; PUT with `?flags`, `?cas`, `?acquire`, `?release`;
 * DELETE with `?recurse` or `?cas`. Replies are the JSON literals true/false
 * where Consul sends them; a missing key is 404 with an empty body.
 */
export function kvRoutes(r: ConsulRouter, p: ConsulParts): void {
  const handlers = {
    GET: (req: SimRequest) => get(p, req),
    PUT: (req: SimRequest) => put(p, req),
    DELETE: (req: SimRequest) => del(p, req),
  };
  r.add("/v1/kv/", handlers);
  r.add("/v1/kv/*key", handlers);
}

function keyOf(req: SimRequest): string {
  return req.params.key ?? "";
}

async function get(p: ConsulParts, req: SimRequest): Promise<SimReply> {
  const q = parseQuery(req, p.datacenter);
  const key = keyOf(req);
  const authz = p.acl.resolve(q.token);
  const sees = p.acl.sees(authz);
  if (req.query.has("keys")) {
    const separator = req.query.get("separator") ?? req.query.get("seperator") ?? "";
    const res = await block(p, req, q, () => {
      const { index, keys } = p.kv.keys(key, separator);
      return { index, value: sees ? keys : [] };
    });
    const headers = metaHeaders(res.index, q.consistency);
    if (res.value.length === 0 && key !== "") return { status: 404, headers };
    return json(res.value, headers);
  }
  if (req.query.has("recurse")) {
    const res = await block(p, req, q, () => {
      const { index, entries } = p.kv.list(key);
      return { index, value: sees ? entries : [] };
    });
    const headers = metaHeaders(res.index, q.consistency);
    if (res.value.length === 0) return { status: 404, headers };
    return json(res.value.map(renderEntry), headers);
  }
  if (key === "") throw badRequest("Missing key name");
  p.acl.require(authz, "key", "read", key);
  const res = await block<DirEntry | undefined>(p, req, q, () => {
    const { index, entry } = p.kv.get(key);
    return { index, value: entry, missing: entry === undefined };
  });
  const headers = metaHeaders(res.index, q.consistency);
  if (!res.value) return { status: 404, headers };
  if (req.query.has("raw")) {
    // Consul hardens raw replies against stored HTML/JS.
    return {
      status: 200,
      headers: { ...headers, "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox" },
      body: res.value.Value,
      contentType: "text/plain",
    };
  }
  return json([renderEntry(res.value)], headers);
}

function block<T>(p: ConsulParts, req: SimRequest, q: QueryOptions, read: () => { index: number; value: T; missing?: boolean }) {
  return blockingQuery(p.raft, q, p.random, req.signal, read);
}

function put(p: ConsulParts, req: SimRequest): SimReply {
  const q = parseQuery(req, p.datacenter);
  const key = keyOf(req);
  if (key === "") throw badRequest("Missing key name");
  conflictingFlags(req, ["cas", "acquire", "release"]);
  const flags = uintParam(req, "flags") ?? 0;
  const cas = uintParam(req, "cas");
  if (req.body.length > KV_MAX_VALUE_SIZE) {
    throw new ConsulError(
      413,
      `Request body(${req.body.length} bytes) too large, max size: ${KV_MAX_VALUE_SIZE} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`,
    );
  }
  p.acl.require(p.acl.resolve(q.token), "key", "write", key);
  const value = Buffer.from(req.body);
  if (req.query.has("acquire")) {
    // Lock-delay is enforced by the leader before the Raft apply: a plain false.
    if (p.kv.lockDelayed(key)) return json(false);
    return json(p.kv.lock(key, flags, value, req.query.get("acquire") ?? "", (id) => p.sessions.exists(id)));
  }
  if (req.query.has("release")) return json(p.kv.unlock(key, flags, value, req.query.get("release") ?? ""));
  if (cas !== undefined) return json(p.kv.cas(key, flags, value, cas));
  p.kv.set(key, flags, value);
  return json(true);
}

function del(p: ConsulParts, req: SimRequest): SimReply {
  const q = parseQuery(req, p.datacenter);
  const key = keyOf(req);
  conflictingFlags(req, ["recurse", "cas"]);
  const recurse = req.query.has("recurse");
  if (!recurse && key === "") throw badRequest("Missing key name");
  const cas = uintParam(req, "cas");
  p.acl.require(p.acl.resolve(q.token), "key", "write", key);
  if (cas !== undefined) return json(p.kv.deleteCas(key, cas));
  if (recurse) p.kv.deleteTree(key);
  else p.kv.delete(key);
  return json(true);
}

/** conflictingFlags(): at most one of `flags` may be present; the error echoes the whole query. */
function conflictingFlags(req: SimRequest, flags: string[]): void {
  if (flags.filter((f) => req.query.has(f)).length > 1) {
    throw badRequest(`Conflicting flags: ${goEncodeQuery(req.query)}\n`);
  }
}

/** A uint64 query parameter; a bad value is a plain error, so Consul answers 500. */
function uintParam(req: SimRequest, name: string): number | undefined {
  if (!req.query.has(name)) return undefined;
  const parsed = parseUint(req.query.get(name) ?? "");
  if (!parsed.ok) throw rpcError(parsed.error);
  return parsed.value;
}

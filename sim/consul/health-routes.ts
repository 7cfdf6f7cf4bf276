import type { SimReply, SimRequest } from "../core/http.js";
import type { ConsulParts } from "./parts.js";
import type { ConsulRouter } from "./http.js";
import { json } from "./http.js";
import { badRequest } from "./errors.js";
import { blockingQuery, metaHeaders, parseQuery } from "./query.js";
import { renderCheck, renderNode, renderNodeService } from "./render.js";

/**
 * `/v1/health/*` (agent/health_endpoint.go): a node's checks, a service's
 * checks, checks in a state (`any` matches all), and a service's instances
 * with their node and checks (`?passing` keeps only instances whose every
 * check passes; `?tag` filters by tag). The anonymous token sees nothing.
 */
export function healthRoutes(r: ConsulRouter, p: ConsulParts): void {
  r.add("/v1/health/node/:node", {
    GET: (req) =>
      read(p, req, () => {
        const node = (req.params.node ?? "").toLowerCase();
        return p.catalog.listChecks((c) => c.Node.toLowerCase() === node);
      }),
  });
  r.add("/v1/health/checks/:service", {
    GET: (req) => read(p, req, () => p.catalog.listChecks((c) => c.ServiceName === req.params.service)),
  });
  r.add("/v1/health/state/", { GET: () => Promise.reject(badRequest("Missing check state")) });
  r.add("/v1/health/state/:state", {
    GET: (req) => {
      const state = req.params.state ?? "";
      return read(p, req, () => p.catalog.listChecks((c) => state === "any" || c.Status === state));
    },
  });
  r.add("/v1/health/service/:service", { GET: (req) => serviceHealth(p, req) });
}

async function read(p: ConsulParts, req: SimRequest, pick: () => { index: number; checks: Parameters<typeof renderCheck>[0][] }): Promise<SimReply> {
  const q = parseQuery(req, p.datacenter);
  const sees = p.acl.sees(p.acl.resolve(q.token));
  const res = await blockingQuery(p.raft, q, p.random, req.signal, () => {
    const { index, checks } = pick();
    return { index, value: sees ? checks.map(renderCheck) : [] };
  });
  return json(res.value, metaHeaders(res.index, q.consistency));
}

async function serviceHealth(p: ConsulParts, req: SimRequest): Promise<SimReply> {
  const q = parseQuery(req, p.datacenter);
  const sees = p.acl.sees(p.acl.resolve(q.token));
  const name = req.params.service ?? "";
  // `?passing=false` turns the filter off, as Go's ParseBool reads it.
  const passing = req.query.has("passing") && !["0", "f", "F", "false", "FALSE", "False"].includes(req.query.get("passing") ?? "");
  const tags = req.query.getAll("tag");
  const res = await blockingQuery(p.raft, q, p.random, req.signal, () => {
    const entries = sees ? p.catalog.serviceEntries(name) : [];
    const value = entries
      .filter((e) => tags.every((t) => e.service.Tags.includes(t)))
      .filter((e) => !passing || e.checks.every((c) => c.Status === "passing"))
      .map((e) => ({ Node: renderNode(e.node), Service: renderNodeService(e.service), Checks: e.checks.map(renderCheck) }));
    return { index: p.catalog.serviceIndex(name, true), value };
  });
  return json(res.value, metaHeaders(res.index, q.consistency));
}

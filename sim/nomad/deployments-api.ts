import type { Router, SimReply, SimRequest } from "../core/http.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError } from "./errors.js";
import { blockingQuery, decodeBody, found, guarded, listQuery, missing, page, parseQuery, written, type QueryOpts } from "./query.js";
import type { DeploymentRec } from "./types.js";
import { allocStub } from "./views.js";

/** Registers the /v1/deployments and /v1/deployment/... routes. */
export function addDeploymentRoutes(core: NomadCore, r: Router): void {
  const read = (h: (req: SimRequest, q: QueryOpts) => Promise<SimReply>) =>
    guarded(core, async (req) => {
      const q = parseQuery(core, req);
      return "status" in q ? q : h(req, q);
    });
  const must = (req: SimRequest): DeploymentRec => {
    const d = core.store.deployments.get(req.params.id ?? "");
    if (!d) throw new NomadError(500, ERR.deploymentNotFound);
    return d;
  };

  r.add("GET", "/v1/deployments", read((req, q) =>
    listQuery(core, req, q, () => core.store.tableIdx("deployment"), () => {
      const deps = [...core.store.deployments.values()].filter((d) => (q.namespace === "*" || d.Namespace === q.namespace) && d.ID.startsWith(q.prefix));
      const p = page(deps, q, (d) => (q.prefix ? d.ID : `${d.CreateIndex}.${d.ID}`), (d) => d);
      return { ok: true, body: p.items, ...(p.next ? { headers: { "X-Nomad-NextToken": p.next } } : {}) };
    }),
  ));
  r.add("GET", "/v1/deployment/allocations/:id", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const allocs = [...core.store.allocsByDeployment(req.params.id ?? "")];
      let index = 0;
      for (const a of allocs) index = Math.max(index, a.ModifyIndex);
      return { index: index || core.store.tableIdx("allocs"), result: () => found(allocs.sort((a, b) => a.CreateIndex - b.CreateIndex).map(allocStub)) };
    }),
  ));
  r.add(["PUT", "POST"], "/v1/deployment/fail/:id", guarded(core, (req) => {
    const reply = core.deployments.fail(must(req));
    return written(reply.Index, reply);
  }));
  r.add(["PUT", "POST"], "/v1/deployment/pause/:id", guarded(core, (req) => {
    const args = decodeBody(req);
    if (args.DeploymentID !== req.params.id) throw new NomadError(400, "Deployment ID does not match");
    const reply = core.deployments.pause(must(req), args.Pause === true);
    return written(reply.Index, reply);
  }));
  r.add(["PUT", "POST"], "/v1/deployment/promote/:id", guarded(core, (req) => {
    const args = decodeBody(req);
    if (args.DeploymentID !== req.params.id) throw new NomadError(400, "Deployment ID does not match");
    const groups = Array.isArray(args.Groups) ? args.Groups.filter((g): g is string => typeof g === "string") : [];
    const reply = core.deployments.promote(must(req), args.All === true ? undefined : groups);
    return written(reply.Index, reply);
  }));
  r.add("GET", "/v1/deployment/:id", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const d = core.store.deployments.get(req.params.id ?? "");
      return { index: d ? d.ModifyIndex : core.store.tableIdx("deployment"), result: () => (d ? found(d) : missing(ERR.deploymentNotFound)) };
    }),
  ));
}

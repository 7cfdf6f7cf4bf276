import type { Router, SimReply, SimRequest } from "../core/http.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError } from "./errors.js";
import { isObject } from "./json.js";
import { blockingQuery, decodeBody, found, guarded, listQuery, missing, page, parseQuery, written, type QueryOpts } from "./query.js";
import { allocView, nodeStub, nodeView } from "./views.js";

/** Registers the /v1/nodes and /v1/node/:id routes. */
export function addNodeRoutes(core: NomadCore, r: Router): void {
  const read = (h: (req: SimRequest, q: QueryOpts) => Promise<SimReply>) =>
    guarded(core, async (req) => {
      const q = parseQuery(core, req);
      return "status" in q ? q : h(req, q);
    });
  r.add("GET", "/v1/nodes", read((req, q) =>
    listQuery(core, req, q, () => core.store.tableIdx("nodes"), () => {
      const nodes = [...core.store.nodes.values()].filter((n) => n.ID.startsWith(q.prefix));
      const p = page(nodes, q, (n) => n.ID, nodeStub);
      return { ok: true, body: p.items, ...(p.next ? { headers: { "X-Nomad-NextToken": p.next } } : {}) };
    }),
  ));
  r.add("GET", "/v1/node/:id/allocations", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const allocs = [...core.store.allocsByNode(req.params.id ?? "")];
      let index = 0;
      for (const a of allocs) index = Math.max(index, a.ModifyIndex);
      return { index: index || core.store.tableIdx("allocs"), result: () => found(allocs.sort((a, b) => a.CreateIndex - b.CreateIndex).map(allocView)) };
    }),
  ));
  r.add("GET", "/v1/node/:id", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const id = req.params.id ?? "";
      const n = core.store.nodes.get(id) ?? prefixMatch(core, id);
      return { index: n ? n.ModifyIndex : core.store.tableIdx("nodes"), result: () => (n ? found(nodeView(n)) : missing(ERR.nodeNotFound)) };
    }),
  ));
  r.add(["PUT", "POST"], "/v1/node/:id/drain", guarded(core, (req) => {
    const args = decodeBody(req);
    const spec = isObject(args.DrainSpec) ? args.DrainSpec : null;
    const meta = isObject(args.Meta) ? args.Meta : null;
    const reply = core.nodes.drain(
      req.params.id ?? "",
      spec ? { Deadline: typeof spec.Deadline === "number" ? spec.Deadline : 0, IgnoreSystemJobs: spec.IgnoreSystemJobs === true } : null,
      args.MarkEligible === true,
      meta,
    );
    return written(reply.Index, reply);
  }));
  r.add(["PUT", "POST"], "/v1/node/:id/eligibility", guarded(core, (req) => {
    const args = decodeBody(req);
    const value = typeof args.Eligibility === "string" ? args.Eligibility : "";
    if (value === "") throw new NomadError(400, "invalid scheduling eligibility \"\"");
    const reply = core.nodes.eligibility(req.params.id ?? "", value);
    return written(reply.Index, reply);
  }));
  r.add(["PUT", "POST"], "/v1/node/:id/purge", guarded(core, (req) => {
    const reply = core.nodes.purge(req.params.id ?? "");
    return written(Number(reply.Index), reply);
  }));
}

/** Node reads accept an ID prefix of at least 4 characters when it is unambiguous, like the CLI relies on. */
function prefixMatch(core: NomadCore, prefix: string): ReturnType<typeof core.store.nodes.get> {
  if (prefix.length < 4) return undefined;
  const hits = [...core.store.nodes.values()].filter((n) => n.ID.startsWith(prefix));
  return hits.length === 1 ? hits[0] : undefined;
}

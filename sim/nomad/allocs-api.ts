import type { Router, SimReply, SimRequest } from "../core/http.js";
import type { NomadCore } from "./core.js";
import { ERR, NomadError } from "./errors.js";
import { refreshJob } from "./job-status.js";
import { blockingQuery, found, guarded, listQuery, missing, page, parseQuery, written, type QueryOpts } from "./query.js";
import { subjectOf } from "./scheduler.js";
import { allocStub, allocView, evalStub } from "./views.js";

/** Registers /v1/allocations, /v1/allocation/:id, /v1/evaluations and /v1/evaluation/:id. */
export function addAllocEvalRoutes(core: NomadCore, r: Router): void {
  const read = (h: (req: SimRequest, q: QueryOpts) => Promise<SimReply>) =>
    guarded(core, async (req) => {
      const q = parseQuery(core, req);
      return "status" in q ? q : h(req, q);
    });
  const inNs = (q: QueryOpts, namespace: string): boolean => q.namespace === "*" || q.namespace === namespace;

  r.add("GET", "/v1/allocations", read((req, q) =>
    listQuery(core, req, q, () => core.store.tableIdx("allocs"), () => {
      const allocs = [...core.store.allocs.values()].filter((a) => inNs(q, a.Namespace) && a.ID.startsWith(q.prefix));
      const p = page(allocs, q, (a) => `${a.CreateIndex}.${a.ID}`, allocStub);
      return { ok: true, body: p.items, ...(p.next ? { headers: { "X-Nomad-NextToken": p.next } } : {}) };
    }),
  ));
  r.add("GET", "/v1/allocation/:id", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const a = core.store.allocs.get(req.params.id ?? "");
      return { index: a ? a.ModifyIndex : core.store.tableIdx("allocs"), result: () => (a ? found(allocView(a)) : missing(ERR.allocNotFound)) };
    }),
  ));
  r.add(["PUT", "POST"], "/v1/allocation/:id/stop", guarded(core, (req) => {
    const a = core.store.allocs.get(req.params.id ?? "");
    if (!a) throw new NomadError(404, `Unknown allocation "${req.params.id ?? ""}"`);
    const ev = core.scheduler.newEval(subjectOf(a.job), "alloc-stop", { JobModifyIndex: a.job.JobModifyIndex });
    const idx = core.store.write("allocs", "evals", "jobs", "job_summary");
    a.DesiredTransition = { ...a.DesiredTransition, Migrate: true };
    a.ModifyIndex = idx;
    core.scheduler.submit(ev, idx);
    refreshJob(core, core.store.job(a.Namespace, a.JobID), idx);
    return written(idx, { EvalID: ev.ID, Index: idx });
  }));

  r.add("GET", "/v1/evaluations", read((req, q) =>
    listQuery(core, req, q, () => core.store.tableIdx("evals"), () => {
      const evals = [...core.store.evals.values()].filter((e) => inNs(q, e.Namespace) && e.ID.startsWith(q.prefix));
      const p = page(evals, q, (e) => `${e.CreateIndex}.${e.ID}`, (e) => e);
      return { ok: true, body: p.items, ...(p.next ? { headers: { "X-Nomad-NextToken": p.next } } : {}) };
    }),
  ));
  r.add("GET", "/v1/evaluation/:id/allocations", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const allocs = [...core.store.allocsByEval(req.params.id ?? "")];
      let index = 0;
      for (const a of allocs) index = Math.max(index, a.ModifyIndex);
      return { index: index || core.store.tableIdx("allocs"), result: () => found(allocs.map(allocStub)) };
    }),
  ));
  r.add("GET", "/v1/evaluation/:id", read((req, q) =>
    blockingQuery(core, req, q, () => {
      const e = core.store.evals.get(req.params.id ?? "");
      const related = req.query.get("related") === "true";
      return {
        index: e ? e.ModifyIndex : core.store.tableIdx("evals"),
        result: () => {
          if (!e) return missing(ERR.evalNotFound);
          if (!related) return found(e);
          const chain = relatedEvals(core, e.ID);
          return found({ ...e, RelatedEvals: chain.map(evalStub) });
        },
      };
    }),
  ));
}

/** The evaluations linked to one through NextEval, PreviousEval and BlockedEval. */
function relatedEvals(core: NomadCore, id: string): NonNullable<ReturnType<typeof core.store.evals.get>>[] {
  const seen = new Set<string>([id]);
  const out = [];
  const queue = [id];
  while (queue.length) {
    const e = core.store.evals.get(queue.shift() as string);
    if (!e) continue;
    for (const next of [e.NextEval, e.PreviousEval, e.BlockedEval]) {
      if (!next || seen.has(next)) continue;
      seen.add(next);
      const n = core.store.evals.get(next);
      if (n) {
        out.push(n);
        queue.push(next);
      }
    }
  }
  return out;
}

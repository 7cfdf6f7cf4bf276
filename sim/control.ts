import { Router, parseJsonBody, type SimReply, type SimRequest } from "./core/http.js";
import type { Sim } from "./index.js";
import type { FaultRule } from "./core/faults.js";
import type { MachineSpec } from "./core/world.js";

type SimParts = Omit<Sim, "urls" | "close">;

/**
 * The control API: the same operations as `sim.control`, over HTTP, so the
 * demo, a shell, or a test in another process can break the world.
 *
 *   GET    /sim/state                       machines, faults, clock
 *   POST   /sim/nodes            {cluster, name?, datacenter?, nodePool?, nodeClass?, meta?}
 *   POST   /sim/nodes/:id/kill | /revive
 *   POST   /sim/images/unhealthy {digest}   DELETE the same to clear
 *   POST   /sim/nomad/:cluster/versions/unhealthy {job, version}
 *   POST   /sim/faults           a FaultRule   DELETE /sim/faults[/:id]
 *   POST   /sim/partition        {on: boolean}
 *   POST   /sim/clock            {scale: number}
 *   GET    /sim/requests?server=&method=&path=   the request log
 */
export function controlRouter(sim: SimParts): Router {
  const r = new Router({
    notFound: (req) => ({ status: 404, body: { error: `no control endpoint ${req.method} ${req.path}` } }),
    methodNotAllowed: (req) => ({ status: 405, body: { error: `method ${req.method} not allowed on ${req.path}` } }),
  });
  const c = sim.control;
  r.add("GET", "/sim/state", () =>
    ok({
      timeScale: sim.clock.scale,
      now: sim.clock.now(),
      partitioned: sim.world.isPartitioned,
      machines: sim.world.list(),
      faults: sim.faults.list(),
    }),
  );
  r.add("POST", "/sim/nodes", (req) => withBody<MachineSpec>(req, (spec) => ok(c.addNode(spec))));
  r.add("POST", "/sim/nodes/:id/kill", (req) => attempt(() => ok(c.killNode(req.params.id ?? ""))));
  r.add("POST", "/sim/nodes/:id/revive", (req) => attempt(() => ok(c.reviveNode(req.params.id ?? ""))));
  r.add("POST", "/sim/images/unhealthy", (req) =>
    withBody<{ digest?: string }>(req, (b) => {
      if (!b.digest) return bad("digest is required");
      c.markImageUnhealthy(b.digest);
      return ok({ unhealthy: b.digest });
    }),
  );
  r.add("DELETE", "/sim/images/unhealthy", (req) =>
    withBody<{ digest?: string }>(req, (b) => {
      if (!b.digest) return bad("digest is required");
      c.clearImageUnhealthy(b.digest);
      return ok({ cleared: b.digest });
    }),
  );
  r.add("POST", "/sim/nomad/:cluster/versions/unhealthy", (req) =>
    withBody<{ job?: string; version?: number }>(req, (b) => {
      if (!b.job || typeof b.version !== "number") return bad("job (string) and version (number) are required");
      c.markVersionUnhealthy(req.params.cluster ?? "", b.job, b.version);
      return ok({ cluster: req.params.cluster, job: b.job, version: b.version });
    }),
  );
  r.add("POST", "/sim/faults", (req) => withBody<FaultRule>(req, (rule) => ok(c.addFault(rule))));
  r.add("DELETE", "/sim/faults", () => {
    c.clearFaults();
    return ok({ cleared: true });
  });
  r.add("DELETE", "/sim/faults/:id", (req) =>
    c.removeFault(req.params.id ?? "") ? ok({ removed: req.params.id }) : { status: 404, body: { error: `no fault ${req.params.id}` } },
  );
  r.add("POST", "/sim/partition", (req) =>
    withBody<{ on?: boolean }>(req, (b) => {
      if (typeof b.on !== "boolean") return bad("on (boolean) is required");
      c.partition(b.on);
      return ok({ partitioned: b.on });
    }),
  );
  r.add("POST", "/sim/clock", (req) =>
    withBody<{ scale?: number }>(req, (b) => {
      if (typeof b.scale !== "number") return bad("scale (number) is required");
      c.setTimeScale(b.scale);
      return ok({ scale: b.scale });
    }),
  );
  r.add("GET", "/sim/requests", (req) =>
    ok(
      sim.log.find({
        ...(req.query.get("server") ? { server: req.query.get("server") ?? "" } : {}),
        ...(req.query.get("method") ? { method: req.query.get("method") ?? "" } : {}),
        ...(req.query.get("path") ? { pathPrefix: req.query.get("path") ?? "" } : {}),
      }),
    ),
  );
  return r;
}

function ok(body: unknown): SimReply {
  return { status: 200, body };
}

function bad(error: string): SimReply {
  return { status: 400, body: { error } };
}

function attempt(fn: () => SimReply): SimReply {
  try {
    return fn();
  } catch (err) {
    return { status: 404, body: { error: (err as Error).message } };
  }
}

function withBody<T>(req: SimRequest, fn: (b: T) => SimReply): SimReply {
  const parsed = parseJsonBody<T>(req.body);
  if (!parsed.ok) return bad(`request body: ${parsed.error}`);
  if (typeof parsed.value !== "object" || parsed.value === null) return bad("request body must be a JSON object");
  try {
    return fn(parsed.value);
  } catch (err) {
    return bad((err as Error).message);
  }
}

import test from "ava";
import axios from "axios";
import { Router, serve } from "../../../sim/core/http.js";
import { FaultInjector, seededRandom } from "../../../sim/core/faults.js";
import { RequestLog } from "../../../sim/core/request-log.js";

async function server() {
  const router = new Router({
    notFound: () => ({ status: 404, body: "404 page not found" }),
    methodNotAllowed: () => ({ status: 405, body: "Invalid method" }),
  });
  router.add("GET", "/v1/thing/:id", (req) => ({ status: 200, body: { id: req.params.id } }));
  router.add("PUT", "/v1/kv/*key", (req) => ({ status: 200, body: { key: req.params.key } }));
  const faults = new FaultInjector(seededRandom(7));
  const log = new RequestLog();
  const srv = await serve({ name: "thing", router, faults, log });
  const http = axios.create({ baseURL: srv.url, validateStatus: () => true, timeout: 2_000 });
  return { srv, faults, log, http };
}

test("routes_params_and_fallbacks", async (t) => {
  const { srv, http } = await server();
  t.teardown(() => srv.close());
  t.deepEqual((await http.get("/v1/thing/a%20b")).data, { id: "a b" });
  t.deepEqual((await http.put("/v1/kv/a/b/c", "x")).data, { key: "a/b/c" });
  const wrong = await http.post("/v1/thing/a");
  t.is(wrong.status, 405);
  t.is(wrong.data, "Invalid method");
  t.is((await http.get("/nope")).status, 404);
});

test("throttle_fault_sends_429_with_retry_after_then_is_spent", async (t) => {
  const { srv, faults, http } = await server();
  t.teardown(() => srv.close());
  faults.add({ target: "thing", kind: "throttle", retryAfterS: 3, count: 1 });
  const first = await http.get("/v1/thing/x");
  t.is(first.status, 429);
  t.is(first.headers["retry-after"], "3");
  t.is((await http.get("/v1/thing/x")).status, 200);
});

test("error_fault_matches_method_and_path_only", async (t) => {
  const { srv, faults, http } = await server();
  t.teardown(() => srv.close());
  faults.add({ target: "thing", kind: "error", status: 503, method: "PUT", path: "/v1/kv/" });
  t.is((await http.get("/v1/thing/x")).status, 200);
  t.is((await http.put("/v1/kv/k", "v")).status, 503);
});

test("reset_fault_drops_connection", async (t) => {
  const { srv, faults, http, log } = await server();
  t.teardown(() => srv.close());
  faults.add({ target: "*", kind: "reset" });
  const err = await t.throwsAsync(http.get("/v1/thing/x"));
  t.regex(String((err as NodeJS.ErrnoException).code), /ECONNRESET|ERR_BAD_RESPONSE|ECONNABORTED/);
  t.is(log.find({ server: "thing" })[0]?.status, -1);
});

test("timeout_fault_leaves_request_hanging_until_client_gives_up", async (t) => {
  const { srv, faults, http } = await server();
  t.teardown(() => srv.close());
  faults.add({ target: "thing", kind: "timeout", path: "/^\\/v1\\/thing\\//" });
  const err = await t.throwsAsync(http.get("/v1/thing/x", { timeout: 150 }));
  t.is((err as NodeJS.ErrnoException).code, "ECONNABORTED");
});

test("rate_fires_on_about_that_share", async (t) => {
  const { srv, faults, http } = await server();
  t.teardown(() => srv.close());
  faults.add({ target: "thing", kind: "error", rate: 0.3 });
  let failed = 0;
  for (let i = 0; i < 200; i++) if ((await http.get("/v1/thing/x")).status === 500) failed++;
  t.true(failed > 30 && failed < 90, `30% of 200 should fail, ${failed} did`);
});

test("bad_rule_is_refused_with_field_named", (t) => {
  const f = new FaultInjector(seededRandom(1));
  t.throws(() => f.add({ target: "x", kind: "error", rate: 2 }), { message: /rate must be within 0\.\.1/ });
  t.throws(() => f.add({ target: "x", kind: "latency", path: "/([/" }), { message: /not a valid regular expression/ });
});

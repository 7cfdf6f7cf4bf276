import test from "ava";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { FaultInjector, seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { ConsulServer } from "../../sim/consul/index.js";
import { createMetrics } from "../../src/metrics.js";
import { InvalidInputError, TransientError } from "../../src/reconciler/core/outcome.js";
import { ConsulClient, goDuration, type ConsulClientOptions } from "../../src/sources/consul.js";
import { HttpStatusError } from "../../src/sources/http-client.js";

/** Steward's Consul client against sim Consul: tokens, answers that are not errors, error kinds, retries, timeouts, cancellation. */

const TOKEN = "3f1b2c4d-management-token";

interface Fixture {
  sim: ConsulServer;
  server: SimServer;
  faults: FaultInjector;
  client: (o?: Partial<ConsulClientOptions>) => ConsulClient;
  delays: number[];
}

async function startFixture(t: { teardown: (fn: () => Promise<void>) => void }, aclToken?: string): Promise<Fixture> {
  const clock = new Clock(1);
  const random = seededRandom(23);
  const sim = new ConsulServer({ clock, world: new World(() => clock.now()), random }, { datacenter: "dc1", ...(aclToken ? { aclToken } : {}) });
  const faults = new FaultInjector(random);
  const server = await serve({ name: "consul", router: sim.router, faults });
  const clients: ConsulClient[] = [];
  const delays: number[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    sim.close();
    clock.cancelAll();
    await server.close();
  });
  const client = (o: Partial<ConsulClientOptions> = {}): ConsulClient => {
    const c = new ConsulClient({
      address: server.url,
      // Retries record their delay instead of waiting it.
      delay: async (ms) => void delays.push(ms),
      ...o,
    });
    clients.push(c);
    return c;
  };
  return { sim, server, faults, client, delays };
}

test("values are bytes both ways, and a missing key is an answer with the index", async (t) => {
  const f = await startFixture(t);
  const c = f.client();
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]);
  t.true(await c.kvPut("bin/blob", bytes));
  const { entry, meta } = await c.kvGet("bin/blob");
  t.deepEqual(entry?.value, bytes);
  t.is(meta.index, f.sim.kvEntry("bin/blob")?.ModifyIndex ?? -1);

  const missing = await c.kvGet("bin/none");
  t.is(missing.entry, undefined);
  t.true(missing.meta.index > 0);
  t.deepEqual((await c.kvList("nothing/")).entries, []);
});

test("the token is asked for on every call, so a rotated token is used at once; a refused token never shows in the error", async (t) => {
  const f = await startFixture(t, TOKEN);
  let current = "stale-token-0000";
  const c = f.client({ token: () => current });
  const err = await t.throwsAsync(c.kvPut("k", "v"), { instanceOf: HttpStatusError });
  t.is((err as HttpStatusError | undefined)?.status, 403);
  t.false(JSON.stringify({ m: err?.message, c: (err as HttpStatusError | undefined)?.context }).includes(current));

  current = TOKEN;
  t.true(await c.kvPut("k", "v"));
  t.is(f.sim.kvEntry("k")?.Value.toString(), "v");
});

test("a read failing with 500 twice is retried and answers; the delays grow from the base", async (t) => {
  const f = await startFixture(t);
  const c = f.client({ retry: { baseMs: 100, capMs: 1000 }, random: () => 0.999 });
  await c.kvPut("rk", "v");
  f.faults.add({ target: "consul", method: "GET", path: "/v1/kv/rk", kind: "error", status: 500, count: 2 });
  const { entry } = await c.kvGet("rk");
  t.is(entry?.value.toString(), "v");
  t.deepEqual(f.delays, [99, 199]);
});

test("a call still failing after its attempts is a TransientError naming the endpoint; Retry-After is kept", async (t) => {
  const f = await startFixture(t);
  const c = f.client({ retry: { attempts: 2 } });
  f.faults.add({ target: "consul", path: "/v1/kv/", kind: "throttle", retryAfterS: 60 });
  const err = await t.throwsAsync(c.kvGet("x/y"), { instanceOf: TransientError });
  t.is(err?.context.endpoint, "GET /v1/kv/x/y");
  t.is((err as TransientError | undefined)?.retryAfterMs, 60_000, "longer than the cap: handed to the caller, not waited");
  t.deepEqual(f.delays, []);
});

test("lock operations and session creation are not repeated by the client", async (t) => {
  const f = await startFixture(t);
  const c = f.client();
  f.faults.add({ target: "consul", path: "/v1/session/create", kind: "error", status: 500, count: 1 });
  await t.throwsAsync(c.sessionCreate({ name: "s", ttlMs: 10_000, lockDelayMs: 0, behavior: "release" }), { instanceOf: TransientError });
  t.is(f.sim.sessionList().length, 0);
  const id = await c.sessionCreate({ name: "s", ttlMs: 10_000, lockDelayMs: 0, behavior: "release" });
  f.faults.add({ target: "consul", method: "PUT", path: "/v1/kv/lock", kind: "error", status: 500, count: 1 });
  await t.throwsAsync(c.kvPut("lock", "x", { acquire: id }), { instanceOf: TransientError });
  t.true(await c.kvPut("lock", "x", { acquire: id }));
  t.deepEqual(f.delays, []);
});

test("refused check-and-set, acquire and release are answers (false), not errors", async (t) => {
  const f = await startFixture(t);
  const c = f.client();
  t.true(await c.kvPut("cas", "1", { cas: 0 }));
  t.false(await c.kvPut("cas", "2", { cas: 0 }));
  const a = await c.sessionCreate({ name: "a", ttlMs: 10_000, lockDelayMs: 0, behavior: "release" });
  const b = await c.sessionCreate({ name: "b", ttlMs: 10_000, lockDelayMs: 0, behavior: "release" });
  t.true(await c.kvPut("l", "", { acquire: a }));
  t.false(await c.kvPut("l", "", { acquire: b }));
  t.false(await c.kvPut("l", "", { release: b }));
  t.false(await c.kvDelete("cas", { cas: 1 }));
});

test("sessions: created with the TTL and lock-delay asked, renewed, and a renewal of an ended session is false", async (t) => {
  const f = await startFixture(t);
  const c = f.client();
  const id = await c.sessionCreate({ name: "steward-x", ttlMs: 15_000, lockDelayMs: 5_000, behavior: "release" });
  const info = await c.sessionInfo(id);
  t.like(info, { ID: id, Name: "steward-x", TTL: "15s", Behavior: "release", LockDelay: 5e9 });
  t.true(await c.sessionRenew(id));
  await c.sessionDestroy(id);
  t.false(await c.sessionRenew(id));
  t.is(await c.sessionInfo(id), undefined);
  await t.notThrowsAsync(c.sessionDestroy(id), "destroying twice is fine");
});

test("a request the server does not answer times out as a TransientError", async (t) => {
  const f = await startFixture(t);
  const metrics = createMetrics({ defaultMetrics: false });
  const c = f.client({ timeoutMs: 50, retry: { attempts: 1 }, metrics });
  f.faults.add({ target: "consul", path: "/v1/kv/slow", kind: "timeout" });
  const err = await t.throwsAsync(c.kvGet("slow"), { instanceOf: TransientError });
  t.regex(err?.message ?? "", /timed out/);
  const counted = (await metrics.apiRequestsTotal.get()).values.find((v) => v.labels.code === "timeout" && v.labels.target === "consul");
  t.is(counted?.value, 1);
});

test("a blocking read answers at the change, and aborting it ends it at once", async (t) => {
  const f = await startFixture(t);
  const c = f.client();
  await c.kvPut("w/k", "1");
  const { meta } = await c.kvGet("w/k");
  const blocked = c.kvGet("w/k", { index: meta.index, waitMs: 10_000 });
  await c.kvPut("w/k", "2");
  t.is((await blocked).entry?.value.toString(), "2");

  const ac = new AbortController();
  const { meta: now } = await c.kvGet("w/k");
  const pending = c.kvGet("w/k", { index: now.index, waitMs: 10_000, signal: ac.signal });
  const started = Date.now();
  ac.abort();
  await t.throwsAsync(pending, { instanceOf: TransientError, message: /aborted/ });
  t.true(Date.now() - started < 1000);
});

test("a server that refuses the request's content is InvalidInputError; no server at all is TransientError", async (t) => {
  const f = await startFixture(t);
  const c = f.client({ retry: { attempts: 1 } });
  await t.throwsAsync(c.kvPut("big", Buffer.alloc(600 * 1024)), { instanceOf: InvalidInputError });
  const nowhere = f.client({ address: "http://127.0.0.1:1", retry: { attempts: 1 } });
  await t.throwsAsync(nowhere.kvGet("x"), { instanceOf: TransientError, message: /ECONNREFUSED/ });
});

test("durations go to Consul as Go durations", (t) => {
  t.is(goDuration(15_000), "15s");
  t.is(goDuration(1_500), "1500ms");
});

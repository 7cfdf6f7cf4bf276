// RegistryClient against sim's registry, for what the Debian 2.8 server
// cannot show here: tag paging with Link (compat "3"), the bearer-token flow
// (2.8 needs an external token server) and injected 429s and 5xxs.
import test from "ava";
import { Clock as SimClock } from "../../sim/core/clock.js";
import { FaultInjector, seededRandom } from "../../sim/core/faults.js";
import { serve } from "../../sim/core/http.js";
import { RequestLog } from "../../sim/core/request-log.js";
import { World } from "../../sim/core/world.js";
import { RegistryServer, type RegistryAuth, type RegistryCompat } from "../../sim/registry/index.js";
import { RegistryAuthError, RegistryClient, type RegistryClientOptions } from "../../src/sources/registry.js";
import { TransientError } from "../../src/reconciler/core/outcome.js";
import { FakeClock } from "../helpers/clock.js";
import { eventually } from "../helpers/eventually.js";

interface SimRegistry {
  registry: RegistryServer;
  log: RequestLog;
  faults: FaultInjector;
  clock: SimClock;
  repo: (name: string) => string;
}

async function startSim(t: { teardown: (fn: () => Promise<void>) => void }, opts: { auth?: RegistryAuth; compat?: RegistryCompat } = {}): Promise<SimRegistry> {
  const clock = new SimClock(1);
  const registry = new RegistryServer({ clock, world: new World(() => clock.now()), random: seededRandom(3) }, { notifications: [], ...opts });
  const log = new RequestLog();
  const faults = new FaultInjector(seededRandom(5));
  const srv = await serve({ name: "registry", router: registry.router, log, faults });
  registry.setBaseUrl(srv.url);
  t.teardown(async () => {
    registry.close();
    await srv.close();
  });
  return { registry, log, faults, clock, repo: (name) => `127.0.0.1:${srv.port}/${name}` };
}

/** A client whose waits between attempts are recorded, not slept. */
function clientWith(opts: RegistryClientOptions = {}, attempts = 4): { client: RegistryClient; delays: number[] } {
  const delays: number[] = [];
  const client = new RegistryClient({
    ...opts,
    http: {
      retry: { attempts },
      delay: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
    },
  });
  return { client, delays };
}

const tokenCalls = (s: SimRegistry): number => s.log.find({ pathPrefix: "/token" }).length;

test("listTags follows Link pages to the end (v3 paging)", async (t) => {
  const s = await startSim(t, { compat: "3" });
  const want: string[] = [];
  for (let i = 1; i <= 25; i++) {
    s.registry.pushImage("team/app", `build-${i}`);
    want.push(`build-${i}`);
  }
  const { client } = clientWith({ tagsPageSize: 10 });
  t.deepEqual(await client.listTags(s.repo("team/app")), want.sort());
  t.is(s.log.find({ method: "GET", pathPrefix: "/v2/team/app/tags/list" }).length, 3);
});

test("basic auth: credentials are asked for and sent after the Basic challenge, then with every call", async (t) => {
  const s = await startSim(t, { auth: { type: "basic", username: "ci", password: "pw" } });
  const digest = s.registry.pushImage("team/app", "build-1");
  const asked: string[] = [];
  const { client } = clientWith({
    credentials: (registry) => {
      asked.push(registry);
      return { username: "ci", password: "pw" };
    },
  });
  t.deepEqual(await client.listTags(s.repo("team/app")), ["build-1"]);
  t.is((await client.resolveDigest(s.repo("team/app"), "build-1")).digest, digest);
  t.deepEqual(
    s.log.find({ pathPrefix: "/v2/team/app" }).map((e) => e.status),
    [401, 200, 200],
  );
  t.true(asked.length > 0 && asked.every((r) => r === s.repo("").slice(0, -1)));
});

test("bearer auth: the token is fetched once from the challenge's realm and reused across calls", async (t) => {
  const s = await startSim(t, { auth: { type: "bearer", username: "ci", password: "pw" } });
  const digest = s.registry.pushImage("team/app", "build-1");
  s.registry.pushImage("team/app", "build-2");
  const { client } = clientWith({ credentials: () => ({ username: "ci", password: "pw" }) });
  t.deepEqual(await client.listTags(s.repo("team/app")), ["build-1", "build-2"]);
  t.is((await client.resolveDigest(s.repo("team/app"), "build-1")).digest, digest);
  await client.resolveDigest(s.repo("team/app"), "build-2");
  t.is(tokenCalls(s), 1);
  t.deepEqual(
    s.log.find({ pathPrefix: "/v2/team/app" }).map((e) => e.status),
    [401, 200, 200, 200],
  );
});

test("bearer auth: an expired token is not sent; a new one is fetched", async (t) => {
  const s = await startSim(t, { auth: { type: "bearer", username: "ci", password: "pw", expiresInS: 300 } });
  s.registry.pushImage("team/app", "build-1");
  const clock = new FakeClock();
  const { client } = clientWith({ credentials: () => ({ username: "ci", password: "pw" }), clock });
  await client.listTags(s.repo("team/app"));
  await clock.advance(300_000);
  await client.listTags(s.repo("team/app"));
  t.is(tokenCalls(s), 2);
});

test("bearer auth: a token the registry refuses is dropped and fetched afresh once", async (t) => {
  const s = await startSim(t, { auth: { type: "bearer", username: "ci", password: "pw", expiresInS: 300 } });
  s.registry.pushImage("team/app", "build-1");
  // The client's clock stands still, so it still trusts its token when the registry has expired it (skew, revocation).
  const { client } = clientWith({ credentials: () => ({ username: "ci", password: "pw" }), clock: new FakeClock() });
  await client.listTags(s.repo("team/app"));
  const expiry = s.clock.now() + 300_000;
  s.clock.setScale(1_000_000);
  await eventually(() => s.clock.now() > expiry);
  s.clock.setScale(1);
  t.deepEqual(await client.listTags(s.repo("team/app")), ["build-1"]);
  t.is(tokenCalls(s), 2);
  t.deepEqual(
    s.log.find({ pathPrefix: "/v2/team/app" }).map((e) => e.status),
    [401, 200, 401, 200],
  );
});

test("bearer auth: wrong credentials end in a RegistryAuthError naming the repository and token service, retried only after a minute", async (t) => {
  const s = await startSim(t, { auth: { type: "bearer", username: "ci", password: "pw" } });
  s.registry.pushImage("team/app", "build-1");
  const { client } = clientWith({ credentials: () => ({ username: "ci", password: "wrong" }) });
  const err = await t.throwsAsync(client.listTags(s.repo("team/app")), { instanceOf: RegistryAuthError });
  t.regex(err?.message ?? "", /\/team\/app: token service http:\/\/127\.0\.0\.1:\d+\/token refused the credentials of ci \(401\)/);
  t.is(err?.retryAfterMs, 60_000);
  t.false(err?.message.includes("wrong"));
});

test("429 with Retry-After: the client waits what the registry asks, then succeeds", async (t) => {
  const s = await startSim(t);
  s.registry.pushImage("team/app", "build-1");
  s.faults.add({ target: "registry", path: "/v2/team/app/tags/list", kind: "throttle", retryAfterS: 2, count: 2 });
  const { client, delays } = clientWith();
  t.deepEqual(await client.listTags(s.repo("team/app")), ["build-1"]);
  t.deepEqual(delays, [2000, 2000]);
});

test("5xx that persists: a TransientError naming the repository after the allowed attempts", async (t) => {
  const s = await startSim(t);
  s.registry.pushImage("team/app", "build-1");
  s.faults.add({ target: "registry", path: "/v2/team/app/manifests/", kind: "error", status: 503 });
  const { client, delays } = clientWith({}, 3);
  const err = await t.throwsAsync(client.resolveDigest(s.repo("team/app"), "build-1"), { instanceOf: TransientError });
  t.regex(err?.message ?? "", /^127\.0\.0\.1:\d+\/team\/app: HEAD \/v2\/team\/app\/manifests\/build-1: 503/);
  t.is(delays.length, 2);
});

test("429 asking for longer than the cap: handed to the queue with retryAfterMs, not waited inside the call", async (t) => {
  const s = await startSim(t);
  s.registry.pushImage("team/app", "build-1");
  s.faults.add({ target: "registry", path: "/v2/team/app/tags/list", kind: "throttle", retryAfterS: 120 });
  const { client, delays } = clientWith();
  const err = await t.throwsAsync(client.listTags(s.repo("team/app")), { instanceOf: TransientError });
  t.is(err?.retryAfterMs, 120_000);
  t.deepEqual(delays, []);
});

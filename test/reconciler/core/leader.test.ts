import test from "ava";
import Consul from "consul";
import { Clock } from "../../../sim/core/clock.js";
import { World } from "../../../sim/core/world.js";
import { FaultInjector, seededRandom } from "../../../sim/core/faults.js";
import { serve, type SimServer } from "../../../sim/core/http.js";
import { ConsulServer } from "../../../sim/consul/index.js";
import { LeaderElector, type LeaderElectorOptions } from "../../../src/reconciler/core/leader.js";
import { ConsulClient } from "../../../src/sources/consul.js";
import { eventually } from "../../helpers/eventually.js";

/**
 * Leader election against sim Consul through the real `consul` client.
 * Sim Consul's session TTL and lock-delay run on the sim clock, and so do the
 * electors' own timers (the sim clock is passed as their Clock), at SCALE sim
 * ms per real ms: a 10 s TTL (Consul's minimum) passes in 1 s. A sampler
 * reads every elector's isLeader every 2 ms for the whole test and fails it
 * if two ever lead at once.
 */

const SCALE = 10;
const TTL = 10_000;
const LOCK_DELAY = 2_000;
const MARGIN = 2_000;

interface Fixture {
  clock: Clock;
  sim: ConsulServer;
  server: SimServer;
  faults: FaultInjector;
  raw: Consul;
  electors: LeaderElector[];
  /** Sim time of each leadership change, in order. */
  events: Array<{ at: number; id: string; leader: boolean }>;
  /** The most electors ever seen leading at one sample. */
  maxLeaders: () => number;
  add: (id: string, extra?: Partial<LeaderElectorOptions>) => LeaderElector;
  leaders: () => LeaderElector[];
}

async function startFixture(t: { teardown: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const clock = new Clock(SCALE);
  const random = seededRandom(17);
  const sim = new ConsulServer({ clock, world: new World(() => clock.now()), random }, { datacenter: "dc1" });
  const faults = new FaultInjector(random);
  const server = await serve({ name: "consul", router: sim.router, faults });
  const raw = new Consul({ host: "127.0.0.1", port: server.port });
  const clients: ConsulClient[] = [];
  const electors: LeaderElector[] = [];
  const events: Fixture["events"] = [];
  let max = 0;
  // Every look at the electors, the sampler's and the test's own, counts toward the maximum.
  const leaders = (): LeaderElector[] => {
    const l = electors.filter((e) => e.isLeader);
    max = Math.max(max, l.length);
    return l;
  };
  const sampler = setInterval(leaders, 2);
  const add = (id: string, extra: Partial<LeaderElectorOptions> = {}): LeaderElector => {
    const consul = new ConsulClient({ address: server.url, clock, timeoutMs: 2_000 });
    clients.push(consul);
    const e = new LeaderElector({
      consul,
      instanceId: id,
      address: `http://${id}:8080`,
      ttlMs: TTL,
      lockDelayMs: LOCK_DELAY,
      stepDownMarginMs: MARGIN,
      waitMs: 5_000,
      retryBaseMs: 200,
      retryCapMs: 1_000,
      clock,
      random: seededRandom(id.length),
      ...extra,
    });
    e.onChange((leader) => events.push({ at: clock.now(), id, leader }));
    electors.push(e);
    e.start();
    return e;
  };
  t.teardown(async () => {
    clearInterval(sampler);
    await Promise.all(electors.map((e) => e.abandon()));
    for (const c of clients) c.close();
    raw.destroy();
    sim.close();
    clock.cancelAll();
    await server.close();
  });
  return { clock, sim, server, faults, raw, electors, events, maxLeaders: () => max, add, leaders };
}

/** The one leader, once there is exactly one. */
async function soleLeader(f: Fixture, timeoutMs = 3_000): Promise<LeaderElector> {
  return eventually(
    () => {
      const l = f.leaders();
      if (l.length !== 1 || !l[0]) throw new Error(`${l.length} leaders`);
      return l[0];
    },
    { timeoutMs, intervalMs: 2 },
  );
}

const idOf = (f: Fixture, e: LeaderElector): string => `e${f.electors.indexOf(e) + 1}`;

test.serial("two electors: exactly one leads, the key names it, and both report it", async (t) => {
  const f = await startFixture(t);
  f.add("e1");
  f.add("e2");
  const leader = await soleLeader(f);
  const id = idOf(f, leader);

  const entry = f.sim.kvEntry("steward/leader");
  t.truthy(entry?.Session, "the key is locked");
  t.is(f.sim.sessionList().find((s) => s.ID === entry?.Session)?.Name, `steward-${id}`);
  t.like(JSON.parse(entry?.Value.toString("utf8") ?? "{}"), { instanceId: id, address: `http://${id}:8080` });
  for (const e of f.electors) {
    const who = await eventually(() => e.currentLeader(), { timeoutMs: 2000 });
    t.is(who?.instanceId, id);
  }
  t.is(f.maxLeaders(), 1);
});

test.serial("three electors: one leader; stopping it hands over within TTL + lock-delay and leaves no session behind", async (t) => {
  const f = await startFixture(t);
  f.add("e1");
  f.add("e2");
  f.add("e3");
  const first = await soleLeader(f);
  const firstSession = f.sim.kvEntry("steward/leader")?.Session;

  const stoppedAt = f.clock.now();
  await first.stop();
  t.false(first.isLeader);
  t.false(f.sim.sessionList().some((s) => s.ID === firstSession), "the stopped leader's session is destroyed");

  const next = await soleLeader(f);
  const tookOver = f.events.find((e) => e.leader && e.at >= stoppedAt && e.id !== idOf(f, first));
  t.truthy(tookOver);
  t.true((tookOver?.at ?? Infinity) - stoppedAt < TTL + LOCK_DELAY, `took over after ${(tookOver?.at ?? 0) - stoppedAt} sim ms`);
  t.is(next.currentLeader()?.instanceId, idOf(f, next));
  t.is(f.maxLeaders(), 1);
});

test.serial("a crashed leader is replaced only after its session expired and the lock-delay passed", async (t) => {
  const f = await startFixture(t);
  f.add("e1");
  f.add("e2");
  const crashed = await soleLeader(f);
  const session = f.sim.kvEntry("steward/leader")?.Session;
  let expiredAt: number | undefined;
  const expiry = setInterval(() => {
    if (expiredAt === undefined && !f.sim.sessionList().some((s) => s.ID === session)) expiredAt = f.clock.now();
  }, 2);
  t.teardown(() => clearInterval(expiry));

  const crashedAt = f.clock.now();
  await crashed.abandon();
  t.truthy(f.sim.kvEntry("steward/leader")?.Session, "a crash releases nothing");

  await soleLeader(f, 6_000);
  const tookOver = f.events.find((e) => e.leader && e.at >= crashedAt && e.id !== idOf(f, crashed));
  const at = tookOver?.at ?? 0;
  t.truthy(expiredAt, "the session expired");
  t.true(at - crashedAt >= TTL, `not before the TTL: took over ${at - crashedAt} sim ms after the crash`);
  // One sample (2 ms real) of slack for when expiry was seen.
  t.true(at >= (expiredAt ?? Infinity) + LOCK_DELAY - 2 * SCALE, `lock-delay respected: took over ${at - (expiredAt ?? 0)} sim ms after expiry`);
  t.true(at - crashedAt <= 2 * TTL + 2 * LOCK_DELAY + 1_000, `took over ${at - crashedAt} sim ms after the crash`);
  t.is(f.maxLeaders(), 1);
});

test.serial("renewals failing: the leader steps down before its TTL, never two leaders, and one leads again once Consul recovers", async (t) => {
  const f = await startFixture(t);
  f.add("e1");
  f.add("e2");
  const leader = await soleLeader(f);
  const id = idOf(f, leader);

  const fault = f.faults.add({ target: "consul", method: "PUT", path: "/v1/session/renew/", kind: "error", status: 500 });
  const faultAt = f.clock.now();
  await eventually(() => !leader.isLeader, { timeoutMs: 3_000, intervalMs: 2 });
  const down = f.events.find((e) => e.id === id && !e.leader);
  t.truthy(down, "listeners heard the step-down");
  // The last successful renewal was sent before the fault, so its TTL ends before faultAt + TTL.
  t.true((down?.at ?? Infinity) - faultAt < TTL - MARGIN / 2, `stepped down ${(down?.at ?? 0) - faultAt} sim ms into the fault`);
  const next = f.events.find((e) => e.leader && e.at > (down?.at ?? 0));
  if (next) t.true(next.at >= (down?.at ?? 0), "any next leader came after the step-down");

  f.faults.remove(fault.id);
  await soleLeader(f, 5_000);
  t.is(f.maxLeaders(), 1, "never two leaders at once");
});

test.serial("a leader whose session is destroyed behind its back steps down before anyone else leads", async (t) => {
  const f = await startFixture(t);
  f.add("e1");
  f.add("e2");
  const leader = await soleLeader(f);
  const session = f.sim.kvEntry("steward/leader")?.Session ?? "";
  await f.raw.session.destroy(session);
  await eventually(() => !leader.isLeader, { timeoutMs: 2_000, intervalMs: 2 });
  await soleLeader(f, 5_000);
  t.is(f.maxLeaders(), 1);
});

test("options that would step down before the first renewal are refused, naming the field", (t) => {
  const consul = new ConsulClient({ address: "http://127.0.0.1:1" });
  const err = t.throws(() => new LeaderElector({ consul, instanceId: "x", address: "a", ttlMs: 15_000, renewIntervalMs: 10_000, stepDownMarginMs: 5_000 }), {
    instanceOf: RangeError,
  });
  t.regex(err?.message ?? "", /^stepDownMarginMs:/);
});

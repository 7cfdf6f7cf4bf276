import test from "ava";
import { Writable } from "node:stream";
import Consul from "consul";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { ConsulServer } from "../../sim/consul/index.js";
import { ConsulKvWriter } from "../../src/actuators/consul-kv.js";
import { PromotionJournalStore } from "../../src/actuators/journal.js";
import { createLogger } from "../../src/log.js";
import { ConflictError } from "../../src/reconciler/core/outcome.js";
import { newRecord, transition, type PromotionRecord } from "../../src/reconciler/promotion/journal.js";
import { ConsulClient } from "../../src/sources/consul.js";

/** The promotion journal in Consul KV, asserted as the state sim Consul holds afterwards. */

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const T0 = Date.UTC(2026, 10, 25, 12, 0);

interface Fixture {
  sim: ConsulServer;
  consul: ConsulClient;
  writer: ConsulKvWriter;
  raw: Consul;
}

async function startFixture(t: { teardown: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const clock = new Clock(1);
  const sim = new ConsulServer({ clock, world: new World(() => clock.now()), random: seededRandom(13) }, { datacenter: "dc1" });
  const server: SimServer = await serve({ name: "consul", router: sim.router });
  const consul = new ConsulClient({ address: server.url });
  const raw = new Consul({ host: "127.0.0.1", port: server.port });
  t.teardown(async () => {
    raw.destroy();
    consul.close();
    sim.close();
    clock.cancelAll();
    await server.close();
  });
  return { sim, consul, raw, writer: new ConsulKvWriter(consul) };
}

const stored = (f: Fixture, key: string): PromotionRecord | undefined => {
  const e = f.sim.kvEntry(key);
  return e ? (JSON.parse(e.Value.toString("utf8")) as PromotionRecord) : undefined;
};

const fresh = (digest = D1, at = T0): PromotionRecord => newRecord({ service: "web", digest, tag: "build-7", stages: ["qa", "prod"] }, at);
const enter = (r: PromotionRecord, at = T0 + 1): PromotionRecord => transition(r, { type: "enter", stage: "qa", reason: "StageEntered", message: "qa runs it" }, at);

test("advance creates a record with cas 0 at steward/journal/promotion/<service>/<digest>, then only at the index read", async (t) => {
  const f = await startFixture(t);
  const store = new PromotionJournalStore(f.consul, f.writer);
  const created = await store.advance(fresh(), 0);
  t.is(stored(f, `steward/journal/promotion/web/${D1}`)?.status, "active");
  t.is(created.modifyIndex, f.sim.kvEntry(`steward/journal/promotion/web/${D1}`)?.ModifyIndex ?? -1);

  const next = await store.advance(enter(created.record), created.modifyIndex);
  t.is(stored(f, store.keyOf("web", D1))?.stages[0]?.status, "entering");
  t.true(next.modifyIndex > created.modifyIndex);
  t.deepEqual((await store.load("web", D1))?.record, next.record);
});

test("a lost check-and-set is a ConflictError and the stored step is the winner's", async (t) => {
  const f = await startFixture(t);
  const store = new PromotionJournalStore(f.consul, f.writer);
  const created = await store.advance(fresh(), 0);
  // Two leaders read the same record; the first one's step wins.
  await store.advance(enter(created.record), created.modifyIndex);
  const err = await t.throwsAsync(store.advance(transition(enter(created.record), { type: "deploymentStarted", stage: "qa", message: "x" }, T0 + 2), created.modifyIndex), { instanceOf: ConflictError });
  t.is(err?.context.service, "web");
  t.is(stored(f, store.keyOf("web", D1))?.stages[0]?.status, "entering", "the loser wrote nothing");
  await t.throwsAsync(store.advance(fresh(), 0), { instanceOf: ConflictError }, "a second create of the same digest loses");
});

test("history is cut to the limit on write", async (t) => {
  const f = await startFixture(t);
  const store = new PromotionJournalStore(f.consul, f.writer, { historyLimit: 2 });
  let r = enter(fresh());
  for (let i = 0; i < 4; i++) r = transition(r, { type: "enter", stage: "qa", reason: "RegisterReissued", message: `again ${i}` }, T0 + 10 + i);
  await store.advance(r, 0);
  t.deepEqual(stored(f, store.keyOf("web", D1))?.history.map((h) => h.message), ["again 2", "again 3"]);
});

test("list returns one service's records oldest first; an unreadable one is logged and left out", async (t) => {
  const f = await startFixture(t);
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  const store = new PromotionJournalStore(f.consul, f.writer, { logger });
  await store.advance(fresh(D2, T0 + 5), 0);
  await store.advance(fresh(D1, T0), 0);
  await store.advance({ ...fresh(D1), service: "api" }, 0);
  await f.raw.kv.set(`steward/journal/promotion/web/sha256:broken`, "{nope");

  t.deepEqual((await store.list("web")).map((e) => e.record.digest), [D1, D2]);
  t.deepEqual([...(await store.listAll()).keys()].sort(), ["api", "web"]);
  t.is(await store.load("web", "sha256:none"), undefined);
  t.true(lines.some((l) => l.includes("unreadable record")));
});

test("prune keeps failed records, the newest finished ones and the one a stage runs", async (t) => {
  const f = await startFixture(t);
  const store = new PromotionJournalStore(f.consul, f.writer, { keepFinished: 1 });
  const digest = (n: number): string => `sha256:${String(n).repeat(64)}`;
  const passQa = (r: PromotionRecord, at: number): PromotionRecord => {
    let x = transition(r, { type: "enter", stage: "qa", reason: "StageEntered", message: "m" }, at);
    x = transition(x, { type: "deploymentSucceeded", stage: "qa", gates: [], message: "m" }, at);
    return transition(x, { type: "stagePassed", stage: "qa", message: "m" }, at);
  };
  const one = (d: string, at: number): PromotionRecord => newRecord({ service: "web", digest: d, stages: ["qa"] }, at);
  await store.advance(passQa(one(digest(3), T0 + 3), T0 + 3), 0); // promoted, runs in qa now
  await store.advance(passQa(one(digest(4), T0 + 1), T0 + 1), 0); // promoted, oldest
  await store.advance(passQa(one(digest(5), T0 + 2), T0 + 2), 0); // promoted
  const failed = transition(transition(one(digest(6), T0), { type: "enter", stage: "qa", reason: "StageEntered", message: "m" }, T0), { type: "failed", stage: "qa", reason: "GateFailed", message: "m" }, T0);
  await store.advance(failed, 0);

  t.is(await store.prune("web"), 1);
  t.deepEqual((await store.list("web")).map((e) => e.record.digest).sort(), [digest(3), digest(5), digest(6)]);
});

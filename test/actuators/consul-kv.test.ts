import test from "ava";
import { Writable } from "node:stream";
import { ConsulKvWriter, SyncStateStore } from "../../src/actuators/consul-kv.js";
import { startConsulSim, type ConsulSim } from "../helpers/consul-sim.js";
import { createLogger } from "../../src/log.js";
import { ConflictError } from "../../src/reconciler/core/outcome.js";

/** Steward's writes to Consul KV, asserted as the state sim Consul holds afterwards. */

type Fixture = ConsulSim & { writer: ConsulKvWriter };

async function startFixture(t: { teardown: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const c = await startConsulSim(t);
  return { ...c, writer: new ConsulKvWriter(c.consul) };
}

const stored = (f: Fixture, key: string): unknown => {
  const e = f.sim.kvEntry(key);
  return e ? JSON.parse(e.Value.toString("utf8")) : undefined;
};

test("putJson stores JSON, and a check-and-set against a moved key is a ConflictError that leaves the key alone", async (t) => {
  const f = await startFixture(t);
  t.true(await f.writer.putJson("steward/journal/x", { step: 1 }, { cas: 0 }));
  t.deepEqual(stored(f, "steward/journal/x"), { step: 1 });
  const seen = f.sim.kvEntry("steward/journal/x")?.ModifyIndex ?? 0;

  await t.throwsAsync(f.writer.putJson("steward/journal/x", { step: 9 }, { cas: 0 }), { instanceOf: ConflictError }, "cas 0 never overwrites");
  t.true(await f.writer.putJson("steward/journal/x", { step: 2 }, { cas: seen }));
  const err = await t.throwsAsync(f.writer.putJson("steward/journal/x", { step: 3 }, { cas: seen, context: { service: "web" } }), { instanceOf: ConflictError });
  t.deepEqual(stored(f, "steward/journal/x"), { step: 2 }, "the lost write changed nothing");
  t.is(err?.context.service, "web");
  t.is(err?.context.endpoint, "PUT /v1/kv/steward/journal/x");

  t.true(await f.writer.putJson("steward/journal/x", { step: 4 }), "without cas the write always applies");
  t.deepEqual(stored(f, "steward/journal/x"), { step: 4 });
});

test("deleteKey removes a key, a stale cas delete is a ConflictError, and deleting an absent key succeeds", async (t) => {
  const f = await startFixture(t);
  await f.writer.putJson("steward/a", 1);
  await f.writer.putJson("steward/tree/b", 2);
  await f.writer.putJson("steward/tree/c", 3);
  const stale = f.sim.kvEntry("steward/a")?.ModifyIndex ?? 0;
  await f.writer.putJson("steward/a", 10);

  await t.throwsAsync(f.writer.deleteKey("steward/a", { cas: stale }), { instanceOf: ConflictError });
  t.deepEqual(stored(f, "steward/a"), 10);
  t.true(await f.writer.deleteKey("steward/a"));
  t.is(f.sim.kvEntry("steward/a"), undefined);
  t.true(await f.writer.deleteKey("steward/a"), "already gone is fine");
  await f.writer.deleteKey("steward/tree/", { recurse: true });
  t.deepEqual(f.sim.kvEntries().map((e) => e.Key), []);
});

test("sync state: records round-trip per env and job, a job ID with a slash stays one key", async (t) => {
  const f = await startFixture(t);
  const store = new SyncStateStore(f.consul, f.writer, { clock: { now: () => Date.UTC(2025, 4, 1), setTimeout: () => ({ cancel: () => undefined }) } });
  await store.putApplied("qa", "web", { jobModifyIndex: 17, specHash: "h-web", revision: "abc123" });
  await store.putApplied("prod", "web", { jobModifyIndex: 40, specHash: "h-web", revision: "abc123", at: "2025-01-01T00:00:00.000Z" });
  await store.putApplied("qa", "batch/nightly", { jobModifyIndex: 3, specHash: "h-b", revision: "abc123" });

  t.deepEqual(stored(f, "steward/state/sync/qa/web"), { jobModifyIndex: 17, specHash: "h-web", revision: "abc123", at: "2025-05-01T00:00:00.000Z" });
  t.truthy(f.sim.kvEntry("steward/state/sync/qa/batch%2Fnightly"), "the slash is encoded in the key");

  const applied = await store.loadApplied();
  t.deepEqual([...applied.keys()].sort(), ["prod/web", "qa/batch/nightly", "qa/web"]);
  t.is(applied.get("prod/web")?.jobModifyIndex, 40);
  t.is(applied.get("qa/batch/nightly")?.specHash, "h-b");

  await store.deleteApplied("qa", "web");
  t.is(f.sim.kvEntry("steward/state/sync/qa/web"), undefined);
  t.false((await store.loadApplied()).has("qa/web"));
});

test("sync state: an unreadable record is left out and logged, the others load", async (t) => {
  const f = await startFixture(t);
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  const store = new SyncStateStore(f.consul, f.writer, { logger });
  await store.putApplied("qa", "web", { jobModifyIndex: 1, specHash: "h", revision: "r" });
  await f.raw.kv.set("steward/state/sync/qa/broken", "{not json");
  await f.raw.kv.set("steward/state/sync/qa/wrong-shape", JSON.stringify({ jobModifyIndex: "7" }));
  await f.raw.kv.set("steward/state/sync/qa/", "");

  const applied = await store.loadApplied();
  t.deepEqual([...applied.keys()], ["qa/web"]);
  const warned = lines.map((l) => JSON.parse(l) as { msg: string; nomad_job?: string }).filter((l) => l.msg.includes("unreadable"));
  t.deepEqual(warned.map((l) => l.nomad_job).sort(), ["broken", "wrong-shape"]);
  t.is(await store.loadApplied().then((m) => m.size), 1, "loading twice reads the same");
});

test("sync state: nothing recorded yet loads as an empty map", async (t) => {
  const f = await startFixture(t);
  const store = new SyncStateStore(f.consul, f.writer);
  t.is((await store.loadApplied()).size, 0);
});

test("controls: putControl writes a note under steward/control/, deleteControl removes it, sync-now moves on every request", async (t) => {
  const f = await startFixture(t);
  await f.writer.putControl({ kind: "pause", service: "web" }, { by: "alice", reason: "incident 7" });
  const note = stored(f, "steward/control/pause/web") as { by: string; reason: string; at: string };
  t.is(note.by, "alice");
  t.is(note.reason, "incident 7");
  t.false(Number.isNaN(Date.parse(note.at)));

  await f.writer.putControl({ kind: "prune-override", env: "prod" });
  t.truthy(f.sim.kvEntry("steward/control/prune-override/prod"));

  await f.writer.putControl({ kind: "sync-now" });
  const first = f.sim.kvEntry("steward/control/sync-now")?.ModifyIndex ?? 0;
  await f.writer.putControl({ kind: "sync-now" });
  t.true((f.sim.kvEntry("steward/control/sync-now")?.ModifyIndex ?? 0) > first, "two requests, two writes");

  await f.writer.deleteControl({ kind: "pause", service: "web" });
  t.is(f.sim.kvEntry("steward/control/pause/web"), undefined);
  await t.notThrowsAsync(f.writer.deleteControl({ kind: "pause" }), "turning off a switch that is off succeeds");
});

import test from "ava";
import Consul from "consul";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve } from "../../sim/core/http.js";
import { ConsulServer } from "../../sim/consul/index.js";
import { ConsulClient, type KvEntry } from "../../src/sources/consul.js";
import {
  NO_CONTROLS,
  ControlsSource,
  controlPath,
  controlsFromEntries,
  isPaused,
  parseControlPath,
  syncNowRequested,
  type Controls,
  type ControlSwitch,
} from "../../src/sources/controls.js";
import { eventually } from "../helpers/eventually.js";

/** The runtime switches under `steward/control/`: how keys read as switches, and the watch against sim Consul. */

const PREFIX = "steward/control/";
let modifyIndex = 10;
const entry = (path: string, value = ""): KvEntry => ({
  key: `${PREFIX}${path}`,
  value: Buffer.from(value),
  flags: 0,
  lockIndex: 0,
  createIndex: 1,
  modifyIndex: ++modifyIndex,
});

interface Row {
  name: string;
  keys: Array<[string, string?]>;
  expect: { all: boolean; services: string[]; pruneOverride: string[]; syncNow: boolean; unknown: string[] };
}

const none = { all: false, services: [], pruneOverride: [], syncNow: false, unknown: [] };

const rows: Row[] = [
  { name: "empty_prefix_switches_nothing_on", keys: [], expect: none },
  { name: "pause_key_pauses_everything", keys: [["pause", '{"by":"ops"}']], expect: { ...none, all: true } },
  { name: "empty_pause_value_still_pauses", keys: [["pause"]], expect: { ...none, all: true } },
  { name: "pause_false_means_not_paused", keys: [["pause", "false"], ["pause/web", " OFF\n"]], expect: none },
  { name: "pause_service_pauses_only_that_service", keys: [["pause/web"], ["pause/api", "deploy freeze"]], expect: { ...none, services: ["api", "web"] } },
  { name: "prune_override_names_its_environment", keys: [["prune-override/prod", "ticket-42"]], expect: { ...none, pruneOverride: ["prod"] } },
  { name: "sync_now_is_seen_whatever_its_value", keys: [["sync-now", "false"]], expect: { ...none, syncNow: true } },
  { name: "folder_keys_are_skipped", keys: [["pause/"], ["prune-override/"]], expect: none },
  {
    name: "unknown_keys_are_listed_not_obeyed",
    keys: [["pasue"], ["pause/web/extra"], ["prune-override/has space"], ["freeze"]],
    expect: { ...none, unknown: ["pasue", "pause/web/extra", "prune-override/has space", "freeze"] },
  },
];

for (const row of rows) {
  test(`controls: ${row.name}`, (t) => {
    const c = controlsFromEntries(PREFIX, row.keys.map(([p, v]) => entry(p, v)), 99);
    t.is(c.paused.all, row.expect.all);
    t.deepEqual([...c.paused.services].sort(), row.expect.services);
    t.deepEqual([...c.pruneOverride].sort(), row.expect.pruneOverride);
    t.is(c.syncNowIndex > 0, row.expect.syncNow);
    t.deepEqual(c.unknown, row.expect.unknown);
  });
}

test("notes keep each switch's value for status", (t) => {
  const c = controlsFromEntries(PREFIX, [entry("pause/web", "deploy freeze until 14:00")], 5);
  t.is(c.notes.get("pause/web"), "deploy freeze until 14:00");
  t.true(isPaused(c, "web"));
  t.false(isPaused(c, "api"));
  t.false(isPaused(c, undefined));
});

test("freeze_names_its_environment_and_keeps_who_and_why", (t) => {
  const c = controlsFromEntries(PREFIX, [entry("freeze/prod", '{"by":"ana","reason":"release night","at":"2026-11-25T20:00:00.000Z"}'), entry("freeze/qa", "incident 42")], 5);
  t.deepEqual(Object.fromEntries(c.frozen), { prod: { by: "ana", reason: "release night", at: "2026-11-25T20:00:00.000Z" }, qa: { reason: "incident 42" } });
  t.deepEqual(c.unknown, []);
});

test("freeze_false_is_not_frozen", (t) => {
  const c = controlsFromEntries(PREFIX, [entry("freeze/prod", "off")], 5);
  t.is(c.frozen.size, 0);
});

test("ack_short_circuit_names_its_pool_with_who_why_and_the_index_to_delete_it_at", (t) => {
  const note = entry("ack-short-circuit/workers", JSON.stringify({ at: "2026-11-25T19:00:00.000Z", by: "alice via cli", reason: "rack 4 lost" }));
  const c = controlsFromEntries(PREFIX, [note, entry("ack-short-circuit/servers", "off"), entry("ack-short-circuit/edge", "looked at it")], 7);
  t.deepEqual(c.shortCircuitAcks.get("workers"), { at: "2026-11-25T19:00:00.000Z", by: "alice via cli", reason: "rack 4 lost", modifyIndex: note.modifyIndex });
  t.false(c.shortCircuitAcks.has("servers"), "an off value acknowledges nothing");
  t.is(c.shortCircuitAcks.get("edge")?.reason, "looked at it", "a hand-written value is taken as the reason");
  t.deepEqual(c.unknown, []);
  t.false(c.paused.all);
});

const switches: ControlSwitch[] = [{ kind: "pause" }, { kind: "pause", service: "web" }, { kind: "sync-now" }, { kind: "prune-override", env: "prod" }, { kind: "freeze", env: "prod" }, { kind: "ack-short-circuit", pool: "workers" }];
for (const s of switches) {
  test(`control path round-trips: ${controlPath(s)}`, (t) => {
    t.deepEqual(parseControlPath(controlPath(s)), s);
  });
}

const at = (index: number, syncNowIndex: number): Controls => ({ ...NO_CONTROLS, index, syncNowIndex });
const syncRows: Array<{ name: string; prev: Controls | undefined; next: Controls; want: boolean }> = [
  { name: "first_answer_never_asks_for_a_resync", prev: undefined, next: at(5, 5), want: false },
  { name: "new_sync_now_write_asks_for_a_resync", prev: at(5, 5), next: at(9, 9), want: true },
  { name: "sync_now_created_asks_for_a_resync", prev: at(5, 0), next: at(9, 9), want: true },
  { name: "unchanged_sync_now_does_not", prev: at(5, 5), next: at(9, 5), want: false },
  { name: "deleted_sync_now_does_not", prev: at(5, 5), next: at(9, 0), want: false },
];
for (const r of syncRows) {
  test(`sync-now: ${r.name}`, (t) => {
    t.is(syncNowRequested(r.prev, r.next), r.want);
  });
}

test("the watch follows switches written with the real client, and each sync-now write asks once", async (t) => {
  const clock = new Clock(1);
  const sim = new ConsulServer({ clock, world: new World(() => clock.now()), random: seededRandom(5) }, { datacenter: "dc1" });
  const server = await serve({ name: "consul", router: sim.router });
  const writer = new Consul({ host: "127.0.0.1", port: server.port });
  const consul = new ConsulClient({ address: server.url });
  const source = new ControlsSource({ consul, waitMs: 10_000 });
  t.teardown(async () => {
    await source.stop();
    writer.destroy();
    consul.close();
    sim.close();
    clock.cancelAll();
    await server.close();
  });
  const resyncs: number[] = [];
  const changes: Controls[] = [];
  source.onChange((next, prev) => {
    changes.push(next);
    if (syncNowRequested(prev, next)) resyncs.push(next.syncNowIndex);
  });
  await writer.kv.set("steward/control/sync-now", "at startup");
  t.is(source.current, NO_CONTROLS, "nothing is on before Consul answered");
  source.start();
  await source.whenSynced();
  t.false(source.current.paused.all);

  await writer.kv.set("steward/control/pause", "incident 7");
  await eventually(() => source.current.paused.all, { timeoutMs: 2000 });
  await writer.kv.set("steward/control/pause/web", "");
  await writer.kv.set("steward/control/prune-override/prod", "ticket-42");
  await eventually(() => source.current.paused.services.has("web") && source.current.pruneOverride.has("prod"), { timeoutMs: 2000 });
  await writer.kv.del("steward/control/pause");
  await eventually(() => !source.current.paused.all, { timeoutMs: 2000 });
  t.true(isPaused(source.current, "web"), "the per-service pause outlives the global one");

  t.deepEqual(resyncs, [], "the sync-now key present at startup asked for nothing");
  await writer.kv.set("steward/control/sync-now", "1");
  await eventually(() => resyncs.length === 1, { timeoutMs: 2000 });
  // Consul skips a write of the same value (ModifyIndex stays), so each request writes a new one.
  await writer.kv.set("steward/control/sync-now", "2");
  await eventually(() => resyncs.length === 2, { timeoutMs: 2000 });
  t.is(resyncs[1], sim.kvEntry("steward/control/sync-now")?.ModifyIndex, "each write asks once more");
  t.true(changes.every((c, i) => i === 0 || c.index > (changes[i - 1]?.index ?? 0)), "changes arrive in index order");
});

import test from "ava";
import { LiveHub, type LiveCollectionSource } from "../../src/server/live-hub.js";
import type { LiveMessage, LiveSections } from "../../src/server/live-types.js";
import { FakeClock } from "../helpers/clock.js";

const SECTIONS: LiveSections = {
  instance: { id: "a", startedAt: "2026-01-01T00:00:00.000Z", leading: true, access: { actionsEnabled: false } },
  revision: { lastSyncByEnv: {} },
  controls: { paused: false, pausedServices: [], notes: {} },
  environments: { names: ["qa"] },
};

function world(bufferSize = 10): { hub: LiveHub; items: Map<string, { v: number }>; clock: FakeClock; sent: LiveMessage[] } {
  const clock = new FakeClock(0);
  const items = new Map<string, { v: number }>([
    ["qa/web", { v: 1 }],
    ["qa/api", { v: 1 }],
  ]);
  const src: LiveCollectionSource<{ v: number }> = { list: () => items.entries(), get: (k) => items.get(k) };
  const hub = new LiveHub({ sections: () => SECTIONS, clock, bufferSize, flushMs: 50 });
  hub.register("sync", src);
  hub.flush();
  const sent: LiveMessage[] = [];
  hub.subscribe((m) => sent.push(m));
  return { hub, items, clock, sent };
}

test("a_touched_key_is_sent_only_when_its_value_changed", (t) => {
  const { hub, items, sent } = world();
  hub.touch("sync", "qa/web");
  hub.flush();
  t.is(sent.length, 0, "same value: nothing sent");
  items.set("qa/web", { v: 2 });
  hub.touch("sync", "qa/web");
  hub.touch("sync", "qa/api");
  hub.flush();
  t.is(sent.length, 1);
  t.deepEqual(sent[0]?.type === "patch" ? sent[0].data : undefined, { set: { sync: { "qa/web": { v: 2 } } } });
});

test("changes_within_the_flush_window_become_one_patch", async (t) => {
  const { hub, items, clock, sent } = world();
  items.set("qa/web", { v: 2 });
  hub.touch("sync", "qa/web");
  await clock.advance(20);
  items.set("qa/api", { v: 2 });
  hub.touch("sync", "qa/api");
  t.is(sent.length, 0, "nothing before the window ends");
  await clock.advance(30);
  t.is(sent.length, 1);
  const patch = sent[0]?.type === "patch" ? sent[0].data : undefined;
  t.deepEqual(Object.keys(patch?.set?.sync ?? {}).sort(), ["qa/api", "qa/web"]);
});

test("a_key_that_is_gone_is_deleted_and_a_full_touch_finds_it", (t) => {
  const { hub, items, sent } = world();
  items.delete("qa/api");
  hub.touch("sync");
  hub.flush();
  t.deepEqual(sent[0]?.type === "patch" ? sent[0].data : undefined, { del: { sync: ["qa/api"] } });
});

test("an_event_follows_the_patch_of_its_key", (t) => {
  const { hub, items, sent } = world();
  items.set("qa/web", { v: 3 });
  hub.record({ loop: "sync", kind: "register", key: "qa/web", env: "qa", service: "web", message: "qa/web: register" });
  hub.flush();
  t.deepEqual(
    sent.map((m) => m.type),
    ["patch", "event"],
  );
  const ev = sent[1]?.type === "event" ? sent[1].data : undefined;
  t.is(ev?.id, sent[1]?.id, "the event carries its stream id");
  t.is(ev?.level, "info");
});

const resumeRows: Array<{ name: string; lastId: (hub: LiveHub, ids: string[]) => string | undefined; replays: number | "snapshot" }> = [
  { name: "no_last_event_id_gets_a_snapshot", lastId: () => undefined, replays: "snapshot" },
  { name: "an_id_in_the_buffer_replays_what_followed", lastId: (_h, ids) => ids[ids.length - 3], replays: 2 },
  { name: "the_latest_id_replays_nothing", lastId: (_h, ids) => ids[ids.length - 1], replays: 0 },
  { name: "an_id_of_another_epoch_gets_a_snapshot", lastId: () => "deadbeef-3", replays: "snapshot" },
  { name: "an_id_older_than_the_buffer_gets_a_snapshot", lastId: (h) => `${h.epoch}-1`, replays: "snapshot" },
  { name: "an_id_from_the_future_gets_a_snapshot", lastId: (h) => `${h.epoch}-9999`, replays: "snapshot" },
  { name: "garbage_gets_a_snapshot", lastId: () => "not an id", replays: "snapshot" },
];

for (const row of resumeRows) {
  test(`resume: ${row.name}`, (t) => {
    const { hub, sent } = world(5);
    for (let i = 0; i < 12; i++) hub.record({ loop: "sync", kind: "x", message: `event ${i}` });
    hub.flush();
    const ids = sent.map((m) => m.id);
    const { missed } = hub.subscribe(() => undefined, row.lastId(hub, ids));
    if (row.replays === "snapshot") t.is(missed, undefined);
    else t.deepEqual(missed?.map((m) => m.id), ids.slice(ids.length - row.replays));
  });
}

test("the_snapshot_holds_every_item_the_sections_and_recent_events", (t) => {
  const { hub, sent } = world();
  hub.record({ loop: "leader", kind: "leader", message: "a leads" });
  hub.flush();
  const snap = hub.snapshot();
  t.deepEqual(Object.keys(snap.collections.sync).sort(), ["qa/api", "qa/web"]);
  t.is(snap.sections.instance.id, "a");
  t.deepEqual(snap.events.map((e) => e.message), ["a leads"]);
  t.is(snap.at, sent[sent.length - 1]?.id ?? "", "current at the latest message sent");
});

test("a_closed_hub_sends_nothing", (t) => {
  const { hub, items, sent } = world();
  hub.close();
  items.set("qa/web", { v: 9 });
  hub.touch("sync", "qa/web");
  hub.record({ loop: "sync", kind: "x", message: "late" });
  hub.flush();
  t.is(sent.length, 0);
});

test("touched_sections_are_sent_within_the_flush_window_not_at_the_tick", async (t) => {
  const clock = new FakeClock(0);
  let sections: LiveSections = SECTIONS;
  const hub = new LiveHub({ sections: () => sections, clock, flushMs: 50, sectionTickMs: 1_000 });
  t.teardown(() => hub.close());
  hub.flush();
  const sent: LiveMessage[] = [];
  hub.subscribe((m) => sent.push(m));
  const standby = { id: "b", address: "http://b", startedAt: "2026-01-01T00:00:00.000Z", ready: true, leading: false };
  sections = { ...SECTIONS, instance: { ...SECTIONS.instance, instances: [standby] } };
  hub.touchSections();
  await clock.advance(50);
  t.is(sent.length, 1, "sent after the flush window, long before the 1 s tick");
  t.deepEqual(sent[0]?.type === "patch" ? sent[0].data.sections?.instance?.instances : undefined, [standby]);
  hub.touchSections();
  await clock.advance(50);
  t.is(sent.length, 1, "unchanged sections are not sent again");
});

test("the_resume_buffer_keeps_no_more_items_than_its_bound", (t) => {
  const clock = new FakeClock(0);
  const items = new Map<string, { v: number }>(Array.from({ length: 6 }, (_, i) => [`qa/j${i}`, { v: 0 }]));
  const hub = new LiveHub({ sections: () => SECTIONS, clock, bufferSize: 100, bufferItems: 4 });
  hub.register("sync", { list: () => items.entries(), get: (k) => items.get(k) });
  const sent: LiveMessage[] = [];
  hub.subscribe((m) => sent.push(m));
  hub.flush();
  const big = sent.length - 1; // the first diff carries all 6 items: more than the bound
  items.set("qa/j0", { v: 1 });
  hub.touch("sync", "qa/j0");
  hub.flush();
  const small = sent.length - 1;
  t.is(hub.subscribe(() => undefined, sent[big - 1]?.id ?? `${hub.epoch}-0`).missed, undefined, "a page that missed the 6-item patch gets a snapshot");
  t.deepEqual(
    hub.subscribe(() => undefined, sent[big]?.id).missed?.map((m) => m.id),
    [sent[small]?.id],
    "a page that had it resumes with the small one",
  );
});

test("an_item_changed_back_and_forth_is_sent_each_time", (t) => {
  const { hub, items, sent } = world();
  for (const v of [2, 1, 2]) {
    items.set("qa/web", { v });
    hub.touch("sync", "qa/web");
    hub.flush();
  }
  t.deepEqual(
    sent.map((m) => (m.type === "patch" ? m.data.set?.sync?.["qa/web"] : undefined)),
    [{ v: 2 }, { v: 1 }, { v: 2 }],
  );
});

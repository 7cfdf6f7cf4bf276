import test from "ava";
import { DaemonLive, instanceViews } from "../../src/server/live-daemon.js";
import type { ActionAuthorization } from "../../src/server/live-routes.js";
import type { ConsulKvWriter } from "../../src/actuators/consul-kv.js";
import type { Controls } from "../../src/sources/controls.js";
import { createLogger } from "../../src/log.js";
import { computeStatus, type KeyStatus } from "../../src/reconciler/core/status.js";
import type { ActionRecord } from "../../src/reconciler/core/outcome.js";
import { MemorySyncStateStore, SyncLoop } from "../../src/reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../../src/reconciler/sync/clients.js";
import type { InstanceInfo } from "../../src/reconciler/core/presence.js";

const AT = "2026-11-25T10:00:00.000Z";
const info = (id: string, ready = true, notReady?: string): InstanceInfo => ({ instanceId: id, address: `http://${id}:8080`, startedAt: AT, ready, ...(notReady ? { notReady } : {}) });

const rows: Array<{ name: string; list: InstanceInfo[]; leader: string | undefined; want: Array<[string, boolean]> }> = [
  { name: "the_leader_comes_first_then_standbys_by_id", list: [info("c"), info("b"), info("a")], leader: "b", want: [["b", true], ["a", false], ["c", false]] },
  { name: "nobody_leads_every_instance_is_a_standby", list: [info("b"), info("a")], leader: undefined, want: [["a", false], ["b", false]] },
  { name: "a_leader_without_a_presence_key_is_not_invented", list: [info("a")], leader: "z", want: [["a", false]] },
];
for (const row of rows) {
  test(`instances: ${row.name}`, (t) => {
    t.deepEqual(instanceViews(row.list, row.leader).map((v) => [v.id, v.leading]), row.want);
  });
}

test("instances: a_standby_that_is_not_ready_says_why", (t) => {
  t.deepEqual(instanceViews([info("a", false, "the desired state has not been read yet")], undefined), [
    { id: "a", address: "http://a:8080", startedAt: AT, ready: false, notReady: "the desired state has not been read yet", leading: false },
  ]);
});

// ---- onSyncStatus: a pass worth nothing new costs nothing ----

const registered = { kind: "register", reason: "JobMissing", result: "changed", message: "the job is not running in Nomad" } as const;
const inSync = { kind: "noop", reason: "InSync", result: "unchanged", message: "up to date" } as const;
let passNo = 0;
/** The status after one more pass of `qa/web`, as the runner computes it. */
function after(prev: KeyStatus | undefined, pass: { action?: ActionRecord; error?: Error }): KeyStatus {
  passNo++;
  return computeStatus(prev, "qa/web", {
    outcome: pass.error ? { result: "retry" } : { result: "done" },
    ...(pass.error ? { error: pass.error, nextInMs: 500 } : {}),
    actions: pass.action ? [pass.action] : [],
    now: Date.UTC(2026, 10, 25, 10, 0, passNo),
    reconcileId: `r${passNo}`,
    failures: pass.error ? 1 : 0,
  });
}

function aLive(): { live: DaemonLive; touched: string[]; events: string[] } {
  const logger = createLogger({ level: "silent" });
  const sync = new SyncLoop({ clients: new NomadClients({ tokens: envTokens, logger }), store: new MemorySyncStateStore(), logger });
  const live = new DaemonLive({
    instanceId: "a",
    startedAt: () => 0,
    sync,
    elector: { isLeader: true, currentLeader: () => undefined },
    controls: () => ({ paused: { all: false, services: new Set() } }) as unknown as Controls,
    writer: {} as ConsulKvWriter,
    logger,
    authorize: () => ({ ok: false, status: 401, reason: "none" }) as unknown as ActionAuthorization,
    actionsEnabled: () => false,
    hub: { flushMs: 3_600_000 },
  });
  const touched: string[] = [];
  const events: string[] = [];
  const touch = live.hub.touch.bind(live.hub);
  live.hub.touch = (name, key) => {
    if (name === "sync" && key !== undefined) touched.push(key);
    touch(name, key);
  };
  const record = live.hub.record.bind(live.hub);
  live.hub.record = (e) => {
    events.push(e.kind);
    record(e);
  };
  return { live, touched, events };
}

const passRows: Array<{ rule: string; passes: Array<{ action?: ActionRecord; error?: Error }>; touched: number; events: string[] }> = [
  { rule: "a_first_pass_updates_the_cell", passes: [{ action: inSync }], touched: 1, events: [] },
  { rule: "a_register_then_the_first_in_sync_pass_both_update_it", passes: [{ action: registered }, { action: inSync }], touched: 2, events: ["register"] },
  { rule: "passes_that_repeat_in_sync_do_nothing", passes: [{ action: inSync }, { action: inSync }, { action: inSync }], touched: 1, events: [] },
  { rule: "an_action_that_changed_something_again_is_news", passes: [{ action: registered }, { action: registered }], touched: 2, events: ["register", "register"] },
  { rule: "a_failure_and_the_recovery_update_it", passes: [{ action: inSync }, { error: new Error("nomad unreachable") }, { action: inSync }], touched: 3, events: ["error", "recovered"] },
];

for (const row of passRows) {
  test(`sync status: ${row.rule}`, (t) => {
    const { live, touched, events } = aLive();
    t.teardown(() => live.close());
    let st: KeyStatus | undefined;
    let passesThatTouched = 0;
    for (const p of row.passes) {
      st = after(st, p);
      const before = touched.length;
      live.onSyncStatus(st);
      if (touched.length > before) passesThatTouched++;
    }
    t.is(passesThatTouched, row.touched, "passes whose cell is recomputed");
    t.deepEqual(events, row.events);
  });
}

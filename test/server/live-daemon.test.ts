import test from "ava";
import { instanceViews } from "../../src/server/live-daemon.js";
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

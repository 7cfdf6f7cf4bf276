// The instance list against sim's Consul: each instance's presence key
// (reconciler/core/presence.ts) appears when it starts, changes with its
// readiness, and is gone when it stops or its session times out.
import type { NetworkInterfaceInfo } from "node:os";
import test from "ava";
import { Clock } from "../../sim/core/clock.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve } from "../../sim/core/http.js";
import { World } from "../../sim/core/world.js";
import { ConsulServer } from "../../sim/consul/index.js";
import { InstancePresence, advertisedUrl, parseInstanceInfo } from "../../src/reconciler/core/presence.js";
import { ConsulClient } from "../../src/sources/consul.js";
import { InstancesWatch } from "../../src/sources/instances.js";
import { startConsulSim } from "../helpers/consul-sim.js";
import { eventually } from "../helpers/eventually.js";

function presence(consul: ConsulClient, id: string, ready: { ready: boolean; reasons: string[] } = { ready: true, reasons: [] }): InstancePresence {
  return new InstancePresence({ consul, instanceId: id, address: `http://10.0.0.${id.length}:8080`, startedAt: Date.parse("2026-11-25T10:00:00Z"), readiness: () => ready, ttlMs: 10_000, renewIntervalMs: 200 });
}

test("the_list_shows_an_instance_that_starts_and_drops_one_that_stops", async (t) => {
  const { consul } = await startConsulSim(t);
  let wakes = 0;
  const watch = new InstancesWatch({ consul, waitMs: 5_000, onChange: () => wakes++ });
  t.teardown(() => watch.stop());
  watch.start();
  await eventually(() => watch.synced);
  t.deepEqual(watch.list(), []);

  let renewals = 0;
  const renew = consul.sessionRenew.bind(consul);
  consul.sessionRenew = (id, ms) => {
    renewals++;
    return renew(id, ms);
  };
  const a = presence(consul, "steward-a");
  const b = presence(consul, "steward-b", { ready: false, reasons: ["the desired state has not been read yet"] });
  t.teardown(() => Promise.all([a.stop(), b.stop()]).then(() => undefined));
  a.start();
  b.start();
  await eventually(() => watch.list().length === 2);
  t.deepEqual(watch.list(), [
    { instanceId: "steward-a", address: "http://10.0.0.9:8080", startedAt: "2026-11-25T10:00:00.000Z", ready: true },
    { instanceId: "steward-b", address: "http://10.0.0.9:8080", startedAt: "2026-11-25T10:00:00.000Z", ready: false, notReady: "the desired state has not been read yet" },
  ]);

  // Renewals that change nothing write nothing: the list's watchers are not woken every renewal.
  const settled = wakes;
  const index = (await consul.kvList("steward/instances/")).meta.index;
  const seen = renewals;
  await eventually(() => renewals >= seen + 6, { timeoutMs: 5_000 });
  t.is((await consul.kvList("steward/instances/")).meta.index, index, "no write while nothing changed");
  t.is(wakes, settled);

  await b.stop();
  await eventually(() => watch.list().map((i) => i.instanceId).join() === "steward-a", { timeoutMs: 5_000 });
});

test("a_readiness_flip_is_announced_at_the_next_renewal", async (t) => {
  const { consul } = await startConsulSim(t);
  const state = { ready: false, reasons: ["not every environment's Nomad jobs have been read yet"] };
  const p = presence(consul, "steward-c", state);
  t.teardown(() => p.stop());
  p.start();
  const read = async () => parseInstanceInfo((await consul.kvGet("steward/instances/steward-c")).entry?.value.toString("utf8") ?? "");
  await eventually(async () => (await read())?.ready === false);
  state.ready = true;
  state.reasons = [];
  await eventually(async () => (await read())?.ready === true, { timeoutMs: 3_000 });
  t.like(await read(), { instanceId: "steward-c", ready: true, notReady: undefined });
});

test("a_crashed_instance_leaves_the_list_when_its_session_times_out", async (t) => {
  // Consul time runs 20x faster: the 10 s TTL (ended at up to 2 x TTL) passes in about a second.
  const clock = new Clock(20);
  const sim = new ConsulServer({ clock, world: new World(() => clock.now()), random: seededRandom(3) }, { datacenter: "dc1" });
  const server = await serve({ name: "consul", router: sim.router });
  const consul = new ConsulClient({ address: server.url });
  t.teardown(async () => {
    consul.close();
    sim.close();
    clock.cancelAll();
    await server.close();
  });
  const watch = new InstancesWatch({ consul, waitMs: 5_000 });
  t.teardown(() => watch.stop());
  watch.start();
  const p = presence(consul, "steward-d");
  p.start();
  await eventually(() => watch.list().length === 1);
  await p.abandon();
  const crashed = Date.now();
  await eventually(() => watch.list().length === 0, { timeoutMs: 5_000 });
  t.true(Date.now() - crashed < 5_000);
  t.is((await consul.kvGet("steward/instances/steward-d")).entry, undefined, "Consul deleted the key with the session (behavior delete)");
});

test("a_key_no_session_holds_is_not_an_instance", async (t) => {
  const { consul } = await startConsulSim(t);
  await consul.kvPut("steward/instances/by-hand", JSON.stringify({ instanceId: "by-hand", address: "http://x", startedAt: "2026-11-25T10:00:00Z", ready: true }));
  const watch = new InstancesWatch({ consul, waitMs: 5_000 });
  t.teardown(() => watch.stop());
  watch.start();
  await eventually(() => watch.synced);
  t.deepEqual(watch.list(), []);
});

const nic = (address: string, internal = false): NetworkInterfaceInfo => ({ address, internal, family: "IPv4", netmask: "255.255.255.0", mac: "00:00:00:00:00:00", cidr: `${address}/24` });
const advertiseRows: Array<{ name: string; url: string; want: string }> = [
  { name: "a_specific_address_is_told_as_it_is", url: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080" },
  { name: "every_interface_is_told_as_the_machines_own_address", url: "http://0.0.0.0:8080", want: "http://10.1.2.3:8080" },
  { name: "every_ipv6_interface_too", url: "http://[::]:8080", want: "http://10.1.2.3:8080" },
];
for (const row of advertiseRows) {
  test(`advertised_url: ${row.name}`, (t) => {
    t.is(advertisedUrl(row.url, { lo: [nic("127.0.0.1", true)], eth0: [nic("10.1.2.3")] }), row.want);
  });
}
test("advertised_url: a_machine_without_an_external_address_keeps_the_url", (t) => {
  t.is(advertisedUrl("http://0.0.0.0:8080", { lo: [nic("127.0.0.1", true)] }), "http://0.0.0.0:8080");
});

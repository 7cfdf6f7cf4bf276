import test from "ava";
import Consul from "consul";
import { startConsul, type ConsulHarness } from "../../sim/consul/loopback.js";
import { eventually } from "../helpers/eventually.js";

/**
 * Node health as the World drives it, read through the real `consul`
 * client: serfHealth follows machines dying, coming back, leaving, and a
 * partition between agents and servers. Failure detection takes 5 sim
 * seconds; the clock runs at 50x, so 100 ms.
 */

const SCALE = 50;
const DETECTION_MS = 5000;

interface Check {
  Node: string;
  CheckID: string;
  Status: string;
  Output: string;
}

let h: ConsulHarness;
let consul: Consul;

test.before(async () => {
  h = await startConsul({ scale: SCALE, failureDetectionMs: DETECTION_MS });
  consul = new Consul({ host: "127.0.0.1", port: h.server.port });
});

test.after.always(async () => {
  consul.destroy();
  await h.close();
});

async function serf(node: string): Promise<Check | undefined> {
  const checks = (await consul.health.node(node)) as Check[];
  return checks.find((c) => c.CheckID === "serfHealth");
}

test.serial("a booted machine joins the catalog with a passing serfHealth", async (t) => {
  const m = h.ctx.world.addMachine({ cluster: "qa", name: "web-1", meta: { rack: "r1" } });
  const nodes = (await consul.catalog.node.list()) as Array<{ Node: string; Address: string; Meta: Record<string, string>; Datacenter: string }>;
  const node = nodes.find((n) => n.Node === "web-1");
  t.like(node, { Address: m.address, Datacenter: "dc1", Meta: { rack: "r1", "consul-network-segment": "" } });
  t.like(await serf("web-1"), { Status: "passing", Output: "Agent alive and reachable" });
  t.like(await serf(h.consul.serverName), { Status: "passing" }, "the server's own node");
});

test.serial("a killed machine turns critical after failure detection, and passes again once revived", async (t) => {
  h.ctx.world.addMachine({ cluster: "qa", name: "web-2" });
  const killedAt = h.ctx.clock.now();
  h.ctx.world.kill("web-2");
  t.is((await serf("web-2"))?.Status, "passing", "gossip has not noticed yet");
  await eventually(async () => (await serf("web-2"))?.Status === "critical");
  t.true(h.ctx.clock.now() - killedAt >= DETECTION_MS, "not before the failure-detection delay");
  t.is((await serf("web-2"))?.Output, "Agent not live or unreachable");
  t.is(h.consul.members().find((m) => m.name === "web-2")?.status, 4, "a failed Serf member");

  h.ctx.world.revive("web-2");
  t.is((await serf("web-2"))?.Status, "passing", "a rejoin is seen at once");
});

test.serial("a machine revived before detection never turns critical", async (t) => {
  h.ctx.world.addMachine({ cluster: "qa", name: "web-3" });
  h.ctx.world.kill("web-3");
  h.ctx.world.revive("web-3");
  const until = h.ctx.clock.now() + 2 * DETECTION_MS;
  await eventually(() => h.ctx.clock.now() > until);
  t.is((await serf("web-3"))?.Status, "passing");
});

test.serial("health of a service filters out instances on a failed node with ?passing", async (t) => {
  for (const name of ["api-1", "api-2"]) {
    const m = h.ctx.world.addMachine({ cluster: "qa", name });
    await consul.catalog.register({ node: name, address: m.address, service: { service: "api", port: 8080 } });
  }
  h.ctx.world.kill("api-2");
  await eventually(async () => (await serf("api-2"))?.Status === "critical");
  const all = (await consul.health.service("api")) as Array<{ Node: { Node: string } }>;
  const passing = (await consul.health.service({ service: "api", passing: true })) as Array<{ Node: { Node: string } }>;
  t.deepEqual(all.map((e) => e.Node.Node), ["api-1", "api-2"]);
  t.deepEqual(passing.map((e) => e.Node.Node), ["api-1"]);
  const critical = (await consul.health.state("critical")) as Check[];
  t.true(critical.some((c) => c.Node === "api-2" && c.CheckID === "serfHealth"));
  h.ctx.world.revive("api-2");
});

test.serial("a session tied to a node's serfHealth ends when the node fails, releasing its lock", async (t) => {
  h.ctx.world.addMachine({ cluster: "qa", name: "worker-1" });
  const s = await consul.session.create({ node: "worker-1", lockdelay: "0s" });
  t.true((await consul.kv.set({ key: "jobs/lock", value: "w1", acquire: s.ID })) === true);
  h.ctx.world.kill("worker-1");
  await eventually(async () => ((await consul.kv.get("jobs/lock")) as { Session?: string } | undefined)?.Session === undefined);
  t.deepEqual(await consul.session.node("worker-1"), []);
  const err = await t.throwsAsync(consul.session.create({ node: "worker-1" }));
  t.regex(err?.message ?? "", /Check 'serfHealth' is in critical state/);
});

test.serial("a removed machine leaves the catalog", async (t) => {
  h.ctx.world.addMachine({ cluster: "qa", name: "gone-1" });
  t.truthy(await serf("gone-1"));
  h.ctx.world.remove("gone-1");
  const nodes = (await consul.catalog.node.list()) as Array<{ Node: string }>;
  t.false(nodes.some((n) => n.Node === "gone-1"));
  t.deepEqual(await consul.health.node("gone-1"), []);
});

test.serial("a partition fails every client agent's serfHealth, not the server's; healing restores them", async (t) => {
  const clients = h.ctx.world.list().filter((m) => m.state === "up").map((m) => m.name);
  t.true(clients.length >= 3);
  h.ctx.world.setPartition(true);
  await eventually(async () => {
    const critical = ((await consul.health.state("critical")) as Check[]).filter((c) => c.CheckID === "serfHealth").map((c) => c.Node);
    return clients.every((n) => critical.includes(n));
  });
  t.is((await serf(h.consul.serverName))?.Status, "passing");
  t.is(h.ctx.world.get(clients[0] ?? "")?.state, "up", "the machines themselves still run (Nomad still sees them)");

  h.ctx.world.setPartition(false);
  for (const n of clients) t.is((await serf(n))?.Status, "passing", n);
});

test.serial("a blocking health watcher of a service wakes when one of its nodes fails, and not for other services", async (t) => {
  const m = h.ctx.world.addMachine({ cluster: "qa", name: "svc-1" });
  await consul.catalog.register({ node: "svc-1", address: m.address, service: { service: "billing", port: 9000 } });
  const first = await h.call("GET", "/v1/health/service/billing");
  const index = first.headers["x-consul-index"] ?? "";
  const pending = h.call("GET", "/v1/health/service/billing", { query: { index, wait: "10s" } });
  const other = h.ctx.world.addMachine({ cluster: "qa", name: "svc-2" });
  await consul.catalog.register({ node: "svc-2", address: other.address, service: { service: "search", port: 9100 } });
  let answered = false;
  void pending.then(() => (answered = true));
  await new Promise((r) => setTimeout(r, 50));
  t.false(answered, "another service's registration does not wake it");
  h.ctx.world.kill("svc-1");
  const woke = await pending;
  t.true(Number(woke.headers["x-consul-index"]) > Number(index));
  const [entry] = woke.json as Array<{ Checks: Check[] }>;
  t.is(entry?.Checks.find((c) => c.CheckID === "serfHealth")?.Status, "critical");
});

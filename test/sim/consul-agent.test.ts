import test from "ava";
import Consul from "consul";
import { startConsul, type ConsulHarness } from "../../sim/consul/loopback.js";
import { eventually } from "../helpers/eventually.js";

/**
 * The local agent, catalog and status endpoints: service registration with
 * TTL checks driven by pass/warn/fail, TTL expiry on the sim clock (40x),
 * and the HTTP layer's 404/405 answers.
 */

let h: ConsulHarness;
let consul: Consul;

test.before(async () => {
  h = await startConsul({ scale: 40 });
  consul = new Consul({ host: "127.0.0.1", port: h.server.port });
});

test.after.always(async () => {
  consul.destroy();
  await h.close();
});

interface Check {
  CheckID: string;
  Status: string;
  Output: string;
  ServiceName: string;
}

async function checkOf(id: string): Promise<Check | undefined> {
  const all = (await consul.agent.check.list()) as Record<string, Check>;
  return all[id];
}

test.serial("a service with a TTL check starts critical and follows pass, warn and fail", async (t) => {
  await consul.agent.service.register({ id: "api-1", name: "api", port: 8080, tags: ["v1"], check: { name: "api alive", ttl: "10s", timeout: "1s" } });
  const services = (await consul.agent.service.list()) as Record<string, { Service: string; Port: number; Tags: string[] }>;
  t.like(services["api-1"], { Service: "api", Port: 8080, Tags: ["v1"] });
  t.like(await checkOf("service:api-1"), { Status: "critical", ServiceName: "api" });

  await consul.agent.check.pass({ id: "service:api-1", note: "all good" });
  t.like(await checkOf("service:api-1"), { Status: "passing", Output: "all good" });
  const healthy = (await consul.health.service({ service: "api", passing: true })) as unknown[];
  t.is(healthy.length, 1, "the catalog sees it at once (instant anti-entropy)");

  await consul.agent.check.warn("service:api-1");
  t.is((await checkOf("service:api-1"))?.Status, "warning");
  t.deepEqual(await consul.health.service({ service: "api", passing: true }), [], "?passing drops warning instances too");
  await consul.agent.check.fail("service:api-1");
  t.is((await checkOf("service:api-1"))?.Status, "critical");
});

test.serial("a TTL check that is not updated in time turns critical with 'TTL expired'", async (t) => {
  await consul.agent.service.register({ id: "worker-1", name: "worker", check: { name: "worker alive", ttl: "10s", timeout: "1s" } });
  const passedAt = h.ctx.clock.now();
  await consul.agent.check.pass("service:worker-1");
  t.is((await checkOf("service:worker-1"))?.Status, "passing");
  await eventually(async () => (await checkOf("service:worker-1"))?.Status === "critical");
  t.true(h.ctx.clock.now() - passedAt >= 10_000);
  t.is((await checkOf("service:worker-1"))?.Output, "TTL expired");
});

test.serial("an HTTP check is reported passing; deregistering removes the service and its checks", async (t) => {
  await consul.agent.service.register({ id: "web-1", name: "web", port: 80, check: { name: "web http", http: "http://127.0.0.1/health", interval: "10s", timeout: "1s" } });
  t.is((await checkOf("service:web-1"))?.Status, "passing");
  await consul.agent.service.deregister("web-1");
  t.is(await checkOf("service:web-1"), undefined);
  t.false(Object.keys((await consul.catalog.service.list())).includes("web"));
  const again = await h.call("PUT", "/v1/agent/service/deregister/web-1");
  t.like(again, { status: 404, text: `Unknown service ID "web-1". Ensure that the service ID is passed, not the service name.` });
});

test.serial("registration errors use the agent's texts", async (t) => {
  t.like(await h.call("PUT", "/v1/agent/service/register", { body: { Port: 1 } }), { status: 400, text: "Missing service name" });
  t.like(await h.call("PUT", "/v1/agent/service/register", { body: { Name: "x", Check: { HTTP: "http://x" } } }), {
    status: 400,
    text: "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
  });
  t.like(await h.call("PUT", "/v1/agent/check/pass/nope"), {
    status: 404,
    text: `Unknown check ID "nope". Ensure that the check ID is passed, not the check name.`,
  });
});

test.serial("status, datacenters, self and members describe the single server", async (t) => {
  t.is(await consul.status.leader(), "10.0.0.2:8300");
  t.deepEqual(await consul.status.peers(), ["10.0.0.2:8300"]);
  t.deepEqual(await consul.catalog.datacenters(), ["dc1"]);
  const self = (await consul.agent.self()) as { Config: { Datacenter: string; NodeName: string; Server: boolean } };
  t.like(self.Config, { Datacenter: "dc1", NodeName: "consul-server-1", Server: true });
  h.ctx.world.addMachine({ cluster: "qa", name: "m1" });
  const members = (await consul.agent.members()) as Array<{ Name: string; Status: number }>;
  t.deepEqual(members.map((m) => [m.Name, m.Status]), [
    ["consul-server-1", 1],
    ["m1", 1],
  ]);
});

test.serial("catalog node: services by ID, or null for an unknown node", async (t) => {
  const server = (await consul.catalog.node.services("consul-server-1")) as { Node: { Node: string }; Services: Record<string, { Service: string; Port: number }> };
  t.is(server.Node.Node, "consul-server-1");
  t.like(server.Services.consul, { Service: "consul", Port: 8300 });
  const unknown = await h.call("GET", "/v1/catalog/node/nope");
  t.is(unknown.status, 200);
  t.is(unknown.text, "null");
});

test.serial("the HTTP layer: unknown paths 404 with no body, wrong methods 405 with Allow", async (t) => {
  t.like(await h.call("GET", "/v1/nope"), { status: 404, text: "" });
  const wrong = await h.call("POST", "/v1/kv/k");
  t.like(wrong, { status: 405, text: "method POST not allowed" });
  t.is(wrong.headers.allow, "OPTIONS,GET,PUT,DELETE");
  t.like(await h.call("GET", "/v1/session/create"), { status: 405 });
  t.like(await h.call("GET", "/v1/kv/k", { query: { dc: "dc9" } }), { status: 500, text: "No path to datacenter" });
  t.like(await h.call("PUT", "/v1/kv/k", { query: { flags: "x" } }), { status: 500, text: `strconv.ParseUint: parsing "x": invalid syntax` });
  t.like(await h.call("DELETE", "/v1/kv/k", { query: { recurse: "", cas: "1" } }), { status: 400, text: "Conflicting flags: cas=1&recurse=\n" });
  const raw = await h.call("PUT", "/v1/kv/raw", { body: "<b>hi</b>" });
  t.is(raw.text, "true");
  const got = await h.call("GET", "/v1/kv/raw", { query: { raw: "" } });
  t.like(got, { status: 200, text: "<b>hi</b>" });
  t.like(got.headers, { "content-type": "text/plain", "x-content-type-options": "nosniff", "content-security-policy": "sandbox" });
});

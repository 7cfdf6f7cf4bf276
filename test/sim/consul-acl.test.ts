import test from "ava";
import Consul from "consul";
import { startConsul, type ConsulHarness } from "../../sim/consul/loopback.js";

/**
 * ACLs on: the configured token is a management token; no token means the
 * anonymous token (default policy deny); any other token is unknown.
 */

const TOKEN = "b1gs3cr3t";
const ANON = /^Permission denied: anonymous token lacks permission '(\w+):(\w+)'( on "[^"]*")?\. The anonymous token is used implicitly when a request does not specify a token\.$/;

let h: ConsulHarness;

test.before(async () => {
  h = await startConsul({ aclToken: TOKEN });
  h.ctx.world.addMachine({ cluster: "qa", name: "n1" });
});

test.after.always(async () => {
  await h.close();
});

test("the token is accepted from the header, a bearer token or ?token=", async (t) => {
  t.is((await h.call("PUT", "/v1/kv/a", { body: "1", headers: { "X-Consul-Token": TOKEN } })).text, "true");
  t.is((await h.call("GET", "/v1/kv/a", { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
  t.is((await h.call("GET", "/v1/kv/a", { query: { token: TOKEN } })).status, 200);
});

test("every reply names the default policy", async (t) => {
  t.is((await h.call("GET", "/v1/status/leader")).headers["x-consul-default-acl-policy"], "deny");
  const open = await startConsul();
  try {
    t.is((await open.call("GET", "/v1/status/leader")).headers["x-consul-default-acl-policy"], "allow");
  } finally {
    await open.close();
  }
});

test("an unknown token is 403 ACL not found, everywhere a token is resolved", async (t) => {
  for (const [method, path] of [
    ["GET", "/v1/kv/a"],
    ["PUT", "/v1/kv/a"],
    ["GET", "/v1/catalog/nodes"],
    ["GET", "/v1/health/node/n1"],
    ["PUT", "/v1/session/create"],
    ["GET", "/v1/agent/services"],
  ] as const) {
    const res = await h.call(method, path, { headers: { "X-Consul-Token": "nope" } });
    t.like(res, { status: 403, text: "ACL not found" }, `${method} ${path}`);
  }
});

test("without a token, writes and single reads are denied with the resource named", async (t) => {
  const read = await h.call("GET", "/v1/kv/a");
  t.is(read.status, 403);
  t.regex(read.text, ANON);
  t.true(read.text.includes(`'key:read' on "a"`));
  const write = await h.call("PUT", "/v1/kv/b", { body: "x" });
  t.true(write.text.includes(`'key:write' on "b"`));
  const session = await h.call("PUT", "/v1/session/create", { body: { Node: "n1" } });
  t.true(session.text.includes(`'session:write' on "n1"`));
  const register = await h.call("PUT", "/v1/agent/service/register", { body: { Name: "web" } });
  t.true(register.text.includes(`'service:write' on "web"`));
  t.is((await h.call("GET", "/v1/agent/self")).status, 403);
});

test("without a token, catalog and health reads answer 200 with the results filtered away", async (t) => {
  const nodes = await h.call("GET", "/v1/catalog/nodes");
  t.is(nodes.status, 200);
  t.deepEqual(nodes.json, []);
  t.regex(nodes.headers["x-consul-index"] ?? "", /^\d+$/);
  t.deepEqual((await h.call("GET", "/v1/catalog/services")).json, {});
  t.deepEqual((await h.call("GET", "/v1/health/node/n1")).json, []);
  t.deepEqual((await h.call("GET", "/v1/health/service/consul")).json, []);
  const withToken = (await h.call("GET", "/v1/health/node/n1", { headers: { "X-Consul-Token": TOKEN } })).json as unknown[];
  t.is(withToken.length, 1, "the same read with the token sees serfHealth");
  t.is((await h.call("GET", "/v1/status/leader")).status, 200, "status needs no token");
});

test("the real client with the token works end to end", async (t) => {
  const consul = new Consul({ host: "127.0.0.1", port: h.server.port, defaults: { token: TOKEN } });
  try {
    t.true(await consul.kv.set("client/k", "v"));
    const s = await consul.session.create({ node: "n1" });
    t.true((await consul.kv.set({ key: "client/lock", value: "", acquire: s.ID })) === true);
    const anon = new Consul({ host: "127.0.0.1", port: h.server.port });
    try {
      const err = await t.throwsAsync(anon.kv.get("client/k"));
      t.regex(err?.message ?? "", /forbidden|Permission denied/);
    } finally {
      anon.destroy();
    }
  } finally {
    consul.destroy();
  }
});

import test from "ava";
import type { ExecutionContext } from "ava";
import { listSamples, loadSample, sameShape, missingHeaders, type Json, type Sample } from "../helpers/samples.js";
import { startConsul, registerNode, type ConsulHarness, type CallResult } from "../../sim/consul/loopback.js";

/**
 * Replays every Consul sample of ../shared/api-reference/consul against the
 * emulator: seed the state the sample implies, send its request, compare
 * status, header names, body shape, and exact values where the samples'
 * README says so (true/false KV replies, source-code error texts).
 *
 * The samples come from the docs; a few of their fields are not what a
 * current open-source server sends. `normalise` removes exactly those,
 * each for a stated reason (also in sim/consul/README.md).
 */

/** Each sample runs against a fresh server, so no case sees another's keys, locks or lock-delays. */
let h: ConsulHarness;
const open = new Set<ConsulHarness>();

async function fresh(opts: Parameters<typeof startConsul>[0] = {}): Promise<ConsulHarness> {
  const harness = await startConsul(opts);
  open.add(harness);
  return harness;
}

test.after.always(async () => {
  await Promise.all([...open].map((x) => x.close()));
});

/** Docs fields a current OSS server does not send; see README "Samples: fields the server does not send". */
function normalise(v: Json, key = ""): Json {
  if (Array.isArray(v)) return v.map((x) => normalise(x, key));
  if (v === null || typeof v !== "object") return v;
  // User-defined maps: any keys are fine.
  if (["Meta", "NodeMeta", "ServiceMeta"].includes(key)) return {};
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "Namespace") continue; // Consul Enterprise only
    if (key === "ServiceProxy" && k !== "MeshGateway" && k !== "Expose") continue; // omitempty in current Consul
    if (key === "ServiceConnect") continue; // omitempty in current Consul
    // Service tagged addresses are structs.ServiceAddress: Go field names, Address/Port.
    if (k === "address" || k === "port") {
      out[k === "address" ? "Address" : "Port"] = x;
      continue;
    }
    out[k] = normalise(x, k);
  }
  return out;
}

async function send(target: ConsulHarness, s: Sample, over: Partial<Pick<Sample, "path" | "query">> = {}, headers: Record<string, string> = {}): Promise<CallResult> {
  const path = over.path ?? s.path ?? "";
  return target.call(s.method ?? "GET", path, { query: over.query ?? s.query, body: s.request_body, headers });
}

function checkCommon(t: ExecutionContext, s: Sample, res: CallResult, body: Json = s.response_body): void {
  t.is<number | null, number | null>(res.status, s.status, `${s.file}: status (${res.text})`);
  t.deepEqual(missingHeaders(s, res.headers), [], `${s.file}: headers`);
  for (const [name, value] of Object.entries(s.response_headers ?? {})) {
    if (value.startsWith("<")) continue;
    t.is(res.headers[name.toLowerCase()], value, `${s.file}: header ${name}`);
  }
  if (body !== null) t.deepEqual(sameShape(normalise(body), (res.json ?? null) as Json), [], `${s.file}: body shape`);
}

function checkIndex(t: ExecutionContext, res: CallResult): number {
  const idx = res.headers["x-consul-index"] ?? "";
  t.regex(idx, /^\d+$/);
  t.true(Number(idx) >= 1);
  return Number(idx);
}

async function kvPut(key: string, value: string, query?: Record<string, string>): Promise<void> {
  const r = await h.call("PUT", `/v1/kv/${key}`, { body: value, ...(query ? { query } : {}) });
  if (r.text !== "true") throw new Error(`seed ${key}: ${r.status} ${r.text}`);
}

async function newSession(body: Record<string, unknown> = {}): Promise<string> {
  const r = await h.call("PUT", "/v1/session/create", { body });
  return (r.json as { ID: string }).ID;
}

/** foobar with a redis service and checks a, b, c, as the session and health samples imply. */
async function seedFoobar(): Promise<void> {
  if (h.ctx.world.get("foobar")) return;
  h.ctx.world.addMachine({ cluster: "qa", name: "foobar", meta: { instance_type: "t2.medium" } });
  await registerNode(h, {
    Node: "foobar",
    Address: h.ctx.world.get("foobar")?.address ?? "",
    NodeMeta: { instance_type: "t2.medium" },
    Service: {
      ID: "redis",
      Service: "redis",
      Tags: ["primary"],
      Address: "10.1.10.12",
      TaggedAddresses: { lan: { address: "10.1.10.12", port: 8000 }, wan: { address: "198.18.1.2", port: 80 } },
      Meta: { redis_version: "4.0" },
      Port: 8000,
      Weights: { Passing: 10, Warning: 1 },
    },
    Checks: [
      { CheckID: "service:redis", Name: "Service 'redis' check", ServiceID: "redis", Status: "passing" },
      ...["a", "b", "c"].map((id) => ({ CheckID: id, Name: id, Status: "passing" })),
    ],
  });
}

type Case = (t: ExecutionContext, s: Sample) => Promise<void>;

const cases: Record<string, Case> = {
  "agent-service-register": async (t, s) => {
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is(res.text, "", "no body");
    const services = (await h.call("GET", "/v1/agent/services")).json as Record<string, { Service: string; Port: number }>;
    t.is(services.redis1?.Service, "redis");
    t.is(services.redis1?.Port, 8000);
    t.is(h.consul.check(h.consul.serverName, "service:redis1")?.Status, "passing", "a script check reports passing");
  },
  "blocking-query-hash": async (t, s) => {
    const first = await h.call("GET", "/v1/agent/services");
    const hash = first.headers["x-consul-contenthash"] ?? "";
    t.regex(hash, /^[0-9a-f]{16}$/);
    const started = Date.now();
    const res = await send(h, s, { query: { hash, wait: "80ms" } });
    t.true(Date.now() - started >= 75, "waited for a change");
    checkCommon(t, s, res);
    t.is(res.headers["x-consul-contenthash"], hash, "unchanged content, same hash");
  },
  "blocking-query": async (t, s) => {
    await kvPut("my-key", "v");
    const index = checkIndex(t, await h.call("GET", "/v1/kv/my-key"));
    const res = await send(h, s, { query: { index: String(index), wait: "60ms" } });
    checkCommon(t, s, res);
    t.is(checkIndex(t, res), index);
    t.is(res.headers["x-consul-knownleader"], "true");
    t.is(res.headers["x-consul-lastcontact"], "0");
  },
  "catalog-nodes": async (t, s) => {
    await seedFoobar();
    const res = await send(h, s);
    checkCommon(t, s, res);
    const names = (res.json as Array<{ Node: string }>).map((n) => n.Node);
    t.true(names.includes("foobar") && names.includes(h.consul.serverName));
  },
  "catalog-service": async (t, s) => {
    await registerNode(h, {
      Node: "t2.320",
      Address: "192.168.10.10",
      NodeMeta: { somekey: "somevalue" },
      Service: {
        ID: "32a2a47f7992:nodea:5000",
        Service: "web",
        Tags: ["prod"],
        Address: "172.17.0.3",
        Port: 5000,
        Meta: { web_meta_value: "baz" },
        TaggedAddresses: { lan: { address: "172.17.0.3", port: 5000 }, wan: { address: "198.18.0.1", port: 512 } },
      },
    });
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is((res.json as unknown[]).length, 1);
  },
  "catalog-services-acl-filtered": async (t, s) => {
    const acl = await fresh({ aclToken: "mgmt-token" });
    for (const svc of [{ Service: "redis" }, { Service: "postgresql", Tags: ["primary", "secondary"] }]) {
      const r = await acl.call("PUT", "/v1/catalog/register", {
        body: { Node: `n-${svc.Service}`, Address: "10.9.0.1", Service: svc },
        headers: { "X-Consul-Token": "mgmt-token" },
      });
      t.is(r.status, 200, r.text);
    }
    const res = await send(acl, s, {}, { "X-Consul-Token": "mgmt-token" });
    // The sim's only valid token is a management token, which no policy filters:
    // X-Consul-Results-Filtered-By-Acls never appears (README: ACL).
    const { "X-Consul-Results-Filtered-By-Acls": _filtered, ...headers } = s.response_headers ?? {};
    checkCommon(t, { ...s, response_headers: headers }, res);
    const anon = await send(acl, s);
    t.is(anon.status, 200);
    t.deepEqual(anon.json, {}, "the anonymous token sees no services");
    t.is((await send(acl, s, {}, { "X-Consul-Token": "not-a-token" })).text, "ACL not found");
  },
  "catalog-services-consistency": async (t, s) => {
    await registerNode(h, { Node: "db1", Service: { Service: "postgresql", Tags: ["primary", "secondary"] } });
    await registerNode(h, { Node: "cache1", Service: { Service: "redis" } });
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is((await send(h, s, { query: { stale: "" } })).headers["x-consul-effective-consistency"], "stale");
    t.is((await send(h, s, { query: { consistent: "" } })).headers["x-consul-effective-consistency"], "consistent");
  },
  "catalog-services": async (t, s) => {
    await registerNode(h, { Node: "db1", Service: { Service: "postgresql", Tags: ["primary", "secondary"] } });
    await registerNode(h, { Node: "cache1", Service: { Service: "redis" } });
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.deepEqual((res.json as Record<string, string[]>).postgresql, ["primary", "secondary"]);
    t.deepEqual((res.json as Record<string, string[]>).consul, []);
  },
  "error-invalid-index": exactError,
  "error-invalid-wait": exactError,
  "error-stale-and-consistent": exactError,
  "health-checks-service": async (t, s) => {
    await seedFoobar();
    await registerNode(h, {
      Node: "foobar",
      Address: h.ctx.world.get("foobar")?.address ?? "",
      NodeMeta: { instance_type: "t2.medium" },
      Service: { ID: "my-service-1", Service: "my-service", Tags: ["primary"] },
      Checks: [{ CheckID: "service:my-service-1", Name: "Service 'my-service' check", ServiceID: "my-service-1", Status: "passing" }],
    });
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is((res.json as Array<{ ServiceName: string }>)[0]?.ServiceName, "my-service");
  },
  "health-node": async (t, s) => {
    h.ctx.world.addMachine({ cluster: "qa", name: "my-node" });
    await registerNode(h, {
      Node: "my-node",
      Address: h.ctx.world.get("my-node")?.address ?? "",
      Service: { ID: "redis", Service: "redis", Tags: ["primary"] },
      Checks: [{ CheckID: "service:redis", Name: "Service 'redis' check", ServiceID: "redis", Status: "passing" }],
    });
    const res = await send(h, s);
    // Checks have no ID field (structs.HealthCheck); the docs print the node's.
    const sample = (s.response_body as Array<{ [k: string]: Json }>).map(({ ID: _id, ...rest }) => rest);
    checkCommon(t, s, res, sample);
    t.deepEqual(
      (res.json as Array<{ CheckID: string }>).map((c) => c.CheckID),
      ["serfHealth", "service:redis"],
    );
  },
  "health-service": async (t, s) => {
    h.ctx.world.addMachine({ cluster: "qa", name: "hs-node", meta: { instance_type: "t2.medium" } });
    await registerNode(h, {
      Node: "hs-node",
      Address: h.ctx.world.get("hs-node")?.address ?? "",
      NodeMeta: { instance_type: "t2.medium" },
      Service: {
        ID: "redis",
        Service: "my-service",
        Tags: ["primary"],
        Address: "10.1.10.12",
        TaggedAddresses: { lan: { address: "10.1.10.12", port: 8000 }, wan: { address: "198.18.1.2", port: 80 } },
        Meta: { redis_version: "4.0" },
        Port: 8000,
        Weights: { Passing: 10, Warning: 1 },
      },
      Checks: [{ CheckID: "service:redis", Name: "Service 'redis' check", ServiceID: "redis", Status: "passing" }],
    });
    const res = await send(h, s);
    checkCommon(t, s, res);
    const entries = res.json as Array<{ Checks: Array<{ CheckID: string }> }>;
    t.is(entries.length, 1);
    t.deepEqual(entries[0]?.Checks.map((c) => c.CheckID), ["serfHealth", "service:redis"]);
    t.is(((await send(h, s, { query: { passing: "" } })).json as unknown[]).length, 1);
  },
  "health-state": async (t, s) => {
    await seedFoobar();
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.true((res.json as Array<{ Status: string }>).every((c) => c.Status === "passing"));
    checkIndex(t, res);
  },
  "kv-delete": async (t, s) => {
    await kvPut("my-key", "v");
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is(res.text, "true");
    t.is(h.consul.kvEntry("my-key"), undefined);
  },
  "kv-get-keys": async (t, s) => {
    for (const k of ["web/bar", "web/foo", "web/subdir/a", "web/subdir/b"]) await kvPut(k, "x");
    const res = await send(h, s);
    checkCommon(t, s, res);
    // The docs print the keys with a leading "/"; keys never start with one.
    t.deepEqual(res.json, (s.response_body as string[]).map((k) => k.replace(/^\//, "")));
  },
  "kv-get-not-found": async (t, s) => {
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is(res.text, "");
    checkIndex(t, res);
  },
  "kv-get-recurse": async (t, s) => {
    await kvPut("web/a", "1");
    await kvPut("web/b", "2");
    const res = await send(h, s);
    // Shaped like kv-get's entries; unlocked entries omit Session (omitempty).
    const [template] = loadSample("consul/kv-get").response_body as Array<{ [k: string]: Json }>;
    const { Session: _session, ...unlocked } = template ?? {};
    checkCommon(t, s, res, [unlocked]);
    const entries = res.json as Array<{ ModifyIndex: number }>;
    t.is(checkIndex(t, res), Math.max(...entries.map((e) => e.ModifyIndex)), "index is the highest ModifyIndex under the prefix");
  },
  "kv-get": async (t, s) => {
    const id = await newSession();
    await kvPut("my-key", "test", { acquire: id });
    const res = await send(h, s);
    checkCommon(t, s, res);
    const [entry] = res.json as Array<{ Value: string; Session: string; LockIndex: number }>;
    t.is(entry?.Value, "dGVzdA==");
    t.is(entry?.Session, id);
    t.is(entry?.LockIndex, 1);
  },
  "kv-put-acquire": async (t, s) => {
    const id = await newSession();
    const res = await send(h, s, { query: { acquire: id } });
    checkCommon(t, s, res);
    t.is(res.text, "true");
    t.is(h.consul.kvEntry("my-key")?.Session, id);
    t.is((await send(h, s, { query: { acquire: await newSession() } })).text, "false", "another session cannot take it");
    await h.call("PUT", `/v1/session/destroy/${id}`);
  },
  "kv-put-cas": async (t, s) => {
    await kvPut("my-key", "v1");
    const modify = h.consul.kvEntry("my-key")?.ModifyIndex ?? 0;
    const res = await send(h, s, { query: { cas: String(modify) } });
    checkCommon(t, s, res);
    t.is(res.text, "true");
    t.is((await send(h, s, { query: { cas: String(modify) } })).text, "false", "a stale index fails");
  },
  "kv-put-conflicting-flags": exactError,
  "kv-put-release": async (t, s) => {
    const id = await newSession();
    await kvPut("my-key", "v", { acquire: id });
    const res = await send(h, s, { query: { release: id } });
    checkCommon(t, s, res);
    t.is(res.text, "true");
    t.is(h.consul.kvEntry("my-key")?.Session, "");
    t.is(h.consul.kvEntry("my-key")?.LockIndex, 1, "release keeps LockIndex");
  },
  "kv-put": async (t, s) => {
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.is(res.text, "true");
  },
  "session-create": async (t, s) => {
    await seedFoobar();
    const res = await send(h, s);
    checkCommon(t, s, res);
    const id = (res.json as { ID: string }).ID;
    const info = (await h.call("GET", `/v1/session/info/${id}`)).json as Array<Record<string, unknown>>;
    t.like(info[0], { Node: "foobar", LockDelay: 15_000_000_000, Behavior: "release", TTL: "30s", NodeChecks: ["serfHealth"], Checks: ["a", "b", "c"] });
  },
  "session-destroy": async (t, s) => {
    const id = await newSession();
    const res = await send(h, s, { path: `/v1/session/destroy/${id}` });
    checkCommon(t, s, res);
    t.is(res.text, "true");
    t.is((await send(h, s)).text, "true", "an unknown session is fine too");
  },
  "session-info": async (t, s) => {
    const id = await newSession({ Name: "test-session", TTL: "30s" });
    const res = await send(h, s, { path: `/v1/session/info/${id}` });
    checkCommon(t, s, res);
    checkIndex(t, res);
    t.deepEqual((await send(h, s)).json, [], "unknown session: empty list");
  },
  "session-list": async (t, s) => {
    await newSession({ Name: "test-session", TTL: "30s" });
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.true((res.json as unknown[]).length >= 1);
  },
  "session-node": async (t, s) => {
    h.ctx.world.addMachine({ cluster: "qa", name: "node-abcd1234" });
    await newSession({ Name: "test-session", Node: "node-abcd1234", TTL: "30s" });
    const res = await send(h, s);
    checkCommon(t, s, res);
    t.deepEqual((res.json as Array<{ Node: string }>).map((x) => x.Node), ["node-abcd1234"]);
  },
  "session-renew-not-found": exactError,
  "session-renew": async (t, s) => {
    const id = await newSession({ Name: "test-session", TTL: "30s" });
    const res = await send(h, s, { path: `/v1/session/renew/${id}` });
    checkCommon(t, s, res);
    t.is((res.json as Array<{ ID: string }>)[0]?.ID, id);
  },
};

async function exactError(t: ExecutionContext, s: Sample): Promise<void> {
  const res = await send(h, s);
  t.is<number | null, number | null>(res.status, s.status);
  t.is(res.text, s.response_body as string);
}

test("every consul sample has a conformance case", (t) => {
  t.deepEqual(
    listSamples("consul").filter((n) => !(n in cases)),
    [],
  );
});

for (const name of listSamples("consul")) {
  const run = cases[name];
  if (!run) continue;
  test.serial(`sample ${name}`, async (t) => {
    h = await fresh();
    await run(t, loadSample(`consul/${name}`));
    await h.close();
    open.delete(h);
  });
}

// Raft and autopilot of the emulated Nomad and Consul servers, following the
// world's server machines: what Steward's healing loop reads before it
// replaces a server (quorum kept or not). Shapes follow the official API
// docs' samples (no recorded samples exist; see sim/README.md).
import test from "ava";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { serve } from "../../sim/core/http.js";
import { seededRandom } from "../../sim/core/faults.js";
import { SERVER_STABILIZATION_MS, goDurationString } from "../../sim/core/server-quorum.js";
import { NomadCluster } from "../../sim/nomad/index.js";
import { noParser } from "../../sim/nomad/harness.js";
import { ConsulServer } from "../../sim/consul/index.js";
import { machineSpec } from "../../sim/ec2/fleet.js";
import type { Instance } from "../../sim/ec2/instance.js";

/** A server entry of either endpoint (raft configuration or autopilot health). */
interface Srv {
  ID: string;
  Name: string;
  Node: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
  Healthy: boolean;
  SerfStatus: string;
  LastContact: string;
  LastTerm: number;
  StableSince: string;
}

interface Fx {
  world: World;
  clock: Clock;
  nomad(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
  consul(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
}

async function fixture(t: { teardown(fn: () => Promise<void> | void): void }, servers = 3, opts: { nomadToken?: string; consulToken?: string } = {}): Promise<Fx> {
  // 10x: the 10 s stabilization time is 1 real s, well above an HTTP round trip on a busy machine.
  const clock = new Clock(10);
  const world = new World(() => clock.now());
  const ctx = { clock, world, random: seededRandom(3) };
  const nomad = new NomadCluster(ctx, { name: "prod", region: "global", datacenters: ["dc1"], parser: noParser, healthyAfterMs: 2000, ...(opts.nomadToken ? { aclToken: opts.nomadToken } : {}) });
  const consul = new ConsulServer(ctx, { datacenter: "dc1", ...(opts.consulToken ? { aclToken: opts.consulToken } : {}) });
  const ns = await serve({ name: "nomad:prod", router: nomad.router });
  const cs = await serve({ name: "consul", router: consul.router });
  t.teardown(async () => {
    nomad.close();
    consul.close();
    await ns.close();
    await cs.close();
  });
  for (let i = 1; i <= servers; i++) world.addMachine({ cluster: "prod", name: `server-${i}`, role: "server" });
  world.addMachine({ cluster: "prod", name: "client-1" });
  const get = (base: string) => async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { headers });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text };
  };
  return { world, clock, nomad: get(ns.url), consul: get(cs.url) };
}

const both = ["nomad", "consul"] as const;
const port = { nomad: 4647, consul: 8300 };

for (const product of both) {
  test(`${product}_bootstrap_servers_are_all_voters_with_one_leader`, async (t) => {
    const fx = await fixture(t);
    const cfg = await fx[product]("/v1/operator/raft/configuration");
    t.is(cfg.status, 200);
    t.is(cfg.body.Servers.length, 3);
    t.true(cfg.body.Servers.every((s: Srv) => s.Voter === true));
    t.deepEqual(cfg.body.Servers.filter((s: Srv) => s.Leader).map((s: Srv) => s.Node), [product === "nomad" ? "server-1.global" : "server-1"]);
    t.is(typeof cfg.body.Index, "number");
    const s1 = fx.world.get("server-1");
    t.like(cfg.body.Servers[0], { ID: s1?.id, Address: `${s1?.address}:${port[product]}` });
    const health = await fx[product]("/v1/operator/autopilot/health");
    t.is(health.status, 200);
    t.like(health.body, { Healthy: true, FailureTolerance: 1 });
    t.true(health.body.Servers.every((s: Srv) => s.Healthy && s.SerfStatus === "alive" && s.LastContact === "0s"));
    // Nomad rounds StableSince to the second; Consul prints Go's RFC 3339 with fractions.
    t.regex(health.body.Servers[0].StableSince, product === "nomad" ? /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/ : /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    if (product === "nomad") t.deepEqual(health.body.Voters, cfg.body.Servers.map((s: Srv) => s.ID));
    t.is((await fx[product]("/v1/status/leader")).body, `${s1?.address}:${port[product]}`);
    t.is((await fx[product]("/v1/status/peers")).body.length, 3);
  });

  test(`${product}_a_lost_server_stays_a_voter_but_drops_out_of_healthy`, async (t) => {
    const fx = await fixture(t);
    fx.world.kill("server-3");
    const health = await fx[product]("/v1/operator/autopilot/health");
    t.is(health.status, 429, "unhealthy answers 429 with the body");
    t.like(health.body, { Healthy: false, FailureTolerance: 0 });
    const lost = health.body.Servers.find((s: Srv) => s.Name === "server-3");
    t.like(lost, { Healthy: false, SerfStatus: "failed", Voter: true, Leader: false });
    t.is(health.body.Servers.filter((s: Srv) => s.Healthy && s.Voter).length, 2, "quorum of 2 kept, no room for another loss");
    t.is((await fx[product]("/v1/operator/raft/configuration")).body.Servers.length, 3, "still in the configuration until replaced");
  });

  test(`${product}_losing_the_leader_elects_another_and_losing_quorum_leaves_none`, async (t) => {
    const fx = await fixture(t);
    const before = (await fx[product]("/v1/operator/autopilot/health")).body;
    fx.world.kill("server-1");
    const after = (await fx[product]("/v1/operator/autopilot/health")).body;
    t.is(after.Servers.find((s: Srv) => s.Leader)?.Name, "server-2");
    t.true(after.Servers[0].LastTerm > before.Servers[0].LastTerm, "a new term");
    fx.world.kill("server-2");
    const cfg = await fx[product]("/v1/operator/raft/configuration");
    t.is(cfg.status, 500);
    t.is(cfg.text, "No cluster leader");
    t.is((await fx[product]("/v1/operator/autopilot/health")).status, 500);
    const stale = await fx[product]("/v1/operator/raft/configuration?stale");
    t.is(stale.status, 200, "?stale reads the configuration without a leader");
    t.false(stale.body.Servers.some((s: Srv) => s.Leader));
    t.is((await fx[product]("/v1/status/leader")).body, "");
  });

  test(`${product}_a_replacement_joins_as_non_voter_then_votes_after_stabilization`, async (t) => {
    const fx = await fixture(t);
    fx.world.kill("server-3");
    fx.world.remove("server-3");
    const joined = fx.world.addMachine({ cluster: "prod", name: "server-3b", role: "server" });
    const early = (await fx[product]("/v1/operator/autopilot/health")).body;
    t.deepEqual(early.Servers.map((s: Srv) => `${s.Name} ${s.Voter}`), ["server-1 true", "server-2 true", "server-3b false"], "the dead server is gone, the new one does not vote yet");
    t.like(early, { Healthy: true, FailureTolerance: 0 });
    await fx.clock.sleep(SERVER_STABILIZATION_MS);
    const later = (await fx[product]("/v1/operator/autopilot/health")).body;
    t.true(later.Servers.find((s: Srv) => s.ID === joined.id)?.Voter);
    t.like(later, { Healthy: true, FailureTolerance: 1 });
  });
}

test("nomad_server_machines_are_not_client_nodes_consul_lists_them", async (t) => {
  const fx = await fixture(t);
  const nodes = (await fx.nomad("/v1/nodes")).body as { Name: string }[];
  t.deepEqual(nodes.map((n) => n.Name), ["client-1"]);
  const catalog = (await fx.consul("/v1/catalog/nodes")).body as { Node: string }[];
  t.true(["server-1", "server-2", "server-3", "client-1"].every((n) => catalog.some((c) => c.Node === n)));
});

test("a_partition_leaves_servers_in_touch", async (t) => {
  const fx = await fixture(t);
  fx.world.setPartition(true);
  await fx.clock.sleep(10_000);
  const health = await fx.consul("/v1/health/node/server-2");
  t.is((health.body as { CheckID: string; Status: string }[]).find((c) => c.CheckID === "serfHealth")?.Status, "passing");
  const client = await fx.consul("/v1/health/node/client-1");
  t.is((client.body as { CheckID: string; Status: string }[]).find((c) => c.CheckID === "serfHealth")?.Status, "critical");
});

test("without_server_machines_the_builtin_server_answers_as_before", async (t) => {
  const fx = await fixture(t, 0);
  t.is((await fx.nomad("/v1/status/leader")).body, "127.0.0.1:4647");
  const cfg = (await fx.nomad("/v1/operator/raft/configuration")).body;
  t.like(cfg.Servers, [{ Address: "127.0.0.1:4647", Leader: true, Voter: true, RaftProtocol: "3" }]);
  const consul = (await fx.consul("/v1/operator/raft/configuration")).body;
  t.like(consul.Servers, [{ Node: "consul-server-1", Address: "10.0.0.2:8300", Leader: true, Voter: true }]);
  t.is((await fx.consul("/v1/status/leader")).body, "10.0.0.2:8300");
});

test("operator_endpoints_need_a_token_when_acls_are_on", async (t) => {
  const fx = await fixture(t, 3, { nomadToken: "n-secret", consulToken: "c-secret" });
  t.is((await fx.nomad("/v1/operator/raft/configuration")).status, 403);
  t.is((await fx.nomad("/v1/operator/autopilot/health", { "X-Nomad-Token": "n-secret" })).status, 200);
  const denied = await fx.consul("/v1/operator/autopilot/health");
  t.is(denied.status, 403);
  t.regex(denied.text, /lacks permission 'operator:read'/);
  t.is((await fx.consul("/v1/operator/raft/configuration", { "X-Consul-Token": "c-secret" })).status, 200);
  t.is((await fx.nomad("/v1/status/leader")).status, 200, "status needs no token");
});

test("an_instance_tagged_steward_role_server_boots_a_server_machine", (t) => {
  const inst = { instanceId: "i-0123456789abcdef0", privateIp: "10.0.1.10", privateDnsName: "ip-10-0-1-10.ec2.internal" } as Instance;
  t.like(machineSpec(inst, { Name: "servers-a", "steward:role": "server" }, "prod"), { role: "server", name: "servers-a", address: "10.0.1.10" });
  t.like(machineSpec(inst, { Name: "workers-a", "steward:role": "client" }, "prod"), { role: "client" });
  t.like(machineSpec(inst, { Name: "x" }, "prod"), { role: "client" });
});

test("go_durations_print_like_go", (t) => {
  t.deepEqual([0, 27.5, 999, 1000, 90_000, 7_200_000].map(goDurationString), ["0s", "27.5ms", "999ms", "1s", "1m30s", "2h0m0s"]);
});

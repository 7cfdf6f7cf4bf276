import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { ackShortCircuitCommand } from "../../src/cli/ack-short-circuit.js";
import type { PoolStatus } from "../../src/reconciler/healing/loop.js";
import { startConsulSim } from "../helpers/consul-sim.js";

/** `steward ack-short-circuit POOL`: checked against the daemon's /api/status, written to Consul KV. */

function sink(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
  return { stream, text: () => text };
}

function pool(shortCircuited: boolean): PoolStatus {
  return {
    pool: "workers",
    env: "prod",
    role: "worker",
    at: 0,
    summary: { members: 5, unhealthy: shortCircuited ? 3 : 0, lost: shortCircuited ? 3 : 0, shortCircuited, shortCircuitAcknowledged: false, inFlight: 0, orphans: 0 },
    actions: [],
    budgetTokens: 2,
    incidents: [],
  };
}

/** A daemon's `/api/status` answering `body`; undefined: nothing listens. */
async function statusServer(t: { teardown: (fn: () => Promise<void>) => void }, body: unknown): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Row {
  name: string;
  /** What the daemon's /api/status says; `down`: nothing answers. */
  status: unknown;
  pool?: string;
  code: number;
  says: RegExp;
  written: boolean;
}

const rows: Row[] = [
  { name: "a_short_circuited_pool_is_acknowledged_with_who_and_why", status: { healing: { declared: ["workers"], pools: [pool(true)] } }, code: 0, says: /short-circuit of pool workers is acknowledged by ana/, written: true },
  { name: "a_standby_that_plans_nothing_lets_the_leader_decide", status: { healing: { declared: ["workers"], pools: [] } }, code: 0, says: /acknowledged by ana/, written: true },
  { name: "an_unknown_pool_is_refused_naming_it", status: { healing: { declared: ["workers"], pools: [pool(true)] } }, pool: "wokers", code: 1, says: /no pool wokers in the desired state of the Steward at \S+ \(pools: workers\)/, written: false },
  { name: "a_healthy_pool_is_refused", status: { healing: { declared: ["workers"], pools: [pool(false)] } }, code: 1, says: /pool workers is not short-circuited \(0 of 5 nodes unhealthy\): there is nothing to acknowledge/, written: false },
  { name: "a_daemon_without_healing_is_refused", status: { sync: {} }, code: 1, says: /healing is off on the Steward/, written: false },
  { name: "an_unreachable_daemon_writes_nothing", status: "down", code: 1, says: /cannot check pool workers against a running Steward/, written: false },
  { name: "without_a_pool_the_usage_is_printed", status: { healing: { declared: ["workers"] } }, pool: "", code: 64, says: /usage: steward ack-short-circuit POOL/, written: false },
];

for (const row of rows) {
  test(row.name, async (t) => {
    const c = await startConsulSim(t);
    const dir = await mkdtemp(path.join(tmpdir(), "steward-cli-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const config = path.join(dir, "steward.yaml");
    await writeFile(config, `consul:\n  address: ${c.url}\nstatePrefix: acme/steward\n`);
    const url = row.status === "down" ? "http://127.0.0.1:9" : await statusServer(t, row.status);
    const out = sink();
    const err = sink();
    const code = await ackShortCircuitCommand({ pool: row.pool ?? "workers", reason: "rack 4 lost", by: "ana", url, config }, out.stream, err.stream);
    t.is(code, row.code, err.text());
    t.regex(out.text() + err.text(), row.says);
    const { entry } = await c.consul.kvGet(`acme/steward/control/ack-short-circuit/${row.pool || "workers"}`);
    t.is(entry !== undefined, row.written);
    if (row.written) t.like(JSON.parse(entry?.value.toString() ?? "{}"), { by: "ana", reason: "rack 4 lost" });
  });
}

import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { freezeCommand } from "../../src/cli/freeze.js";
import { startConsulSim } from "../helpers/consul-sim.js";

function sink(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
  return { stream, text: () => text };
}

async function configFile(t: { teardown: (fn: () => Promise<void>) => void }, consulUrl: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "steward-cli-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "steward.yaml");
  await writeFile(file, `consul:\n  address: ${consulUrl}\nstatePrefix: acme/steward\n`);
  return file;
}

/** A daemon's `/api/status` that lists the environments qa and prod. */
async function daemon(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const server = http.createServer((_req, res) => res.end(JSON.stringify({ environments: ["qa", "prod"] })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("steward_freeze_writes_the_switch_with_who_and_why_and_unfreeze_removes_it", async (t) => {
  const c = await startConsulSim(t);
  const config = await configFile(t, c.url);
  const url = await daemon(t);
  const out = sink();
  t.is(await freezeCommand("freeze", { config, env: "prod", by: "ana", reason: "release night", url }, out.stream), 0);
  t.regex(out.text(), /prod frozen by ana \(release night\)/);
  const { entry } = await c.consul.kvGet("acme/steward/control/freeze/prod");
  t.like(JSON.parse(entry?.value.toString() ?? "{}"), { by: "ana", reason: "release night" });
  t.is(await freezeCommand("unfreeze", { config, env: "prod", url }, sink().stream), 0);
  t.is((await c.consul.kvGet("acme/steward/control/freeze/prod")).entry, undefined);
});

test("steward_freeze_of_an_unknown_environment_names_it_and_writes_nothing", async (t) => {
  const c = await startConsulSim(t);
  const config = await configFile(t, c.url);
  const err = sink();
  t.is(await freezeCommand("freeze", { config, env: "staging", url: await daemon(t) }, sink().stream, err.stream), 1);
  t.regex(err.text(), /no environment staging in the desired state \(environments: qa, prod\)/);
  t.is((await c.consul.kvGet("acme/steward/control/freeze/staging")).entry, undefined);
});

test("steward_freeze_without_an_environment_prints_the_usage", async (t) => {
  const err = sink();
  t.is(await freezeCommand("freeze", { url: "http://127.0.0.1:1" }, sink().stream, err.stream), 64);
  t.regex(err.text(), /usage: steward freeze ENV/);
});

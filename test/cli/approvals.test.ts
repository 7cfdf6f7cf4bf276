import test from "ava";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { approvalCommand } from "../../src/cli/approvals.js";
import { startConsulSim } from "../helpers/consul-sim.js";

const D = `sha256:${"c".repeat(64)}`;

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

test("steward approve writes the decision with who, stage and reason under the configured prefix", async (t) => {
  const c = await startConsulSim(t);
  const config = await configFile(t, c.url);
  const out = sink();
  const code = await approvalCommand("approve", { config, service: "web", digest: D, stage: "prod", by: "ana", reason: "looks good" }, out.stream);
  t.is(code, 0);
  t.regex(out.text(), /web sha256:c{64} approved for prod by ana/);
  const { entry } = await c.consul.kvGet(`acme/steward/approvals/web/${D}`);
  t.like(JSON.parse(entry?.value.toString() ?? "{}"), { decision: "approve", by: "ana", stage: "prod", reason: "looks good" });
});

test("steward reject overwrites an approval; who defaults to $USER", async (t) => {
  const c = await startConsulSim(t);
  const config = await configFile(t, c.url);
  await approvalCommand("approve", { config, service: "web", digest: D, by: "ana" }, sink().stream);
  const before = process.env.USER;
  process.env.USER = "bo";
  t.teardown(() => {
    process.env.USER = before;
  });
  t.is(await approvalCommand("reject", { config, service: "web", digest: D }, sink().stream), 0);
  const { entry } = await c.consul.kvGet(`acme/steward/approvals/web/${D}`);
  t.like(JSON.parse(entry?.value.toString() ?? "{}"), { decision: "reject", by: "bo" });
});

test("steward approve without a digest prints the usage and exits 64", async (t) => {
  const err = sink();
  t.is(await approvalCommand("approve", { service: "web" }, sink().stream, err.stream), 64);
  t.regex(err.text(), /usage: steward approve SERVICE DIGEST/);
});

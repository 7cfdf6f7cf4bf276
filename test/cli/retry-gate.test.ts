import test from "ava";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { retryGateCommand } from "../../src/cli/retry-gate.js";
import { newRecord, transition, type JournalEvent, type PromotionRecord } from "../../src/reconciler/promotion/journal.js";
import { startConsulSim } from "../helpers/consul-sim.js";

const D = `sha256:${"c".repeat(64)}`;
const GATE = { kind: "manual" } as const;

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

function record(failure: "GateFailed" | "DeploymentFailed"): PromotionRecord {
  let r = newRecord({ service: "web", digest: D, tag: "build-7", stages: ["qa", "prod"] }, 1_000);
  const events: JournalEvent[] =
    failure === "GateFailed"
      ? [
          { type: "enter", stage: "qa", reason: "StageEntered", message: "m" },
          { type: "deploymentSucceeded", stage: "qa", gates: [GATE], message: "m" },
          { type: "gateStarted", stage: "qa", gate: 0, message: "m" },
          { type: "failed", stage: "qa", gate: 0, reason: "GateFailed", message: "rejected" },
        ]
      : [
          { type: "enter", stage: "qa", reason: "StageEntered", message: "m" },
          { type: "failed", stage: "qa", reason: "DeploymentFailed", message: "failed" },
        ];
  for (const e of events) r = transition(r, e, 2_000);
  return r;
}

const rows: Array<{ name: string; failure: "GateFailed" | "DeploymentFailed"; ref: string; stage: string; code: number; out: RegExp; written: boolean }> = [
  { name: "a_failed_gate_named_by_its_build_tag_is_requested", failure: "GateFailed", ref: "build-7", stage: "qa", code: 0, out: /retry of web build-7's failed gate in qa \(GateFailed\) requested by ana/, written: true },
  { name: "a_failed_gate_named_by_its_digest_is_requested", failure: "GateFailed", ref: D, stage: "qa", code: 0, out: /requested by ana/, written: true },
  { name: "a_failed_deployment_is_refused_with_the_reason", failure: "DeploymentFailed", ref: "build-7", stage: "qa", code: 1, out: /its deployment failed \(DeploymentFailed\), not at a gate/, written: false },
  { name: "another_stage_is_refused", failure: "GateFailed", ref: "build-7", stage: "prod", code: 1, out: /it failed in qa, not in prod/, written: false },
  { name: "an_unknown_build_is_refused", failure: "GateFailed", ref: "build-8", stage: "qa", code: 1, out: /no promotion of a build tagged build-8/, written: false },
];

for (const row of rows) {
  test(`steward_retry_gate_${row.name}`, async (t) => {
    const c = await startConsulSim(t);
    const config = await configFile(t, c.url);
    await c.consul.kvPut(`acme/steward/journal/promotion/web/${D}`, JSON.stringify(record(row.failure)));
    const out = sink();
    const code = await retryGateCommand({ config, service: "web", digest: row.ref, stage: row.stage, by: "ana" }, out.stream, out.stream);
    t.is(code, row.code);
    t.regex(out.text(), row.out);
    const { entry } = await c.consul.kvGet(`acme/steward/gate-retries/web/${D}`);
    t.is(entry !== undefined, row.written);
    if (entry) t.like(JSON.parse(entry.value.toString()), { stage: row.stage, by: "ana" });
  });
}

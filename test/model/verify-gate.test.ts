import test from "ava";
import { loadDesiredState, isVerifyJobFile } from "../../src/model/load.js";
import { InvalidInputError, describeIssue } from "../../src/model/errors.js";
import type { TreeSnapshot } from "../../src/model/types.js";

const STEWARD = `environments:\n  - name: qa\n    nomad:\n      address: http://127.0.0.1:4646\n`;
const JOB = `variable "image" {}\n\njob "web" {\n  group "web" {\n    task "web" {\n      config {\n        image = var.image\n      }\n    }\n  }\n}\n`;
const TESTS = `variable "image" {}\n\njob "web-tests" {\n  type = "batch"\n  group "t" {\n    task "t" {\n      config {\n        image = var.image\n      }\n    }\n  }\n}\n`;

function snapshot(service: string, extra: Record<string, string> = {}): TreeSnapshot {
  const files = { "steward.yaml": STEWARD, "services/web/service.yaml": service, "services/web/web.nomad.hcl": JOB, ...extra };
  return { revision: "r1", origin: "test", files: new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])) };
}

const withGate = (job: string): string => `image:\n  repository: 127.0.0.1:5000/web\n  policy: { type: buildNumber }\npromotion:\n  gates:\n    qa:\n      - verify: { job: ${job} }\n`;

test("a verify job file beside service.yaml is read into the gate, and is not a stray file", async (t) => {
  const state = await loadDesiredState(snapshot(withGate("tests.nomad.hcl"), { "services/web/tests.nomad.hcl": TESTS }));
  const gate = state.services[0]?.promotion?.gates.qa?.[0];
  t.like(gate, { kind: "verify", job: "tests.nomad.hcl", file: "services/web/tests.nomad.hcl", hcl: TESTS });
});

test("a verify job ID stays an ID, with no file", async (t) => {
  const state = await loadDesiredState(snapshot(withGate("web-tests")));
  const gate = state.services[0]?.promotion?.gates.qa?.[0];
  t.deepEqual(gate, { kind: "verify", job: "web-tests", timeoutMs: 600_000 });
});

test("a missing verify job file is an issue at the gate's field", async (t) => {
  const err = await t.throwsAsync(loadDesiredState(snapshot(withGate("missing.nomad.hcl"))), { instanceOf: InvalidInputError });
  const lines = (err).issues.map(describeIssue);
  t.true(lines.some((l) => l.includes("services/web/service.yaml:7") && l.includes("promotion.gates.qa[0].verify.job") && l.includes("services/web/missing.nomad.hcl does not exist")), lines.join("\n"));
});

test("a verify job path may not leave the tree", async (t) => {
  const err = await t.throwsAsync(loadDesiredState(snapshot(withGate("../api/tests.hcl"))), { instanceOf: InvalidInputError });
  t.regex((err).message, /promotion\.gates\.qa\[0\]\.verify\.job.*"\.\."/);
});

const kinds: Array<[string, boolean]> = [["tests.nomad.hcl", true], ["tests.hcl", true], ["tests.nomad", true], ["web-tests", false], ["web.tests", false]];
for (const [job, file] of kinds) test(`verify job ${job} is ${file ? "a file" : "a job ID"}`, (t) => t.is(isVerifyJobFile(job), file));

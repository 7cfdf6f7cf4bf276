// renderVariables' text evaluated the way Nomad's /v1/jobs/parse evaluates it: sim's
// jobspec parser runs HashiCorp's hcl/v2 (a Go helper), so quoting mistakes show here as
// values that differ, or as parse errors.
import anyTest, { type TestFn } from "ava";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createJobParser, type JobParser } from "../../sim/nomad/parse/index.js";
import { loadDesiredState } from "../../src/model/load.js";
import { snapshotFromDirectory } from "../../src/model/snapshot-dir.js";
import { renderVariables } from "../../src/model/variables.js";
import type { ServiceSpec } from "../../src/model/types.js";

const test = anyTest as TestFn<{ parser: JobParser }>;
const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../desired-state");
const IMAGE = "127.0.0.1:5000/web@sha256:" + "b".repeat(64);

test.before(async (t) => {
  t.context.parser = await createJobParser();
});
test.after.always(async (t) => {
  await t.context.parser?.close();
});

const JOB = `variable "image" { type = string }
variable "v" {}
job "probe" {
  meta {
    image = var.image
    v     = var.v
  }
  group "g" {
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
`;

function probe(v: string | number | boolean): ServiceSpec {
  return {
    name: "probe",
    file: "services/probe/service.yaml",
    jobFile: "services/probe/probe.nomad.hcl",
    jobHcl: JOB,
    image: { repository: "127.0.0.1:5000/web" },
    environments: { qa: { variables: { v } } },
    sync: { drift: "heal", adopt: false, prune: false, pruneGracePeriodMs: 0, maxPruneShare: 0 },
  };
}

// Meta values are strings in Nomad's API, so every value is compared as text.
const values: Array<{ name: string; value: string | number | boolean; meta: string }> = [
  { name: "plain_string", value: "hello", meta: "hello" },
  { name: "interpolation_stays_literal", value: "${var.image}", meta: "${var.image}" },
  { name: "escaped_interpolation_stays_as_written", value: "$${x}", meta: "$${x}" },
  { name: "directive_stays_literal", value: "%{ if true }x%{ endif }", meta: "%{ if true }x%{ endif }" },
  { name: "quotes_and_backslashes", value: 'a "b" \\c', meta: 'a "b" \\c' },
  { name: "newline_and_tab", value: "line1\nline2\tend", meta: "line1\nline2\tend" },
  { name: "unicode", value: "café ☕", meta: "café ☕" },
  { name: "number", value: 42, meta: "42" },
  { name: "negative_decimal", value: -1.5, meta: "-1.5" },
  { name: "boolean", value: true, meta: "true" },
];

for (const row of values) {
  test(`a rendered ${row.name} value reaches the job unchanged`, async (t) => {
    const r = await t.context.parser.parse({ JobHCL: JOB, Variables: renderVariables(probe(row.value), "qa", IMAGE) });
    if (!r.ok) return t.fail(r.error);
    const meta = r.job.Meta as Record<string, string>;
    t.is(meta.v, row.meta);
    t.is(meta.image, IMAGE);
  });
}

test("every service of the example tree parses in every environment, with its image and variables", async (t) => {
  const state = await loadDesiredState(await snapshotFromDirectory(EXAMPLE, "r", "example"));
  const seen: string[] = [];
  for (const s of state.services) {
    for (const env of Object.keys(s.environments)) {
      const ref = `${s.image.repository}@${s.image.digest ?? ""}`;
      const r = await t.context.parser.parse({ JobHCL: s.jobHcl, Variables: renderVariables(s, env, ref), Canonicalize: true });
      if (!r.ok) return t.fail(`${s.name} in ${env}: ${r.error}`);
      const groups = r.job.TaskGroups as Array<{ Name: string; Count: number; Tasks: Array<{ Config: { image: string } }> }>;
      t.is(r.job.ID, s.jobId);
      for (const g of groups) t.true(g.Tasks.every((task) => task.Config.image === ref), `${s.name}/${g.Name} runs the pinned image`);
      seen.push(`${s.name}@${env}: ${groups.map((g) => `${g.Name}=${g.Count}`).join(" ")}`);
    }
  }
  t.deepEqual(seen, ["api@qa: api=1 worker=1", "api@prod: api=2 worker=2", "hello@qa: hello=1", "hello@prod: hello=2", "web@qa: web=1", "web@prod: web=3"]);
});

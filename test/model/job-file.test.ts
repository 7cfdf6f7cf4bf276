import test from "ava";
import { hclDiagnostics, inspectJobFile } from "../../src/model/job-file.js";
import { describeIssue } from "../../src/model/errors.js";

const F = "services/web/web.nomad.hcl";

// The parser's error texts as @cdktf/hcl2json 0.21 gives them.
const diagnostics: Array<{ name: string; message: string; lines: string[] }> = [
  {
    name: "one_diagnostic_gives_its_line",
    message: `parse config: [${F}:2,7-3,1: Invalid expression; Expected the start of an expression, but found an invalid expression token.]`,
    lines: [`${F}:2: HCL: Invalid expression: Expected the start of an expression, but found an invalid expression token.`],
  },
  {
    name: "each_diagnostic_is_an_issue_and_repeats_are_dropped",
    message:
      `parse config: [${F}:2,9-3,1: Invalid multi-line string; Quoted strings may not be split. ` +
      `${F}:3,2-4,1: Invalid multi-line string; Quoted strings may not be split. ` +
      `${F}:2,9-3,1: Invalid multi-line string; Quoted strings may not be split.]`,
    lines: [`${F}:2: HCL: Invalid multi-line string: Quoted strings may not be split.`, `${F}:3: HCL: Invalid multi-line string: Quoted strings may not be split.`],
  },
  {
    name: "a_position_inside_the_detail_does_not_split_it",
    message: `parse config: [${F}:3,3-4: Attribute redefined; The argument "a" was already set at ${F}:2,3-4. Each argument may be set only once.]`,
    lines: [`${F}:3: HCL: Attribute redefined: The argument "a" was already set at ${F}:2,3-4. Each argument may be set only once.`],
  },
  {
    name: "unknown_format_kept_whole_without_line",
    message: "parse config: something else broke",
    lines: [`${F}: HCL: something else broke`],
  },
];

for (const row of diagnostics) {
  test(`hclDiagnostics ${row.name}`, (t) => {
    t.deepEqual(hclDiagnostics(F, row.message).map(describeIssue), row.lines);
  });
}

const JOB = (id = "") => `variable "image" {}\njob "web" {\n${id}  group "g" {\n    task "t" {\n      config { image = var.image }\n    }\n  }\n}\n`;

test("job ID is the job block's label", async (t) => {
  const { facts } = await inspectJobFile(F, JOB());
  t.is(facts?.jobId, "web");
  t.is(facts?.jobLine, 2);
});

test("a literal id attribute wins over the label, as in Nomad", async (t) => {
  const { facts } = await inspectJobFile(F, JOB('  id = "web-v2"\n'));
  t.is(facts?.jobId, "web-v2");
});

test("an id built from variables leaves the job ID to Nomad's parse", async (t) => {
  const { facts, issues } = await inspectJobFile(F, JOB('  id = "web-${var.env}"\n'));
  t.deepEqual(issues, []);
  t.is(facts?.jobId, undefined);
});

test("variables are declared by variable blocks and variables {} blocks, with or without default", async (t) => {
  const hcl = `variable "image" {}\nvariable "count" { default = 1 }\nvariables {\n  region = "eu"\n}\njob "web" {\n  group "g" {\n    task "t" {\n      config { image = var.image }\n    }\n  }\n}\n`;
  const { facts } = await inspectJobFile(F, hcl);
  t.deepEqual(Object.fromEntries(facts?.variables ?? []), {
    image: { hasDefault: false },
    count: { hasDefault: true },
    region: { hasDefault: true },
  });
});

test("variable image declared but never used is refused", async (t) => {
  const hcl = `variable "image" {}\njob "web" {\n  group "g" {\n    task "t" {\n      config { image = "nginx" }\n    }\n  }\n}\n`;
  const { facts, issues } = await inspectJobFile(F, hcl);
  t.is(facts, undefined);
  t.deepEqual(issues.map(describeIssue), [
    `${F}: variable "image" is declared but never used; set the task's image = var.image, or the promoted image never runs`,
  ]);
});

test("a file without any job block is refused", async (t) => {
  const { issues } = await inspectJobFile(F, `variable "image" {}\n`);
  t.deepEqual(issues.map(describeIssue), [
    `${F}: no job block; a job file holds exactly one job "<id>" { … } block`,
    `${F}: variable "image" is declared but never used; set the task's image = var.image, or the promoted image never runs`,
  ]);
});

test("HCL-JSON job files are refused with a clear message", async (t) => {
  const { issues } = await inspectJobFile(F, `{"job": {"web": {}}}`);
  t.deepEqual(issues.map(describeIssue), [`${F}:1: HCL-JSON job files are not supported; write the job in native HCL syntax`]);
});

test("the same broken text in two files is reported in each file (the memo is keyed by file and text)", async (t) => {
  const text = `variable "image" {}\n`;
  const other = "services/api/api.nomad.hcl";
  const a = await inspectJobFile(F, text);
  const b = await inspectJobFile(other, text);
  t.true(a.issues.length > 0);
  t.true(a.issues.every((i) => i.file === F));
  t.true(b.issues.every((i) => i.file === other));
});

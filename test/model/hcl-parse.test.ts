import test from "ava";
import { HclParser } from "../../src/model/hcl-parse.js";
import { eventually } from "../helpers/eventually.js";

const JOB = `variable "image" {}\n\njob "web" {\n  group "web" {}\n}\n`;

test("a job file parses in the worker into hcl2json's JSON", async (t) => {
  const parser = new HclParser();
  t.teardown(() => parser.close());
  const body = await parser.parse("web.nomad.hcl", JOB);
  t.deepEqual(Object.keys(body).sort(), ["job", "variable"]);
  t.deepEqual(Object.keys(body.job as object), ["web"]);
});

test("a syntax error rejects with hcl2json's located message", async (t) => {
  const parser = new HclParser();
  t.teardown(() => parser.close());
  const err = await t.throwsAsync(parser.parse("web.nomad.hcl", `job "web" {\n`));
  t.regex(err?.message ?? "", /web\.nomad\.hcl:1,\d+-\d+: Unclosed configuration block/);
});

test("answers come back to their own calls when many are in flight", async (t) => {
  const parser = new HclParser();
  t.teardown(() => parser.close());
  const ids = Array.from({ length: 20 }, (_, i) => `job-${i}`);
  const bodies = await Promise.all(ids.map((id) => parser.parse(`${id}.hcl`, `job "${id}" {}\n`)));
  t.deepEqual(bodies.map((b) => Object.keys(b.job as object)[0]), ids);
});

test("the worker ends when idle, giving its memory back, and starts again on the next call", async (t) => {
  const parser = new HclParser(50);
  t.teardown(() => parser.close());
  await parser.parse("a.hcl", JOB);
  t.true(parser.running);
  await eventually(() => !parser.running, { timeoutMs: 5_000 });
  const body = await parser.parse("b.hcl", JOB);
  t.truthy(body.job);
});

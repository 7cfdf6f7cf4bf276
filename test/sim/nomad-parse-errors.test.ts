// Errors of sim's jobspec parser: the bad-input corpus of
// test/fixtures/jobspec/bad/ against golden texts (what Nomad puts after
// "Failed to parse job: "), and the message when Go is not installed.
import test from "ava";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createJobParser, type JobParser } from "../../sim/nomad/parse/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BAD = path.join(ROOT, "test/fixtures/jobspec/bad");

let parser: JobParser;
test.before(async () => {
  parser = await createJobParser();
});
test.after.always(async () => {
  await parser?.close();
});

const cases = readdirSync(BAD).filter((f) => f.endsWith(".hcl") && !f.endsWith(".vars.hcl")).map((f) => f.slice(0, -4));

test("the bad-input corpus has a golden text for every file", (t) => {
  t.true(cases.length >= 15);
  for (const name of cases) t.true(existsSync(path.join(BAD, `${name}.err`)), name);
});

for (const name of cases) {
  test(`bad input ${name}.hcl fails with its golden text`, async (t) => {
    const vars = path.join(BAD, `${name}.vars.hcl`);
    const result = await parser.parse({
      JobHCL: readFileSync(path.join(BAD, `${name}.hcl`), "utf8"),
      ...(existsSync(vars) ? { Variables: readFileSync(vars, "utf8") } : {}),
    });
    t.false(result.ok);
    if (!result.ok) t.is(result.error, readFileSync(path.join(BAD, `${name}.err`), "utf8").replace(/\n$/, ""));
  });
}

test("several unset variables give one line each", async (t) => {
  const result = await parser.parse({ JobHCL: 'variable "a" {}\nvariable "b" {}\njob "j" {}\n' });
  t.false(result.ok);
  if (!result.ok) {
    t.deepEqual(result.error.split("\n").map((l) => l.slice(0, l.indexOf(";"))), ['<nil>: Unset variable "a"', '<nil>: Unset variable "b"']);
  }
});

test("a variable set only by the Variables text is not an error, and undeclared names there are ignored", async (t) => {
  const result = await parser.parse({
    JobHCL: 'variable "image" {}\njob "j" {\n  meta {\n    image = var.image\n  }\n}\n',
    Variables: 'image = "redis:7"\nnot_declared = 1\n',
  });
  t.true(result.ok);
  if (result.ok) t.deepEqual(result.job.Meta, { image: "redis:7" });
});

test("without Go, building the helper fails and says what to install", async (t) => {
  // A PATH holding only `dirname`, which the build script needs before it looks for `go`.
  const bin = mkdtempSync(path.join(os.tmpdir(), "no-go-"));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  symlinkSync("/usr/bin/dirname", path.join(bin, "dirname"));

  const script = await promisify(execFile)("/bin/bash", [path.join(ROOT, "scripts/build-hcl-helper.sh")], { env: { PATH: bin } })
    .then(() => null, (err: { code: number; stderr: string }) => err);
  t.is(script?.code, 2);
  t.regex(script?.stderr ?? "", /golang-go.*bash scripts\/setup\.sh/s);

  const err = await t.throwsAsync(createJobParser({ rebuild: true, env: { PATH: bin } }));
  t.regex(err?.message ?? "", /bash scripts\/setup\.sh/);
  t.regex(err?.message ?? "", /golang-github-hashicorp-hcl-v2-dev/);
});

test("a helper process that dies fails its pending requests and reports itself dead", async (t) => {
  const { HelperProcess, HELPER_BINARY } = await import("../../sim/nomad/parse/helper-process.js");
  const { goSchema } = await import("../../sim/nomad/parse/schema.js");
  t.true(existsSync(HELPER_BINARY));
  const helper = new HelperProcess(goSchema());
  t.teardown(() => helper.close());
  const first = await helper.request({ op: "parse", job: 'job "a" {}\n', vars: "" });
  t.true(first.ok);
  const pending = helper.request({ op: "parse", job: 'job "b" {}\n', vars: "" });
  process.kill(helper.pid as number, "SIGKILL");
  // The answer may have been written before the kill landed; either way the
  // process ends up dead and later requests are refused.
  await pending.catch(() => undefined);
  await t.throwsAsync(async () => {
    for (;;) await helper.request({ op: "parse", job: 'job "c" {}\n', vars: "" });
  }, { message: /hcl-helper exited/ });
  t.true(helper.dead);
});

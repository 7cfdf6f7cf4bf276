// sim's jobspec parser (sim/nomad/parse): the jobs-parse sample, the fixture
// jobs of test/fixtures/jobspec/ against API JSON written from JOBSPEC.md,
// JOBSPEC.md's own worked example, concurrency and a run of 50 parses.
import test from "ava";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createJobParser, type JobParser, type ParseResult } from "../../sim/nomad/parse/index.js";
import { loadSample, sameShape, type Json } from "../helpers/samples.js";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/jobspec");
const read = (name: string): string => readFileSync(path.join(FIXTURES, name), "utf8");

let parser: JobParser;
test.before(async () => {
  parser = await createJobParser();
});
test.after.always(async () => {
  await parser?.close();
});

function jobOf(r: ParseResult): Record<string, unknown> {
  if (!r.ok) throw new Error(`parse failed: ${r.error}`);
  return r.job;
}

test("jobs-parse sample: the reply has the sample's shape and names the job of the HCL", async (t) => {
  const sample = loadSample("nomad/jobs-parse");
  const body = sample.request_body as { JobHCL: string; Canonicalize: boolean };
  const job = jobOf(await parser.parse(body));
  t.deepEqual(sameShape(sample.response_body, job as Json), []);
  // The sample's reply says "my-job" although its HCL says "example" (see its notes).
  t.is(job.ID, "example");
  t.is(job.Name, "example");
  t.is(job.Type, "service");
  t.is(job.Priority, 50);
  t.is((job.TaskGroups as { Name: string }[])[0]?.Name, "cache");
});

// Each fixture: its HCL, the request's Variables (if any), Canonicalize.
const FIXTURE_CASES: [name: string, canonicalize: boolean][] = [
  ["service", true],
  ["batch", true],
  ["system", true],
  ["variables", false],
  ["locals-functions", false],
  ["dynamic", false],
  ["runtime-refs", false],
  ["durations", false],
  ["inheritance", false],
];

for (const [name, canonicalize] of FIXTURE_CASES) {
  test(`fixture ${name}.hcl parses to ${name}.json${canonicalize ? " (Canonicalize)" : ""}`, async (t) => {
    const varsFile = `${name}.vars.hcl`;
    const result = await parser.parse({
      JobHCL: read(`${name}.hcl`),
      Canonicalize: canonicalize,
      ...(existsSync(path.join(FIXTURES, varsFile)) ? { Variables: read(varsFile) } : {}),
    });
    t.deepEqual(jobOf(result), JSON.parse(read(`${name}.json`)));
  });
}

test("JOBSPEC.md section 7 as printed does not parse: HCL2 has no nested blocks on one line", async (t) => {
  const JobHCL =
    'job "web" {\n group "g" {\n network { port "http" { static = 8080 } }\n task "t" {\n driver = "docker"\n config { image = "nginx" }\n }\n }\n}';
  const result = await parser.parse({ JobHCL, Canonicalize: true });
  t.false(result.ok);
  if (!result.ok) t.regex(result.error, /^input\.hcl:3,12-18: Argument definition required; A single-line block definition can contain only a single argument\./);
});

test("JOBSPEC.md section 7: the worked example, with and without Canonicalize", async (t) => {
  // The example's job, with the network block spread over lines.
  const JobHCL =
    'job "web" {\n group "g" {\n network {\n port "http" { static = 8080 }\n }\n task "t" {\n driver = "docker"\n config { image = "nginx" }\n }\n }\n}';
  const job = jobOf(await parser.parse({ JobHCL, Canonicalize: true })) as Record<string, Json>;
  t.like(job, { ID: "web", Name: "web", Type: "service", Priority: 50, Region: "global", Namespace: "default", NodePool: "", Datacenters: null });
  t.deepEqual(job.Update, {
    Stagger: 30e9, MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10e9, HealthyDeadline: 300e9,
    ProgressDeadline: 600e9, Canary: 0, AutoRevert: false, AutoPromote: false,
  });
  const g = (job.TaskGroups as Record<string, Json>[])[0] as Record<string, Json>;
  t.is(g.Count, 1);
  t.deepEqual(g.EphemeralDisk, { Sticky: false, Migrate: false, SizeMB: 300 });
  t.deepEqual(g.Update, job.Update);
  t.deepEqual(g.ReschedulePolicy, { Attempts: 0, Interval: 0, Delay: 30e9, DelayFunction: "exponential", MaxDelay: 3600e9, Unlimited: true });
  t.deepEqual(g.Migrate, { MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10e9, HealthyDeadline: 300e9 });
  t.deepEqual(g.RestartPolicy, { Interval: 1800e9, Attempts: 2, Delay: 15e9, Mode: "fail", RenderTemplates: false });
  const net = (g.Networks as Record<string, Json>[])[0] as Record<string, Json>;
  t.deepEqual(net.ReservedPorts, [{ Label: "http", Value: 8080, To: 0, HostNetwork: "", IgnoreCollision: false }]);
  t.is(net.DynamicPorts, null);
  t.is(net.Mode, "");
  const task = (g.Tasks as Record<string, Json>[])[0] as Record<string, Json>;
  t.deepEqual(task.Config, { image: "nginx" });
  t.like(task.Resources, { CPU: 100, Cores: 0, MemoryMB: 300, MemoryMaxMB: null, DiskMB: null });
  t.is(task.KillTimeout, 5e9);
  t.deepEqual(task.LogConfig, { MaxFiles: 10, MaxFileSizeMB: 10, Enabled: null, Disabled: false });
  t.deepEqual(task.RestartPolicy, g.RestartPolicy);
  t.false("CSIPluginConfig" in task);

  const plain = jobOf(await parser.parse({ JobHCL, Canonicalize: false })) as Record<string, Json>;
  t.like(plain, { ID: "web", Name: "web", Type: null, Priority: null, Region: null, Namespace: null, Update: null });
  const pg = (plain.TaskGroups as Record<string, Json>[])[0] as Record<string, Json>;
  t.like(pg, { Count: null, RestartPolicy: null, EphemeralDisk: null });
  t.is(((pg.Tasks as Record<string, Json>[])[0] as Record<string, Json>).Resources, null);
  t.deepEqual(((pg.Networks as Record<string, Json>[])[0] as Record<string, Json>).ReservedPorts, net.ReservedPorts);
});

test("object literals and nested blocks in config become one-element lists (HCL1 rules)", async (t) => {
  const JobHCL = `job "j" {
  group "g" {
    task "t" {
      config {
        labels = { a = "b" }
        nested = { a = { b = 1 } }
        mounts = [{ type = "bind" }]
        ratio  = 1.5
        nothing = null
        port_map { http = 80 }
        mount { source = "x" }
        mount { source = "y" }
        foo "bar" { x = 1 }
        logging { config = { tag = "x" } }
      }
    }
  }
}`;
  const job = jobOf(await parser.parse({ JobHCL })) as { TaskGroups: { Tasks: { Config: unknown }[] }[] };
  t.deepEqual(job.TaskGroups[0]?.Tasks[0]?.Config, {
    labels: [{ a: "b" }],
    nested: [{ a: { b: 1 } }],
    mounts: [{ type: "bind" }],
    ratio: 1.5,
    nothing: null,
    port_map: [{ http: 80 }],
    mount: [{ source: "x" }, { source: "y" }],
    foo: [{ bar: [{ x: 1 }] }],
    logging: [{ config: [{ tag: "x" }] }],
  });
});

test("template directives and heredocs are evaluated; Go templates and escapes stay", async (t) => {
  const JobHCL = `variable "names" {
  default = ["a", "b"]
}
job "j" {
  group "g" {
    task "t" {
      template {
        destination = "local/out"
        data        = <<EOT
%{ for n in var.names ~}
\${n}={{ key "\${n}" }}
%{ endfor ~}
%{ if length(var.names) > 1 }many%{ else }one%{ endif }
$\${escaped} %%{ literal }
EOT
      }
    }
  }
}`;
  const job = jobOf(await parser.parse({ JobHCL })) as { TaskGroups: { Tasks: { Templates: { EmbeddedTmpl: string }[] }[] }[] };
  t.is(job.TaskGroups[0]?.Tasks[0]?.Templates[0]?.EmbeddedTmpl, 'a={{ key "a" }}\nb={{ key "b" }}\nmany\n${escaped} %{ literal }\n');
});

test("constraint and affinity shorthands", async (t) => {
  const JobHCL = `job "j" {
  constraint {
    attribute = "\${attr.os.version}"
    version   = ">= 22.04"
  }
  constraint {
    distinct_property = "\${meta.rack}"
    value             = "2"
  }
  constraint {
    attribute        = "\${meta.tags}"
    set_contains_any = "a,b"
  }
  affinity {
    attribute        = "\${meta.tags}"
    set_contains_any = "ssd"
    weight           = 200
  }
}`;
  const job = jobOf(await parser.parse({ JobHCL }));
  t.deepEqual(job.Constraints, [
    { LTarget: "${attr.os.version}", RTarget: ">= 22.04", Operand: "version" },
    { LTarget: "${meta.rack}", RTarget: "2", Operand: "distinct_property" },
    // set_contains_any is accepted but ignored in a constraint.
    { LTarget: "${meta.tags}", RTarget: "", Operand: "=" },
  ]);
  // The weight is truncated to int8 without a range check: 200 wraps to -56.
  t.deepEqual(job.Affinities, [{ LTarget: "${meta.tags}", RTarget: "ssd", Operand: "set_contains_any", Weight: -56 }]);
});

test("HCL-JSON job files parse too (no config wrapping)", async (t) => {
  const JobHCL = JSON.stringify({
    job: { api: { type: "batch", group: { g: { count: 2, task: { t: { driver: "exec", config: { command: "/bin/true", labels: { a: "b" } } } } } } } },
  });
  const job = jobOf(await parser.parse({ JobHCL })) as { ID: string; Type: string; TaskGroups: { Count: number; Tasks: { Config: unknown }[] }[] };
  t.is(job.ID, "api");
  t.is(job.Type, "batch");
  t.is(job.TaskGroups[0]?.Count, 2);
  t.deepEqual(job.TaskGroups[0]?.Tasks[0]?.Config, { command: "/bin/true", labels: { a: "b" } });
});

test("concurrent parses each get their own answer", async (t) => {
  const names = FIXTURE_CASES.map(([n]) => n).filter((n) => n !== "variables");
  const results = await Promise.all(
    names.flatMap((name) => [0, 1].map(async () => ({ name, result: await parser.parse({ JobHCL: read(`${name}.hcl`) }) }))),
  );
  for (const { name, result } of results) {
    const expectedId = /job "([^"]+)"/.exec(read(`${name}.hcl`))?.[1];
    t.is(jobOf(result).ID, expectedId, name);
  }
});

test("50 parses in a row, each correct", async (t) => {
  const JobHCL = read("service.hcl");
  const expected = JSON.parse(read("service.json")) as unknown;
  const started = Date.now();
  for (let i = 0; i < 50; i++) {
    t.deepEqual(jobOf(await parser.parse({ JobHCL, Canonicalize: true })), expected);
  }
  t.log(`50 parses of service.hcl in ${Date.now() - started} ms`);
});

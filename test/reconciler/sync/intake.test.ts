import test from "ava";
import { RevisionIntake, pinnedImage, type ImageResolver } from "../../../src/reconciler/sync/intake.js";
import { InvalidInputError } from "../../../src/model/errors.js";
import type { EnvironmentSpec, TreeSnapshot } from "../../../src/model/types.js";
import type { NomadJob, NomadReader } from "../../../src/sources/nomad.js";

const ZERO = `sha256:${"0".repeat(64)}`;
const ONE = `sha256:${"1".repeat(64)}`;
const STEWARD = `environments:
  - name: qa
    nomad:
      address: http://qa.example:4646
  - name: prod
    nomad:
      address: http://prod.example:4646
`;
const service = (name: string): string => `image:\n  repository: r/${name}\n  digest: "${ZERO}"\n`;
const job = (name: string, extra = ""): string => `variable "image" {}\n\njob "${name}" {\n  group "g" {\n    task "t" {\n      config {\n        image = var.image\n      }\n    }\n  }\n}\n${extra}`;

function tree(names: string[]): Record<string, string> {
  const files: Record<string, string> = { "steward.yaml": STEWARD };
  for (const n of names) {
    files[`services/${n}/service.yaml`] = service(n);
    files[`services/${n}/${n}.nomad.hcl`] = job(n);
  }
  return files;
}

function snap(files: Record<string, string>, revision: string, since?: { revision: string; paths: string[] }): TreeSnapshot {
  return {
    revision,
    origin: "test",
    files: new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])),
    ...(since && { changes: { since: since.revision, paths: since.paths } }),
  };
}

/** Environments' Nomad stand-ins that count parse calls and answer a job named after the file's `job` block. */
function fakeNomad() {
  const parsed: string[] = [];
  const readerFor = (env: EnvironmentSpec): NomadReader =>
    ({
      env,
      parseJob: (hcl: string, variables: string): Promise<NomadJob> => {
        const id = /job "([^"]+)"/.exec(hcl)?.[1] ?? "?";
        parsed.push(`${env.name}/${id}`);
        if (hcl.includes("broken")) return Promise.reject(new InvalidInputError("Nomad (qa) refused the job file: broken", {}));
        const image = /image = "([^"]+)"/.exec(variables)?.[1];
        return Promise.resolve({ ID: id, Name: id, Type: "service", TaskGroups: [{ Name: "g", Count: 1, Tasks: [{ Name: "t", Config: { image } }] }] } as unknown as NomadJob);
      },
    }) as unknown as NomadReader;
  return { parsed, readerFor };
}

const NAMES = ["api", "web", "worker"];

test("a_commit_changing_one_service_parses_and_renders_only_it", async (t) => {
  const nomad = fakeNomad();
  const intake = new RevisionIntake(nomad.readerFor);
  const first = await intake.accept(snap(tree(NAMES), "r1"));
  t.is(nomad.parsed.length, 6, "every job in both environments");
  const files = { ...tree(NAMES), "services/web/web.nomad.hcl": job("web", "# a comment\n") };
  nomad.parsed.length = 0;
  const second = await intake.accept(snap(files, "r2", { revision: "r1", paths: ["services/web/web.nomad.hcl"] }));
  t.deepEqual(nomad.parsed.sort(), ["prod/web", "qa/web"]);
  t.is(intake.lastRendered, 2);
  t.is(intake.loader.lastLoad.mode, "incremental");
  for (const env of ["qa", "prod"]) {
    for (const id of ["api", "worker"]) t.true(second.jobs.get(env)?.get(id) === first.jobs.get(env)?.get(id), `${env}/${id} is the same object`);
    t.false(second.jobs.get(env)?.get("web") === first.jobs.get(env)?.get("web"), `${env}/web rendered again`);
  }
  t.is(second.state.revision, "r2");
});

test("a_revision_that_changes_nothing_renders_nothing", async (t) => {
  const nomad = fakeNomad();
  const intake = new RevisionIntake(nomad.readerFor);
  const first = await intake.accept(snap(tree(NAMES), "r1"));
  nomad.parsed.length = 0;
  const second = await intake.accept(snap({ ...tree(NAMES), "README.md": "hello\n" }, "r2", { revision: "r1", paths: ["README.md"] }));
  t.deepEqual(nomad.parsed, []);
  t.is(intake.lastRendered, 0);
  t.true(second.jobs.get("qa")?.get("web") === first.jobs.get("qa")?.get("web"));
  t.is((second.jobs.get("qa")?.get("web")?.spec.Meta as Record<string, string>)["steward.revision"], undefined, "the register stamps the revision, not the render");
});

test("a_new_image_from_the_resolver_renders_that_service_again", async (t) => {
  const nomad = fakeNomad();
  let promoted = false;
  const resolve: ImageResolver = (s, env) => (s.name === "web" && env === "qa" && promoted ? `r/web@${ONE}` : pinnedImage(s, env));
  const intake = new RevisionIntake(nomad.readerFor, resolve);
  const first = await intake.accept(snap(tree(NAMES), "r1"));
  promoted = true;
  nomad.parsed.length = 0;
  const second = await intake.accept(snap(tree(NAMES), "r2", { revision: "r1", paths: [] }));
  t.deepEqual(nomad.parsed, ["qa/web"]);
  t.false(second.jobs.get("qa")?.get("web") === first.jobs.get("qa")?.get("web"));
  t.true(second.jobs.get("prod")?.get("web") === first.jobs.get("prod")?.get("web"));
});

test("a_broken_commit_is_refused_whole_and_the_fix_after_it_renders_only_the_fixed_service", async (t) => {
  const nomad = fakeNomad();
  const intake = new RevisionIntake(nomad.readerFor);
  const first = await intake.accept(snap(tree(NAMES), "r1"));
  const broken = { ...tree(NAMES), "services/web/web.nomad.hcl": job("web", "# broken\n") };
  const err = await t.throwsAsync(intake.accept(snap(broken, "r2", { revision: "r1", paths: ["services/web/web.nomad.hcl"] })), { instanceOf: InvalidInputError });
  t.true(err.issues.every((i) => i.file === "services/web/web.nomad.hcl"), "the refusal names the job file");
  t.deepEqual([...new Set(err.issues.map((i) => i.env))].sort(), ["prod", "qa"]);
  // A duplicate job ID across two services is refused as a whole too.
  const dup = { ...tree(NAMES), "services/worker/worker.nomad.hcl": job("api") };
  const dupErr = await t.throwsAsync(intake.accept(snap(dup, "r3", { revision: "r2", paths: ["services/web/web.nomad.hcl", "services/worker/worker.nomad.hcl"] })), { instanceOf: InvalidInputError });
  t.regex(dupErr.message, /problem/);
  t.true(dupErr.issues.some((i) => /job ID "api"/.test(i.message)), dupErr.issues.map((i) => i.message).join("\n"));
  nomad.parsed.length = 0;
  const fixed = await intake.accept(snap(tree(NAMES), "r4", { revision: "r3", paths: ["services/worker/worker.nomad.hcl"] }));
  t.is(intake.loader.lastLoad.mode, "incremental");
  t.deepEqual(nomad.parsed, [], "every job file of r4 was parsed before with the same variables");
  t.true(fixed.jobs.get("qa")?.get("api") === first.jobs.get("qa")?.get("api"), "api, never touched, is r1's job");
  for (const id of ["web", "worker"]) t.is(fixed.jobs.get("qa")?.get(id)?.specHash, first.jobs.get("qa")?.get(id)?.specHash, `${id} is back to r1's spec`);
});

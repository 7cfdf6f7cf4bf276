import test from "ava";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DesiredStateLoader, loadDesiredState, type LoadOptions } from "../../src/model/load.js";
import { snapshotFromDirectory } from "../../src/model/snapshot-dir.js";
import { InvalidInputError, describeIssue } from "../../src/model/errors.js";
import type { DesiredState, TreeSnapshot } from "../../src/model/types.js";
import {
  DEFAULT_MAX_PRUNE_SHARE,
  DEFAULT_POOL_COOLDOWN_MS,
  DEFAULT_POOL_MAX_CONCURRENT,
  DEFAULT_POOL_MAX_UNHEALTHY_PERCENT,
  DEFAULT_POOL_UNHEALTHY_AFTER_MS,
  DEFAULT_POOL_FLAP_COUNT,
  DEFAULT_POOL_FLAP_WINDOW_MS,
  DEFAULT_POOL_DRAIN_DEADLINE_MS,
  DEFAULT_PRUNE_GRACE_PERIOD_MS,
  MAX_DESIRED_STATE_FILE_BYTES,
} from "../../src/config/defaults.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const EXAMPLE = path.join(ROOT, "desired-state");
const BAD = path.join(ROOT, "test/fixtures/desired-state/bad");

function snapshot(files: Record<string, string>): TreeSnapshot {
  return { revision: "rev-1", origin: "test", files: new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])) };
}

const STEWARD = `environments:
  - name: qa
    nomad:
      address: http://127.0.0.1:4646/
  - name: prod
    nomad:
      address: https://nomad.prod.example:4646
`;
const SERVICE = `image:\n  repository: 127.0.0.1:5000/web\n`;
const JOB = `variable "image" {}\n\njob "web" {\n  group "web" {\n    task "web" {\n      config {\n        image = var.image\n      }\n    }\n  }\n}\n`;
const MINIMAL = { "steward.yaml": STEWARD, "services/web/service.yaml": SERVICE, "services/web/web.nomad.hcl": JOB };

async function issuesOf(s: TreeSnapshot, options?: LoadOptions): Promise<string[]> {
  const err = await loadDesiredState(s, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InvalidInputError)) throw new Error(`expected InvalidInputError, got ${String(err)}`);
  return err.issues.map(describeIssue);
}

test("the example tree loads, environments in promotion order", async (t) => {
  const state = await loadDesiredState(await snapshotFromDirectory(EXAMPLE, "abc123", "dir:desired-state"));
  t.is(state.revision, "abc123");
  t.deepEqual(
    state.environments.map((e) => [e.name, e.nomad.address]),
    [
      ["qa", "http://127.0.0.1:4646"],
      ["prod", "http://127.0.0.1:4656"],
    ],
  );
  t.deepEqual(state.services.map((s) => [s.name, s.jobId, s.jobFile]), [
    ["api", "api", "services/api/api.nomad.hcl"],
    ["hello", "hello", "services/hello/hello.nomad.hcl"],
    ["web", "web", "services/web/web.nomad.hcl"],
  ]);
  const web = state.services.find((s) => s.name === "web");
  t.deepEqual(web?.environments, { qa: { variables: { count: 1 } }, prod: { variables: { count: 3 } } });
  t.regex(web?.image.digest ?? "", /^sha256:[0-9a-f]{64}$/);
  t.is(state.services.find((s) => s.name === "api")?.sync.drift, "report", "a service's sync overrides steward.yaml's");
  t.deepEqual(state.pools.map((p) => [p.name, p.env, p.role]), [["workers", "prod", "worker"]]);
});

test("omitted settings get their documented defaults", async (t) => {
  const state = await loadDesiredState(
    snapshot({
      ...MINIMAL,
      "pools/workers.yaml": "env: prod\nrole: worker\nselect:\n  nodePool: workers\nterraform:\n  dir: tf\n  address: aws_instance.w\n",
    }),
  );
  t.deepEqual(state.environments[0]?.nomad, { address: "http://127.0.0.1:4646", region: "global", namespace: "default", token: { kind: "none" } });
  const web = state.services[0];
  t.deepEqual(web?.sync, { drift: "heal", adopt: false, prune: false, pruneGracePeriodMs: DEFAULT_PRUNE_GRACE_PERIOD_MS, maxPruneShare: DEFAULT_MAX_PRUNE_SHARE });
  t.deepEqual(web?.environments, { qa: { variables: {} }, prod: { variables: {} } }, "a service without environments runs in all of them");
  t.is(web?.image.digest, undefined);
  t.is(web?.jobHcl, JOB);
  const pool = state.pools[0];
  t.deepEqual(pool?.terraform, { dir: "tf", workspace: "default", address: "aws_instance.w" });
  t.deepEqual(pool?.health, {
    unhealthyAfterMs: DEFAULT_POOL_UNHEALTHY_AFTER_MS,
    flapping: { count: DEFAULT_POOL_FLAP_COUNT, windowMs: DEFAULT_POOL_FLAP_WINDOW_MS, replace: false },
  });
  t.deepEqual(pool?.drain, { deadlineMs: DEFAULT_POOL_DRAIN_DEADLINE_MS });
  t.deepEqual(pool?.budgets, {
    maxUnhealthy: { percent: DEFAULT_POOL_MAX_UNHEALTHY_PERCENT },
    maxConcurrent: DEFAULT_POOL_MAX_CONCURRENT,
    cooldownMs: DEFAULT_POOL_COOLDOWN_MS,
  });
});

test("environment order follows steward.yaml, not the service's listing", async (t) => {
  const state = await loadDesiredState(
    snapshot({ ...MINIMAL, "services/web/service.yaml": `${SERVICE}environments:\n  prod: {}\n  qa:\n` }),
  );
  t.deepEqual(Object.keys(state.services[0]?.environments ?? {}), ["qa", "prod"]);
});

test("tokens, sync overrides and count budgets are read as written", async (t) => {
  const steward = `${STEWARD}      token:\n        vault: { path: secret/data/nomad, key: token }\nsync:\n  prune: true\n  pruneGracePeriod: 1h30m\n`;
  const service = `${SERVICE}sync:\n  maxPruneShare: 0.5\n  drift: report\n`;
  const pool = "env: qa\nrole: server\nselect: { meta: { role: server } }\nterraform: { dir: tf, address: a }\nbudgets: { maxUnhealthy: 1, cooldown: 90s }\n";
  const state = await loadDesiredState(snapshot({ ...MINIMAL, "steward.yaml": steward, "services/web/service.yaml": service, "pools/servers.yaml": pool }));
  t.deepEqual(state.environments[1]?.nomad.token, { kind: "vault", path: "secret/data/nomad", key: "token" });
  t.deepEqual(state.services[0]?.sync, { drift: "report", adopt: false, prune: true, pruneGracePeriodMs: 5_400_000, maxPruneShare: 0.5 });
  t.deepEqual(state.pools[0]?.budgets, { maxUnhealthy: { count: 1 }, maxConcurrent: 1, cooldownMs: 90_000 });
  t.deepEqual(state.pools[0]?.select, { meta: { role: "server" } });
});

test("Markdown files and .gitkeep are ignored anywhere", async (t) => {
  const state = await loadDesiredState(
    snapshot({ ...MINIMAL, "README.md": "# x", "services/web/NOTES.md": "x", "pools/.gitkeep": "", "docs/how.md": "x" }),
  );
  t.is(state.services.length, 1);
});

test("Consul KV folder keys (empty, ending in /) are skipped", async (t) => {
  const state = await loadDesiredState(snapshot({ ...MINIMAL, "services/": "", "services/web/": "", "pools/": "" }));
  t.is(state.services.length, 1);
});

test("a file of exactly the size limit is read; one byte more is refused", async (t) => {
  const padTo = (size: number) => JOB + "#".repeat(size - Buffer.byteLength(JOB) - 1) + "\n";
  const atLimit = padTo(MAX_DESIRED_STATE_FILE_BYTES);
  t.is(Buffer.byteLength(atLimit), MAX_DESIRED_STATE_FILE_BYTES);
  await t.notThrowsAsync(loadDesiredState(snapshot({ ...MINIMAL, "services/web/web.nomad.hcl": atLimit })));
  t.deepEqual(await issuesOf(snapshot({ ...MINIMAL, "services/web/web.nomad.hcl": padTo(MAX_DESIRED_STATE_FILE_BYTES + 1024) })), [
    "services/web/web.nomad.hcl: file is 257 KiB; the limit is 256 KiB",
  ]);
});

test("the error says which revision is refused and lists every issue in its message", async (t) => {
  const s = snapshot({ ...MINIMAL, "steward.yaml": `${STEWARD}sync:\n  drift: never\n  maxPruneShare: 2\n` });
  const err = await t.throwsAsync(loadDesiredState(s), { instanceOf: InvalidInputError });
  t.is(err?.kind, "invalid");
  t.deepEqual(err?.context, { revision: "rev-1" });
  t.is(
    err?.message,
    [
      "desired state rev-1 (test) is invalid: 2 problems",
      "  steward.yaml:9: sync.drift: must be heal or report",
      "  steward.yaml:10: sync.maxPruneShare: must be between 0 and 1",
    ].join("\n"),
  );
});

test("a snapshot without steward.yaml but with a nested one hints at the root", async (t) => {
  t.deepEqual(await issuesOf(snapshot({ "desired-state/steward.yaml": STEWARD })), [
    "desired-state/steward.yaml: unexpected file; expected steward.yaml, services/<name>/service.yaml with its job file, pools/<name>.yaml (and *.md anywhere)",
    "steward.yaml: missing: every desired-state tree needs steward.yaml at its root, declaring the environments; found desired-state/steward.yaml: is the tree's root set one directory too high?",
  ]);
});

test("a file that is not UTF-8 is refused", async (t) => {
  const s = snapshot(MINIMAL);
  s.files.set("services/web/service.yaml", Buffer.from([0x69, 0x6d, 0xff, 0xfe]));
  t.deepEqual(await issuesOf(s), ["services/web/service.yaml: not valid UTF-8 text"]);
});

test("a required variable is reported once when the service lists no environments", async (t) => {
  const job = JOB.replace('variable "image" {}', 'variable "image" {}\nvariable "count" { type = number }');
  t.deepEqual(await issuesOf(snapshot({ ...MINIMAL, "services/web/web.nomad.hcl": job })), [
    'services/web/service.yaml: environments: variable "count" has no default in services/web/web.nomad.hcl, so every environment must set it',
  ]);
});

test("services in different environments may share a job ID", async (t) => {
  const state = await loadDesiredState(
    snapshot({
      ...MINIMAL,
      "services/web/service.yaml": `${SERVICE}environments:\n  qa:\n`,
      "services/web-prod/service.yaml": `job: web.nomad.hcl\n${SERVICE}environments:\n  prod:\n`,
      "services/web-prod/web.nomad.hcl": JOB,
    }),
  );
  t.deepEqual(state.services.map((s) => [s.name, s.jobId]), [["web", "web"], ["web-prod", "web"]]);
});

// The golden corpus: each directory under test/fixtures/desired-state/bad/ is a tree that
// must be refused with exactly the issues in its expected.txt. An optional case.json sets
// {maxFileBytes} and {extraFiles} (paths a directory cannot hold, such as "../x").
for (const name of readdirSync(BAD).sort()) {
  test(`bad input: ${name}`, async (t) => {
    const dir = path.join(BAD, name);
    const s = await snapshotFromDirectory(dir, "rev-bad", `fixture:${name}`);
    s.files.delete("expected.txt");
    s.files.delete("case.json");
    const spec = existsSync(path.join(dir, "case.json"))
      ? (JSON.parse(readFileSync(path.join(dir, "case.json"), "utf8")) as { maxFileBytes?: number; extraFiles?: Record<string, string> })
      : {};
    for (const [file, text] of Object.entries(spec.extraFiles ?? {})) s.files.set(file, Buffer.from(text));
    const expected = readFileSync(path.join(dir, "expected.txt"), "utf8").split("\n").filter((l) => l !== "");
    t.deepEqual(await issuesOf(s, spec.maxFileBytes !== undefined ? { maxFileBytes: spec.maxFileBytes } : {}), expected);
  });
}

// Services that loaded cleanly are kept between revisions; these rows show the memo never hides a change.
test("a service loaded before is checked again when its job file changes", async (t) => {
  await loadDesiredState(snapshot(MINIMAL));
  const issues = await issuesOf(snapshot({ ...MINIMAL, "services/web/web.nomad.hcl": JOB.replace("var.image", `"nginx"`) }));
  t.true(issues.some((i) => i.includes(`variable "image" is declared but never used`)), issues.join("\n"));
});

test("a service loaded before is checked again when steward.yaml drops its environment", async (t) => {
  const withEnv = `${SERVICE}environments:\n  prod: {}\n`;
  await loadDesiredState(snapshot({ ...MINIMAL, "services/web/service.yaml": withEnv }));
  const issues = await issuesOf(snapshot({ ...MINIMAL, "services/web/service.yaml": withEnv, "steward.yaml": STEWARD.split("  - name: prod")[0] ?? "" }));
  t.true(issues.some((i) => i.includes(`unknown environment "prod"`)), issues.join("\n"));
});

test("an unchanged service of a new revision keeps its settings, and a changed one gets its new ones", async (t) => {
  const two = { ...MINIMAL, "services/api/service.yaml": SERVICE.replace("web", "api"), "services/api/api.nomad.hcl": JOB.replaceAll("web", "api") };
  await loadDesiredState(snapshot(two));
  const next = await loadDesiredState({ ...snapshot({ ...two, "services/api/service.yaml": `${SERVICE.replace("web", "api")}sync:\n  prune: true\n` }), revision: "rev-2" });
  t.is(next.revision, "rev-2");
  t.deepEqual(next.services.map((s) => [s.name, s.sync.prune]), [["api", true], ["web", false]]);
});

test("checking a large tree again lets timers run before it is loaded", async (t) => {
  // A changed steward.yaml makes every service be checked again (no parse: the job files are known);
  // that must not hold the event loop, or a leader's lock renewal waits for the whole tree.
  const files: Record<string, string> = { "steward.yaml": STEWARD };
  for (let i = 0; i < 1500; i++) {
    files[`services/s${i}/service.yaml`] = SERVICE.replace("web", `s${i}`);
    files[`services/s${i}/s${i}.nomad.hcl`] = JOB.replaceAll("web", `s${i}`);
  }
  await loadDesiredState(snapshot(files));
  let loaded = false;
  let loadedWhenTimerRan: boolean | undefined;
  setTimeout(() => (loadedWhenTimerRan = loaded), 0);
  const state = await loadDesiredState(snapshot({ ...files, "steward.yaml": `${STEWARD}sync:\n  prune: true\n` }));
  loaded = true;
  t.is(state.services.length, 1500);
  t.false(loadedWhenTimerRan, "the timer ran while the tree was being checked");
});

// ---- DesiredStateLoader: a revision that says what changed is read incrementally, with the result of a full load.

const POOL = readFileSync(path.join(EXAMPLE, "pools/workers.yaml"), "utf8").replace(/^env: .*$/m, "env: prod");
const BASE: Record<string, string> = {
  "steward.yaml": STEWARD,
  "README.md": "# desired state\n",
  "services/web/service.yaml": SERVICE,
  "services/web/web.nomad.hcl": JOB,
  "services/api/service.yaml": SERVICE.replace("web", "api"),
  "services/api/api.nomad.hcl": JOB.replaceAll("web", "api"),
  "services/worker/service.yaml": `${SERVICE.replace("web", "worker")}environments:\n  qa: {}\n`,
  "services/worker/worker.nomad.hcl": JOB.replaceAll("web", "worker"),
};

/** The next revision of `files`: `change` sets (or, with null, removes) paths; the snapshot says which. */
function nextRevision(files: Record<string, string>, change: Record<string, string | null>, revision: string, since: string): { files: Record<string, string>; snapshot: TreeSnapshot } {
  const next = { ...files };
  for (const [p, text] of Object.entries(change)) {
    if (text === null) delete next[p];
    else next[p] = text;
  }
  return { files: next, snapshot: { ...snapshot(next), revision, changes: { since, paths: Object.keys(change) } } };
}

/** What a load gives: the state, or the issues as a person reads them. */
async function outcomeOf(load: Promise<unknown>): Promise<unknown> {
  return load.then(
    (state) => ({ state }),
    (err: unknown) => {
      if (err instanceof InvalidInputError) return { message: err.message, issues: err.issues.map(describeIssue) };
      throw err;
    },
  );
}

const moved = (from: string, to: string): Record<string, string | null> => ({
  [`services/${from}/service.yaml`]: null,
  [`services/${from}/${from}.nomad.hcl`]: null,
  [`services/${to}/service.yaml`]: SERVICE.replace("web", to),
  [`services/${to}/${to}.nomad.hcl`]: JOB.replaceAll("web", to),
});

const incrementalRows: Array<{ name: string; change: Record<string, string | null>; mode: "full" | "incremental"; checked?: number }> = [
  { name: "one_changed_job_file_checks_only_its_service", change: { "services/web/web.nomad.hcl": JOB.replace("task \"web\"", "task \"main\"") }, mode: "incremental", checked: 1 },
  { name: "an_added_service_is_checked_alone", change: { "services/new/service.yaml": SERVICE.replace("web", "new"), "services/new/new.nomad.hcl": JOB.replaceAll("web", "new") }, mode: "incremental", checked: 1 },
  { name: "a_removed_service_leaves_the_state", change: { "services/api/service.yaml": null, "services/api/api.nomad.hcl": null }, mode: "incremental", checked: 1 },
  { name: "a_renamed_service_directory_is_a_removal_and_an_addition", change: moved("api", "backend"), mode: "incremental", checked: 2 },
  { name: "a_markdown_file_changes_nothing", change: { "README.md": "# changed\n", "services/web/NOTES.md": "notes\n" }, mode: "incremental", checked: 1 },
  { name: "a_stray_file_refuses_the_revision", change: { "stray.txt": "x\n" }, mode: "incremental", checked: 0 },
  { name: "a_service_yaml_removed_refuses_the_revision_for_its_lone_job_file", change: { "services/api/service.yaml": null }, mode: "incremental", checked: 1 },
  { name: "a_broken_service_yaml_refuses_the_revision", change: { "services/web/service.yaml": "sync:\n  drift: sometimes\n" }, mode: "incremental", checked: 1 },
  { name: "a_duplicate_job_id_refuses_the_revision", change: { "services/api/api.nomad.hcl": JOB }, mode: "incremental", checked: 1 },
  { name: "a_duplicate_job_id_in_a_new_service_refuses_the_revision", change: { "services/copy/service.yaml": SERVICE, "services/copy/copy.nomad.hcl": JOB }, mode: "incremental", checked: 1 },
  { name: "an_unknown_environment_refuses_the_revision", change: { "services/worker/service.yaml": `${SERVICE.replace("web", "worker")}environments:\n  staging: {}\n` }, mode: "incremental", checked: 1 },
  { name: "an_oversized_job_file_refuses_the_revision", change: { "services/web/web.nomad.hcl": `${JOB}#${"x".repeat(MAX_DESIRED_STATE_FILE_BYTES)}\n` }, mode: "incremental", checked: 1 },
  { name: "a_file_beside_the_job_file_refuses_the_revision", change: { "services/web/other.nomad.hcl": JOB }, mode: "incremental", checked: 1 },
  { name: "a_pool_added_is_checked", change: { "pools/workers.yaml": POOL }, mode: "incremental", checked: 0 },
  { name: "a_broken_pool_refuses_the_revision", change: { "pools/workers.yaml": "env: nowhere\n" }, mode: "incremental", checked: 0 },
  { name: "a_changed_steward_yaml_loads_in_full", change: { "steward.yaml": `${STEWARD}sync:\n  prune: true\n` }, mode: "full" },
  { name: "a_broken_steward_yaml_refuses_the_revision_in_a_full_load", change: { "steward.yaml": "environments: 3\n" }, mode: "full" },
];

for (const row of incrementalRows) {
  test(`incremental: ${row.name}`, async (t) => {
    const loader = new DesiredStateLoader();
    const first = await loader.load(snapshot(BASE));
    const { files, snapshot: next } = nextRevision(BASE, row.change, "rev-2", "rev-1");
    const got = await outcomeOf(loader.load(next));
    t.is(loader.lastLoad.mode, row.mode);
    if (row.checked !== undefined) t.is(loader.lastLoad.servicesChecked, row.checked);
    t.deepEqual(got, await outcomeOf(loadDesiredState({ ...snapshot(files), revision: "rev-2" })), "the same result as a full load of the new tree");
    // Services the change did not touch are the very objects of the last revision (the intake keeps their jobs).
    const state = (got as { state?: DesiredState }).state;
    const touched = new Set(Object.keys(row.change).map((p) => p.split("/")[1]));
    for (const s of state?.services ?? []) if (!touched.has(s.name) && row.mode === "incremental") t.true(s === first.services.find((f) => f.name === s.name), `${s.name} kept`);
    // Rows named after a refusal must be refused (else the comparison above could hold between two acceptances).
    t.is(state === undefined, row.name.includes("refuses"));
  });
}

test("incremental: a refused revision is the base of the next one, which is accepted when it fixes it", async (t) => {
  const loader = new DesiredStateLoader();
  await loader.load(snapshot(BASE));
  const broken = nextRevision(BASE, { "services/web/service.yaml": "sync:\n  drift: sometimes\n" }, "rev-2", "rev-1");
  await t.throwsAsync(loader.load(broken.snapshot), { instanceOf: InvalidInputError });
  const fixed = nextRevision(broken.files, { "services/web/service.yaml": `${SERVICE}sync:\n  drift: report\n` }, "rev-3", "rev-2");
  const state = await loader.load(fixed.snapshot);
  t.is(loader.lastLoad.mode, "incremental");
  t.deepEqual(await outcomeOf(Promise.resolve(state)), await outcomeOf(loadDesiredState({ ...snapshot(fixed.files), revision: "rev-3" })));
  t.is(state.services.find((s) => s.name === "web")?.sync.drift, "report");
});

test("incremental: a snapshot whose base is not the last tree loaded is loaded in full", async (t) => {
  const loader = new DesiredStateLoader();
  await loader.load(snapshot(BASE));
  const skipped = nextRevision(BASE, { "services/web/web.nomad.hcl": JOB.replace("task \"web\"", "task \"main\"") }, "rev-3", "rev-2");
  const state = await loader.load(skipped.snapshot);
  t.is(loader.lastLoad.mode, "full");
  t.is(state.revision, "rev-3");
  const other = await loader.load({ ...snapshot(BASE), origin: "elsewhere", revision: "rev-4", changes: { since: "rev-3", paths: [] } });
  t.is(loader.lastLoad.mode, "full", "another origin's revision names are not comparable");
  t.is(other.origin, "elsewhere");
});

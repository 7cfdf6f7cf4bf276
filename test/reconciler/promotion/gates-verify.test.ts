import test from "ava";
import { startSim, type Sim } from "../../../sim/index.js";
import { createJobParser, type JobParser } from "../../../sim/nomad/parse/index.js";
import { GateNomadClients, GateRunner } from "../../../src/reconciler/promotion/gates.js";
import type { GateContext } from "../../../src/reconciler/promotion/gate-types.js";
import { evaluateGate } from "../../../src/reconciler/promotion/plan.js";
import { envTokens } from "../../../src/reconciler/sync/clients.js";
import { createLogger } from "../../../src/log.js";
import type { EnvironmentSpec, GateSpec } from "../../../src/model/types.js";
import { eventually } from "../../helpers/eventually.js";

/** Verify gates against sim's Nomad: a batch job registered for the digest, followed until it exits. */

let sharedParser: Promise<JobParser> | undefined;
test.after.always(async () => {
  await (await sharedParser)?.close();
});

const REPO = "127.0.0.1:5000/web";
const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const testsHcl = (meta = ""): string => `variable "image" {
  type = string
}

job "web-tests" {
  type = "batch"
  group "suite" {
    task "suite" {
      driver = "docker"
      config {
        image = var.image
      }
${meta}
    }
  }
}
`;

interface Fixture {
  sim: Sim;
  env: EnvironmentSpec;
  runner: (o?: { verifyWaitMs?: number }) => GateRunner;
  /** Job registrations (`PUT /v1/jobs`) sim's qa Nomad answered. */
  registrations: () => number;
  job: (id: string) => Promise<Record<string, unknown> | undefined>;
}

async function fixture(t: { teardown: (fn: () => Promise<void> | void) => void }): Promise<Fixture> {
  sharedParser ??= createJobParser();
  const sim = await startSim({ clusters: [{ name: "qa", nodes: 2 }], timeScale: 20, parser: await sharedParser });
  t.teardown(() => sim.close());
  const env: EnvironmentSpec = { name: "qa", nomad: { address: sim.urls.nomad.qa ?? "", region: "global", namespace: "default", token: { kind: "none" } } };
  const clients = new GateNomadClients({ environments: () => [env], tokens: envTokens, http: { retry: { baseMs: 20, capMs: 200 } } });
  const logger = createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" });
  return {
    sim,
    env,
    runner: (o = {}) => {
      const r = new GateRunner({ nomad: (s) => clients.for(s), logger, verifyWaitMs: o.verifyWaitMs ?? 2_000 });
      t.teardown(() => r.stopAll());
      return r;
    },
    registrations: () => sim.log.find({ server: "nomad:qa", method: "PUT", pathPrefix: "/v1/jobs" }).filter((e) => e.path === "/v1/jobs" && e.status === 200).length,
    job: async (id) => {
      const res = await fetch(`${sim.urls.nomad.qa}/v1/job/${id}`);
      return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
    },
  };
}

function ctx(gate: GateSpec, d: string, startedAt = Date.now()): GateContext {
  return { service: "web", stage: "qa", gateIndex: 0, gate, digest: d, image: `${REPO}@${d}`, startedAt, nomadJob: "web" };
}

function verdictOf(r: GateRunner, c: GateContext): string {
  const obs = r.observe(c);
  return evaluateGate(c.gate, { startedAt: c.startedAt, now: Date.now(), approved: false, obs: { deployments: [], allocFailures: [], gates: obs ? { 0: obs } : {} }, gate: 0 }).verdict;
}

const fileGate = (hcl = testsHcl(), timeoutMs = 60_000): GateSpec => ({ kind: "verify", job: "tests.nomad.hcl", file: "services/web/tests.nomad.hcl", hcl, timeoutMs });

test("a job file's verification job runs the digest and passes when it exits 0", async (t) => {
  const f = await fixture(t);
  const runner = f.runner();
  const d = digest("1");
  const c = ctx(fileGate(), d);
  await runner.start(c);
  await eventually(() => verdictOf(runner, c) === "passed", { timeoutMs: 10_000 });
  t.deepEqual(runner.observe(c), { kind: "verify", status: "dead", exitCode: 0 });
  const job = await f.job("web-tests-111111111111");
  t.like(job, { Type: "batch", Status: "dead", Meta: { image: `${REPO}@${d}`, "steward.verify-for": `web@${d}` } });
  const image = (job?.TaskGroups as Array<{ Tasks: Array<{ Config: { image: string } }> }>)[0]?.Tasks[0]?.Config.image;
  t.is(image, `${REPO}@${d}`, "var.image is the digest, never a tag");
  t.is(f.registrations(), 1);
});

test("a verification job whose tests fail exits 1 and fails the gate, after Nomad's reschedule", async (t) => {
  const f = await fixture(t);
  const runner = f.runner();
  const d = digest("2");
  // sim makes a batch task of an image marked unhealthy exit 1, as failing tests would.
  f.sim.control.markImageUnhealthy(d);
  const c = ctx(fileGate(), d);
  await runner.start(c);
  await eventually(() => verdictOf(runner, c) === "failed", { timeoutMs: 15_000 });
  t.deepEqual(runner.observe(c), { kind: "verify", status: "dead", exitCode: 1 });
  const allocs = (await (await fetch(`${f.sim.urls.nomad.qa}/v1/job/web-tests-222222222222/allocations`)).json()) as Array<{ ClientStatus: string }>;
  t.is(allocs.length, 2, "the first failure was rescheduled once (a batch job's default policy), and the gate waited for it");
  t.true(allocs.every((a) => a.ClientStatus === "failed"));
});

test("a verification job still running at the timeout times the gate out", async (t) => {
  const f = await fixture(t);
  const runner = f.runner();
  const c = ctx(fileGate(testsHcl(`      meta {\n        sim_run_ms = "600000"\n      }`), 1_500), digest("3"));
  await runner.start(c);
  await eventually(() => (runner.observe(c) as { status?: string } | undefined)?.status === "running", { timeoutMs: 5_000 });
  t.is(verdictOf(runner, c), "pending");
  await eventually(() => verdictOf(runner, c) === "timedOut", { timeoutMs: 5_000 });
});

test("a restarted runner (a new leader) follows the job already registered and does not register it again", async (t) => {
  const f = await fixture(t);
  const d = digest("4");
  const c = ctx(fileGate(testsHcl(`      meta {\n        sim_run_ms = "4000"\n      }`)), d);
  const first = f.runner();
  await first.start(c);
  t.is(f.registrations(), 1);
  first.stopAll();
  // Two new leaders at once would also race; the check-and-set at index 0 lets one register.
  const [a, b] = [f.runner(), f.runner()];
  await Promise.all([a.start(c), b.start(c)]);
  await eventually(() => verdictOf(a, c) === "passed" && verdictOf(b, c) === "passed", { timeoutMs: 10_000 });
  t.is(f.registrations(), 1);
  t.is((await f.job("web-tests-444444444444"))?.Version, 0);
});

test("a registered parameterized job is the template: its copy for the digest runs, pinned, and passes", async (t) => {
  const f = await fixture(t);
  const parsed = (await (await fetch(`${f.sim.urls.nomad.qa}/v1/jobs/parse`, { method: "POST", body: JSON.stringify({ JobHCL: testsHcl(), Variables: `image = "${REPO}:latest"\n` }) })).json()) as Record<string, unknown>;
  const reg = await fetch(`${f.sim.urls.nomad.qa}/v1/jobs`, { method: "PUT", body: JSON.stringify({ Job: { ...parsed, ParameterizedJob: { Payload: "optional" } } }) });
  t.is(reg.status, 200);
  const runner = f.runner();
  const d = digest("5");
  const c = ctx({ kind: "verify", job: "web-tests", timeoutMs: 60_000 }, d);
  await runner.start(c);
  await eventually(() => verdictOf(runner, c) === "passed", { timeoutMs: 10_000 });
  const copy = await f.job("web-tests-555555555555");
  t.is((copy?.TaskGroups as Array<{ Tasks: Array<{ Config: { image: string } }> }>)[0]?.Tasks[0]?.Config.image, `${REPO}@${d}`);
  t.is(copy?.ParameterizedJob, null);
  t.like(await f.job("web-tests"), { Status: "running" }, "the template itself never runs (Nomad keeps a parameterized job running)");
});

test("a verify gate naming a job that is not registered: start rejects saying so", async (t) => {
  const f = await fixture(t);
  const runner = f.runner();
  await t.throwsAsync(runner.start(ctx({ kind: "verify", job: "nope-tests", timeoutMs: 60_000 }, digest("6"))), {
    message: /job nope-tests is not registered in qa's Nomad/,
  });
});

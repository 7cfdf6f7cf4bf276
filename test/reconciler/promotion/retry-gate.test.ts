import test from "ava";
import { ApprovalWriter } from "../../../src/actuators/approvals.js";
import { ConsulKvWriter } from "../../../src/actuators/consul-kv.js";
import { GateRetryWriter } from "../../../src/actuators/gate-retries.js";
import { createLogger } from "../../../src/log.js";
import type { EnvironmentSpec } from "../../../src/model/types.js";
import { GateNomadClients, GateRunner } from "../../../src/reconciler/promotion/gates.js";
import { envTokens } from "../../../src/reconciler/sync/clients.js";
import { ApprovalStore } from "../../../src/sources/approvals.js";
import { GateRetryStore } from "../../../src/sources/gate-retries.js";
import { eventually as retry } from "../../helpers/eventually.js";
import { promotionFixture, runningImage, type PromotionFixture } from "../../helpers/promotion-fixture.js";

// An operator's retry of a failed gate, end to end through Consul KV on sim:
// a manual gate rejected in qa fails the build and returns qa to its last
// good digest; a retry request brings the build back into qa, the old
// rejection no longer counts, and an approval sends it to prod.

async function eventually<T>(check: () => T | Promise<T>, o: { timeoutMs?: number; message: string }): Promise<T> {
  try {
    return await retry(check, { timeoutMs: o.timeoutMs ?? 5_000 });
  } catch (err) {
    throw new Error(`timed out waiting until ${o.message}: ${(err as Error).message}`, { cause: err });
  }
}

interface World {
  f: PromotionFixture;
  approvals: ApprovalWriter;
  retries: GateRetryWriter;
  store: GateRetryStore;
  outcomes: Array<{ honoured: boolean; message: string; by: string }>;
}

async function world(t: { teardown: (fn: () => Promise<void> | void) => void }, promotion = "promotion:\n  gates:\n    qa:\n      - manual: true"): Promise<World> {
  const logger = createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" });
  const holder: { approvals?: ApprovalStore; retries?: GateRetryStore; writer?: GateRetryWriter; f?: PromotionFixture } = {};
  const outcomes: World["outcomes"] = [];
  const envs = (): EnvironmentSpec[] =>
    Object.entries(holder.f?.sim.urls.nomad ?? {}).map(([name, address]) => ({ name, nomad: { address, region: "global", namespace: "default", token: { kind: "none" } } }));
  const clients = new GateNomadClients({ environments: envs, tokens: envTokens, http: { retry: { baseMs: 20, capMs: 200 } } });
  const gates = new GateRunner({ nomad: (st) => clients.for(st), logger, verifyWaitMs: 2_000 });
  t.teardown(() => gates.stopAll());
  const f = await promotionFixture({
    registry: "sim",
    promotion,
    loop: {
      gates,
      // The stores need sim's Consul, which the fixture starts; they are filled in below, before any instance leads.
      approvals: {
        isApproved: (s, d, stage) => holder.approvals?.isApproved(s, d, stage) ?? false,
        isRejected: (s, d, stage) => holder.approvals?.isRejected(s, d, stage) ?? false,
        decisionIndex: (s, d, stage) => holder.approvals?.decisionIndex(s, d, stage),
        watch: (l) => void holder.approvals?.watch(l),
      },
      retries: {
        requestFor: (s, d) => holder.retries?.requestFor(s, d),
        digestsOf: (s) => holder.retries?.digestsOf(s) ?? [],
        watch: (l) => void holder.retries?.watch(l),
        remove: async (s, d, i) => (await holder.writer?.remove(s, d, i)) ?? false,
      },
      onRetry: (e) => void outcomes.push({ honoured: e.honoured, message: e.message, by: e.by }),
    },
  });
  holder.f = f;
  t.teardown(() => f.close());
  holder.approvals = new ApprovalStore({ consul: f.consul, waitMs: 2_000, logger });
  holder.retries = new GateRetryStore({ consul: f.consul, waitMs: 2_000, logger });
  const kv = new ConsulKvWriter(f.consul);
  holder.writer = new GateRetryWriter(kv);
  holder.approvals.start();
  holder.retries.start();
  t.teardown(() => holder.approvals?.stop());
  t.teardown(() => holder.retries?.stop());
  await holder.approvals.whenSynced();
  await eventually(() => holder.retries?.synced, { message: "the retry requests were read" });
  return { f, approvals: new ApprovalWriter(kv), retries: holder.writer, store: holder.retries, outcomes };
}

test("a_rejected_gate_is_retried_the_old_rejection_no_longer_counts_and_an_approval_reaches_prod", async (t) => {
  const { f, approvals, retries, store, outcomes } = await world(t);
  const a = await f.instance();
  await a.lead();
  const d1 = await f.push(1);
  a.promotion.notify([{ repository: "hello" }]);
  const want = `${f.repository}@${d1}`;
  await eventually(async () => (await f.records())[0]?.history.some((h) => h.reason === "GateStarted"), { timeoutMs: 20_000, message: "the manual gate started" });
  await approvals.record({ service: "hello", digest: d1, decision: "reject", by: "bo", reason: "smoke test failed" });
  await eventually(async () => (await f.records())[0]?.stages[0]?.status === "rolledBack", { timeoutMs: 20_000, message: "qa failed and was rolled back" });
  await eventually(async () => (await runningImage(f.nomad.qa!)) !== want, { timeoutMs: 20_000, message: "qa returned to its last good digest" });
  const rollbacks = (await f.records())[0]!.history.filter((h) => h.reason === "RolledBack").length;

  await retries.request({ service: "hello", digest: d1, stage: "qa", by: "ana", reason: "the smoke test was broken" });
  await eventually(async () => (await runningImage(f.nomad.qa!)) === want, { timeoutMs: 20_000, message: "qa runs build-1 again" });
  await eventually(async () => (await f.records())[0]?.stages[0]?.gates[0]?.status === "running", { timeoutMs: 20_000, message: "the manual gate asks again" });
  const retried = (await f.records())[0]!;
  t.is(retried.status, "active", "the build is no longer failed");
  t.like(retried.retries?.[0], { stage: "qa", by: "ana", reason: "the smoke test was broken", from: "deployment" });
  t.true(retried.history.some((h) => h.reason === "GateRetried" && /asked by ana/.test(h.message)), "the journal says who retried");
  await eventually(() => store.requestFor("hello", d1) === undefined, { message: "the honoured request was removed" });
  t.deepEqual(outcomes.map((o) => o.honoured), [true]);
  t.regex(await a.metrics.registry.getSingleMetricAsString("steward_promotion_gate_retries_total"), /steward_promotion_gate_retries_total\{service="hello",stage="qa",result="honoured"\} 1/);
  t.not(await runningImage(f.nomad.prod!), want, "the old rejection does not fail the gate again, and nothing passed it either");

  await approvals.record({ service: "hello", digest: d1, decision: "approve", by: "ana", stage: "qa" });
  await eventually(async () => (await runningImage(f.nomad.prod!)) === want, { timeoutMs: 20_000, message: "prod runs build-1" });
  const done = await eventually(async () => ((await f.records())[0]?.status === "promoted" ? (await f.records())[0] : undefined), { timeoutMs: 20_000, message: "the record says promoted" });
  t.is(done!.history.filter((h) => h.reason === "RolledBack").length, rollbacks, "the rollback was not run again");
});

test("a_retry_of_a_digest_that_did_not_fail_at_a_gate_is_refused_with_the_reason_and_removed", async (t) => {
  const { f, retries, store, outcomes } = await world(t);
  const a = await f.instance();
  await a.lead();
  const d1 = await f.push(1);
  a.promotion.notify([{ repository: "hello" }]);
  await eventually(async () => (await f.records())[0]?.history.some((h) => h.reason === "GateStarted"), { timeoutMs: 20_000, message: "the manual gate started" });
  // Written by hand (as `consul kv put steward/gate-retries/hello/<digest> qa` would).
  await f.consul.kvPut(`steward/gate-retries/hello/${d1}`, "qa");
  await eventually(() => outcomes.length === 1, { timeoutMs: 20_000, message: "the request was looked at" });
  t.false(outcomes[0]!.honoured);
  t.regex(outcomes[0]!.message, /refused: it has not failed: it is still being promoted/);
  t.is(outcomes[0]!.by, "consul kv");
  t.regex(await a.metrics.registry.getSingleMetricAsString("steward_promotion_gate_retries_total"), /result="refused"\} 1/);
  await eventually(() => store.requestFor("hello", d1) === undefined, { message: "the refused request was removed" });
  t.is((await f.records())[0]?.status, "active", "nothing changed");
  t.is((await f.records())[0]?.retries, undefined);
  // A malformed request is refused before anything is written.
  await t.throwsAsync(retries.request({ service: "hello", digest: "sha256:short", stage: "qa", by: "ana" }), { message: /digest: "sha256:short" is not a full image digest/ });
});

/** The verification template in qa: a parameterized batch job; with `sim_fail` its copies exit 1 (sim's fault knob). */
async function registerTests(f: PromotionFixture, fail: boolean): Promise<void> {
  const hcl = `job "hello-tests" {
  type = "batch"
  parameterized {
    payload = "optional"
  }
  ${fail ? 'meta {\n    sim_fail = "true"\n  }' : ""}
  group "suite" {
    task "suite" {
      driver = "docker"
      config {
        image = "${f.repository}:latest"
      }
    }
  }
}
`;
  const parsed = (await f.nomad.qa!.post("/v1/jobs/parse", { JobHCL: hcl })).data as Record<string, unknown>;
  const reg = await f.nomad.qa!.put("/v1/jobs", { Job: parsed });
  if (reg.status !== 200) throw new Error(`register hello-tests: ${reg.status} ${JSON.stringify(reg.data)}`);
}

test("a_failed_verification_job_retried_runs_the_tests_again_in_a_job_of_its_own_and_passes", async (t) => {
  const { f, retries } = await world(t, "promotion:\n  gates:\n    qa:\n      - verify: { job: hello-tests, timeout: 1m }");
  await registerTests(f, true);
  const a = await f.instance();
  await a.lead();
  const d1 = await f.push(1);
  a.promotion.notify([{ repository: "hello" }]);
  const want = `${f.repository}@${d1}`;
  await eventually(async () => (await f.records())[0]?.status === "failed", { timeoutMs: 20_000, message: "the verification job failed the build" });
  t.regex((await f.records())[0]?.stages[0]?.message ?? "", /exited 1/);
  const first = `hello-tests-${d1.slice(7, 19)}`;
  t.is((await f.nomad.qa!.get(`/v1/job/${first}`)).data?.Status, "dead");
  // The tests are fixed (the template no longer fails), and an operator retries.
  await registerTests(f, false);
  await retries.request({ service: "hello", digest: d1, stage: "qa", by: "ana", reason: "the test suite was broken" });
  await eventually(async () => (await runningImage(f.nomad.prod!)) === want, { timeoutMs: 30_000, message: "prod runs build-1" }).catch(async (err: unknown) => {
    t.log(JSON.stringify((await f.records())[0]?.history.map((h) => `${h.reason} ${h.message}`), null, 1));
    t.log((await f.nomad.qa!.get("/v1/jobs")).data.map((j: { ID: string; Status: string }) => `${j.ID} ${j.Status}`));
    throw err;
  });
  const again = (await f.nomad.qa!.get(`/v1/job/${first}-2`)).data;
  t.is(again?.Status, "dead", "the retry ran its own verification job");
  const gate = (await f.records())[0]?.stages[0]?.gates[0];
  t.like(gate, { status: "passed", attempts: 2 });
});

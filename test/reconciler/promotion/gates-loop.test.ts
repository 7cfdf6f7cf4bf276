import test from "ava";
import { ApprovalWriter } from "../../../src/actuators/approvals.js";
import { ConsulKvWriter } from "../../../src/actuators/consul-kv.js";
import { createLogger } from "../../../src/log.js";
import type { EnvironmentSpec } from "../../../src/model/types.js";
import { GateNomadClients, GateRunner } from "../../../src/reconciler/promotion/gates.js";
import { envTokens } from "../../../src/reconciler/sync/clients.js";
import { ApprovalStore } from "../../../src/sources/approvals.js";
import { eventually as retry } from "../../helpers/eventually.js";
import { promotionFixture, runningImage, type PromotionFixture } from "../../helpers/promotion-fixture.js";

// The gates inside the promotion loop, end to end: a verification job (a
// parameterized template registered in qa, copied per digest) and a manual
// gate decided through Consul KV, on sim's Nomad and Consul.

async function eventually<T>(check: () => T | Promise<T>, o: { timeoutMs?: number; message: string }): Promise<T> {
  try {
    return await retry(check, { timeoutMs: o.timeoutMs ?? 5_000 });
  } catch (err) {
    throw new Error(`timed out waiting until ${o.message}: ${(err as Error).message}`, { cause: err });
  }
}

const GATES = "promotion:\n  gates:\n    qa:\n      - verify: { job: hello-tests, timeout: 1m }\n      - manual: true";
const TESTS_HCL = (image: string): string => `job "hello-tests" {
  type = "batch"
  parameterized {
    payload = "optional"
  }
  group "suite" {
    task "suite" {
      driver = "docker"
      config {
        image = "${image}"
      }
    }
  }
}
`;

async function withGates(t: { teardown: (fn: () => Promise<void> | void) => void }): Promise<{ f: PromotionFixture; approvals: ApprovalStore; writer: ApprovalWriter }> {
  const logger = createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" });
  const ref: { f?: PromotionFixture } = {};
  const envs = (): EnvironmentSpec[] =>
    Object.entries(ref.f?.sim.urls.nomad ?? {}).map(([name, address]) => ({ name, nomad: { address, region: "global", namespace: "default", token: { kind: "none" } } }));
  const clients = new GateNomadClients({ environments: envs, tokens: envTokens, http: { retry: { baseMs: 20, capMs: 200 } } });
  const gates = new GateRunner({ nomad: (s) => clients.for(s), logger, verifyWaitMs: 2_000 });
  const approvalsHolder: { store?: ApprovalStore } = {};
  const f = await promotionFixture({
    registry: "sim",
    promotion: GATES,
    loop: {
      gates,
      // The store needs sim's Consul, which the fixture starts; it is filled in below, before any instance leads.
      approvals: {
        isApproved: (s, d, stage) => approvalsHolder.store?.isApproved(s, d, stage) ?? false,
        isRejected: (s, d, stage) => approvalsHolder.store?.isRejected(s, d, stage) ?? false,
        watch: (l) => void approvalsHolder.store?.watch(l),
      },
    },
  });
  ref.f = f;
  t.teardown(() => f.close());
  const approvals = new ApprovalStore({ consul: f.consul, waitMs: 2_000, logger });
  approvalsHolder.store = approvals;
  approvals.start();
  t.teardown(() => approvals.stop());
  t.teardown(() => gates.stopAll());
  await approvals.whenSynced();
  // The verification job's template, registered in qa as a parameterized job (it never runs on its own).
  const parsed = (await f.nomad.qa!.post("/v1/jobs/parse", { JobHCL: TESTS_HCL(`${f.repository}:latest`) })).data as Record<string, unknown>;
  const reg = await f.nomad.qa!.put("/v1/jobs", { Job: parsed });
  if (reg.status !== 200) throw new Error(`register hello-tests: ${reg.status} ${JSON.stringify(reg.data)}`);
  return { f, approvals, writer: new ApprovalWriter(new ConsulKvWriter(f.consul)) };
}

test("a build passes its verification job, waits for the manual approval, then reaches prod", async (t) => {
  const { f, writer } = await withGates(t);
  const a = await f.instance();
  await a.lead();
  const d1 = await f.push(1);
  a.promotion.notify([{ repository: "hello" }]);
  const want = `${f.repository}@${d1}`;
  await eventually(async () => (await runningImage(f.nomad.qa!)) === want, { timeoutMs: 20_000, message: "qa runs build-1" });
  const verifyJob = `hello-tests-${d1.slice(7, 19)}`;
  await eventually(async () => (await f.nomad.qa!.get(`/v1/job/${verifyJob}`)).data?.Status === "dead", { timeoutMs: 20_000, message: "the verification job ran" });
  await eventually(async () => (await f.records())[0]?.history.some((h) => h.reason === "GatePending" || (h.reason === "GateStarted" && h.gate === 1)), {
    timeoutMs: 20_000,
    message: "the manual gate started",
  });
  // Nothing reaches prod without the decision.
  t.not(await runningImage(f.nomad.prod!), want);
  await writer.record({ service: "hello", digest: d1, decision: "approve", by: "ana", stage: "qa" });
  await eventually(async () => (await runningImage(f.nomad.prod!)) === want, { timeoutMs: 20_000, message: "prod runs build-1" });
  const [record] = await f.records();
  const qa = record!.history.filter((h) => h.stage === "qa" && /^Gate/.test(h.reason)).map((h) => `${h.gate} ${h.reason}`);
  t.deepEqual(qa, ["0 GateStarted", "0 GatePassed", "1 GateStarted", "1 GatePassed"]);
  const image = (await f.nomad.qa!.get(`/v1/job/${verifyJob}`)).data.TaskGroups[0].Tasks[0].Config.image as string;
  t.is(image, want, "the verification job ran the digest");
});

test("a rejected build fails in qa and never reaches prod", async (t) => {
  const { f, writer } = await withGates(t);
  const a = await f.instance();
  await a.lead();
  const d1 = await f.push(1);
  a.promotion.notify([{ repository: "hello" }]);
  await eventually(async () => (await f.records())[0]?.history.some((h) => h.reason === "GateStarted" && h.gate === 1), { timeoutMs: 20_000, message: "the manual gate started" });
  await writer.record({ service: "hello", digest: d1, decision: "reject", by: "bo", reason: "smoke test failed" });
  await eventually(async () => (await f.records())[0]?.status === "failed", { timeoutMs: 20_000, message: "the record says failed" });
  const [record] = await f.records();
  t.true(record!.history.some((h) => h.reason === "GateFailed" && h.gate === 1 && /rejected/.test(h.message)));
  t.not(await runningImage(f.nomad.prod!), `${f.repository}@${d1}`);
});

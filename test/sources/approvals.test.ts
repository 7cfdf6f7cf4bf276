import test from "ava";
import { ApprovalStore, parseApprovalEntry, type Approval } from "../../src/sources/approvals.js";
import { ApprovalWriter } from "../../src/actuators/approvals.js";
import { ConsulKvWriter } from "../../src/actuators/consul-kv.js";
import type { KvEntry } from "../../src/sources/consul.js";
import { createLogger } from "../../src/log.js";
import { InvalidInputError } from "../../src/model/errors.js";
import { eventually } from "../helpers/eventually.js";
import { startConsulSim } from "../helpers/consul-sim.js";

const D = `sha256:${"a".repeat(64)}`;
const P = "steward/approvals/";
const entry = (key: string, value: string, modifyIndex = 5): KvEntry => ({ key, value: Buffer.from(value), flags: 0, createIndex: 1, modifyIndex, lockIndex: 0 });

const rows: Array<{ name: string; key: string; value: string; want: Partial<Approval> | undefined }> = [
  { name: "json_approve_read_with_who_and_stage", key: `${P}web/${D}`, value: JSON.stringify({ decision: "approve", by: "ana", at: "2026-01-01T00:00:00.000Z", stage: "prod" }), want: { service: "web", digest: D, decision: "approve", by: "ana", stage: "prod" } },
  { name: "json_reject_read", key: `${P}web/${D}`, value: JSON.stringify({ decision: "reject", by: "bo", reason: "smoke test failed" }), want: { decision: "reject", by: "bo", reason: "smoke test failed" } },
  { name: "empty_hand_written_key_approves", key: `${P}web/${D}`, value: "", want: { decision: "approve" } },
  { name: "plain_true_approves", key: `${P}web/${D}`, value: "true", want: { decision: "approve" } },
  { name: "plain_reject_rejects_any_case", key: `${P}web/${D}`, value: "REJECT\n", want: { decision: "reject" } },
  { name: "plain_false_rejects", key: `${P}web/${D}`, value: "false", want: { decision: "reject" } },
  { name: "json_without_decision_approves", key: `${P}web/${D}`, value: "{}", want: { decision: "approve" } },
  { name: "folder_key_skipped", key: `${P}web/`, value: "", want: undefined },
  { name: "key_without_digest_skipped", key: `${P}web`, value: "", want: undefined },
  { name: "deeper_key_skipped", key: `${P}web/${D}/x`, value: "", want: undefined },
  { name: "key_outside_prefix_skipped", key: `steward/control/web/${D}`, value: "", want: undefined },
];

for (const row of rows) {
  test(`parse: ${row.name}`, (t) => {
    const got = parseApprovalEntry(P, entry(row.key, row.value));
    if (row.want === undefined) t.is(got, undefined);
    else t.like(got, row.want);
  });
}

const silent = createLogger({ level: "silent" });

test("store: a decision written by the writer, then by hand, then deleted, is seen each time and wakes the listener", async (t) => {
  const c = await startConsulSim(t);
  const store = new ApprovalStore({ consul: c.consul, waitMs: 2_000, logger: silent });
  const woken: string[] = [];
  store.watch((service, digest) => woken.push(`${service}/${digest}`));
  store.start();
  t.teardown(() => store.stop());
  await store.whenSynced();
  t.false(store.isApproved("web", D));

  const writer = new ApprovalWriter(new ConsulKvWriter(c.consul));
  await writer.record({ service: "web", digest: D, decision: "approve", by: "ana", stage: "prod" });
  await eventually(() => store.isApproved("web", D, "prod"));
  t.false(store.isApproved("web", D, "qa"), "a decision for prod does not pass qa's gate");
  t.true(store.isApproved("web", D), "asked without a stage, any decision applies");
  t.like(store.decisionOf("web", D), { by: "ana", stage: "prod" });
  t.deepEqual(woken, [`web/${D}`]);

  // A person rejects with the consul CLI's equivalent: a plain-text key.
  await c.raw.kv.set(`steward/approvals/web/${D}`, "reject");
  await eventually(() => store.isRejected("web", D, "qa"));
  t.false(store.isApproved("web", D, "prod"));

  await c.raw.kv.del(`steward/approvals/web/${D}`);
  await eventually(() => store.decisionOf("web", D) === undefined);
  t.is(woken.length, 3);
  t.deepEqual(store.list(), []);
});

test("writer: a bad digest or service is refused before anything is written", async (t) => {
  const c = await startConsulSim(t);
  const writer = new ApprovalWriter(new ConsulKvWriter(c.consul));
  const e1 = await t.throwsAsync(writer.record({ service: "web", digest: "sha256:abc", decision: "approve", by: "x" }), { instanceOf: InvalidInputError });
  t.regex(e1.message, /^digest: "sha256:abc" is not a full image digest/);
  const e2 = await t.throwsAsync(writer.record({ service: "Web", digest: D, decision: "approve", by: "x" }), { instanceOf: InvalidInputError });
  t.regex(e2.message, /^service:/);
  const { entries } = await c.consul.kvList("steward/approvals/");
  t.deepEqual(entries, []);
});

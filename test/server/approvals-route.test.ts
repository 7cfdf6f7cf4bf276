import test from "ava";
import { startServer } from "../../src/server/http.js";
import { createMetrics } from "../../src/metrics.js";
import { createLogger } from "../../src/log.js";
import { ApprovalWriter } from "../../src/actuators/approvals.js";
import { ConsulKvWriter } from "../../src/actuators/consul-kv.js";
import { ApprovalStore } from "../../src/sources/approvals.js";
import type { ActionAuth } from "../../src/server/action-auth.js";
import { eventually } from "../helpers/eventually.js";
import { startConsulSim } from "../helpers/consul-sim.js";

const D = `sha256:${"b".repeat(64)}`;
const TOKEN = "action-token-for-tests";

async function fixture(t: Parameters<typeof startConsulSim>[0] & { teardown: (fn: () => Promise<void> | void) => void }, auth: ActionAuth | undefined) {
  const c = await startConsulSim(t);
  const logger = createLogger({ level: "silent" });
  const store = new ApprovalStore({ consul: c.consul, waitMs: 2_000, logger });
  store.start();
  t.teardown(() => store.stop());
  const writer = new ApprovalWriter(new ConsulKvWriter(c.consul));
  const server = await startServer("127.0.0.1:0", {
    registry: createMetrics().registry,
    logger,
    healthy: () => true,
    ready: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    actionAuth: auth,
    approvals: { record: (r) => writer.record(r), list: () => store.list() },
  });
  t.teardown(() => server.close());
  const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${server.url}/api/approvals`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { c, store, server, post };
}

const AUTH: ActionAuth = { name: "release-bot", source: "env T", token: () => TOKEN };

test("POST with the token records the decision under the token's name, and the store sees it", async (t) => {
  const f = await fixture(t, AUTH);
  const res = await f.post({ service: "web", digest: D, decision: "approve", stage: "prod", by: "ana" }, { Authorization: `Bearer ${TOKEN}` });
  t.is(res.status, 201);
  const body = (await res.json()) as { key: string; approval: Record<string, unknown> };
  t.is(body.key, `steward/approvals/web/${D}`);
  t.like(body.approval, { service: "web", digest: D, decision: "approve", stage: "prod", by: "ana via release-bot" });
  await eventually(() => f.store.isApproved("web", D, "prod"));
  const list = (await (await fetch(`${f.server.url}/api/approvals`)).json()) as { approvals: Array<{ by: string }> };
  t.is(list.approvals[0]?.by, "ana via release-bot");
});

test("POST without a token is 401 and writes nothing", async (t) => {
  const f = await fixture(t, AUTH);
  const res = await f.post({ service: "web", digest: D, decision: "approve" });
  t.is(res.status, 401);
  t.regex(res.headers.get("www-authenticate") ?? "", /^Bearer/);
  t.regex(((await res.json()) as { error: string }).error, /missing Authorization header/);
  const wrong = await f.post({ service: "web", digest: D, decision: "approve" }, { Authorization: "Bearer nope" });
  t.is(wrong.status, 401);
  const { entries } = await f.c.consul.kvList("steward/approvals/");
  t.deepEqual(entries, []);
});

test("POST when no action token is configured is 401 naming api.actionToken", async (t) => {
  const f = await fixture(t, undefined);
  const res = await f.post({ service: "web", digest: D, decision: "approve" }, { Authorization: `Bearer ${TOKEN}` });
  t.is(res.status, 401);
  t.regex(((await res.json()) as { error: string }).error, /api\.actionToken/);
});

const bad: Array<[string, unknown, RegExp]> = [
  ["not_json_is_400", "{nope", /body is not JSON/],
  ["unknown_decision_is_400", { service: "web", digest: D, decision: "maybe" }, /decision/],
  ["short_digest_is_400_naming_digest", { service: "web", digest: "sha256:bb", decision: "approve" }, /digest: "sha256:bb" is not a full image digest/],
  ["unknown_field_is_400", { service: "web", digest: D, decision: "approve", approvedBy: "x" }, /approvedBy/],
];
for (const [name, body, want] of bad) {
  test(`POST ${name}`, async (t) => {
    const f = await fixture(t, AUTH);
    const res = await f.post(body, { Authorization: `Bearer ${TOKEN}` });
    t.is(res.status, 400);
    t.regex(((await res.json()) as { error: string }).error, want);
  });
}

import test from "ava";
import http from "node:http";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import axios from "axios";
import { createLogger } from "../../src/log.js";
import { startServer, type StewardServer } from "../../src/server/http.js";
import { LiveHub } from "../../src/server/live-hub.js";
import { ActionRefusedError, liveRoutes, type LiveActions } from "../../src/server/live-routes.js";
import type { LiveSections } from "../../src/server/live-types.js";
import { createMetrics } from "../../src/metrics.js";
import { eventually } from "../helpers/eventually.js";

const TOKEN = "s3cret-token";
const SECTIONS: LiveSections = {
  instance: { id: "a", startedAt: "2026-01-01T00:00:00.000Z", leading: true, access: { actionsEnabled: true } },
  revision: { lastSyncByEnv: {} },
  controls: { paused: false, pausedServices: [], notes: {} },
  environments: { names: ["qa"] },
};

interface World {
  server: StewardServer;
  hub: LiveHub;
  done: string[];
  uiDir: string;
}

async function world(reads: "open" | "token" = "open"): Promise<World> {
  const uiDir = await mkdtemp(path.join(tmpdir(), "steward-ui-dist-"));
  await mkdir(path.join(uiDir, "assets"));
  await writeFile(path.join(uiDir, "index.html"), "<!doctype html><title>Steward</title>");
  await writeFile(path.join(uiDir, "assets", "app-1.js"), "console.log(1)");
  const hub = new LiveHub({ sections: () => SECTIONS, flushMs: 5 });
  const done: string[] = [];
  const actions: LiveActions = {
    authorize: (req) =>
      req.headers.authorization === `Bearer ${TOKEN}` ? { ok: true, by: "ops" } : { ok: false, status: 401, body: { error: "this action needs the action token (Authorization: Bearer …)" } },
    enabled: () => true,
    syncNow: async (scope, by) => (done.push(`sync-now ${JSON.stringify(scope)} ${by}`), "requested"),
    pause: async (service, by) => (done.push(`pause ${service ?? "all"} ${by}`), "paused"),
    resume: async (service, by) => (done.push(`resume ${service ?? "all"} ${by}`), "resumed"),
    freeze: async (env, by, reason) => {
      if (env !== "qa") throw new ActionRefusedError(404, `no environment ${env} in the desired state (environments: qa)`);
      done.push(`freeze ${env} ${by} ${reason ?? ""}`);
      return "frozen";
    },
    unfreeze: async (env, by) => (done.push(`unfreeze ${env} ${by}`), "unfrozen"),
    retryGate: async (r, by) => {
      if (r.stage !== "qa") throw new ActionRefusedError(409, `cannot retry a gate of ${r.stage}: it failed in qa, not in ${r.stage}`);
      done.push(`retry-gate ${r.service} ${r.stage} ${r.digest.slice(7, 11)} ${by}`);
      return "requested";
    },
    ackShortCircuit: async (pool, by, reason) => {
      if (pool !== "workers") throw new ActionRefusedError(404, `no pool ${pool} in the desired state (pools: workers)`);
      done.push(`ack-short-circuit ${pool} ${by} ${reason ?? ""}`);
      return "acknowledged";
    },
  };
  const server = await startServer("127.0.0.1:0", {
    registry: createMetrics({ defaultMetrics: false }).registry,
    logger: createLogger({ level: "silent" }),
    healthy: () => true,
    ready: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    routes: [liveRoutes({ hub, logger: createLogger({ level: "silent" }), actions, plan: async (s) => ({ service: s, entries: [] }), uiDir, reads: () => reads, sessionKey: () => TOKEN })],
  });
  return { server, hub, done, uiDir };
}

async function teardown(w: World): Promise<void> {
  w.hub.close();
  await w.server.close();
  await rm(w.uiDir, { recursive: true, force: true });
}

const GOOD = { "Content-Type": "application/json", "X-Steward-Action": "1", Authorization: `Bearer ${TOKEN}` };

const refusals: Array<{ name: string; headers: Record<string, string>; status: number; message: RegExp }> = [
  { name: "without_the_action_header", headers: { ...GOOD, "X-Steward-Action": "" }, status: 403, message: /X-Steward-Action/ },
  { name: "from_another_origin", headers: { ...GOOD, Origin: "http://evil.example" }, status: 403, message: /another site/ },
  { name: "from_an_opaque_origin", headers: { ...GOOD, Origin: "null" }, status: 403, message: /opaque origin/ },
  { name: "as_a_form_post", headers: { ...GOOD, "Content-Type": "application/x-www-form-urlencoded" }, status: 403, message: /JSON body/ },
  { name: "without_a_token", headers: { "Content-Type": "application/json", "X-Steward-Action": "1" }, status: 401, message: /refused: this action needs the action token/ },
  { name: "with_a_wrong_token", headers: { ...GOOD, Authorization: "Bearer nope" }, status: 401, message: /refused/ },
];

for (const row of refusals) {
  test(`action_refused_${row.name}`, async (t) => {
    const w = await world();
    t.teardown(() => teardown(w));
    const r = await axios.post(`${w.server.url}/api/actions/pause`, JSON.stringify({ service: "web" }), { headers: row.headers, validateStatus: () => true, transformRequest: (d: unknown) => d });
    t.is(r.status, row.status);
    t.false(r.data.ok);
    t.regex(r.data.message, row.message);
    t.false(JSON.stringify(r.data).includes(TOKEN), "the token is never echoed");
    t.deepEqual(w.done, [], "nothing was done");
  });
}

test("action_with_token_from_the_same_origin_is_done_and_names_who", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  const origin = w.server.url;
  const r = await axios.post(`${w.server.url}/api/actions/sync-now`, { env: "qa", who: "alice" }, { headers: { ...GOOD, Origin: origin }, validateStatus: () => true });
  t.is(r.status, 200);
  t.deepEqual(r.data, { ok: true, message: "requested" });
  t.deepEqual(w.done, ['sync-now {"env":"qa"} alice via ui (token ops)']);
});

const acks: Array<{ name: string; headers: Record<string, string>; body: Record<string, string>; status: number; message: RegExp; done: string[] }> = [
  { name: "with_the_token_is_done_and_names_who_and_why", headers: GOOD, body: { pool: "workers", who: "alice", reason: "rack 4 lost" }, status: 200, message: /^acknowledged$/, done: ["ack-short-circuit workers alice via ui (token ops) rack 4 lost"] },
  { name: "without_the_token_is_refused", headers: { "Content-Type": "application/json", "X-Steward-Action": "1" }, body: { pool: "workers" }, status: 401, message: /refused: this action needs the action token/, done: [] },
  { name: "from_another_site_is_refused", headers: { ...GOOD, Origin: "http://evil.example" }, body: { pool: "workers" }, status: 403, message: /another site/, done: [] },
  { name: "without_a_pool_is_refused", headers: GOOD, body: {}, status: 400, message: /ack-short-circuit needs pool in the body/, done: [] },
  { name: "of_an_unknown_pool_is_refused_naming_it", headers: GOOD, body: { pool: "wokers" }, status: 404, message: /refused: no pool wokers in the desired state \(pools: workers\)/, done: [] },
  { name: "of_a_pool_that_is_not_a_name_is_refused", headers: GOOD, body: { pool: "../x" }, status: 400, message: /pool: not a name/, done: [] },
];

for (const row of acks) {
  test(`ack_short_circuit_${row.name}`, async (t) => {
    const w = await world();
    t.teardown(() => teardown(w));
    const r = await axios.post(`${w.server.url}/api/actions/ack-short-circuit`, row.body, { headers: row.headers, validateStatus: () => true });
    t.is(r.status, row.status);
    t.is(r.data.ok, row.status === 200);
    t.regex(r.data.message, row.message);
    t.deepEqual(w.done, row.done);
  });
}

test("action_with_a_bad_name_is_refused", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  const r = await axios.post(`${w.server.url}/api/actions/pause`, { service: "../etc" }, { headers: GOOD, validateStatus: () => true });
  t.is(r.status, 400);
  t.deepEqual(w.done, []);
});

const DIGEST = `sha256:${"ab".repeat(32)}`;

const bodies: Array<{ name: string; action: string; body: Record<string, unknown>; status: number; done?: string; message: RegExp }> = [
  { name: "freeze_names_the_env_and_who", action: "freeze", body: { env: "qa", who: "ana", reason: "release night" }, status: 200, done: "freeze qa ana via ui (token ops) release night", message: /frozen/ },
  { name: "freeze_without_an_env_is_refused", action: "freeze", body: {}, status: 400, message: /freeze needs env/ },
  { name: "freeze_of_an_unknown_env_names_it", action: "freeze", body: { env: "staging" }, status: 404, message: /refused: no environment staging in the desired state/ },
  { name: "unfreeze_is_done", action: "unfreeze", body: { env: "qa" }, status: 200, done: "unfreeze qa ops via ui", message: /unfrozen/ },
  { name: "retry_gate_is_requested", action: "retry-gate", body: { service: "web", stage: "qa", digest: DIGEST }, status: 200, done: "retry-gate web qa abab ops via ui", message: /requested/ },
  { name: "retry_gate_needs_service_stage_and_digest", action: "retry-gate", body: { service: "web" }, status: 400, message: /retry-gate needs stage, digest/ },
  { name: "retry_gate_with_a_short_digest_is_refused", action: "retry-gate", body: { service: "web", stage: "qa", digest: "sha256:abc" }, status: 400, message: /digest: not a full image digest/ },
  { name: "retry_gate_refusal_says_why", action: "retry-gate", body: { service: "web", stage: "prod", digest: DIGEST }, status: 409, message: /refused: .*failed in qa, not in prod/ },
];

for (const row of bodies) {
  test(`action_${row.name}`, async (t) => {
    const w = await world();
    t.teardown(() => teardown(w));
    const r = await axios.post(`${w.server.url}/api/actions/${row.action}`, row.body, { headers: GOOD, validateStatus: () => true });
    t.is(r.status, row.status);
    t.is(r.data.ok, row.status === 200);
    t.regex(r.data.message, row.message);
    t.deepEqual(w.done, row.done ? [row.done] : []);
  });
}

test("the_page_is_served_with_its_security_headers_and_paths_stay_inside", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  const page = await axios.get(`${w.server.url}/ui/`);
  t.regex(page.data, /<title>Steward/);
  t.regex(String(page.headers["content-security-policy"]), /frame-ancestors 'none'/);
  t.is((await axios.get(`${w.server.url}/ui/assets/app-1.js`)).headers["cache-control"], "public, max-age=31536000, immutable");
  t.is((await axios.get(`${w.server.url}/ui/assets/missing.js`, { validateStatus: () => true })).status, 404);
  t.is((await axios.get(`${w.server.url}/ui/%2e%2e/%2e%2e/etc/passwd`, { validateStatus: () => true })).status, 404);
  t.regex((await axios.get(`${w.server.url}/ui/service/web`)).data, /<title>Steward/, "any page path is the page");
});

/** Reads SSE messages from `/api/events` until `count` arrived. */
function readEvents(url: string, count: number, lastEventId?: string): Promise<Array<{ id: string; event: string; data: string }>> {
  return new Promise((resolve, reject) => {
    const out: Array<{ id: string; event: string; data: string }> = [];
    const req = http.get(`${url}/api/events`, { headers: lastEventId ? { "Last-Event-ID": lastEventId } : {} }, (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f = Object.fromEntries(block.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]));
          if (f.event) out.push({ id: f.id ?? "", event: f.event, data: f.data ?? "" });
          if (out.length >= count) {
            req.destroy();
            resolve(out);
          }
        }
      });
    });
    req.on("error", (err) => (out.length >= count ? undefined : reject(err)));
  });
}

test("the_stream_starts_with_a_snapshot_and_resumes_from_last_event_id", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  w.hub.flush();
  const first = readEvents(w.server.url, 3);
  await eventually(() => w.hub.connections === 1);
  w.hub.record({ loop: "sync", kind: "x", message: "one" });
  w.hub.flush();
  w.hub.record({ loop: "sync", kind: "x", message: "two" });
  w.hub.flush();
  const got = await first;
  t.deepEqual(
    got.map((m) => m.event),
    ["snapshot", "event", "event"],
  );
  w.hub.record({ loop: "sync", kind: "x", message: "three" });
  w.hub.flush();
  const resumed = await readEvents(w.server.url, 1, got[1]?.id);
  t.deepEqual(resumed.map((m) => (JSON.parse(m.data) as { message: string }).message), ["two"], "only what followed the last id, no snapshot");
});

test("reads_are_open_by_default", async (t) => {
  const w = await world();
  t.teardown(() => teardown(w));
  t.is((await axios.get(`${w.server.url}/api/live`, { validateStatus: () => true })).status, 200);
  t.deepEqual((await axios.get(`${w.server.url}/api/access`)).data, { reads: "open", session: true, actions: true });
});

test("with_reads_by_token_a_page_signs_in_and_reads_with_its_session_cookie", async (t) => {
  const w = await world("token");
  t.teardown(() => teardown(w));
  const anon = await axios.get(`${w.server.url}/api/live`, { validateStatus: () => true });
  t.is(anon.status, 401);
  t.regex(anon.data.error, /needs the action token/);
  t.is((await axios.get(`${w.server.url}/api/services/web/plan`, { validateStatus: () => true })).status, 401);
  t.is((await axios.get(`${w.server.url}/ui/`, { validateStatus: () => true })).status, 200, "the page itself holds no data: it loads, to sign in");
  t.false((await axios.get(`${w.server.url}/api/access`)).data.session);

  const refused = await axios.post(`${w.server.url}/api/session`, {}, { headers: { ...GOOD, Authorization: "Bearer nope" }, validateStatus: () => true });
  t.is(refused.status, 401);
  t.is(refused.headers["set-cookie"], undefined);
  const signedIn = await axios.post(`${w.server.url}/api/session`, {}, { headers: GOOD });
  t.is(signedIn.status, 200);
  const cookie = String(signedIn.headers["set-cookie"]?.[0] ?? "");
  t.regex(cookie, /^steward_ui_session=\d+\.[0-9a-f]{64}; Path=\/api\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
  t.false(cookie.includes(TOKEN), "the cookie does not carry the token");
  const session = cookie.split(";")[0] ?? "";
  t.is((await axios.get(`${w.server.url}/api/live`, { headers: { Cookie: session } })).status, 200);
  t.true((await axios.get(`${w.server.url}/api/access`, { headers: { Cookie: session } })).data.session);
  const forged = session.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
  t.is((await axios.get(`${w.server.url}/api/live`, { headers: { Cookie: forged }, validateStatus: () => true })).status, 401, "a tampered cookie reads nothing");
  t.is((await axios.get(`${w.server.url}/api/live`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200, "the bearer token reads too (scripts)");
});

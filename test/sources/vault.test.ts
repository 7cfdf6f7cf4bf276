// Steward's own credentials from Vault, read with the real node-vault client against sim's Vault.
import test from "ava";
import { cp, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import nodeVault from "node-vault";
import { Clock as SimClock } from "../../sim/core/clock.js";
import { FaultInjector, seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { RequestLog } from "../../sim/core/request-log.js";
import { World } from "../../sim/core/world.js";
import { startSim } from "../../sim/index.js";
import { startNomadHarness } from "../../sim/nomad/harness.js";
import { VaultServer } from "../../sim/vault/index.js";
import { configSchema } from "../../src/config/schema.js";
import { Daemon } from "../../src/daemon.js";
import { createMetrics } from "../../src/metrics.js";
import { createLogger } from "../../src/log.js";
import type { EnvironmentSpec } from "../../src/model/types.js";
import { NomadClients, envTokens, vaultTokens } from "../../src/reconciler/sync/clients.js";
import { HttpStatusError } from "../../src/sources/http-client.js";
import { VaultSource, kvDataPath, vaultAuthFromConfig, type VaultAuth, type VaultSourceOptions } from "../../src/sources/vault.js";
import { FakeClock } from "../helpers/clock.js";
import { eventually } from "../helpers/eventually.js";
import { REPO_ROOT } from "../helpers/sync-fixture.js";

const ROOT = "root-token-for-tests";
const QA_PATH = "secret/data/steward/nomad-qa";
/** Nomad tokens are UUIDs; these are the values that must never reach a log line. */
const QA_TOKEN = "0b7f3a52-9c1e-4d8a-b6f2-5e3d1c9a7b40";
const QA_TOKEN_2 = "6d2e8f14-3a7b-4c90-8e5d-2f1a0b9c3d77";
const REFRESH_MS = 60_000;

// ── fixtures ──

interface SimVault {
  sim: VaultServer;
  clock: SimClock;
  faults: FaultInjector;
  requests: RequestLog;
  url: string;
  close(): Promise<void>;
  /** Serves again on the same port after close(). */
  restart(): Promise<void>;
}

/** A sim Vault with Steward's policy and its Nomad token for qa, on `clock` (real time by default). */
async function simVault(t: { teardown(fn: () => Promise<void>): void }, clock: SimClock = new SimClock(1)): Promise<SimVault> {
  const sim = new VaultServer({ clock, world: new World(() => clock.now()), random: seededRandom(7) }, { rootToken: ROOT });
  sim.setPolicy("steward", { "secret/data/steward/*": ["read"] });
  sim.putSecret("secret", "steward/nomad-qa", { token: QA_TOKEN, note: "qa cluster" });
  const faults = new FaultInjector(seededRandom(1));
  const requests = new RequestLog();
  const start = (port?: number): Promise<SimServer> =>
    serve({ name: "vault", router: sim.router, acceptListMethod: true, faults, log: requests, ...(port ? { port } : {}) });
  let server: SimServer | undefined = await start();
  const url = server.url;
  const v: SimVault = {
    sim,
    clock,
    faults,
    requests,
    url,
    close: async () => {
      await server?.close();
      server = undefined;
    },
    restart: async () => {
      server = await start(Number(new URL(url).port));
    },
  };
  t.teardown(async () => {
    clock.cancelAll();
    await v.close();
  });
  return v;
}

/** AppRole credentials as the daemon config names them, from an environment. */
function approle(v: SimVault, role: { tokenTtlS?: number; tokenMaxTtlS?: number; policies?: string[] } = {}): { auth: VaultAuth; secretId: string; roleId: string } {
  const { roleId, secretId } = v.sim.createAppRole("steward", { policies: ["steward"], tokenTtlS: 3600, ...role });
  const config = configSchema.parse({
    vault: { address: v.url, auth: { approle: { roleId: { env: "VAULT_ROLE_ID" }, secretId: { env: "VAULT_SECRET_ID" } } } },
  });
  if (!config.vault) throw new Error("no vault section");
  return { auth: vaultAuthFromConfig(config.vault.auth, { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId }), secretId, roleId };
}

/** A logger writing into memory at debug level, so every line the source writes is seen. */
function capture() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    logger: createLogger({ destination, level: "debug" }),
    text: () => chunks.join(""),
    lines: () =>
      chunks
        .join("")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: string }),
  };
}

function newSource(
  t: { teardown(fn: () => Promise<void>): void },
  v: SimVault,
  auth: VaultAuth,
  over: Partial<VaultSourceOptions> = {},
): { src: VaultSource; log: ReturnType<typeof capture> } {
  const log = capture();
  const src = new VaultSource({ address: v.url, auth, logger: log.logger, refreshIntervalMs: REFRESH_MS, random: () => 0.5, ...over });
  t.teardown(() => src.stop());
  return { src, log };
}

/** Writes a secret through Vault's API with the real client, as an operator rotating it would. */
async function rotate(v: SimVault, data: Record<string, string>): Promise<void> {
  await nodeVault({ apiVersion: "v1", endpoint: v.url, token: ROOT }).write(QA_PATH, { data });
}

// ── paths ──

const pathRows: { name: string; path: string; mount?: string; want: string }[] = [
  { name: "api_path_used_as_written", path: "secret/data/steward/nomad-qa", want: "secret/data/steward/nomad-qa" },
  { name: "api_path_of_another_mount_used_as_written", path: "kv/data/steward/x", mount: "secret", want: "kv/data/steward/x" },
  { name: "cli_style_path_gets_data_inserted", path: "secret/steward/nomad-qa", want: "secret/data/steward/nomad-qa" },
  { name: "relative_path_is_under_the_mount", path: "steward/nomad-qa", want: "secret/data/steward/nomad-qa" },
  { name: "relative_path_under_a_configured_mount", path: "steward/nomad-qa", mount: "kv", want: "kv/data/steward/nomad-qa" },
  { name: "slashes_at_the_ends_are_dropped", path: "/secret/data/steward/nomad-qa/", want: "secret/data/steward/nomad-qa" },
];
for (const row of pathRows) {
  test(`kvDataPath: ${row.name}`, (t) => {
    t.is(kvDataPath(row.path, row.mount), row.want);
  });
}

// ── login and reads ──

test("AppRole login, then a secret read by its API path or under the mount", async (t) => {
  const v = await simVault(t);
  const { src, log } = newSource(t, v, approle(v).auth);
  src.want(QA_PATH, "token");
  t.false(src.ready);
  src.start();
  await src.whenReady();
  t.is(src.get(QA_PATH, "token"), QA_TOKEN);
  t.is(src.get("steward/nomad-qa", "token"), QA_TOKEN, "the same secret, named relative to the kv mount");
  t.is(src.get(QA_PATH, "absent"), undefined);
  t.deepEqual(src.problems(), []);
  const login = log.lines().find((l) => l.msg === "vault: logged in");
  t.like(login, { method: "approle", ttl_s: 3600, renewable: true, source: "vault" });
});

test("a Nomad token named vault: in steward.yaml reaches Nomad through vaultTokens, and a rotation in Vault is picked up", async (t) => {
  const v = await simVault(t);
  const nomad = await startNomadHarness({ aclToken: QA_TOKEN, nodes: 0 });
  t.teardown(() => nomad.close());
  const clock = new FakeClock();
  const { src } = newSource(t, v, approle(v).auth, { clock });
  src.start();
  const env: EnvironmentSpec = {
    name: "qa",
    nomad: { address: nomad.url, region: "global", namespace: "default", token: { kind: "vault", path: QA_PATH, key: "token" } },
  };
  const http = { retry: { attempts: 1 } };
  const { reader } = new NomadClients({ tokens: vaultTokens(src), http }).get(env);
  // Resolving the source asked the cache for the secret; it is read without waiting for a refresh.
  await eventually(() => src.get(QA_PATH, "token") === QA_TOKEN);
  t.deepEqual((await reader.listJobs(0, 0)).data, []);
  const bare = new NomadClients({ tokens: envTokens, http }).get(env);
  await t.throwsAsync(bare.reader.listJobs(0, 0), { instanceOf: HttpStatusError }, "without the Vault token Nomad refuses the call");

  await rotate(v, { token: QA_TOKEN_2 });
  const token = vaultTokens(src)(env.nomad.token, "qa");
  t.is(token(), QA_TOKEN, "the cached value until the next refresh");
  await clock.advance(REFRESH_MS * 1.2);
  await eventually(() => token() === QA_TOKEN_2);
});

test("a missing secret is named with its path; a secret without the key asked for names the key", async (t) => {
  const v = await simVault(t);
  v.sim.putSecret("secret", "steward/nomad-prod", { other: "something-else-here" });
  const { src, log } = newSource(t, v, approle(v).auth, { clock: new FakeClock() });
  src.want("steward/nomad-nope", "token");
  src.want("steward/nomad-prod", "token");
  src.start();
  await src.whenReady();
  const problems = new Map(src.problems().map((p) => [p.path, p.message]));
  t.regex(problems.get("secret/data/steward/nomad-nope") ?? "", /no secret at secret\/data\/steward\/nomad-nope \(404\)/);
  t.regex(problems.get("secret/data/steward/nomad-prod") ?? "", /secret\/data\/steward\/nomad-prod has no string key "token"/);
  t.true(log.lines().some((l) => l.level === "error" && l.path === "secret/data/steward/nomad-nope"));
});

test("a token lacking the policy: a clear error naming the path and the policy, retried at the refresh, not in a loop", async (t) => {
  const v = await simVault(t);
  const clock = new FakeClock();
  const { src, log } = newSource(t, v, approle(v).auth, { clock });
  src.want("secret/data/platform/nomad-prod", "token");
  src.start();
  await src.whenReady();
  t.is(src.get("secret/data/platform/nomad-prod", "token"), undefined);
  const [problem] = src.problems();
  t.is(problem?.path, "secret/data/platform/nomad-prod");
  t.regex(problem?.message ?? "", /permission denied reading secret\/data\/platform\/nomad-prod: the policies of Steward's Vault token do not grant "read"/);
  const line = log.lines().find((l) => l.level === "error" && l.path === "secret/data/platform/nomad-prod");
  t.truthy(line, "one error line names the path");
  t.regex(line?.msg ?? "", /capabilities = \["read"\]/);

  const reads = (): number => v.requests.find({ pathPrefix: "/v1/secret/data/platform/" }).length;
  t.is(reads(), 1);
  await clock.advance(REFRESH_MS / 2);
  t.is(reads(), 1, "no retry before the next refresh");
  await clock.advance(REFRESH_MS);
  await eventually(() => reads() === 2);
  t.is(log.lines().filter((l) => l.level === "error").length, 1, "the same denial is not logged again");
});

test("any other refusal of a read names the path and Vault's text, keeps the last value, and waits for the next refresh", async (t) => {
  const v = await simVault(t);
  const clock = new FakeClock();
  const { src } = newSource(t, v, approle(v).auth, { clock });
  src.want(QA_PATH, "token");
  src.start();
  await src.whenReady();
  v.faults.add({ target: "vault", path: `/v1/${QA_PATH}`, kind: "error", status: 400, body: { errors: ["unsupported operation"] } });
  await clock.advance(REFRESH_MS * 1.2);
  const problem = await eventually(() => src.problems()[0]);
  t.deepEqual(problem, { path: QA_PATH, message: `Vault refused GET ${QA_PATH}: 400 unsupported operation` });
  t.is(src.get(QA_PATH, "token"), QA_TOKEN);
  const reads = v.requests.find({ pathPrefix: `/v1/${QA_PATH}` }).length;
  await clock.advance(REFRESH_MS / 2);
  t.is(v.requests.find({ pathPrefix: `/v1/${QA_PATH}` }).length, reads, "no retry before the next refresh");
});

test("a refused AppRole secret id is an error naming the config field; nothing is ready", async (t) => {
  const v = await simVault(t);
  const good = approle(v);
  const auth: VaultAuth = { ...(good.auth as Extract<VaultAuth, { method: "approle" }>), secretId: { read: async () => "not-the-secret-id", where: "env VAULT_SECRET_ID", field: "vault.auth.approle.secretId" } };
  const { src, log } = newSource(t, v, auth, { clock: new FakeClock() });
  src.want(QA_PATH, "token");
  src.start();
  await eventually(() => src.problems().length > 0);
  const [problem] = src.problems();
  t.is(problem?.path, "auth");
  t.regex(problem?.message ?? "", /^vault\.auth\.approle\.secretId: Vault refused the AppRole login .*400 invalid role or secret ID.*env VAULT_SECRET_ID/);
  t.false(src.ready);
  t.true(log.lines().some((l) => l.level === "error" && /login failed/.test(l.msg)));
});

test("a token given by file is looked up and used; when Vault refuses it, the file is read again", async (t) => {
  const v = await simVault(t);
  const dir = await mkdtemp(path.join(tmpdir(), "steward-vault-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "token");
  const first = v.sim.createToken({ policies: ["steward"], ttlS: 3600 });
  await writeFile(file, `${first}\n`);
  const clock = new FakeClock();
  const { src, log } = newSource(t, v, vaultAuthFromConfig({ token: { file } }), { clock });
  src.want(QA_PATH, "token");
  src.start();
  await src.whenReady();
  t.is(src.get(QA_PATH, "token"), QA_TOKEN);
  t.like(log.lines().find((l) => l.msg === "vault: logged in"), { method: "token", ttl_s: 3600 });

  // An operator revokes the token and Nomad's template renders the new one.
  v.sim.revokeToken(first);
  await writeFile(file, v.sim.createToken({ policies: ["steward"], ttlS: 3600 }));
  await rotate(v, { token: QA_TOKEN_2 });
  await clock.advance(REFRESH_MS * 1.2);
  await eventually(() => src.get(QA_PATH, "token") === QA_TOKEN_2);
  t.like(log.lines().find((l) => l.msg === "vault: logged in again"), { reason: "the token was refused" });
  t.deepEqual(src.problems(), []);
});

// ── the token's life: Vault's TTLs and Steward's timers on one clock that only the test moves ──

/**
 * sim's clock reading the test's FakeClock. sim's Vault only reads the time
 * (its expiry is lazy), so Vault's TTLs and Steward's renew timers agree
 * exactly, and no event-loop lag can make a token expire between two steps.
 */
class SharedClock extends SimClock {
  constructor(private readonly fake: FakeClock) {
    super(1, fake.now());
  }
  override now(): number {
    return this.fake.now();
  }
}

/** Moves time `ms` forward in steps, letting every call a step starts finish before the next. */
async function runFor(clock: FakeClock, src: VaultSource, ms: number, stepMs = 1_000): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    await clock.advance(stepMs);
    await src.idle();
  }
}

async function sharedClockVault(t: { teardown(fn: () => Promise<void>): void }): Promise<{ v: SimVault; clock: FakeClock }> {
  const clock = new FakeClock(Date.now());
  return { v: await simVault(t, new SharedClock(clock)), clock };
}

test("the token is renewed at 2/3 of its TTL, and one login outlives the TTL many times over", async (t) => {
  const { v, clock } = await sharedClockVault(t);
  const { src, log } = newSource(t, v, approle(v, { tokenTtlS: 30 }).auth, { clock, refreshIntervalMs: 10_000 });
  src.want(QA_PATH, "token");
  src.start();
  await src.whenReady();
  const renewals = (): number => v.requests.find({ pathPrefix: "/v1/auth/token/renew-self" }).length;
  await runFor(clock, src, 19_000);
  t.is(renewals(), 0, "not before 2/3 of the TTL");
  await runFor(clock, src, 2_000);
  t.is(renewals(), 1, "at 2/3 of the TTL (20 s of 30 s)");

  await runFor(clock, src, 4 * 30_000);
  v.sim.putSecret("secret", "steward/nomad-qa", { token: QA_TOKEN_2 });
  await runFor(clock, src, 10_000);
  t.is(src.get(QA_PATH, "token"), QA_TOKEN_2, "reads still work after four TTLs");
  t.is(v.requests.find({ pathPrefix: "/v1/auth/approle/login" }).length, 1, "never logged in again");
  t.true(renewals() >= 7, `renewed every 20 s (${renewals()} times)`);
  t.true(v.requests.find({ pathPrefix: "/v1/auth/token/renew-self" }).every((r) => r.status === 200));
  t.true(v.requests.find({ pathPrefix: "/v1/secret/" }).every((r) => r.status === 200), "no read was made with an expired token");
  t.true(log.lines().some((l) => l.msg === "vault: token renewed" && l.ttl_s === 30));
});

test("a token nearing its max TTL is replaced by a new AppRole login before it expires", async (t) => {
  const { v, clock } = await sharedClockVault(t);
  const { src, log } = newSource(t, v, approle(v, { tokenTtlS: 30, tokenMaxTtlS: 60 }).auth, { clock, refreshIntervalMs: 10_000 });
  src.want(QA_PATH, "token");
  src.start();
  await src.whenReady();
  await runFor(clock, src, 2.5 * 60_000);
  v.sim.putSecret("secret", "steward/nomad-qa", { token: QA_TOKEN_2 });
  await runFor(clock, src, 10_000);
  t.is(src.get(QA_PATH, "token"), QA_TOKEN_2, "reads still work after two and a half max TTLs");

  t.true(v.requests.find({ pathPrefix: "/v1/auth/approle/login" }).length >= 3, "a new login per max TTL");
  t.true(v.requests.find({ pathPrefix: "/v1/secret/" }).every((r) => r.status === 200), "no read was made with an expired token");
  t.like(log.lines().find((l) => l.msg === "vault: logged in again"), { reason: "the token nears its max TTL" });
});

// ── outages ──

test("a read whose connection is reset once is sent again at once, with no outage to report", async (t) => {
  const v = await simVault(t);
  const clock = new FakeClock();
  const { src, log } = newSource(t, v, approle(v).auth, { clock });
  src.want(QA_PATH, "token");
  src.start();
  await src.whenReady();
  v.faults.add({ target: "vault", path: `/v1/${QA_PATH}`, kind: "reset", count: 1 });
  v.sim.putSecret("secret", "steward/nomad-qa", { token: QA_TOKEN_2 });
  await clock.advance(REFRESH_MS * 1.2);
  await eventually(() => src.get(QA_PATH, "token") === QA_TOKEN_2);
  t.is(v.requests.find({ pathPrefix: `/v1/${QA_PATH}` }).filter((r) => r.status === -1).length, 1, "the reset happened");
  t.false(log.lines().some((l) => l.msg.startsWith("vault: unreachable")));
});

const outages: { name: string; breakIt: (v: SimVault) => Promise<void> | void; fix: (v: SimVault) => Promise<void> | void }[] = [
  {
    name: "sealed_vault_503_keeps_the_cached_value",
    breakIt: (v) => void v.faults.add({ target: "vault", kind: "error", status: 503, body: { errors: ["Vault is sealed"] } }),
    fix: (v) => v.faults.clear(),
  },
  {
    name: "connection_resets_keep_the_cached_value",
    breakIt: (v) => void v.faults.add({ target: "vault", kind: "reset" }),
    fix: (v) => v.faults.clear(),
  },
  { name: "vault_down_keeps_the_cached_value", breakIt: (v) => v.close(), fix: (v) => v.restart() },
];
for (const row of outages) {
  test(`outage: ${row.name}, says so once, and recovers`, async (t) => {
    const v = await simVault(t);
    const clock = new FakeClock();
    const { src, log } = newSource(t, v, approle(v).auth, { clock, retryCapMs: 4_000 });
    src.want(QA_PATH, "token");
    src.start();
    await src.whenReady();

    await row.breakIt(v);
    v.sim.putSecret("secret", "steward/nomad-qa", { token: QA_TOKEN_2 });
    await clock.advance(REFRESH_MS * 1.2);
    const warning = await eventually(() => log.lines().find((l) => l.msg.startsWith("vault: unreachable")));
    t.like(warning, { level: "warn", path: QA_PATH, cached_secrets: 1 });
    await clock.advance(4_000);
    await clock.advance(4_000);
    t.is(src.get(QA_PATH, "token"), QA_TOKEN, "the last good value stays");
    t.deepEqual(src.problems(), [], "a kept value is not a problem");
    t.is(log.lines().filter((l) => l.msg.startsWith("vault: unreachable")).length, 1, "one warning per outage");

    await row.fix(v);
    await eventually(async () => {
      await clock.advance(4_000);
      return src.get(QA_PATH, "token") === QA_TOKEN_2;
    });
    t.true(log.lines().some((l) => l.msg === "vault: reachable again" && l.level === "info"));
  });
}

// ── secrets stay out of logs ──

test("no secret value, token or secret id ever reaches the log, through login, reads, denials and an outage", async (t) => {
  const v = await simVault(t);
  v.sim.putSecret("secret", "steward/consul", { token: "c0ffee00-1234-4abc-9def-00112233aabb" });
  const { auth, secretId } = approle(v);
  const clock = new FakeClock();
  const { src, log } = newSource(t, v, auth, { clock, retryCapMs: 4_000 });
  src.want(QA_PATH, "token");
  src.want("steward/consul", "token");
  src.want("secret/data/platform/denied", "token");
  src.start();
  await src.whenReady();
  v.faults.add({ target: "vault", kind: "error", status: 500, count: 2 });
  await clock.advance(REFRESH_MS * 1.2);
  await eventually(async () => {
    await clock.advance(4_000);
    return log.lines().some((l) => l.msg === "vault: reachable again");
  });

  const text = log.text();
  t.regex(text, /secret\/data\/steward\/nomad-qa/, "the lines name the paths they concern");
  for (const secret of [QA_TOKEN, "c0ffee00-1234-4abc-9def-00112233aabb", secretId]) t.false(text.includes(secret));
  t.notRegex(text, /hvs\./, "no Vault token");
  t.false(text.includes("[REDACTED]"), "nothing even had to be scrubbed: values are never handed to the logger");
});

// ── the daemon ──

test("a daemon with a vault section takes its Consul token and its Nomad tokens from Vault", async (t) => {
  const nomadToken = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
  const consulToken = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9";
  const sim = await startSim({ healthyAfterMs: 200, nomadToken, consulToken });
  t.teardown(() => sim.close());
  sim.vault.setPolicy("steward", { "secret/data/steward/*": ["read"] });
  sim.vault.putSecret("secret", "steward/nomad", { token: nomadToken });
  sim.vault.putSecret("secret", "steward/consul", { token: consulToken });
  const { roleId, secretId } = sim.vault.createAppRole("steward", { policies: ["steward"], tokenTtlS: 3600 });
  const dir = await mkdtemp(path.join(tmpdir(), "steward-vault-daemon-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(REPO_ROOT, "desired-state"), dir, { recursive: true });
  const token = "      token: { vault: { path: secret/data/steward/nomad, key: token } }";
  await writeFile(
    path.join(dir, "steward.yaml"),
    ["environments:", "  - name: qa", "    nomad:", `      address: ${sim.urls.nomad.qa}`, token, "  - name: prod", "    nomad:", `      address: ${sim.urls.nomad.prod}`, token].join("\n"),
  );
  process.env.STEWARD_TEST_VAULT_ROLE_ID = roleId;
  process.env.STEWARD_TEST_VAULT_SECRET_ID = secretId;
  const config = configSchema.parse({
    source: { directory: { path: dir } },
    consul: { address: sim.urls.consul, token: { vault: { path: "steward/consul", key: "token" } } },
    http: { listen: "127.0.0.1:0" },
    vault: { address: sim.urls.vault, auth: { approle: { roleId: { env: "STEWARD_TEST_VAULT_ROLE_ID" }, secretId: { env: "STEWARD_TEST_VAULT_SECRET_ID" } } } },
    dataDir: dir,
  });
  const log = capture();
  const daemon = new Daemon({ ...config, instanceId: "vault-test" }, { logger: log.logger, metrics: createMetrics({ defaultMetrics: false }), watchWaitMs: 5_000 });
  t.teardown(() => daemon.stop());
  await daemon.start();
  await eventually(() => daemon.elector.isLeader, { timeoutMs: 10_000 });
  const qa = async (): Promise<number> => (await fetch(`${sim.urls.nomad.qa}/v1/job/web`, { headers: { "X-Nomad-Token": nomadToken } })).status;
  await eventually(async () => (await qa()) === 200, { timeoutMs: 15_000 });
  t.true(daemon.vault?.ready);
  t.false(log.text().includes(nomadToken) || log.text().includes(consulToken), "the tokens never reach the log");
});

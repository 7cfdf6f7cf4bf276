// Tokens, AppRole, policies and sys/health as a user of the real node-vault client sees them.
import test from "ava";
import nodeVault from "node-vault";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { VaultServer } from "../../sim/vault/index.js";
import { PolicyStore } from "../../sim/vault/policy.js";
import { eventually } from "../helpers/eventually.js";

/** Sim ms per real ms once a test lets time run: an hour passes in under 4 ms. */
const FAST_FORWARD = 1_000_000;

function start(clock = new Clock(1)): VaultServer {
  return new VaultServer({ clock, world: new World(() => clock.now()), random: seededRandom(5) }, { rootToken: "root" });
}

/**
 * A private server for a test that moves time: it starts at real speed, so
 * the first requests see fresh TTLs, then `clock.setScale(FAST_FORWARD)`.
 */
async function own(): Promise<{ vault: VaultServer; clock: Clock; url: string; close: () => Promise<void> }> {
  const clock = new Clock(1);
  const v = start(clock);
  const srv = await serve({ name: "vault-own", router: v.router });
  return { vault: v, clock, url: srv.url, close: () => srv.close() };
}

const vault = start();
let server: SimServer;

test.before(async () => {
  server = await serve({ name: "vault", router: vault.router });
  vault.putSecret("secret", "app/config", { db: "postgres://app" });
  vault.putSecret("secret", "other/config", { db: "postgres://other" });
  vault.setPolicy("app-read", { "secret/data/app/*": ["read"] });
});
test.after.always(async () => {
  await server.close();
});

function client(token?: string, url = server.url): ReturnType<typeof nodeVault> {
  return nodeVault({ apiVersion: "v1", endpoint: url, ...(token ? { token } : {}) });
}

async function failure(p: Promise<unknown>): Promise<{ status: number; message: string; body: unknown }> {
  try {
    await p;
  } catch (err) {
    const e = err as { message: string; response?: { statusCode: number; body: unknown } };
    return { status: e.response?.statusCode ?? -1, message: e.message, body: e.response?.body };
  }
  throw new Error("expected the request to fail");
}

test("AppRole login issues a token that reads what its policy allows, and nothing else", async (t) => {
  const { roleId, secretId } = vault.createAppRole("steward", { policies: ["app-read"], tokenTtlS: 600 });
  const v = client();
  const login = await v.approleLogin({ role_id: roleId, secret_id: secretId });
  t.is(login.auth.lease_duration, 600);
  t.true(login.auth.renewable);
  t.deepEqual(login.auth.policies, ["app-read", "default"]);
  t.deepEqual(login.auth.metadata, { role_name: "steward" });
  t.regex(login.auth.client_token, /^hvs\./);
  t.is(v.token, login.auth.client_token, "node-vault adopts the login token");

  t.deepEqual((await v.read("secret/data/app/config")).data.data, { db: "postgres://app" });
  const other = await failure(v.read("secret/data/other/config"));
  t.is(other.status, 403);
  t.deepEqual(other.body, { errors: ["permission denied"] });
  const write = await failure(v.write("secret/data/app/config", { data: { db: "x" } }));
  t.is(write.status, 403, "read does not grant update");
});

test("AppRole refuses a wrong secret id, an exhausted one and an expired one", async (t) => {
  const { roleId } = vault.createAppRole("once", { policies: ["default"], secretIdNumUses: 1 });
  const v = client();
  const wrong = await failure(v.approleLogin({ role_id: roleId, secret_id: "not-a-secret" }));
  t.is(wrong.status, 400);
  t.is(wrong.message, "invalid role or secret ID");
  t.is((await failure(v.approleLogin({ role_id: "nope", secret_id: "x" }))).message, "invalid role or secret ID");

  const single = vault.generateSecretId("once", { numUses: 1 });
  await v.approleLogin({ role_id: roleId, secret_id: single });
  t.is((await failure(v.approleLogin({ role_id: roleId, secret_id: single }))).message, "invalid role or secret ID");

  const o = await own();
  try {
    const f = o.vault.createAppRole("short", { policies: ["default"], secretIdTtlS: 3600 });
    const fv = client(undefined, o.url);
    await fv.approleLogin({ role_id: f.roleId, secret_id: f.secretId });
    o.clock.setScale(FAST_FORWARD);
    const expired = await eventually(async () => {
      const e = await failure(fv.approleLogin({ role_id: f.roleId, secret_id: f.secretId }));
      if (e.status !== 400) throw new Error(`still accepted (${e.status})`);
      return e;
    });
    t.is(expired.message, "invalid role or secret ID");
  } finally {
    await o.close();
  }
});

test("role-id read and secret-id generation over the API", async (t) => {
  const v = client("root");
  await v.addApproleRole({ role_name: "ci", token_policies: "app-read", token_ttl: 1200, secret_id_ttl: 600 });
  const roleId = (await v.getApproleRoleId({ role_name: "ci" })).data.role_id;
  const issued = await v.getApproleRoleSecret({ role_name: "ci" });
  t.is(issued.data.secret_id_ttl, 600);
  const login = await client().approleLogin({ role_id: roleId, secret_id: issued.data.secret_id });
  t.is(login.auth.lease_duration, 1200);
  const tooLong = await failure(v.write("auth/approle/role/ci/secret-id", { ttl: "1h" }));
  t.is(tooLong.message, "ttl cannot be longer than the role's secret_id_ttl");
  const absent = await failure(v.write("auth/approle/role/absent/secret-id", {}));
  t.is(absent.status, 404);
});

test("lookup-self shows the token; renew-self extends it, but never past its explicit max TTL", async (t) => {
  const token = vault.createToken({ policies: ["app-read"], ttlS: 60, explicitMaxTtlS: 120 });
  const v = client(token);
  const self = await v.tokenLookupSelf();
  t.is(self.data.id, token);
  t.deepEqual(self.data.policies, ["app-read", "default"]);
  t.true(self.data.ttl > 55 && self.data.ttl <= 60, `ttl ${self.data.ttl}`);
  t.is(self.data.explicit_max_ttl, 120);
  t.is(self.data.type, "service");

  const renewed = await v.tokenRenewSelf({ increment: "1h" });
  t.true(renewed.auth.lease_duration > 115 && renewed.auth.lease_duration <= 120, `lease ${renewed.auth.lease_duration}`);
  const after = await v.tokenLookupSelf();
  t.true(after.data.ttl > 115, "the new TTL shows in lookup-self");
  t.is(typeof after.data.last_renewal_time, "number");
});

test("an expired token is refused with 403 permission denied", async (t) => {
  const o = await own();
  try {
    const token = o.vault.createToken({ policies: ["default"], ttlS: 3600 });
    const v = client(token, o.url);
    await v.tokenLookupSelf();
    o.clock.setScale(FAST_FORWARD);
    const denied = await eventually(async () => {
      const f = await failure(v.tokenLookupSelf());
      if (f.status !== 403) throw new Error(`still accepted (${f.status})`);
      return f;
    });
    t.deepEqual(denied.body, { errors: ["permission denied"] });
  } finally {
    await o.close();
  }
});

test("a token renewed in time outlives its first TTL, then expires at the new one", async (t) => {
  const o = await own();
  try {
    const token = o.vault.createToken({ policies: ["default"], ttlS: 3600 });
    const v = client(token, o.url);
    const born = o.clock.now();
    const renewed = await v.tokenRenewSelf({ increment: 86_400 });
    t.is(renewed.auth.lease_duration, 86_400);
    // Slow enough that the 2h mark is seen long before the new 24h TTL runs out (~0.9 s real).
    o.clock.setScale(100_000);
    await eventually(() => o.clock.now() > born + 7200 * 1000);
    o.clock.setScale(1); // hold time still enough to look
    const self = await v.tokenLookupSelf();
    t.true(self.data.ttl > 0, "alive past its first TTL");
    o.clock.setScale(FAST_FORWARD);
    await eventually(async () => (await failure(v.tokenLookupSelf())).status === 403);
  } finally {
    await o.close();
  }
});

test("the root token never expires and cannot be renewed", async (t) => {
  const v = client("root");
  const self = await v.tokenLookupSelf();
  t.deepEqual(self.data.policies, ["root"]);
  t.is(self.data.expire_time, null);
  t.is(self.data.ttl, 0);
  const f = await failure(v.tokenRenewSelf());
  t.is(f.status, 400);
  t.is(f.message, "lease is not renewable");
});

test("token create: root warns of unknown policies; a non-root parent only hands out its own policies", async (t) => {
  const root = client("root");
  const created = await root.write("auth/token/create", { policies: ["app-read", "ghost"], ttl: "30m" });
  t.deepEqual(created.warnings, ['Policy "ghost" does not exist']);
  t.is(created.auth.lease_duration, 1800);

  vault.setPolicy("token-creator", { "auth/token/create": ["update"] });
  const parent = vault.createToken({ policies: ["token-creator", "app-read"] });
  const p = client(parent);
  const child = await p.write("auth/token/create", { policies: ["app-read"] });
  t.deepEqual(child.auth.policies, ["app-read", "default"]);
  const wider = await failure(p.write("auth/token/create", { policies: ["admin"] }));
  t.is(wider.status, 400);
  t.is(wider.message, "child policies must be subset of parent");

  const noRight = await failure(client(vault.createToken({ policies: ["app-read"] })).write("auth/token/create", {}));
  t.is(noRight.status, 403);
});

test("revoke-self ends the token and its children", async (t) => {
  vault.setPolicy("creator2", { "auth/token/create": ["update"] });
  const parent = vault.createToken({ policies: ["creator2"] });
  const child = (await client(parent).write("auth/token/create", {})).auth.client_token as string;
  await client(parent).tokenRevokeSelf();
  t.is((await failure(client(parent).tokenLookupSelf())).status, 403);
  t.is((await failure(client(child).tokenLookupSelf())).status, 403);
});

test("lookup of another token needs the right; an unknown token is a bad token", async (t) => {
  const root = client("root");
  const token = vault.createToken({ policies: ["default"], meta: { app: "steward" } });
  const found = await root.tokenLookup({ token });
  t.deepEqual(found.data.meta, { app: "steward" });
  const bad = await failure(root.tokenLookup({ token: "hvs.unknown" }));
  t.is(bad.status, 403);
  t.is(bad.message, "bad token");
  t.is((await failure(client(token).tokenLookup({ token: "root" }))).status, 403);
});

test("the token may come as Authorization: Bearer; no token at all is 403", async (t) => {
  const token = vault.createToken({ policies: ["app-read"] });
  const ok = await fetch(`${server.url}/v1/secret/data/app/config`, { headers: { Authorization: `Bearer ${token}` } });
  t.is(ok.status, 200);
  t.is(ok.headers.get("cache-control"), "no-store");
  const none = await fetch(`${server.url}/v1/secret/data/app/config`);
  t.is(none.status, 403);
  t.deepEqual(await none.json(), { errors: ["permission denied"] });
});

test("unknown routes, unsupported operations and unknown verbs", async (t) => {
  const r404 = await fetch(`${server.url}/v1/nowhere/x`, { headers: { "X-Vault-Token": "root" } });
  t.is(r404.status, 404);
  t.deepEqual(await r404.json(), { errors: ['no handler for route "nowhere/x". route entry not found.'] });
  const r405 = await fetch(`${server.url}/v1/auth/token/lookup-self`, { method: "DELETE", headers: { "X-Vault-Token": "root" } });
  t.is(r405.status, 405);
  t.deepEqual(await r405.json(), { errors: ["1 error occurred:\n\t* unsupported operation\n\n"] });
  const verb = await fetch(`${server.url}/v1/secret/data/x`, { method: "PROPFIND", headers: { "X-Vault-Token": "root" } });
  t.is(verb.status, 405);
  t.deepEqual(await verb.json(), { errors: [] });
});

test("sys/health follows the node state and its query overrides; sealed Vault answers 503", async (t) => {
  const s = start();
  const srv = await serve({ name: "vault-health", router: s.router });
  try {
    const health = await client(undefined, srv.url).health();
    t.is(health.initialized, true);
    t.is(health.sealed, false);
    const code = async (q = ""): Promise<number> => (await fetch(`${srv.url}/v1/sys/health${q}`)).status;
    t.is(await code("?activecode=299"), 299);
    t.is((await fetch(`${srv.url}/v1/sys/health`, { method: "POST" })).status, 405);

    s.setStatus({ standby: true });
    t.is(await code(), 429);
    t.is(await code("?standbyok=true"), 200);
    t.is(await code("?standbycode=201"), 201);
    t.is(await code("?standbyok=maybe"), 400);
    t.is((await fetch(`${srv.url}/v1/sys/health`, { method: "HEAD" })).status, 429);

    s.setStatus({ standby: false, sealed: true });
    t.is(await code(), 503);
    t.is(await code("?sealedcode=200"), 200);
    const sealedRead = await fetch(`${srv.url}/v1/secret/data/x`, { headers: { "X-Vault-Token": "root" } });
    t.is(sealedRead.status, 503);
    t.deepEqual(await sealedRead.json(), { errors: ["Vault is sealed"] });
  } finally {
    await srv.close();
  }
});

test("sys/mounts lists secret/ as KV version 2, also at the top level", async (t) => {
  const mounts = await client("root").mounts();
  t.is(mounts.data["secret/"].type, "kv");
  t.deepEqual(mounts.data["secret/"].options, { version: "2" });
  t.is(mounts["secret/"].type, "kv");
  t.is((await failure(client(vault.createToken({ policies: ["default"] })).mounts())).status, 403);
});

test("policy matching follows Vault's priority rules", (t) => {
  const p = new PolicyStore();
  p.set("a", {
    "secret/data/*": ["read", "list"],
    "secret/data/app/+/config": ["read", "update"],
    "secret/data/app/blocked": ["deny"],
    "secret/metadata/app/*": ["list"],
  });
  p.set("b", { "secret/data/app/x/config": ["create"] });
  t.true(p.allows(["a"], "secret/data/anything", "read"));
  t.false(p.allows(["a"], "secret/data/anything", "update"));
  t.true(p.allows(["a"], "secret/data/app/x/config", "update"), "the + pattern outranks the earlier glob");
  t.false(p.allows(["a", "b"], "secret/data/app/x/config", "update"), "the exact path of policy b is more specific still");
  t.true(p.allows(["a", "b"], "secret/data/app/x/config", "create"));
  t.false(p.allows(["a"], "secret/data/app/blocked", "read"), "deny wins");
  t.true(p.allows(["a"], "secret/metadata/app/team/", "list"));
  t.false(p.allows(["a"], "secret/data/app/y/other", "update"));
  t.true(p.allows(["root"], "sys/anything", "delete"));
  t.true(p.allows(["default"], "auth/token/lookup-self", "read"));
  t.false(p.allows(["default"], "auth/token/create", "update"));
});

test("creating a secret needs create, changing one needs update", async (t) => {
  vault.setPolicy("updater", { "secret/data/shared/*": ["update", "read"] });
  vault.putSecret("secret", "shared/existing", { a: "1" });
  const v = client(vault.createToken({ policies: ["updater"] }));
  await v.write("secret/data/shared/existing", { data: { a: "2" } });
  const create = await failure(v.write("secret/data/shared/new", { data: { a: "1" } }));
  t.is(create.status, 403);
});

import test from "ava";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { actionAuthFromConfig, checkAction, type ActionAuth } from "../../src/server/action-auth.js";
import { configSchema } from "../../src/config/schema.js";

const TOKEN = "s3cret-action-token-value";
const auth: ActionAuth = { name: "ci", source: "env STEWARD_ACTION_TOKEN", token: () => TOKEN };

const rows: Array<{ name: string; auth: ActionAuth | undefined; header?: string; want: { ok: true; by: string } | { ok: false; error: RegExp } }> = [
  { name: "matching_bearer_token_authorises_as_its_name", auth, header: `Bearer ${TOKEN}`, want: { ok: true, by: "ci" } },
  { name: "scheme_is_case_insensitive", auth, header: `bearer ${TOKEN}`, want: { ok: true, by: "ci" } },
  { name: "no_configured_token_refuses_naming_the_field", auth: undefined, header: `Bearer ${TOKEN}`, want: { ok: false, error: /no api\.actionToken/ } },
  { name: "unreadable_token_refuses_naming_its_source", auth: { ...auth, token: () => undefined }, header: `Bearer ${TOKEN}`, want: { ok: false, error: /env STEWARD_ACTION_TOKEN\) cannot be read/ } },
  { name: "missing_header_refuses_naming_the_header", auth, want: { ok: false, error: /missing Authorization header/ } },
  { name: "basic_auth_refused_as_not_bearer", auth, header: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}`, want: { ok: false, error: /not a bearer token/ } },
  { name: "wrong_token_refused", auth, header: "Bearer nope", want: { ok: false, error: /invalid bearer token/ } },
  { name: "token_prefix_refused", auth, header: `Bearer ${TOKEN.slice(0, -1)}`, want: { ok: false, error: /invalid bearer token/ } },
];

for (const row of rows) {
  test(`check: ${row.name}`, (t) => {
    const r = checkAction({ headers: row.header === undefined ? {} : { authorization: row.header } }, row.auth);
    if (row.want.ok) {
      t.deepEqual(r, row.want);
      return;
    }
    t.false(r.ok);
    if (r.ok) return;
    t.is(r.status, 401);
    t.regex(r.body.error, row.want.error);
    t.regex(r.headers["WWW-Authenticate"] ?? "", /^Bearer realm="steward"/);
    // The refusal never echoes a token, the expected one or the one sent.
    t.false(JSON.stringify(r).includes(TOKEN));
  });
}

test("from config: env token, named; default name api", (t) => {
  const a = actionAuthFromConfig({ env: "X_TOKEN", name: "deployer" }, undefined, { X_TOKEN: "abc" });
  t.is(a?.name, "deployer");
  t.is(a?.token(), "abc");
  t.is(actionAuthFromConfig({ env: "X_TOKEN" }, undefined, {})?.name, "api");
  t.is(actionAuthFromConfig({ env: "X_TOKEN" }, undefined, {})?.token(), undefined);
  t.is(actionAuthFromConfig(undefined), undefined);
});

test("from config: a file is read per request, so a rotated token applies at once", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "steward-auth-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "token");
  await writeFile(file, "first-token-1234\n");
  const a = actionAuthFromConfig({ file });
  t.true(checkAction({ headers: { authorization: "Bearer first-token-1234" } }, a).ok);
  await writeFile(file, "second-token-5678\n");
  t.false(checkAction({ headers: { authorization: "Bearer first-token-1234" } }, a).ok);
  t.true(checkAction({ headers: { authorization: "Bearer second-token-5678" } }, a).ok);
});

test("config: api.actionToken from Vault needs the vault section", (t) => {
  const r = configSchema.safeParse({ api: { actionToken: { vault: { path: "steward/api", key: "token" } } } });
  t.false(r.success);
  t.true(r.error?.issues.some((i) => i.path.join(".") === "api.actionToken.vault"));
  t.true(configSchema.safeParse({ api: { actionToken: { env: "T", name: "ops" } }, prometheus: { address: "http://127.0.0.1:9090" } }).success);
});

// Replays every Vault sample of ../shared/api-reference/vault against the
// emulator: same status, the sample's header names, the same body shape, and
// exact `errors` arrays (the README's rules). Seeding follows what each
// sample implies; request values that name seeded objects (role ids, secret
// ids, tokens) are swapped for the seeded ones.
import test from "ava";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { Router, serve, type SimServer } from "../../sim/core/http.js";
import { VaultServer } from "../../sim/vault/index.js";
import { listSamples, loadSample, missingHeaders, sameShape, type Json, type Sample } from "../helpers/samples.js";

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Json;
}

interface Case {
  /** Builds the state the sample implies; returns the request to send in place of the sample's own values. */
  setup(v: VaultServer): { token?: string; body?: Json; path?: string; query?: Record<string, string>; headers?: Record<string, string> };
  /** Sample header names the real server only sends in some deployments. */
  skipHeaders?: string[];
  /** Compare against this instead of the sample body (enterprise-only keys removed). */
  bodyTemplate?: Json;
  /** Why the request differs from the sample's. */
  note?: string;
}

function fresh(): VaultServer {
  const clock = new Clock(1);
  const world = new World(() => clock.now());
  return new VaultServer({ clock, world, random: seededRandom(7) }, { rootToken: "root" });
}

let server: SimServer;

async function call(
  method: string,
  path: string,
  opts: { token?: string; body?: Json; query?: Record<string, string> | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const qs = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : "";
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers["X-Vault-Token"] = opts.token;
  const res = await fetch(`${server.url}${path}${qs}`, {
    method,
    headers,
    ...(opts.body !== undefined && opts.body !== null ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => (out[k] = v));
  return { status: res.status, headers: out, body: text === "" ? null : (JSON.parse(text) as Json) };
}

// Every test gets its own VaultServer behind one HTTP server, so seeds do not leak between samples.
let current: VaultServer = fresh();
test.before(async () => {
  const router = new Router({ notFound: () => ({ status: 404 }), methodNotAllowed: () => ({ status: 405 }) });
  router.add(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "LIST"], "/*rest", (req) => current.router.handle(req));
  server = await serve({ name: "vault", router, acceptListMethod: true });
});
test.after.always(async () => {
  await server.close();
});

const customMetadata = { owner: "jdoe", mission_critical: "false" };

const cases: Record<string, Case> = {
  "approle-login": {
    setup: (v) => {
      const { roleId, secretId } = v.createAppRole("application1", { policies: ["default"], tokenTtlS: 1200 });
      return { body: { role_id: roleId, secret_id: secretId } };
    },
  },
  "approle-role-id-read": {
    setup: (v) => {
      v.createAppRole("application1", { policies: ["default"] });
      return { token: "root" };
    },
  },
  "approle-secret-id-generate": {
    setup: (v) => {
      v.createAppRole("application1", { policies: ["default"], secretIdTtlS: 600, secretIdNumUses: 50 });
      return { token: "root" };
    },
  },
  "error-permission-denied": {
    setup: (v) => {
      v.putSecret("secret", "my-secret", { foo: "bar" });
      return { token: v.createToken({ policies: ["default"] }) };
    },
  },
  "kv2-config-read": { setup: () => ({ token: "root" }) },
  "kv2-delete-latest": {
    setup: (v) => {
      v.putSecret("secret", "my-secret", { foo: "bar" });
      return { token: "root" };
    },
  },
  "kv2-error-cas-mismatch": {
    setup: (v) => {
      v.putSecret("secret", "my-secret", { foo: "bar" });
      return { token: "root" };
    },
  },
  "kv2-metadata-list": {
    note: "Node's HTTP parser rejects the LIST verb before the sim sees it (see README); GET ?list=true is Vault's equivalent",
    setup: (v) => {
      v.putSecret("secret", "my-secret/foo", { a: "1" });
      v.putSecret("secret", "my-secret/foo/bar", { a: "2" });
      return { token: "root", query: { list: "true" } };
    },
  },
  "kv2-metadata-read": {
    setup: (v) => {
      v.setSecretMetadata("secret", "my-secret", { customMetadata: { foo: "abc", bar: "123", baz: "5c07d823-3810-48f6-a147-4c06b5219e84" } });
      for (let i = 0; i < 3; i++) v.putSecret("secret", "my-secret", { n: String(i) });
      return { token: "root" };
    },
  },
  "kv2-metadata-write": { setup: () => ({ token: "root" }) },
  "kv2-patch": {
    setup: (v) => {
      v.setSecretMetadata("secret", "my-secret", { customMetadata });
      v.putSecret("secret", "my-secret", { foo: "x" });
      return { token: "root" };
    },
  },
  "kv2-read-not-found": { setup: () => ({ token: "root" }) },
  "kv2-read": {
    setup: (v) => {
      v.setSecretMetadata("secret", "my-secret", { customMetadata });
      v.putSecret("secret", "my-secret", { foo: "old" });
      v.putSecret("secret", "my-secret", { foo: "bar" });
      return { token: "root" };
    },
  },
  "kv2-write": {
    // cas 0 means "no version yet": metadata set beforehand does not count as a version.
    setup: (v) => {
      v.setSecretMetadata("secret", "my-secret", { customMetadata });
      return { token: "root" };
    },
  },
  "sys-health-custom-code": {
    setup: () => ({}),
    skipHeaders: ["strict-transport-security"],
  },
  "sys-health": { setup: () => ({}) },
  "sys-health-enterprise": {
    note: "an enterprise node; the sim is Community Edition, so license, last_wal and replication_primary_canary_age_ms are not sent",
    setup: () => ({}),
    bodyTemplate: withoutKeys(loadSample("vault/sys-health-enterprise").response_body, [
      "license",
      "last_wal",
      "replication_primary_canary_age_ms",
    ]),
  },
  "token-create": { setup: () => ({ token: "root" }) },
  "token-lookup-self": {
    setup: (v) => {
      const { roleId } = v.createAppRole("tesla", { policies: ["testgroup2-policy"], identityPolicies: ["dev-group-policy"] });
      const secretId = v.generateSecretId("tesla", { metadata: { username: "tesla" } });
      return { token: "login", body: { role_id: roleId, secret_id: secretId } };
    },
  },
  "token-lookup": {
    setup: (v) => {
      const { roleId } = v.createAppRole("tesla", { policies: ["testgroup2-policy"], identityPolicies: ["dev-group-policy"] });
      const secretId = v.generateSecretId("tesla", { metadata: { username: "tesla" } });
      return { token: "root", body: { role_id: roleId, secret_id: secretId } };
    },
  },
  "token-renew-self": {
    setup: (v) => ({ token: v.createToken({ policies: ["web", "stage"], ttlS: 3600, meta: { user: "armon" } }) }),
  },
};

function withoutKeys(body: Json, keys: string[]): Json {
  const copy = { ...(body as Record<string, Json>) };
  for (const k of keys) delete copy[k];
  return copy;
}

/** Some samples need a login first; the token goes into the header or the body as the sample wants. */
async function resolveLogin(sample: Sample, req: ReturnType<Case["setup"]>): Promise<ReturnType<Case["setup"]>> {
  if (sample.file.endsWith("token-lookup-self") && req.token === "login") {
    const login = await call("POST", "/v1/auth/approle/login", { body: req.body ?? null });
    const token = (login.body as { auth: { client_token: string } }).auth.client_token;
    return { token };
  }
  if (sample.file.endsWith("token-lookup")) {
    const login = await call("POST", "/v1/auth/approle/login", { body: req.body ?? null });
    const token = (login.body as { auth: { client_token: string } }).auth.client_token;
    return { token: "root", body: { token } };
  }
  return req;
}

test("every vault sample has a conformance case", (t) => {
  const missing = listSamples("vault").filter((s) => s !== "error-shape" && !(s in cases));
  t.deepEqual(missing, []);
});

for (const [name, c] of Object.entries(cases)) {
  test.serial(`sample ${name}`, async (t) => {
    const sample = loadSample(`vault/${name}`);
    current = fresh();
    const req = await resolveLogin(sample, c.setup(current));
    // LIST cannot cross Node's HTTP parser; the equivalent GET ?list=true is sent instead.
    const method = sample.method === "LIST" ? "GET" : (sample.method ?? "GET");
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    const ct = sample.request_headers?.["Content-Type"];
    if (ct) headers["Content-Type"] = ct;
    const reply = await call(method, req.path ?? sample.path ?? "/", {
      ...(req.token ? { token: req.token } : {}),
      body: req.body ?? sample.request_body,
      query: { ...(sample.query ?? {}), ...(req.query ?? {}) },
      headers,
    });
    t.is(reply.status, sample.status ?? Number.NaN, JSON.stringify(reply.body));
    const wantHeaders = { ...sample, response_headers: filterHeaders(sample.response_headers, c.skipHeaders ?? []) };
    t.deepEqual(missingHeaders(wantHeaders, reply.headers), []);
    const template = c.bodyTemplate ?? sample.response_body;
    if (template !== null) t.deepEqual(sameShape(template, reply.body), []);
    if (isErrorsBody(sample.response_body)) t.deepEqual(reply.body, sample.response_body);
    exactChecks(t, name, reply.body);
  });
}

function filterHeaders(h: Record<string, string> | null, skip: string[]): Record<string, string> | null {
  if (!h) return h;
  return Object.fromEntries(Object.entries(h).filter(([k]) => !skip.includes(k.toLowerCase())));
}

function isErrorsBody(b: Json): boolean {
  return typeof b === "object" && b !== null && !Array.isArray(b) && Array.isArray((b as Record<string, Json>).errors);
}

/** Values the emulator decides deterministically, checked exactly where the sample fixes them. */
function exactChecks(t: { deepEqual: (a: unknown, b: unknown) => void; is: (a: unknown, b: unknown) => void }, name: string, body: Json): void {
  const b = body as Record<string, Record<string, unknown>>;
  switch (name) {
    case "kv2-metadata-list":
      t.deepEqual(b.data?.keys, ["foo", "foo/"]);
      break;
    case "kv2-read":
      t.deepEqual(b.data?.data, { foo: "bar" });
      t.is((b.data?.metadata as Record<string, unknown>).version, 2);
      break;
    case "kv2-patch":
      t.is(b.data?.version, 2);
      break;
    case "kv2-write":
      t.is(b.data?.version, 1);
      break;
    case "kv2-metadata-read":
      t.is(b.data?.current_version, 3);
      t.deepEqual(Object.keys(b.data?.versions ?? {}), ["1", "2", "3"]);
      break;
    case "token-create":
      t.deepEqual(b.warnings, ['Policy "stage" does not exist', 'Policy "web" does not exist']);
      t.deepEqual(b.auth?.policies, ["default", "stage", "web"]);
      t.is(b.auth?.lease_duration, 3600);
      break;
    case "approle-login":
      t.is(b.auth?.lease_duration, 1200);
      t.is(b.auth?.renewable, true);
      break;
    case "approle-secret-id-generate":
      t.is(b.data?.secret_id_ttl, 600);
      t.is(b.data?.secret_id_num_uses, 50);
      break;
    case "sys-health-custom-code":
    case "sys-health":
      t.is((body as Record<string, unknown>).sealed, false);
      break;
  }
}

test.serial("error-shape: 400, 403, 404 and 405 replies all carry {errors: [string]} as JSON", async (t) => {
  const sample = loadSample("vault/error-shape");
  current = fresh();
  current.putSecret("secret", "x", { a: "1" });
  const replies = [
    await call("POST", "/v1/secret/data/x", { token: "root", body: { options: { cas: 0 }, data: { a: "2" } } }),
    await call("GET", "/v1/secret/data/x", { token: "nope" }),
    await call("GET", "/v1/secret/data/absent", { token: "root" }),
    await call("DELETE", "/v1/auth/token/lookup-self", { token: "root" }),
  ];
  t.deepEqual(
    replies.map((r) => r.status),
    [400, 403, 404, 405],
  );
  for (const r of replies) {
    t.deepEqual(sameShape(sample.response_body, r.body), []);
    t.deepEqual(missingHeaders(sample, r.headers), []);
  }
});

test.serial("kv2-read-not-found for a deleted version answers 404 with the version metadata", async (t) => {
  current = fresh();
  current.putSecret("secret", "my-secret", { foo: "bar" });
  t.is((await call("DELETE", "/v1/secret/data/my-secret", { token: "root" })).status, 204);
  const r = await call("GET", "/v1/secret/data/my-secret", { token: "root" });
  t.is(r.status, 404);
  const data = (r.body as Record<string, Record<string, unknown>>).data;
  t.is(data?.data, null);
  t.not((data?.metadata as Record<string, unknown>).deletion_time, "");
});

// Node's HTTP parser refuses methods it does not know; serve() rewrites LIST to
// GET ?list=true before the parser sees it (acceptListMethod), as Vault treats both alike.
test.serial("the LIST verb reaches the emulator", async (t) => {
  current = fresh();
  current.putSecret("secret", "my-secret/foo", { a: "1" });
  const r = await call("LIST", "/v1/secret/metadata/my-secret", { token: "root" });
  t.is(r.status, 200);
  t.deepEqual((r.body as { data: { keys: string[] } }).data.keys, ["foo"]);
  const again = await call("LIST", "/v1/secret/metadata/my-secret?x=1", { token: "root" });
  t.is(again.status, 200, "a query string already present is kept");
});

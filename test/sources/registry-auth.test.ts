import test from "ava";
import { parseChallenge, readToken, TokenCache, type AuthChallenge } from "../../src/sources/registry-auth.js";
import { parseRepository, type RepositoryRef } from "../../src/sources/registry.js";
import { InvalidInputError } from "../../src/model/errors.js";

const challenges: Array<{ name: string; header: string | undefined; want: AuthChallenge | undefined }> = [
  {
    name: "bearer_with_realm_service_and_scope",
    header: 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
    want: { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:samalba/my-app:pull,push" } },
  },
  {
    name: "bearer_error_param_kept",
    header: 'Bearer realm="http://r/token",service="s",scope="repository:a:pull",error="invalid_token"',
    want: { scheme: "bearer", params: { realm: "http://r/token", service: "s", scope: "repository:a:pull", error: "invalid_token" } },
  },
  { name: "basic_realm", header: 'Basic realm="sim-realm"', want: { scheme: "basic", params: { realm: "sim-realm" } } },
  { name: "scheme_case_ignored_and_unquoted_values", header: "BEARER realm=http://r/token, service=reg", want: { scheme: "bearer", params: { realm: "http://r/token", service: "reg" } } },
  { name: "escaped_quote_in_value", header: 'Basic realm="a \\"b\\" c"', want: { scheme: "basic", params: { realm: 'a "b" c' } } },
  { name: "absent_header", header: undefined, want: undefined },
  { name: "unknown_scheme", header: 'Negotiate abc', want: undefined },
];

for (const row of challenges) {
  test(`parseChallenge ${row.name}`, (t) => {
    t.deepEqual(parseChallenge(row.header), row.want);
  });
}

const tokens: Array<{ name: string; body: unknown; want: { token: string; expiresAt: number } | undefined }> = [
  { name: "token_with_expires_in_less_margin", body: { token: "t1", expires_in: 300 }, want: { token: "t1", expiresAt: 1_000 + 300_000 - 10_000 } },
  { name: "access_token_when_token_missing", body: { access_token: "t2", expires_in: 300 }, want: { token: "t2", expiresAt: 1_000 + 290_000 } },
  { name: "missing_expires_in_means_60_s", body: { token: "t3" }, want: { token: "t3", expiresAt: 1_000 + 50_000 } },
  { name: "short_lifetime_keeps_half", body: { token: "t4", expires_in: 4 }, want: { token: "t4", expiresAt: 1_000 + 2_000 } },
  { name: "no_token_is_nothing", body: { expires_in: 300 }, want: undefined },
  { name: "not_an_object_is_nothing", body: "token", want: undefined },
];

for (const row of tokens) {
  test(`readToken ${row.name}`, (t) => {
    t.deepEqual(readToken(row.body, 1_000), row.want);
  });
}

test("TokenCache: concurrent fetches for one key make one request; expired tokens are gone", async (t) => {
  let now = 0;
  let fetches = 0;
  const cache = new TokenCache(() => now);
  const fetch = async (): Promise<{ token: string; expiresAt: number }> => {
    fetches++;
    await Promise.resolve();
    return { token: `t${fetches}`, expiresAt: 100 };
  };
  t.deepEqual(await Promise.all([cache.fetch("k", fetch), cache.fetch("k", fetch)]), ["t1", "t1"]);
  t.is(cache.get("k"), "t1");
  now = 100;
  t.is(cache.get("k"), undefined);
  t.is(fetches, 1);
});

const refs: Array<{ name: string; ref: string; insecure?: string[]; want: Omit<RepositoryRef, "reference"> }> = [
  { name: "loopback_with_port_is_http", ref: "127.0.0.1:5000/team/web", want: { registry: "127.0.0.1:5000", baseURL: "http://127.0.0.1:5000", name: "team/web" } },
  { name: "localhost_is_http", ref: "localhost:5000/web", want: { registry: "localhost:5000", baseURL: "http://localhost:5000", name: "web" } },
  { name: "remote_host_is_https", ref: "ghcr.io/acme/api", want: { registry: "ghcr.io", baseURL: "https://ghcr.io", name: "acme/api" } },
  { name: "insecure_registry_is_http", ref: "registry.internal:5000/web", insecure: ["registry.internal:5000"], want: { registry: "registry.internal:5000", baseURL: "http://registry.internal:5000", name: "web" } },
  { name: "docker_hub_official_image", ref: "redis", want: { registry: "registry-1.docker.io", baseURL: "https://registry-1.docker.io", name: "library/redis" } },
  { name: "docker_hub_user_image", ref: "acme/web", want: { registry: "registry-1.docker.io", baseURL: "https://registry-1.docker.io", name: "acme/web" } },
];

for (const row of refs) {
  test(`parseRepository ${row.name}`, (t) => {
    t.deepEqual(parseRepository(row.ref, row.insecure), { reference: row.ref, ...row.want });
  });
}

for (const ref of ["127.0.0.1:5000/web:build-1", "web@sha256:00", "127.0.0.1:5000/"]) {
  test(`parseRepository refuses ${ref}`, (t) => {
    const err = t.throws(() => parseRepository(ref), { instanceOf: InvalidInputError });
    t.is(err?.context.field, "image.repository");
  });
}

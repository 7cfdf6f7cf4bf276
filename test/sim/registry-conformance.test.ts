// Replays every sample of ../shared/api-reference/registry against sim's
// registry: status, header names, body shape, and the exact values the README
// says to compare (error codes, fixed header values). Where distribution 2.8
// (the real registry CI runs, and sim's default) differs from a sample, the
// test checks what 2.8 sends and sim/registry/README.md says why; the samples
// taken from distribution v3's source are replayed against compat "3".
import test, { type ExecutionContext } from "ava";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { RegistryServer, type RegistryOptions } from "../../sim/registry/index.js";
import { listSamples, loadSample, missingHeaders, sameShape, type Json, type Sample } from "../helpers/samples.js";
import { sha256Digest } from "../helpers/docker-registry.js";

interface Running {
  registry: RegistryServer;
  server: SimServer;
  url: string;
}

const running: Running[] = [];

async function start(opts: Partial<RegistryOptions> = {}): Promise<Running> {
  const clock = new Clock(1);
  const registry = new RegistryServer({ clock, world: new World(() => clock.now()), random: seededRandom(3) }, { notifications: [], ...opts });
  const server = await serve({ name: "registry", router: registry.router });
  registry.setBaseUrl(server.url);
  const r = { registry, server, url: server.url };
  running.push(r);
  return r;
}

test.after.always(async () => {
  for (const r of running) {
    r.registry.close();
    await r.server.close();
  }
});

interface Replayed {
  status: number;
  headers: Record<string, string>;
  body: Json;
  raw: Buffer;
}

/**
 * Sends a sample's request with its placeholders replaced. Request headers
 * whose values are placeholders (`Host`, `Authorization`) are left out unless
 * `headers` gives them.
 */
async function replay(base: string, s: Sample, subst: Record<string, string>, headers: Record<string, string> = {}, body?: Buffer): Promise<Replayed> {
  const fill = (v: string): string => v.replace(/<[^<>]+>/g, (p) => subst[p] ?? p);
  const url = new URL(fill(s.path!), base);
  for (const [k, v] of Object.entries(s.query ?? {})) url.searchParams.set(k, fill(v));
  const sent: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.request_headers ?? {})) if (!/^<.*>$/.test(v) && !v.includes("<")) sent[k] = v;
  const res = await fetch(url, { method: s.method!, headers: { ...sent, ...headers }, ...(body ? { body: new Uint8Array(body) } : {}) });
  const raw = Buffer.from(await res.arrayBuffer());
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => (out[k] = v));
  const type = res.headers.get("content-type") ?? "";
  const parsed = type.includes("json") && raw.length > 0 && s.method !== "HEAD" ? (JSON.parse(raw.toString("utf8")) as Json) : null;
  return { status: res.status, headers: out, body: parsed, raw };
}

/** The checks every replay shares: status, header names (less documented exceptions), body shape. */
function conforms(t: ExecutionContext, s: Sample, r: Replayed, opts: { skipHeaders?: string[]; shapeOf?: Json } = {}): void {
  t.is<number | null, number | null>(r.status, s.status, `${s.file}: status`);
  const skip = new Set((opts.skipHeaders ?? []).map((h) => h.toLowerCase()));
  t.deepEqual(missingHeaders(s, r.headers).filter((h) => !skip.has(h.toLowerCase())), [], `${s.file}: headers`);
  const template = opts.shapeOf ?? s.response_body;
  if (template !== null) t.deepEqual(sameShape(template, r.body), [], `${s.file}: body shape`);
}

const errorShape = loadSample("registry/error-shape");

/**
 * A sample's error body as a template: `detail` is a placeholder there
 * ("<unstructured>"); per error-shape's notes it is optional and of any JSON
 * type (the reference server leaves it out for some errors), so the template
 * does not constrain it.
 */
function errorTemplate(body: Json): Json {
  const errors = (body as { errors: Record<string, Json>[] }).errors.map(({ detail: _detail, ...rest }) => rest);
  return { errors };
}

/** Each sample's replay. The coverage test below keeps this list complete. */
const replays: Record<string, (t: ExecutionContext) => Promise<void>> = {
  "base-version-check": async (t) => {
    const s = loadSample("registry/base-version-check");
    const reg = await start();
    const r = await replay(reg.url, s, {});
    conforms(t, s, r);
    t.is(r.headers["docker-distribution-api-version"], "registry/2.0");
  },

  "catalog-paginated": async (t) => {
    const s = loadSample("registry/catalog-paginated");
    const reg = await start();
    const names = Array.from({ length: 21 }, (_, i) => `team/svc-${String(i).padStart(2, "0")}`);
    for (const n of names) reg.registry.pushImage(n, "build-1");
    const r = await replay(reg.url, s, {});
    conforms(t, s, r);
    // The spec's example Link is absolute with n before last; the reference
    // server sends the request path with url.Values order (last, then n).
    t.is(r.headers.link, `</v2/_catalog?last=team%2Fsvc-19&n=20>; rel="next"`);
    t.deepEqual((r.body as { repositories: string[] }).repositories, names.slice(0, 20));
    const next = await fetch(new URL(r.headers.link!.slice(1, r.headers.link!.indexOf(">")), reg.url));
    t.deepEqual(await next.json(), { repositories: [names[20]] });
    t.is(next.headers.get("link"), null);
  },

  "error-shape": async (t) => {
    const reg = await start({ deleteEnabled: true });
    reg.registry.pushImage("team/app", "build-1");
    const errors = [
      ["GET", "/v2/nope/tags/list"],
      ["GET", "/v2/team/app/manifests/missing"],
      ["GET", `/v2/team/app/blobs/sha256:${"0".repeat(64)}`],
      ["GET", "/v2/team/app/blobs/sha256:abc"],
      ["PUT", "/v2/team/app/manifests/bad"],
      ["GET", "/v2/team/app/blobs/uploads/"],
      ["GET", "/v2/_catalog?n=5000"],
      ["DELETE", "/v2/team/app/manifests/build-1"],
    ] as const;
    for (const [method, path] of errors) {
      const res = await fetch(reg.url + path, { method });
      t.true(res.status >= 400 && res.status < 500, `${method} ${path}: ${res.status}`);
      t.deepEqual(missingHeaders(errorShape, Object.fromEntries(res.headers)), [], `${method} ${path}: headers`);
      const body = (await res.json()) as Json;
      t.deepEqual(sameShape(errorTemplate(errorShape.response_body), body), [], `${method} ${path}: shape`);
      for (const e of (body as { errors: { code: string }[] }).errors) t.regex(e.code, /^[A-Z_]+$/);
    }
  },

  "manifest-get-unknown-tag": async (t) => {
    const s = loadSample("registry/manifest-get-unknown-tag");
    const v3 = await start({ compat: "3" });
    v3.registry.pushImage("team/app", "build-1");
    const r = await replay(v3.url, s, { "<name>": "team/app", "<tag>": "build-9" });
    conforms(t, s, r);
    t.deepEqual(r.body, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: "unknown tag=build-9" }] });
    // distribution 2.8 marshals the error struct instead of its message.
    const v28 = await start();
    v28.registry.pushImage("team/app", "build-1");
    const old = await replay(v28.url, s, { "<name>": "team/app", "<tag>": "build-9" });
    t.is(old.status, 404);
    t.deepEqual(old.body, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "build-9" } }] });
  },

  "manifest-get": async (t) => {
    const s = loadSample("registry/manifest-get");
    const reg = await start();
    const digest = reg.registry.pushImage("team/app", "build-1", { format: "docker" });
    const r = await replay(reg.url, s, { "<name>": "team/app", "<reference>": "build-1" });
    conforms(t, s, r);
    t.is(r.headers["content-type"], s.response_headers!["Content-Type"]);
    t.is(r.headers["docker-content-digest"], digest);
    t.is(sha256Digest(r.raw), digest);
    t.is(r.headers.etag, `"${digest}"`);
  },

  "manifest-head": async (t) => {
    const s = loadSample("registry/manifest-head");
    const reg = await start();
    // Without Accept, 2.8 serves a Docker manifest only by digest (by tag it
    // would rewrite it to schema 1); the sample sends no Accept.
    const digest = reg.registry.pushImage("team/app", "build-1", { format: "docker" });
    const r = await replay(reg.url, s, { "<name>": "team/app", "<reference>": digest });
    conforms(t, s, r);
    t.is(r.raw.length, 0);
    t.is(r.headers["docker-content-digest"], digest);
    const get = await fetch(`${reg.url}/v2/team/app/manifests/${digest}`);
    t.is(Number(r.headers["content-length"]), Buffer.from(await get.arrayBuffer()).length);
  },

  "manifest-list-get": async (t) => {
    const s = loadSample("registry/manifest-list-get");
    const reg = await start();
    const digest = reg.registry.pushImage("team/app", "build-1", { format: "docker-list" });
    const r = await replay(reg.url, s, { "<name>": "team/app", "<reference>": "build-1" });
    conforms(t, s, r);
    t.is(r.headers["content-type"], s.response_headers!["Content-Type"]);
    t.is(r.headers["docker-content-digest"], digest);
    t.is(sha256Digest(r.raw), digest);
  },

  "manifest-put-blob-unknown": async (t) => {
    const s = loadSample("registry/manifest-put-blob-unknown");
    const reg = await start();
    const missing = [`sha256:${"1".repeat(64)}`, `sha256:${"2".repeat(64)}`];
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: missing[0], size: 7 },
        layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: missing[1], size: 9 }],
      }),
    );
    const r = await replay(reg.url, s, { "<name>": "team/app", "<reference>": "build-1" }, { "Content-Type": "application/vnd.docker.distribution.manifest.v2+json" }, manifest);
    // The spec prints BLOB_UNKNOWN with detail {digest}; the reference server
    // sends MANIFEST_BLOB_UNKNOWN with the digest as detail, one per blob.
    conforms(t, s, r, { shapeOf: errorTemplate(errorShape.response_body) });
    t.deepEqual(r.body, { errors: missing.map((d) => ({ code: "MANIFEST_BLOB_UNKNOWN", message: "blob unknown to registry", detail: d })) });
  },

  "tags-list-link-from-server": async (t) => {
    const s = loadSample("registry/tags-list-link-from-server");
    const v3 = await start({ compat: "3" });
    for (const tag of ["3.18", "3.19", "3.20", "latest"]) v3.registry.pushImage("library/alpine", tag);
    const r = await replay(v3.url, s, {});
    conforms(t, s, r);
    t.is(r.headers.link, `</v2/library/alpine/tags/list?last=3.19&n=2>; rel="next"`);
    t.deepEqual(r.body, { name: "library/alpine", tags: ["3.18", "3.19"] });
    // distribution 2.8 does not page tags: every tag, no Link.
    const v28 = await start();
    for (const tag of ["3.18", "3.19", "3.20", "latest"]) v28.registry.pushImage("library/alpine", tag);
    const old = await replay(v28.url, s, {});
    t.is(old.status, 200);
    t.is(old.headers.link, undefined);
    t.deepEqual([...(old.body as { tags: string[] }).tags].sort(), ["3.18", "3.19", "3.20", "latest"]);
  },

  "tags-list-name-unknown": async (t) => {
    const s = loadSample("registry/tags-list-name-unknown");
    const reg = await start();
    const r = await replay(reg.url, s, { "<name>": "team/nope" });
    conforms(t, s, r, { shapeOf: errorTemplate(s.response_body) });
    t.deepEqual(r.body, { errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry", detail: { name: "team/nope" } }] });
  },

  "tags-list-paginated": async (t) => {
    const s = loadSample("registry/tags-list-paginated");
    const v3 = await start({ compat: "3" });
    const tags = ["build-1", "build-2", "build-3", "build-4", "build-5"];
    for (const tag of tags) v3.registry.pushImage("team/app", tag);
    const r = await replay(v3.url, s, { "<name>": "team/app", "<integer>": "2", "<last tag of the previous page>": "build-1" });
    conforms(t, s, r);
    t.deepEqual(r.body, { name: "team/app", tags: ["build-2", "build-3"] });
    t.is(r.headers.link, `</v2/team/app/tags/list?last=build-3&n=2>; rel="next"`);
  },

  "tags-list": async (t) => {
    const s = loadSample("registry/tags-list");
    for (const compat of ["2.8", "3"] as const) {
      const reg = await start({ compat });
      for (const tag of ["build-10", "build-9", "latest"]) reg.registry.pushImage("team/app", tag);
      const r = await replay(reg.url, s, { "<name>": "team/app" });
      conforms(t, s, r);
      const got = (r.body as { tags: string[] }).tags;
      // Lexical order is the spec's; 2.8 lists in directory order.
      t.deepEqual(compat === "3" ? got : [...got].sort(), ["build-10", "build-9", "latest"], compat);
    }
  },

  "token-endpoint": async (t) => {
    const s = loadSample("registry/token-endpoint");
    const reg = await start({ auth: { type: "bearer", username: "ci", password: "secret" } });
    const basic = { Authorization: `Basic ${Buffer.from("ci:secret").toString("base64")}` };
    const r = await replay(reg.url, s, {}, basic);
    conforms(t, s, r);
    const body = r.body as { token: string; access_token: string; issued_at: string };
    t.is(body.access_token, body.token);
    t.false(Number.isNaN(Date.parse(body.issued_at)));
    const authed = await fetch(`${reg.url}/v2/samalba/my-app/tags/list`, { headers: { Authorization: `Bearer ${body.token}` } });
    t.is(authed.status, 404); // past auth: the repository does not exist
    t.is(((await authed.json()) as { errors: { code: string }[] }).errors[0]!.code, "NAME_UNKNOWN");
  },

  "unauthorized-challenge": async (t) => {
    const s = loadSample("registry/unauthorized-challenge");
    const reg = await start({ auth: { type: "bearer", username: "ci", password: "secret" } });
    const pushed = { ...s, method: "PUT", path: "/v2/samalba/my-app/manifests/latest" };
    const r = await replay(reg.url, pushed, {});
    // Strict-Transport-Security is Docker Hub's TLS front, not the registry's.
    conforms(t, s, r, { skipHeaders: ["Strict-Transport-Security"] });
    t.is(r.headers["www-authenticate"], `Bearer realm="${reg.url}/token",service="sim-registry",scope="repository:samalba/my-app:pull,push"`);
    const e = (r.body as { errors: { code: string; message: string }[] }).errors[0]!;
    t.is(e.code, "UNAUTHORIZED");
    t.is(e.message, "authentication required");
  },
};

for (const [name, run] of Object.entries(replays)) test(`sample ${name}`, run);

test("every registry sample is replayed", (t) => {
  t.deepEqual(Object.keys(replays).sort(), listSamples("registry"));
});

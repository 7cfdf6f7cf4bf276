// sim's registry and the real one (Debian's docker-registry, distribution
// 2.8) side by side: the same pushes over HTTP, then the same requests to
// both, and the answers must agree (status, the headers a client reads, the
// body). The events both send to a webhook must agree too. If the package is
// missing this file fails, by design: CI installs it.
import test, { type ExecutionContext } from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { RegistryServer, type RegistryAuth } from "../../sim/registry/index.js";
import { eventually } from "../helpers/eventually.js";
import { assertDockerRegistryInstalled, pushBlob, pushManifest, sha256Digest, startDockerRegistry, type DockerRegistry } from "../helpers/docker-registry.js";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const UA = { "User-Agent": "steward-ci/1" };

// htpasswd entry for ci / ci-password (bcrypt, cost 4 so checks stay fast).
const HTPASSWD = "ci:$2b$04$2jFZIZaa4MODhrwSIgIpj.9jHfOKw/swF29a5.1b.qb3pm1wGE3JS\n";
// A throwaway self-signed certificate: the token access controller needs a CA
// bundle to start; no token is ever verified against it here.
const TOKEN_CA = `-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUedW8HgMthvj54Wx0gGWbIpVe0JMwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2ltLXRva2VuLWlzc3VlcjAgFw0yNjExMjUxMzU5NTJaGA8y
MTI2MTEwMTEzNTk1MlowGzEZMBcGA1UEAwwQc2ltLXRva2VuLWlzc3VlcjBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABIekHIrdm5okRYFFNLdW2f8cGK3xqFE58NBE
PdlXhDzdgoH9WEL3yAVtkf9sWsO7RsLDc/bM6oTT/mgvknW/r8mjUzBRMB0GA1Ud
DgQWBBRyqVPBQUYogyuDM7tkmE55P7FtZjAfBgNVHSMEGDAWgBRyqVPBQUYogyuD
M7tkmE55P7FtZjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIHs4
QFtRecTEy6bIIgf9+FbilB/JSDpgLSHCglLgFaklAiBuqIVB+Qb7zveEvXERIcvI
FIfb+O4p7eWHvdEg9y540Q==
-----END CERTIFICATE-----
`;

interface Pair {
  name: string;
  real: DockerRegistry;
  simServer: SimServer;
  sim: RegistryServer;
}

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: { events: Record<string, unknown>[] };
}

const received: Received[] = [];
let hook: http.Server;
let hookUrl = "";
const cleanups: (() => Promise<void>)[] = [];

async function startPair(name: string, sim: { auth?: RegistryAuth }, real: Parameters<typeof startDockerRegistry>[0]): Promise<Pair> {
  const clock = new Clock(1);
  const registry = new RegistryServer(
    { clock, world: new World(() => clock.now()), random: seededRandom(7) },
    {
      deleteEnabled: true,
      ...(sim.auth ? { auth: sim.auth } : {}),
      notifications:
        name === "anonymous"
          ? [{ name: "steward", url: `${hookUrl}/sim`, headers: { Authorization: ["Bearer hook-secret"], "X-Multi": ["a", "b"] }, threshold: 5, backoffMs: 100 }]
          : [],
    },
  );
  const simServer = await serve({ name: "registry", router: registry.router });
  registry.setBaseUrl(simServer.url);
  cleanups.push(async () => {
    registry.close();
    await simServer.close();
  });
  const realRegistry = await startDockerRegistry({ deleteEnabled: true, ...real });
  cleanups.push(() => realRegistry.stop());
  return { name, real: realRegistry, simServer, sim: registry };
}

// --- content pushed to both --------------------------------------------------

const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const layer1 = Buffer.from("layer-one");
const layer2 = Buffer.from("layer-two");
const desc = (mediaType: string, b: Buffer): Record<string, unknown> => ({ mediaType, digest: sha256Digest(b), size: b.length });
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const ociManifest = (layer: Buffer): Buffer =>
  json({ schemaVersion: 2, mediaType: OCI, config: desc("application/vnd.oci.image.config.v1+json", config), layers: [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)] });
const oci1 = ociManifest(layer1);
const oci2 = ociManifest(layer2);
const docker = json({
  schemaVersion: 2,
  mediaType: DOCKER,
  config: desc("application/vnd.docker.container.image.v1+json", config),
  layers: [desc("application/vnd.docker.image.rootfs.diff.tar.gzip", layer1)],
});
const platform = (architecture: string): Record<string, unknown> => ({ platform: { architecture, os: "linux" } });
const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...desc(OCI, oci1), ...platform("amd64") }, { ...desc(DOCKER, docker), ...platform("arm64") }] });
const list = json({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...desc(DOCKER, docker), ...platform("arm64") }, { ...desc(OCI, oci1), ...platform("amd64") }] });
const listDocker = json({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...desc(DOCKER, docker), ...platform("amd64") }] });
const listArm = json({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...desc(DOCKER, docker), ...platform("arm64") }] });
const CATALOG_REPOS = ["zeta", "alpha", "mid/x/y", "team/b", "a-c", "a/b"];

async function seed(base: string): Promise<void> {
  const put = async (repo: string, ref: string, type: string, body: Buffer): Promise<void> => {
    const res = await pushManifest(base, repo, ref, type, body, UA);
    if (res.status !== 201) throw new Error(`seed ${repo}:${ref} answered ${res.status}: ${await res.text()}`);
  };
  for (const b of [config, layer1, layer2]) await pushBlob(base, "team/app", b, UA);
  for (let i = 1; i <= 5; i++) await put("team/app", `build-${i}`, OCI, i % 2 ? oci1 : oci2);
  await put("team/app", "latest", OCI, oci2);
  await put("team/app", "docker", DOCKER, docker);
  await put("team/app", "idx", OCI_INDEX, index);
  await put("team/app", "list", DOCKER_LIST, list);
  await put("team/app", "list-docker", DOCKER_LIST, listDocker);
  await put("team/app", "list-arm", DOCKER_LIST, listArm);
  for (const repo of CATALOG_REPOS) {
    for (const b of [config, layer1]) await pushBlob(base, repo, b, UA);
    await put(repo, "t", OCI, oci1);
  }
  for (const b of [config, layer1]) await pushBlob(base, "blobs/only", b, UA);
  for (const b of [config, layer1]) await pushBlob(base, "digest/only", b, UA);
  await put("digest/only", sha256Digest(oci1), OCI, oci1);
}

// --- observing answers ---------------------------------------------------------

const COMPARED_HEADERS = [
  "content-type",
  "content-length",
  "docker-content-digest",
  "docker-distribution-api-version",
  "etag",
  "link",
  "allow",
  "location",
  "range",
  "content-range",
  "accept-ranges",
  "cache-control",
  "www-authenticate",
  "docker-upload-uuid",
  "x-content-type-options",
];

interface Req {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Compare only status and error codes (a detail the sim does not reproduce; see the README). */
  codesOnly?: boolean;
}

interface Observed {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The un-normalized Location of an answer, for flows that follow it. */
const rawLocation = new WeakMap<Observed, string>();

async function observe(base: string, r: Req): Promise<Observed> {
  const res = await fetch(base + r.path, {
    method: r.method ?? "GET",
    headers: { ...UA, ...(r.headers ?? {}) },
    ...(r.body ? { body: new Uint8Array(r.body) } : {}),
    redirect: "manual",
  });
  const raw = Buffer.from(await res.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const name of COMPARED_HEADERS) {
    const v = res.headers.get(name);
    if (v !== null) headers[name] = normalize(v, base);
  }
  // sim's core HTTP layer always writes Content-Length, even on 204 and 304
  // where Go writes none (see sim/registry/README.md).
  if (res.status === 204 || res.status === 304) delete headers["content-length"];
  let body: unknown = raw.toString("utf8");
  if ((res.headers.get("content-type") ?? "").startsWith("application/json") && raw.length > 0) {
    const parsed = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
    // distribution 2.8 lists tags in directory order: compare them as a set.
    if (Array.isArray(parsed.tags)) parsed.tags = [...(parsed.tags as string[])].sort();
    if (r.codesOnly && Array.isArray(parsed.errors)) parsed.errors = (parsed.errors as { code: string }[]).map((e) => e.code);
    body = parsed;
    if (r.codesOnly) delete headers["content-length"];
  }
  const observed = { status: res.status, headers, body };
  const location = res.headers.get("location");
  if (location !== null) rawLocation.set(observed, location);
  return observed;
}

/** Each server names itself in URLs; upload ids and states are its own. */
function normalize(v: string, base: string): string {
  return v
    .replaceAll(base, "<base>")
    .replace(/\/blobs\/uploads\/[^?]+\?_state=.*$/, "/blobs/uploads/<uuid>?_state=<state>")
    .replace(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "<uuid>");
}

async function same(t: ExecutionContext, pair: Pair, r: Req, label = `${r.method ?? "GET"} ${r.path}`): Promise<Observed> {
  const real = await observe(pair.real.url, r);
  const sim = await observe(pair.simServer.url, r);
  t.deepEqual(sim, real, `${label} ${JSON.stringify(r.headers ?? {})}`);
  return real;
}

/** Runs a multi-step flow against each server and compares the step answers. */
async function sameFlow(t: ExecutionContext, pair: Pair, label: string, flow: (base: string) => Promise<Observed[]>): Promise<void> {
  const real = await flow(pair.real.url);
  const sim = await flow(pair.simServer.url);
  t.deepEqual(sim, real, label);
}

function uploadUrl(o: Observed): string {
  const location = rawLocation.get(o);
  if (!location) throw new Error(`no Location in ${JSON.stringify(o)}`);
  return location;
}

// --- lifecycle -------------------------------------------------------------------

let anon: Pair;

test.before(async () => {
  assertDockerRegistryInstalled();
  hook = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(data) as Received["body"] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  hook.unref(); // a failed start must not leave the worker waiting on it
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  anon = await startPair("anonymous", {}, {
    notifications: [
      { name: "steward", url: `${hookUrl}/real`, headers: { Authorization: ["Bearer hook-secret"], "X-Multi": ["a", "b"] }, timeout: "1s", threshold: 5, backoff: "100ms" },
    ],
  });
  await seed(anon.real.url);
  await seed(anon.simServer.url);
});

test.after.always(async () => {
  for (const cleanup of cleanups) await cleanup();
  await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
});

// --- the comparisons ---------------------------------------------------------------

test.serial("base, unknown paths and methods", async (t) => {
  for (const r of [
    { path: "/v2/" },
    { method: "HEAD", path: "/v2/" },
    { method: "POST", path: "/v2/" },
    { path: "/v2" },
    { path: "/v2/foo" },
    { path: "/foo" },
    { path: "/v2/team/App/tags/list" },
    { path: "/v2/a..b/tags/list" },
    { method: "POST", path: "/v2/team/app/tags/list" },
    { method: "OPTIONS", path: "/v2/team/app/tags/list" },
    { method: "POST", path: "/v2/_catalog" },
    { method: "POST", path: "/v2/team/app/manifests/build-1" },
    { method: "PATCH", path: `/v2/team/app/blobs/${sha256Digest(layer1)}` },
    { path: `/v2/team/app/manifests/${"a".repeat(129)}` },
    { path: `/v2/${"a".repeat(256)}/tags/list` },
  ]) {
    await same(t, anon, r);
  }
});

test.serial("catalog: order, n/last paging and Link", async (t) => {
  const n = CATALOG_REPOS.length + 2; // + team/app and digest/only
  for (const q of ["", "?n=2", "?n=2&last=mid/x/y", "?n=2&last=m", "?n=0", "?n=-1", "?n=abc", "?n=1000", "?n=1001", "?last=zeta&n=2", `?n=${n}`, `?n=${n - 1}`, "?last=a"]) {
    await same(t, anon, { path: `/v2/_catalog${q}` });
  }
});

test.serial("tags list: every tag, n and last ignored by 2.8, unknown names", async (t) => {
  for (const path of [
    "/v2/team/app/tags/list",
    "/v2/team/app/tags/list?n=2",
    "/v2/team/app/tags/list?n=2&last=build-1",
    "/v2/nope/tags/list",
    "/v2/blobs/only/tags/list",
    "/v2/digest/only/tags/list",
  ]) {
    await same(t, anon, { path });
  }
});

test.serial("manifest GET and HEAD: digests and content types for every Accept", async (t) => {
  const refs = ["build-1", "docker", "idx", "list", "list-docker", "list-arm", sha256Digest(oci1), sha256Digest(docker), sha256Digest(index), sha256Digest(list)];
  const accepts = ["", OCI, DOCKER, DOCKER_LIST, OCI_INDEX, `${OCI}, ${DOCKER}`, `${DOCKER};q=0.5, ${DOCKER_LIST}`, "*/*"];
  for (const ref of refs) {
    for (const accept of accepts) {
      for (const method of ["GET", "HEAD"]) {
        await same(t, anon, { method, path: `/v2/team/app/manifests/${ref}`, headers: accept ? { Accept: accept } : {} });
      }
    }
  }
  const known = sha256Digest(oci2);
  for (const r of [
    { path: "/v2/team/app/manifests/nope" },
    { path: `/v2/team/app/manifests/sha256:${"0".repeat(64)}` },
    { path: "/v2/nope/manifests/latest" },
    { path: `/v2/nope/manifests/${known}` },
    { path: "/v2/team/app/manifests/latest", headers: { Accept: OCI, "If-None-Match": `"${known}"` } },
    { path: "/v2/team/app/manifests/latest", headers: { Accept: OCI, "If-None-Match": known } },
    { path: "/v2/team/app/manifests/latest", headers: { Accept: OCI, "If-None-Match": '"sha256:other"' } },
    { path: `/v2/digest/only/manifests/${sha256Digest(oci1)}`, headers: { Accept: OCI } },
    // A layer's digest as a manifest: the real server fails to parse the blob (500).
    { path: `/v2/team/app/manifests/${sha256Digest(layer1)}`, headers: { Accept: OCI }, codesOnly: true },
  ]) {
    await same(t, anon, r);
  }
});

test.serial("blob GET and HEAD, ranges, unknown and invalid digests", async (t) => {
  const l1 = sha256Digest(layer1);
  for (const r of [
    { path: `/v2/team/app/blobs/${l1}` },
    { method: "HEAD", path: `/v2/team/app/blobs/${l1}` },
    { path: `/v2/zeta/blobs/${sha256Digest(layer2)}` },
    { method: "HEAD", path: `/v2/zeta/blobs/${sha256Digest(layer2)}` },
    { path: `/v2/team/app/blobs/${sha256Digest(oci1)}` },
    { path: `/v2/nope/blobs/${l1}` },
    { path: "/v2/team/app/blobs/sha256:abc" },
    { path: "/v2/team/app/blobs/foo" },
    { path: `/v2/team/app/blobs/${l1}`, headers: { Range: "bytes=0-3" } },
    { path: `/v2/team/app/blobs/${l1}`, headers: { Range: "bytes=5-" } },
    { path: `/v2/team/app/blobs/${l1}`, headers: { Range: "bytes=-3" } },
    { path: `/v2/team/app/blobs/${l1}`, headers: { "If-None-Match": `"${l1}"` } },
  ]) {
    await same(t, anon, r);
  }
});

test.serial("manifest PUT: verification and its errors", async (t) => {
  const missing = json({
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"1".repeat(64)}`, size: 3 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${"2".repeat(64)}`, size: 4 }],
  });
  const indexMissing = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI, digest: `sha256:${"3".repeat(64)}`, size: 5 }] });
  // An index entry may be a plain blob of the repository: 2.8's manifest
  // store falls back to blob links.
  const indexOfBlob = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI, digest: sha256Digest(layer1), size: layer1.length }] });
  const v1 = json({ schemaVersion: 1, mediaType: OCI, config: desc("application/vnd.oci.image.config.v1+json", config), layers: [] });
  const put = (path: string, type: string | undefined, body: Buffer, extra: Partial<Req> = {}): Req => ({
    method: "PUT",
    path,
    headers: type === undefined ? {} : { "Content-Type": type },
    body,
    ...extra,
  });
  for (const r of [
    put("/v2/team/app/manifests/x1", OCI, missing),
    put("/v2/brand/new/manifests/x1", OCI, missing),
    put("/v2/team/app/manifests/x2", OCI_INDEX, indexMissing),
    put("/v2/team/app/manifests/x11", OCI_INDEX, indexOfBlob),
    put("/v2/team/app/manifests/x3", undefined, oci1),
    put("/v2/team/app/manifests/x4", DOCKER, oci1),
    put("/v2/team/app/manifests/x5", "application/json", oci1),
    put("/v2/team/app/manifests/x6", DOCKER_LIST, oci1),
    put("/v2/team/app/manifests/x7", OCI_INDEX, oci1),
    put("/v2/team/app/manifests/x8", OCI, index),
    put("/v2/team/app/manifests/x9", OCI, v1),
    put(`/v2/team/app/manifests/sha256:${"1".repeat(64)}`, OCI, oci1),
    put("/v2/team/app/manifests/x10", OCI, Buffer.from("not json"), { codesOnly: true }),
    put("/v2/team/app/manifests/with-params", `${OCI}; charset=utf-8`, oci1),
    put(`/v2/team/app/manifests/${sha256Digest(oci1)}`, OCI, oci1),
    { path: "/v2/team/app/tags/list" },
  ]) {
    await same(t, anon, r);
  }
});

test.serial("blob uploads: chunks, digests, state, mounts, single POST", async (t) => {
  const content = Buffer.from("layer-bytes-3");
  const digest = sha256Digest(content);
  await sameFlow(t, anon, "chunked upload", async (base) => {
    const steps: Observed[] = [];
    steps.push(await observe(base, { method: "POST", path: "/v2/team/app/blobs/uploads/" }));
    steps.push(await observe(base, { path: rel(uploadUrl(steps[0]!)) }));
    const octet = { "Content-Type": "application/octet-stream" };
    steps.push(await observe(base, { method: "PATCH", path: rel(uploadUrl(steps[1]!)), headers: octet, body: content.subarray(0, 6) }));
    const stale = rel(uploadUrl(steps[1]!));
    steps.push(await observe(base, { method: "PATCH", path: rel(uploadUrl(steps[2]!)), headers: octet, body: content.subarray(6) }));
    steps.push(await observe(base, { method: "PATCH", path: stale, headers: octet, body: Buffer.from("x") }));
    steps.push(await observe(base, { method: "PUT", path: `${rel(uploadUrl(steps[3]!))}&digest=${digest}`, headers: octet }));
    steps.push(await observe(base, { method: "HEAD", path: `/v2/team/app/blobs/${digest}` }));
    return steps;
  });
  await sameFlow(t, anon, "final chunk in the PUT, wrong digest, missing digest, cancel", async (base) => {
    const steps: Observed[] = [];
    const octet = { "Content-Type": "application/octet-stream" };
    const start = await observe(base, { method: "POST", path: "/v2/team/app/blobs/uploads/" });
    steps.push(start);
    steps.push(await observe(base, { method: "PUT", path: rel(uploadUrl(start)), headers: octet, body: content }));
    steps.push(await observe(base, { method: "PUT", path: `${rel(uploadUrl(start))}&digest=foo`, headers: octet, body: content }));
    steps.push(await observe(base, { method: "PUT", path: `${rel(uploadUrl(start))}&digest=sha256:${"0".repeat(64)}`, headers: octet, body: content }));
    steps.push(await observe(base, { path: rel(uploadUrl(start)) }));
    const second = await observe(base, { method: "POST", path: "/v2/team/app/blobs/uploads/" });
    steps.push(await observe(base, { method: "DELETE", path: rel(uploadUrl(second)) }));
    steps.push(await observe(base, { path: rel(uploadUrl(second)) }));
    steps.push(await observe(base, { path: rel(uploadUrl(second)).split("?")[0]! }));
    const third = await observe(base, { method: "POST", path: "/v2/team/app/blobs/uploads/" });
    steps.push(await observe(base, { method: "PUT", path: `${rel(uploadUrl(third))}&digest=${digest}`, headers: octet, body: content }));
    return steps;
  });
  for (const r of [
    { method: "POST", path: `/v2/team/app/blobs/uploads/?digest=${sha256Digest(Buffer.from("single"))}`, headers: { "Content-Type": "application/octet-stream" }, body: Buffer.from("single") },
    { method: "HEAD", path: `/v2/team/app/blobs/${sha256Digest(Buffer.from("single"))}` },
    { method: "POST", path: `/v2/mounted/app/blobs/uploads/?mount=${sha256Digest(layer2)}&from=team/app` },
    { path: `/v2/mounted/app/blobs/${sha256Digest(layer2)}` },
    { method: "POST", path: `/v2/mounted/app/blobs/uploads/?mount=${sha256Digest(layer2)}&from=nope` },
    { path: "/v2/team/app/blobs/uploads/" },
    { method: "PUT", path: "/v2/team/app/blobs/uploads/" },
    { method: "POST", path: "/v2/team/app/blobs/uploads/0d2dd182-67af-4a7e-b239-e3dbaa9e7e58" },
  ]) {
    await same(t, anon, r);
  }
});

function rel(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

test.serial("deletes: by tag, by digest, then the tags list", async (t) => {
  for (const r of [
    { method: "DELETE", path: "/v2/team/app/manifests/docker" },
    { method: "DELETE", path: `/v2/team/app/manifests/sha256:${"0".repeat(64)}` },
    { method: "DELETE", path: `/v2/team/app/manifests/${sha256Digest(docker)}` },
    { path: "/v2/team/app/manifests/docker", headers: { Accept: DOCKER } },
    { path: `/v2/team/app/manifests/${sha256Digest(docker)}`, headers: { Accept: DOCKER } },
    { path: "/v2/team/app/tags/list" },
    { method: "DELETE", path: `/v2/zeta/manifests/${sha256Digest(oci1)}` },
    { path: "/v2/zeta/tags/list" },
    { path: "/v2/_catalog" },
    { method: "DELETE", path: `/v2/zeta/blobs/${sha256Digest(layer1)}` },
    { method: "DELETE", path: `/v2/zeta/blobs/${sha256Digest(layer1)}` },
    { path: `/v2/zeta/blobs/${sha256Digest(layer1)}` },
  ]) {
    await same(t, anon, r);
  }
});

test.serial("notifications: the same events, envelope and headers", async (t) => {
  // Wait for both queues to drain; if the counts never agree, the comparison
  // below shows how the event streams differ.
  await eventually(
    () => {
      const real = received.filter((r) => r.path === "/real").length;
      const sim = received.filter((r) => r.path === "/sim").length;
      return real > 0 && real === sim && anon.sim.pendingNotifications() === 0;
    },
    { timeoutMs: 5_000 },
  ).catch(() => undefined);
  const view = (path: string, base: string): unknown[] =>
    received
      .filter((r) => r.path === path)
      .map((r) => {
        t.is(r.body.events.length, 1);
        const e = r.body.events[0] as Record<string, Record<string, unknown>>;
        return {
          contentType: r.headers["content-type"],
          authorization: r.headers.authorization,
          multi: r.headers["x-multi"],
          keys: Object.keys(e),
          action: e.action,
          target: JSON.parse(JSON.stringify(e.target).replaceAll(base, "<base>")) as unknown,
          requestKeys: Object.keys(e.request!),
          method: e.request!.method,
          useragent: e.request!.useragent,
          actor: e.actor,
          sourceKeys: Object.keys(e.source!),
        };
      });
  t.deepEqual(view("/sim", anon.simServer.url), view("/real", anon.real.url));
});

test.serial("auth: basic (htpasswd) challenges", async (t) => {
  const pair = await startPair(
    "basic",
    { auth: { type: "basic", username: "ci", password: "ci-password", realm: "sim-realm" } },
    { files: { htpasswd: HTPASSWD }, extraConfig: (dir) => ({ auth: { htpasswd: { realm: "sim-realm", path: `${dir}/htpasswd` } } }) },
  );
  const good = { Authorization: `Basic ${Buffer.from("ci:ci-password").toString("base64")}` };
  const bad = { Authorization: `Basic ${Buffer.from("ci:wrong").toString("base64")}` };
  for (const r of [
    { path: "/v2/" },
    { path: "/v2/", headers: bad },
    { path: "/v2/", headers: good },
    { path: "/v2/team/app/tags/list" },
    { path: "/v2/team/app/tags/list", headers: good },
    { path: "/v2/_catalog" },
    { method: "PUT", path: "/v2/team/app/manifests/x" },
    { path: "/v2/nope/x" },
  ]) {
    await same(t, pair, r);
  }
});

test.serial("auth: bearer challenges name realm, service and scope", async (t) => {
  const pair = await startPair(
    "bearer",
    { auth: { type: "bearer", username: "ci", password: "ci-password", service: "sim-registry" } },
    {
      files: { "ca.pem": TOKEN_CA },
      extraConfig: (dir) => ({ auth: { token: { realm: "<realm>", service: "sim-registry", issuer: "sim", rootcertbundle: `${dir}/ca.pem` } } }),
    },
  );
  // The real server's realm is whatever its config says; sim's is its own
  // /token. The real server lists a scope's actions in Go map order (random).
  const realm = (o: Observed): Observed => {
    const challenge = o.headers["www-authenticate"];
    if (!challenge) return o;
    const normalized = challenge
      .replace("<base>/token", "<realm>")
      .replace(/scope="([^"]*)"/, (_m, scope: string) => `scope="${scope.split(" ").map((s) => s.replace(/[^:]+$/, (a) => a.split(",").sort().join(","))).join(" ")}"`);
    return { ...o, headers: { ...o.headers, "www-authenticate": normalized } };
  };
  for (const r of [
    { path: "/v2/" },
    { path: "/v2/team/app/tags/list" },
    { method: "PUT", path: "/v2/team/app/manifests/x" },
    { method: "DELETE", path: "/v2/team/app/manifests/x" },
    { path: "/v2/_catalog" },
    { path: "/v2/", headers: { Authorization: "Bearer garbage" } },
    { path: "/v2/team/app/tags/list", headers: { Authorization: "Bearer garbage" } },
  ]) {
    const real = realm(await observe(pair.real.url, r));
    const sim = realm(await observe(pair.simServer.url, r));
    t.deepEqual(sim, real, `${r.method ?? "GET"} ${r.path}`);
  }
});

// RegistryClient and the notification parser against the REAL registry
// (Debian's docker-registry, distribution 2.8) on loopback: content pushed
// over HTTP as a CI would, then read back as Steward reads it. Fails, by
// design, when the package is missing (CI installs it).
import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { RegistryClient, RegistryAuthError, RegistryNotFoundError } from "../../src/sources/registry.js";
import { hasSharedSecret, parseRegistryNotification } from "../../src/server/registry-hook.js";
import { pushBlob, pushManifest, sha256Digest, startDockerRegistry, type DockerRegistry } from "../helpers/docker-registry.js";
import { eventually } from "../helpers/eventually.js";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const SECRET = "Bearer hook-secret-4711";
// htpasswd entry for ci / ci-password (bcrypt, cost 4 so checks stay fast).
const HTPASSWD = "ci:$2b$04$2jFZIZaa4MODhrwSIgIpj.9jHfOKw/swF29a5.1b.qb3pm1wGE3JS\n";

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const layer = (n: number): Buffer => Buffer.from(`layer-${n}`);
const desc = (mediaType: string, b: Buffer): Record<string, unknown> => ({ mediaType, digest: sha256Digest(b), size: b.length });
const ociManifest = (n: number): Buffer =>
  json({ schemaVersion: 2, mediaType: OCI, config: desc("application/vnd.oci.image.config.v1+json", config), layers: [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer(n))] });
const dockerManifest = json({
  schemaVersion: 2,
  mediaType: DOCKER,
  config: desc("application/vnd.docker.container.image.v1+json", config),
  layers: [desc("application/vnd.docker.image.rootfs.diff.tar.gzip", layer(1))],
});
const index = json({
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  manifests: [
    { ...desc(OCI, ociManifest(1)), platform: { architecture: "amd64", os: "linux" } },
    { ...desc(DOCKER, dockerManifest), platform: { architecture: "arm64", os: "linux" } },
  ],
});
const list = json({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...desc(DOCKER, dockerManifest), platform: { architecture: "amd64", os: "linux" } }] });

interface Hooked {
  headers: http.IncomingHttpHeaders;
  body: string;
}
const hooked: Hooked[] = [];
let hook: http.Server;
let registry: DockerRegistry;
let repo = "";
const client = new RegistryClient({ http: { retry: { attempts: 1 } } });
const TAG_COUNT = 150;

async function put(name: string, ref: string, type: string, body: Buffer): Promise<void> {
  const res = await pushManifest(registry.url, name, ref, type, body);
  if (res.status !== 201) throw new Error(`push ${name}:${ref} answered ${res.status}: ${await res.text()}`);
}

test.before(async () => {
  hook = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      hooked.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/registry`;
  registry = await startDockerRegistry({
    notifications: [{ name: "steward", url: hookUrl, headers: { Authorization: [SECRET] }, timeout: "1s", threshold: 3, backoff: "100ms" }],
  });
  repo = `127.0.0.1:${registry.port}/team/web`;
  for (const b of [config, layer(1), layer(2)]) await pushBlob(registry.url, "team/web", b);
  for (let i = 1; i <= TAG_COUNT; i++) await put("team/web", `build-${i}`, OCI, ociManifest(1 + (i % 2)));
  await put("team/web", "docker", DOCKER, dockerManifest);
  await put("team/web", "idx", OCI_INDEX, index);
  await put("team/web", "list", DOCKER_LIST, list);
});

test.after.always(async () => {
  await registry?.stop();
  await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
});

test("listTags returns every tag 2.8 lists in one unpaged reply, sorted", async (t) => {
  const tags = await client.listTags(repo);
  t.is(tags.length, TAG_COUNT + 3);
  t.deepEqual(tags, [...tags].sort());
  t.true(tags.includes("build-150") && tags.includes("idx"));
});

const digestRows: Array<{ name: string; tag: string; body: () => Buffer; mediaType: string }> = [
  { name: "oci_manifest", tag: "build-7", body: () => ociManifest(2), mediaType: OCI },
  { name: "docker_v2_manifest", tag: "docker", body: () => dockerManifest, mediaType: DOCKER },
  { name: "oci_index_is_the_index_digest_not_a_platform", tag: "idx", body: () => index, mediaType: OCI_INDEX },
  { name: "docker_manifest_list_is_the_list_digest", tag: "list", body: () => list, mediaType: DOCKER_LIST },
];
for (const row of digestRows) {
  test(`resolveDigest ${row.name}: sha256 of the pushed bytes`, async (t) => {
    t.deepEqual(await client.resolveDigest(repo, row.tag), { digest: sha256Digest(row.body()), mediaType: row.mediaType });
  });
}

test("resolveDigest of an unknown tag names the tag and repository", async (t) => {
  const err = await t.throwsAsync(client.resolveDigest(repo, "build-999"), { instanceOf: RegistryNotFoundError });
  t.is(err?.code, "MANIFEST_UNKNOWN");
  t.is(err?.tag, "build-999");
  t.regex(err?.message ?? "", /^127\.0\.0\.1:\d+\/team\/web: no such tag build-999/);
});

test("listTags of an unknown repository says there is no such repository", async (t) => {
  const err = await t.throwsAsync(client.listTags(`127.0.0.1:${registry.port}/team/nope`), { instanceOf: RegistryNotFoundError });
  t.is(err?.code, "NAME_UNKNOWN");
  t.regex(err?.message ?? "", /no such repository team\/nope on 127\.0\.0\.1:\d+/);
});

test("resolveDigest in an unknown repository is a not-found error naming it", async (t) => {
  const err = await t.throwsAsync(client.resolveDigest(`127.0.0.1:${registry.port}/team/nope`, "build-1"), { instanceOf: RegistryNotFoundError });
  t.regex(err?.message ?? "", /team\/nope/);
});

test("a notification from the real registry parses to exactly the pushed tag and digest", async (t) => {
  const body = ociManifest(2);
  for (const b of [config, layer(2)]) await pushBlob(registry.url, "team/hooked", b);
  await put("team/hooked", "build-42", OCI, body);
  const digest = sha256Digest(body);
  const pushes = () =>
    hooked
      .filter((h) => hasSharedSecret(h.headers, "Authorization", SECRET))
      .flatMap((h) => parseRegistryNotification(h.body, h.headers["content-type"]))
      .filter((p) => p.repository === "team/hooked");
  await eventually(() => pushes().length > 0, { timeoutMs: 5_000 });
  t.deepEqual(pushes(), [{ repository: "team/hooked", tag: "build-42", digest, mediaType: OCI }]);
  // The same deliveries carried blob pushes and the other pushes too: the parser dropped them.
  t.true(hooked.some((h) => h.body.includes('"application/octet-stream"')));
  t.false(hooked.some((h) => hasSharedSecret(h.headers, "Authorization", "Bearer wrong")));
});

test("basic auth against the real registry (htpasswd): credentials sent after the challenge; wrong ones refused clearly", async (t) => {
  const locked = await startDockerRegistry({
    files: { htpasswd: HTPASSWD },
    extraConfig: (dir) => ({ auth: { htpasswd: { realm: "steward-test", path: `${dir}/htpasswd` } } }),
  });
  t.teardown(() => locked.stop());
  const auth = { Authorization: `Basic ${Buffer.from("ci:ci-password").toString("base64")}` };
  for (const b of [config, layer(1)]) await pushBlob(locked.url, "team/app", b, auth);
  const res = await pushManifest(locked.url, "team/app", "build-1", OCI, ociManifest(1), auth);
  t.is(res.status, 201);
  const repoRef = `127.0.0.1:${locked.port}/team/app`;
  const good = new RegistryClient({ credentials: () => ({ username: "ci", password: "ci-password" }), http: { retry: { attempts: 1 } } });
  t.deepEqual(await good.listTags(repoRef), ["build-1"]);
  t.is((await good.resolveDigest(repoRef, "build-1")).digest, sha256Digest(ociManifest(1)));
  const bad = new RegistryClient({ credentials: () => ({ username: "ci", password: "nope" }), http: { retry: { attempts: 1 } } });
  const err = await t.throwsAsync(bad.listTags(repoRef), { instanceOf: RegistryAuthError });
  t.regex(err?.message ?? "", /team\/app: registry 127\.0\.0\.1:\d+ refused the credentials/);
  const anon = new RegistryClient({ http: { retry: { attempts: 1 } } });
  const anonErr = await t.throwsAsync(anon.listTags(repoRef), { instanceOf: RegistryAuthError });
  t.regex(anonErr?.message ?? "", /requires credentials \(Basic\) and Steward has none/);
});

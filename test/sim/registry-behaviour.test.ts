// What a registry client sees from sim's registry: pushes, tag listing and
// paging, digests, Accept negotiation, uploads, webhook notifications, and
// the basic and bearer auth flows.
import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { EVENTS_MEDIA_TYPE, RegistryServer, type RegistryOptions } from "../../sim/registry/index.js";
import { eventually } from "../helpers/eventually.js";
import { pushBlob, pushManifest, sha256Digest } from "../helpers/docker-registry.js";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

interface Running {
  registry: RegistryServer;
  server: SimServer;
  url: string;
  clock: Clock;
}

const closers: (() => Promise<void>)[] = [];

async function start(opts: Partial<RegistryOptions> = {}, scale = 1): Promise<Running> {
  const clock = new Clock(scale);
  const registry = new RegistryServer({ clock, world: new World(() => clock.now()), random: seededRandom(11) }, { notifications: [], ...opts });
  const server = await serve({ name: "registry", router: registry.router });
  registry.setBaseUrl(server.url);
  closers.push(async () => {
    registry.close();
    clock.cancelAll();
    await server.close();
  });
  return { registry, server, url: server.url, clock };
}

interface Hook {
  url: string;
  requests: { headers: http.IncomingHttpHeaders; body: { events: Record<string, unknown>[] } }[];
  /** Answers each request with this status (default 200). */
  status: (n: number) => number;
  /** While set, requests wait for it before being answered. */
  gate?: Promise<void>;
}

async function startHook(status: (n: number) => number = () => 200): Promise<Hook> {
  const hook: Hook = { url: "", requests: [], status };
  const server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      hook.requests.push({ headers: req.headers, body: JSON.parse(data) as Hook["requests"][number]["body"] });
      const n = hook.requests.length;
      void (hook.gate ?? Promise.resolve()).then(() => res.writeHead(hook.status(n)).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/registry`;
  closers.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return hook;
}

test.after.always(async () => {
  for (const close of closers.reverse()) await close();
});

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

test("a pushed image shows up in the tags list and the catalog, names with slashes included", async (t) => {
  const reg = await start();
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.from("layer");
  await pushBlob(reg.url, "team/sub/app", config);
  await pushBlob(reg.url, "team/sub/app", layer);
  const manifest = json({ schemaVersion: 2, mediaType: OCI, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256Digest(config), size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256Digest(layer), size: layer.length }] });
  const res = await pushManifest(reg.url, "team/sub/app", "build-1", OCI, manifest);
  t.is(res.status, 201);
  t.is(res.headers.get("docker-content-digest"), sha256Digest(manifest));
  t.is(res.headers.get("location"), `${reg.url}/v2/team/sub/app/manifests/${sha256Digest(manifest)}`);
  t.deepEqual((await getJson(`${reg.url}/v2/team/sub/app/tags/list`)).body, { name: "team/sub/app", tags: ["build-1"] });
  t.deepEqual((await getJson(`${reg.url}/v2/_catalog`)).body, { repositories: ["team/sub/app"] });
});

test("2.8 lists every tag at once, unsorted, whatever n says", async (t) => {
  const reg = await start();
  const tags = Array.from({ length: 12 }, (_, i) => `build-${i + 1}`);
  for (const tag of tags) reg.registry.pushImage("team/app", tag);
  const r = await getJson(`${reg.url}/v2/team/app/tags/list?n=3`);
  t.is(r.headers.get("link"), null);
  const got = r.body.tags as string[];
  t.deepEqual([...got].sort(), [...tags].sort());
  t.notDeepEqual(got, [...tags].sort(), "a client must sort tags itself");
});

test("v3 pages tags with n and last, following Link to the end", async (t) => {
  const reg = await start({ compat: "3" });
  const tags = Array.from({ length: 12 }, (_, i) => `build-${i + 1}`);
  for (const tag of tags) reg.registry.pushImage("team/app", tag);
  const seen: string[] = [];
  const links: string[] = [];
  let next: string | null = "/v2/team/app/tags/list?n=5";
  while (next) {
    const r = await getJson(reg.url + next);
    t.is(r.status, 200);
    seen.push(...(r.body.tags as string[]));
    const link = r.headers.get("link");
    if (link) links.push(link);
    next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
  }
  t.deepEqual(seen, [...tags].sort());
  // Lexical order: build-1, build-10, build-11, build-12, build-2 | build-3 ...
  t.deepEqual(links, ['</v2/team/app/tags/list?last=build-2&n=5>; rel="next"', '</v2/team/app/tags/list?last=build-7&n=5>; rel="next"']);
  const zero = await getJson(`${reg.url}/v2/team/app/tags/list?n=0`);
  t.deepEqual(zero.body.tags, []);
  t.is(zero.headers.get("link"), null);
  const bad = await getJson(`${reg.url}/v2/team/app/tags/list?n=-1`);
  t.is(bad.status, 400);
  t.deepEqual(bad.body, { errors: [{ code: "PAGINATION_NUMBER_INVALID", message: "invalid number of results requested", detail: { n: -1 } }] });
});

test("HEAD's Docker-Content-Digest is the sha256 of GET's body, for every format", async (t) => {
  const reg = await start();
  const cases = [
    ["oci", OCI],
    ["docker", DOCKER],
    ["oci-index", OCI_INDEX],
    ["docker-list", DOCKER_LIST],
  ] as const;
  for (const [format, accept] of cases) {
    const pushed = reg.registry.pushImage("team/app", format, { format });
    const head = await fetch(`${reg.url}/v2/team/app/manifests/${format}`, { method: "HEAD", headers: { Accept: accept } });
    const get = await fetch(`${reg.url}/v2/team/app/manifests/${format}`, { headers: { Accept: accept } });
    const body = Buffer.from(await get.arrayBuffer());
    t.is(head.status, 200, format);
    t.is(head.headers.get("docker-content-digest"), sha256Digest(body), format);
    t.is(head.headers.get("docker-content-digest"), pushed, format);
    t.is(head.headers.get("content-type"), accept, format);
    t.is(Number(head.headers.get("content-length")), body.length, format);
  }
});

test("Accept decides what a GET may see", async (t) => {
  const reg = await start();
  const oci = reg.registry.pushImage("team/app", "oci");
  const list = reg.registry.pushImage("team/app", "multi", { format: "docker-list" });
  const notOci = await getJson(`${reg.url}/v2/team/app/manifests/oci`, { headers: { Accept: DOCKER } });
  t.is(notOci.status, 404);
  t.deepEqual(notOci.body, { errors: [{ code: "MANIFEST_UNKNOWN", message: "OCI manifest found, but accept header does not support OCI manifests" }] });
  const both = await fetch(`${reg.url}/v2/team/app/manifests/oci`, { headers: { Accept: `${DOCKER}, ${OCI};q=0.9` } });
  t.is(both.headers.get("docker-content-digest"), oci);

  // A list fetched by tag by a client that does not take lists: its linux/amd64 image.
  const amd64 = await fetch(`${reg.url}/v2/team/app/manifests/multi`, { headers: { Accept: DOCKER } });
  t.is(amd64.status, 200);
  t.is(amd64.headers.get("content-type"), DOCKER);
  const listBody = (await (await fetch(`${reg.url}/v2/team/app/manifests/${list}`)).json()) as { manifests: { digest: string; platform: { architecture: string } }[] };
  t.is(amd64.headers.get("docker-content-digest"), listBody.manifests.find((m) => m.platform.architecture === "amd64")!.digest);
  // By digest the list itself is served, whatever Accept says.
  const byDigest = await fetch(`${reg.url}/v2/team/app/manifests/${list}`, { headers: { Accept: DOCKER } });
  t.is(byDigest.headers.get("content-type"), DOCKER_LIST);
  // Docker schema 2 by tag without Accept: 2.8 would rewrite it to schema 1, and cannot.
  reg.registry.pushImage("team/app", "docker", { format: "docker" });
  const old = await getJson(`${reg.url}/v2/team/app/manifests/docker`);
  t.is(old.status, 400);
  t.is((old.body.errors as { code: string }[])[0]!.code, "MANIFEST_INVALID");
});

test("a manifest naming blobs the repository lacks is refused, one error per blob", async (t) => {
  const reg = await start();
  reg.registry.pushImage("team/other", "build-1"); // blobs in another repository do not count
  const other = (await (await fetch(`${reg.url}/v2/team/other/manifests/build-1`, { headers: { Accept: OCI } })).json()) as { config: { digest: string }; layers: { digest: string }[] };
  const manifest = json({ schemaVersion: 2, mediaType: OCI, config: { ...other.config, mediaType: "application/vnd.oci.image.config.v1+json", size: 1 }, layers: other.layers });
  const res = await pushManifest(reg.url, "team/app", "build-1", OCI, manifest);
  t.is(res.status, 400);
  const body = (await res.json()) as { errors: { code: string; detail: string }[] };
  t.deepEqual(body.errors.map((e) => [e.code, e.detail]), [
    ["MANIFEST_BLOB_UNKNOWN", other.config.digest],
    ["MANIFEST_BLOB_UNKNOWN", other.layers[0]!.digest],
  ]);
  // Mounting them from the other repository makes the push valid.
  for (const d of [other.config.digest, other.layers[0]!.digest]) {
    const m = await fetch(`${reg.url}/v2/team/app/blobs/uploads/?mount=${d}&from=team/other`, { method: "POST" });
    t.is(m.status, 201);
  }
  t.is((await pushManifest(reg.url, "team/app", "build-1", OCI, manifest)).status, 201);
});

test("chunked uploads follow the latest Location; a stale one is refused", async (t) => {
  const reg = await start();
  const start202 = await fetch(`${reg.url}/v2/team/app/blobs/uploads/`, { method: "POST" });
  t.is(start202.status, 202);
  t.is(start202.headers.get("range"), "0-0");
  const first = start202.headers.get("location")!;
  const octet = { "Content-Type": "application/octet-stream" };
  const p1 = await fetch(first, { method: "PATCH", headers: octet, body: "hello " });
  t.is(p1.status, 202);
  t.is(p1.headers.get("range"), "0-5");
  const stale = await getJson(first, { method: "PATCH", headers: octet, body: "again" });
  t.is(stale.status, 404);
  t.is((stale.body.errors as { code: string }[])[0]!.code, "BLOB_UPLOAD_INVALID");
  const done = await fetch(`${p1.headers.get("location")!}&digest=${sha256Digest(Buffer.from("hello world"))}`, { method: "PUT", headers: octet, body: "world" });
  t.is(done.status, 201);
  const blob = await fetch(`${reg.url}/v2/team/app/blobs/${sha256Digest(Buffer.from("hello world"))}`);
  t.is(await blob.text(), "hello world");
  // A single POST with ?digest= is not taken (as in distribution): a session opens instead.
  const single = await fetch(`${reg.url}/v2/team/app/blobs/uploads/?digest=${sha256Digest(Buffer.from("x"))}`, { method: "POST", headers: octet, body: "x" });
  t.is(single.status, 202);
});

test("deletes are off unless enabled, as in distribution", async (t) => {
  const off = await start();
  const digest = off.registry.pushImage("team/app", "build-1");
  const refused = await getJson(`${off.url}/v2/team/app/manifests/${digest}`, { method: "DELETE" });
  t.is(refused.status, 405);
  t.deepEqual(refused.body, { errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }] });
  const on = await start({ deleteEnabled: true });
  const d = on.registry.pushImage("team/app", "build-1");
  t.is((await fetch(`${on.url}/v2/team/app/manifests/${d}`, { method: "DELETE" })).status, 202);
  t.deepEqual((await getJson(`${on.url}/v2/team/app/tags/list`)).body, { name: "team/app", tags: null });
});

async function hookedRegistry(hook: Hook, extra: Partial<RegistryOptions["notifications"][number]> = {}, scale = 1): Promise<Running> {
  return start({ notifications: [{ name: "steward", url: hook.url, headers: { Authorization: "Bearer hook-token", "X-Multi": ["a", "b"] }, ...extra }] }, scale);
}

test("a push notifies the endpoint with distribution's envelope and the endpoint's headers", async (t) => {
  const hook = await startHook();
  const reg = await hookedRegistry(hook);
  const digest = reg.registry.pushImage("team/app", "build-7");
  await eventually(() => hook.requests.length === 3);
  for (const r of hook.requests) {
    t.is(r.headers["content-type"], EVENTS_MEDIA_TYPE);
    t.is(r.headers.authorization, "Bearer hook-token");
    t.is(r.headers["x-multi"], "a, b");
    t.is(r.body.events.length, 1);
  }
  const events = hook.requests.map((r) => r.body.events[0]!) as { action: string; target: Record<string, unknown>; request: Record<string, unknown>; actor: unknown; source: Record<string, unknown>; id: string; timestamp: string }[];
  t.deepEqual(events.map((e) => [e.action, e.target.mediaType]), [
    ["push", "application/octet-stream"],
    ["push", "application/octet-stream"],
    ["push", OCI],
  ]);
  const manifestEvent = events[2]!;
  const size = Buffer.from(await (await fetch(`${reg.url}/v2/team/app/manifests/build-7`, { headers: { Accept: OCI } })).arrayBuffer()).length;
  t.deepEqual(manifestEvent.target, {
    mediaType: OCI,
    size,
    digest,
    length: size,
    repository: "team/app",
    url: `${reg.url}/v2/team/app/manifests/${digest}`,
    tag: "build-7",
  });
  t.deepEqual(Object.keys(manifestEvent), ["id", "timestamp", "action", "target", "request", "actor", "source"]);
  t.deepEqual(Object.keys(manifestEvent.request), ["id", "addr", "host", "method", "useragent"]);
  t.is(manifestEvent.request.method, "PUT");
  t.is(manifestEvent.request.host, new URL(reg.url).host);
  t.deepEqual(manifestEvent.actor, {});
  t.deepEqual(Object.keys(manifestEvent.source), ["addr", "instanceID"]);
  t.regex(manifestEvent.source.addr as string, new RegExp(`:${new URL(reg.url).port}$`));
  t.false(Number.isNaN(Date.parse(manifestEvent.timestamp)));
  t.is(new Set(events.map((e) => e.id)).size, 3);
});

test("notifications never hold up the push that caused them", async (t) => {
  const hook = await startHook();
  let release!: () => void;
  hook.gate = new Promise<void>((resolve) => (release = resolve));
  const reg = await hookedRegistry(hook);
  const config = Buffer.from("{}");
  await pushBlob(reg.url, "team/app", config); // answered while the endpoint still holds the event
  await eventually(() => hook.requests.length === 1);
  t.is(reg.registry.pendingNotifications(), 1);
  release();
  await eventually(() => reg.registry.pendingNotifications() === 0);
  t.is(hook.requests.length, 1);
});

test("a failed delivery is retried, in order, backing off in sim time after the threshold", async (t) => {
  // The endpoint fails its first three requests. With threshold 2 the third
  // attempt waits backoffMs (60 sim s = 60 ms at scale 1000).
  const hook = await startHook((n) => (n <= 3 ? 500 : 200));
  const reg = await hookedRegistry(hook, { threshold: 2, backoffMs: 60_000 }, 1000);
  reg.registry.pushImage("team/app", "build-1");
  await eventually(() => reg.registry.pendingNotifications() === 0 && hook.requests.length === 6);
  const ids = hook.requests.map((r) => r.body.events[0]!.id as string);
  t.is(new Set(ids.slice(0, 4)).size, 1, "the first event is sent until it succeeds");
  t.is(new Set(ids).size, 3, "then the others, once each");
  const kinds = hook.requests.slice(3).map((r) => (r.body.events[0]!.target as { mediaType: string }).mediaType);
  t.deepEqual(kinds, ["application/octet-stream", "application/octet-stream", OCI]);
});

test("an endpoint that ignores pulls gets only pushes", async (t) => {
  const hook = await startHook();
  const reg = await hookedRegistry(hook, { ignore: { actions: ["pull"] } });
  reg.registry.pushImage("team/app", "build-1");
  await fetch(`${reg.url}/v2/team/app/manifests/build-1`, { headers: { Accept: OCI } });
  reg.registry.pushImage("team/app", "build-2");
  await eventually(() => reg.registry.pendingNotifications() === 0 && hook.requests.length === 6);
  t.true(hook.requests.every((r) => r.body.events[0]!.action === "push"));
});

test("basic auth: a challenge without credentials, the actor in events with them", async (t) => {
  const hook = await startHook();
  const reg = await start({
    auth: { type: "basic", username: "ci", password: "pw", realm: "steward" },
    notifications: [{ url: hook.url }],
  });
  const anon = await getJson(`${reg.url}/v2/team/app/tags/list`);
  t.is(anon.status, 401);
  t.is(anon.headers.get("www-authenticate"), 'Basic realm="steward"');
  t.deepEqual(anon.body, { errors: [{ code: "UNAUTHORIZED", message: "authentication required", detail: [{ Type: "repository", Class: "", Name: "team/app", Action: "pull" }] }] });
  const auth = { Authorization: `Basic ${Buffer.from("ci:pw").toString("base64")}` };
  await pushBlob(reg.url, "team/app", Buffer.from("{}"), auth);
  await eventually(() => hook.requests.length === 1);
  t.deepEqual(hook.requests[0]!.body.events[0]!.actor, { name: "ci" });
});

test("bearer auth: challenge, token from the realm, retry, scope and expiry", async (t) => {
  // At 100x the 300 s token lives 3 real seconds: room for the steps below on a loaded machine.
  const reg = await start({ auth: { type: "bearer", username: "ci", password: "pw", expiresInS: 300 } }, 100);
  reg.registry.pushImage("team/app", "build-1");
  const challenged = await fetch(`${reg.url}/v2/team/app/tags/list`);
  t.is(challenged.status, 401);
  const header = challenged.headers.get("www-authenticate")!;
  t.is(header, `Bearer realm="${reg.url}/token",service="sim-registry",scope="repository:team/app:pull"`);
  const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));

  const tokenUrl = `${params.realm}?service=${encodeURIComponent(params.service!)}&scope=${encodeURIComponent(params.scope!)}`;
  t.is((await fetch(tokenUrl)).status, 401, "the token endpoint wants credentials");
  const wrong = await fetch(tokenUrl, { headers: { Authorization: `Basic ${Buffer.from("ci:nope").toString("base64")}` } });
  t.is(wrong.status, 401);
  const issued = await getJson(tokenUrl, { headers: { Authorization: `Basic ${Buffer.from("ci:pw").toString("base64")}` } });
  t.is(issued.status, 200);
  t.deepEqual(Object.keys(issued.body).sort(), ["access_token", "expires_in", "issued_at", "token"]);
  t.is(issued.body.expires_in, 300);
  const bearer = { Authorization: `Bearer ${issued.body.token as string}` };

  const listed = await getJson(`${reg.url}/v2/team/app/tags/list`, { headers: bearer });
  t.is(listed.status, 200);
  t.deepEqual(listed.body.tags, ["build-1"]);

  const push = await fetch(`${reg.url}/v2/team/app/blobs/uploads/`, { method: "POST", headers: bearer });
  t.is(push.status, 401, "a pull token cannot push");
  t.is(push.headers.get("www-authenticate"), `Bearer realm="${reg.url}/token",service="sim-registry",scope="repository:team/app:pull,push",error="insufficient_scope"`);

  // 300 sim seconds pass in 3 s at scale 100; then the token is refused.
  await eventually(async () => (await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: bearer })).status === 401, { timeoutMs: 15_000, intervalMs: 100 });
  const expired = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: bearer });
  t.regex(expired.headers.get("www-authenticate")!, /,error="invalid_token"$/);
});

// KV version 2 as a user of the real node-vault client sees it.
import test from "ava";
import nodeVault from "node-vault";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { VaultServer } from "../../sim/vault/index.js";
import { eventually } from "../helpers/eventually.js";

/** Ten sim hours per real second, for delete_version_after. */
const FAST_SCALE = 36_000;

function start(scale: number): VaultServer {
  const clock = new Clock(scale);
  return new VaultServer({ clock, world: new World(() => clock.now()), random: seededRandom(3) }, { rootToken: "root" });
}

const vault = start(1);
const fast = start(FAST_SCALE);
let server: SimServer;
let fastServer: SimServer;

test.before(async () => {
  server = await serve({ name: "vault", router: vault.router });
  fastServer = await serve({ name: "vault-fast", router: fast.router });
});
test.after.always(async () => {
  await server.close();
  await fastServer.close();
});

function client(token = "root", url = server.url): ReturnType<typeof nodeVault> {
  return nodeVault({ apiVersion: "v1", endpoint: url, token, noCustomHTTPVerbs: true });
}

/** node-vault rejects with ApiResponseError; this returns its status and message. */
async function failure(p: Promise<unknown>): Promise<{ status: number; message: string; body: unknown }> {
  try {
    await p;
  } catch (err) {
    const e = err as { message: string; response?: { statusCode: number; body: unknown } };
    return { status: e.response?.statusCode ?? -1, message: e.message, body: e.response?.body };
  }
  throw new Error("expected the request to fail");
}

test("node-vault writes and reads a KV v2 secret", async (t) => {
  const v = client();
  const written = await v.write("secret/data/app/db", { data: { password: "s3cret", port: 5432 } });
  t.is(written.data.version, 1);
  t.is(written.data.deletion_time, "");
  const read = await v.read("secret/data/app/db");
  t.deepEqual(read.data.data, { password: "s3cret", port: 5432 });
  t.is(read.data.metadata.version, 1);
  t.is(read.mount_type, "kv");
  t.deepEqual(vault.getSecret("secret", "app/db"), { password: "s3cret", port: 5432 });
});

test("a missing secret is 404 with an empty errors list", async (t) => {
  const f = await failure(client().read("secret/data/nope"));
  t.is(f.status, 404);
  t.deepEqual(f.body, { errors: [] });
});

test("check-and-set: a stale cas is refused with Vault's text, the right one writes", async (t) => {
  const v = client();
  await v.write("secret/data/cas/a", { data: { n: 1 } });
  const stale = await failure(v.write("secret/data/cas/a", { options: { cas: 0 }, data: { n: 2 } }));
  t.is(stale.status, 400);
  t.is(stale.message, "check-and-set parameter did not match the current version");
  const ok = await v.write("secret/data/cas/a", { options: { cas: 1 }, data: { n: 2 } });
  t.is(ok.data.version, 2);
});

test("cas_required on the mount config makes cas mandatory", async (t) => {
  vault.mountKvV2("apps");
  const v = client();
  await v.write("apps/config", { cas_required: true, max_versions: 5 });
  const config = await v.read("apps/config");
  t.deepEqual(config.data, { cas_required: true, delete_version_after: "0s", max_versions: 5 });
  const missing = await failure(v.write("apps/data/x", { data: { a: "1" } }));
  t.is(missing.status, 400);
  t.is(missing.message, "check-and-set parameter required for this call");
  const ok = await v.write("apps/data/x", { options: { cas: 0 }, data: { a: "1" } });
  t.is(ok.data.version, 1);
});

test("PATCH applies a JSON merge patch and needs the merge-patch content type", async (t) => {
  const v = client();
  await v.write("secret/data/p", { data: { a: "1", b: "2", nested: { x: "1" } } });
  const patched = await v.update("secret/data/p", { data: { b: null, c: "3", nested: { y: "2" } } });
  t.is(patched.data.version, 2);
  const read = await v.read("secret/data/p");
  t.deepEqual(read.data.data, { a: "1", c: "3", nested: { x: "1", y: "2" } });

  const wrongType = await fetch(`${server.url}/v1/secret/data/p`, {
    method: "PATCH",
    headers: { "X-Vault-Token": "root", "Content-Type": "application/json" },
    body: JSON.stringify({ data: { a: "2" } }),
  });
  t.is(wrongType.status, 415);
  t.deepEqual(await wrongType.json(), {
    errors: ["PATCH requires Content-Type of application/merge-patch+json, provided application/json"],
  });
  const absent = await failure(v.update("secret/data/never-written", { data: { a: "1" } }));
  t.is(absent.status, 404);
});

test("versions: ?version= reads old ones; delete, undelete and destroy act per version", async (t) => {
  const v = client();
  for (const n of [1, 2, 3]) await v.write("secret/data/hist", { data: { n } });
  t.deepEqual((await v.read("secret/data/hist?version=1")).data.data, { n: 1 });

  await v.delete("secret/data/hist");
  const deleted = await failure(v.read("secret/data/hist"));
  t.is(deleted.status, 404);
  const body = deleted.body as { data: { data: null; metadata: { version: number; deletion_time: string } } };
  t.is(body.data.data, null);
  t.is(body.data.metadata.version, 3);
  t.not(body.data.metadata.deletion_time, "");

  await v.write("secret/undelete/hist", { versions: [3] });
  t.deepEqual((await v.read("secret/data/hist")).data.data, { n: 3 });

  await v.write("secret/destroy/hist", { versions: [1] });
  const destroyed = await failure(v.read("secret/data/hist?version=1"));
  t.is(destroyed.status, 404);
  t.is((destroyed.body as { data: { metadata: { destroyed: boolean } } }).data.metadata.destroyed, true);

  const noVersions = await failure(v.write("secret/delete/hist", { versions: [] }));
  t.is(noVersions.message, "no version number provided");
});

test("max_versions keeps a sliding window of versions", async (t) => {
  const v = client();
  await v.write("secret/metadata/window", { max_versions: 2 });
  for (const n of [1, 2, 3, 4]) await v.write("secret/data/window", { data: { n } });
  const meta = await v.read("secret/metadata/window");
  t.is(meta.data.current_version, 4);
  t.is(meta.data.oldest_version, 3);
  t.deepEqual(Object.keys(meta.data.versions), ["3", "4"]);
  t.is((await failure(v.read("secret/data/window?version=1"))).status, 404);
});

test("metadata: custom_metadata shows on data writes; list folders; delete removes all versions", async (t) => {
  const v = client();
  const custom = { owner: "team-a" };
  await v.write("secret/metadata/team/svc1", { custom_metadata: custom });
  const w = await v.write("secret/data/team/svc1", { options: { cas: 0 }, data: { k: "v" } });
  t.deepEqual(w.data.custom_metadata, custom);
  await v.write("secret/data/team/sub/svc2", { data: { k: "v" } });

  const listed = await v.list("secret/metadata/team");
  t.deepEqual(listed.data.keys, ["sub/", "svc1"]);
  t.is((await failure(v.list("secret/metadata/no-such-folder"))).status, 404);

  await v.delete("secret/metadata/team/svc1");
  t.is((await failure(v.read("secret/metadata/team/svc1"))).status, 404);
  t.is((await failure(v.read("secret/data/team/svc1"))).status, 404);
});

test("delete_version_after soft-deletes versions when sim time passes it", async (t) => {
  const v = client("root", fastServer.url);
  await v.write("secret/metadata/short-lived", { delete_version_after: "1h" });
  const w = await v.write("secret/data/short-lived", { data: { a: "1" } });
  t.not(w.data.deletion_time, "", "the future deletion time is announced at write");
  await eventually(async () => (await failure(v.read("secret/data/short-lived"))).status === 404, { timeoutMs: 4000 });
  const meta = await v.read("secret/metadata/short-lived");
  t.not(meta.data.versions["1"].deletion_time, "", "version 1 carries its deletion time once deleted");
});

test("malformed JSON is a 400 'error parsing JSON'", async (t) => {
  const res = await fetch(`${server.url}/v1/secret/data/x`, {
    method: "POST",
    headers: { "X-Vault-Token": "root" },
    body: "{not json",
  });
  t.is(res.status, 400);
  t.deepEqual(await res.json(), { errors: ["error parsing JSON"] });
});

test("a KV v1-style path on the v2 mount is a 404 with Vault's hint", async (t) => {
  const f = await failure(client().read("secret/app/db"));
  t.is(f.status, 404);
  const warnings = (f.body as { warnings: string[] }).warnings;
  t.regex(warnings[0] ?? "", /Invalid path for a versioned K\/V secrets engine.*'vault kv get'/);
});

test("writing without data is refused", async (t) => {
  const f = await failure(client().write("secret/data/empty", { options: {} }));
  t.is(f.status, 400);
  t.is(f.message, "no data provided");
});

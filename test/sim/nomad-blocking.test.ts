/**
 * Blocking queries (woken within 100 ms of a change to what they read, not
 * before, honouring `wait`) and ACLs.
 */
import test from "ava";
import { eventually } from "../helpers/eventually.js";
import { startNomadHarness } from "../../sim/nomad/harness.js";

type Obj = Record<string, unknown>;
let h: Awaited<ReturnType<typeof startNomadHarness>>;
let acl: Awaited<ReturnType<typeof startNomadHarness>>;

/** A job with no allocations: once evaluated it never changes by itself. */
function quiet(id: string, meta = "1"): Obj {
  return { ID: id, Meta: { rev: meta }, TaskGroups: [{ Name: "g", Count: 0, Tasks: [{ Name: "t", Driver: "docker", Config: { image: "x:1" } }] }] };
}

test.before(async () => {
  h = await startNomadHarness({ nodes: 1 });
  acl = await startNomadHarness({ nodes: 1, aclToken: "s3cret" });
  await h.ready();
  for (const id of ["watched", "other"]) await h.call("PUT", "/v1/jobs", { body: { Job: quiet(id) } });
  await eventually(async () => ((await h.call("GET", "/v1/job/watched")).body as Obj).Status === "dead");
  await eventually(async () => ((await h.call("GET", "/v1/job/other")).body as Obj).Status === "dead");
});
test.after.always(async () => {
  await h?.close();
  await acl?.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test.serial("a blocking read is woken within 100 ms of a change to its job, and not by changes elsewhere", async (t) => {
  const first = await h.call("GET", "/v1/job/watched");
  const index = Number(first.headers["x-nomad-index"]);
  t.like(first.headers, { "x-nomad-knownleader": "true", "x-nomad-lastcontact": "0" });
  let answered = 0;
  const pending = h.call("GET", `/v1/job/watched?index=${index}&wait=30s`).then((r) => {
    answered = Date.now();
    return r;
  });
  await sleep(150);
  t.is(answered, 0, "no change yet: still waiting");
  await h.call("PUT", "/v1/jobs", { body: { Job: quiet("other", "2") } });
  await sleep(150);
  t.is(answered, 0, "a change to another job does not answer it");
  await h.call("PUT", "/v1/jobs", { body: { Job: quiet("watched", "2") } });
  const changed = Date.now(); // the write is committed once its reply is back
  const r = await pending;
  t.true(answered - changed < 100, `answered ${answered - changed} ms after the change`);
  t.true(Number(r.headers["x-nomad-index"]) > index);
  t.is(((r.body as Obj).Meta as Obj).rev, "2");
});

test.serial("a blocking read without a change answers after `wait` (plus at most wait/16 of jitter) with the same index", async (t) => {
  await eventually(async () => ((await h.call("GET", "/v1/job/watched")).body as Obj).Status === "dead");
  const index = (await h.call("GET", "/v1/job/watched")).headers["x-nomad-index"] ?? "";
  const started = Date.now();
  const r = await h.call("GET", `/v1/job/watched?index=${index}&wait=300ms`);
  const took = Date.now() - started;
  t.is(r.status, 200);
  t.is(r.headers["x-nomad-index"], index);
  t.true(took >= 295 && took < 300 + 300 / 16 + 100, `took ${took} ms`);
});

test.serial("list queries block on their table: a new job wakes a /v1/jobs watcher", async (t) => {
  const index = Number((await h.call("GET", "/v1/jobs")).headers["x-nomad-index"]);
  const pending = h.call("GET", `/v1/jobs?index=${index}&wait=30s`);
  await sleep(50);
  await h.call("PUT", "/v1/jobs", { body: { Job: quiet("third") } });
  const r = await pending;
  t.true(Number(r.headers["x-nomad-index"]) > index);
  t.true((r.body as Obj[]).some((j) => j.ID === "third"));
});

test.serial("a client that goes away stops its blocking query", async (t) => {
  const index = (await h.call("GET", "/v1/job/watched")).headers["x-nomad-index"] ?? "";
  const ac = new AbortController();
  const pending = h.call("GET", `/v1/job/watched?index=${index}&wait=60s`, { signal: ac.signal }).catch(() => "aborted");
  await eventually(() => h.cluster.stats().waiters >= 1);
  ac.abort();
  t.is(await pending, "aborted");
  await eventually(() => h.cluster.stats().waiters === 0);
});

test.serial("the deployments list blocks on its table: a job without a deployment does not wake it, a new deployment does", async (t) => {
  const index = Number((await h.call("GET", "/v1/deployments")).headers["x-nomad-index"]);
  let answered = 0;
  const pending = h.call("GET", `/v1/deployments?index=${index}&wait=30s`).then((r) => {
    answered = Date.now();
    return r;
  });
  await h.call("PUT", "/v1/jobs", { body: { Job: quiet("no-deployment", "1") } });
  await sleep(150);
  t.is(answered, 0, "a job write that creates no deployment does not answer it");
  const service = { ID: "rolled", Update: { MaxParallel: 1 }, TaskGroups: [{ Name: "g", Count: 1, Tasks: [{ Name: "t", Driver: "docker", Config: { image: "x:1" }, Resources: { CPU: 10, MemoryMB: 10 } }] }] };
  await h.call("PUT", "/v1/jobs", { body: { Job: service } });
  const changed = Date.now();
  const r = await pending;
  t.true(answered - changed < 100, `answered ${answered - changed} ms after the register`);
  t.true(Number(r.headers["x-nomad-index"]) > index);
  t.like((r.body as Obj[]).find((d) => d.JobID === "rolled"), { JobVersion: 0, Status: "running" });
});

test("with ACLs on, requests need the token; status endpoints do not", async (t) => {
  for (const [method, path] of [["GET", "/v1/jobs"], ["GET", "/v1/job/x"], ["GET", "/v1/nodes"], ["PUT", "/v1/jobs"], ["POST", "/v1/jobs/parse"], ["GET", "/v1/deployments"]] as const) {
    const anon = await acl.call(method, path, { body: method === "GET" ? undefined : { Job: quiet("x") } });
    t.is(anon.status, 403, `${method} ${path}`);
    t.is(anon.text, "Permission denied");
    t.is(anon.headers["content-type"], "text/plain; charset=utf-8");
  }
  const wrong = await acl.call("GET", "/v1/jobs", { headers: { "X-Nomad-Token": "nope" } });
  t.is(wrong.status, 403);
  t.is(wrong.text, "ACL token not found");
  t.is((await acl.call("GET", "/v1/jobs", { headers: { "X-Nomad-Token": "s3cret" } })).status, 200);
  t.is((await acl.call("GET", "/v1/nodes", { headers: { Authorization: "Bearer s3cret" } })).status, 200);
  const reg = await acl.call("PUT", "/v1/jobs", { headers: { "X-Nomad-Token": "s3cret" }, body: { Job: quiet("x") } });
  t.is(reg.status, 200, reg.text);
  t.is((await acl.call("GET", "/v1/status/leader")).text, '"127.0.0.1:4647"');
  t.deepEqual((await acl.call("GET", "/v1/status/peers")).body, ["127.0.0.1:4647"]);
});

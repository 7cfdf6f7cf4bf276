import test from "ava";
import { EventEmitter } from "node:events";
import Consul from "consul";
import { startConsul, type ConsulHarness } from "../../sim/consul/loopback.js";

/**
 * Blocking queries as a watcher sees them: woken within 100 ms of a change
 * to what it reads and not before, never by writes elsewhere, and answered
 * with the same index once `wait` (plus Consul's up-to-wait/16 jitter) runs out.
 */

let h: ConsulHarness;
let consul: Consul;

test.before(async () => {
  h = await startConsul();
  consul = new Consul({ host: "127.0.0.1", port: h.server.port });
});

test.after.always(async () => {
  consul.destroy();
  await h.close();
});

interface Meta {
  index: number;
  at: number;
  status: number;
}

/** A kv.get through the client that also returns the reply's X-Consul-Index and when it arrived. */
async function kvGet(opts: { key: string; index?: number; wait?: string; recurse?: boolean }): Promise<Meta & { body: unknown }> {
  // The client hands back the raw response when its ctx asks for it (as its Watch does).
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
  const [res, body] = (await consul.kv.get({ ...opts, ctx } as never)) as unknown as [{ headers: Record<string, string>; statusCode: number }, unknown];
  return { index: Number(res.headers["x-consul-index"]), at: Date.now(), status: res.statusCode, body };
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test.serial("a watcher wakes within 100 ms of a change to its key, not before, and not for other keys", async (t) => {
  await consul.kv.set("watch/a", "1");
  const first = await kvGet({ key: "watch/a" });
  const pending = kvGet({ key: "watch/a", index: first.index, wait: "10s" });
  await delay(80);
  await consul.kv.set("watch/b", "other key");
  await consul.kv.set("other/x", "unrelated");
  await delay(80);
  const changedAt = Date.now();
  await consul.kv.set("watch/a", "2");
  const woke = await pending;
  t.true(woke.at >= changedAt, "answered only after its key changed");
  t.true(woke.at - changedAt < 100, `answered ${woke.at - changedAt} ms after the change`);
  t.true(woke.index > first.index);
  t.is((woke.body as { Value: string }).Value, "2");
  t.is(h.consul.waiting, 0, "no waiter left parked");
});

test.serial("a recurse watcher wakes for any key under its prefix, including deletes", async (t) => {
  await consul.kv.set("tree/x", "1");
  const first = await kvGet({ key: "tree/", recurse: true });
  const pending = kvGet({ key: "tree/", recurse: true, index: first.index, wait: "10s" });
  await delay(50);
  const changedAt = Date.now();
  await consul.kv.del("tree/x");
  const woke = await pending;
  t.true(woke.at - changedAt < 100);
  t.is(woke.status, 404, "nothing left under the prefix");
  t.true(woke.index > first.index, "the tombstone keeps the index moving forward");
});

test.serial("with no change the reply comes after wait, with the same index", async (t) => {
  await consul.kv.set("quiet/k", "v");
  const first = await kvGet({ key: "quiet/k" });
  const started = Date.now();
  const res = await kvGet({ key: "quiet/k", index: first.index, wait: "300ms" });
  const took = res.at - started;
  t.true(took >= 295, `returned after ${took} ms`);
  t.true(took < 300 + 300 / 16 + 150, `returned after ${took} ms: wait plus at most wait/16 jitter`);
  t.is(res.index, first.index);
});

test.serial("a watcher of an absent key sleeps through other writes and wakes when the key appears", async (t) => {
  const first = await kvGet({ key: "absent/k" });
  t.is(first.status, 404);
  t.true(first.index >= 1, "X-Consul-Index is never 0");
  const pending = kvGet({ key: "absent/k", index: first.index, wait: "10s" });
  await delay(50);
  await consul.kv.set("absent/other", "x");
  await delay(80);
  const createdAt = Date.now();
  await consul.kv.set("absent/k", "here");
  const woke = await pending;
  t.true(woke.at >= createdAt, "not woken by the write to another key");
  t.true(woke.at - createdAt < 100);
  t.is(woke.status, 200);
});

test.serial("an index that went backwards: reaping tombstones lowers a prefix's index, and the client must reset", async (t) => {
  await consul.kv.set("back/keep", "1");
  await consul.kv.set("back/a", "1");
  const created = (await kvGet({ key: "back/", recurse: true })).index;
  await consul.kv.del("back/a");
  const afterDelete = await kvGet({ key: "back/", recurse: true });
  t.true(afterDelete.index > created, "a delete moves the prefix's index forward (its tombstone)");
  t.true(h.consul.reapTombstones() >= 1);
  const afterReap = await kvGet({ key: "back/", recurse: true });
  t.true(afterReap.index < afterDelete.index, `index went from ${afterDelete.index} back to ${afterReap.index}`);
  // A server does not answer early for an index ahead of its own: the wait runs out.
  const started = Date.now();
  const stale = await kvGet({ key: "back/", recurse: true, index: afterDelete.index, wait: "100ms" });
  t.true(Date.now() - started >= 95);
  t.is(stale.index, afterReap.index);
});

test.serial("bad index and wait values, and stale with consistent, are 400s with Consul's texts", async (t) => {
  t.like(await h.call("GET", "/v1/kv/k", { query: { index: "-1" } }), { status: 400, text: "Invalid index" });
  t.like(await h.call("GET", "/v1/kv/k", { query: { wait: "10" } }), { status: 400, text: "Invalid wait time" });
  t.like(await h.call("GET", "/v1/catalog/nodes", { query: { stale: "", consistent: "" } }), {
    status: 400,
    text: "Cannot specify ?stale with ?consistent, conflicting semantics.",
  });
});

test.serial("agent services block on their content hash", async (t) => {
  const first = await h.call("GET", "/v1/agent/services");
  const hash = first.headers["x-consul-contenthash"] ?? "";
  const pending = h.call("GET", "/v1/agent/services", { query: { hash, wait: "10s" } });
  await delay(50);
  const changedAt = Date.now();
  await consul.agent.service.register({ name: "web", port: 80 });
  const woke = await pending;
  t.true(Date.now() - changedAt < 150);
  t.not(woke.headers["x-consul-contenthash"], hash);
  t.truthy((woke.json as Record<string, unknown>).web);
});

test.serial("every read endpoint blocks and reports its index", async (t) => {
  for (const path of ["/v1/catalog/nodes", "/v1/catalog/services", "/v1/health/state/any", "/v1/session/list", "/v1/health/node/x"]) {
    const first = await h.call("GET", path);
    const index = first.headers["x-consul-index"] ?? "";
    t.regex(index, /^[1-9]\d*$/, path);
    t.is(first.headers["x-consul-knownleader"], "true");
    t.is(first.headers["x-consul-lastcontact"], "0");
    const started = Date.now();
    const res = await h.call("GET", path, { query: { index, wait: "50ms" } });
    t.true(Date.now() - started >= 45, `${path} blocked`);
    t.is(res.headers["x-consul-index"], index);
  }
});

test.serial("the client's Watch sees each change of its key exactly once", async (t) => {
  const seen: unknown[] = [];
  const watch = consul.watch({ method: consul.kv.get.bind(consul.kv), options: { key: "watched/k", wait: "5s" } });
  watch.on("change", (data: { Value?: string } | undefined) => seen.push(data?.Value));
  try {
    await new Promise((r) => setTimeout(r, 60));
    await consul.kv.set("watched/other", "x");
    await consul.kv.set("watched/k", "1");
    await new Promise((r) => setTimeout(r, 60));
    await consul.kv.set("watched/k", "1"); // a no-op write: no new index, no event
    await consul.kv.set("watched/k", "2");
    const deadline = Date.now() + 2000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 60));
    t.deepEqual(seen, [undefined, "1", "2"]);
  } finally {
    watch.end();
  }
});

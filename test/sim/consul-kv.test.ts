import test from "ava";
import Consul from "consul";
import { startConsul, type ConsulHarness } from "../../sim/consul/loopback.js";
import { eventually } from "../helpers/eventually.js";

/**
 * KV and session behaviour as a user of the real `consul` client sees it:
 * check-and-set, session locks, lock-delay and TTL expiry. World timeouts
 * (TTL, lock-delay) run on a clock at 200x, so 15 sim seconds pass in 75 ms.
 */

const SCALE = 200;
let h: ConsulHarness;
let consul: Consul;

test.before(async () => {
  h = await startConsul({ scale: SCALE });
  consul = new Consul({ host: "127.0.0.1", port: h.server.port });
});

test.after.always(async () => {
  consul.destroy();
  await h.close();
});

interface KvItem {
  Key: string;
  Value: string | null;
  Session?: string;
  LockIndex: number;
  ModifyIndex: number;
  CreateIndex: number;
  Flags: number;
}

async function getKey(key: string): Promise<KvItem | undefined> {
  return (await consul.kv.get(key)) as KvItem | undefined;
}

/**
 * `kv.set` as a boolean. Consul answers the JSON literal `false` when a cas,
 * acquire or release fails; the `consul` client (papi) resolves that as
 * `undefined`, so callers must test for `=== true`.
 */
async function set(opts: { key: string; value: string; flags?: number; cas?: number; acquire?: string; release?: string }): Promise<boolean> {
  return (await consul.kv.set(opts)) === true;
}

test("kv set, get, keys and delete round-trip through the client", async (t) => {
  t.true(await consul.kv.set("app/config/a", "one"));
  t.true(await set({ key: "app/config/b", value: "two", flags: 42 }));
  t.true(await consul.kv.set("app/other", "three"));

  const a = await getKey("app/config/a");
  t.is(a?.Value, "one");
  t.is(a?.Flags, 0);
  t.is(a?.LockIndex, 0);
  t.is(a?.CreateIndex, a?.ModifyIndex);
  t.is((await getKey("app/config/b"))?.Flags, 42);

  t.deepEqual(await consul.kv.keys("app/"), ["app/config/a", "app/config/b", "app/other"]);
  t.deepEqual(await consul.kv.keys({ key: "app/", separator: "/" }), ["app/config/", "app/other"]);

  const all = (await consul.kv.get({ key: "app/config/", recurse: true })) as KvItem[];
  t.deepEqual(
    all.map((e) => [e.Key, e.Value]),
    [
      ["app/config/a", "one"],
      ["app/config/b", "two"],
    ],
  );

  t.true(await consul.kv.del("app/other"));
  t.is(await getKey("app/other"), undefined, "a deleted key reads as absent (404)");
  t.true(await consul.kv.del({ key: "app/config/", recurse: true }));
  t.deepEqual(await consul.kv.keys("app/").catch((e: { statusCode?: number }) => e.statusCode), 404, "an empty prefix is 404");
});

test("cas writes only over the index it read, and cas=0 only creates", async (t) => {
  t.true(await set({ key: "cas/k", value: "v1", cas: 0 }), "cas=0 creates a missing key");
  t.false(await set({ key: "cas/k", value: "again", cas: 0 }), "cas=0 never overwrites");
  const first = await getKey("cas/k");
  const index = first?.ModifyIndex ?? 0;

  t.true(await set({ key: "cas/k", value: "v2", cas: index }));
  t.false(await set({ key: "cas/k", value: "lost update", cas: index }), "a second writer with the old index loses");
  t.is((await getKey("cas/k"))?.Value, "v2");

  const now = (await getKey("cas/k"))?.ModifyIndex ?? 0;
  t.true(now > index);
  t.false((await consul.kv.del({ key: "cas/k", cas: index })) === true, "delete with a stale index fails");
  t.truthy(await getKey("cas/k"));
  t.true(await consul.kv.del({ key: "cas/k", cas: now }));
  t.is(await getKey("cas/k"), undefined);
  t.true(await consul.kv.del({ key: "cas/k", cas: now }), "cas delete of an absent key succeeds, as Consul's does");
});

test("a session lock: one holder, release on destroy, then lock-delay keeps others out", async (t) => {
  // 60 s, Consul's maximum lock-delay: 300 ms real at this scale, room enough to see it refuse.
  const a = await consul.session.create({ name: "leader-a", lockdelay: "60s" });
  const b = await consul.session.create({ name: "leader-b", lockdelay: "60s" });

  t.true(await set({ key: "lock/leader", value: "a", acquire: a.ID }));
  let held = await getKey("lock/leader");
  t.is(held?.Session, a.ID);
  t.is(held?.LockIndex, 1);
  t.true(await set({ key: "lock/leader", value: "a2", acquire: a.ID }), "the holder may re-acquire and update");
  t.is((await getKey("lock/leader"))?.LockIndex, 1, "re-acquiring keeps LockIndex");
  t.false(await set({ key: "lock/leader", value: "b", acquire: b.ID }), "another session cannot acquire");
  t.false(await set({ key: "lock/leader", value: "b", release: b.ID }), "nor release it");

  const destroyedAt = h.ctx.clock.now();
  await consul.session.destroy(a.ID);
  held = await getKey("lock/leader");
  t.is(held?.Session, undefined, "destroying the holder releases the lock");
  t.is(held?.Value, "a2", "release behaviour keeps the value");

  t.false(await set({ key: "lock/leader", value: "b", acquire: b.ID }), "lock-delay refuses a new holder at once");
  await eventually(() => set({ key: "lock/leader", value: "b", acquire: b.ID }), { timeoutMs: 3000 });
  t.true(h.ctx.clock.now() - destroyedAt >= 60_000, "not before the lock-delay ran out");
  held = await getKey("lock/leader");
  t.is(held?.Session, b.ID);
  t.is(held?.LockIndex, 2, "a new holder increments LockIndex");

  t.true(await set({ key: "lock/leader", value: "b", release: b.ID }));
  t.false(await set({ key: "lock/leader", value: "b", release: b.ID }), "releasing twice fails");
  t.true(await set({ key: "lock/leader", value: "b", acquire: b.ID }), "an explicit release sets no lock-delay");
});

test("an acquire with an unknown session is a server error, as Consul answers it", async (t) => {
  const err = await t.throwsAsync(consul.kv.set({ key: "lock/x", value: "", acquire: "00000000-0000-0000-0000-00000000dead" }));
  t.regex(err?.message ?? "", /invalid session "00000000-0000-0000-0000-00000000dead"/);
});

test("a session with a TTL expires at twice its TTL and releases its lock; renew keeps it", async (t) => {
  // Its own server at 20x: 2 x TTL is a full real second, so a loaded machine
  // cannot let the session expire between two calls of the setup.
  const slow = await startConsul({ scale: 20 });
  const c = new Consul({ host: "127.0.0.1", port: slow.server.port });
  t.teardown(async () => {
    c.destroy();
    await slow.close();
  });
  const created = slow.ctx.clock.now();
  const s = await c.session.create({ ttl: "10s", lockdelay: "0s" });
  const kept = await c.session.create({ ttl: "10s" });
  t.true((await c.kv.set({ key: "ttl/lock", value: "x", acquire: s.ID })) === true);
  t.is((await c.session.info(s.ID) as { TTL: string }).TTL, "10s");

  // Renew the second session every ~5 sim seconds until the first has expired.
  const renewer = setInterval(() => void c.session.renew(kept.ID), 5000 / 20);
  try {
    await eventually(async () => ((await c.kv.get("ttl/lock")) as KvItem | undefined)?.Session === undefined, { timeoutMs: 5000 });
  } finally {
    clearInterval(renewer);
  }
  t.true(slow.ctx.clock.now() - created >= 20_000, `released after ${slow.ctx.clock.now() - created} sim ms: a session outlives 2 x TTL, as Consul's leader timer keeps it`);
  const gone: unknown = await c.session.info(s.ID);
  t.is(gone, undefined, "the expired session is gone");
  t.truthy(await c.session.info(kept.ID), "a renewed session is kept");
  t.true((await c.kv.set({ key: "ttl/lock", value: "y", acquire: kept.ID })) === true, "lock-delay 0: free at once");
  const err = await t.throwsAsync(c.session.renew(s.ID));
  t.regex(err?.message ?? "", /not found/);
});

test("session create validates TTL, behavior and node as the server does", async (t) => {
  const tooShort = await t.throwsAsync(consul.session.create({ ttl: "5s" }));
  t.regex(tooShort?.message ?? "", /Invalid Session TTL '5000000000', must be between \[10s=24h0m0s\]/);
  const behavior = await t.throwsAsync(consul.session.create({ behavior: "explode" as unknown as "delete" }));
  t.regex(behavior?.message ?? "", /Invalid Behavior setting 'explode'/);
  const node = await t.throwsAsync(consul.session.create({ node: "no-such-node" }));
  t.regex(node?.message ?? "", /Missing node registration/);
});

test("a delete-behaviour session takes its keys with it", async (t) => {
  const s = await consul.session.create({ behavior: "delete", lockdelay: "0s" });
  t.true(await set({ key: "eph/worker-1", value: "here", acquire: s.ID }));
  await consul.session.destroy(s.ID);
  t.is(await getKey("eph/worker-1"), undefined);
});

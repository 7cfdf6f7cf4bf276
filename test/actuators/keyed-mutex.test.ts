import test from "ava";
import { KeyedMutex } from "../../src/actuators/keyed-mutex.js";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("one_holder_per_key_in_arrival_order", async (t) => {
  const m = new KeyedMutex();
  const order: string[] = [];
  const gate = deferred();
  const a = m.run("dir", async () => {
    order.push("a start");
    await gate.promise;
    order.push("a end");
  });
  const b = m.run("dir", async () => {
    order.push("b");
  });
  await Promise.resolve();
  t.true(m.isBusy("dir"));
  t.deepEqual(order, ["a start"]);
  gate.resolve();
  await Promise.all([a, b]);
  t.deepEqual(order, ["a start", "a end", "b"]);
  t.false(m.isBusy("dir"));
});

test("other_keys_do_not_wait", async (t) => {
  const m = new KeyedMutex();
  const gate = deferred();
  const a = m.run("one", () => gate.promise);
  t.is(await m.run("two", async () => "ran"), "ran");
  t.false(m.isBusy("two"));
  t.true(m.isBusy("one"));
  gate.resolve();
  await a;
});

test("a_failed_holder_releases_the_key", async (t) => {
  const m = new KeyedMutex();
  await t.throwsAsync(m.run("dir", async () => {
    throw new Error("apply failed");
  }), { message: "apply failed" });
  t.is(await m.run("dir", async () => 1), 1);
  t.false(m.isBusy("dir"));
});

// `npm test` (node --test): what CI runs before it builds the image.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { createServer } from "./server.js";

async function withServer(fn) {
  const server = createServer("build-7");
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.close();
  }
}

test("healthz answers ok", () =>
  withServer(async (url) => {
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  }));

test("the root says hello and names the build", () =>
  withServer(async (url) => {
    assert.deepEqual(await (await fetch(url)).json(), { hello: "world", version: "build-7" });
  }));

test("an unknown page is a 404", () =>
  withServer(async (url) => {
    assert.equal((await fetch(`${url}/nope`)).status, 404);
  }));

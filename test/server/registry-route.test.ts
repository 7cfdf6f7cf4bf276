import test from "ava";
import { planImage } from "../../sim/registry/seed.js";
import { createLogger } from "../../src/log.js";
import { createMetrics } from "../../src/metrics.js";
import { startServer, type StewardServer } from "../../src/server/http.js";
import type { ManifestPush } from "../../src/server/registry-hook.js";
import { eventually } from "../helpers/eventually.js";
import { pushBlob, pushManifest, startDockerRegistry } from "../helpers/docker-registry.js";

const SECRET = "registry-hook-secret";

async function server(secret: string | undefined, pushes: ManifestPush[]): Promise<StewardServer> {
  return startServer("127.0.0.1:0", {
    registry: createMetrics({ defaultMetrics: false }).registry,
    logger: createLogger({ level: "silent" }),
    healthy: () => true,
    ready: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    registryHook: {
      secret,
      onPushes: (p) => {
        pushes.push(...p);
        return p.map((x) => x.repository);
      },
    },
  });
}

// The envelope as the real docker-registry sends it, to the endpoint its config names, with the header it is told to add.
test("the_real_registry_notification_of_a_tagged_push_reaches_the_hook", async (t) => {
  const pushes: ManifestPush[] = [];
  const s = await server(SECRET, pushes);
  const reg = await startDockerRegistry({
    notifications: [{ name: "steward", url: `${s.url}/hooks/registry`, headers: { Authorization: [`Bearer ${SECRET}`] }, timeout: "2s", threshold: 3, backoff: "1s" }],
  });
  try {
    const plan = planImage("hello", "build-7", { format: "docker" }, new Date().toISOString());
    for (const b of plan.blobs) await pushBlob(reg.url, "hello", b);
    const m = plan.manifests[0]!;
    const res = await pushManifest(reg.url, "hello", "build-7", m.mediaType, m.bytes);
    t.is(res.status, 201);
    const digest = res.headers.get("docker-content-digest");
    await eventually(() => pushes.length > 0, { timeoutMs: 15_000 });
    t.deepEqual(pushes[0], { repository: "hello", tag: "build-7", digest: digest!, mediaType: m.mediaType });
  } finally {
    await reg.stop();
    await s.close();
  }
});

const ROWS: Array<{ name: string; secret: string | undefined; headers: Record<string, string>; body: string; status: number }> = [
  { name: "a_missing_secret_is_refused", secret: SECRET, headers: {}, body: '{"events":[]}', status: 401 },
  { name: "a_wrong_secret_is_refused", secret: SECRET, headers: { Authorization: "Bearer nope" }, body: '{"events":[]}', status: 401 },
  { name: "a_body_that_is_not_an_envelope_is_refused", secret: SECRET, headers: { Authorization: `Bearer ${SECRET}` }, body: '{"nope":1}', status: 400 },
  { name: "an_envelope_without_tagged_pushes_is_accepted_and_wakes_nothing", secret: SECRET, headers: { Authorization: `Bearer ${SECRET}` }, body: '{"events":[{"action":"pull","target":{}}]}', status: 202 },
  { name: "without_a_configured_secret_the_hook_is_off", secret: undefined, headers: { Authorization: `Bearer ${SECRET}` }, body: '{"events":[]}', status: 404 },
];

for (const row of ROWS) {
  test(row.name, async (t) => {
    const pushes: ManifestPush[] = [];
    const s = await server(row.secret, pushes);
    try {
      const res = await fetch(`${s.url}/hooks/registry`, {
        method: "POST",
        headers: { "Content-Type": "application/vnd.docker.distribution.events.v1+json", ...row.headers },
        body: row.body,
      });
      t.is(res.status, row.status, await res.text());
      t.deepEqual(pushes, []);
    } finally {
      await s.close();
    }
  });
}

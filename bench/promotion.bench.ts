/**
 * `npx tsx bench/promotion.bench.ts`: registry push → qa registration
 * latency of the promotion loop.
 *
 * The real docker-registry (Debian's package) holds the images; sim runs
 * Nomad and Consul; one Steward instance (sync + promotion loops wired as
 * the daemon wires them) leads. Each sample pushes a new build (blobs, then
 * the manifest under `build-<n>`) and times from the end of the manifest PUT
 * to the moment qa's Nomad has the job registered with `repo@<new digest>`
 * (a blocking query on the job, so the registration is seen when it lands).
 * Between samples the previous build is let through to prod, so qa is free.
 *
 * - notification: the registry's own notification (its `notifications`
 *   config) reaches `POST /hooks/registry` on Steward's HTTP server, which
 *   wakes the service's registry poll at once;
 * - polling: no notification; the registry is polled every --poll-ms.
 *
 * Flags: --reps=15 --poll-ms=2000 --no-write
 */
import { parseArgs } from "node:util";
import { createJobParser } from "../sim/nomad/parse/index.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { startServer, type StewardServer } from "../src/server/http.js";
import { promotionWorld, type PromotionFixture, type PromotionInstance } from "../test/helpers/promotion-world.js";
import { commitId, fmt, loadAverage, machine, progress, sleep, stats, table, writeResultsSection } from "./lib.js";

const { values: flags } = parseArgs({
  options: {
    reps: { type: "string", default: "15" },
    "poll-ms": { type: "string", default: "2000" },
    "no-write": { type: "boolean", default: false },
  },
});
const REPS = Number(flags.reps);
const POLL_MS = Number(flags["poll-ms"]);
const SECRET = "bench-registry-secret";

/** Waits until qa's job runs `image`, through blocking queries; resolves with performance.now() when seen. */
async function registeredAt(f: PromotionFixture, image: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let index = 0;
  while (performance.now() < deadline) {
    const r = await f.nomad.qa!.get(`/v1/job/hello`, { params: index ? { index, wait: "2s" } : {} });
    const seen = (r.data as { TaskGroups?: Array<{ Tasks?: Array<{ Config?: { image?: string } }> }> })?.TaskGroups?.[0]?.Tasks?.[0]?.Config?.image;
    if (seen === image) return performance.now();
    index = Number(r.headers["x-nomad-index"] ?? 0);
  }
  throw new Error(`qa did not register ${image} within ${timeoutMs} ms`);
}

async function untilPromoted(f: PromotionFixture, digest: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await f.records()).find((r) => r.digest === digest)?.status === "promoted") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${digest} was not promoted within 60 s`);
}

async function measure(mode: "notification" | "polling", parser: Awaited<ReturnType<typeof createJobParser>>): Promise<number[]> {
  let inst: PromotionInstance | undefined;

  // The hook server first: the registry's config names its URL.
  const server: StewardServer = await startServer("127.0.0.1:0", {
    registry: createMetrics({ defaultMetrics: false }).registry,
    logger: createLogger({ level: "silent" }),
    healthy: () => true,
    ready: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    registryHook: { secret: SECRET, onPushes: (p) => inst?.promotion.notify(p) ?? [] },
  });
  const f = await promotionWorld({
    parser,
    promotion: "promotion:\n  gates: {}",
    ...(mode === "notification" && {
      notifications: [{ name: "steward", url: `${server.url}/hooks/registry`, headers: { Authorization: [`Bearer ${SECRET}`] }, timeout: "2s", threshold: 5, backoff: "1s" }],
    }),
    loop: { pollIntervalMs: mode === "polling" ? POLL_MS : 10 * 60_000 },
  });
  const samples: number[] = [];
  try {
    inst = await f.instance();
    await inst.lead();
    for (let n = 1; n <= REPS + 1; n++) {
      // Polling: push at a random phase of the poll period, or every sample would land at the same point of it.
      if (mode === "polling") await sleep(Math.random() * POLL_MS);
      const push = f.push(n);
      const digest = await push;
      const pushedAt = performance.now();
      const at = await registeredAt(f, `${f.repository}@${digest}`, 30_000).catch((err: unknown) => {
        progress(JSON.stringify(inst?.promotion.status()));
        throw err;
      });
      // The first sample warms the parse cache and the connections; it is not counted.
      if (n > 1) samples.push(at - pushedAt);
      progress(`${mode} #${n}: ${fmt(at - pushedAt)} ms`);
      await untilPromoted(f, digest);
    }
  } finally {
    await f.close();
    await server.close();
  }
  return samples;
}

async function main(): Promise<void> {
  const parser = await createJobParser();
  try {
    const load = loadAverage();
    const notified = stats(await measure("notification", parser));
    const polled = stats(await measure("polling", parser));
    const rows = [
      ["notification (POST /hooks/registry)", String(notified.n), fmt(notified.p50), fmt(notified.p95), fmt(notified.max), notified.p50 < 500 ? "meets p50 < 500 ms" : "**misses** p50 < 500 ms"],
      [`polling every ${POLL_MS} ms`, String(polled.n), fmt(polled.p50), fmt(polled.p95), fmt(polled.max), `≈ interval/2 + processing; at the default 60 s interval expect ~30 s`],
    ];
    const report = [
      "### bench:promotion — registry push → qa registration",
      "",
      `commit \`${commitId()}\`, ${machine()}, load average ${load}; the real docker-registry, sim Nomad/Consul; one service, qa → prod, no gates; the first push of each mode is a warm-up and not counted.`,
      "",
      table(["trigger", "n", "p50 ms", "p95 ms", "max ms", "verdict"], rows),
    ].join("\n");
    process.stdout.write(`${report}\n`);
    if (!flags["no-write"]) {
      await writeResultsSection("promotion", report);
      progress("bench/RESULTS.md: promotion section written");
    }
  } finally {
    await parser.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:promotion failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

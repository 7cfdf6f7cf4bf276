/**
 * The sync loop's full pass over N unchanged jobs, alone: no sim, no git. The
 * caches are filled directly (one environment, N desired jobs running as
 * Steward registered them), the loop leads, and its first pass finds every
 * job in sync. Then, with `process.cpuUsage()` around each:
 *
 * - `resync()`: what the periodic resync does with a warm cache (no jobs-list
 *   watch here, so no list read): every key compared with its last clean
 *   pass's inputs and skipped;
 * - `wakeAll({ force: true })` until every key passed once: a real pass over
 *   every key (sync-now), the runner's whole path.
 *
 * Runs from the sources through tsx, or compiled (`npx tsc -p
 * tsconfig.build.json`, then `node --import tsx bench/idle-pass.bench.ts
 * --dist` loads Steward from dist/, as the daemon runs). Prints a table;
 * bench:sync measures the same pass in a full setup and writes RESULTS.md.
 *
 * Flags: `--jobs=10000`, `--reps=15`, `--dist`, `--profile=<file.cpuprofile>`
 * (one forced pass under the profiler).
 */
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { fmt, loadAverage, progress, stats, table } from "./lib.js";
import type * as LoopModule from "../src/reconciler/sync/loop.js";
import type * as ClientsModule from "../src/reconciler/sync/clients.js";
import type * as LogModule from "../src/log.js";
import type * as MetricsModule from "../src/metrics.js";
import type { DesiredState } from "../src/model/types.js";
import type { DesiredJob } from "../src/reconciler/sync/plan.js";
import type { NomadJobStub } from "../src/sources/nomad.js";

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const JOBS = Number(arg("jobs") ?? 10_000);
const REPS = Number(arg("reps") ?? 15);
const DIST = process.argv.includes("--dist");
const PROFILE = arg("profile");

const base = DIST ? "../dist" : "../src";
const { SyncLoop, MemorySyncStateStore } = (await import(`${base}/reconciler/sync/loop.js`)) as typeof LoopModule;
const { NomadClients, envTokens } = (await import(`${base}/reconciler/sync/clients.js`)) as typeof ClientsModule;
const { createLogger } = (await import(`${base}/log.js`)) as typeof LogModule;
const { createMetrics } = (await import(`${base}/metrics.js`)) as typeof MetricsModule;

const policy = { drift: "heal", adopt: false, prune: false, pruneGracePeriodMs: 300_000, maxPruneShare: 0.25 } as const;
const logger = createLogger({ level: "silent" });
const metrics = createMetrics({ defaultMetrics: false });
const store = new MemorySyncStateStore();
let passes = 0;
const loop = new SyncLoop({ clients: new NomadClients({ tokens: envTokens, logger, metrics }), store, logger, metrics, onStatus: () => passes++ });

// ---- caches: N jobs desired in qa, each running as Steward registered it ----
const desired = new Map<string, DesiredJob>();
const stubs = new Map<string, NomadJobStub>();
for (let i = 0; i < JOBS; i++) {
  const id = `svc-${i}`;
  const specHash = `hash-${i}`;
  desired.set(id, { service: id, spec: { ID: id, Name: id, Type: "service" }, specHash, policy: { ...policy }, scaledGroups: [] });
  stubs.set(id, {
    ID: id,
    Name: id,
    Type: "service",
    Status: "running",
    Stop: false,
    Version: 0,
    JobModifyIndex: 100 + i,
    ModifyIndex: 100 + i,
    Meta: { "steward.managed-by": "steward", "steward.spec-hash": specHash, "steward.revision": "rev-1", "steward.service": id },
  });
  store.records.set(`qa/${id}`, { jobModifyIndex: 100 + i, specHash });
}
const state = { revision: "rev-1", origin: "bench", environments: [{ name: "qa", nomad: { address: "http://127.0.0.1:9", region: "global", namespace: "default", token: { kind: "env", name: "NOMAD_TOKEN" } } }], syncDefaults: policy, services: [], pools: [] } as unknown as DesiredState;
loop.cache.revision = { state, jobs: new Map([["qa", desired]]) };
loop.cache.actual.set("qa", stubs);

async function untilPasses(n: number): Promise<void> {
  while (passes < n) await new Promise((r) => setImmediate(r));
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const loadBefore = loadAverage();
progress(`${JOBS} jobs (${DIST ? "compiled, dist/" : "tsx, src/"}): first pass`);
await loop.lead();
await untilPasses(JOBS);

const resync: number[] = [];
const forced: number[] = [];
const forcedWall: number[] = [];
for (let i = 0; i < REPS; i++) {
  let c = process.cpuUsage();
  const r = await loop.resync();
  resync.push(cpuMs(process.cpuUsage(c)));
  if (r?.queued !== 0) throw new Error(`resync queued ${r?.queued} keys; expected every key skipped`);
  const start = passes;
  c = process.cpuUsage();
  const t = performance.now();
  loop.wakeAll({ force: true });
  await untilPasses(start + JOBS);
  forced.push(cpuMs(process.cpuUsage(c)));
  forcedWall.push(performance.now() - t);
}
if (PROFILE) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const start = passes;
  loop.wakeAll({ force: true });
  await untilPasses(start + JOBS);
  const { profile } = await session.post("Profiler.stop");
  await writeFile(PROFILE, JSON.stringify(profile));
  session.disconnect();
}
await loop.stop();

const r = stats(resync);
const f = stats(forced);
const fw = stats(forcedWall);
const perKey = (ms: number): string => `${fmt((ms * 1000) / JOBS, 2)} µs/key`;
console.log(
  table(
    ["pass over every key (CPU ms)", "p50", "p95", "min", "n", "per key (p50)"],
    [
      ["resync(): every key compared and skipped", fmt(r.p50, 1), fmt(r.p95, 1), fmt(r.min, 1), String(r.n), perKey(r.p50)],
      ["wakeAll({ force: true }): a real pass per key (runner, observe, plan, status, metrics)", fmt(f.p50, 1), fmt(f.p95, 1), fmt(f.min, 1), String(f.n), perKey(f.p50)],
      ["  same, wall ms", fmt(fw.p50, 1), fmt(fw.p95, 1), fmt(fw.min, 1), String(fw.n), ""],
    ],
  ),
);
console.log(`\n${JOBS} jobs, ${DIST ? "compiled (dist/)" : "tsx (src/)"}, Node ${process.version}; load average before: ${loadBefore}; after: ${loadAverage()}`);

/**
 * `npm run bench:daemon`: the real daemon (`steward run --config FILE`, its
 * own process, nothing else in it) against sim (another process) with N
 * services in a git repository (default 10,000), all registered and in sync.
 * Measures its start (to ready, to every job in sync), its memory while idle
 * (RSS from /proc, heap from its own /metrics) and its peak RSS, Consul and
 * Nomad requests per idle minute, and commit → registered through a signed
 * `POST /hooks/git`. Refreshes the `daemon` section of bench/RESULTS.md.
 *
 * The daemon runs as production runs it: compiled JavaScript (`npm run
 * build:server`, done here first), unless `--runtime=tsx`. Also recorded:
 * the longest event-loop stall per phase (the daemon's own
 * `nodejs_eventloop_lag_max_seconds`, the max of perf_hooks'
 * monitorEventLoopDelay since the previous scrape) and leadership lost.
 *
 * `--heap-snapshot=FILE` also writes a V8 heap snapshot of the idle daemon
 * (after the idle window, before the webhooks; `node --heapsnapshot-signal`),
 * for `bench/heap-owners.ts`. The daemon is started as production starts
 * it (deploy/nomad/steward.nomad.hcl): `NODE_OPTIONS` DAEMON_NODE_OPTIONS
 * (`--node-options` replaces them) and glibc's DAEMON_MALLOC_ENV
 * (`--no-malloc-env` leaves glibc's defaults).
 *
 * Flags: --size=10000 --hook-reps=3 --idle-s=30 --runtime=dist|tsx
 *        --node-options="..." --no-malloc-env --heap-snapshot=FILE --no-write
 */
import { execFileSync } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { GitSource } from "../src/sources/git.js";
import { hubSignature } from "../src/sources/git-webhook.js";
import { SyncLoop, MemorySyncStateStore } from "../src/reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../src/reconciler/sync/clients.js";
import { createLogger } from "../src/log.js";
import { DAEMON_MALLOC_ENV, DAEMON_NODE_OPTIONS, WATCH_BLOCKING_WAIT_MS } from "../src/config/defaults.js";
import { commitRev, createDesiredRepo, serviceName } from "./desired-tree.js";
import { startSimProcess, untilSimQuiet } from "./sim-process.js";
import { REPO_ROOT, commitId, fmt, loadAverage, machine, mapLimit, progress, request, sleep, stats, table, writeResultsSection } from "./lib.js";

const { values: flags } = parseArgs({
  options: {
    size: { type: "string", default: "10000" },
    "hook-reps": { type: "string", default: "3" },
    "idle-s": { type: "string", default: "30" },
    runtime: { type: "string", default: "dist" },
    "node-options": { type: "string", default: DAEMON_NODE_OPTIONS },
    // Node 20's parseArgs has no negated booleans: the flag is named as it is typed.
    "no-malloc-env": { type: "boolean", default: false },
    "heap-snapshot": { type: "string" },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(flags.size);
const HOOK_REPS = Number(flags["hook-reps"]);
const IDLE_S = Number(flags["idle-s"]);
const SECRET = "bench-webhook-secret";
const MEMORY_TARGET_MB = 200;
const RUNTIME = flags.runtime === "tsx" ? "tsx" : "dist";
/** The daemon's command line after `node`. */
const DAEMON_ARGS = RUNTIME === "tsx" ? ["--import", "tsx", "src/cli/main.ts"] : ["dist/cli/main.js"];
/** V8 flags the daemon runs with: production's (deploy/nomad/steward.nomad.hcl) unless `--node-options` says otherwise. */
const NODE_OPTIONS = flags["node-options"].split(/\s+/).filter((f) => f !== "");
/** glibc malloc settings the daemon runs with: production's, unless `--no-malloc-env`. */
const MALLOC_ENV = flags["no-malloc-env"] ? {} : DAEMON_MALLOC_ENV;
const HEAP_SNAPSHOT = flags["heap-snapshot"] ? path.resolve(flags["heap-snapshot"]) : undefined;
/** Longest event-loop stall that still leaves the leader's renewals on time (renewals come every TTL/3 = 5 s; the step-down margin is 3 s). */
const STALL_LIMIT_MS = 1_000;
const now = (): number => performance.timeOrigin + performance.now();

if (RUNTIME === "dist") {
  progress("compiling the daemon (npm run build:server)");
  execFileSync(process.execPath, [path.join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: REPO_ROOT, stdio: "inherit" });
}
const startedAt = new Date();
const loadBefore = loadAverage();
progress(`sim process; git repository with ${N} services`);
// Time scale 1: Consul session TTLs and lock delays run on sim time, and the daemon keeps its real-time defaults.
const sim = await startSimProcess({ nodes: Math.max(10, Math.ceil(N / 50)), timeScale: 1 });
const nomad = sim.urls.nomad.qa ?? "";
const repo = await createDesiredRepo(N, nomad);
const work = await mkdtemp(path.join(tmpdir(), "steward-bench-daemon-"));
let daemonPid = 0;
// A crash of the bench must not leave the daemon running.
process.once("exit", () => {
  if (daemonPid) {
    try {
      process.kill(daemonPid, "SIGTERM");
    } catch {
      // already gone
    }
  }
});
try {
  // ---- register every job once, from a throwaway SyncLoop's rendered specs ----
  progress("bootstrap: rendering the tree and registering every job (not measured)");
  const boot = new SyncLoop({ clients: new NomadClients({ tokens: envTokens }), store: new MemorySyncStateStore(), logger: createLogger({ level: "silent" }) });
  const verdict = await boot.acceptSnapshot(await new GitSource({ url: repo.dir, cacheDir: path.join(work, "boot-git") }).snapshot());
  if (verdict !== "accepted") throw new Error(`bootstrap: the tree was ${verdict}`);
  await mapLimit([...(boot.cache.revision?.jobs.get("qa")?.values() ?? [])], 8, async (d) => {
    const r = await request("PUT", `${nomad}/v1/jobs`, { Job: d.spec });
    if (r.status !== 200) throw new Error(`bootstrap register: ${r.status}`);
  });
  await boot.stop();
  await untilSimQuiet(sim, 1_000);

  // ---- the daemon ----
  const configFile = path.join(work, "steward.yaml");
  await writeFile(
    configFile,
    [
      "source:",
      `  git: { url: ${JSON.stringify(repo.dir)}, branch: main, subdir: desired-state }`,
      `consul: { address: ${JSON.stringify(sim.urls.consul)} }`,
      "http: { listen: 127.0.0.1:0 }",
      "webhookSecret: { env: STEWARD_WEBHOOK_SECRET }",
      "instanceId: bench-steward",
      `dataDir: ${JSON.stringify(path.join(work, "data"))}`,
      "",
    ].join("\n"),
  );
  const logFile = path.join(work, "steward.log");
  const logStream = createWriteStream(logFile);
  progress(`starting the daemon (logs: ${logFile})`);
  await sim.clearLog();
  const t0 = performance.now();
  const snapshotArgs = HEAP_SNAPSHOT ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${path.join(work, "diag")}`] : [];
  const child = spawn(process.execPath, [...NODE_OPTIONS, ...snapshotArgs, ...DAEMON_ARGS, "run", "--config", configFile], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...MALLOC_ENV, STEWARD_WEBHOOK_SECRET: SECRET },
    stdio: ["ignore", "pipe", "pipe"],
  });
  daemonPid = child.pid ?? 0;
  child.stdout.pipe(logStream);
  child.stderr.pipe(logStream);
  let url = "";
  child.stdout.on("data", (b: Buffer) => {
    const m = /"listen":"(http:\/\/[^"]+)"/.exec(b.toString());
    if (m?.[1]) url = m[1];
  });
  const exited = new Promise<number>((r) => child.once("exit", (code) => r(code ?? -1)));
  const rssSamples: { at: number; rss: number }[] = [];
  const sampler = setInterval(() => void readRss(daemonPid).then((r) => r && rssSamples.push({ at: performance.now() - t0, rss: r.rssMb })), 500);

  await waitFor(() => url !== "", 60_000, "the daemon's listen address");
  // The longest event-loop stall per phase, from the daemon's own metrics (max since the previous scrape).
  const stalls = { start: 0, idle: 0, webhook: 0 };
  let phase: keyof typeof stalls = "start";
  let scraping = false;
  const stallScraper = setInterval(() => {
    if (scraping) return;
    scraping = true;
    const at = phase;
    void eventLoopMaxMs(url)
      .then((ms) => {
        if (ms !== undefined) stalls[at] = Math.max(stalls[at], ms);
      })
      .catch((err: unknown) => progress(`  /metrics scrape failed: ${(err as Error).message}`))
      .finally(() => (scraping = false));
  }, 1_000);
  await waitFor(async () => (await request("GET", `${url}/readyz`)).status === 200, 15 * 60_000, "/readyz");
  const readyMs = performance.now() - t0;
  progress(`ready after ${fmt(readyMs / 1000, 1)} s; waiting for every job in sync`);
  let statusDoc: { leader: { self: boolean }; jobs: Array<{ state?: string }> } = { leader: { self: false }, jobs: [] };
  await waitFor(
    async () => {
      statusDoc = JSON.parse((await request("GET", `${url}/api/status`)).body.toString()) as typeof statusDoc;
      return statusDoc.leader.self && statusDoc.jobs.length >= N && statusDoc.jobs.every((j) => j.state === "in_sync");
    },
    15 * 60_000,
    "every job in sync",
    2_000,
  );
  const inSyncMs = performance.now() - t0;
  const startLog = summarize(await sim.log());
  const startRegisters = (await sim.log("nomad:qa")).filter((r) => r.method === "PUT" && r.path === "/v1/jobs");
  const registersAtStart = { ok: startRegisters.filter((r) => r.status === 200).length, refused: startRegisters.filter((r) => r.status !== 200).length };

  // ---- idle: memory and requests ----
  await eventLoopMaxMs(url).then((ms) => (stalls.start = Math.max(stalls.start, ms ?? 0)));
  phase = "idle";
  progress(`idle for ${IDLE_S} s: memory and requests`);
  await sleep(5_000);
  await sim.clearLog();
  const idleSamples: { rss: number; heap: number; heapTotal: number }[] = [];
  const idleStart = performance.now();
  while (performance.now() - idleStart < IDLE_S * 1000) {
    const rss = await readRss(daemonPid);
    const heap = await heapFromMetrics(url);
    if (rss && heap) idleSamples.push({ rss: rss.rssMb, heap: heap.used, heapTotal: heap.total });
    await sleep(2_000);
  }
  const idleLog = await sim.log();
  const idleMs = performance.now() - idleStart;
  const hwm = await readRss(daemonPid);
  const breakdown = await memoryBreakdown(daemonPid, url);
  if (HEAP_SNAPSHOT) await takeHeapSnapshot(daemonPid, path.join(work, "diag"), HEAP_SNAPSHOT);

  // ---- commit -> registered through the signed webhook ----
  await eventLoopMaxMs(url).then((ms) => (stalls.idle = Math.max(stalls.idle, ms ?? 0)));
  phase = "webhook";
  const hook: number[] = [];
  for (let r = 0; r < HOOK_REPS; r++) {
    const i = (r * 7919) % N;
    const id = serviceName(i);
    await untilSimQuiet(sim, 300);
    const before = await sim.jobModifyIndex(id);
    const seen = sim.whenJobPast(id, before, 10 * 60_000);
    await commitRev(repo, i, `hook${r}`);
    const t1 = now();
    const body = Buffer.from(JSON.stringify({ ref: "refs/heads/main", after: "bench" }));
    const res = await request("POST", `${url}/hooks/git`, body, { "content-type": "application/json", "x-hub-signature-256": hubSignature(SECRET, body), "x-github-event": "push" });
    if (res.status >= 300) throw new Error(`webhook: ${res.status} ${res.body.toString()}`);
    const { at } = await seen;
    hook.push(at - t1);
    progress(`  webhook ${r + 1}/${HOOK_REPS}: ${fmt(at - t1, 0)} ms`);
  }
  const peak = await readRss(daemonPid);
  clearInterval(stallScraper);
  await eventLoopMaxMs(url).then((ms) => (stalls.webhook = Math.max(stalls.webhook, ms ?? 0)));
  clearInterval(sampler);
  child.kill("SIGTERM");
  const exitCode = await exited;
  logStream.end();
  // The child's stdout ending ends the pipe into the file too, so it may be closed already.
  if (!logStream.closed) await new Promise<void>((r) => logStream.once("close", () => r()));
  const log = await readFile(logFile, "utf8");
  // The step-down of the shutdown itself (reason "stopping") is not a lost lock.
  const steppedDown = log.split("\n").filter((l) => l.includes('"leader: stepped down"') && !l.includes('"reason":"stopping"')).length;
  const leading = log.split("\n").filter((l) => l.includes('"leader: leading"')).length;

  // ---- report ----
  const rssIdle = stats(idleSamples.map((s) => s.rss));
  const heapIdle = stats(idleSamples.map((s) => s.heap));
  const heapTotalIdle = stats(idleSamples.map((s) => s.heapTotal));
  const startPeak = Math.max(0, ...rssSamples.filter((s) => s.at <= inSyncMs).map((s) => s.rss));
  const h = stats(hook);
  const perMin = (n: number): string => fmt((n * 60_000) / idleMs, 1);
  const idleNomad = idleLog.filter((r) => r.server.startsWith("nomad"));
  const idleConsul = idleLog.filter((r) => r.server === "consul");
  const report = [
    `## daemon: \`steward run\` with ${N.toLocaleString("en")} jobs in sync`,
    "",
    `Run ${startedAt.toISOString()} at commit \`${commitId()}\` on ${machine()}.`,
    `Load average before: ${loadBefore}; after: ${loadAverage()}.`,
    "",
    `Reproduce: \`npm run bench:daemon\` (flags after \`--\`: \`--size\`, \`--hook-reps\`, \`--idle-s\`, \`--node-options\`, \`--no-malloc-env\`, \`--heap-snapshot\`, \`--no-write\`). The daemon is \`${Object.entries(MALLOC_ENV).map(([k, v]) => `${k}=${v} `).join("")}node ${[...NODE_OPTIONS, ...DAEMON_ARGS].join(" ")} run --config steward.yaml\` (environment and flags as deploy/nomad/steward.nomad.hcl sets them; ${RUNTIME === "dist" ? "compiled by `npm run build:server`, as in production" : "TypeScript through the tsx loader"}; git source, Consul from sim, webhook secret from the environment, default timings); sim runs in another process. The bench first registers every job from Steward's own rendering, so the daemon starts into a cluster that is already in sync.`,
    "",
    table(
      ["measure", "value", "notes"],
      [
        ["start → /readyz 200", `${fmt(readyMs / 1000, 1)} s`, "git fetch + read, validation, one /v1/jobs/parse per job, Consul controls read, jobs list read"],
        ["start → leader with every job in_sync", `${fmt(inSyncMs / 1000, 1)} s`, `${statusDoc.jobs.length} jobs in /api/status; register attempts at start: ${registersAtStart.ok} accepted, ${registersAtStart.refused} refused by Nomad (expected none)`],
        ["RSS while idle (p50 / max of samples)", `${fmt(rssIdle.p50, 0)} / ${fmt(rssIdle.max, 0)} MB`, `${rssIdle.n} samples over ${IDLE_S} s, /proc/PID/status VmRSS; target < ${MEMORY_TARGET_MB} MB: ${rssIdle.p50 < MEMORY_TARGET_MB ? "**meets**" : "**misses**"}`],
        ["V8 heap used while idle (p50 / min / max)", `${fmt(heapIdle.p50, 0)} / ${fmt(heapIdle.min, 0)} / ${fmt(heapIdle.max, 0)} MB`, `from its /metrics (nodejs_heap_size_used_bytes), not after a forced GC; heap total p50 ${fmt(heapTotalIdle.p50, 0)} MB`],
        [
          "RSS at the end of the idle window, by kind",
          breakdown ? `${fmt(breakdown.file + breakdown.anon, 0)} MB = ${fmt(breakdown.file, 0)} file-backed + ${fmt(breakdown.anon, 0)} anonymous` : "n/a",
          breakdown
            ? `/proc/PID/smaps; of the anonymous: V8 heap ${fmt(breakdown.heapTotal, 0)} MB committed (${fmt(breakdown.heapUsed, 0)} used), external ${fmt(breakdown.external, 0)} MB, the rest ${fmt(breakdown.anon - breakdown.heapTotal - breakdown.external, 0)} MB (malloc: code, thread stacks and arenas, zones)`
            : "",
        ],
        ["peak RSS during start (sampled every 500 ms)", `${fmt(startPeak, 0)} MB`, `VmHWM (kernel's peak) at the end of the idle window: ${fmt(hwm?.hwmMb ?? NaN, 0)} MB`],
        ["peak RSS at the end (VmHWM)", `${fmt(peak?.hwmMb ?? NaN, 0)} MB`, "after the webhook rounds"],
        ["Nomad requests per idle minute", perMin(idleNomad.length), fmtCounts(summarize(idleNomad)) || "none"],
        ["Consul requests per idle minute", perMin(idleConsul.length), fmtCounts(summarize(idleConsul)) || "none"],
        [`webhook commit → registered (n=${h.n})`, `p50 ${fmt(h.p50, 0)} ms, max ${fmt(h.max, 0)} ms`, "signed POST /hooks/git right after `git commit`; until sim answered the register"],
        [
          "longest event-loop stall: start / idle / webhooks",
          `${fmt(stalls.start, 0)} / ${fmt(stalls.idle, 0)} / ${fmt(stalls.webhook, 0)} ms`,
          `the daemon's nodejs_eventloop_lag_max_seconds (perf_hooks monitorEventLoopDelay), scraped every second; limit ${STALL_LIMIT_MS} ms: ${Math.max(stalls.start, stalls.idle, stalls.webhook) <= STALL_LIMIT_MS ? "**kept**" : "**exceeded**"}`,
        ],
        ["leadership", `led ${leading} time(s), stepped down ${steppedDown} time(s)`, "from the daemon's log, until SIGTERM; one lead and no step-down expected (a lost lock means renewals came late)"],
        ["daemon exit code on SIGTERM", String(exitCode), ""],
      ],
    ),
    "",
    `Requests during the start: ${fmtCounts(startLog)}.`,
    `The jobs-list watch waits ${WATCH_BLOCKING_WAIT_MS / 1000} s per long poll (default), so an idle window of ${IDLE_S} s sees at most one answer per watch.`,
  ].join("\n");
  process.stdout.write(`${report}\n`);
  if (!flags["no-write"]) {
    await writeResultsSection("daemon", report);
    progress("bench/RESULTS.md: daemon section written");
  }
} finally {
  if (daemonPid) {
    try {
      process.kill(daemonPid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await sim.close();
  await repo.destroy();
  if (!process.env.STEWARD_BENCH_KEEP) await rm(work, { recursive: true, force: true });
}
process.exit(0);

// --------------------------------------------------------------- helpers --

/** VmRSS and VmHWM of a process, in MB, from /proc (Linux). */
async function readRss(pid: number): Promise<{ rssMb: number; hwmMb: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
    return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/** Where the idle RSS sits: file-backed pages (the node binary, libraries), anonymous ones, and of those the V8 heap and external memory (its /metrics); MB. */
async function memoryBreakdown(pid: number, url: string): Promise<{ file: number; anon: number; heapTotal: number; heapUsed: number; external: number } | undefined> {
  try {
    const smaps = await readFile(`/proc/${pid}/smaps`, "utf8");
    let file = 0;
    let anon = 0;
    let isFile = false;
    for (const line of smaps.split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const name = head[1] ?? "";
        isFile = name.startsWith("/");
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) {
        if (isFile) file += Number(rss[1]);
        else anon += Number(rss[1]);
      }
    }
    const r = await request("GET", `${url}/metrics`);
    const text = r.body.toString();
    const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
    return { file: file / 1024, anon: anon / 1024, heapTotal: v("nodejs_heap_size_total_bytes"), heapUsed: v("nodejs_heap_size_used_bytes"), external: v("nodejs_external_memory_bytes") };
  } catch {
    return undefined;
  }
}

/** Has the daemon (started with --heapsnapshot-signal=SIGUSR2) write a heap snapshot into DIR, and moves it to DEST once its size stops changing. */
async function takeHeapSnapshot(pid: number, dir: string, dest: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  progress(`heap snapshot of the idle daemon -> ${dest}`);
  process.kill(pid, "SIGUSR2");
  let last = -1;
  for (let stable = 0; stable < 3; ) {
    await sleep(1_000);
    const file = (await readdir(dir)).find((f) => f.endsWith(".heapsnapshot"));
    const size = file ? (await stat(path.join(dir, file))).size : -1;
    stable = size > 0 && size === last ? stable + 1 : 0;
    last = size;
    if (stable === 3 && file) await rename(path.join(dir, file), dest).catch(async () => {
      await writeFile(dest, await readFile(path.join(dir, file)));
      await rm(path.join(dir, file));
    });
  }
}

/** The daemon's longest event-loop stall since its previous scrape, in ms. */
async function eventLoopMaxMs(url: string): Promise<number | undefined> {
  const r = await request("GET", `${url}/metrics`);
  if (r.status !== 200) return undefined;
  const v = Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(r.body.toString())?.[1] ?? NaN);
  return Number.isFinite(v) ? v * 1000 : undefined;
}

/** Heap used and total from the daemon's default Node metrics, in MB. */
async function heapFromMetrics(url: string): Promise<{ used: number; total: number } | undefined> {
  const r = await request("GET", `${url}/metrics`);
  if (r.status !== 200) return undefined;
  const text = r.body.toString();
  const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { used: v("nodejs_heap_size_used_bytes"), total: v("nodejs_heap_size_total_bytes") };
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not up yet
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

function summarize(log: Array<{ server: string; method: string; path: string; query: string }>): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of log) {
    const p = r.path.replace(/^\/v1\/job\/[^/]+/, "/v1/job/:id").replace(/^\/v1\/kv\/.*/, "/v1/kv/…").replace(/^\/v1\/session\/renew\/.*/, "/v1/session/renew/:id");
    const k = `${r.server} ${r.method} ${p}${r.method === "GET" && r.query.includes("index=") ? " (long poll)" : ""}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function fmtCounts(m: Map<string, number>): string {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

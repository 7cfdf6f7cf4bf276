/**
 * `npm run bench:sim`: the emulator at scale. One sim process holding one
 * Nomad cluster with 10,000 jobs and 5,000 nodes (bulk-seeded), measured
 * over HTTP from the same process: list times, blocking-query wake-up
 * latencies (Nomad and Consul KV), register times, and memory. Prints a
 * table and refreshes the `sim` section of bench/RESULTS.md.
 *
 * Flags: --jobs=N (10000) --nodes=N (5000) --count=N allocations per job (2)
 *        --reps=N list repetitions (20) --wakes=N wake-up repetitions (50) --no-write
 */
import { parseArgs } from "node:util";
import { startSim, type Sim } from "../sim/index.js";
import { commitId, fmt, json, loadAverage, machine, progress, request, settledMemory, sleep, stats, table, writeResultsSection, type Stats } from "./lib.js";

const { values: flags } = parseArgs({
  options: {
    jobs: { type: "string", default: "10000" },
    nodes: { type: "string", default: "5000" },
    count: { type: "string", default: "2" },
    reps: { type: "string", default: "20" },
    wakes: { type: "string", default: "50" },
    "no-write": { type: "boolean", default: false },
  },
});
const JOBS = Number(flags.jobs);
const NODES = Number(flags.nodes);
const COUNT = Number(flags.count);
const REPS = Number(flags.reps);
const WAKES = Number(flags.wakes);
/** Sim ms per real ms: a register's allocations start and its deployment completes within tens of ms, so wake-up rounds settle fast. */
const TIME_SCALE = 100;

const startedAt = new Date();
const loadBefore = loadAverage();
const memBaseline = await settledMemory();

progress(`starting sim (1 Nomad cluster, no booted nodes), then seeding ${NODES} nodes and ${JOBS} jobs x ${COUNT} allocations`);
const sim = await startSim({ clusters: [{ name: "qa", nodes: 0 }], timeScale: TIME_SCALE, healthyAfterMs: 2000 });
const cluster = sim.nomad.qa;
if (!cluster) throw new Error("no qa cluster");
const nomad = sim.urls.nomad.qa ?? "";

let t = performance.now();
cluster.seedNodes(NODES);
const seedNodesMs = performance.now() - t;
t = performance.now();
cluster.seedJobs(JOBS, { count: COUNT });
const seedJobsMs = performance.now() - t;
const seeded = cluster.stats();
const memSeeded = await settledMemory();
progress(`seeded in ${fmt(seedNodesMs)} + ${fmt(seedJobsMs)} ms: ${JSON.stringify(seeded)}`);

const realism = await checkSeededJob(sim);

progress(`GET /v1/jobs and /v1/nodes x ${REPS}, each cold (first read after a write) and warm (same index again)`);
const firstNode = (await json<Array<{ ID: string }>>("GET", `${nomad}/v1/nodes?prefix=`)).data[0]?.ID ?? "";
const jobsList = await coldWarm(REPS, (i) => json("PUT", `${nomad}/v1/job/bench-1/stable`, { JobID: "bench-1", JobVersion: 0, Stable: i % 2 === 1 }), `${nomad}/v1/jobs`);
const jobsListMeta = await coldWarm(REPS, (i) => json("PUT", `${nomad}/v1/job/bench-1/stable`, { JobID: "bench-1", JobVersion: 0, Stable: i % 2 === 1 }), `${nomad}/v1/jobs?meta=true`);
const nodesList = await coldWarm(REPS, (i) => json("PUT", `${nomad}/v1/node/${firstNode}/eligibility`, { Eligibility: i % 2 === 0 ? "ineligible" : "eligible" }), `${nomad}/v1/nodes`);
const oneJob = await repeat(REPS, async () => (await request("GET", `${nomad}/v1/job/bench-${JOBS >> 1}`)).body.length);

progress(`registers x ${REPS}`);
const registerNew: number[] = [];
for (let i = 0; i < REPS; i++) {
  const r = await json<{ EvalID: string }>("PUT", `${nomad}/v1/jobs`, { Job: benchJob(`reg-${i}`, "1") });
  registerNew.push(r.reply.doneAt - r.reply.sentAt);
  await sleep(20);
}
const registerUpdate: number[] = [];
for (let i = 0; i < REPS; i++) {
  const r = await json<{ EvalID: string }>("PUT", `${nomad}/v1/jobs`, { Job: benchJob(`bench-${i}`, "2") });
  registerUpdate.push(r.reply.doneAt - r.reply.sentAt);
  await sleep(20);
}
await sleep(500);
const placed = await json<Array<{ ClientStatus: string }>>("GET", `${nomad}/v1/job/reg-0/allocations`);

progress(`Nomad blocking wake-ups x ${WAKES} (jobs list, then one job)`);
const wakeList = await nomadWakeups(sim, "/v1/jobs", (i) => `wake-${i}`);
const wakeOne = await nomadWakeups(sim, "/v1/job/bench-7", () => "bench-7");

progress(`Consul KV blocking wake-ups x ${WAKES}`);
const wakeKv = await consulWakeups(sim);

const memEnd = await settledMemory();
const final = cluster.stats();
await sim.close();
const loadAfter = loadAverage();

// ---------------------------------------------------------------- report --

const kb = (n: number): string => `${fmt(n / 1024, 0)} KiB`;
const row = (what: string, s: Stats, extra = ""): string[] => [what, fmt(s.p50), fmt(s.p95), fmt(s.min), fmt(s.max), String(s.n), extra];
const latencyTable = table(
  ["measure (ms)", "p50", "p95", "min", "max", "n", "notes"],
  [
    row("GET /v1/jobs, cold (first read after a write)", stats(jobsList.cold), `${kb(jobsList.bytes)} body, ${JOBS} jobs`),
    row("GET /v1/jobs, warm (same index: sim's list cache)", stats(jobsList.warm), ""),
    row("GET /v1/jobs?meta=true, cold (what Steward watches)", stats(jobsListMeta.cold), `${kb(jobsListMeta.bytes)} body`),
    row("GET /v1/jobs?meta=true, warm", stats(jobsListMeta.warm), ""),
    row("GET /v1/nodes, cold", stats(nodesList.cold), `${kb(nodesList.bytes)} body, ${NODES} nodes`),
    row("GET /v1/nodes, warm", stats(nodesList.warm), ""),
    row("GET /v1/job/:id (one job)", stats(oneJob.ms), `${kb(oneJob.last)} body`),
    row("PUT /v1/jobs, new job (2 allocs)", stats(registerNew), "response time; evaluation runs after"),
    row("PUT /v1/jobs, update of a seeded job", stats(registerUpdate), "env change: destructive update"),
    row("wake-up: /v1/jobs?index=N, register sent -> watcher answered", stats(wakeList.afterSend), "includes the cold list rebuild"),
    row("  same, register answered -> watcher answered", stats(wakeList.afterResponse), `register's own time p50 ${fmt(stats(wakeList.register).p50)} ms (waits behind the rebuild: one event loop)`),
    row("wake-up: /v1/job/:id?index=N, register sent -> watcher answered", stats(wakeOne.afterSend), ""),
    row("  same, register answered -> watcher answered", stats(wakeOne.afterResponse), ""),
    row("wake-up: Consul /v1/kv/:key?index=N after a PUT", stats(wakeKv.afterResponse), "PUT response -> watcher response"),
  ],
);
const memTable = table(
  ["memory (MB, after GC)", "RSS", "heap used", "heap total", "external+buffers"],
  [
    ["before sim (bench process only)", fmt(memBaseline.rssMb), fmt(memBaseline.heapUsedMb), fmt(memBaseline.heapTotalMb), fmt(memBaseline.externalMb)],
    [`seeded (${JOBS} jobs, ${NODES} nodes, ${seeded.allocs} allocs)`, fmt(memSeeded.rssMb), fmt(memSeeded.heapUsedMb), fmt(memSeeded.heapTotalMb), fmt(memSeeded.externalMb)],
    ["after all measurements", fmt(memEnd.rssMb), fmt(memEnd.heapUsedMb), fmt(memEnd.heapTotalMb), fmt(memEnd.externalMb)],
  ],
);
const notes = [
  `- Seeding: ${NODES} nodes in ${fmt(seedNodesMs, 0)} ms, ${JOBS} jobs x ${COUNT} allocations in ${fmt(seedJobsMs, 0)} ms (\`NomadCluster.seedNodes\` / \`seedJobs\`, one store write each).`,
  `- Seeded cluster: ${seeded.jobs} jobs, ${seeded.nodes} nodes (${seeded.readyNodes} ready), ${seeded.allocs} allocations (${seeded.runningAllocs} running), ${seeded.deployments} deployments, ${seeded.evals} evaluations. At the end: ${final.jobs} jobs, ${final.allocs} allocations, ${final.evals} evaluations, ${final.waiters} parked waiters.`,
  `- A seeded job as the API shows it: ${realism.join("; ")}.`,
  "- What seeding skips: no evaluations (allocations carry an empty `EvalID`, `/v1/job/:id/evaluations` is empty), no scheduler run or placement scoring (allocations go round-robin over the ready nodes), no client lifecycle history beyond one `Started` event, and all jobs share one task group template (one image, 20 MHz / 32 MB per task). Registers after seeding go through the real scheduler.",
  `- Register placement check: \`reg-0\` has ${placed.data.length} allocation(s), client status ${[...new Set(placed.data.map((a) => a.ClientStatus))].join(", ") || "none"} (500 ms after the last register, sim time scale ${TIME_SCALE}x).`,
  `- Wake-up rounds: a watcher is parked (the sim reports one more waiter) before the register is sent; a round whose watcher answered without the change is retried (${wakeList.retried + wakeOne.retried + wakeKv.retried} retried in all). Client and sim share one process and one event loop, so a wake-up includes the sim serializing the answer (the whole list for /v1/jobs) and the client reading it.`,
  "- Memory includes the bench's own client (small); \"before sim\" is the baseline of the process.",
];

const header = [
  `## sim: one Nomad cluster with ${JOBS.toLocaleString("en")} jobs and ${NODES.toLocaleString("en")} nodes`,
  "",
  `Run ${startedAt.toISOString()} at commit \`${commitId()}\` on ${machine()}.`,
  `Load average before: ${loadBefore}; after: ${loadAfter}. The machine is shared: medians and p95 over repetitions, not single runs.`,
  "",
  "Reproduce: `npm run bench:sim` (flags after `--`: `--jobs`, `--nodes`, `--count`, `--reps`, `--wakes`, `--no-write`).",
  "",
].join("\n");
const report = [header, latencyTable, "", memTable, "", ...notes].join("\n");
process.stdout.write(`${report}\n`);
if (!flags["no-write"]) {
  await writeResultsSection("sim", report);
  progress("bench/RESULTS.md: sim section written");
}

// ---------------------------------------------------------------- helpers --

/** Runs `fn` `n` times in a row; returns each run's wall time in ms and the last result. */
async function repeat(n: number, fn: () => Promise<number>): Promise<{ ms: number[]; last: number }> {
  const ms: number[] = [];
  let last = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    last = await fn();
    ms.push(performance.now() - t0);
  }
  return { ms, last };
}

/**
 * `n` rounds of: a cheap write (`bump`, which moves the list's index), the
 * list read once (cold: the sim builds and encodes it) and again (warm: the
 * sim's list cache answers the same index).
 */
async function coldWarm(n: number, bump: (i: number) => Promise<unknown>, url: string): Promise<{ cold: number[]; warm: number[]; bytes: number }> {
  const cold: number[] = [];
  const warm: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    await bump(i);
    await untilQuiet(() => cluster?.stats().index ?? 0, 30);
    const a = await request("GET", url);
    const b = await request("GET", url);
    if (a.status !== 200 || b.status !== 200) throw new Error(`GET ${url}: ${a.status}/${b.status}`);
    cold.push(a.doneAt - a.sentAt);
    warm.push(b.doneAt - b.sentAt);
    bytes = b.body.length;
  }
  return { cold, warm, bytes };
}

/** A small service job in API JSON, as a user's register would send it. */
function benchJob(id: string, rev: string): Record<string, unknown> {
  return {
    ID: id,
    Name: id,
    Type: "service",
    Datacenters: ["dc1"],
    Meta: { rev },
    TaskGroups: [{ Name: "app", Count: COUNT, Tasks: [{ Name: "app", Driver: "docker", Config: { image: "registry.local/bench/app:1" }, Env: { REV: rev }, Resources: { CPU: 20, MemoryMB: 32 } }] }],
  };
}

/** Reads one seeded job through the API and says what it looks like (allocations, deployment, summary). */
async function checkSeededJob(s: Sim): Promise<string[]> {
  const base = s.urls.nomad.qa ?? "";
  const id = "bench-42";
  const job = (await json<{ Status: string; Version: number; TaskGroups: Array<{ Count: number }> }>("GET", `${base}/v1/job/${id}`)).data;
  const allocs = (await json<Array<{ ClientStatus: string; DeploymentStatus?: { Healthy?: boolean } | null; NodeID: string }>>("GET", `${base}/v1/job/${id}/allocations`)).data;
  const dep = (await json<{ Status: string } | null>("GET", `${base}/v1/job/${id}/deployment`)).data;
  const summary = (await json<{ Summary: Record<string, { Running: number }> }>("GET", `${base}/v1/job/${id}/summary`)).data;
  const evals = (await json<unknown[]>("GET", `${base}/v1/job/${id}/evaluations`)).data;
  const node = allocs[0] ? (await json<unknown[]>("GET", `${base}/v1/node/${allocs[0].NodeID}/allocations`)).data : [];
  const running = Object.values(summary.Summary).reduce((a, g) => a + g.Running, 0);
  return [
    `status ${job.Status}, version ${job.Version}, count ${job.TaskGroups[0]?.Count}`,
    `${allocs.length} allocations (${allocs.filter((a) => a.ClientStatus === "running").length} running, ${allocs.filter((a) => a.DeploymentStatus?.Healthy).length} healthy)`,
    `latest deployment ${dep?.Status ?? "none"}`,
    `summary Running=${running}`,
    `${evals.length} evaluations`,
    `its first node lists ${node.length} allocations`,
  ];
}

/**
 * Waits (polling, 1 ms) until the cluster reports more parked blocking
 * queries than `before`. False when the watcher answered first (a write
 * slipped in between reading the index and parking).
 */
async function untilParked(waiting: () => number, before: number, answered: () => boolean): Promise<boolean> {
  const deadline = performance.now() + 5_000;
  while (waiting() <= before) {
    if (answered()) return false;
    if (performance.now() > deadline) throw new Error("the watcher never parked");
    await sleep(1);
  }
  return true;
}

/** Waits until the cluster's index has not moved for `quietMs` (earlier registers' allocations and deployments settled). */
async function untilQuiet(index: () => number, quietMs = 60): Promise<void> {
  const deadline = performance.now() + 10_000;
  let last = index();
  let since = performance.now();
  while (performance.now() - since < quietMs && performance.now() < deadline) {
    await sleep(5);
    const now = index();
    if (now !== last) {
      last = now;
      since = performance.now();
    }
  }
}

/**
 * `WAKES` rounds of: read `path`'s index, park a watcher on `path?index=N`,
 * register one job, and time the watcher's answer against the register's.
 */
async function nomadWakeups(s: Sim, path: string, jobOf: (i: number) => string): Promise<{ afterResponse: number[]; afterSend: number[]; register: number[]; retried: number }> {
  const base = s.urls.nomad.qa ?? "";
  const c = s.nomad.qa;
  if (!c) throw new Error("no qa cluster");
  const afterResponse: number[] = [];
  const afterSend: number[] = [];
  const register: number[] = [];
  let retried = 0;
  for (let i = 0; afterResponse.length < WAKES; i++) {
    if (retried > WAKES) throw new Error(`too many spurious wake-ups on ${path}`);
    // Let the previous register's allocations and deployment settle, so their writes do not wake this round's watcher.
    await untilQuiet(() => c.stats().index, 250);
    const index = Number((await request("GET", `${base}${path}`)).headers["x-nomad-index"]);
    const before = c.stats().waiters;
    const sep = path.includes("?") ? "&" : "?";
    let answered = false;
    const watcher = request("GET", `${base}${path}${sep}index=${index}&wait=30s`).finally(() => (answered = true));
    if (!(await untilParked(() => c.stats().waiters, before, () => answered))) {
      await watcher;
      progress(`  ${path}: round ${i} retried: the watcher answered before it parked`);
      retried++;
      continue;
    }
    const reg = await request("PUT", `${base}/v1/jobs`, JSON.stringify({ Job: benchJob(jobOf(i), `w${i}`) }));
    const w = await watcher;
    if (reg.status !== 200) throw new Error(`register: ${reg.status} ${reg.body.toString()}`);
    // A watcher that answered before the register, or without it, was woken by something else: the round does not count.
    const sawIt = w.body.includes(`"${jobOf(i)}"`) && (path === "/v1/jobs" || w.body.includes(`"w${i}"`));
    if (w.doneAt < reg.sentAt || !sawIt) {
      progress(`  ${path}: round ${i} retried: ${w.doneAt < reg.sentAt ? "answered before the register" : "answer without the register"}`);
      retried++;
      continue;
    }
    afterResponse.push(w.doneAt - reg.doneAt);
    afterSend.push(w.doneAt - reg.sentAt);
    register.push(reg.doneAt - reg.sentAt);
  }
  return { afterResponse, afterSend, register, retried };
}

/** `WAKES` rounds of: park a watcher on one KV key at its index, PUT a new value, time the watcher against the PUT. */
async function consulWakeups(s: Sim): Promise<{ afterResponse: number[]; retried: number }> {
  const url = `${s.urls.consul}/v1/kv/bench/wake`;
  await json("PUT", url, "v0");
  const afterResponse: number[] = [];
  let retried = 0;
  for (let i = 1; afterResponse.length < WAKES; i++) {
    if (retried > WAKES) throw new Error("too many spurious Consul wake-ups");
    const index = Number((await request("GET", url)).headers["x-consul-index"]);
    const watcher = request("GET", `${url}?index=${index}&wait=30s`);
    // Consul's sim does not expose its waiter count: give the watcher time to park.
    await sleep(20);
    const put = await request("PUT", url, `v${i}`);
    const w = await watcher;
    const value = (JSON.parse(w.body.toString()) as Array<{ Value: string }>)[0]?.Value ?? "";
    if (put.status !== 200 || Buffer.from(value, "base64").toString() !== `v${i}` || w.doneAt < put.sentAt) {
      progress(`  consul: round ${i} retried`);
      retried++;
      continue;
    }
    afterResponse.push(w.doneAt - put.doneAt);
  }
  return { afterResponse, retried };
}


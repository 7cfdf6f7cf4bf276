/**
 * sim in its own process, for benchmarks that measure Steward alone (CPU,
 * memory, latency without sim's work on the same event loop). Started with
 * `startSimProcess()` (node's fork, IPC channel); it answers a few requests:
 * its URLs, cluster stats, the request log, its memory, close.
 *
 * Run directly (`tsx bench/sim-process.ts --nodes=200`) it prints its URLs
 * as one JSON line and stays up until Ctrl-C.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Sim, SimUrls } from "../sim/index.js";
import type { LoggedRequest } from "../sim/core/request-log.js";
import type { NomadClusterStats } from "../sim/nomad/index.js";

/** What the parent may ask. */
type Ask =
  | { op: "stats" }
  | { op: "log-clear" }
  | { op: "log"; server?: string }
  | { op: "memory" }
  | { op: "cpu" }
  | { op: "job"; job: string }
  | { op: "waitJob"; job: string; afterJobModifyIndex: number; timeoutMs: number }
  | { op: "close" };

interface Answer {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** A handle on a sim child process. */
export interface SimProcess {
  urls: SimUrls;
  pid: number;
  /** Stats of the `qa` cluster. */
  stats(): Promise<NomadClusterStats>;
  /** Forgets the request log (start of a counting window). */
  clearLog(): Promise<void>;
  /** The request log since the last clear (at most the log's capacity, 50,000). */
  log(server?: string): Promise<LoggedRequest[]>;
  memory(): Promise<NodeJS.MemoryUsage>;
  /** process.cpuUsage() of the sim process, in µs. */
  cpu(): Promise<NodeJS.CpuUsage>;
  /** A job's JobModifyIndex (0 when absent). */
  jobModifyIndex(id: string): Promise<number>;
  /**
   * Resolves with the epoch time (ms, sub-ms precision: performance.timeOrigin
   * + performance.now(), comparable across processes of this machine) at
   * which the sim answered the request that moved the job's JobModifyIndex
   * past `after`. Rejects after `timeoutMs`.
   */
  whenJobPast(id: string, after: number, timeoutMs: number): Promise<{ at: number; jobModifyIndex: number }>;
  close(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

/** Waits until the cluster's index has not moved for `quietMs` (deployments and allocation updates settled); gives up after 5 minutes. */
export async function untilSimQuiet(sim: SimProcess, quietMs: number): Promise<void> {
  const deadline = performance.now() + 5 * 60_000;
  let last = (await sim.stats()).index;
  let since = performance.now();
  while (performance.now() - since < quietMs && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const idx = (await sim.stats()).index;
    if (idx !== last) {
      last = idx;
      since = performance.now();
    }
  }
}

/**
 * Forks a sim with one Nomad cluster `qa` (no booted nodes) and `nodes`
 * seeded ready nodes, at `timeScale` sim ms per real ms.
 */
export async function startSimProcess(opts: { nodes: number; timeScale: number }): Promise<SimProcess> {
  const child: ChildProcess = fork(SELF, ["--child", `--nodes=${opts.nodes}`, `--time-scale=${opts.timeScale}`], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    cwd: path.resolve(path.dirname(SELF), ".."),
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let onUrls: ((u: SimUrls) => void) | undefined;
  let onFail: ((e: Error) => void) | undefined;
  child.on("message", (m: Answer | { urls: SimUrls }) => {
    if ("urls" in m) return onUrls?.(m.urls);
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(m.error ?? "sim process error"));
  });
  child.on("exit", (code) => {
    const err = new Error(`sim process exited (${code})`);
    onFail?.(err);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  });
  const urls = await new Promise<SimUrls>((resolve, reject) => {
    onUrls = resolve;
    onFail = reject;
  });
  const ask = <T>(a: Ask): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...a, id });
    });
  return {
    urls,
    pid: child.pid ?? 0,
    stats: () => ask<NomadClusterStats>({ op: "stats" }),
    clearLog: () => ask<void>({ op: "log-clear" }),
    log: (server) => ask<LoggedRequest[]>({ op: "log", ...(server ? { server } : {}) }),
    memory: () => ask<NodeJS.MemoryUsage>({ op: "memory" }),
    cpu: () => ask<NodeJS.CpuUsage>({ op: "cpu" }),
    jobModifyIndex: (job) => ask<number>({ op: "job", job }),
    whenJobPast: (job, after, timeoutMs) => ask<{ at: number; jobModifyIndex: number }>({ op: "waitJob", job, afterJobModifyIndex: after, timeoutMs }),
    close: async () => {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      await ask<void>({ op: "close" }).catch(() => undefined);
      await exited;
    },
  };
}

async function runChild(nodes: number, timeScale: number, viaIpc: boolean): Promise<void> {
  const { startSim } = await import("../sim/index.js");
  const sim: Sim = await startSim({ clusters: [{ name: "qa", nodes: 0 }], timeScale });
  const qa = sim.nomad.qa;
  if (!qa) throw new Error("no qa cluster");
  qa.seedNodes(nodes);
  // Job watchers are checked as each request is logged, i.e. right after its answer was sent: no polling, no delay.
  const jobWaiters = new Set<{ id: string; after: number; done: (v: { at: number; jobModifyIndex: number }) => void }>();
  const record = sim.log.record.bind(sim.log);
  sim.log.record = (e) => {
    record(e);
    if (e.method === "GET" || jobWaiters.size === 0) return;
    const at = performance.timeOrigin + performance.now();
    for (const w of jobWaiters) {
      const jmi = qa.job(w.id)?.JobModifyIndex ?? 0;
      if (jmi > w.after) {
        jobWaiters.delete(w);
        w.done({ at, jobModifyIndex: jmi });
      }
    }
  };
  const handle = async (a: Ask): Promise<unknown> => {
    switch (a.op) {
      case "stats":
        return qa.stats();
      case "log-clear":
        sim.log.clear();
        return undefined;
      case "log":
        return sim.log.find(a.server ? { server: a.server } : {});
      case "memory":
        return process.memoryUsage();
      case "cpu":
        return process.cpuUsage();
      case "job":
        return qa.job(a.job)?.JobModifyIndex ?? 0;
      case "waitJob":
        return new Promise((resolve, reject) => {
          const w = { id: a.job, after: a.afterJobModifyIndex, done: (v: { at: number; jobModifyIndex: number }) => (clearTimeout(timer), resolve(v)) };
          const timer = setTimeout(() => {
            jobWaiters.delete(w);
            reject(new Error(`job ${a.job} did not move past JobModifyIndex ${a.afterJobModifyIndex} within ${a.timeoutMs} ms`));
          }, a.timeoutMs);
          jobWaiters.add(w);
        });
      case "close":
        await sim.close();
        setImmediate(() => process.exit(0));
        return undefined;
    }
  };
  if (viaIpc) {
    process.on("message", (m: Ask & { id: number }) => {
      handle(m).then(
        (value) => process.send?.({ id: m.id, ok: true, value }),
        (err: unknown) => process.send?.({ id: m.id, ok: false, error: (err as Error).message }),
      );
    });
    process.on("disconnect", () => void sim.close().then(() => process.exit(0)));
    process.send?.({ urls: sim.urls });
  } else {
    process.stdout.write(`${JSON.stringify({ pid: process.pid, ...sim.urls })}\n`);
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void sim.close().then(() => process.exit(0)));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const { values } = parseArgs({
    options: { child: { type: "boolean", default: false }, nodes: { type: "string", default: "200" }, "time-scale": { type: "string", default: "20" } },
  });
  await runChild(Number(values.nodes), Number(values["time-scale"]), values.child === true && typeof process.send === "function");
}

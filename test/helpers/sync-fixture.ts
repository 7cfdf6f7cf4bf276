import test from "ava";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import axios, { type AxiosInstance } from "axios";
import { startSim, type Sim, type SimOptions } from "../../sim/index.js";
import { createJobParser, type JobParser } from "../../sim/nomad/parse/index.js";
import { GitSource } from "../../src/sources/git.js";
import { SyncLoop, MemorySyncStateStore } from "../../src/reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../../src/reconciler/sync/clients.js";
import { createLogger, type Logger } from "../../src/log.js";
import { createMetrics, type StewardMetrics } from "../../src/metrics.js";
import { GitRepo } from "./git-repo.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** steward.yaml for the sim's clusters, with test-friendly sync defaults. */
export function stewardYaml(sim: Sim, sync = "  drift: heal\n  prune: false\n  pruneGracePeriod: 1s\n  maxPruneShare: 0.5\n"): string {
  return [
    "environments:",
    "  - name: qa",
    "    nomad:",
    `      address: ${sim.urls.nomad.qa}`,
    "  - name: prod",
    "    nomad:",
    `      address: ${sim.urls.nomad.prod}`,
    "sync:",
    sync,
  ].join("\n");
}

export interface SyncFixture {
  sim: Sim;
  repo: GitRepo;
  source: GitSource;
  loop: SyncLoop;
  store: MemorySyncStateStore;
  metrics: StewardMetrics;
  nomad: Record<string, AxiosInstance>;
  /** Commits and hands the new revision to the loop, as the daemon's git source would. */
  commit(message: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * sim + a real git repository holding the example desired-state (pointed at
 * sim) + a SyncLoop that leads. Tests change the repo or Nomad and assert
 * what Nomad ends up running.
 */
/** One Go jobspec helper per test process, shared by every fixture in it (tests in a file run at once). */
let sharedParser: Promise<JobParser> | undefined;
function parser(): Promise<JobParser> {
  sharedParser ??= createJobParser();
  return sharedParser;
}
/** The shared jobspec helper (started on first use, closed after the file's tests). */
export const parserForTests = parser;
// Ended after the file's tests, or the helper process would keep the worker alive.
test.after.always(async () => {
  await (await sharedParser)?.close();
});

export async function syncFixture(opts: SimOptions = {}, loopOpts: { lead?: boolean; watchWaitMs?: number; logger?: Logger } = {}): Promise<SyncFixture> {
  const sim = await startSim({ timeScale: 20, healthyAfterMs: 500, parser: await parser(), ...opts });
  const repo = await GitRepo.create();
  await repo.copyIn(path.join(REPO_ROOT, "desired-state"), "desired-state");
  await repo.write("desired-state/steward.yaml", stewardYaml(sim));
  repo.commit("initial desired state");
  const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-sync-"));
  const source = new GitSource({ url: repo.dir, cacheDir });
  const metrics = createMetrics({ defaultMetrics: false });
  const logger = loopOpts.logger ?? createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" });
  const store = new MemorySyncStateStore();
  const loop = new SyncLoop({
    clients: new NomadClients({ tokens: envTokens, metrics, http: { retry: { baseMs: 20, capMs: 200 }, timeoutMs: 1_000 } }),
    store,
    logger,
    metrics,
    watchWaitMs: loopOpts.watchWaitMs ?? 5_000,
    runner: { queue: { backoffBaseMs: 50, backoffCapMs: 1_000 } },
  });
  const nomad = Object.fromEntries(
    Object.entries(sim.urls.nomad).map(([env, url]) => [env, axios.create({ baseURL: url, validateStatus: () => true, timeout: 5_000 })]),
  );
  const accept = async (): Promise<void> => {
    await loop.acceptSnapshot(await source.snapshot());
  };
  await accept();
  if (loopOpts.lead !== false) await loop.lead();
  return {
    sim,
    repo,
    source,
    loop,
    store,
    metrics,
    nomad,
    commit: async (message) => {
      const sha = repo.commit(message);
      await accept();
      return sha;
    },
    close: async () => {
      await loop.stop();
      await sim.close();
      await repo.destroy();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/** A job as Nomad has it, or undefined. */
export async function readJob(http: AxiosInstance, id: string): Promise<Record<string, any> | undefined> {
  const r = await http.get(`/v1/job/${id}`);
  return r.status === 200 ? (r.data as Record<string, any>) : undefined;
}

/** The image of a job's first task of its first group. */
export function imageOf(job: Record<string, any> | undefined): string | undefined {
  return job?.TaskGroups?.[0]?.Tasks?.[0]?.Config?.image as string | undefined;
}

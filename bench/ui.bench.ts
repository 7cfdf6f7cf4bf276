/**
 * bench:ui — the live UI at 1,000 services × 2 environments (2,000 cells), in
 * Debian's Chromium against a real Steward daemon on sim:
 *
 * - time to first meaningful render: navigation start → the grid shows cells
 *   and the summary counts all 2,000 jobs (a fresh page each round);
 * - update latency, action in sim → page: a job stopped by hand in Nomad
 *   (DELETE sent) → its cell shows `out of sync` in the DOM, then the
 *   re-register → `synced` again; both from one clock (the machine's);
 * - a bulk update: `pause all` (an action) → every one of the 2,000 cells
 *   paused on the page, and back on resume;
 * - deployments: a new job version registered in Nomad → its cell shows the
 *   new deployment running, then successful; the cost of one environment's
 *   deployments list (size, parse and reduce to the latest per job);
 * - what the page holds: snapshot size, DOM elements with 2,000 cells.
 *
 * Usage: `npm run bench:ui` (or `npx tsx bench/ui.bench.ts [--services=1000] [--rounds=20]`).
 * Results go to bench/RESULTS.md (section `bench:ui`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { startSim } from "../sim/index.js";
import { Daemon } from "../src/daemon.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { GitRepo } from "../test/helpers/git-repo.js";
import { ensureUiBuilt, launchChromium, uiSkipReason } from "../test/helpers/browser.js";
import { commitId, fmt, loadAverage, machine, progress, stats, table, until, writeResultsSection } from "./lib.js";
import { serviceName } from "./desired-tree.js";
import { latestByJob } from "../src/sources/nomad-deployments.js";
import type { NomadDeploymentStub } from "../src/sources/nomad.js";

const { values } = parseArgs({ options: { services: { type: "string", default: "1000" }, rounds: { type: "string", default: "20" } } });
const N = Number(values.services);
const ROUNDS = Number(values.rounds);
const TOKEN = "bench-action-token";
const DIGEST = `sha256:${"0".repeat(64)}`;

function jobHcl(name: string): string {
  return `variable "image" {
  type = string
}

job "${name}" {
  type        = "service"
  datacenters = ["dc1"]

  group "app" {
    count = 1

    task "app" {
      driver = "docker"

      config {
        image = var.image
      }

      resources {
        cpu    = 1
        memory = 10
      }
    }
  }
}
`;
}

async function desiredRepo(qa: string, prod: string): Promise<GitRepo> {
  const repo = await GitRepo.create();
  await repo.write(
    "desired-state/steward.yaml",
    ["environments:", "  - name: qa", "    nomad:", `      address: ${qa}`, "  - name: prod", "    nomad:", `      address: ${prod}`, "sync:", "  drift: heal", "  prune: false", ""].join("\n"),
  );
  const writes: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    const name = serviceName(i);
    const dir = `desired-state/services/${name}`;
    writes.push(
      repo.write(`${dir}/service.yaml`, `image:\n  repository: 127.0.0.1:5000/${name}\n  digest: ${DIGEST}\nenvironments:\n  qa:\n  prod:\n`),
      repo.write(`${dir}/${name}.nomad.hcl`, jobHcl(name)),
    );
    if (writes.length >= 512) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  repo.commit(`${N} services in qa and prod`);
  return repo;
}

/** Installs, in the page, a recorder of when (Date.now()) each cell of `keys` showed each state. */
async function recordCells(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.__seen = [];
    new MutationObserver((ms) => {
      const now = Date.now();
      for (const m of ms) {
        const els = m.type === "attributes" ? [m.target] : [...m.addedNodes].flatMap((n) => n instanceof Element ? [n, ...n.querySelectorAll("[data-key]")] : []);
        for (const el of els) if (el instanceof Element && el.hasAttribute("data-key")) window.__seen.push({ key: el.getAttribute("data-key"), state: el.getAttribute("data-state"), at: now });
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
  })()`);
}

async function seenAt(page: Page, key: string, state: string, after: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const at = await page.evaluate<number | undefined, [string, string, number]>(
      ([k, s, t]) => (window as unknown as { __seen: Array<{ key: string; state: string; at: number }> }).__seen.find((x) => x.key === k && x.state === s && x.at >= t)?.at,
      [key, state, after],
    );
    if (at !== undefined) return at;
    if (Date.now() > deadline) throw new Error(`${key} never showed ${state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Installs, in the page, a recorder of when (Date.now()) each cell showed each deployment status. */
async function recordDeployments(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.__deploys = [];
    const note = (el, now) => {
      const cell = el.closest && el.closest("[data-key]");
      const d = cell && cell.querySelector("[data-deployment]");
      if (d) window.__deploys.push({ key: cell.getAttribute("data-key"), status: d.getAttribute("data-deployment"), at: now });
    };
    new MutationObserver((ms) => {
      const now = Date.now();
      for (const m of ms) note(m.target instanceof Element ? m.target : m.target.parentElement, now);
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["data-deployment"] });
  })()`);
}

async function deploymentSeenAt(page: Page, key: string, status: string, after: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const at = await page.evaluate<number | undefined, [string, string, number]>(
      ([k, s, t]) => (window as unknown as { __deploys: Array<{ key: string; status: string; at: number }> }).__deploys.find((x) => x.key === k && x.status === s && x.at >= t)?.at,
      [key, status, after],
    );
    if (at !== undefined) return at;
    if (Date.now() > deadline) throw new Error(`${key} never showed deployment ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const skip = uiSkipReason();
  if (skip) {
    process.stderr.write(`bench:ui: ${skip}\n`);
    process.exit(1);
  }
  ensureUiBuilt();
  const startedAt = new Date();
  const load = loadAverage();
  progress(`sim (qa, prod), ${N} services`);
  const sim = await startSim({ healthyAfterMs: 200, clusters: [{ name: "qa", nodes: 10 }, { name: "prod", nodes: 10 }] });
  const repo = await desiredRepo(sim.urls.nomad.qa ?? "", sim.urls.nomad.prod ?? "");
  const dataDir = await mkdtemp(path.join(tmpdir(), "steward-bench-ui-"));
  process.env.STEWARD_BENCH_ACTION_TOKEN = TOKEN;
  const daemon = new Daemon(
    {
      source: { git: { url: repo.dir, branch: "main", subdir: "desired-state", fetchIntervalMs: 60_000 } },
      consul: { address: sim.urls.consul },
      statePrefix: "steward",
      http: { listen: "127.0.0.1:0" },
      instanceId: "bench",
      dataDir,
      api: { actionToken: { env: "STEWARD_BENCH_ACTION_TOKEN", name: "bench" } },
    },
    { logger: createLogger({ level: process.env.STEWARD_BENCH_LOG ?? "silent" }), metrics: createMetrics({ defaultMetrics: false }), leader: { ttlMs: 15_000, lockDelayMs: 500 }, watchWaitMs: 10_000 },
  );
  const browser = await launchChromium();
  const out: string[] = [];
  try {
    const t = performance.now();
    await daemon.start();
    const inSync = (): number => Object.values(daemon.live.hub.snapshot().collections.sync).filter((c) => c.state === "in_sync").length;
    await until(() => daemon.elector.isLeader, 30_000, "leadership");
    // until() polls synchronously; the count is cheap enough at 2,000 cells.
    for (;;) {
      if (inSync() === 2 * N) break;
      if (performance.now() - t > 600_000) throw new Error(`only ${inSync()} of ${2 * N} jobs in sync after 10 min`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const syncMs = performance.now() - t;
    progress(`${2 * N} jobs in sync after ${fmt(syncMs / 1000)} s`);
    const snapshotKb = Buffer.byteLength(JSON.stringify(daemon.live.hub.snapshot())) / 1024;

    // ---- first meaningful render ----
    const renders: number[] = [];
    let domElements = 0;
    let rowsInDom = 0;
    for (let i = 0; i < 7; i++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${daemon.url}/ui/`);
      await page.waitForFunction((n) => {
        const s = document.querySelector("[data-testid=summary]")?.textContent ?? "";
        return s.includes(`${n.toLocaleString()} jobs`) && document.querySelector('[role=gridcell][data-state="in_sync"]') !== null;
      }, 2 * N);
      const ms = await page.evaluate(() => performance.now());
      if (i > 1) renders.push(ms); // the first two warm the browser's cache and compiler
      domElements = await page.evaluate(() => document.getElementsByTagName("*").length);
      rowsInDom = await page.evaluate(() => document.querySelectorAll(".grid-body [role=row]").length);
      await page.close();
    }
    const r = stats(renders);

    // ---- update latency: a job stopped in Nomad -> its cell ----
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${daemon.url}/ui/`);
    await page.locator('[role=gridcell][data-key="qa/svc-00000"][data-state="in_sync"]').waitFor({ timeout: 60_000 });
    await recordCells(page);
    // Steward re-registers a stopped job within the 50 ms batching window, so the page would see no change at all:
    // registers in qa are held back 2 s, and the out-of-sync state stays long enough to be seen and timed.
    const hold = sim.control.addFault({ target: "nomad:qa", method: "PUT", path: "/v1/jobs", kind: "latency", latencyMs: 2_000 });
    const toOut: number[] = [];
    const toIn: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const key = `qa/${serviceName(i % 10)}`;
      const sent = Date.now();
      const res = await fetch(`${sim.urls.nomad.qa}/v1/job/${serviceName(i % 10)}`, { method: "DELETE" });
      if (!res.ok) throw new Error(`DELETE answered ${res.status}`);
      toOut.push((await seenAt(page, key, "out_of_sync", sent)) - sent);
      toIn.push((await seenAt(page, key, "in_sync", sent)) - sent - 2_000);
    }
    sim.control.removeFault(hold.id);
    const a = stats(toOut);
    const b = stats(toIn);

    // ---- a bulk update: pause all, resume all ----
    const act = async (name: string): Promise<number> => {
      const sent = Date.now();
      const res = await fetch(`${daemon.url}/api/actions/${name}`, { method: "POST", headers: { "Content-Type": "application/json", "X-Steward-Action": "1", Authorization: `Bearer ${TOKEN}` }, body: "{}" });
      if (!res.ok) throw new Error(`${name} answered ${res.status}`);
      const want = name === "pause" ? `${(2 * N).toLocaleString()} paused` : `${(2 * N).toLocaleString()} synced`;
      await page.waitForFunction((w) => (document.querySelector("[data-testid=summary]")?.textContent ?? "").includes(w), want, { timeout: 60_000 });
      return Date.now() - sent;
    };
    const pauseMs = await act("pause");
    const resumeMs = await act("resume");

    // ---- deployments: a new version registered in Nomad -> its cell's deployment ----
    // Steward is paused meanwhile, so it leaves the hand-registered versions alone (drift: heal would register its own).
    await act("pause");
    // The rounds above started deployments of their own (10 s of min_healthy_time each): a new one must change what the cell shows.
    await page.waitForFunction(() => document.querySelectorAll('[role=gridcell] [data-deployment="successful"]').length > 0 && document.querySelectorAll('[role=gridcell] [data-deployment="running"]').length === 0, undefined, { timeout: 120_000 });
    await recordDeployments(page);
    const toRunning: number[] = [];
    const toFailed: number[] = [];
    const sentAt: Array<[string, number]> = [];
    const BAD = `sha256:${"d".repeat(64)}`;
    sim.control.markImageUnhealthy(BAD);
    for (let i = 0; i < ROUNDS; i++) {
      // A new image sim never lets become healthy: Nomad rolls it out in a new deployment, which fails.
      const name = serviceName(i % N);
      const job = (await (await fetch(`${sim.urls.nomad.qa}/v1/job/${name}`)).json()) as { TaskGroups: Array<{ Tasks: Array<{ Config: { image: string }; Env?: Record<string, string> | null }> }> };
      const task = job.TaskGroups[0]?.Tasks[0];
      if (task) {
        task.Config.image = `127.0.0.1:5000/${name}@${BAD}`;
        task.Env = { ...task.Env, BENCH_ROUND: String(i) };
      }
      const sent = Date.now();
      const res = await fetch(`${sim.urls.nomad.qa}/v1/jobs`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ Job: job }) });
      if (!res.ok) throw new Error(`register answered ${res.status}`);
      toRunning.push((await deploymentSeenAt(page, `qa/${name}`, "running", sent)) - sent);
      sentAt.push([`qa/${name}`, sent]);
    }
    for (const [key, sent] of sentAt) toFailed.push((await deploymentSeenAt(page, key, "failed", sent, 120_000)) - sent);
    const failedAt = await page.evaluate<string>("JSON.stringify([...document.querySelectorAll('[data-deployment=failed]')].length)");
    const dr = stats(toRunning);
    const df = stats(toFailed);
    const listRes = await fetch(`${sim.urls.nomad.prod}/v1/deployments`);
    const listText = await listRes.text();
    const parses: number[] = [];
    let perJob = 0;
    let listed = 0;
    for (let i = 0; i < 20; i++) {
      const p0 = performance.now();
      const list = JSON.parse(listText) as NomadDeploymentStub[];
      perJob = latestByJob(list).size;
      listed = list.length;
      parses.push(performance.now() - p0);
    }
    const lp = stats(parses);
    await page.close();

    out.push(`Run at ${startedAt.toISOString()} on commit ${commitId()}; ${machine()}; load average before: ${load}.`);
    out.push("");
    out.push(
      table(
        ["measure", "p50 ms", "p95 ms", "min ms", "max ms", "n", "notes"],
        [
          ["first meaningful render (navigation → grid with all cells counted)", fmt(r.p50), fmt(r.p95), fmt(r.min), fmt(r.max), String(r.n), `${2 * N} cells; snapshot ${fmt(snapshotKb, 0)} KiB; ${rowsInDom} rows in the DOM (virtualised), ${domElements} elements`],
          ["job stopped in Nomad → its cell shows out of sync", fmt(a.p50), fmt(a.p95), fmt(a.min), fmt(a.max), String(a.n), "DELETE sent → DOM attribute changed (MutationObserver), one clock"],
          ["same → cell synced again, less the 2 s the register was held", fmt(b.p50), fmt(b.p95), fmt(b.min), fmt(b.max), String(b.n), "the register's answer → patch → page"],
          [`pause all → all ${2 * N} cells paused on the page`, fmt(pauseMs), "", "", "", "1", "action POST → summary counts every cell paused"],
          [`resume all → all ${2 * N} cells synced`, fmt(resumeMs), "", "", "", "1", ""],
          ["new job version registered in Nomad → its cell shows the new deployment running", fmt(dr.p50), fmt(dr.p95), fmt(dr.min), fmt(dr.max), String(dr.n), `PUT sent → data-deployment="running" in the DOM, one clock; the deployments watch reads at most once a second`],
          ["same → the cell shows the deployment failed", fmt(df.p50), fmt(df.p95), fmt(df.min), fmt(df.max), String(df.n), `an image sim never lets become healthy; mostly Nomad's 10 s min_healthy_time (${failedAt} cells showed failed at the end)`],
          [`one environment's deployments list: parse + latest per job`, fmt(lp.p50), fmt(lp.p95), fmt(lp.min), fmt(lp.max), String(lp.n), `${listed} deployments of ${perJob} jobs, ${fmt(Buffer.byteLength(listText) / 1024, 0)} KiB; read only when X-Nomad-Index moved, at most once a second`],
        ],
      ),
    );
    out.push("");
    out.push(`- Steward, sim (qa and prod, 10 client nodes each) and the bench share one process; Chromium headless is its own. The initial sync of ${2 * N} jobs took ${fmt(syncMs / 1000)} s.`);
    out.push("- Latencies include the hub's 50 ms batching (LIVE_FLUSH_MS) and the jobs-list blocking query; a stopped job is seen by that watch, its cell recomputed and sent by key (one cell's JSON in the patch). Registers in qa were held back 2 s by a sim latency fault during these rounds, or the re-register would land inside the batching window and the page would never show the cell out of sync.");
    process.stdout.write(`${out.join("\n")}\n`);
    await writeResultsSection("ui", `## bench:ui — the live UI at ${N} services × 2 environments\n\n${out.join("\n")}`);
  } finally {
    await browser.close();
    await daemon.stop();
    await sim.close();
    await repo.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:ui failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

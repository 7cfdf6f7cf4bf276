// The live UI's end-to-end fixture: sim, the example desired state in a real
// git repository, two Steward daemons (the demo's parts), the production
// build of ui/, and Debian's Chromium driven by playwright-core.
import { mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import axios from "axios";
import type { Page } from "playwright-core";
import { startSim, type Sim } from "../../sim/index.js";
import { Daemon } from "../../src/daemon.js";
import { createLogger } from "../../src/log.js";
import { createMetrics } from "../../src/metrics.js";
import { hubSignature } from "../../src/sources/git-webhook.js";
import { GitRepo } from "./git-repo.js";
import { CountingBudget, FakeTerraform } from "./healing-fixture.js";
import { REPO_ROOT, stewardYaml } from "./sync-fixture.js";

export { chromiumPath, ensureUiBuilt, launchChromium, uiSkipReason } from "./browser.js";

/** The action token of the test daemons. */
export const UI_TOKEN = "ui-test-action-token";
const HOOK_SECRET = "ui-test-hook-secret";

/** Where the tests write their screenshots (gitignored); docs/screenshots holds the committed ones. */
export const SCREENSHOT_DIR = path.join(REPO_ROOT, "test-results", "ui");

/** The world of the UI tests: sim, a git repository of the example desired state, and daemons. */
export interface UiWorld {
  sim: Sim;
  repo: GitRepo;
  /** Terraform as a fake that replaces sim machines (test/helpers/healing-fixture.ts); the pool's workers a..e are booted. */
  terraform: FakeTerraform;
  daemons: Daemon[];
  dirs: string[];
  /** Starts one daemon (instance id `id`) with the action token configured. */
  start(id: string): Promise<Daemon>;
  /** Pushes `hello:build-<n>` to sim's registry, as CI would; returns its digest. */
  push(n: number): string;
  /** Commits a file change and announces it with a signed webhook to `d`. */
  commit(d: Daemon, file: string, edit: (text: string) => string, message: string): Promise<string>;
  close(): Promise<void>;
}

/** sim + the example desired state in git, as the demo sets them up. */
export async function uiWorld(): Promise<UiWorld> {
  const sim = await startSim({ healthyAfterMs: 200 });
  const repo = await GitRepo.create();
  await repo.copyIn(path.join(REPO_ROOT, "desired-state"), "desired-state");
  await repo.write("desired-state/steward.yaml", stewardYaml(sim));
  // Deployments that take a second, not ten, per allocation: the tests watch whole promotions.
  const hcl = await readFile(path.join(REPO_ROOT, "desired-state/services/hello/hello.nomad.hcl"), "utf8");
  await repo.write("desired-state/services/hello/hello.nomad.hcl", hcl.replace('min_healthy_time = "10s"', 'min_healthy_time = "1s"'));
  // hello is promoted from sim's registry, with a manual gate after qa (the approval the UI gives).
  await repo.write(
    "desired-state/services/hello/service.yaml",
    [
      "job: hello.nomad.hcl",
      "image:",
      `  repository: ${new URL(sim.urls.registry).host}/hello`,
      `  digest: sha256:${"0".repeat(64)}`,
      "  policy:",
      "    type: buildNumber",
      "environments:",
      "  qa:",
      "  prod:",
      "    variables:",
      "      count: 2",
      "promotion:",
      "  gates:",
      "    qa:",
      "      - manual: true",
      "",
    ].join("\n"),
  );
  // The workers pool: lost after 2 s unhealthy, no cooldown; its five machines booted through the fake Terraform.
  const pool = await readFile(path.join(REPO_ROOT, "desired-state/pools/workers.yaml"), "utf8");
  await repo.write("desired-state/pools/workers.yaml", pool.replace("unhealthyAfter: 5m", "unhealthyAfter: 2s").replace("cooldown: 2m", "cooldown: 0s"));
  const terraform = new FakeTerraform(sim, 1_500);
  terraform.boot(["a", "b", "c", "d", "e"]);
  repo.commit("the example desired state");
  process.env.STEWARD_UI_TEST_HOOK_SECRET = HOOK_SECRET;
  process.env.STEWARD_UI_TEST_ACTION_TOKEN = UI_TOKEN;
  const w: UiWorld = {
    sim,
    repo,
    terraform,
    daemons: [],
    dirs: [],
    async start(id) {
      const dataDir = await mkdtemp(path.join(tmpdir(), `steward-ui-${id}-`));
      w.dirs.push(dataDir);
      const d = new Daemon(
        {
          source: { git: { url: repo.dir, branch: "main", subdir: "desired-state", fetchIntervalMs: 60_000 } },
          consul: { address: sim.urls.consul },
          statePrefix: "steward",
          http: { listen: "127.0.0.1:0" },
          webhookSecret: { env: "STEWARD_UI_TEST_HOOK_SECRET" },
          instanceId: id,
          dataDir,
          api: { actionToken: { env: "STEWARD_UI_TEST_ACTION_TOKEN", name: "ops" } },
          healing: { terraformRoot: dataDir },
        },
        {
          logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent", base: { instance: id } }),
          metrics: createMetrics({ defaultMetrics: false }),
          leader: { ttlMs: 10_000, lockDelayMs: 500, waitMs: 5_000 },
          watchWaitMs: 5_000,
          promotion: { pollIntervalMs: 300, pollBackoff: { baseMs: 200, capMs: 1_000 } },
          healing: { terraform, budget: new CountingBudget(10), watchWaitMs: 2_000, bootTimeoutMs: 10 * 60_000 },
        },
      );
      await d.start();
      w.daemons.push(d);
      return d;
    },
    push: (n) => sim.registry.pushImage("hello", `build-${n}`, { format: "docker", layer: `hello build ${n}` }),
    async commit(d, file, edit, message) {
      const full = path.join(repo.dir, file);
      await repo.write(file, edit(await readFile(full, "utf8")));
      const sha = repo.commit(message);
      const body = Buffer.from(JSON.stringify({ ref: "refs/heads/main", after: sha }));
      await axios.post(`${d.url}/hooks/git`, body, { headers: { "Content-Type": "application/json", "X-Hub-Signature-256": hubSignature(HOOK_SECRET, body) } });
      return sha;
    },
    async close() {
      await Promise.all(w.daemons.map((d) => d.stop().catch(() => undefined)));
      await sim.close();
      await repo.destroy();
      await Promise.all(w.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
  return w;
}

/** Waits until the cell `key` (`qa/web`) shows `state` on the page. */
export async function cellState(page: Page, key: string, state: string, timeoutMs = 15_000): Promise<void> {
  await page.locator(`[role=gridcell][data-key="${key}"][data-state="${state}"]`).waitFor({ timeout: timeoutMs });
}

/**
 * Starts recording every state a cell shows, from now on, in the page
 * itself (a MutationObserver), so a state that lasts less than a poll is
 * still seen. Read them with `recordedStates`.
 */
export async function recordStates(page: Page): Promise<void> {
  // A string, not a function: tsx's transform would wrap named functions in a helper the page does not have.
  await page.evaluate(`(() => {
    window.__states = {};
    const note = (el) => {
      const key = el.getAttribute("data-key");
      const state = el.getAttribute("data-state");
      if (!key || !state) return;
      const list = (window.__states[key] ??= []);
      if (list[list.length - 1] !== state) list.push(state);
    };
    document.querySelectorAll("[data-key][data-state]").forEach(note);
    new MutationObserver((ms) => {
      for (const m of ms) {
        if (m.type === "attributes" && m.target instanceof Element) note(m.target);
        for (const n of m.addedNodes) if (n instanceof Element) n.querySelectorAll("[data-key][data-state]").forEach(note);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
  })()`);
}

/** The states the cell showed since `recordStates`, in order, without repeats. */
export async function recordedStates(page: Page, key: string): Promise<string[]> {
  return page.evaluate((k) => (window as unknown as { __states: Record<string, string[]> }).__states[k] ?? [], key);
}

/** Runs axe-core in the page; returns the serious and critical violations (id, impact, help, targets). */
export async function axeViolations(page: Page): Promise<Array<{ id: string; impact: string; help: string; nodes: string[] }>> {
  const source = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.addScriptTag({ content: source });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact ?? "", help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

/** Saves a PNG under test-results/ui (gitignored), and returns its path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

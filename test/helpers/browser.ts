// Debian's Chromium for the UI tests and bench:ui, and the UI's production
// build. No ava here: the benchmark imports it too.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Debian's Chromium, or CHROMIUM_BIN; undefined when it is not installed. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_BIN, "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

/**
 * Why the UI tests cannot run here, or undefined when they can. With
 * STEWARD_REQUIRE_CHROMIUM=1 (.ci/run) a missing Chromium throws instead:
 * CI must not pass with the UI untested.
 */
export function uiSkipReason(): string | undefined {
  if (chromiumPath()) return undefined;
  const reason = "Chromium is not installed (apt-get install chromium, or set CHROMIUM_BIN): the UI tests are skipped";
  if (process.env.STEWARD_REQUIRE_CHROMIUM === "1") throw new Error(`${reason}, but STEWARD_REQUIRE_CHROMIUM=1 requires them`);
  return reason;
}

const UI_DIST = path.join(REPO_ROOT, "dist", "ui");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds ui/ into dist/ui unless the build is newer than every source (`npm run build` is what setup.sh runs). */
export function ensureUiBuilt(): string {
  const index = path.join(UI_DIST, "index.html");
  const sources = Math.max(newestMtime(path.join(REPO_ROOT, "ui")), statSync(path.join(REPO_ROOT, "src/server/live-types.ts")).mtimeMs);
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    const vite = path.join(path.dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
    execFileSync(process.execPath, [vite, "build", "--config", "ui/vite.config.mjs"], { cwd: REPO_ROOT, stdio: "inherit" });
  }
  return UI_DIST;
}

/** Launches Chromium headless (no sandbox: tests often run as root in containers). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("Chromium is not installed");
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

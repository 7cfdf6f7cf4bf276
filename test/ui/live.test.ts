// The live UI in real Chromium against the demo's parts on sim: two Steward
// instances, the example desired state in git. One world for the file; the
// tests run in order, the failover last.
import test from "ava";
import { copyFileSync, mkdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import axios from "axios";
import type { Browser, Page } from "playwright-core";
import type { Daemon } from "../../src/daemon.js";
import { eventually } from "../helpers/eventually.js";
import { REPO_ROOT } from "../helpers/sync-fixture.js";
import {
  UI_TOKEN,
  axeViolations,
  cellState,
  ensureUiBuilt,
  launchChromium,
  recordStates,
  recordedStates,
  screenshot,
  uiSkipReason,
  uiWorld,
  type UiWorld,
} from "../helpers/ui.js";

const skip = uiSkipReason();
if (skip) console.log(`test/ui/live.test.ts: ${skip}`);
const uiTest = skip ? test.serial.skip : test.serial;

interface Ctx {
  w: UiWorld;
  browser: Browser;
  leader: Daemon;
  standby: Daemon;
}
let ctx: Ctx | undefined;

/** Also copies the screenshot to docs/screenshots when asked to (STEWARD_UPDATE_SCREENSHOTS=1): the README's images are refreshed on purpose, never by CI. */
async function shot(page: Page, name: string): Promise<void> {
  const file = await screenshot(page, name);
  if (process.env.STEWARD_UPDATE_SCREENSHOTS === "1") {
    const dir = path.join(REPO_ROOT, "docs", "screenshots");
    mkdirSync(dir, { recursive: true });
    copyFileSync(file, path.join(dir, `${name}.png`));
  }
}

async function open(d: Daemon, hash = "#/"): Promise<Page> {
  if (!ctx) throw new Error("no world");
  const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 760 }, bypassCSP: true });
  await page.goto(`${d.url}/ui/${hash}`);
  return page;
}

test.before(async () => {
  if (skip) return;
  ensureUiBuilt();
  const w = await uiWorld();
  const a = await w.start("steward-a");
  const b = await w.start("steward-b");
  const leader = (await eventually(() => [a, b].find((d) => d.elector.isLeader), { timeoutMs: 15_000 })) as Daemon;
  const standby = leader === a ? b : a;
  const browser = await launchChromium();
  ctx = { w, browser, leader, standby };
});

test.after.always(async () => {
  await ctx?.browser.close();
  await ctx?.w.close();
});

uiTest("overview_shows_every_job_synced_with_its_deployment_the_leader_the_standby_and_the_revision", async (t) => {
  const { leader, standby } = ctx!;
  const page = await open(leader);
  for (const key of ["qa/web", "prod/web", "qa/api", "prod/api"]) await cellState(page, key, "in_sync");
  await page.locator(`[data-testid=leader][data-leader="${leader.config.instanceId}"]`).waitFor();
  t.regex(await page.locator("[data-testid=leader]").innerText(), new RegExp(`Leader: ${leader.config.instanceId}`));
  t.regex(await page.locator("[data-testid=revision]").innerText(), /^[0-9a-f]{8}$/, "the revision in force is shown");
  // Each cell ends with its job's latest Nomad deployment: the first sync's deployments succeed.
  await page.locator(`[data-key="prod/web"] [data-deployment=successful]`).waitFor({ timeout: 20_000 });
  t.regex(await page.locator(`[data-key="prod/web"]`).innerText(), /synced[\s\S]*00000000[\s\S]*successful/, "state, short digest and deployment status");
  // The deployment's description shows on focus (and hover), outside the grid's clipping.
  await page.locator(`[data-key="prod/web"]`).focus();
  t.regex(await page.getByTestId("cell-tip").innerText(), /Deployment successful \(job version \d+\): Deployment completed successfully/);
  t.is(await page.locator(`[data-key="prod/web"]`).getAttribute("aria-describedby"), "cell-tip", "the description is the focused cell's description for screen readers too");
  // Who is there: the leader and the standby, each with its address and readiness.
  const instances = page.getByTestId("instances");
  await instances.locator(`[data-role=leader][data-instance="${leader.config.instanceId}"]`).waitFor();
  await instances.locator(`[data-role=standby][data-instance="${standby.config.instanceId}"]`, { hasText: "ready" }).waitFor({ timeout: 15_000 });
  t.regex(await instances.locator("[data-role=standby]").innerText(), new RegExp(`standby ${standby.config.instanceId} ${standby.url ?? ""} up since .* · ✓ ready`));
  t.is(await page.locator("[data-testid=link]").innerText().then((s) => s.trim()), "● live");
  await shot(page, "overview");
  t.deepEqual(await axeViolations(page), [], "no serious or critical accessibility violation");
  await page.close();
});

uiTest("keyboard_moves_through_the_grid_and_enter_opens_the_service", async (t) => {
  const page = await open(ctx!.leader);
  // Both rows the test moves through are there (a fresh world may still be registering the second).
  await cellState(page, "qa/api", "in_sync");
  await cellState(page, "qa/hello", "in_sync");
  await page.locator('[role=rowheader][tabindex="0"]').focus();
  await page.keyboard.press("ArrowRight");
  await page.locator('[data-row="0"][data-col="1"]:focus').waitFor();
  await page.keyboard.press("ArrowDown");
  await page.locator('[data-row="1"][data-col="1"]:focus').waitFor();
  t.is(await page.locator('[role=gridcell][tabindex="0"]').count(), 1, "one tab stop in the grid (roving tabindex)");
  await page.keyboard.press("Enter");
  await page.locator("#service-title").waitFor();
  t.regex(page.url(), /#\/service\/\w+/);
  await page.close();
});

uiTest("a_commit_turns_the_cell_out_of_sync_then_synced_without_reload", async (t) => {
  const { w, leader } = ctx!;
  const page = await open(leader);
  await cellState(page, "prod/web", "in_sync");
  await recordStates(page);
  // Registers in prod take 1.5 s, so the out-of-sync state is there to be seen (as on a busy cluster).
  const fault = w.sim.control.addFault({ target: "nomad:prod", method: "PUT", path: "/v1/jobs", kind: "latency", latencyMs: 1_500, count: 1 });
  const sha = await w.commit(leader, "desired-state/services/web/service.yaml", (s) => s.replace("count: 3", "count: 4"), "web: 4 instances in prod");
  await cellState(page, "prod/web", "in_sync", 20_000);
  await eventually(async () => (await recordedStates(page, "prod/web")).includes("in_sync") && (await recordedStates(page, "prod/web")).length >= 3, { timeoutMs: 20_000 });
  t.deepEqual(await recordedStates(page, "prod/web"), ["in_sync", "out_of_sync", "in_sync"]);
  t.deepEqual(await recordedStates(page, "prod/api"), ["in_sync"], "the job the commit did not touch never left in_sync");
  w.sim.control.removeFault(fault.id);
  await page.locator("[data-testid=revision]", { hasText: sha.slice(0, 8) }).waitFor();
  t.regex(await page.locator("[data-testid=revision]").first().innerText(), new RegExp(sha.slice(0, 8)), "the page shows the new revision");
  await page.close();
});

uiTest("a_hand_edit_in_nomad_shows_as_drift_then_healed", async (t) => {
  const { w, leader } = ctx!;
  const page = await open(leader);
  await cellState(page, "qa/web", "in_sync");
  await recordStates(page);
  const qa = axios.create({ baseURL: w.sim.urls.nomad.qa ?? "", validateStatus: () => true });
  const job = (await qa.get("/v1/job/web")).data;
  job.TaskGroups[0].Tasks[0].Config.image = "127.0.0.1:5000/web:latest";
  // The hand edit and the heal each take 1.5 s in qa, so the drift is on screen long enough to see.
  const fault = w.sim.control.addFault({ target: "nomad:qa", method: "PUT", path: "/v1/jobs", kind: "latency", latencyMs: 1_500, count: 2 });
  t.is((await qa.put("/v1/jobs", { Job: job })).status, 200);
  await eventually(async () => (await recordedStates(page, "qa/web")).join(",").endsWith("drifted,in_sync"), { timeoutMs: 20_000 });
  w.sim.control.removeFault(fault.id);
  const events = page.locator(".events");
  await page.goto(`${leader.url}/ui/#/service/web`);
  await events.locator("li", { hasText: "DriftHealed" }).first().waitFor();
  t.regex(await events.innerText(), /qa\/web: register \(DriftHealed\)[^\n]*Config\.image/, "the event names the field that drifted");
  await page.close();
});

uiTest("actions_without_a_token_are_refused_with_a_message", async (t) => {
  const { w, leader } = ctx!;
  const page = await open(leader);
  await cellState(page, "qa/web", "in_sync");
  await page.getByRole("button", { name: "Pause all" }).click();
  const notice = page.getByTestId("action-result");
  await notice.locator("text=refused").waitFor();
  t.regex(await notice.innerText(), /Pause all: ✕ refused: missing Authorization header: send Authorization: Bearer <api.actionToken>/);
  const kv = await axios.get(`${w.sim.urls.consul}/v1/kv/steward/control/pause`, { validateStatus: () => true });
  t.is(kv.status, 404, "nothing was paused");
  // A cross-site request is refused before the token is even looked at.
  const forged = await axios.post(`${leader.url}/api/actions/pause`, {}, { headers: { Authorization: `Bearer ${UI_TOKEN}`, Origin: "http://evil.example" }, validateStatus: () => true });
  t.is(forged.status, 403);
  t.regex(forged.data.message, /X-Steward-Action/);
  await page.close();
});

uiTest("with_the_token_pause_resume_and_sync_now_work_and_are_recorded", async (t) => {
  const { leader } = ctx!;
  const page = await open(leader, "#/service/web");
  await page.locator("[data-env=qa][data-state=in_sync]").waitFor();
  // The environment's header line and its Nomad line carry the job's latest deployment.
  await page.locator("[data-env=qa] h3 [data-deployment]").waitFor();
  t.regex(await page.getByTestId("deployment-qa").innerText(), /Deployment (successful|running) \(job version \d+\)/);
  await page.getByRole("button", { name: "Set action token" }).click();
  await page.getByLabel("Your name").fill("alice");
  await page.getByLabel("Action token").fill(UI_TOKEN);
  await page.getByRole("button", { name: "Save for this tab" }).click();
  await page.getByRole("button", { name: "Pause web" }).click();
  await page.getByTestId("action-result").locator("text=web paused").waitFor();
  await page.locator("[data-env=qa][data-state=paused]").waitFor();
  await page.locator("[data-env=prod][data-state=paused]").waitFor();
  await page.locator(".events li", { hasText: "pause/web on by alice via ui (token ops)" }).waitFor();
  await page.getByRole("button", { name: "Resume web" }).click();
  await page.locator("[data-env=qa][data-state=in_sync]").waitFor();
  await page.getByRole("button", { name: "Sync web" }).click();
  await page.getByTestId("action-result").locator("text=a sync of service web was requested").waitFor();
  await page.locator(".events li", { hasText: "sync-now requested for service web" }).waitFor();
  t.regex(await page.locator(".events").innerText(), /alice via ui \(token ops\): resume web/);
  t.deepEqual(await axeViolations(page), [], "no serious or critical accessibility violation");
  await page.close();
});

uiTest("a_promotion_waits_on_the_manual_gate_and_approve_in_the_page_sends_prod_the_digest", async (t) => {
  const { w, leader } = ctx!;
  const page = await open(leader, "#/service/hello");
  const digest = w.push(1);
  const approve = page.getByRole("button", { name: "Approve build-1" });
  await approve.waitFor({ timeout: 30_000 });
  t.regex(await page.locator(`[data-digest="${digest}"]`).innerText(), /GatePending: .*manual approval/);
  // Without a token (a fresh tab has none) the approval is refused, and prod stays where it was.
  await page.evaluate(() => sessionStorage.clear());
  await approve.click();
  await page.getByTestId("action-result").locator("text=refused").waitFor();
  t.regex(await page.getByTestId("action-result").innerText(), /Approve build-1: ✕ refused: missing Authorization header/);
  t.notRegex(await page.getByTestId("stage-digest-prod").innerText(), /build-1/);
  await page.evaluate((token) => {
    sessionStorage.setItem("steward.actionToken", token);
    sessionStorage.setItem("steward.who", "carol");
  }, UI_TOKEN);
  await approve.click();
  await page.getByTestId("action-result").locator("text=approved").waitFor();
  await page.getByTestId("stage-digest-prod").locator("text=build-1").waitFor({ timeout: 30_000 });
  await page.locator(".events li", { hasText: "approved by carol via ui via ops" }).first().waitFor();
  await page.locator(".journal", { hasText: "PromotionComplete" }).waitFor({ timeout: 30_000 });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.locator("#service-title").scrollIntoViewIfNeeded();
  await shot(page, "service");
  t.deepEqual(await axeViolations(page), [], "no serious or critical accessibility violation");
  await page.goto(`${leader.url}/ui/#/`);
  await page.locator(`[data-key="prod/hello"] .digest`, { hasText: digest.slice(7, 15) }).waitFor();
  t.regex(await page.locator(`[data-key="prod/hello"] .digest`).first().innerText(), new RegExp(digest.slice(7, 15)), "the overview's prod cell shows the promoted digest");
  await page.close();
});

uiTest("the_service_page_shows_the_plan_as_steward_plan_does", async (t) => {
  const { leader } = ctx!;
  const page = await open(leader, "#/service/api");
  await page.locator("[data-testid=plan] li").first().waitFor();
  const plan = await page.getByTestId("plan").innerText();
  t.regex(plan, /qa\/api \[InSync\]/);
  t.regex(plan, /prod\/api \[InSync\]/);
  await page.close();
});

uiTest("a_killed_worker_shows_unhealthy_then_lost_then_replaced_step_by_step_on_the_pool_page", async (t) => {
  const { w, leader } = ctx!;
  const page = await open(leader, "#/pools");
  await page.getByTestId("healthy-workers").locator("text=5 healthy").waitFor({ timeout: 20_000 });
  await page.evaluate(`(() => {
    window.__steps = [];
    const note = () => document.querySelectorAll("[data-node][data-step]").forEach((el) => {
      const s = el.getAttribute("data-node") + ":" + el.getAttribute("data-step");
      if (window.__steps[window.__steps.length - 1] !== s) window.__steps.push(s);
    });
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-step"] });
  })()`);
  const victim = w.sim.world.list("prod").find((m) => m.meta.terraform_key === "b");
  // Terraform "echoes" the action token (a credential) in a provider log line and a diagnostic: it must never reach the page.
  w.terraform.leak = UI_TOKEN;
  w.sim.world.kill(victim?.id ?? "");
  await page.getByTestId("unhealthy-workers").locator("text=1 unhealthy").waitFor({ timeout: 20_000 });
  await page.getByTestId("lost-workers").locator("text=1 lost").waitFor({ timeout: 20_000 });
  await page.locator(`[data-node="${victim?.name}"][data-step="applying"]`).waitFor({ timeout: 20_000 });
  await page.locator(`[data-node="${victim?.name}"] [aria-current=step]`, { hasText: "terraform apply" }).waitFor();
  // Terraform's own lines, live, under the replacement's step.
  const progress = page.getByTestId(`tf-progress-${victim?.name}`);
  await progress.locator("li", { hasText: 'module.workers.aws_instance.worker["b"]: Creating...' }).waitFor({ timeout: 20_000 });
  t.regex(await progress.innerText(), /worker\["b"\]: Plan to replace[\s\S]*Warning: Argument is deprecated: user_data was \[REDACTED\][\s\S]*worker\["b"\]: Destroying\.\.\. \[id=i-b-\d+\]/);
  t.false((await page.content()).includes(UI_TOKEN), "the credential Terraform echoed is not on the page");
  t.notRegex(await progress.innerText(), /assuming role/, "provider log lines are never shown");
  t.regex(await page.getByTestId("budget-tokens").first().innerText(), /Apply budget: \d+ appl(y|ies) left this window/);
  await shot(page, "pools");
  await page.locator(`[data-node="${victim?.name}"][data-step="done"]`).waitFor({ timeout: 30_000 });
  const steps = (await page.evaluate<string[]>("window.__steps")).map((x) => x.split(":")[1] ?? "");
  const seen = steps.filter((x, i) => steps.indexOf(x) === i);
  const order = ["draining", "applying", "applied", "purging", "done"];
  t.deepEqual(seen, order.filter((x) => seen.includes(x)), `the steps came in order: ${steps.join(" → ")}`);
  t.true(seen.includes("applying") && seen.includes("done"), steps.join(" → "));
  t.deepEqual(w.terraform.applies.length, 1, "one apply");
  await page.getByTestId("healthy-workers").locator("text=5 healthy").waitFor({ timeout: 20_000 });
  t.deepEqual(await axeViolations(page), []);
  await page.goto(`${leader.url}/ui/#/events`);
  await page.getByLabel("Pool").selectOption("workers");
  t.regex(await page.locator(".events").innerText(), new RegExp(`${victim?.name}[^\n]* applying`));
  w.terraform.leak = undefined;
  await page.close();
});

uiTest("a_short_circuited_pool_is_acknowledged_from_the_page_and_heals_within_its_guards", async (t) => {
  const { w, leader } = ctx!;
  const page = await open(leader, "#/pools");
  await page.getByTestId("healthy-workers").locator("text=5 healthy").waitFor({ timeout: 20_000 });
  const applied = w.terraform.applies.length;
  const killed = w.sim.world.list("prod").filter((m) => m.meta.steward_pool === "workers" && m.state === "up").slice(0, 3);
  for (const m of killed) w.sim.world.kill(m.id);
  const box = page.getByTestId("short-circuit-workers");
  await page.locator('[data-testid=short-circuit-workers][data-acknowledged="false"]').waitFor({ timeout: 20_000 });
  await page.getByTestId("lost-workers").locator("text=3 lost").waitFor({ timeout: 20_000 });
  t.regex(await box.innerText(), /Nothing is replaced: 3 of 5 nodes are unhealthy/);
  t.deepEqual(await axeViolations(page), [], "the short-circuit and its action are accessible");
  // Without a token the acknowledgement is refused, and nothing is written.
  await page.evaluate(() => sessionStorage.clear());
  await box.getByRole("button", { name: "Acknowledge short-circuit" }).click();
  await page.getByTestId("action-result").locator("text=refused").waitFor();
  t.regex(await page.getByTestId("action-result").innerText(), /Acknowledge short-circuit: ✕ refused: missing Authorization header/);
  const key = `${w.sim.urls.consul}/v1/kv/steward/control/ack-short-circuit/workers`;
  t.is((await axios.get(key, { validateStatus: () => true })).status, 404, "nothing acknowledged");
  t.is(w.terraform.applies.length, applied, "and nothing applied");
  await page.evaluate((token) => {
    sessionStorage.setItem("steward.actionToken", token);
    sessionStorage.setItem("steward.who", "dave");
  }, UI_TOKEN);
  await box.getByLabel("Why").fill("rack 4 lost power");
  await box.getByRole("button", { name: "Acknowledge short-circuit" }).click();
  await page.getByTestId("action-result").locator("text=is acknowledged").waitFor();
  await page.locator('[data-testid=short-circuit-workers][data-acknowledged="true"]').waitFor({ timeout: 20_000 });
  t.regex(await box.innerText(), /Short-circuit acknowledged by dave via ui \(token ops\), [^(]*\(rack 4 lost power\)/);
  // Replaced one at a time (maxConcurrent 1) until the pool is whole; the acknowledgement then goes.
  await page.getByTestId("healthy-workers").locator("text=5 healthy").waitFor({ timeout: 60_000 });
  await eventually(async () => (await axios.get(key, { validateStatus: () => true })).status === 404, { timeoutMs: 20_000 });
  t.deepEqual(w.terraform.applies.slice(applied).map((a) => a.replace.length), [1, 1, 1], "three applies of one -replace each");
  await page.getByTestId("short-circuit-workers").waitFor({ state: "detached", timeout: 20_000 });
  await page.goto(`${leader.url}/ui/#/events`);
  await page.getByLabel("Pool").selectOption("workers");
  const events = page.locator(".events");
  await events.locator("li", { hasText: "acknowledged the short-circuit of pool workers" }).waitFor();
  t.regex(await events.innerText(), /dave via ui \(token ops\): acknowledged the short-circuit of pool workers \(rack 4 lost power\)/);
  t.regex(await events.innerText(), /ack-short-circuit\/workers off/, "the acknowledgement's removal is in the stream");
  await page.close();
});

uiTest("the_events_and_pools_pages_are_accessible", async (t) => {
  const { leader } = ctx!;
  const page = await open(leader, "#/events");
  await page.locator(".events li").first().waitFor();
  await page.getByLabel("Environment").selectOption("qa");
  t.false(/\bprod\//.test(await page.locator(".events").innerText()), "filtered to qa");
  t.deepEqual(await axeViolations(page), []);
  await page.goto(`${leader.url}/ui/#/pools`);
  await page.getByRole("heading", { name: "Node pools" }).waitFor();
  t.deepEqual(await axeViolations(page), []);
  await page.close();
});

/**
 * A load balancer in front of the instances, as the page would reach them in
 * production: each request goes to the first upstream that accepts the
 * connection; a stream ends when its upstream does.
 */
async function balancer(upstreams: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const attempt = (i: number): void => {
      const base = upstreams[i];
      if (!base) {
        res.writeHead(502);
        res.end();
        return;
      }
      const up = http.request(new URL(req.url ?? "/", base), { method: req.method, headers: req.headers }, (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
        ures.on("close", () => res.end());
      });
      up.on("error", () => (res.headersSent ? res.end() : attempt(i + 1)));
      up.end();
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

uiTest("the_leader_goes_away_and_the_page_reconnects_shows_the_new_leader_and_keeps_updating", async (t) => {
  const { w, browser, leader, standby } = ctx!;
  // The page reaches Steward through a balancer that prefers the leader: the instance serving it goes away.
  const lb = await balancer([leader.url ?? "", standby.url ?? ""]);
  t.teardown(() => lb.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(`${lb.url}/ui/`);
  await page.locator(`[data-testid=leader][data-leader="${leader.config.instanceId}"][data-self="${leader.config.instanceId}"]`).waitFor();
  await cellState(page, "qa/api", "in_sync");
  const started = Date.now();
  await leader.stop();
  w.daemons.splice(w.daemons.indexOf(leader), 1);
  await page.locator(`[data-testid=leader][data-leader="${standby.config.instanceId}"][data-self="${standby.config.instanceId}"]`).waitFor({ timeout: 15_000 });
  t.log(`the page reconnected and showed the new leader ${Date.now() - started} ms after the leader stopped`);
  t.regex(await page.locator("[data-testid=leader]").innerText(), /this page from steward-\w \(leader\)/);
  // The overview's instance list: the new leader, and the old one gone (its presence key went with its session).
  const instances = page.getByTestId("instances");
  await instances.locator(`[data-role=leader][data-instance="${standby.config.instanceId}"]`).waitFor({ timeout: 15_000 });
  await instances.locator(`[data-instance="${leader.config.instanceId}"]`).waitFor({ state: "detached", timeout: 15_000 });
  t.regex(await instances.innerText(), /No standby/);
  await page.getByTestId("link").locator("text=live").waitFor();
  await recordStates(page);
  const fault = w.sim.control.addFault({ target: "nomad:prod", method: "PUT", path: "/v1/jobs", kind: "latency", latencyMs: 1_000, count: 1 });
  await w.commit(standby, "desired-state/services/web/service.yaml", (s) => s.replace("count: 4", "count: 2"), "web: back to 2 in prod");
  await eventually(async () => (await recordedStates(page, "prod/web")).join(",") === "in_sync,out_of_sync,in_sync", { timeoutMs: 20_000 });
  w.sim.control.removeFault(fault.id);
  await page.close();
});

// Freezing an environment and retrying a failed gate from the page, in real
// Chromium against two Steward instances on sim (the demo's parts). One
// world for the file; the tests run in order.
import test from "ava";
import axios from "axios";
import type { Browser, Page } from "playwright-core";
import type { Daemon } from "../../src/daemon.js";
import { eventually } from "../helpers/eventually.js";
import { UI_TOKEN, axeViolations, cellState, ensureUiBuilt, launchChromium, uiSkipReason, uiWorld, type UiWorld } from "../helpers/ui.js";

const skip = uiSkipReason();
if (skip) console.log(`test/ui/freeze-retry.test.ts: ${skip}`);
const uiTest = skip ? test.serial.skip : test.serial;

interface Ctx {
  w: UiWorld;
  browser: Browser;
  leader: Daemon;
}
let ctx: Ctx | undefined;

async function open(hash = "#/", who?: string): Promise<Page> {
  if (!ctx) throw new Error("no world");
  const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await page.goto(`${ctx.leader.url}/ui/${hash}`);
  if (who) {
    await page.evaluate(([token, name]) => {
      sessionStorage.setItem("steward.actionToken", token ?? "");
      sessionStorage.setItem("steward.who", name ?? "");
    }, [UI_TOKEN, who]);
  }
  return page;
}

async function countOf(w: UiWorld, env: string, job: string): Promise<number | undefined> {
  const r = await axios.get(`${w.sim.urls.nomad[env] ?? ""}/v1/job/${job}`, { validateStatus: () => true });
  return r.status === 200 ? (r.data.TaskGroups?.[0]?.Count as number) : undefined;
}

test.before(async () => {
  if (skip) return;
  ensureUiBuilt();
  const w = await uiWorld();
  const a = await w.start("steward-a");
  const b = await w.start("steward-b");
  const leader = (await eventually(() => [a, b].find((d) => d.elector.isLeader), { timeoutMs: 15_000 })) as Daemon;
  ctx = { w, browser: await launchChromium(), leader };
});

test.after.always(async () => {
  await ctx?.browser.close();
  await ctx?.w.close();
});

uiTest("freeze_without_a_token_is_refused_with_the_message", async (t) => {
  const { w } = ctx!;
  const page = await open();
  await cellState(page, "qa/web", "in_sync");
  await page.getByRole("button", { name: "Freeze qa" }).click();
  const notice = page.getByTestId("action-result");
  await notice.locator("text=refused").waitFor();
  t.regex(await notice.innerText(), /Freeze qa: ✕ refused: missing Authorization header/);
  const kv = await axios.get(`${w.sim.urls.consul}/v1/kv/steward/control/freeze/qa`, { validateStatus: () => true });
  t.is(kv.status, 404, "nothing was frozen");
  // With the token, an environment the desired state does not have is refused, named.
  const headers = { Authorization: `Bearer ${UI_TOKEN}`, "X-Steward-Action": "1", "Content-Type": "application/json" };
  const unknown = await axios.post(`${ctx!.leader.url}/api/actions/freeze`, { env: "staging" }, { headers, validateStatus: () => true });
  t.is(unknown.status, 404);
  t.regex(unknown.data.message, /refused: no environment staging in the desired state \(environments: qa, prod\)/);
  await page.close();
});

uiTest("a_frozen_qa_gets_no_commit_until_it_is_unfrozen_from_the_page", async (t) => {
  const { w, leader } = ctx!;
  const page = await open("#/", "dora");
  await cellState(page, "qa/web", "in_sync");
  await page.getByRole("button", { name: "Freeze qa" }).click();
  await page.getByTestId("action-result").locator("text=qa frozen").waitFor();
  await page.getByTestId("frozen-qa").locator("text=frozen by dora via ui (token ops)").waitFor();
  await cellState(page, "qa/web", "frozen");
  await cellState(page, "qa/api", "frozen");
  await cellState(page, "prod/web", "in_sync");
  t.regex(await page.locator('[data-key="qa/web"]').innerText(), /frozen/, "the cell says frozen in words");
  await page.locator(".events li", { hasText: "freeze/qa on by dora via ui (token ops)" }).first().waitFor();
  t.deepEqual(await axeViolations(page), [], "no serious or critical accessibility violation");

  await w.commit(leader, "desired-state/services/web/service.yaml", (s) => s.replace("count: 1", "count: 2").replace("count: 3", "count: 4"), "web: one more everywhere");
  await eventually(async () => (await countOf(w, "prod", "web")) === 4, { timeoutMs: 20_000 });
  await eventually(() => leader.sync.statusOf("qa/web")?.lastAction?.message?.includes("held: register (SpecChanged)") === true, { timeoutMs: 20_000 });
  t.is(await countOf(w, "qa", "web"), 1, "nothing was registered in the frozen qa");
  t.regex(leader.sync.statusOf("qa/web")?.lastAction?.message ?? "", /qa is frozen by dora via ui \(token ops\)/);
  const status = (await axios.get(`${leader.url}/api/status`)).data;
  t.like(status.controls.frozen.qa, { by: "dora via ui (token ops)" }, "steward status shows the freeze");

  await page.getByRole("button", { name: "Unfreeze qa" }).click();
  await page.getByTestId("action-result").locator("text=qa unfrozen").waitFor();
  await eventually(async () => (await countOf(w, "qa", "web")) === 2, { timeoutMs: 20_000 });
  await cellState(page, "qa/web", "in_sync", 20_000);
  t.is(await page.getByTestId("frozen-qa").count(), 0, "the header no longer says frozen");
  await page.close();
});

uiTest("a_rejected_gate_is_retried_from_the_page_and_the_build_reaches_prod_on_approval", async (t) => {
  const { w } = ctx!;
  const page = await open("#/service/hello", "erin");
  const digest = w.push(1);
  await page.getByRole("button", { name: "Approve build-1" }).waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Reject build-1" }).click();
  await page.getByTestId("action-result").locator("text=rejected").waitFor();
  const retry = page.getByRole("button", { name: "Retry gate of build-1 in qa" });
  await retry.waitFor({ timeout: 30_000 });
  t.regex(await page.getByTestId("promotion").innerText(), /failed.*build-1.*in qa: GateFailed/s);

  // Without a token the retry is refused and nothing is asked of the leader.
  await page.evaluate(() => sessionStorage.removeItem("steward.actionToken"));
  await retry.click();
  await page.getByTestId("action-result").locator("text=refused").waitFor();
  t.regex(await page.getByTestId("action-result").innerText(), /Retry gate of build-1 in qa: ✕ refused: missing Authorization header/);
  const kv = await axios.get(`${w.sim.urls.consul}/v1/kv/steward/gate-retries/hello/${digest}`, { validateStatus: () => true });
  t.is(kv.status, 404);

  await page.evaluate((token) => sessionStorage.setItem("steward.actionToken", token), UI_TOKEN);
  await retry.click();
  await page.getByTestId("action-result").locator("text=was requested").waitFor();
  await page.locator(".journal", { hasText: "GateRetried" }).waitFor({ timeout: 30_000 });
  t.regex(await page.locator(".journal").innerText(), /GateRetried\s+qa gate retry for sha256:[0-9a-f]{12} \(asked by erin via ui \(token ops\)\)/);
  // The old rejection does not count again: the gate asks for a decision.
  const approve = page.getByRole("button", { name: "Approve build-1" });
  await approve.waitFor({ timeout: 30_000 });
  await approve.click();
  await page.getByTestId("stage-digest-prod").locator("text=build-1").waitFor({ timeout: 30_000 });
  t.is(await page.getByRole("button", { name: "Retry gate of build-1 in qa" }).count(), 0, "no longer failed");
  t.deepEqual(await axeViolations(page), [], "no serious or critical accessibility violation");
  await page.close();
});

import test from "ava";
import { eventually as retry } from "../../helpers/eventually.js";
import { promotionFixture, runningImage, versionImages } from "../../helpers/promotion-fixture.js";

/** `eventually`, naming what was awaited when it times out. */
async function eventually<T>(check: () => T | Promise<T>, o: { timeoutMs?: number; message: string }): Promise<T> {
  try {
    return await retry(check, { timeoutMs: o.timeoutMs ?? 5_000 });
  } catch (err) {
    throw new Error(`timed out waiting until ${o.message}: ${(err as Error).message}`, { cause: err });
  }
}

// The promotion loop end to end: the real docker-registry for the images,
// sim for Nomad and Consul, sync registering what the journal says.

test("a_new_build_runs_in_qa_then_prod_pinned_by_digest_after_its_gates", async (t) => {
  const f = await promotionFixture();
  try {
    const a = await f.instance();
    await a.lead();
    const d1 = await f.push(1);
    a.promotion.notify([{ repository: "hello" }]);
    const want = `${f.repository}@${d1}`;
    await eventually(async () => (await runningImage(f.nomad.qa!)) === want, { timeoutMs: 20_000, message: "qa runs build-1" });
    await eventually(async () => (await runningImage(f.nomad.prod!)) === want, { timeoutMs: 20_000, message: "prod runs build-1" });
    await eventually(async () => (await f.records())[0]?.status === "promoted", { timeoutMs: 20_000, message: "the record says promoted" });
    const [record] = await f.records();
    const steps = record!.history.map((h) => `${h.stage ?? "-"} ${h.reason}`).filter((x) => !/RegisterReissued|DeploymentStarted/.test(x));
    t.deepEqual(steps, ["qa StageEntered", "qa DeploymentSucceeded", "qa GateStarted", "qa GatePassed", "qa StagePassed", "prod Promoted", "prod DeploymentSucceeded", "prod PromotionComplete"]);
    t.true(record!.history.some((h) => h.reason === "GatePassed"), "the soak gate passed before prod");
    // Every version Nomad ever ran is pinned by digest, never a tag.
    for (const env of ["qa", "prod"]) for (const img of await versionImages(f.nomad[env]!)) t.regex(img, /@sha256:[a-f0-9]{64}$/);
    const status = a.promotion.status()[0];
    t.deepEqual(status?.stages.map((s) => [s.name, s.digest]), [["qa", d1], ["prod", d1]]);
    const metrics = await a.metrics.registry.metrics();
    t.regex(metrics, /steward_promotion_promotions_total\{service="hello",stage="prod",result="passed"\} 1/);
    // Outcome series exist at 0 before they first happen, so increase() sees the first one.
    t.regex(metrics, /steward_promotion_promotions_total\{service="hello",stage="qa",result="failed"\} 0/);
    t.regex(metrics, /steward_promotion_gate_results_total\{service="hello",stage="qa",kind="soak",result="passed"\} 1/);
    t.regex(metrics, /steward_promotion_lead_time_seconds_count\{service="hello"\} 1/);
  } finally {
    await f.close();
  }
});

test("a_digest_failing_in_qa_never_reaches_prod_even_when_retagged", async (t) => {
  const f = await promotionFixture();
  try {
    const a = await f.instance();
    await a.lead();
    const good = await f.push(1);
    a.promotion.notify([{ repository: "hello" }]);
    await eventually(async () => (await runningImage(f.nomad.prod!)) === `${f.repository}@${good}`, { timeoutMs: 20_000, message: "prod runs build-1" });

    const bad = await f.push(2);
    f.sim.control.markImageUnhealthy(bad);
    a.promotion.notify([{ repository: "hello" }]);
    await eventually(async () => (await f.records()).find((r) => r.digest === bad)?.status === "failed", { timeoutMs: 20_000, message: "build-2 failed in qa" });
    // auto_revert: Nomad put qa back on build-1; Steward only recorded it.
    await eventually(async () => (await runningImage(f.nomad.qa!)) === `${f.repository}@${good}`, { timeoutMs: 20_000, message: "qa back on build-1" });
    const failed = (await f.records()).find((r) => r.digest === bad)!;
    t.is(failed.stages[0]?.rollback?.via, "autoRevert");

    await f.retag(3, bad);
    a.promotion.notify([{ repository: "hello" }]);
    await a.promotion.pollsIdle();
    await eventually(() => a.promotion.status()[0]?.failed.length === 1, { message: "the failed digest is listed" });
    t.false((await versionImages(f.nomad.prod!)).some((i) => i.endsWith(bad)), "prod never ran the failed digest");
    t.is((await f.records()).filter((r) => r.digest === bad).length, 1);
    t.is((await runningImage(f.nomad.prod!)), `${f.repository}@${good}`);
    const qaVersionsWithBad = (await versionImages(f.nomad.qa!)).filter((i) => i.endsWith(bad)).length;
    t.is(qaVersionsWithBad, 1, "the re-tag registered nothing");
  } finally {
    await f.close();
  }
});

test("a_prod_failure_without_auto_revert_rolls_prod_back_to_the_last_good_digest", async (t) => {
  const f = await promotionFixture({ autoRevert: false });
  try {
    const a = await f.instance();
    await a.lead();
    const good = await f.push(1);
    a.promotion.notify([{ repository: "hello" }]);
    await eventually(async () => (await runningImage(f.nomad.prod!)) === `${f.repository}@${good}`, { timeoutMs: 20_000, message: "prod runs build-1" });
    const prodJob = (await f.nomad.prod!.get("/v1/job/hello")).data as { Version: number };
    // The next prod version (build-2's) never turns healthy; qa's does.
    f.sim.control.markVersionUnhealthy("prod", "hello", prodJob.Version + 1);
    const bad = await f.push(2);
    a.promotion.notify([{ repository: "hello" }]);
    await eventually(async () => (await runningImage(f.nomad.qa!)) === `${f.repository}@${bad}`, { timeoutMs: 20_000, message: "qa runs build-2" });
    await eventually(async () => (await f.records()).find((r) => r.digest === bad)?.stages[1]?.status === "rolledBack", { timeoutMs: 30_000, message: "prod rolled back" });
    await eventually(async () => (await runningImage(f.nomad.prod!)) === `${f.repository}@${good}`, { timeoutMs: 20_000, message: "prod back on build-1" });
    const r = (await f.records()).find((x) => x.digest === bad)!;
    t.is(r.status, "failed");
    t.deepEqual(r.stages[1]?.rollback, { via: "register", to: good });
  } finally {
    await f.close();
  }
});

test("two_builds_in_quick_succession_only_the_newest_goes_through", async (t) => {
  const f = await promotionFixture();
  try {
    const a = await f.instance();
    await a.lead();
    const d1 = await f.push(1);
    const d2 = await f.push(2);
    a.promotion.notify([{ repository: "hello" }]);
    await eventually(async () => (await runningImage(f.nomad.prod!)) === `${f.repository}@${d2}`, { timeoutMs: 20_000, message: "prod runs build-2" });
    for (const env of ["qa", "prod"]) t.false((await versionImages(f.nomad[env]!)).some((i) => i.endsWith(d1)), `${env} never ran build-1`);
    const older = (await f.records()).find((r) => r.digest === d1);
    t.true(older === undefined || older.status === "superseded");
  } finally {
    await f.close();
  }
});

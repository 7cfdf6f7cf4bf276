import test from "ava";
import { eventually } from "../../helpers/eventually.js";
import { promotionFixture, runningImage, versionImages, type PromotionInstance } from "../../helpers/promotion-fixture.js";
import type { PromotionRecord } from "../../../src/reconciler/promotion/journal.js";

/**
 * Makes the instance "die" right after its `n`-th journal write lands, before
 * the write's effect (the harshest moment: the journal says a step began,
 * nothing else happened). Resolves once it is stopped.
 */
function dieAfterWrite(inst: PromotionInstance, n: number): Promise<number> {
  let writes = 0;
  const advance = inst.journal.advance.bind(inst.journal);
  return new Promise((resolve) => {
    inst.journal.advance = async (record, index) => {
      const entry = await advance(record, index);
      if (++writes === n) {
        void inst.stop().then(() => resolve(writes));
        throw new Error(`killed after journal write ${n}`);
      }
      return entry;
    };
  });
}

/** Each step of the record's history, without the idempotent re-issues of a register. */
function steps(r: PromotionRecord): string[] {
  return r.history.filter((h) => h.reason !== "RegisterReissued").map((h) => `${h.stage ?? "-"}/${h.gate ?? "-"}/${h.reason}`);
}

// Two instances share Consul (the journal) and the clusters. Round k: the
// leader dies right after its k-th journal write of a new build's promotion;
// the standby leads and finishes it. Then a fresh standby joins.
test("a_leader_killed_after_each_step_in_turn_is_finished_by_the_next_with_no_step_done_twice", async (t) => {
  const f = await promotionFixture();
  try {
    let leader = await f.instance();
    await leader.lead();
    // A full promotion here takes 8 or 9 journal writes (qa: enter, deploying?, deployed, soak started, passed, stage passed; prod: enter, deploying?, complete).
    for (let k = 1; k <= 9; k++) {
      const standby = await f.instance();
      const died = dieAfterWrite(leader, k);
      const digest = await f.push(k);
      leader.promotion.notify([{ repository: "hello" }]);
      standby.promotion.notify([{ repository: "hello" }]);
      const done = eventually(async () => (await f.records()).find((r) => r.digest === digest)?.status === "promoted", { timeoutMs: 30_000 });
      // Either the leader dies at write k (then the standby takes over), or the promotion had fewer writes.
      const outcome = await Promise.race([died.then(() => "died" as const), done.then(() => "finished" as const)]);
      t.log(`round ${k}: ${outcome}`);
      if (outcome === "died") {
        await standby.lead();
        await done.catch(async (err: unknown) => {
          const r = (await f.records()).find((x) => x.digest === digest);
          t.log(JSON.stringify(r?.history.map((h) => `${h.stage}/${h.reason}`)), JSON.stringify(standby.promotion.status()[0]?.pending), await runningImage(f.nomad.qa!), digest);
          const deps = [...((await f.nomad.qa!.get("/v1/job/hello/deployments")).data as Array<Record<string, unknown>>), ...((await f.nomad.prod!.get("/v1/job/hello/deployments")).data as Array<Record<string, unknown>>)];
          t.log(JSON.stringify(deps.map((d) => [d.JobVersion, d.Status, d.StatusDescription])));
          throw err;
        });
        leader = standby;
      } else {
        await standby.stop();
      }
      const record = (await f.records()).find((r) => r.digest === digest)!;
      const s = steps(record);
      t.deepEqual(s, [...new Set(s)], `round ${k} (${outcome}): no step twice: ${s.join(", ")}`);
      t.is(s[s.length - 1], "prod/-/PromotionComplete", `round ${k}`);
      for (const env of ["qa", "prod"]) {
        t.is(await runningImage(f.nomad[env]!), `${f.repository}@${digest}`, `round ${k}: ${env} runs build-${k}`);
        t.is((await versionImages(f.nomad[env]!)).filter((i) => i.endsWith(digest)).length, 1, `round ${k}: ${env} registered build-${k} once`);
      }
      if (outcome === "finished") break;
    }
  } finally {
    await f.close();
  }
});

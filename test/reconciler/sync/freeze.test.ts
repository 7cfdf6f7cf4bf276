import test from "ava";
import { readFile } from "node:fs/promises";
import { eventually } from "../../helpers/eventually.js";
import { imageOf, readJob, syncFixture } from "../../helpers/sync-fixture.js";
import { statusViolations } from "../../helpers/status-invariants.js";

const ZERO = `sha256:${"0".repeat(64)}`;
const ONE = `sha256:${"1".repeat(64)}`;

// A frozen environment against sim: a commit reaches the others, not it; its
// jobs' status says Frozen, who and why; unfreezing lets the commit through.

test("a_commit_is_not_registered_in_a_frozen_environment_until_it_is_unfrozen", async (t) => {
  const f = await syncFixture();
  t.teardown(() => f.close());
  const before = await eventually(async () => readJob(f.nomad.qa!, "web"), { timeoutMs: 10_000 });
  await eventually(async () => imageOf(await readJob(f.nomad.prod!, "web")) === `127.0.0.1:5000/web@${ZERO}`, { timeoutMs: 10_000 });
  f.loop.cache.frozen = new Map([["qa", { by: "ana", reason: "release night" }]]);
  const svc = await readFile(`${f.repo.dir}/desired-state/services/web/service.yaml`, "utf8");
  await f.repo.write("desired-state/services/web/service.yaml", svc.replace(ZERO, ONE));
  await f.commit("web: new image");
  await eventually(async () => imageOf(await readJob(f.nomad.prod!, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 10_000 });
  const held = await eventually(() => {
    const st = f.loop.statusOf("qa/web");
    return st?.lastAction?.reason === "Frozen" && st.lastAction.message?.includes("SpecChanged") ? st : undefined;
  }, { timeoutMs: 10_000 });
  t.regex(held?.lastAction?.message ?? "", /qa is frozen by ana \(release night\).*held: register \(SpecChanged\)/);
  t.is((await readJob(f.nomad.qa!, "web"))?.JobModifyIndex, before?.JobModifyIndex, "nothing was registered in qa");
  t.deepEqual(statusViolations(f.loop.statuses()), []);
  f.loop.cache.frozen = new Map();
  f.loop.wakeAll();
  await eventually(async () => imageOf(await readJob(f.nomad.qa!, "web")) === `127.0.0.1:5000/web@${ONE}`, { timeoutMs: 10_000 });
  t.is(f.loop.statusOf("qa/web")?.lastAction?.reason, "SpecChanged", "unfrozen, the held register went through");
});

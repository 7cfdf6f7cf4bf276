import test from "ava";
import type { DesiredState, ServiceSpec } from "../../../src/model/types.js";
import { newRecord, transition } from "../../../src/reconciler/promotion/journal.js";
import { PromotionCache, observePromotion, promotedImageResolver } from "../../../src/reconciler/promotion/observe.js";
import { planPromotion } from "../../../src/reconciler/promotion/plan.js";
import { NOW, aPolicy } from "../../helpers/builders.js";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const PINNED = `sha256:${"0".repeat(64)}`;

function cache(): PromotionCache {
  const web: ServiceSpec = {
    name: "web",
    file: "services/web/service.yaml",
    jobFile: "services/web/web.nomad.hcl",
    jobHcl: "",
    image: { repository: "r/web", digest: PINNED, policy: { type: "buildNumber", pattern: "^build-(\\d+)$" } },
    environments: { qa: { variables: {} }, prod: { variables: {} } },
    sync: aPolicy(),
    promotion: { gates: { qa: [{ kind: "manual" }] } },
  };
  const nomad = { address: "http://n", region: "global", namespace: "default", token: { kind: "none" as const } };
  const state: DesiredState = {
    revision: "r1",
    origin: "test",
    environments: [{ name: "qa", nomad }, { name: "prod", nomad, freeze: [{ fromMinute: 0, toMinute: 60, text: "Mon 00:00 - Mon 01:00" }] }],
    syncDefaults: aPolicy(),
    services: [web],
    pools: [],
  };
  const c = new PromotionCache();
  c.state = state;
  c.refreshedAt.set("registry", NOW - 2_000).set("nomad:qa", NOW - 500);
  return c;
}

test("snapshot carries stages in order with gates and freeze, peers, failed digests and the oldest cache time", (t) => {
  const c = cache();
  c.candidates.set("web", [{ digest: D1, tag: "build-1", order: 1 }, { digest: D2, tag: "build-2", order: 2 }]);
  const failed = transition(transition(newRecord({ service: "web", digest: D2, stages: ["qa", "prod"] }, NOW), { type: "enter", stage: "qa", reason: "StageEntered", message: "m" }, NOW), { type: "failed", stage: "qa", reason: "DeploymentFailed", message: "m" }, NOW);
  const rolledBack = transition(failed, { type: "rolledBack", stage: "qa", rollback: { via: "register", to: PINNED }, message: "m" }, NOW);
  c.records.set("web", [{ record: failed, modifyIndex: 9 }]);
  const s0 = observePromotion(c, { service: "web", digest: D1 });
  t.is(s0 && planPromotion(s0, NOW).actions[0]?.reason, "StageOccupied", "until its rollback is recorded, the failed digest holds qa");
  c.records.set("web", [{ record: rolledBack, modifyIndex: 10 }]);
  const s = observePromotion(c, { service: "web", digest: D1 });
  t.truthy(s);
  t.deepEqual(s?.stages.map((x) => [x.name, x.gates.length, x.freeze.length]), [["qa", 1, 0], ["prod", 0, 1]]);
  t.deepEqual(s?.failedDigests, [D2]);
  t.is(s?.observedAt, NOW - 2_000);
  t.is(s?.pinnedDigest, PINNED);
  t.deepEqual(s?.peers.map((p) => [p.digest, p.order, p.record?.status]), [[D2, 2, "failed"]]);
  // The newer candidate failed, so it does not supersede this one: D1 enters qa.
  t.is(s && planPromotion(s, NOW).actions[0]?.reason, "StageEntered");
});

test("a service without image.policy is not promoted and sync keeps its pinned digest", (t) => {
  const c = cache();
  const web = c.state?.services[0];
  if (web) delete web.image.policy;
  t.is(observePromotion(c, { service: "web", digest: D1 }), undefined);
  t.is(promotedImageResolver(c, () => "pinned")(web as ServiceSpec, "qa"), "pinned");
});

test("resolver gives sync the promoted digest, holds while deploying, and falls back with no record", (t) => {
  const c = cache();
  const web = c.state?.services[0] as ServiceSpec;
  const resolve = promotedImageResolver(c, (s) => `${s.image.repository}@${PINNED}`);
  t.is(resolve(web, "qa"), `r/web@${PINNED}`);
  const entering = transition(newRecord({ service: "web", digest: D1, stages: ["qa", "prod"] }, NOW), { type: "enter", stage: "qa", reason: "StageEntered", message: "m" }, NOW);
  c.records.set("web", [{ record: entering, modifyIndex: 3 }]);
  t.is(resolve(web, "qa"), `r/web@${D1}`);
  t.is(resolve(web, "prod"), `r/web@${PINNED}`);
  c.records.set("web", [{ record: transition(entering, { type: "deploymentStarted", stage: "qa", message: "m" }, NOW + 1), modifyIndex: 4 }]);
  t.is(resolve(web, "qa"), undefined, "sync holds while Nomad deploys");
});

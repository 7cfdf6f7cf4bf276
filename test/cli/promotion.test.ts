import test from "ava";
import { formatPromotion } from "../../src/cli/promotion.js";
import type { PromotionServiceStatus } from "../../src/reconciler/promotion/loop.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;

const SAMPLE: PromotionServiceStatus = {
  service: "hello",
  repository: "127.0.0.1:5000/hello",
  stages: [
    { name: "qa", digest: D("b"), tag: "build-2", source: "journal" },
    { name: "prod", digest: D("a"), tag: "build-1", source: "journal" },
  ],
  pending: [{ digest: D("c"), tag: "build-3", kind: "wait", reason: "StageOccupied", message: "another digest of this service is in flight in the stage" }],
  failed: [{ digest: D("d"), tag: "build-4", stage: "qa", reason: "DeploymentFailed", message: "qa: deployment of version 3 failed" }],
  registry: { failures: 2, lastError: "127.0.0.1:5000/hello: 503" },
  history: [{ at: Date.UTC(2026, 10, 25, 12), reason: "Promoted", stage: "prod", message: "prod runs build-1", digest: D("a"), tag: "build-1" }],
};

test("status_shows_each_stage_digest_pending_reasons_failures_and_history", (t) => {
  const text = formatPromotion([SAMPLE]).join("\n");
  t.regex(text, /promotion hello \(127\.0\.0\.1:5000\/hello\)/);
  t.regex(text, /qa {4}build-2 \(sha256:bbbbbbbbbbbb\)/);
  t.regex(text, /prod {2}build-1 \(sha256:aaaaaaaaaaaa\)/);
  t.regex(text, /pending {2}build-3 \(sha256:cccccccccccc\) {2}wait {2}\[StageOccupied\]/);
  t.regex(text, /failed {3}build-4 \(sha256:dddddddddddd\) in qa: DeploymentFailed/);
  t.regex(text, /registry 2 failed poll\(s\) in a row: .*503/);
  t.regex(text, /2026-11-25T12:00:00\.000Z {2}build-1 \(sha256:aaaaaaaaaaaa\) {2}prod {2}\[Promoted\]/);
});

test("a_held_stage_says_why_it_has_no_digest", (t) => {
  const text = formatPromotion([{ ...SAMPLE, stages: [{ name: "qa", hold: true, source: "journal" }], pending: [], failed: [], registry: { failures: 0 }, history: [] }]).join("\n");
  t.regex(text, /qa {4}held while Nomad deploys/);
  t.notRegex(text, /registry|history/);
});

import test from "ava";
import { execFile } from "node:child_process";
import { REPO_ROOT } from "./helpers/sync-fixture.js";
import { terraformMissing } from "./helpers/terraform.js";

// The README's main command is `npm run demo`; this runs its story to the end
// (`--once`) the way a newcomer would, and checks what it says it showed.
test("demo_story_runs_to_the_end", async (t) => {
  t.timeout(300_000, "the healing story runs the real terraform (about a minute)");
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile("npx", ["tsx", "demo/main.ts", "--once"], { cwd: REPO_ROOT, timeout: 300_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  t.is(code, 0, stderr);
  t.regex(stdout, /prod\/web registered: image 127\.0\.0\.1:5000\/web@sha256:/);
  t.regex(stdout, /prod\/web now runs 4 instances; prod\/api untouched \(JobModifyIndex (\d+) -> \1\)/);
  t.regex(stdout, /qa\/web is back on .*@sha256:.* \(DriftHealed/);
  t.regex(stdout, /refused: services\/api\/service\.yaml:\d+: sync: unknown key "drfit"/);
  t.regex(stdout, /steward-[ab] leads after \d+ ms/);
  t.regex(stdout, /the live UI: http:\/\/127\.0\.0\.1:\d+\/ui\/ \(either instance serves it/);
  t.regex(stdout, /the new leader applied it: prod\/web count 4 -> 2/);
  // The promotion story.
  t.regex(stdout, /qa\/hello registered with image 127\.0\.0\.1:\d+\/hello@sha256:[a-f0-9]{12}… \d+ ms after the push/);
  t.regex(stdout, /qa gate passed: qa gate 0 \(verify\): verification job .* exited 0/);
  t.regex(stdout, /prod\/hello runs 127\.0\.0\.1:\d+\/hello@sha256:[a-f0-9]{12}…: build-1 promoted/);
  t.regex(stdout, /qa: DeploymentFailed: /);
  t.regex(stdout, /qa is back on build-1 \(AutoReverted\); prod still runs sha256:[a-f0-9]{12}…/);
  t.regex(stdout, /steward status: hello qa=build-1 prod=build-1; failed: build-2/);
  // The healing story, with the real terraform (skipped, and saying so, without it).
  if (terraformMissing() !== undefined) {
    t.regex(stdout, /Healing: .*\n.*skipped: /);
    return;
  }
  t.regex(stdout, /journal workers-b: draining — lost; draining with a \d+ s deadline/);
  t.regex(stdout, /journal workers-b: applying — apply [0-9a-f]+: -replace=module\.workers\.aws_instance\.worker\["b"\]/);
  t.regex(stdout, /journal workers-b: done — old node purged from Nomad/);
  t.regex(stdout, /one apply \(-replace=module\.workers\.aws_instance\.worker\["b"\]\); the old node [0-9a-f]+ is purged; Nomad now has (?=.*workers-b ready)/);
  t.regex(stdout, /\[ShortCircuit\] 3 of 5 nodes of pool workers are unhealthy/);
  t.regex(stdout, /an hour of sim time later: 0 apply started, 5 instances still running/);
});

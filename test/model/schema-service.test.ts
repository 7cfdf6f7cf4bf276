import test from "ava";
import { loadDesiredState } from "../../src/model/load.js";
import { InvalidInputError, describeIssue } from "../../src/model/errors.js";
import type { TreeSnapshot } from "../../src/model/types.js";

/** service.yaml's `image.policy` and `promotion`, as a user writes them and as the loader hands them on. */

const STEWARD = `environments:\n  - name: qa\n    nomad: { address: http://127.0.0.1:4646 }\n  - name: prod\n    nomad: { address: http://127.0.0.1:4656 }\n`;
const JOB = `variable "image" {}\n\njob "web" {\n  group "web" {\n    task "web" {\n      config {\n        image = var.image\n      }\n    }\n  }\n}\n`;

function tree(service: string): TreeSnapshot {
  const files = { "steward.yaml": STEWARD, "services/web/service.yaml": service, "services/web/web.nomad.hcl": JOB };
  return { revision: "rev-1", origin: "test", files: new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])) };
}

async function issuesOf(service: string): Promise<string[]> {
  const err = await loadDesiredState(tree(service)).then(() => undefined, (e: unknown) => e);
  if (!(err instanceof InvalidInputError)) throw new Error(`expected InvalidInputError, got ${String(err)}`);
  return err.issues.map(describeIssue);
}

test("policy and gates load in declared order with defaults filled in", async (t) => {
  const state = await loadDesiredState(
    tree(`image:
  repository: 127.0.0.1:5000/web
  policy: { type: buildNumber }
promotion:
  gates:
    qa:
      - verify: { job: web-tests }
      - http: { url: "http://web.qa:8080/health", timeout: 2m }
      - soak: { duration: 10m }
      - prometheus: { query: "sum(rate(errors[5m]))", below: 0.5, for: 5m }
    prod:
      - manual: true
`),
  );
  const web = state.services[0];
  t.deepEqual(web?.image.policy, { type: "buildNumber", pattern: "^build-(\\d+)$" });
  t.deepEqual(web?.promotion?.gates.qa, [
    { kind: "verify", job: "web-tests", timeoutMs: 600_000 },
    { kind: "http", url: "http://web.qa:8080/health", expectStatus: 200, timeoutMs: 120_000 },
    { kind: "soak", durationMs: 600_000 },
    { kind: "prometheus", query: "sum(rate(errors[5m]))", below: 0.5, forMs: 300_000, timeoutMs: 600_000 },
  ]);
  t.deepEqual(web?.promotion?.gates.prod, [{ kind: "manual" }]);
});

test("a service without promotion has neither field", async (t) => {
  const state = await loadDesiredState(tree(`image:\n  repository: 127.0.0.1:5000/web\n`));
  t.is(state.services[0]?.promotion, undefined);
  t.is(state.services[0]?.image.policy, undefined);
});

test("a gate with two kinds or an unknown kind is refused with file, line and field", async (t) => {
  const issues = await issuesOf(`image:
  repository: 127.0.0.1:5000/web
promotion:
  gates:
    qa:
      - soak: { duration: 1m }
        manual: true
      - verfy: { job: t }
`);
  t.deepEqual(issues, [
    "services/web/service.yaml:6: promotion.gates.qa[0]: must have exactly one of verify, http, soak, prometheus, manual",
    `services/web/service.yaml:8: promotion.gates.qa[1]: unknown key "verfy" (did you mean "verify"?)`,
  ]);
});

test("gates for a stage the service does not run in are refused", async (t) => {
  const issues = await issuesOf(`image:\n  repository: 127.0.0.1:5000/web\nenvironments:\n  qa:\npromotion:\n  gates:\n    prod:\n      - manual: true\n`);
  t.deepEqual(issues, [`services/web/service.yaml:7: promotion.gates.prod: "prod" is not an environment this service runs in (qa)`]);
});

test("steward.yaml freeze windows are weekly UTC ranges; a bad time names the field", async (t) => {
  const withFreeze = (freeze: string): TreeSnapshot => {
    const s = tree(`image:\n  repository: 127.0.0.1:5000/web\n`);
    s.files.set("steward.yaml", Buffer.from(`${STEWARD}    freeze:\n${freeze}`));
    return s;
  };
  const state = await loadDesiredState(withFreeze(`      - { from: "Fri 18:00", to: "Mon 08:00" }\n`));
  t.deepEqual(state.environments[1]?.freeze, [{ fromMinute: 4 * 1440 + 18 * 60, toMinute: 8 * 60, text: "Fri 18:00 UTC - Mon 08:00 UTC" }]);
  t.is(state.environments[0]?.freeze, undefined);
  const err = await loadDesiredState(withFreeze(`      - { from: "Friday 18:00", to: "Mon 08:00" }\n`)).catch((e: unknown) => e);
  t.true(err instanceof InvalidInputError);
  t.deepEqual((err as InvalidInputError).issues.map(describeIssue), [
    `steward.yaml:7: environments[1].freeze[0].from: must be a weekday and a UTC time such as "Fri 18:00" (Mon..Sun, 24-hour HH:MM)`,
  ]);
});

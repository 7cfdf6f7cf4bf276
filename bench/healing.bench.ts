/**
 * bench:healing — the healing loop's own latency and cost.
 *
 * (a) Node loss → apply started, beyond unhealthyAfter, with N (5,000) nodes
 *     in one pool in sim: Steward's decision time once a node is lost (target
 *     under 1 s). A fake Terraform (instant) so only Steward is measured.
 * (b) Node loss → replacement ready with the real terraform and AWS provider
 *     against sim's EC2 at real time (time scale 1): detection (Nomad's
 *     heartbeat TTL + unhealthyAfter), terraform (the -replace apply), boot
 *     (apply end → new node ready in Nomad and Consul, and purge), and the
 *     EC2 calls per replacement (Terraform's and Steward's DescribeInstances).
 *
 * Flags: --nodes=5000 --reps=5 --no-real --no-write
 */
import { parseArgs } from "node:util";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { CountingBudget, FakeTerraform, desiredFor, healingFixture, workerPool } from "../test/helpers/healing-fixture.js";
import { examplePool, startHealingWorld } from "../test/helpers/healing-terraform.js";
import { terraformMissing } from "../test/helpers/terraform.js";
import { commitId, fmt, loadAverage, machine, progress, stats, table, until, writeResultsSection } from "./lib.js";

const { values: flags } = parseArgs({ options: { nodes: { type: "string", default: "5000" }, reps: { type: "string", default: "5" }, "no-real": { type: "boolean", default: false }, "no-write": { type: "boolean", default: false } } });
const NODES = Number(flags.nodes);
const REPS = Number(flags.reps);
const SCALE = 60;
const UNHEALTHY_AFTER_MS = 5 * 60_000;
const startedAt = new Date();
const NOTE_B =
  "- What dominates: Terraform. sim's EC2 takes 30 s to boot and 30 s to terminate an instance (`bootDelayMs`/`terminateDelayMs`, about AWS's own), the provider polls its waiters 10 s after each call, and `-replace` without `create_before_destroy` destroys before it creates, so the apply waits for both in turn (plus ~8 s of Terraform and provider start-up). Steward saves around it: `init` once per directory, one apply for a batch, no `terraform show` between the apply and the purge (the state is re-read in the background); `create_before_destroy` in terraform/modules/worker would overlap the two waits (not changed here: the module is issue 9's). Detection is Nomad's heartbeat TTL (or serfHealth) plus the pool's unhealthyAfter.";
const loadBefore = loadAverage();

// ── (a) decision latency at N nodes ──
progress(`(a) ${NODES} nodes, sim ${SCALE}x, unhealthyAfter 5 min (${UNHEALTHY_AFTER_MS / SCALE / 1000} s real)`);
const f = await healingFixture({ timeScale: SCALE });
const keys = Array.from({ length: NODES }, (_, i) => `w${i}`);
const tf = new FakeTerraform(f.sim, 0);
const bootStart = Date.now();
tf.boot(keys);
const loop = f.newLoop({ terraform: tf, budget: new CountingBudget(1000), stateMaxAgeMs: 24 * 3_600_000, watchWaitMs: 10_000 });
loop.setDesired(desiredFor(f.sim, [workerPool({ budgets: { maxUnhealthy: { percent: 40 }, maxConcurrent: 1, cooldownMs: 0 } })]));
await loop.lead();
await until(() => loop.cache.poolNodes(workerPool()).nodes.length === NODES && loop.cache.poolNodes(workerPool()).pending === 0, 300_000, "every node's meta read");
const warmMs = Date.now() - bootStart;
progress(`(a) warm: ${NODES} nodes listed and their meta read in ${fmt(warmMs / 1000)} s`);
const decision: number[] = [];
const detection: number[] = [];
for (let r = 0; r < REPS; r++) {
  const victim = f.sim.world.list("prod").find((m) => m.state === "up" && m.meta.terraform_key === `w${r}`);
  if (!victim) break;
  const applied = tf.applies.length;
  const killedAt = f.sim.clock.now();
  f.sim.world.kill(victim.id);
  await until(() => tf.applies.length > applied, 120_000, `apply for ${victim.name}`);
  const startedSim = f.sim.clock.now();
  const since = [...loop.cache.incidents.values()].find((e) => e.record.nodeId === victim.id)?.record.unhealthySince ?? killedAt;
  // Real ms from the moment the node counted as lost (unhealthySince + unhealthyAfter) to the apply's start.
  decision.push((startedSim - (since + UNHEALTHY_AFTER_MS)) / SCALE);
  detection.push((since - killedAt) / 1000);
  await until(() => [...loop.cache.incidents.values()].some((e) => e.record.nodeId === victim.id && e.record.step === "done"), 120_000, "incident done");
}
await f.close();
const d = stats(decision);
const det = stats(detection);

// ── (b) real terraform, real time ──
let realReport = "";
const missing = terraformMissing();
if (!flags["no-real"] && missing === undefined) {
  progress("(b) real terraform: 3 workers, sim at 1x, unhealthyAfter 10 s");
  const metrics = createMetrics({ defaultMetrics: false });
  const world = await startHealingWorld(["a", "b", "c"], {
    metrics,
    logger: createLogger({ level: "silent" }),
    pool: examplePool({ health: { unhealthyAfterMs: 10_000, flapping: { count: 3, windowMs: 3_600_000, replace: false } } }),
    loop: { applyTimeoutMs: 15 * 60_000, stateMaxAgeMs: 60_000, bootTimeoutMs: 10 * 60_000 },
  });
  world.sim.clock.setScale(1);
  await world.loop.lead();
  await new Promise((r) => setTimeout(r, 2_000));
  world.sim.ec2.resetCalls();
  const victim = world.sim.world.get("workers-b");
  const killedAt = world.sim.clock.now();
  world.sim.world.kill(victim?.id ?? "");
  await until(() => [...world.loop.cache.incidents.values()].some((e) => e.record.step === "done"), 300_000, "real replacement");
  const rec = [...world.loop.cache.incidents.values()][0]?.record;
  const calls = world.sim.ec2.callCounts();
  const applyHist = Number(/steward_healing_apply_duration_seconds_sum\{[^}]*\} ([\d.]+)/.exec(await metrics.registry.getSingleMetricAsString("steward_healing_apply_duration_seconds"))?.[1] ?? NaN);
  await world.close();
  if (rec) {
    const s = (ms: number): string => fmt(ms / 1000);
    const rows = [
      ["detection: kill → seen unhealthy (Nomad heartbeat TTL / serfHealth)", s(rec.unhealthySince - killedAt)],
      ["detection: unhealthyAfter (the pool's setting)", s(10_000)],
      ["decision: lost → apply started", s((rec.applyStartedAt ?? 0) - rec.unhealthySince - 10_000)],
      ["terraform: apply -replace (real terraform + provider)", fmt(applyHist)],
      ["boot: apply end → new node ready, old purged", s((rec.finishedAt ?? 0) - (rec.appliedAt ?? 0))],
      ["total: kill → replacement ready", s((rec.readyAt ?? rec.finishedAt ?? 0) - killedAt)],
    ];
    realReport = [
      "### (b) Node loss → replacement ready, real terraform, sim at 1x",
      "",
      table(["phase", "seconds"], rows),
      "",
      `EC2 calls during the replacement (Terraform's and Steward's): ${Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(", ")}; ${Object.values(calls).reduce((a, b) => a + b, 0)} in all, of which RunInstances ${calls.RunInstances ?? 0}.`,
      "",
      NOTE_B,
    ].join("\n");
  }
} else {
  realReport = `### (b) Node loss → replacement ready\n\nNot run: ${missing ?? "--no-real"}.`;
}

const header = [
  `## healing: node loss → apply started with ${NODES.toLocaleString("en")} nodes; loss → replacement ready with the real terraform`,
  "",
  `Run ${startedAt.toISOString()} at commit \`${commitId()}\` on ${machine()}.`,
  `Load average before: ${loadBefore}; after: ${loadAverage()}.`,
  "",
  "Reproduce: `npx tsx bench/healing.bench.ts` (flags: `--nodes`, `--reps`, `--no-real`, `--no-write`).",
  "",
  `### (a) Node loss → apply started, beyond unhealthyAfter, ${NODES.toLocaleString("en")} nodes in one pool (target < 1 s)`,
  "",
  table(
    ["measure", "p50", "p95", "max", "n"],
    [
      ["lost (unhealthySince + unhealthyAfter) → apply started, real ms", fmt(d.p50, 0), fmt(d.p95, 0), fmt(d.max, 0), String(d.n)],
      ["kill → seen unhealthy, sim s (Nomad's 10 s heartbeat TTL)", fmt(det.p50), fmt(det.p95), fmt(det.max), String(det.n)],
    ],
  ),
  "",
  `- Sim at ${SCALE}x (unhealthyAfter 5 min = ${UNHEALTHY_AFTER_MS / SCALE / 1000} s real); Terraform is a fake that replaces the machine at once, so this is Steward alone: the recheck timer the planner set at the loss time, one observe over ${NODES.toLocaleString("en")} cached nodes, the plan, the journal writes (Consul KV, CAS), then the apply call.`,
  `- Warm-up: the ${NODES.toLocaleString("en")} nodes' meta (not in Nomad's nodes list) is read once per node at start, 16 at a time: ${fmt(warmMs / 1000)} s (incl. booting the machines in sim).`,
  "",
  realReport,
].join("\n");
process.stdout.write(`${header}\n`);
if (!flags["no-write"]) {
  await writeResultsSection("healing", header);
  progress("bench/RESULTS.md: healing section written");
}
process.exit(0);

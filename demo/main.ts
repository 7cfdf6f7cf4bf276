/**
 * `npm run demo`: the emulated HashiStack (sim) and two Steward instances on
 * loopback, with the example desired-state/ in a real git repository, and a
 * scripted story printed as it happens. Then both stay up until Ctrl-C, so
 * you can poke at them (`--once` exits after the story).
 *
 * The demo's entry point is the one place besides tests that uses both sim/
 * and src/ (docs/adr/0001).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import axios, { type AxiosInstance } from "axios";
import { startSim, type Sim } from "../sim/index.js";
import { Daemon } from "../src/daemon.js";
import { createLogger } from "../src/log.js";
import { hubSignature } from "../src/sources/git-webhook.js";
import { GitRepo } from "../test/helpers/git-repo.js";
import { promotionStory } from "./promotion-story.js";
import { healingStory } from "./healing-story.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SECRET = "demo-webhook-secret";
/** The demo's action token (the UI's and /api/approvals' actions): a demo value, printed so you can use the UI's buttons. */
const ACTION_TOKEN = "demo-action-token";
const REGISTRY_SECRET = "demo-registry-secret";
const { values } = parseArgs({ options: { once: { type: "boolean", default: false }, verbose: { type: "boolean", default: false } } });

const t0 = Date.now();
const say = (msg: string): void => void process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
const step = (n: number, title: string): void => void process.stdout.write(`\n== ${n}. ${title}\n`);

async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The few fields of a Nomad job the story reads. */
interface JobJson {
  JobModifyIndex: number;
  TaskGroups: Array<{ Count: number; Tasks: Array<{ Config: { image?: string } }> }>;
  [k: string]: unknown;
}

const job = async (http: AxiosInstance, id: string): Promise<JobJson | undefined> => {
  const r = await http.get<JobJson>(`/v1/job/${id}`);
  return r.status === 200 ? r.data : undefined;
};
const image = (j: JobJson | undefined): string => String(j?.TaskGroups[0]?.Tasks[0]?.Config.image ?? "-");

async function main(): Promise<void> {
  process.env.STEWARD_DEMO_WEBHOOK_SECRET = SECRET;
  process.env.STEWARD_DEMO_ACTION_TOKEN = ACTION_TOKEN;
  process.env.STEWARD_DEMO_REGISTRY_SECRET = REGISTRY_SECRET;
  const sim: Sim = await startSim({ healthyAfterMs: 1_000 });
  const repo = await GitRepo.create();
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(daemons.map((d) => d.stop().catch(() => undefined)));
    await sim.close();
    await repo.destroy();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  try {
    say(`sim up: Nomad qa ${sim.urls.nomad.qa}, prod ${sim.urls.nomad.prod}; Consul ${sim.urls.consul}; Vault ${sim.urls.vault}; registry ${sim.urls.registry}`);
    await repo.copyIn(path.join(ROOT, "desired-state"), "desired-state");
    const stewardYaml = (await readFile(path.join(ROOT, "desired-state/steward.yaml"), "utf8"))
      .replace("http://127.0.0.1:4646", sim.urls.nomad.qa ?? "")
      .replace("http://127.0.0.1:4656", sim.urls.nomad.prod ?? "");
    await repo.write("desired-state/steward.yaml", stewardYaml);
    say(`desired state: a git repository at ${repo.dir} (commit ${repo.commit("the example desired state").slice(0, 8)})`);

    const start = async (id: string): Promise<Daemon> => {
      const dataDir = await mkdtemp(path.join(tmpdir(), `steward-demo-${id}-`));
      dirs.push(dataDir);
      const d = new Daemon(
        {
          source: { git: { url: repo.dir, branch: "main", subdir: "desired-state", fetchIntervalMs: 30_000 } },
          consul: { address: sim.urls.consul },
          statePrefix: "steward",
          http: { listen: "127.0.0.1:0" },
          webhookSecret: { env: "STEWARD_DEMO_WEBHOOK_SECRET" },
          registryWebhookSecret: { env: "STEWARD_DEMO_REGISTRY_SECRET" },
          api: { actionToken: { env: "STEWARD_DEMO_ACTION_TOKEN", name: "demo" } },
          instanceId: id,
          dataDir,
        },
        { logger: createLogger({ level: values.verbose ? "info" : "silent", base: { instance: id } }), leader: { ttlMs: 10_000, lockDelayMs: 1_000 }, watchWaitMs: 10_000 },
      );
      await d.start();
      daemons.push(d);
      return d;
    };
    const hook = async (d: Daemon): Promise<void> => {
      const body = Buffer.from(JSON.stringify({ ref: "refs/heads/main", after: repo.git("rev-parse", "HEAD") }));
      await axios.post(`${d.url}/hooks/git`, body, { headers: { "Content-Type": "application/json", "X-Hub-Signature-256": hubSignature(SECRET, body) } });
    };
    const qa = axios.create({ baseURL: sim.urls.nomad.qa ?? "", validateStatus: () => true });
    const prod = axios.create({ baseURL: sim.urls.nomad.prod ?? "", validateStatus: () => true });

    step(1, "First sync: two Steward instances, one leader, every job registered in qa and prod");
    const a = await start("steward-a");
    const b = await start("steward-b");
    const leader = await until("a leader", () => [a, b].find((d) => d.elector.isLeader));
    const standby = leader === a ? b : a;
    say(`${leader.config.instanceId} leads (${leader.url}); ${standby.config.instanceId} stands by (${standby.url})`);
    say(`the live UI: ${leader.url}/ui/ (either instance serves it: ${standby.url}/ui/); its actions take the token ${ACTION_TOKEN}`);
    for (const [env, http] of [["qa", qa], ["prod", prod]] as const) {
      for (const id of ["web", "api"]) {
        const j = await until(`${env}/${id}`, () => job(http, id));
        say(`${env}/${id} registered: image ${image(j)}, count ${j.TaskGroups[0]?.Count}`);
      }
    }

    step(2, "A commit changes one job: only that job is updated");
    const svcFile = path.join(repo.dir, "desired-state/services/web/service.yaml");
    const apiBefore = (await job(prod, "api"))?.JobModifyIndex;
    await repo.write("desired-state/services/web/service.yaml", (await readFile(svcFile, "utf8")).replace("count: 3", "count: 4"));
    say(`commit ${repo.commit("web: 4 instances in prod").slice(0, 8)} "web: 4 instances in prod", announced by a signed webhook`);
    await hook(standby);
    await until("prod/web at count 4", async () => (await job(prod, "web"))?.TaskGroups[0]?.Count === 4);
    say(`prod/web now runs 4 instances; prod/api untouched (JobModifyIndex ${apiBefore} -> ${(await job(prod, "api"))?.JobModifyIndex})`);

    step(3, "Someone edits a job by hand in Nomad: Steward heals it");
    const hand = await job(qa, "web");
    if (hand) {
      const task = hand.TaskGroups[0]?.Tasks[0];
      if (task) task.Config.image = "127.0.0.1:5000/web:latest";
      await qa.put("/v1/jobs", { Job: hand });
      say("qa/web image set to 127.0.0.1:5000/web:latest by hand");
    }
    // Nomad shows the register before the pass records it: wait for both, so the reason printed is this heal's.
    await until(
      "qa/web healed",
      async () => image(await job(qa, "web")).includes("@sha256:") && leader.sync.statuses().find((s) => s.key === "qa/web")?.lastAction?.reason === "DriftHealed",
    );
    const healed = leader.sync.statuses().find((s) => s.key === "qa/web");
    say(`qa/web is back on ${image(await job(qa, "web"))} (${healed?.lastAction?.reason}: ${healed?.lastAction?.message})`);

    step(4, "A broken commit is refused; the last good state keeps running");
    await repo.write("desired-state/services/api/service.yaml", "image:\n  repository: 127.0.0.1:5000/api\nsync:\n  drfit: heal\n");
    say(`commit ${repo.commit("api: a typo").slice(0, 8)} "api: a typo"`);
    await hook(leader);
    const refused = await until("the refusal", () => leader.sync.revision.refused);
    for (const i of refused.issues) say(`refused: ${i.file ?? ""}${i.line ? `:${i.line}` : ""}: ${i.field ? `${i.field}: ` : ""}${i.message}`);
    say(`still in force: ${leader.sync.revision.good?.revision.slice(0, 8)}; prod/api still runs ${image(await job(prod, "api"))}`);
    repo.git("revert", "--no-edit", "HEAD");
    say(`commit ${repo.git("rev-parse", "--short=8", "HEAD")} reverts the typo`);
    await hook(leader);
    await until("the fix to be accepted", () => leader.sync.revision.refused === undefined || leader.sync.revision.good?.revision === repo.git("rev-parse", "HEAD"));

    step(5, "The leader goes away: the standby takes over");
    const gone = Date.now();
    await leader.stop();
    daemons.splice(daemons.indexOf(leader), 1);
    await until("a new leader", () => standby.elector.isLeader);
    say(`${leader.config.instanceId} stopped; ${standby.config.instanceId} leads after ${Date.now() - gone} ms`);
    const web = await job(prod, "web");
    await repo.write("desired-state/services/web/service.yaml", (await readFile(svcFile, "utf8")).replace("count: 4", "count: 2"));
    say(`commit ${repo.commit("web: back to 2 in prod").slice(0, 8)} "web: back to 2 in prod"`);
    await hook(standby);
    await until("prod/web at count 2", async () => (await job(prod, "web"))?.TaskGroups[0]?.Count === 2);
    say(`the new leader applied it: prod/web count ${web?.TaskGroups[0]?.Count} -> 2`);

    await promotionStory({ sim, repo, steward: standby, registrySecret: REGISTRY_SECRET, hook, say, step, until }, 6);
    await healingStory({ say, step, until }, 9);

    process.stdout.write(`\nThe story is done. Steward (${standby.config.instanceId}) answers on ${standby.url}: the UI at ${standby.url}/ui/ (action token ${ACTION_TOKEN}), /api/status, /metrics, /healthz, /readyz.\n`);
    if (values.once) return;
    process.stdout.write("Both sim and Steward stay up; Ctrl-C stops them.\n");
    await new Promise<void>((resolve) => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
    });
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

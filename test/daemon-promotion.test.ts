import test from "ava";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import axios from "axios";
import { startSim } from "../sim/index.js";
import { Daemon } from "../src/daemon.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { eventually } from "./helpers/eventually.js";
import { GitRepo } from "./helpers/git-repo.js";
import { REPO_ROOT, imageOf, readJob, stewardYaml } from "./helpers/sync-fixture.js";

const REGISTRY_SECRET = "registry-secret";

// The daemon's wiring of promotion: two instances, a registry notification
// that reaches the standby is passed to the leader (through the sync-now
// switch, as a git webhook is), and the leader registers the pushed build in
// qa pinned by digest. Polling is set to 10 minutes, so only the hook can do it.
test("a_registry_notification_to_the_standby_gets_the_build_registered_in_qa_by_the_leader", async (t) => {
  const sim = await startSim({ healthyAfterMs: 200 });
  const repo = await GitRepo.create();
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  t.teardown(async () => {
    await Promise.all(daemons.map((d) => d.stop().catch(() => undefined)));
    await sim.close();
    await repo.destroy();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  const repository = `${new URL(sim.urls.registry).host}/hello`;
  await repo.copyIn(path.join(REPO_ROOT, "desired-state"), "desired-state");
  await repo.write("desired-state/steward.yaml", stewardYaml(sim));
  await repo.write(
    "desired-state/services/hello/service.yaml",
    ["job: hello.nomad.hcl", "image:", `  repository: ${repository}`, "  policy:", "    type: buildNumber", "environments:", "  qa:", "  prod:", ""].join("\n"),
  );
  repo.commit("hello is promoted");
  process.env.STEWARD_TEST_REGISTRY_SECRET = REGISTRY_SECRET;
  const start = async (id: string): Promise<Daemon> => {
    const dataDir = await mkdtemp(path.join(tmpdir(), `steward-${id}-`));
    dirs.push(dataDir);
    const d = new Daemon(
      {
        source: { git: { url: repo.dir, branch: "main", subdir: "desired-state", fetchIntervalMs: 60_000 } },
        consul: { address: sim.urls.consul },
        statePrefix: "steward",
        http: { listen: "127.0.0.1:0" },
        registryWebhookSecret: { env: "STEWARD_TEST_REGISTRY_SECRET" },
        instanceId: id,
        dataDir,
      },
      {
        logger: createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent", base: { instance: id } }),
        metrics: createMetrics({ defaultMetrics: false }),
        leader: { ttlMs: 10_000, lockDelayMs: 500, waitMs: 5_000 },
        watchWaitMs: 5_000,
        promotion: { pollIntervalMs: 10 * 60_000 },
      },
    );
    await d.start();
    daemons.push(d);
    return d;
  };
  const a = await start("a");
  const b = await start("b");
  await eventually(() => [a, b].filter((d) => d.elector.isLeader).length === 1, { timeoutMs: 15_000 });
  const leader = a.elector.isLeader ? a : b;
  const standby = leader === a ? b : a;
  await eventually(() => leader.promotion.leading && leader.promotion.status().length === 1, { timeoutMs: 15_000 });
  // No digest pinned and no build yet: the job is held, not registered with a guess.
  t.is(await readJob(axios.create({ baseURL: sim.urls.nomad.qa ?? "", validateStatus: () => true }), "hello"), undefined);

  const digest = sim.registry.pushImage("hello", "build-1");
  const envelope = { events: [{ action: "push", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, repository: "hello", tag: "build-1" } }] };
  const res = await axios.post(`${standby.url}/hooks/registry`, envelope, {
    headers: { "Content-Type": "application/vnd.docker.distribution.events.v1+json", Authorization: `Bearer ${REGISTRY_SECRET}` },
  });
  t.is(res.status, 202);
  t.deepEqual(res.data.services, ["hello"]);
  const qa = axios.create({ baseURL: sim.urls.nomad.qa ?? "", validateStatus: () => true });
  await eventually(async () => imageOf(await readJob(qa, "hello")) === `${repository}@${digest}`, { timeoutMs: 20_000 });
  const doc = (await axios.get(`${leader.url}/api/status`)).data as { promotion: Array<{ service: string; history: Array<{ reason: string; digest: string }> }> };
  t.true(doc.promotion[0]?.history.some((h) => h.reason === "StageEntered" && h.digest === digest), "the leader's status shows the journal line");
  const refused = await axios.post(`${standby.url}/hooks/registry`, envelope, { headers: { Authorization: "Bearer wrong" }, validateStatus: () => true });
  t.is(refused.status, 401);
});

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import axios, { type AxiosInstance } from "axios";
import { startSim, type Sim, type SimOptions } from "../../sim/index.js";
import { planImage } from "../../sim/registry/seed.js";
import { ConsulKvWriter, SyncStateStore } from "../../src/actuators/consul-kv.js";
import { PromotionJournalStore } from "../../src/actuators/journal.js";
import { createLogger } from "../../src/log.js";
import { createMetrics, type StewardMetrics } from "../../src/metrics.js";
import { PromotionLoop, type PromotionLoopOptions } from "../../src/reconciler/promotion/loop.js";
import { promotedImageResolver } from "../../src/reconciler/promotion/observe.js";
import type { PromotionRecord } from "../../src/reconciler/promotion/journal.js";
import { NomadClients, envTokens } from "../../src/reconciler/sync/clients.js";
import { pinnedImage } from "../../src/reconciler/sync/intake.js";
import { SyncLoop } from "../../src/reconciler/sync/loop.js";
import { ConsulClient } from "../../src/sources/consul.js";
import { GitSource } from "../../src/sources/git.js";
import { RegistryClient } from "../../src/sources/registry.js";
import { pushBlob, pushManifest, startDockerRegistry, type DockerRegistry, type DockerRegistryOptions } from "./docker-registry.js";
import { GitRepo } from "./git-repo.js";
import type { JobParser } from "../../sim/nomad/parse/index.js";

/** One Steward instance as far as promotion goes: a sync loop and a promotion loop sharing Consul, wired as the daemon wires them. */
export interface PromotionInstance {
  sync: SyncLoop;
  promotion: PromotionLoop;
  journal: PromotionJournalStore;
  metrics: StewardMetrics;
  lead(): Promise<void>;
  stop(): Promise<void>;
}

export interface PromotionFixtureOptions {
  /** The Go jobspec helper sim parses job files with (one per process). */
  parser: JobParser;
  /** The real registry's notification endpoints (`registry: "real"` only). */
  notifications?: DockerRegistryOptions["notifications"];
  /** `real`: the Debian docker-registry binary; `sim`: sim's registry (which has fault injection). @default real */
  registry?: "real" | "sim";
  /** The job's `update { auto_revert }`. @default true */
  autoRevert?: boolean;
  /** service.yaml's `promotion:` block. @default a 300 ms soak in qa */
  promotion?: string;
  sim?: SimOptions;
  /** Overrides for each instance's promotion loop. */
  loop?: Partial<PromotionLoopOptions>;
}

export interface PromotionFixture {
  sim: Sim;
  /** `127.0.0.1:<port>/hello`. */
  repository: string;
  nomad: Record<string, AxiosInstance>;
  consul: ConsulClient;
  /** Pushes a new build as CI would (`hello:build-<n>`); returns its digest. */
  push(n: number, content?: string): Promise<string>;
  /** Points `hello:build-<n>` at an existing digest's manifest (a re-tag). */
  retag(n: number, digest: string): Promise<void>;
  /** A new instance (not leading yet) with the desired state accepted. */
  instance(): Promise<PromotionInstance>;
  /** Every journal record of hello. */
  records(): Promise<PromotionRecord[]>;
  close(): Promise<void>;
}

const ZERO = `sha256:${"0".repeat(64)}`;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** steward.yaml for sim's two clusters, with test-friendly sync defaults. */
function stewardYaml(sim: Sim): string {
  return [
    "environments:",
    "  - name: qa",
    "    nomad:",
    `      address: ${sim.urls.nomad.qa}`,
    "  - name: prod",
    "    nomad:",
    `      address: ${sim.urls.nomad.prod}`,
    "sync:",
    "  drift: heal",
    "  prune: false",
    "",
  ].join("\n");
}

/**
 * Not an ava helper (benches use it too); test/helpers/promotion-fixture.ts
 * gives tests the shared parser.
 *
 * sim (Nomad, Consul), a registry (the real docker-registry by default), a
 * git repository whose desired state holds one promoted service, `hello`
 * (qa then prod, `image.policy` buildNumber), and instances wired like the
 * daemon's. Tests push builds and assert what Nomad runs.
 */
export async function promotionWorld(o: PromotionFixtureOptions): Promise<PromotionFixture> {
  const sim = await startSim({ timeScale: 20, healthyAfterMs: 500, parser: o.parser, ...o.sim });
  const real: DockerRegistry | undefined = (o.registry ?? "real") === "real" ? await startDockerRegistry({ ...(o.notifications && { notifications: o.notifications }) }) : undefined;
  const base = real?.url ?? sim.urls.registry;
  const repository = `${new URL(base).host}/hello`;
  const repo = await GitRepo.create();
  await repo.copyIn(path.join(REPO_ROOT, "desired-state"), "desired-state");
  await repo.write("desired-state/steward.yaml", stewardYaml(sim));
  await repo.remove("desired-state/services/web");
  await repo.remove("desired-state/services/api");
  const hcl = await readFile(path.join(REPO_ROOT, "desired-state/services/hello/hello.nomad.hcl"), "utf8");
  await repo.write("desired-state/services/hello/hello.nomad.hcl", hcl.replace("auto_revert      = true", `auto_revert      = ${o.autoRevert ?? true}`));
  await repo.write(
    "desired-state/services/hello/service.yaml",
    [
      "job: hello.nomad.hcl",
      "image:",
      `  repository: ${repository}`,
      `  digest: ${ZERO}`,
      "  policy:",
      "    type: buildNumber",
      "environments:",
      "  qa:",
      "  prod:",
      "    variables:",
      "      count: 2",
      o.promotion ?? "promotion:\n  gates:\n    qa:\n      - soak: { duration: 300ms }",
      "",
    ].join("\n"),
  );
  repo.commit("hello is promoted");
  const cacheDir = await mkdtemp(path.join(tmpdir(), "steward-promo-"));
  const source = new GitSource({ url: repo.dir, cacheDir });
  const snapshot = await source.snapshot();
  const consul = new ConsulClient({ address: sim.urls.consul });
  const writer = new ConsulKvWriter(consul);
  const instances: PromotionInstance[] = [];
  const journal = new PromotionJournalStore(consul, writer);
  const nomad = Object.fromEntries(
    Object.entries(sim.urls.nomad).map(([env, url]) => [env, axios.create({ baseURL: url, validateStatus: () => true, timeout: 5_000 })]),
  );

  const pushPlan = async (tag: string, content: string): Promise<string> => {
    if (!real) return sim.registry.pushImage("hello", tag, { format: "docker", layer: content });
    const plan = planImage("hello", tag, { format: "docker", layer: content }, new Date().toISOString());
    for (const b of plan.blobs) await pushBlob(real.url, "hello", b);
    const m = plan.manifests[plan.manifests.length - 1]!;
    const res = await pushManifest(real.url, "hello", tag, m.mediaType, m.bytes);
    if (res.status !== 201) throw new Error(`push hello:${tag}: ${res.status} ${await res.text()}`);
    return res.headers.get("docker-content-digest") ?? "";
  };

  return {
    sim,
    repository,
    nomad,
    consul,
    push: async (n, content) => {
      const tag = `build-${n}`;
      const layer = content ?? `hello build ${n} ${Math.random()}`;
      return pushPlan(tag, layer);
    },
    retag: async (n, digest) => {
      const res = await fetch(`${base}/v2/hello/manifests/${digest}`, { headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" } });
      const bytes = Buffer.from(await res.arrayBuffer());
      const put = await pushManifest(base, "hello", `build-${n}`, res.headers.get("content-type") ?? "", bytes);
      if (put.status !== 201) throw new Error(`retag build-${n}: ${put.status}`);
    },
    instance: async () => {
      const logger = createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent", base: { instance: `i${instances.length + 1}` } });
      const metrics = createMetrics({ defaultMetrics: false });
      const c = new ConsulClient({ address: sim.urls.consul });
      const w = new ConsulKvWriter(c);
      const j = new PromotionJournalStore(c, w, { logger });
      const ref: { sync?: SyncLoop } = {};
      const promotion = new PromotionLoop({
        nomad: (env) => ref.sync!.clients.get(env).reader,
        registry: new RegistryClient({ http: { retry: { baseMs: 20, capMs: 200 }, timeoutMs: 2_000 } }),
        journal: j,
        logger,
        metrics,
        onStageDigest: (svc) => ref.sync!.refreshService(svc),
        watchWaitMs: 5_000,
        pollIntervalMs: 60_000,
        pollBackoff: { baseMs: 100, capMs: 1_000 },
        runner: { queue: { backoffBaseMs: 50, backoffCapMs: 1_000 } },
        ...o.loop,
      });
      const sync = new SyncLoop({
        clients: new NomadClients({ tokens: envTokens, metrics, http: { retry: { baseMs: 20, capMs: 200 }, timeoutMs: 2_000 } }),
        store: new SyncStateStore(c, w, { prefix: "steward/state/sync/" }),
        logger,
        metrics,
        watchWaitMs: 5_000,
        resolveImage: promotedImageResolver(promotion.cache, pinnedImage),
        runner: { queue: { backoffBaseMs: 50, backoffCapMs: 1_000 } },
      });
      ref.sync = sync;
      promotion.start();
      await promotion.whenJournalSynced();
      if ((await sync.acceptSnapshot(snapshot)) !== "accepted") throw new Error(`desired state not accepted: ${JSON.stringify(sync.revision)}`);
      if (sync.cache.revision) promotion.setRevision(sync.cache.revision);
      const inst: PromotionInstance = {
        sync,
        promotion,
        journal: j,
        metrics,
        lead: async () => {
          await promotion.whenJournalSynced();
          await promotion.catchUp();
          await Promise.all([sync.lead(), promotion.lead()]);
        },
        stop: async () => {
          await promotion.stop();
          await sync.stop();
        },
      };
      instances.push(inst);
      return inst;
    },
    records: async () => (await journal.list("hello")).map((e) => e.record),
    close: async () => {
      await Promise.all(instances.map((i) => i.stop().catch(() => undefined)));
      await sim.close();
      await real?.stop();
      await repo.destroy();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/** The image of a job's first task, or undefined when the job is absent. */
export async function runningImage(http: AxiosInstance, id = "hello"): Promise<string | undefined> {
  const r = await http.get(`/v1/job/${id}`);
  return r.status === 200 ? ((r.data as { TaskGroups?: Array<{ Tasks?: Array<{ Config?: { image?: string } }> }> }).TaskGroups?.[0]?.Tasks?.[0]?.Config?.image) : undefined;
}

/** Every image any stored version of the job ran (Nomad keeps six). */
export async function versionImages(http: AxiosInstance, id = "hello"): Promise<string[]> {
  const r = await http.get(`/v1/job/${id}/versions`);
  if (r.status !== 200) return [];
  const versions = (r.data as { Versions: Array<{ TaskGroups?: Array<{ Tasks?: Array<{ Config?: { image?: string } }> }> }> }).Versions;
  return versions.map((v) => v.TaskGroups?.[0]?.Tasks?.[0]?.Config?.image ?? "");
}

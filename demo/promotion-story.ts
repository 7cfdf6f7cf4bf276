/**
 * The demo's promotion story (demo/main.ts calls it after the sync story):
 * CI pushes a new build of hello to the registry, the registry notifies
 * Steward, qa deploys the build pinned by digest, its verification job
 * passes, prod gets the same digest; then a second build fails in qa and
 * never reaches prod.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import axios, { type AxiosInstance } from "axios";
import type { Sim } from "../sim/index.js";
import type { Daemon } from "../src/daemon.js";
import type { GitRepo } from "../test/helpers/git-repo.js";

/** What the story needs from the demo's setup. */
export interface PromotionStoryContext {
  sim: Sim;
  repo: GitRepo;
  /** The instance that leads now. */
  steward: Daemon;
  /** The shared secret the registry's notification endpoint sends (`Authorization: Bearer …`). */
  registrySecret: string;
  /** Announces the latest commit with a signed git webhook. */
  hook: (d: Daemon) => Promise<void>;
  say: (msg: string) => void;
  step: (n: number, title: string) => void;
  until: <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number) => Promise<T>;
}

const VERIFY_JOB = `# hello's tests, run in qa against the build being promoted (Steward sets var.image to it).
variable "image" {
  type = string
}

job "hello-tests" {
  type        = "batch"
  datacenters = ["dc1"]

  group "tests" {
    task "tests" {
      driver = "docker"
      config {
        image   = var.image
        command = "/hello"
        args    = ["-selftest"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`;

const short = (d: string | undefined): string => (d ? d.slice(0, 19) : "-");

/** Runs the story from step `first`; returns the next step number. */
export async function promotionStory(c: PromotionStoryContext, first: number): Promise<number> {
  const { sim, repo, say, step, until } = c;
  const repository = `${new URL(sim.urls.registry).host}/hello`;
  const qa = axios.create({ baseURL: sim.urls.nomad.qa ?? "", validateStatus: () => true });
  const prod = axios.create({ baseURL: sim.urls.nomad.prod ?? "", validateStatus: () => true });
  const image = async (http: AxiosInstance): Promise<string | undefined> => {
    const r = await http.get<{ TaskGroups?: Array<{ Tasks?: Array<{ Config?: { image?: string } }> }> }>("/v1/job/hello");
    return r.status === 200 ? r.data.TaskGroups?.[0]?.Tasks?.[0]?.Config?.image : undefined;
  };
  const notify = async (tag: string, digest: string): Promise<void> => {
    // The envelope docker-registry sends to its notification endpoints for a tagged manifest push.
    const body = { events: [{ action: "push", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, repository: "hello", tag }, request: { method: "PUT" } }] };
    const res = await axios.post(`${c.steward.url}/hooks/registry`, body, {
      headers: { "Content-Type": "application/vnd.docker.distribution.events.v1+json", Authorization: `Bearer ${c.registrySecret}` },
    });
    say(`the registry notified Steward (POST /hooks/registry): ${res.status}, woke ${JSON.stringify((res.data as { services?: string[] }).services)}`);
  };
  const record = (digest: string) => c.steward.promotion.status().find((s) => s.service === "hello")?.history.filter((h) => h.digest === digest) ?? [];

  step(first, "hello is promoted from now on: new builds go through qa (with a verification job) to prod");
  const svc = path.join(repo.dir, "desired-state/services/hello");
  await repo.write(
    "desired-state/services/hello/service.yaml",
    [
      "job: hello.nomad.hcl",
      "image:",
      `  repository: ${repository}`,
      `  digest: sha256:${"0".repeat(64)}`,
      "  policy:",
      "    type: buildNumber             # hello:build-<n>, newest = highest n",
      "environments:",
      "  qa:",
      "  prod:",
      "    variables:",
      "      count: 2",
      "promotion:",
      "  gates:",
      "    qa:",
      "      - verify: { job: hello-tests.nomad.hcl, timeout: 2m }",
      "",
    ].join("\n"),
  );
  await repo.write("desired-state/services/hello/hello-tests.nomad.hcl", VERIFY_JOB);
  // A shorter health wait than the example's 10 s, so the demo does not wait on it.
  await repo.write("desired-state/services/hello/hello.nomad.hcl", (await readFile(path.join(svc, "hello.nomad.hcl"), "utf8")).replace('min_healthy_time = "10s"', 'min_healthy_time = "1s"'));
  const sha = repo.commit("hello: promote builds from the registry through qa to prod");
  await c.hook(c.steward);
  await until("the promotion policy to be in force", () => c.steward.sync.revision.good?.revision === sha);
  say(`commit ${sha.slice(0, 8)}: hello's image.policy is buildNumber on ${repository}; qa's gate: the verification job hello-tests`);

  step(first + 1, "CI pushes build-1: qa runs it, the verification passes, prod gets the same digest");
  const pushed = Date.now();
  const good = sim.registry.pushImage("hello", "build-1");
  say(`pushed hello:build-1 = ${short(good)}`);
  await notify("build-1", good);
  await until("qa to run build-1", async () => (await image(qa)) === `${repository}@${good}`);
  say(`qa/hello registered with image ${repository}@${short(good)}… ${Date.now() - pushed} ms after the push (pinned by digest, never a tag)`);
  const verified = await until("the verification gate", () => record(good).find((h) => h.reason === "GatePassed"), 60_000);
  say(`qa gate passed: ${verified.message}`);
  await until("prod to run build-1", async () => (await image(prod)) === `${repository}@${good}`, 60_000);
  await until("build-1 to be promoted", () => record(good).find((h) => h.reason === "PromotionComplete"), 60_000);
  say(`prod/hello runs ${repository}@${short(good)}…: build-1 promoted, ${((Date.now() - pushed) / 1000).toFixed(1)} s from push to prod healthy`);

  step(first + 2, "CI pushes build-2, which is broken: it fails in qa and never reaches prod");
  const bad = sim.registry.pushImage("hello", "build-2");
  // sim: allocations of this digest never turn healthy, as a crashing build's would not.
  sim.control.markImageUnhealthy(bad);
  say(`pushed hello:build-2 = ${short(bad)} (it crashes on start)`);
  await notify("build-2", bad);
  const failed = await until("build-2 to fail in qa", () => record(bad).find((h) => h.reason === "DeploymentFailed" || h.reason === "GateFailed"), 60_000);
  say(`qa: ${failed.reason}: ${failed.message}`);
  await until("qa back on build-1", async () => (await image(qa)) === `${repository}@${good}`, 60_000);
  const rolled = await until("the rollback to be recorded", () => record(bad).find((h) => h.reason === "AutoReverted" || h.reason === "RolledBack"), 30_000);
  say(`qa is back on build-1 (${rolled.reason}); prod still runs ${short((await image(prod))?.split("@")[1])}…; build-2 is failed for good, whatever tag points to it`);
  const status = c.steward.promotion.status().find((s) => s.service === "hello");
  say(`steward status: hello ${status?.stages.map((s) => `${s.name}=${s.tag ?? short(s.digest)}`).join(" ")}; failed: ${status?.failed.map((f) => f.tag ?? short(f.digest)).join(", ")}`);
  return first + 3;
}

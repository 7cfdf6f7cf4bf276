import { startSim, type Sim } from "../../sim/index.js";
import { TerraformRunner } from "../../src/actuators/terraform.js";
import { ApplyBudget } from "../../src/reconciler/healing/budget.js";
import { HealingLoop, type HealingLoopOptions, type HealingTerraform } from "../../src/reconciler/healing/loop.js";
import { NomadNodesReader } from "../../src/sources/nomad-nodes.js";
import { NomadNodesActuator } from "../../src/actuators/nomad-nodes.js";
import { ConsulHealthReader } from "../../src/sources/consul-health.js";
import { ConsulCatalogActuator } from "../../src/actuators/consul-catalog.js";
import { HealingJournalStore } from "../../src/actuators/healing-journal.js";
import { ConsulKvWriter } from "../../src/actuators/consul-kv.js";
import { ConsulClient } from "../../src/sources/consul.js";
import { HttpClient } from "../../src/sources/http-client.js";
import { Ec2Reader, ec2OptionsFromEnv } from "../../src/sources/ec2.js";
import { createLogger, type Logger } from "../../src/log.js";
import type { StewardMetrics } from "../../src/metrics.js";
import type { PoolSpec } from "../../src/model/types.js";
import { desiredFor, workerPool } from "./healing-fixture.js";
import { describeRun, runTerraform, terraformWorkdir, type TerraformWorkdir } from "./terraform.js";

/** A sim whose EC2 instances are the project's worker-pool example applied by the real terraform, and a healing loop over them. */
export interface HealingWorld {
  sim: Sim;
  w: TerraformWorkdir;
  loop: HealingLoop;
  /** The `-replace` list of every apply the loop started. */
  applies: Array<readonly string[]>;
  /** Wall time of the initial init + apply, ms. */
  setupMs: number;
  close(): Promise<void>;
}

/** The pool as the example builds it, with a sim-time unhealthyAfter long enough for kills seen apart to count together. */
export function examplePool(over: Partial<PoolSpec> = {}): PoolSpec {
  return workerPool({
    health: { unhealthyAfterMs: 30 * 60_000, flapping: { count: 3, windowMs: 60 * 60_000, replace: false } },
    terraform: { dir: "terraform/examples/worker-pool", workspace: "default", address: 'module.workers.aws_instance.worker["${meta.terraform_key}"]' },
    ...over,
  });
}

/**
 * Starts sim (600x: 30 s boots are 50 real ms, unhealthyAfter 30 min is 3 s),
 * copies terraform/, applies examples/worker-pool with `keys`, and builds a
 * healing loop on the real TerraformRunner and an EC2 reader (not leading yet).
 * @throws when terraform or the provider mirror is missing, or the first apply fails
 */
export async function startHealingWorld(keys: string[], opts: { pool?: PoolSpec; logger?: Logger; metrics?: StewardMetrics; loop?: Partial<HealingLoopOptions> } = {}): Promise<HealingWorld> {
  const started = Date.now();
  const sim = await startSim({ clusters: [{ name: "prod", nodes: 0 }], timeScale: 600, ec2: { bootDelayMs: 30_000, terminateDelayMs: 30_000, terminatedVisibleMs: 1e12 } });
  const w = terraformWorkdir({
    module: "examples/worker-pool",
    ec2Url: sim.urls.ec2,
    vars: { ami: "ami-0123456789abcdef0", subnet_id: "subnet-0123456789abcdef0", workers: Object.fromEntries(keys.map((k) => [k, {}])) },
  });
  const consul = new ConsulClient({ address: sim.urls.consul });
  const made: { loop?: HealingLoop } = {};
  const close = async (): Promise<void> => {
    await made.loop?.stop();
    consul.close();
    await sim.close();
    w.cleanup();
  };
  try {
    for (const args of [["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-json", "-input=false"]]) {
      const r = await runTerraform(w, args);
      if (r.code !== 0) throw new Error(describeRun(r));
    }
  } catch (err) {
    await close();
    throw err;
  }
  const env = Object.fromEntries(Object.entries(w.env).filter((e): e is [string, string] => e[1] !== undefined));
  const runner = new TerraformRunner({ env });
  const applies: Array<readonly string[]> = [];
  const terraform: HealingTerraform = {
    isBusy: (dir) => runner.isBusy(dir),
    state: (dir, ws) => runner.state(dir, ws),
    apply: (req) => {
      applies.push(req.replace ?? []);
      return runner.apply(req);
    },
  };
  const http = (target: string, baseURL: string): HttpClient => new HttpClient({ target, baseURL, retry: { baseMs: 20, capMs: 200 } });
  const consulHttp = http("consul", sim.urls.consul);
  const loop = new HealingLoop({
    nomad: (e) => {
      const h = http("nomad", e.nomad.address);
      return { reader: new NomadNodesReader(e.name, h), actuator: new NomadNodesActuator(e.name, h) };
    },
    consul: { reader: new ConsulHealthReader(consulHttp), catalog: new ConsulCatalogActuator(consulHttp) },
    terraform,
    instances: new Ec2Reader(ec2OptionsFromEnv(env) ?? { accessKeyId: "test", secretAccessKey: "test", endpoint: sim.urls.ec2 }),
    budget: new ApplyBudget({ perDir: 2, global: 6, windowMs: 60 * 60_000 }),
    journal: new HealingJournalStore(consul, new ConsulKvWriter(consul)),
    terraformRoot: w.root,
    // Real-time terraform under a 600x sim clock: its deadline, the state's age and the boot timeout are in sim ms.
    applyTimeoutMs: 24 * 3_600_000,
    stateMaxAgeMs: 24 * 3_600_000,
    bootTimeoutMs: 24 * 3_600_000,
    logger: opts.logger ?? createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" }),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    clock: sim.clock,
    watchWaitMs: 2_000,
    ...opts.loop,
  });
  made.loop = loop;
  loop.setDesired(desiredFor(sim, [opts.pool ?? examplePool()]));
  const deadline = Date.now() + 30_000;
  while (sim.world.list("prod").filter((m) => m.state === "up").length < keys.length) {
    if (Date.now() > deadline) {
      await close();
      throw new Error(`only ${sim.world.list("prod").length} of ${keys.length} workers booted`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { sim, w, loop, applies, setupMs: Date.now() - started, close };
}

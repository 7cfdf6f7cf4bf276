import { startSim, type Sim, type SimOptions } from "../../sim/index.js";
import { HealingLoop, type HealingApplyResult, type HealingBudget, type HealingLoopOptions, type HealingTerraform } from "../../src/reconciler/healing/loop.js";
import type { TerraformProgressEvent } from "../../src/reconciler/healing/progress.js";
import { NomadNodesReader } from "../../src/sources/nomad-nodes.js";
import { NomadNodesActuator } from "../../src/actuators/nomad-nodes.js";
import { ConsulHealthReader } from "../../src/sources/consul-health.js";
import { ConsulCatalogActuator } from "../../src/actuators/consul-catalog.js";
import { HealingJournalStore } from "../../src/actuators/healing-journal.js";
import { ConsulKvWriter } from "../../src/actuators/consul-kv.js";
import { ConsulClient } from "../../src/sources/consul.js";
import { HttpClient } from "../../src/sources/http-client.js";
import { createLogger } from "../../src/log.js";
import { createMetrics, type StewardMetrics } from "../../src/metrics.js";
import type { DesiredState, EnvironmentSpec, PoolSpec } from "../../src/model/types.js";

export const ADDRESS_TEMPLATE = 'module.workers.aws_instance.worker["${meta.terraform_key}"]';
export const addressOf = (key: string): string => `module.workers.aws_instance.worker["${key}"]`;

/** A worker pool spec over meta steward_pool=workers; override what a test is about. */
export function workerPool(over: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: "workers",
    file: "pools/workers.yaml",
    env: "prod",
    role: "worker",
    select: { meta: { steward_pool: "workers" } },
    terraform: { dir: "workers", workspace: "default", address: ADDRESS_TEMPLATE },
    health: { unhealthyAfterMs: 5 * 60_000, flapping: { count: 3, windowMs: 30 * 60_000, replace: false } },
    drain: { deadlineMs: 60_000 },
    budgets: { maxUnhealthy: { percent: 40 }, maxConcurrent: 1, cooldownMs: 0 },
    ...over,
  };
}

/** The desired state healing reads: prod at the sim's Nomad, and the pools. */
export function desiredFor(sim: Sim, pools: PoolSpec[]): DesiredState {
  const prod: EnvironmentSpec = { name: "prod", nomad: { address: sim.urls.nomad.prod ?? "", region: "global", namespace: "default" }, freeze: [] } as unknown as EnvironmentSpec;
  return { revision: "r1", origin: "test", environments: [prod], syncDefaults: {} as DesiredState["syncDefaults"], services: [], pools };
}

/**
 * Terraform as a fake: the state is a map address → instance id; an apply
 * replaces (or recreates) machines in the sim World the way the real
 * provider + sim EC2 would, after `applyMs` real ms. Counts applies.
 * Reports progress as `terraform apply -json` would (plan, Destroying...,
 * Creating..., Creation complete, the summary), plus a provider `log` line
 * and a warning diagnostic quoting `leak`, when set: neither may reach a page.
 */
export class FakeTerraform implements HealingTerraform {
  readonly applies: Array<{ dir: string; replace: string[] }> = [];
  readonly instances = new Map<string, string>();
  busy = 0;
  /** When set, the next apply fails with this diagnostic. */
  failNext: string | undefined;
  /** A secret (a variable's value, a token) the fake "echoes" in a log line and a diagnostic of every apply. */
  leak: string | undefined;
  private seq = 0;

  constructor(
    private readonly sim: Sim,
    private readonly applyMs = 50,
  ) {}

  private readonly roles = new Map<string, "client" | "server">();

  /** Boots `keys` as machines of pool workers (or, with role server, of pool servers), each with an instance in the fake state. */
  boot(keys: string[], role: "client" | "server" = "client"): void {
    for (const k of keys) {
      this.roles.set(k, role);
      this.launch(k);
    }
  }

  private launch(k: string): void {
    const id = `i-${k}-${++this.seq}`;
    const role = this.roles.get(k) ?? "client";
    const pool = role === "server" ? "servers" : "workers";
    this.instances.set(addressOf(k), id);
    this.sim.world.addMachine({ cluster: "prod", role, name: `${pool}-${k}-${this.seq}`, meta: { steward_pool: pool, terraform_key: k }, instanceId: id });
  }

  isBusy(): boolean {
    return this.busy > 0;
  }

  async apply(req: { dir: string; replace?: readonly string[]; onProgress?: (e: TerraformProgressEvent) => void }): Promise<HealingApplyResult> {
    this.applies.push({ dir: req.dir, replace: [...(req.replace ?? [])] });
    this.busy++;
    const say = (type: string, message: string, level: TerraformProgressEvent["level"] = "info"): void => req.onProgress?.({ type, level, message });
    const replace = req.replace ?? [];
    try {
      for (const addr of replace) say("planned_change", `${addr}: Plan to replace`);
      if (this.leak) {
        say("log", `provider.aws: assuming role with session token ${this.leak}`);
        say("diagnostic", `Warning: Argument is deprecated: user_data was ${this.leak}`, "warn");
      }
      for (const addr of replace) say("apply_start", `${addr}: Destroying... [id=${this.instances.get(addr) ?? "?"}]`);
      for (const addr of replace) say("apply_start", `${addr}: Creating...`);
      await new Promise((r) => setTimeout(r, this.applyMs / 2));
      for (const addr of replace) say("apply_progress", `${addr}: Still creating... [10s elapsed]`);
      await new Promise((r) => setTimeout(r, this.applyMs / 2));
      if (this.failNext) {
        const summary = this.failNext;
        this.failNext = undefined;
        say("diagnostic", `Error: ${summary}`, "error");
        return { ok: false, durationMs: this.applyMs, timedOut: false, lockError: false, diagnostics: [{ severity: "error", summary }], exitCode: 1 };
      }
      for (const addr of replace) {
        const key = /\["(.+)"\]$/.exec(addr)?.[1] ?? "";
        const old = [...this.sim.world.machines.values()].find((m) => m.instanceId === this.instances.get(addr));
        if (old) this.sim.world.remove(old.id);
        this.launch(key);
        say("apply_complete", `${addr}: Creation complete after ${Math.round(this.applyMs / 1000)}s [id=${this.instances.get(addr) ?? "?"}]`);
      }
      say("change_summary", `Apply complete! Resources: ${replace.length} added, 0 changed, ${replace.length} destroyed.`);
      return { ok: true, durationMs: this.applyMs, timedOut: false, lockError: false, diagnostics: [], exitCode: 0 };
    } finally {
      this.busy--;
    }
  }

  async state(): Promise<Array<{ address: string; type: string; values: Record<string, unknown> }>> {
    return [...this.instances].map(([address, id]) => ({ address, type: "aws_instance", values: { id, instance_state: "running" } }));
  }
}

/** A budget of `n` applies that never refills (enough to count what a storm spends). */
export class CountingBudget implements HealingBudget {
  taken = 0;
  constructor(public tokens: number) {}
  view(_dir: string, now: number): { available: number; nextAt: number } {
    return { available: this.tokens, nextAt: now + 60_000 };
  }
  take(): boolean {
    if (this.tokens < 1) return false;
    this.tokens--;
    this.taken++;
    return true;
  }
  refund(): void {
    this.tokens++;
  }
}

export interface HealingFixture {
  sim: Sim;
  metrics: StewardMetrics;
  consul: ConsulClient;
  journal: HealingJournalStore;
  newLoop(over?: Partial<HealingLoopOptions>): HealingLoop;
  close(): Promise<void>;
}

/** sim (prod only, no client nodes of its own) and a factory of healing loops wired to it. */
export async function healingFixture(opts: SimOptions = {}): Promise<HealingFixture> {
  const sim = await startSim({ clusters: [{ name: "prod", nodes: 0 }], timeScale: 600, ...opts });
  const metrics = createMetrics({ defaultMetrics: false });
  const logger = createLogger({ level: process.env.STEWARD_TEST_LOG ?? "silent" });
  const consul = new ConsulClient({ address: sim.urls.consul, retry: { baseMs: 20, capMs: 200 } });
  const journal = new HealingJournalStore(consul, new ConsulKvWriter(consul));
  const http = (target: string, baseURL: string): HttpClient => new HttpClient({ target, baseURL, retry: { baseMs: 20, capMs: 200 }, timeoutMs: 5_000 });
  const loops: HealingLoop[] = [];
  const consulHttp = http("consul", sim.urls.consul);
  return {
    sim,
    metrics,
    consul,
    journal,
    newLoop: (over = {}) => {
      const loop = new HealingLoop({
        nomad: (env) => {
          const h = http("nomad", env.nomad.address);
          return { reader: new NomadNodesReader(env.name, h), actuator: new NomadNodesActuator(env.name, h) };
        },
        consul: { reader: new ConsulHealthReader(consulHttp), catalog: new ConsulCatalogActuator(consulHttp) },
        terraform: new FakeTerraform(sim),
        budget: new CountingBudget(10),
        journal,
        logger,
        metrics,
        clock: sim.clock,
        watchWaitMs: 2_000,
        stateMaxAgeMs: 60 * 60_000,
        // Sim time runs 600x: a loaded machine must not make a booting node look slow.
        bootTimeoutMs: 24 * 3_600_000,
        runner: { queue: { backoffBaseMs: 20, backoffCapMs: 200 } },
        ...over,
      });
      loops.push(loop);
      return loop;
    },
    close: async () => {
      for (const l of loops) await l.stop();
      consul.close();
      await sim.close();
    },
  };
}

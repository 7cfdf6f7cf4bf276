import { Clock } from "./core/clock.js";
import { World, type Machine, type MachineSpec } from "./core/world.js";
import { FaultInjector, seededRandom, type ActiveFault, type FaultRule } from "./core/faults.js";
import { RequestLog } from "./core/request-log.js";
import { serve, type SimServer } from "./core/http.js";
import type { SimContext } from "./core/context.js";
import { NomadCluster } from "./nomad/index.js";
import { createJobParser, type JobParser } from "./nomad/parse/index.js";
import { ConsulServer } from "./consul/index.js";
import { VaultServer } from "./vault/index.js";
import { RegistryServer, type RegistryNotificationEndpoint } from "./registry/index.js";
import { Ec2Server, type Ec2Options } from "./ec2/index.js";
import { controlRouter } from "./control.js";

/** One emulated Nomad cluster (an environment). */
export interface SimClusterOptions {
  name: string;
  /** @default "global" */
  region?: string;
  /** @default ["dc1"] */
  datacenters?: string[];
  /** Client nodes booted at start. @default 3 */
  nodes?: number;
  /** @default 0 (a free port) */
  port?: number;
}

export interface SimOptions {
  /** @default qa and prod, 3 nodes each */
  clusters?: SimClusterOptions[];
  /** Sim ms per real ms, for world timeouts. @default 1 */
  timeScale?: number;
  /** Seed of the sim's random source (fault rates, ids where random). @default 1 */
  seed?: number;
  /** When set, Nomad requires `X-Nomad-Token` equal to it (a management token). */
  nomadToken?: string;
  /** When set, Consul requires `X-Consul-Token` (or `?token=`) equal to it. */
  consulToken?: string;
  /** Vault's root token. @default "root" */
  vaultRootToken?: string;
  /** Sim ms after which a new allocation reports healthy. @default 2000 */
  healthyAfterMs?: number;
  /** Where the registry sends push notifications. */
  registryNotifications?: RegistryNotificationEndpoint[];
  /** EC2 (+ STS) emulator options: boot and terminate delays, throttling. */
  ec2?: Ec2Options;
  ports?: { consul?: number; vault?: number; registry?: number; ec2?: number; control?: number };
  /**
   * A jobspec parser to share (one Go helper process for many sims in one
   * test process); the sim then leaves it running on close. @default a new one
   */
  parser?: JobParser;
}

export interface SimUrls {
  nomad: Record<string, string>;
  consul: string;
  vault: string;
  registry: string;
  /** EC2 and STS Query API (AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_STS). */
  ec2: string;
  control: string;
}

/**
 * The control handle: the same operations the control HTTP API offers
 * (`sim/control.ts`), for tests that hold the sim in-process.
 */
export interface SimControl {
  addNode(spec: MachineSpec): Machine;
  killNode(idOrName: string): Machine;
  reviveNode(idOrName: string): Machine;
  /** Allocations running this image digest (or `repo@digest`) never become healthy, in every cluster. */
  markImageUnhealthy(digest: string): void;
  clearImageUnhealthy(digest: string): void;
  /** Allocations of this job version in this cluster never become healthy. */
  markVersionUnhealthy(cluster: string, jobId: string, version: number): void;
  addFault(rule: FaultRule): ActiveFault;
  removeFault(id: string): boolean;
  clearFaults(): void;
  partition(on: boolean): void;
  setTimeScale(scale: number): void;
}

export interface Sim {
  urls: SimUrls;
  control: SimControl;
  nomad: Record<string, NomadCluster>;
  consul: ConsulServer;
  vault: VaultServer;
  registry: RegistryServer;
  ec2: Ec2Server;
  world: World;
  clock: Clock;
  log: RequestLog;
  faults: FaultInjector;
  close(): Promise<void>;
}

export const DEFAULT_CLUSTERS: SimClusterOptions[] = [
  { name: "qa", nodes: 3 },
  { name: "prod", nodes: 3 },
];

/** Starts the emulated HashiStack on loopback, in this process. */
export async function startSim(options: SimOptions = {}): Promise<Sim> {
  const clock = new Clock(options.timeScale ?? 1);
  const world = new World(() => clock.now());
  const random = seededRandom(options.seed ?? 1);
  const ctx: SimContext = { clock, world, random };
  const faults = new FaultInjector(random);
  const log = new RequestLog();
  const servers: SimServer[] = [];
  const ownParser = options.parser === undefined;
  const parser: JobParser = options.parser ?? (await createJobParser());

  const consul = new ConsulServer(ctx, { datacenter: "dc1", ...(options.consulToken ? { aclToken: options.consulToken } : {}) });
  const vault = new VaultServer(ctx, { rootToken: options.vaultRootToken ?? "root" });
  const registry = new RegistryServer(ctx, { notifications: options.registryNotifications ?? [] });
  const ec2 = new Ec2Server(ctx, options.ec2 ?? {});

  const nomad: Record<string, NomadCluster> = {};
  const nomadUrls: Record<string, string> = {};
  for (const c of options.clusters ?? DEFAULT_CLUSTERS) {
    const cluster = new NomadCluster(ctx, {
      name: c.name,
      region: c.region ?? "global",
      datacenters: c.datacenters ?? ["dc1"],
      parser,
      healthyAfterMs: options.healthyAfterMs ?? 2000,
      ...(options.nomadToken ? { aclToken: options.nomadToken } : {}),
    });
    nomad[c.name] = cluster;
    const srv = await serve({ name: `nomad:${c.name}`, router: cluster.router, faults, log, port: c.port ?? 0 });
    servers.push(srv);
    nomadUrls[c.name] = srv.url;
  }
  const consulSrv = await serve({ name: "consul", router: consul.router, faults, log, port: options.ports?.consul ?? 0 });
  const vaultSrv = await serve({ name: "vault", router: vault.router, faults, log, port: options.ports?.vault ?? 0, acceptListMethod: true });
  const registrySrv = await serve({ name: "registry", router: registry.router, faults, log, port: options.ports?.registry ?? 0 });
  const ec2Srv = await serve({ name: "ec2", router: ec2.router, faults, log, port: options.ports?.ec2 ?? 0 });
  servers.push(consulSrv, vaultSrv, registrySrv, ec2Srv);
  registry.setBaseUrl(registrySrv.url);

  // Nodes boot after every product listens, so each sees every machine.
  for (const c of options.clusters ?? DEFAULT_CLUSTERS) {
    for (let i = 0; i < (c.nodes ?? 3); i++) world.addMachine({ cluster: c.name, datacenter: (c.datacenters ?? ["dc1"])[0] ?? "dc1" });
  }

  const control: SimControl = {
    addNode: (spec) => world.addMachine(spec),
    killNode: (id) => world.kill(id),
    reviveNode: (id) => world.revive(id),
    markImageUnhealthy: (d) => Object.values(nomad).forEach((n) => n.markImageUnhealthy(d)),
    clearImageUnhealthy: (d) => Object.values(nomad).forEach((n) => n.clearImageUnhealthy(d)),
    markVersionUnhealthy: (cluster, job, version) => {
      const n = nomad[cluster];
      if (!n) throw new Error(`no Nomad cluster named ${cluster}`);
      n.markVersionUnhealthy(job, version);
    },
    addFault: (r) => faults.add(r),
    removeFault: (id) => faults.remove(id),
    clearFaults: () => faults.clear(),
    partition: (on) => world.setPartition(on),
    setTimeScale: (s) => clock.setScale(s),
  };

  const sim: Omit<Sim, "urls" | "close"> = { control, nomad, consul, vault, registry, ec2, world, clock, log, faults };
  const controlSrv = await serve({ name: "control", router: controlRouter(sim), log, port: options.ports?.control ?? 0 });
  servers.push(controlSrv);

  const urls: SimUrls = { nomad: nomadUrls, consul: consulSrv.url, vault: vaultSrv.url, registry: registrySrv.url, ec2: ec2Srv.url, control: controlSrv.url };
  return {
    ...sim,
    urls,
    close: async () => {
      clock.cancelAll();
      for (const n of Object.values(nomad)) n.close();
      consul.close();
      vault.close();
      registry.close();
      ec2.close();
      if (ownParser) await parser.close();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

import { Clock } from "../core/clock.js";
import { seededRandom } from "../core/faults.js";
import { serve, type SimServer } from "../core/http.js";
import { World } from "../core/world.js";
import { NomadCluster, type NomadClusterOptions } from "./index.js";
import type { JobParser } from "./parse/index.js";

/** A reply as a test sees it: lower-cased header names, the text and its JSON (when it parses). */
export interface HarnessReply {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: unknown;
}

/** One cluster on a loopback port, with its own clock and world. */
export interface NomadHarness {
  cluster: NomadCluster;
  world: World;
  clock: Clock;
  server: SimServer;
  url: string;
  call(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }): Promise<HarnessReply>;
  close(): Promise<void>;
}

/** Cluster options for the harness; everything has a test-friendly default. */
export interface HarnessOptions extends Partial<Omit<NomadClusterOptions, "parser">> {
  /** Sim ms per real ms. @default 1000 */
  scale?: number;
  /** Machines booted in the cluster. @default 3 */
  nodes?: number;
  parser?: JobParser;
  seed?: number;
}

/** A parser for tests that do not parse HCL: every parse fails with a fixed text. */
export const noParser: JobParser = {
  parse: () => Promise.resolve({ ok: false, error: "no HCL parser in this harness" }),
  close: () => Promise.resolve(),
};

/**
 * Starts one emulated Nomad cluster in-process on a free loopback port with
 * a fast clock (tests and benchmarks). Machines boot as `qa-client-N`; their
 * nodes are ready once `ready()` resolves.
 */
export async function startNomadHarness(opts: HarnessOptions = {}): Promise<NomadHarness & { ready(): Promise<void> }> {
  const clock = new Clock(opts.scale ?? 1000);
  const world = new World(() => clock.now());
  const random = seededRandom(opts.seed ?? 1);
  const name = opts.name ?? "qa";
  const cluster = new NomadCluster(
    { clock, world, random },
    {
      name,
      region: opts.region ?? "global",
      datacenters: opts.datacenters ?? ["dc1"],
      parser: opts.parser ?? noParser,
      healthyAfterMs: opts.healthyAfterMs ?? 2000,
      ...(opts.aclToken ? { aclToken: opts.aclToken } : {}),
      ...(opts.heartbeatTtlMs !== undefined ? { heartbeatTtlMs: opts.heartbeatTtlMs } : {}),
      ...(opts.nodeReadyAfterMs !== undefined ? { nodeReadyAfterMs: opts.nodeReadyAfterMs } : {}),
      ...(opts.allocStartMs !== undefined ? { allocStartMs: opts.allocStartMs } : {}),
      ...(opts.batchRunMs !== undefined ? { batchRunMs: opts.batchRunMs } : {}),
      // A fast clock would collect what a test is about to read: a day of sim time.
      gcThresholdMs: opts.gcThresholdMs ?? 86_400_000,
    },
  );
  const server = await serve({ name: `nomad:${name}`, router: cluster.router });
  for (let i = 0; i < (opts.nodes ?? 3); i++) world.addMachine({ cluster: name });
  const call: NomadHarness["call"] = async (method, path, o = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: o.headers ?? {},
      ...(o.body !== undefined ? { body: typeof o.body === "string" ? o.body : JSON.stringify(o.body) } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      body = undefined;
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { status: res.status, headers, text, body };
  };
  const ready = async (): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (cluster.stats().readyNodes < world.list(name).filter((m) => m.state === "up").length) {
      if (Date.now() > deadline) throw new Error("nodes did not become ready");
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    cluster,
    world,
    clock,
    server,
    url: server.url,
    call,
    ready,
    close: async () => {
      cluster.close();
      clock.cancelAll();
      await server.close();
    },
  };
}

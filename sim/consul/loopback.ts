import { Clock } from "../core/clock.js";
import { World } from "../core/world.js";
import { seededRandom } from "../core/faults.js";
import { serve, type SimServer } from "../core/http.js";
import type { SimContext } from "../core/context.js";
import { ConsulServer, type ConsulServerOptions } from "./index.js";

/**
 * A Consul emulator alone on loopback, with its own clock, world and seeded
 * random source: for tests and benchmarks that need Consul without the rest
 * of the sim. `call` is a small fetch wrapper that returns status, lower-cased
 * headers, text and parsed JSON.
 */
export interface ConsulHarness {
  ctx: SimContext;
  consul: ConsulServer;
  server: SimServer;
  call: (method: string, path: string, opts?: CallOptions) => Promise<CallResult>;
  close: () => Promise<void>;
}

export interface CallOptions {
  query?: Record<string, string> | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

/** Starts the harness; `scale` is the clock's sim ms per real ms, `seed` the random seed. */
export async function startConsul(
  opts: Partial<ConsulServerOptions> & { scale?: number; seed?: number } = {},
): Promise<ConsulHarness> {
  const clock = new Clock(opts.scale ?? 1);
  const world = new World(() => clock.now());
  const ctx: SimContext = { clock, world, random: seededRandom(opts.seed ?? 7) };
  const { scale: _s, seed: _seed, ...rest } = opts;
  const consul = new ConsulServer(ctx, { datacenter: "dc1", ...rest });
  const server = await serve({ name: "consul", router: consul.router });
  const call = async (method: string, path: string, o: CallOptions = {}): Promise<CallResult> => {
    const qs = o.query ? `?${new URLSearchParams(o.query).toString().replace(/=(?=&|$)/g, "")}` : "";
    const body =
      o.body === undefined || o.body === null
        ? undefined
        : Buffer.isBuffer(o.body)
          ? new Uint8Array(o.body)
          : typeof o.body === "string"
            ? o.body
            : JSON.stringify(o.body);
    const res = await fetch(`${server.url}${path}${qs}`, { method, headers: o.headers ?? {}, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: Object.fromEntries(res.headers.entries()), text, json };
  };
  return {
    ctx,
    consul,
    server,
    call,
    close: async () => {
      consul.close();
      clock.cancelAll();
      await server.close();
    },
  };
}

/** Registers a node (with optional service and checks) through the catalog API, as an external registration would. */
export async function registerNode(
  h: ConsulHarness,
  body: { Node: string; Address?: string; NodeMeta?: Record<string, string>; Service?: unknown; Checks?: unknown[]; TaggedAddresses?: Record<string, string> },
): Promise<void> {
  const res = await h.call("PUT", "/v1/catalog/register", { body: { Address: "10.9.9.9", ...body } });
  if (res.status !== 200) throw new Error(`catalog register failed: ${res.status} ${res.text}`);
}

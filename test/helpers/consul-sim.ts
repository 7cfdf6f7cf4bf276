import Consul from "consul";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { ConsulServer } from "../../sim/consul/index.js";
import { ConsulClient } from "../../src/sources/consul.js";

/** One sim Consul on a loopback port, Steward's client and the real `consul` npm client on it. */
export interface ConsulSim {
  /** The emulator itself, to read what it holds (`kvEntry`) as Consul would answer. */
  sim: ConsulServer;
  server: SimServer;
  consul: ConsulClient;
  /** The `consul` npm package, for writes as another tool (or a person) would make them. */
  raw: Consul;
  url: string;
}

/** Starts a sim Consul torn down with the test. */
export async function startConsulSim(t: { teardown: (fn: () => Promise<void>) => void }): Promise<ConsulSim> {
  const clock = new Clock(1);
  const sim = new ConsulServer({ clock, world: new World(() => clock.now()), random: seededRandom(7) }, { datacenter: "dc1" });
  const server = await serve({ name: "consul", router: sim.router });
  const consul = new ConsulClient({ address: server.url });
  const raw = new Consul({ host: "127.0.0.1", port: server.port });
  t.teardown(async () => {
    raw.destroy();
    consul.close();
    sim.close();
    clock.cancelAll();
    await server.close();
  });
  return { sim, server, consul, raw, url: server.url };
}

/**
 * `npm run sim`: the emulated HashiStack on loopback, in one process, until
 * Ctrl-C. Prints where each API answers. Flags:
 *   --time-scale=N    sim ms per real ms for world timeouts (default 1)
 *   --nodes=N         client nodes per cluster (default 3)
 *   --random-ports    let the OS pick every port (default: the products' usual ports)
 *   --nomad-token=T / --consul-token=T   turn ACLs on
 */
import { parseArgs } from "node:util";
import { startSim, DEFAULT_CLUSTERS } from "./index.js";

const { values } = parseArgs({
  options: {
    "time-scale": { type: "string", default: "1" },
    nodes: { type: "string", default: "3" },
    "random-ports": { type: "boolean", default: false },
    "nomad-token": { type: "string" },
    "consul-token": { type: "string" },
  },
});

const scale = Number(values["time-scale"]);
const nodes = Number(values.nodes);
if (!(scale > 0)) fail(`--time-scale must be a number > 0, got ${values["time-scale"]}`);
if (!Number.isInteger(nodes) || nodes < 0) fail(`--nodes must be a whole number >= 0, got ${values.nodes}`);
const fixed = !values["random-ports"];
const nomadPorts: Record<string, number> = { qa: 4646, prod: 4656 };

const sim = await startSim({
  timeScale: scale,
  clusters: DEFAULT_CLUSTERS.map((c) => ({ ...c, nodes, port: fixed ? (nomadPorts[c.name] ?? 0) : 0 })),
  ...(values["nomad-token"] ? { nomadToken: values["nomad-token"] } : {}),
  ...(values["consul-token"] ? { consulToken: values["consul-token"] } : {}),
  ports: fixed ? { consul: 8500, vault: 8200, registry: 5000, ec2: 4566, control: 4650 } : {},
}).catch((err: unknown) => fail(`could not start sim: ${(err as Error).message}${hint(err)}`));

const lines = [
  "Steward sim: an emulated HashiStack on loopback",
  ...Object.entries(sim.urls.nomad).map(([name, url]) => `  Nomad ${name.padEnd(6)} ${url}   (NOMAD_ADDR=${url} nomad job status)`),
  `  Consul       ${sim.urls.consul}`,
  `  Vault        ${sim.urls.vault}   (root token: root)`,
  `  Registry     ${sim.urls.registry}`,
  `  EC2 + STS    ${sim.urls.ec2}   (AWS_ENDPOINT_URL_EC2=${sim.urls.ec2} AWS_ENDPOINT_URL_STS=${sim.urls.ec2})`,
  `  Control      ${sim.urls.control}/sim/state   (kill a node: curl -XPOST ${sim.urls.control}/sim/nodes/qa-client-1/kill)`,
  `  time scale   ${scale}x, ${nodes} nodes per cluster`,
  "Ctrl-C stops it.",
];
process.stdout.write(lines.join("\n") + "\n");

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void sim.close().then(() => process.exit(0));
  });
}

function hint(err: unknown): string {
  return (err as NodeJS.ErrnoException).code === "EADDRINUSE" ? " (a port is taken: try --random-ports)" : "";
}

function fail(msg: string): never {
  process.stderr.write(`sim: ${msg}\n`);
  process.exit(2);
}

// One real `terraform plan` of the whole terraform/examples/aws-cluster root
// against sim's EC2 (the real provider, pointed at sim by environment only),
// then `terraform show -json` of the saved plan. Every test below reads that
// one plan: the resource addresses, the addresses desired-state/pools/*.yaml
// resolve to, the tags sim boots each node from, and the cloud-init each
// node boots with (valid YAML whose Consul, Nomad and Vault configurations
// parse with HashiCorp's HCL parser, and agree with the tags).
import test from "ava";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { Clock } from "../../sim/core/clock.js";
import { seededRandom } from "../../sim/core/faults.js";
import { serve } from "../../sim/core/http.js";
import { World } from "../../sim/core/world.js";
import { machineSpec } from "../../sim/ec2/fleet.js";
import { Ec2Server, type Ec2Call } from "../../sim/ec2/index.js";
import type { Instance } from "../../sim/ec2/instance.js";
import { REPO_ROOT, describeRun, runTerraform, terraformWorkdir, type TerraformResult } from "../helpers/terraform.js";

const SERVER_IPS = ["10.0.1.10", "10.0.2.10", "10.0.3.10"];
const CONSUL_KEY = Buffer.alloc(32, 1).toString("base64");
const NOMAD_KEY = Buffer.alloc(32, 2).toString("base64");
const VAULT_CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";

/**
 * The example as sim can run it: sim offers instances only (no VPC, subnet,
 * security group or Elastic IP actions), so the network is an existing one
 * and the servers go without Elastic IPs. Everything else is the production
 * default (servers, Vault, registry, max_retries).
 */
const VARS = {
  ami: "ami-0123456789abcdef0",
  create_network: false,
  existing_network: {
    vpc_id: "vpc-0a1b2c3d4e5f60718",
    subnet_ids: { a: "subnet-0123456789abcdef0", b: "subnet-0123456789abcdef1", c: "subnet-0123456789abcdef2" },
  },
  server_elastic_ips: false,
  consul_gossip_key: CONSUL_KEY,
  nomad_gossip_key: NOMAD_KEY,
  vault_ca_cert: VAULT_CA,
  workers: { a: {}, b: { node_class: "batch", meta: { rack: "r2" } }, c: { subnet: "a" } },
};

const EXPECTED_ADDRESSES = [
  'module.registry.aws_instance.worker["a"]',
  'module.servers.aws_instance.server["server-1"]',
  'module.servers.aws_instance.server["server-2"]',
  'module.servers.aws_instance.server["server-3"]',
  'module.vault.aws_instance.vault["vault-1"]',
  'module.workers.aws_instance.worker["a"]',
  'module.workers.aws_instance.worker["b"]',
  'module.workers.aws_instance.worker["c"]',
];

interface ResourceChange {
  address: string;
  type: string;
  change: { actions: string[]; after: { tags?: Record<string, string>; user_data?: string; subnet_id?: string; private_ip?: string | null } };
}

interface NodeOutput {
  node_name: string;
  pool: string;
  role: string;
  address: string;
  node_pool: string;
  node_class: string;
  meta: Record<string, string>;
}

interface PoolOutput {
  role: string;
  select: { meta: Record<string, string> };
  address_template: string;
  addresses: Record<string, string>;
}

interface Plan {
  resource_changes: ResourceChange[];
  planned_values: { outputs: Record<string, { value?: unknown; sensitive: boolean }> };
  variables: Record<string, { value: unknown }>;
  configuration: {
    provider_config: Record<string, { expressions?: Record<string, { references?: string[] }> }>;
    root_module: { variables: Record<string, { default?: unknown }> };
  };
}

interface Planned {
  plan: Plan;
  stream: TerraformResult;
  calls: Ec2Call[];
  instances: ResourceChange[];
  nodes: Record<string, NodeOutput>;
  pools: Record<string, PoolOutput>;
  cloudInit: Record<string, string>;
}

function output<T>(plan: Plan, name: string): T {
  const o = plan.planned_values.outputs[name];
  if (o?.value === undefined) throw new Error(`output ${name} is not known at plan time`);
  return o.value as T;
}

const planned: Promise<Planned> = (async () => {
  const clock = new Clock(10);
  const world = new World(() => clock.now());
  const ec2 = new Ec2Server({ clock, world, random: seededRandom(7) }, {});
  const srv = await serve({ name: "ec2", router: ec2.router });
  try {
    const w = terraformWorkdir({ module: "examples/aws-cluster", ec2Url: srv.url, vars: VARS });
    try {
      const run = async (args: string[]): Promise<TerraformResult> => {
        const r = await runTerraform(w, args);
        if (r.code !== 0) throw new Error(describeRun(r));
        return r;
      };
      await run(["init", "-input=false", "-no-color"]);
      const stream = await run(["plan", "-json", "-input=false", "-out=tfplan"]);
      const plan = JSON.parse((await run(["show", "-json", "tfplan"])).stdout) as Plan;
      return {
        plan,
        stream,
        calls: ec2.calls(),
        instances: plan.resource_changes.filter((r) => r.type === "aws_instance"),
        nodes: output<Record<string, NodeOutput>>(plan, "nodes"),
        pools: output<Record<string, PoolOutput>>(plan, "pools"),
        cloudInit: output<Record<string, string>>(plan, "cloud_init"),
      };
    } finally {
      w.cleanup();
    }
  } finally {
    ec2.close();
    await srv.close();
  }
})();
// Awaited by every test; an early rejection must not end the worker before they report it.
planned.catch(() => undefined);

async function plannedFor(t: { timeout: (ms: number, why?: string) => void }): Promise<Planned> {
  t.timeout(150_000, "init, plan and show start the provider: 15-30 s on a busy machine");
  return planned;
}

test("plan_creates_one_instance_per_node_at_the_expected_addresses", async (t) => {
  const p = await plannedFor(t);
  t.deepEqual(p.plan.resource_changes.map((r) => r.address).sort(), EXPECTED_ADDRESSES);
  t.deepEqual([...new Set(p.plan.resource_changes.map((r) => r.change.actions.join(",")))], ["create"]);
  t.like(
    p.stream.messages.find((m) => m.type === "change_summary"),
    { changes: { add: EXPECTED_ADDRESSES.length, change: 0, remove: 0, operation: "plan" } },
  );
});

test("plan_asks_sim_only_what_sim_answers", async (t) => {
  // Environment only: the production provider block checks its credentials
  // with STS; planning new instances reads nothing else.
  const p = await plannedFor(t);
  t.deepEqual([...new Set(p.calls.map((c) => `${c.action} ${c.status}${c.code ? ` ${c.code}` : ""}`))], ["GetCallerIdentity 200"]);
});

test("servers_keep_fixed_private_ips_and_nodes_spread_over_subnets", async (t) => {
  const p = await plannedFor(t);
  const after = (addr: string): ResourceChange["change"]["after"] => p.instances.find((i) => i.address === addr)?.change.after ?? {};
  t.deepEqual(
    ["server-1", "server-2", "server-3"].map((s) => after(`module.servers.aws_instance.server["${s}"]`).private_ip),
    SERVER_IPS,
  );
  t.is(after('module.vault.aws_instance.vault["vault-1"]').private_ip, "10.0.1.20");
  t.deepEqual(output(p.plan, "endpoints"), { nomad: "http://10.0.1.10:4646", consul: "http://10.0.1.10:8500", vault: "https://10.0.1.20:8200" });
  t.deepEqual(
    ["a", "b", "c"].map((k) => after(`module.workers.aws_instance.worker["${k}"]`).subnet_id),
    [VARS.existing_network.subnet_ids.a, VARS.existing_network.subnet_ids.b, VARS.existing_network.subnet_ids.a],
    "spread over subnets in key order unless a worker names its subnet (c names a)",
  );
});

test("provider_max_retries_is_a_variable_with_a_small_default", async (t) => {
  const p = await plannedFor(t);
  t.deepEqual(p.plan.configuration.provider_config.aws?.expressions?.max_retries?.references, ["var.max_retries"]);
  const byDefault = p.plan.configuration.root_module.variables.max_retries?.default;
  t.true(typeof byDefault === "number" && byDefault >= 1 && byDefault <= 5, `default max_retries ${String(byDefault)}: a few attempts, not the provider's 25`);
  t.is(p.plan.variables.max_retries?.value, byDefault);
});

// --- desired-state/pools/*.yaml -------------------------------------------

const POOLS_DIR = path.join(REPO_ROOT, "desired-state", "pools");
const POOL_FILES = readdirSync(POOLS_DIR).filter((f) => f.endsWith(".yaml")).sort();

interface PoolFile {
  select?: { nodePool?: string; nodeClass?: string; meta?: Record<string, string> };
  terraform?: { dir?: string; address?: string };
}

/** `${meta.<key>}` substituted from the node's meta; anything else in `${…}` is not a pool template. */
function renderTemplate(template: string, meta: Record<string, string>): string {
  return template.replace(/\$\{([^}]*)\}/g, (_, expr: string) => {
    const m = /^meta\.([A-Za-z0-9_.-]+)$/.exec(expr.trim());
    if (!m?.[1]) throw new Error(`template ${template}: \${${expr}} is not \${meta.<key>}`);
    const v = meta[m[1]];
    if (v === undefined) throw new Error(`template ${template}: the node has no meta ${m[1]}`);
    return v;
  });
}

function selects(select: NonNullable<PoolFile["select"]>, n: NodeOutput): boolean {
  if (select.nodePool !== undefined && select.nodePool !== n.node_pool) return false;
  if (select.nodeClass !== undefined && select.nodeClass !== n.node_class) return false;
  return Object.entries(select.meta ?? {}).every(([k, v]) => n.meta[k] === v);
}

test("desired_state_has_pool_files_to_check", (t) => {
  t.true(POOL_FILES.length > 0, `no pool file in ${POOLS_DIR}`);
});

for (const file of POOL_FILES) {
  test(`every_address_pools_${file}_produces_exists_in_the_plan`, async (t) => {
    const pool = parseDocument(readFileSync(path.join(POOLS_DIR, file), "utf8")).toJS() as PoolFile;
    const template = pool.terraform?.address ?? "";
    const p = await plannedFor(t);
    const selected = Object.values(p.nodes).filter((n) => selects(pool.select ?? {}, n));
    t.true(selected.length > 0, `pools/${file} selects no node the example defines (select ${JSON.stringify(pool.select)})`);
    const planned = new Set(p.plan.resource_changes.map((r) => r.address));
    for (const n of selected) {
      const address = renderTemplate(template, n.meta);
      t.true(planned.has(address), `pools/${file}: ${n.node_name} maps to ${address}, which the plan does not hold`);
      t.is(address, n.address, `pools/${file}: ${n.node_name}'s template address and the example's nodes output agree`);
    }
    if (pool.terraform?.dir !== "terraform/examples/aws-cluster") {
      t.log(`pools/${file} runs Terraform in ${pool.terraform?.dir}; its addresses were checked against examples/aws-cluster, whose module names match`);
    }
  });
}

test("pools_output_maps_every_nomad_node_to_its_planned_address", async (t) => {
  const p = await plannedFor(t);
  const fromPools = Object.entries(p.pools).flatMap(([pool, po]) =>
    Object.values(p.nodes)
      .filter((n) => n.pool === pool)
      .map((n) => {
        t.like(n.meta, po.select.meta, `${n.node_name} carries its pool's select meta`);
        return renderTemplate(po.address_template, n.meta);
      }),
  );
  t.deepEqual(fromPools.sort(), EXPECTED_ADDRESSES.filter((a) => !a.startsWith("module.vault.")), "every instance but Vault's is a Nomad node of some pool");
  t.deepEqual(Object.values(p.pools).flatMap((po) => Object.values(po.addresses)).sort(), fromPools);
  t.deepEqual(Object.values(output<Record<string, string>>(p.plan, "replace_addresses")).sort(), EXPECTED_ADDRESSES);
});

// --- tags and cloud-init ----------------------------------------------------

/** What sim boots from an instance's tags: the node cloud-init must configure. */
function bootedFrom(tags: Record<string, string>): ReturnType<typeof machineSpec> {
  // machineSpec reads only these three fields of the instance; the rest is
  // its tags, which is what this test is about.
  const inst = { instanceId: "i-plan", privateDnsName: "ip-plan.ec2.internal", privateIp: "10.0.0.1" } as Partial<Instance> as Instance;
  return machineSpec(inst, tags, tags.nomad_cluster ?? "prod");
}

interface CloudConfig {
  hostname?: string;
  packages?: (string | string[])[];
  write_files?: { path: string; content: string; owner?: string; permissions?: string; defer?: boolean }[];
  runcmd?: (string | string[])[];
}

type Hcl = Record<string, unknown>;

/** The one body of an unlabelled block (hcl2json gives blocks as lists of bodies). */
function block(body: Hcl | undefined, name: string): Hcl | undefined {
  const v = body?.[name];
  return Array.isArray(v) ? (v[0] as Hcl | undefined) : undefined;
}

async function configs(t: { fail: (msg: string) => void }, name: string, doc: string): Promise<{ cc: CloudConfig; hcl: Record<string, Hcl> }> {
  const parsed = parseDocument(doc);
  if (parsed.errors.length > 0) t.fail(`${name}: cloud-init is not YAML: ${parsed.errors.map((e) => e.message).join("; ")}`);
  const cc = parsed.toJS() as CloudConfig;
  const hcl: Record<string, Hcl> = {};
  for (const f of cc.write_files ?? []) {
    if (f.path.endsWith(".hcl")) hcl[f.path] = (await parseHcl(f.path, f.content)) as Hcl;
  }
  return { cc, hcl };
}

const NODE_NAMES = [
  "prod-registry-a",
  "prod-servers-server-1",
  "prod-servers-server-2",
  "prod-servers-server-3",
  "prod-vault-vault-1",
  "prod-workers-a",
  "prod-workers-b",
  "prod-workers-c",
];

test("every_instance_boots_the_cloud_init_the_outputs_show", async (t) => {
  const p = await plannedFor(t);
  t.deepEqual(Object.keys(p.cloudInit).sort(), NODE_NAMES);
  for (const i of p.instances) {
    const name = i.change.after.tags?.Name ?? "";
    const doc = p.cloudInit[name] ?? "";
    // The provider keeps user_data as its SHA-1 in plan and state.
    t.is(i.change.after.user_data, createHash("sha1").update(doc).digest("hex"), `${i.address} boots cloud_init["${name}"]`);
    t.true(Buffer.byteLength(doc) <= 16 * 1024, `${name}: user data is ${Buffer.byteLength(doc)} bytes; EC2 takes at most 16 KiB`);
  }
});

for (const name of NODE_NAMES) {
  test(`cloud_init_of_${name}_is_yaml_whose_agent_configs_parse_as_hcl`, async (t) => {
    const p = await plannedFor(t);
    const doc = p.cloudInit[name] ?? "";
    t.true(doc.startsWith("#cloud-config\n"), "cloud-init reads user data as cloud-config only after this first line");
    const { cc, hcl } = await configs(t, name, doc);
    t.is(cc.hostname, name);
    const role = p.instances.find((i) => i.change.after.tags?.Name === name)?.change.after.tags?.["steward:role"];
    const consul = hcl["/etc/consul.d/consul.hcl"];
    const nomad = hcl["/etc/nomad.d/nomad.hcl"];
    const vault = hcl["/etc/vault.d/vault.hcl"];
    t.like(consul, { node_name: name, datacenter: "dc1", retry_join: SERVER_IPS, encrypt: CONSUL_KEY });
    t.like(block(consul, "acl"), { enabled: true, default_policy: "deny" });
    const services = (cc.runcmd ?? []).filter((c): c is string[] => Array.isArray(c) && c[1] === "enable").map((c) => c.at(-1));
    const packages = (cc.packages ?? []).map((pk) => (Array.isArray(pk) ? pk[0] : pk));

    if (role === "server") {
      t.like(consul, { server: true, bootstrap_expect: 3 });
      t.like(block(nomad, "server"), { enabled: true, bootstrap_expect: 3, encrypt: NOMAD_KEY });
      t.deepEqual(block(block(nomad, "server"), "server_join")?.retry_join, SERVER_IPS);
      t.like(block(nomad, "client"), { enabled: true, node_pool: "servers" });
      t.like(block(nomad, "vault"), { enabled: true, address: "https://vault.service.consul:8200", ca_file: "/etc/vault.d/ca.pem" });
      t.deepEqual(services, ["consul", "nomad"]);
      t.deepEqual(packages, ["consul", "nomad"]);
    } else if (role === "client") {
      t.is(consul?.server, undefined);
      t.is(block(nomad, "server"), undefined, "a client runs no Nomad server");
      t.like(block(nomad, "client"), { enabled: true });
      t.deepEqual(block(block(nomad, "client"), "server_join")?.retry_join, SERVER_IPS);
      t.truthy(nomad?.plugin, "clients configure the docker driver");
      t.deepEqual(services, ["consul", "nomad"]);
      t.deepEqual(packages, ["consul", "nomad", "docker.io"]);
    } else {
      t.is(role, "vault");
      t.is(nomad, undefined, "Vault hosts run no Nomad agent");
      t.like(vault, { cluster_name: "prod", ui: true, api_addr: "https://10.0.1.20:8200", cluster_addr: "https://10.0.1.20:8201" });
      const raft = (vault?.storage as Record<string, Hcl[]> | undefined)?.raft?.[0];
      t.like(raft, { node_id: name, path: "/opt/vault/data" });
      t.truthy(vault?.listener, "Vault listens on TLS");
      t.deepEqual(services, ["consul", "vault"]);
      t.deepEqual(packages, ["consul", "vault"]);
    }
    for (const f of cc.write_files ?? []) t.true(f.defer === true, `${f.path} is written after the packages create the agents' users`);
  });
}

test("sim_boots_each_node_as_its_cloud_init_configures_it", async (t) => {
  const p = await plannedFor(t);
  for (const i of p.instances) {
    const tags = i.change.after.tags ?? {};
    const name = tags.Name ?? "";
    if (tags["steward:role"] === "vault") continue; // no Nomad agent to compare with (see docs/terraform.md: sim boots one anyway)
    const { hcl } = await configs(t, name, p.cloudInit[name] ?? "");
    const nomad = hcl["/etc/nomad.d/nomad.hcl"];
    const client = block(nomad, "client");
    const booted = bootedFrom(tags);
    t.deepEqual(
      { name: nomad?.name, datacenter: nomad?.datacenter, nodePool: client?.node_pool, nodeClass: client?.node_class, meta: client?.meta },
      { name: booted.name, datacenter: booted.datacenter, nodePool: booted.nodePool, nodeClass: booted.nodeClass, meta: booted.meta },
      `${i.address}: the node sim boots from the tags is the node cloud-init configures`,
    );
    t.is(hcl["/etc/consul.d/consul.hcl"]?.node_name, booted.name);
    t.is(booted.cluster, "prod");
    const out = p.nodes[name];
    t.deepEqual(
      { nodePool: out?.node_pool, nodeClass: out?.node_class, meta: out?.meta },
      { nodePool: booted.nodePool, nodeClass: booted.nodeClass, meta: booted.meta },
      `${name}: the nodes output is what the node registers with`,
    );
  }
  t.like(p.nodes["prod-workers-b"], { node_class: "batch", meta: { rack: "r2", steward_pool: "workers", terraform_key: "b" } });
});

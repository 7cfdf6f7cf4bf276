// deploy/policies/: each ACL policy grants what Steward's code (or a job's
// templates) uses, and nothing it does not. The uses are derived from the
// code (test/deploy/code-calls.ts) and the parsed job files, never listed by
// hand; what is listed by hand is only how each product maps an endpoint to
// its ACL rules, copied from the products' API docs ("ACL Required").
import test from "ava";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { startSim, type Sim } from "../../sim/index.js";
import { DEFAULT_NOMAD_NAMESPACE } from "../../src/config/defaults.js";
import { allHttpCalls, consulKvUses, type HttpCall, type KvUse } from "./code-calls.js";
import { DEPLOY, REPO_ROOT, hclToJson, parseWithSim, secretPaths, tasksOf } from "./fixture.js";

const POLICIES = path.join(DEPLOY, "policies");

// ── which product a call goes to ──

/** Nomad calls live in src/**\/nomad*.ts, Consul calls in src/**\/consul*.ts (STYLE 4.1: one client per product and concern: nomad-nodes.ts, consul-catalog.ts, …). */
function productOf(call: HttpCall): "nomad" | "consul" | "no-acl" | undefined {
  const base = path.basename(call.file);
  if (base.startsWith("nomad")) return "nomad";
  if (base.startsWith("consul")) return "consul";
  // Gate probes call the user's URLs and Prometheus, which no Steward policy governs.
  if (call.file === "src/sources/gate-probes.ts") return "no-acl";
  return undefined;
}

// ── Nomad: endpoint → ACL requirement (developer.hashicorp.com/nomad/api-docs, "ACL Required") ──

type NomadNeed =
  | { scope: "namespace"; capability: string }
  | { scope: "node" | "operator"; policy: "read" | "write" }
  /** Only a management token may call it: no policy can grant it. */
  | { scope: "management" }
  | { scope: "none" };

const NOMAD_ACL: [method: string, path: string, needs: NomadNeed[]][] = [
  ["GET", "/v1/jobs", [{ scope: "namespace", capability: "list-jobs" }]],
  ["PUT", "/v1/jobs", [{ scope: "namespace", capability: "submit-job" }]],
  ["POST", "/v1/jobs", [{ scope: "namespace", capability: "submit-job" }]],
  ["POST", "/v1/jobs/parse", [{ scope: "namespace", capability: "parse-job" }]],
  ["GET", "/v1/job/:param", [{ scope: "namespace", capability: "read-job" }]],
  ["DELETE", "/v1/job/:param", [{ scope: "namespace", capability: "submit-job" }]],
  ["POST", "/v1/job/:param/plan", [{ scope: "namespace", capability: "submit-job" }]],
  ["PUT", "/v1/job/:param/plan", [{ scope: "namespace", capability: "submit-job" }]],
  ["GET", "/v1/job/:param/versions", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/job/:param/allocations", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/job/:param/deployments", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/job/:param/deployment", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/deployments", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/deployment/:param", [{ scope: "namespace", capability: "read-job" }]],
  ["POST", "/v1/deployment/promote/:param", [{ scope: "namespace", capability: "submit-job" }]],
  ["POST", "/v1/deployment/fail/:param", [{ scope: "namespace", capability: "submit-job" }]],
  ["POST", "/v1/deployment/pause/:param", [{ scope: "namespace", capability: "submit-job" }]],
  ["GET", "/v1/allocations", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/allocation/:param", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/evaluation/:param", [{ scope: "namespace", capability: "read-job" }]],
  ["GET", "/v1/nodes", [{ scope: "node", policy: "read" }]],
  ["GET", "/v1/node/:param", [{ scope: "node", policy: "read" }]],
  ["GET", "/v1/node/:param/allocations", [{ scope: "node", policy: "read" }, { scope: "namespace", capability: "read-job" }]],
  ["POST", "/v1/node/:param/drain", [{ scope: "node", policy: "write" }]],
  ["POST", "/v1/node/:param/eligibility", [{ scope: "node", policy: "write" }]],
  ["POST", "/v1/node/:param/purge", [{ scope: "node", policy: "write" }]],
  ["GET", "/v1/operator/autopilot/health", [{ scope: "operator", policy: "read" }]],
  ["GET", "/v1/operator/raft/configuration", [{ scope: "management" }]],
  ["GET", "/v1/status/leader", [{ scope: "none" }]],
];

/** What Nomad's `policy = "read" | "write"` shorthand of a namespace expands to (Nomad's acl/policy.go). */
const NOMAD_NAMESPACE_POLICIES: Record<string, string[]> = {
  deny: [],
  read: ["list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume", "list-scaling-policies", "read-scaling-policy", "read-job-scaling"],
  scale: ["list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"],
};
NOMAD_NAMESPACE_POLICIES.write = [
  ...(NOMAD_NAMESPACE_POLICIES.read ?? []),
  "scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec", "alloc-lifecycle",
  "csi-mount-volume", "csi-write-volume", "csi-register-plugin", "submit-recommendation",
];

function nomadNeeds(call: HttpCall): NomadNeed[] | undefined {
  return NOMAD_ACL.find(([m, p]) => m === call.method && p === call.path)?.[2];
}

/** The capabilities the policy grants in a namespace (exact names and `*` globs, the most specific block winning). */
function nomadCapabilities(policy: Record<string, any>, namespace: string): Set<string> {
  const blocks = Object.entries<any[]>(policy.namespace ?? {});
  const match = blocks
    .filter(([name]) => name === namespace || (name.includes("*") && new RegExp(`^${name.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(namespace)))
    .sort(([a], [b]) => (a === namespace ? -1 : b === namespace ? 1 : b.length - a.length))[0];
  const body = match?.[1][0] ?? {};
  return new Set<string>([...(NOMAD_NAMESPACE_POLICIES[body.policy ?? "deny"] ?? []), ...(body.capabilities ?? [])]);
}

/** The namespaces the example desired state's environments use (steward.yaml; default "default"). */
async function exampleNamespaces(): Promise<string[]> {
  const doc = parseYaml(await readFile(path.join(REPO_ROOT, "desired-state/steward.yaml"), "utf8")) as { environments: { nomad: { namespace?: string } }[] };
  return [...new Set(doc.environments.map((e) => e.nomad.namespace ?? DEFAULT_NOMAD_NAMESPACE))];
}

// ── Consul ──

const CONSUL_LEVEL: Record<string, number> = { deny: 0, read: 1, list: 2, write: 3 };

type ConsulNeed = { kind: "key" | "session" | "node" | "operator"; access: "read" | "write" };

/**
 * Consul: endpoint → the rules and access it needs (developer.hashicorp.com/consul/api-docs, "ACL Required");
 * KV keys come from consulKvUses. Node and session rules are needed on any node: healing deregisters whichever
 * node of a pool was lost, and sessions live on the agent each instance talks to.
 */
const CONSUL_ACL: [method: string, path: string, needs: ConsulNeed[]][] = [
  ["GET", "/v1/kv/:param", [{ kind: "key", access: "read" }]],
  ["PUT", "/v1/kv/:param", [{ kind: "key", access: "write" }]],
  ["DELETE", "/v1/kv/:param", [{ kind: "key", access: "write" }]],
  ["PUT", "/v1/session/create", [{ kind: "session", access: "write" }]],
  ["PUT", "/v1/session/renew/:param", [{ kind: "session", access: "write" }]],
  ["PUT", "/v1/session/destroy/:param", [{ kind: "session", access: "write" }]],
  ["GET", "/v1/session/info/:param", [{ kind: "session", access: "read" }]],
  // The docs say node:write,service:write for the catalog in general; deregistering a whole node (only `Node`
  // in the body, as consul-catalog.ts sends) needs node:write alone (Consul's vetDeregisterWithACL).
  ["PUT", "/v1/catalog/deregister", [{ kind: "node", access: "write" }]],
  // Results are filtered by the token (node:read,service:read); serfHealth is a node check, so node:read shows it.
  ["GET", "/v1/health/state/any", [{ kind: "node", access: "read" }]],
  // Filtered by the token: node:read shows each node (server pools' members are catalog nodes).
  ["GET", "/v1/catalog/nodes", [{ kind: "node", access: "read" }]],
  ["GET", "/v1/operator/raft/configuration", [{ kind: "operator", access: "read" }]],
  ["GET", "/v1/operator/autopilot/health", [{ kind: "operator", access: "read" }]],
];

function consulNeeds(call: HttpCall): ConsulNeed[] | undefined {
  return CONSUL_ACL.find(([m, p]) => m === call.method && p === call.path)?.[2];
}

/** The access a Consul policy gives for a need on any node (operator is a plain attribute, the rest are rules by name). */
function consulGranted(policy: Record<string, any>, need: ConsulNeed): string | undefined {
  if (need.kind === "operator") return policy.operator as string | undefined;
  return consulRule(policy, need.kind, "any-node-name")?.access;
}

/** The rule a Consul policy applies to `name` for a resource kind: an exact rule, else the longest matching prefix rule. */
function consulRule(policy: Record<string, any>, kind: string, name: string): { rule: string; access: string } | undefined {
  const exact = policy[kind]?.[name]?.[0];
  if (exact) return { rule: `${kind} "${name}"`, access: exact.policy };
  const prefixes = Object.entries<any[]>(policy[`${kind}_prefix`] ?? {});
  const best = prefixes.filter(([p]) => name.startsWith(p)).sort(([a], [b]) => b.length - a.length)[0];
  return best ? { rule: `${kind}_prefix "${best[0]}"`, access: best[1][0]?.policy } : undefined;
}

/** For a prefix Steward reads or writes recursively: the prefix's own rule and every more specific rule under it. */
function consulRulesUnder(policy: Record<string, any>, prefix: string): { rule: string; access: string }[] {
  const own = consulRule(policy, "key", prefix);
  const under = [
    ...Object.entries<any[]>(policy.key_prefix ?? {}).filter(([p]) => p.startsWith(prefix) && p !== prefix).map(([p, b]) => ({ rule: `key_prefix "${p}"`, access: b[0]?.policy })),
    ...Object.entries<any[]>(policy.key ?? {}).filter(([p]) => p.startsWith(prefix) && p !== prefix).map(([p, b]) => ({ rule: `key "${p}"`, access: b[0]?.policy })),
  ];
  return [...(own ? [own] : []), ...under];
}

// ── Vault ──

/** Whether a Vault policy path (exact, `*` suffix glob, `+` one segment) covers a request path. */
function vaultPathMatches(pattern: string, p: string): boolean {
  const glob = pattern.endsWith("*");
  const parts = (glob ? pattern.slice(0, -1) : pattern).split("/");
  const target = p.split("/");
  if (!glob && parts.length !== target.length) return false;
  return parts.every((seg, i) => (i === parts.length - 1 && glob ? (target[i] ?? "").startsWith(seg) : seg === "+" || seg === target[i]));
}

// ── fixture ──

let sim: Sim;
let calls: HttpCall[];
let kvUses: KvUse[];

test.before(async () => {
  [sim, calls, kvUses] = await Promise.all([startSim({}), allHttpCalls(), consulKvUses()]);
});
test.after.always(async () => {
  await sim?.close();
});

// ── Nomad ──

test("the_code_scan_finds_stewards_nomad_and_consul_calls", (t) => {
  // The scan itself must see the calls it is meant to see, or every check below passes vacuously.
  const seen = new Set(calls.map((c) => `${productOf(c) ?? "?"} ${c.method} ${c.path}`));
  for (const known of ["nomad GET /v1/jobs", "nomad PUT /v1/jobs", "nomad POST /v1/jobs/parse", "consul PUT /v1/session/create", "consul GET /v1/kv/:param"]) {
    t.true(seen.has(known), `the scan of src/ misses ${known}`);
  }
  t.true(kvUses.some((u) => u.key === "steward/leader" && u.access === "write"), "the scan misses the leader lock");
  t.true(kvUses.some((u) => u.key === "steward/instances/" && u.access === "write"), "the scan misses the instances' presence keys");
  t.true(seen.has("nomad GET /v1/deployments"), "the scan misses the deployments list");
});

test("every_http_call_in_src_is_a_nomad_or_consul_call_the_policy_test_knows", (t) => {
  const unknown = calls.filter((c) => productOf(c) === undefined);
  t.deepEqual(unknown.map((c) => `${c.file}:${c.line} ${c.method} ${c.path}`), [], "classify these files in productOf so their calls are checked against a policy");
});

test("nomad_policy_grants_every_capability_the_code_needs_in_every_namespace_of_the_example", async (t) => {
  const policy = await hclToJson(path.join(POLICIES, "nomad/steward.hcl"));
  for (const c of calls.filter((x) => productOf(x) === "nomad")) {
    const needs = nomadNeeds(c);
    if (!needs) {
      t.fail(`${c.file}:${c.line} calls ${c.method} ${c.path}, which test/deploy/policies.test.ts does not map to a Nomad ACL capability: add it from Nomad's API docs`);
      continue;
    }
    for (const need of needs) {
      if (need.scope === "namespace") {
        for (const ns of await exampleNamespaces()) {
          t.true(nomadCapabilities(policy, ns).has(need.capability), `${c.method} ${c.path} (${c.file}:${c.line}) needs ${need.capability} in namespace ${ns}`);
        }
      } else if (need.scope === "node" || need.scope === "operator") {
        const granted = policy[need.scope]?.[0]?.policy as string | undefined;
        t.true(granted === "write" || granted === need.policy, `${c.method} ${c.path} (${c.file}:${c.line}) needs ${need.scope} ${need.policy}`);
      }
      // scope "management": no policy grants it; see no_nomad_call_needs_a_management_token.
    }
  }
});

test("nomad_policy_grants_nothing_the_code_does_not_call", async (t) => {
  const policy = await hclToJson(path.join(POLICIES, "nomad/steward.hcl"));
  const needs = calls.filter((c) => productOf(c) === "nomad").flatMap((c) => nomadNeeds(c) ?? []);
  const neededCaps = new Set(needs.flatMap((n) => (n.scope === "namespace" ? [n.capability] : [])));
  for (const ns of Object.keys(policy.namespace ?? {})) {
    const extra = [...nomadCapabilities(policy, ns)].filter((c) => !neededCaps.has(c));
    t.deepEqual(extra, [], `namespace "${ns}" grants capabilities no call in src/ needs`);
  }
  for (const scope of ["node", "operator"] as const) {
    const of = needs.filter((n) => n.scope === scope);
    const need = of.some((n) => n.scope === scope && n.policy === "write") ? "write" : of.length > 0 ? "read" : undefined;
    t.is(policy[scope]?.[0]?.policy as string | undefined, need, `the ${scope} rule matches what the code calls`);
  }
  for (const scope of ["agent", "quota", "host_volume", "plugin", "node_pool"]) t.is(policy[scope], undefined, `no ${scope} rule: Steward calls no such endpoint`);
});

// Least privilege: a management token is never Steward's. Nomad's Raft
// configuration needs one (Nomad's API docs: "ACL Required: management"), so
// healing counts Nomad's voters from autopilot health (operator:read).
test("no_nomad_call_needs_a_management_token", (t) => {
  const management = calls.filter((c) => productOf(c) === "nomad" && (nomadNeeds(c) ?? []).some((n) => n.scope === "management"));
  t.deepEqual(management.map((c) => `${c.file}:${c.line} ${c.method} ${c.path}`), []);
});

// ── Consul ──

test("consul_policy_covers_every_kv_path_and_session_call_of_the_code", async (t) => {
  const policy = await hclToJson(path.join(POLICIES, "consul/steward.hcl"));
  const consulCalls = calls.filter((c) => productOf(c) === "consul");
  for (const c of consulCalls) {
    const needs = consulNeeds(c);
    if (!needs) {
      t.fail(`${c.file}:${c.line} calls ${c.method} ${c.path}, which test/deploy/policies.test.ts does not map to a Consul ACL rule: add it from Consul's API docs`);
      continue;
    }
    for (const need of needs.filter((n) => n.kind !== "key")) {
      const granted = consulGranted(policy, need);
      t.true((CONSUL_LEVEL[granted ?? "deny"] ?? 0) >= (CONSUL_LEVEL[need.access] ?? 9), `${c.method} ${c.path} (${c.file}:${c.line}) needs ${need.kind} ${need.access}${need.kind === "operator" ? "" : " on any node"}`);
    }
  }
  const kvMethods = new Set(consulCalls.filter((c) => c.path.startsWith("/v1/kv/")).map((c) => c.method));
  for (const use of kvUses) {
    t.true(use.access === "read" ? kvMethods.has("GET") : kvMethods.has("PUT"), `the code ${use.access}s ${use.key} through the KV API`);
    const rules = consulRulesUnder(policy, use.key);
    t.true(rules.length > 0, `no rule covers ${use.key} (${use.from})`);
    for (const r of rules) t.true((CONSUL_LEVEL[r.access] ?? 0) >= (CONSUL_LEVEL[use.access] ?? 9), `${r.rule} gives ${r.access} but ${use.key} needs ${use.access} (${use.from})`);
  }
});

test("consul_policy_grants_nothing_the_code_does_not_use", async (t) => {
  const policy = await hclToJson(path.join(POLICIES, "consul/steward.hcl"));
  const needs = calls.filter((c) => productOf(c) === "consul").flatMap((c) => consulNeeds(c) ?? []);
  /** The highest access the code needs of a rule kind, or undefined when it needs none. */
  const top = (kind: ConsulNeed["kind"]): string | undefined => {
    const levels = needs.filter((n) => n.kind === kind).map((n) => CONSUL_LEVEL[n.access] ?? 0);
    return levels.length ? Object.keys(CONSUL_LEVEL).find((k) => CONSUL_LEVEL[k] === Math.max(...levels)) : undefined;
  };
  for (const use of kvUses) {
    // Longest prefix wins in Consul: what only needs reading (the desired-state tree) must not fall under a write rule.
    const r = consulRule(policy, "key", use.key);
    t.true((CONSUL_LEVEL[r?.access ?? "deny"] ?? 0) <= (CONSUL_LEVEL[use.access] ?? 0), `${r?.rule ?? "?"} gives ${r?.access ?? "?"} on ${use.key}, which the code only ${use.access}s (${use.from})`);
  }
  for (const [kind, rules] of Object.entries(policy) as [string, Record<string, any[]> | string][]) {
    if (kind === "operator") {
      t.true(rules === top("operator"), `operator = ${JSON.stringify(rules)}: the code needs operator ${top("operator") ?? "nothing"}`);
      continue;
    }
    if (typeof rules === "string") {
      t.fail(`${kind} = "${rules}": Steward's code calls no endpoint that needs it`);
      continue;
    }
    for (const [name, body] of Object.entries(rules)) {
      const access = body[0]?.policy as string;
      if (kind === "key_prefix" || kind === "key") {
        // A rule is justified when some KV path the code uses falls under it and needs at least its access.
        const used = kvUses.filter((u) => (kind === "key" ? u.key === name : u.key.startsWith(name)) && consulRule(policy, "key", u.key)?.rule === `${kind} "${name}"`);
        const top = Math.max(-1, ...used.map((u) => CONSUL_LEVEL[u.access] ?? 0));
        t.true(top >= (CONSUL_LEVEL[access] ?? 0), `${kind} "${name}" = ${access} is broader than any KV path the code uses under it`);
      } else if (["session_prefix", "session", "node_prefix", "node"].includes(kind)) {
        const need = top(kind.replace(/_prefix$/, "") as ConsulNeed["kind"]);
        t.true(access === need, `${kind} "${name}" = ${access}: the code needs ${kind.replace(/_prefix$/, "")} ${need ?? "nothing"}`);
      } else {
        t.fail(`${kind} "${name}": Steward's code calls no endpoint that needs a ${kind} rule`);
      }
    }
  }
});

// ── Vault ──

/** Per Vault role: the secret paths the templates of the tasks logging in with it read. */
async function vaultUses(): Promise<Map<string, Set<string>>> {
  const jobs = [
    ["steward.nomad.hcl", `image = "x/steward@sha256:${"a".repeat(64)}"\ngit_url = "https://git.example.com/d.git"\n`],
    ["registry.nomad.hcl", ""],
    ["fabio.nomad.hcl", ""],
    ["prometheus.nomad.hcl", ""],
  ] as const;
  const out = new Map<string, Set<string>>();
  for (const [file, vars] of jobs) {
    for (const { task } of tasksOf(await parseWithSim(sim, path.join(DEPLOY, "nomad", file), vars))) {
      const role = task.Vault?.Role as string | undefined;
      const paths = (task.Templates ?? []).flatMap((x: any) => secretPaths(String(x.EmbeddedTmpl)));
      if (paths.length && !role) throw new Error(`${file}: task ${task.Name} reads Vault secrets without a vault block`);
      if (role) out.set(role, new Set([...(out.get(role) ?? []), ...paths]));
    }
  }
  return out;
}

test("every_vault_role_has_a_policy_that_reads_exactly_its_templates_secrets", async (t) => {
  const uses = await vaultUses();
  t.true((uses.get("steward")?.size ?? 0) >= 3, "the scan sees Steward's secrets");
  const files = (await readdir(path.join(POLICIES, "vault"))).filter((f) => f.endsWith(".hcl")).sort();
  t.deepEqual(files, [...uses.keys()].map((r) => `${r}.hcl`).sort(), "one Vault policy per role the jobs log in with");
  for (const [role, paths] of uses) {
    const policy = await hclToJson(path.join(POLICIES, "vault", `${role}.hcl`));
    const rules = Object.entries<any[]>(policy.path ?? {});
    for (const p of paths) {
      const rule = rules.find(([pattern]) => vaultPathMatches(pattern, p));
      t.truthy(rule, `policy ${role} does not cover ${p}`);
      t.deepEqual(rule?.[1][0]?.capabilities, ["read"], `${role}: ${p} is read, never written or listed`);
    }
    for (const [pattern] of rules) t.true([...paths].some((p) => vaultPathMatches(pattern, p)), `policy ${role}: path "${pattern}" is read by no template`);
  }
});

// ── the checker checks: a policy missing a rule fails ──

test("a_nomad_policy_without_parse_job_would_be_refused", (t) => {
  const policy = { namespace: { default: [{ capabilities: ["list-jobs", "read-job", "submit-job"] }] } };
  const missing = calls
    .filter((c) => productOf(c) === "nomad")
    .flatMap((c) => nomadNeeds(c) ?? [])
    .filter((n) => n.scope === "namespace" && !nomadCapabilities(policy, "default").has(n.capability));
  t.deepEqual([...new Set(missing.map((n) => (n.scope === "namespace" ? n.capability : "")))], ["parse-job"]);
});

test("a_consul_policy_with_the_desired_state_tree_writable_or_steward_read_only_would_be_refused", (t) => {
  const readOnly = { key_prefix: { "steward/": [{ policy: "read" }] } };
  t.true(kvUses.some((u) => u.access === "write" && consulRulesUnder(readOnly, u.key).some((r) => r.access === "read")));
  const vaultish = vaultPathMatches("secret/data/steward/*", "secret/data/steward/consul") && !vaultPathMatches("secret/data/steward/consul", "secret/data/steward/consul2");
  t.true(vaultish, "the Vault matcher treats globs and exact paths as Vault does");
});

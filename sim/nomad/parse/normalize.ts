/**
 * What jobspec2 changes on every parse, with or without Canonicalize
 * (JOBSPEC.md 3.9 and 3.11): ID/Name from the label, job-level tasks as
 * groups, the dynamic/reserved port split, template and vault defaults,
 * vault and secret inheritance, the default identity.
 */
import { blocksOf, buildStruct, type Tree, type TreeNode } from "./build-job.js";
import type { Json, JsonObject } from "./schema.js";

const SECOND = 1_000_000_000;

/** Builds the parsed job from the helper's tree, as `/v1/jobs/parse` answers without Canonicalize. */
export function buildJob(tree: Tree): JsonObject {
  const job = buildStruct("Job", tree.body);
  job.Name ??= tree.label;
  job.ID ??= tree.label;

  const periodic = obj(job.Periodic);
  if (periodic && (periodic.Spec != null || periodic.Specs != null)) periodic.SpecType = "cron";

  const jobVaultBlock = blocksOf(tree.body, "vault")[0];
  const jobVault = jobVaultBlock?.body ? normalizeVault(buildStruct("Vault", jobVaultBlock.body)) : null;
  const jobSecrets = secretsOf(tree.body);

  // Group JSON and group tree, side by side: job-level tasks first, each in
  // a group of its own name.
  const groups: { json: JsonObject; node: TreeNode | null }[] = [];
  for (const b of blocksOf(tree.body, "task")) {
    if (!b.body) continue;
    const task = buildStruct("Task", b.body, b.labels);
    const group = buildStruct("TaskGroup", { attrs: {}, blocks: [] });
    group.Name = task.Name ?? "";
    group.Tasks = [task];
    groups.push({ json: group, node: null });
  }
  const declared = blocksOf(tree.body, "group").filter((b) => b.body);
  const groupJson = (job.TaskGroups as JsonObject[] | null) ?? [];
  declared.forEach((b, i) => {
    const json = groupJson[i];
    if (json) groups.push({ json, node: b.body as TreeNode });
  });
  if (groups.length > 0 || job.TaskGroups !== null) job.TaskGroups = groups.map((g) => g.json);

  for (const { json: group, node } of groups) {
    const groupVaults = node ? blocksOf(node, "vault").filter((b) => b.body) : [];
    const lastVault = groupVaults[groupVaults.length - 1];
    const groupVault = lastVault?.body ? normalizeVault(buildStruct("Vault", lastVault.body)) : null;
    const groupSecrets = node ? secretsOf(node) : [];

    splitPorts(group.Networks);
    for (const task of arr(group.Tasks)) {
      if (!task) continue;
      splitPorts(obj(task.Resources)?.Networks ?? null);
      for (const t of arr(task.Templates)) if (t) normalizeTemplate(t);
      const own = obj(task.Vault);
      if (own) normalizeVault(own);
      else if (groupVault) task.Vault = structuredClone(groupVault);
      else if (jobVault) task.Vault = structuredClone(jobVault);

      if (groupSecrets.length > 0) {
        const mine = arr(task.Secrets);
        // jobspec2 quirk: a task with its own secrets gets them twice, and
        // none of the group's.
        task.Secrets = mine.length > 0 ? [...mine, ...structuredClone(mine)] : structuredClone(groupSecrets);
      }
      if (jobSecrets.length > 0) task.Secrets = [...arr(task.Secrets), ...structuredClone(jobSecrets)];
      moveDefaultIdentity(task);
    }
  }
  return job;
}

function secretsOf(node: TreeNode): JsonObject[] {
  return blocksOf(node, "secret").flatMap((b) => (b.body ? [buildStruct("Secret", b.body, b.labels)] : []));
}

/** Each `port` block is read as dynamic; those with a static value move to ReservedPorts. */
function splitPorts(networks: Json | undefined): void {
  for (const n of arr(networks ?? null)) {
    if (!n) continue;
    const ports = arr(n.DynamicPorts);
    if (ports.length === 0) continue;
    const reserved = ports.filter((p) => typeof p?.Value === "number" && p.Value > 0);
    const dynamic = ports.filter((p) => !(typeof p?.Value === "number" && p.Value > 0));
    n.DynamicPorts = dynamic.length > 0 ? dynamic : null;
    n.ReservedPorts = reserved.length > 0 ? reserved : null;
  }
}

function normalizeTemplate(t: JsonObject): void {
  t.ChangeMode ??= "restart";
  t.Perms ??= "0644";
  t.Splay ??= 5 * SECOND;
  t.ErrMissingKey ??= false;
  const cs = obj(t.ChangeScript);
  if (cs) {
    cs.Args ??= [];
    cs.Timeout ??= 5 * SECOND;
    cs.FailOnError ??= false;
    cs.RunOnFirstRender ??= false;
  }
}

function normalizeVault(v: JsonObject): JsonObject {
  v.Env ??= true;
  v.DisableFile ??= false;
  v.ChangeMode ??= "restart";
  return v;
}

/** The first identity named "" or "default" becomes Task.Identity. */
function moveDefaultIdentity(task: JsonObject): void {
  const ids = arr(task.Identities);
  const i = ids.findIndex((id) => id?.Name === "" || id?.Name === "default");
  if (i < 0) return;
  task.Identity = ids[i] ?? null;
  task.Identities = ids.filter((_, j) => j !== i);
}

/** The value as an object, or null. */
export function obj(v: Json | undefined): JsonObject | null {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) ? v : null;
}

/** The value as a list of objects (an empty list for null). */
export function arr(v: Json | undefined): (JsonObject | null)[] {
  return Array.isArray(v) ? v.map((x) => obj(x)) : [];
}

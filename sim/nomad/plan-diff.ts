import { deepEqual, isObject, scalarText } from "./json.js";
import type { Job, JsonObject, JsonValue, Task, TaskGroup } from "./types.js";

/**
 * Nomad's job diff (structs/diff.go) as `/v1/job/:id/plan` with `Diff: true`
 * returns it: a JobDiff with Fields (flattened primitive values as strings),
 * Objects (nested structures, one per element for lists of structs) and
 * TaskGroups/Tasks matched by name. Contextual, like the plan endpoint asks:
 * an edited object also lists its unchanged fields as `None`.
 */
export type DiffType = "Added" | "Deleted" | "Edited" | "None";

/** structs.FieldDiff: one flattened value, old and new as text. */
export interface FieldDiff extends JsonObject {
  Type: DiffType;
  Name: string;
  Old: string;
  New: string;
  Annotations: string[] | null;
}

/** structs.ObjectDiff: a nested structure. */
export interface ObjectDiff extends JsonObject {
  Type: DiffType;
  Name: string;
  Fields: FieldDiff[] | null;
  Objects: ObjectDiff[] | null;
}

/** structs.TaskDiff, with the scheduler's annotation. */
export interface TaskDiff extends JsonObject {
  Type: DiffType;
  Name: string;
  Fields: FieldDiff[] | null;
  Objects: ObjectDiff[] | null;
  Annotations: string[] | null;
}

/** structs.TaskGroupDiff, with the desired update counts in `Updates`. */
export interface TaskGroupDiff extends JsonObject {
  Type: DiffType;
  Name: string;
  Fields: FieldDiff[] | null;
  Objects: ObjectDiff[] | null;
  Tasks: TaskDiff[] | null;
  Updates: { [k: string]: number } | null;
}

/** structs.JobDiff. */
export interface JobDiff extends JsonObject {
  Type: DiffType;
  ID: string;
  Fields: FieldDiff[] | null;
  Objects: ObjectDiff[] | null;
  TaskGroups: TaskGroupDiff[] | null;
}

const JOB_SKIP = new Set(["ID", "Status", "StatusDescription", "Version", "Stable", "CreateIndex", "ModifyIndex", "JobModifyIndex", "SubmitTime", "NomadTokenID", "VaultToken", "ConsulToken", "Payload", "TaskGroups", "Namespace"]);
const GROUP_SKIP = new Set(["Name", "Tasks"]);
const TASK_SKIP = new Set(["Name"]);
/** Maps whose entries Nomad lists as `Name[key]` fields. */
const FLAT_MAPS = new Set(["Meta", "Env"]);
/** Objects Nomad flattens into one object of `a.b[0]` fields. */
const FLATTENED_OBJECTS = new Set(["Config"]);
const SINGULAR: Record<string, string> = {
  Constraints: "Constraint",
  Affinities: "Affinity",
  Spreads: "Spread",
  Services: "Service",
  Checks: "Check",
  Networks: "Network",
  Artifacts: "Artifact",
  Templates: "Template",
  ReservedPorts: "Static Port",
  DynamicPorts: "Dynamic Port",
  VolumeMounts: "VolumeMount",
  Devices: "Device",
  Identities: "Identity",
  Secrets: "Secret",
  Actions: "Action",
};

/** The annotation Nomad's scheduler gives an edited task. */
const IN_PLACE_OBJECTS = new Set(["Service", "Constraint", "LogConfig"]);

/** Diffs two versions of a job (`old` undefined for a new job). */
export function diffJobs(old: Job | undefined, neu: Job): JobDiff {
  const fields = fieldDiffs(old ?? null, neu, JOB_SKIP);
  const objects = objectDiffs(old ?? null, neu, JOB_SKIP);
  const groups: TaskGroupDiff[] = [];
  const oldGroups = new Map((old?.TaskGroups ?? []).map((g) => [g.Name, g]));
  for (const g of neu.TaskGroups) {
    groups.push(diffGroup(oldGroups.get(g.Name), g));
    oldGroups.delete(g.Name);
  }
  for (const g of oldGroups.values()) groups.push(diffGroup(g, undefined));
  groups.sort((a, b) => (a.Name < b.Name ? -1 : 1));
  const type: DiffType = !old ? "Added" : changed(fields, objects) || groups.some((g) => g.Type !== "None") ? "Edited" : "None";
  return { Type: type, ID: neu.ID, Fields: fields.length ? fields : null, Objects: objects.length ? objects : null, TaskGroups: groups.length ? groups : null };
}

function diffGroup(old: TaskGroup | undefined, neu: TaskGroup | undefined): TaskGroupDiff {
  const name = (neu ?? old)?.Name ?? "";
  const fields = fieldDiffs(old ?? null, neu ?? null, GROUP_SKIP);
  const objects = objectDiffs(old ?? null, neu ?? null, GROUP_SKIP);
  const tasks: TaskDiff[] = [];
  const oldTasks = new Map((old?.Tasks ?? []).map((t) => [t.Name, t]));
  for (const t of neu?.Tasks ?? []) {
    tasks.push(diffTask(oldTasks.get(t.Name), t));
    oldTasks.delete(t.Name);
  }
  for (const t of oldTasks.values()) tasks.push(diffTask(t, undefined));
  tasks.sort((a, b) => (a.Name < b.Name ? -1 : 1));
  const type: DiffType = !old ? "Added" : !neu ? "Deleted" : changed(fields, objects) || tasks.some((t) => t.Type !== "None") ? "Edited" : "None";
  for (const t of tasks) t.Annotations = annotateTask(t, type);
  return { Type: type, Name: name, Fields: fields.length ? fields : null, Objects: objects.length ? objects : null, Tasks: tasks.length ? tasks : null, Updates: null };
}

function diffTask(old: Task | undefined, neu: Task | undefined): TaskDiff {
  const fields = fieldDiffs(old ?? null, neu ?? null, TASK_SKIP);
  const objects = objectDiffs(old ?? null, neu ?? null, TASK_SKIP);
  const type: DiffType = !old ? "Added" : !neu ? "Deleted" : changed(fields, objects) ? "Edited" : "None";
  return { Type: type, Name: (neu ?? old)?.Name ?? "", Fields: fields.length ? fields : null, Objects: objects.length ? objects : null, Annotations: null };
}

function annotateTask(t: TaskDiff, parent: DiffType): string[] | null {
  if (t.Type === "None") return null;
  if (parent === "Added" || t.Type === "Added") return ["forces create"];
  if (parent === "Deleted" || t.Type === "Deleted") return ["forces destroy"];
  const destructive =
    (t.Fields ?? []).some((f) => f.Type !== "None" && f.Name !== "KillTimeout") ||
    (t.Objects ?? []).some((o) => o.Type !== "None" && !IN_PLACE_OBJECTS.has(o.Name));
  return [destructive ? "forces create/destroy update" : "forces in-place update"];
}

function changed(fields: FieldDiff[], objects: ObjectDiff[]): boolean {
  return fields.some((f) => f.Type !== "None") || objects.some((o) => o.Type !== "None");
}

function isPrimitive(v: JsonValue | undefined): v is string | number | boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

function isStringMap(v: JsonValue | undefined): boolean {
  return isObject(v) && Object.values(v).every((x) => typeof x === "string");
}

/** Primitive fields and `Meta[key]`-style map entries of two objects. */
function fieldDiffs(old: JsonObject | null, neu: JsonObject | null, skip: Set<string>): FieldDiff[] {
  const out: FieldDiff[] = [];
  const keys = new Set([...Object.keys(old ?? {}), ...Object.keys(neu ?? {})]);
  for (const k of [...keys].sort()) {
    if (skip.has(k)) continue;
    const a = old?.[k];
    const b = neu?.[k];
    if (FLAT_MAPS.has(k) && (isStringMap(a) || isStringMap(b) || a === null || b === null)) {
      const am = isObject(a) ? a : {};
      const bm = isObject(b) ? b : {};
      for (const mk of [...new Set([...Object.keys(am), ...Object.keys(bm)])].sort()) out.push(field(`${k}[${mk}]`, am[mk], bm[mk], old, neu));
      continue;
    }
    if (!isPrimitive(a) && !isPrimitive(b)) continue;
    out.push(field(k, a, b, old, neu));
  }
  return out.filter((f) => f.Type !== "None" || (old !== null && neu !== null));
}

function field(name: string, a: JsonValue | undefined, b: JsonValue | undefined, old: JsonObject | null, neu: JsonObject | null): FieldDiff {
  const o = a === undefined || a === null || old === null ? "" : scalarText(a);
  const n = b === undefined || b === null || neu === null ? "" : scalarText(b);
  const type: DiffType = old === null || ((a === undefined || a === null) && n !== "") ? "Added" : neu === null || ((b === undefined || b === null) && o !== "") ? "Deleted" : o === n ? "None" : "Edited";
  return { Type: type, Name: name, Old: o, New: n, Annotations: null };
}

/** Nested objects and lists of objects (set semantics, like Nomad's primitive-object set diffs). */
function objectDiffs(old: JsonObject | null, neu: JsonObject | null, skip: Set<string>): ObjectDiff[] {
  const out: ObjectDiff[] = [];
  const keys = new Set([...Object.keys(old ?? {}), ...Object.keys(neu ?? {})]);
  for (const k of [...keys].sort()) {
    if (skip.has(k) || FLAT_MAPS.has(k)) continue;
    const a = old?.[k];
    const b = neu?.[k];
    if (isPrimitive(a) || isPrimitive(b)) continue;
    if (Array.isArray(a) || Array.isArray(b)) {
      const al = Array.isArray(a) ? a : [];
      const bl = Array.isArray(b) ? b : [];
      if (al.every(isPrimitive) && bl.every(isPrimitive) && (al.length || bl.length)) {
        const d = stringSetDiff(k, al.map(scalarText), bl.map(scalarText), old !== null && neu !== null);
        if (d) out.push(d);
        continue;
      }
      out.push(...listDiff(SINGULAR[k] ?? k, al.filter(isObject), bl.filter(isObject)));
      continue;
    }
    const ao = isObject(a) ? a : null;
    const bo = isObject(b) ? b : null;
    if (!ao && !bo) continue;
    const d = FLATTENED_OBJECTS.has(k) ? flatObjectDiff(k, ao, bo) : structDiff(k, ao, bo);
    if (d) out.push(d);
  }
  return out;
}

function structDiff(name: string, a: JsonObject | null, b: JsonObject | null): ObjectDiff | undefined {
  if (a && b && deepEqual(a, b)) return undefined;
  const fields = fieldDiffs(a, b, new Set());
  const objects = objectDiffs(a, b, new Set());
  const type: DiffType = !a ? "Added" : !b ? "Deleted" : "Edited";
  return { Type: type, Name: name, Fields: fields.length ? fields : null, Objects: objects.length ? objects : null };
}

function flatObjectDiff(name: string, a: JsonObject | null, b: JsonObject | null): ObjectDiff | undefined {
  if (a && b && deepEqual(a, b)) return undefined;
  const fa = a ? flatten(a) : {};
  const fb = b ? flatten(b) : {};
  const fields: FieldDiff[] = [];
  for (const k of [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort()) fields.push(field(k, fa[k], fb[k], a, b));
  return { Type: !a ? "Added" : !b ? "Deleted" : "Edited", Name: name, Fields: fields.filter((f) => f.Type !== "None" || (!!a && !!b)), Objects: null };
}

/** flatmap: `{"args": ["-x"], "port_map": [{"db": 6379}]}` → `args[0]`, `port_map[0][db]`. */
function flatten(o: JsonValue, prefix = "", out: Record<string, string> = {}): Record<string, string> {
  if (Array.isArray(o)) o.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  else if (isObject(o)) for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}[${k}]` : k, out);
  else if (o !== null) out[prefix] = scalarText(o);
  return out;
}

function stringSetDiff(name: string, a: string[], b: string[], contextual: boolean): ObjectDiff | undefined {
  const as = new Set(a);
  const bs = new Set(b);
  const fields: FieldDiff[] = [];
  for (const v of bs) if (!as.has(v)) fields.push({ Type: "Added", Name: name, Old: "", New: v, Annotations: null });
  for (const v of as) if (!bs.has(v)) fields.push({ Type: "Deleted", Name: name, Old: v, New: "", Annotations: null });
  const edited = fields.length > 0;
  if (!edited) return undefined;
  if (contextual) for (const v of as) if (bs.has(v)) fields.push({ Type: "None", Name: name, Old: v, New: v, Annotations: null });
  const type: DiffType = a.length === 0 ? "Added" : b.length === 0 ? "Deleted" : "Edited";
  return { Type: type, Name: name, Fields: fields, Objects: null };
}

function listDiff(name: string, a: JsonObject[], b: JsonObject[]): ObjectDiff[] {
  const out: ObjectDiff[] = [];
  const unmatched = [...b];
  for (const x of a) {
    const i = unmatched.findIndex((y) => deepEqual(x, y));
    if (i >= 0) unmatched.splice(i, 1);
    else {
      const d = structDiff(name, x, null);
      if (d) out.push(d);
    }
  }
  for (const y of unmatched) {
    const d = structDiff(name, null, y);
    if (d) out.push(d);
  }
  return out;
}

/** Nomad's TaskGroupDiff.Updates, from the scheduler's desired updates of each group. */
export function annotateUpdates(diff: JobDiff, desired: JsonObject): void {
  const names: [string, string][] = [
    ["Ignore", "ignore"],
    ["Place", "create"],
    ["Stop", "destroy"],
    ["Migrate", "migrate"],
    ["Canary", "canary"],
    ["InPlaceUpdate", "in-place update"],
    ["DestructiveUpdate", "create/destroy update"],
  ];
  for (const g of diff.TaskGroups ?? []) {
    const d = desired[g.Name];
    if (!isObject(d)) continue;
    const updates: { [k: string]: number } = {};
    for (const [from, to] of names) {
      const n = d[from];
      if (typeof n === "number" && n > 0) updates[to] = n;
    }
    g.Updates = Object.keys(updates).length ? updates : null;
  }
}

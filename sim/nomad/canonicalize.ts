import { isObject } from "./json.js";
import { multiError } from "./errors.js";
import type { Constraint, Job, JsonObject, JsonValue, TaskGroup } from "./types.js";

/**
 * Turns a job as a client sends it (api.Job JSON) into the job the server
 * stores, the way Nomad does on register and plan: api `Canonicalize()`
 * (../shared/api-reference/nomad/JOBSPEC.md section 5), the api→structs
 * conversion (job `Update` keeps only Stagger/MaxParallel), and the server's
 * admission mutators (Datacenters `["*"]`, NodePool `default`, implied
 * Consul constraint). The input is owned by the caller and is reused.
 */
export function canonicalizeJob(input: JsonObject, ctx: { namespace: string; region: string }): Job {
  const j = input;
  const id = typeof j.ID === "string" ? j.ID : "";
  set(j, "ID", id);
  def(j, "Name", id);
  def(j, "ParentID", "");
  j.Namespace = ctx.namespace;
  def(j, "Priority", 50);
  def(j, "Stop", false);
  j.Region = ctx.region;
  def(j, "NodePool", "");
  if (j.NodePool === "") j.NodePool = "default";
  def(j, "Type", "service");
  def(j, "AllAtOnce", false);
  if (!Array.isArray(j.Datacenters) || j.Datacenters.length === 0) j.Datacenters = ["*"];
  for (const k of ["Constraints", "Affinities", "Spreads", "Meta", "Periodic", "ParameterizedJob", "Payload", "Multiregion", "UI", "VersionTag", "Reschedule", "Migrate"]) def(j, k, null);
  for (const k of ["ConsulToken", "ConsulNamespace", "VaultToken", "VaultNamespace", "NomadTokenID", "DispatchIdempotencyToken", "Status", "StatusDescription"]) def(j, k, "");
  j.ConsulToken = "";
  j.VaultToken = "";
  def(j, "Dispatched", false);
  j.Stable = false;
  j.Version = 0;
  j.SubmitTime = 0;
  j.CreateIndex = 0;
  j.ModifyIndex = 0;
  j.JobModifyIndex = 0;
  if (isObject(j.Periodic)) canonPeriodic(j.Periodic);
  for (const a of arr(j.Affinities)) def(a, "Weight", 50);
  for (const s of arr(j.Spreads)) def(s, "Weight", 50);

  const type = typeof j.Type === "string" ? j.Type : "service";
  const jobUpdate = isObject(j.Update) ? j.Update : null;
  const wantsUpdate = type === "service" || type === "system";
  const apiJobUpdate = jobUpdate ? fillUpdate({ ...jobUpdate }) : wantsUpdate ? fillUpdate({}) : null;
  // structs.Job.Update keeps only the stagger and max_parallel; the rest lives in the groups.
  const maxPar = apiJobUpdate && typeof apiJobUpdate.MaxParallel === "number" ? apiJobUpdate.MaxParallel : 0;
  j.Update = {
    Stagger: maxPar > 0 ? Number(apiJobUpdate?.Stagger ?? 0) : 0,
    MaxParallel: maxPar,
    HealthCheck: "",
    MinHealthyTime: 0,
    HealthyDeadline: 0,
    ProgressDeadline: 0,
    AutoRevert: false,
    AutoPromote: false,
    Canary: 0,
  };

  const groups = Array.isArray(j.TaskGroups) ? j.TaskGroups : [];
  j.TaskGroups = groups;
  for (const g of groups) {
    if (isObject(g)) canonGroup(g, j, type, jobUpdate, wantsUpdate);
  }
  return j as Job;
}

function canonGroup(g: JsonObject, job: JsonObject, type: string, jobUpdate: JsonObject | null, wantsUpdate: boolean): void {
  def(g, "Name", "");
  const scaling = isObject(g.Scaling) ? g.Scaling : null;
  if (g.Count === undefined || g.Count === null) g.Count = scaling && typeof scaling.Min === "number" ? scaling.Min : 1;
  if (scaling) {
    def(scaling, "Enabled", true);
    def(scaling, "Min", g.Count);
    def(scaling, "Type", "horizontal");
  }
  for (const k of ["Constraints", "Affinities", "Spreads", "Meta", "Networks", "Services", "Volumes", "ShutdownDelay", "StopAfterClientDisconnect", "MaxClientDisconnect", "MaxRunDuration", "Scaling", "Consul", "Disconnect"]) def(g, k, null);
  def(g, "PreventRescheduleOnLost", false);
  const disk = isObject(g.EphemeralDisk) ? g.EphemeralDisk : {};
  def(disk, "Sticky", false);
  def(disk, "Migrate", false);
  def(disk, "SizeMB", 300);
  g.EphemeralDisk = disk;

  // Update: the job's strategy with the group's fields on top, then defaults.
  const gUpdate = isObject(g.Update) ? g.Update : null;
  let upd: JsonObject | null = null;
  if (gUpdate && jobUpdate) upd = { ...jobUpdate, ...dropNull(gUpdate) };
  else if (gUpdate) upd = { ...gUpdate };
  else if (jobUpdate && Object.values(jobUpdate).some((v) => v !== null && v !== 0 && v !== false && v !== "")) upd = { ...jobUpdate };
  else if (wantsUpdate) upd = {};
  g.Update = upd ? fillUpdate(upd) : null;

  // Reschedule: job's policy under the group's, then the type's defaults.
  const resDefault = defaultReschedule(type);
  const jRes = isObject(job.Reschedule) ? job.Reschedule : null;
  const gRes = isObject(g.ReschedulePolicy) ? g.ReschedulePolicy : null;
  let res: JsonObject | null = gRes && jRes ? { ...jRes, ...dropNull(gRes) } : gRes ? { ...gRes } : jRes ? { ...jRes } : null;
  if (!res && type !== "system" && type !== "sysbatch") res = {};
  if (res) for (const [k, v] of Object.entries(resDefault)) def(res, k, v);
  g.ReschedulePolicy = res;

  // Migrate: only service jobs get one by default.
  const jMig = isObject(job.Migrate) ? job.Migrate : null;
  const gMig = isObject(g.Migrate) ? g.Migrate : null;
  let mig: JsonObject | null = gMig && jMig ? { ...jMig, ...dropNull(gMig) } : gMig ? { ...gMig } : jMig ? { ...jMig } : type === "service" ? {} : null;
  if (mig) mig = { MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10e9, HealthyDeadline: 300e9, ...dropNull(mig) };
  g.Migrate = mig;

  const restartDefault = type === "service" || type === "system"
    ? { Attempts: 2, Interval: 1800e9, Delay: 15e9, Mode: "fail", RenderTemplates: false }
    : { Attempts: 3, Interval: 86400e9, Delay: 15e9, Mode: "fail", RenderTemplates: false };
  const restart: JsonObject = { ...restartDefault, ...(isObject(g.RestartPolicy) ? dropNull(g.RestartPolicy) : {}) };
  g.RestartPolicy = restart;

  if (isObject(g.Disconnect)) {
    def(g.Disconnect, "Replace", true);
    def(g.Disconnect, "Reconcile", "best_score");
    def(g.Disconnect, "LostAfter", 0);
    def(g.Disconnect, "StopOnClientAfter", null);
  }
  for (const a of arr(g.Affinities)) def(a, "Weight", 50);
  for (const s of arr(g.Spreads)) def(s, "Weight", 50);
  for (const n of arr(g.Networks)) canonNetwork(n);
  const jobName = typeof job.Name === "string" ? job.Name : "";
  const groupName = typeof g.Name === "string" ? g.Name : "";
  for (const s of arr(g.Services)) canonService(s, `${jobName}-${groupName}`);

  const tasks = Array.isArray(g.Tasks) ? g.Tasks : [];
  g.Tasks = tasks;
  for (const t of tasks) {
    if (!isObject(t)) continue;
    canonTask(t, restart, `${jobName}-${groupName}`);
  }

  addImpliedConstraints(g);
}

function canonTask(t: JsonObject, groupRestart: JsonObject, servicePrefix: string): void {
  def(t, "Name", "");
  def(t, "Driver", "");
  def(t, "User", "");
  def(t, "Leader", false);
  def(t, "KillSignal", "");
  def(t, "Kind", "");
  def(t, "ShutdownDelay", 0);
  for (const k of ["Config", "Env", "Meta", "Constraints", "Affinities", "Services", "Artifacts", "Templates", "Vault", "Consul", "DispatchPayload", "VolumeMounts", "Lifecycle", "ScalingPolicies", "Identity", "Identities", "Actions", "Schedule", "Secrets"]) def(t, k, null);
  def(t, "KillTimeout", 5e9);
  const res = isObject(t.Resources) ? t.Resources : {};
  if (res.Cores === undefined || res.Cores === null) {
    res.Cores = 0;
    def(res, "CPU", 100);
  }
  def(res, "CPU", 0);
  def(res, "MemoryMB", 300);
  def(res, "MemoryMaxMB", 0);
  def(res, "DiskMB", 0);
  def(res, "IOPS", 0);
  def(res, "SecretsMB", 0);
  def(res, "Networks", null);
  def(res, "Devices", null);
  def(res, "NUMA", null);
  for (const n of arr(res.Networks)) canonNetwork(n);
  t.Resources = res;
  const logs = isObject(t.LogConfig) ? t.LogConfig : {};
  def(logs, "MaxFiles", 10);
  def(logs, "MaxFileSizeMB", 10);
  def(logs, "Disabled", false);
  def(logs, "Enabled", null);
  t.LogConfig = logs;
  t.RestartPolicy = { ...groupRestart, ...(isObject(t.RestartPolicy) ? dropNull(t.RestartPolicy) : {}) };
  for (const a of arr(t.Affinities)) def(a, "Weight", 50);
  for (const tpl of arr(t.Templates)) {
    for (const [k, v] of Object.entries({ SourcePath: "", DestPath: "", EmbeddedTmpl: "", ChangeMode: "restart", Once: false, Splay: 5e9, Perms: "0644", LeftDelim: "{{", RightDelim: "}}", Envvars: false, ErrMissingKey: false, VaultGrace: 0 })) def(tpl, k, v);
    def(tpl, "ChangeSignal", tpl.ChangeMode === "signal" ? "SIGHUP" : "");
  }
  for (const a of arr(t.Artifacts)) {
    def(a, "GetterMode", "any");
    def(a, "GetterInsecure", false);
    def(a, "GetterSource", "");
    def(a, "RelativeDest", "local/");
  }
  const name = typeof t.Name === "string" ? t.Name : "";
  for (const s of arr(t.Services)) canonService(s, `${servicePrefix}-${name}`);
}

/** Service and check defaults, and every structs.Service / ServiceCheck field the server returns. */
function canonService(s: JsonObject, defaultName: string): void {
  if (!s.Name) s.Name = defaultName;
  const fields: JsonObject = { TaskName: "", PortLabel: "", AddressMode: "auto", Address: "", EnableTagOverride: false, Tags: null, CanaryTags: null, Checks: null, Connect: null, Meta: null, CanaryMeta: null, TaggedAddresses: null, Namespace: "default", OnUpdate: "require_healthy", Provider: "consul", Cluster: "default", Identity: null, Kind: "", Weights: null };
  for (const [k, v] of Object.entries(fields)) def(s, k, v);
  const checkFields: JsonObject = { Name: "", Type: "", Command: "", Args: null, Path: "", Protocol: "", PortLabel: "", Expose: false, AddressMode: "", Interval: 0, Timeout: 0, InitialStatus: "", Notes: "", TLSServerName: "", TLSSkipVerify: false, Method: "", Header: null, CheckRestart: null, GRPCService: "", GRPCUseTLS: false, TaskName: "", SuccessBeforePassing: 0, FailuresBeforeCritical: 0, FailuresBeforeWarning: 0, Body: "" };
  for (const c of arr(s.Checks)) {
    for (const [k, v] of Object.entries(checkFields)) def(c, k, v);
    def(c, "OnUpdate", s.OnUpdate ?? "require_healthy");
  }
}

function canonNetwork(n: JsonObject): void {
  def(n, "Mode", "");
  def(n, "Device", "");
  def(n, "CIDR", "");
  def(n, "IP", "");
  def(n, "Hostname", "");
  if (n.MBits === undefined || n.MBits === null) n.MBits = 0;
  def(n, "DNS", null);
  def(n, "ReservedPorts", null);
  def(n, "DynamicPorts", null);
  for (const p of [...arr(n.ReservedPorts), ...arr(n.DynamicPorts)]) {
    def(p, "Label", "");
    def(p, "Value", 0);
    def(p, "To", 0);
    def(p, "HostNetwork", "default");
    if (p.HostNetwork === "") p.HostNetwork = "default";
  }
}

function canonPeriodic(p: JsonObject): void {
  def(p, "Enabled", true);
  def(p, "Spec", "");
  def(p, "Specs", []);
  def(p, "SpecType", "cron");
  def(p, "ProhibitOverlap", false);
  if (!p.TimeZone) p.TimeZone = "UTC";
}

/** The group-level constraints Nomad's jobImpliedConstraints mutator adds. */
function addImpliedConstraints(g: JsonObject): void {
  const services = [...arr(g.Services), ...arr(g.Tasks).flatMap((t) => arr(t.Services))];
  const implied: Constraint[] = [];
  if (services.some((s) => s.Provider === "consul")) implied.push({ LTarget: "${attr.consul.version}", RTarget: ">= 1.8.0", Operand: "semver" });
  if (services.some((s) => s.Provider === "nomad")) implied.push({ LTarget: "${attr.nomad.service_discovery}", RTarget: "true", Operand: "=" });
  if (implied.length === 0) return;
  const list = Array.isArray(g.Constraints) ? g.Constraints : [];
  for (const c of implied) {
    if (!list.some((x) => isObject(x) && x.LTarget === c.LTarget && x.Operand === c.Operand)) list.push(c);
  }
  g.Constraints = list;
}

function fillUpdate(u: JsonObject): JsonObject {
  const d: JsonObject = { Stagger: 30e9, MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10e9, HealthyDeadline: 300e9, ProgressDeadline: 600e9, AutoRevert: false, AutoPromote: false, Canary: 0 };
  return { ...d, ...dropNull(u) };
}

function defaultReschedule(type: string): JsonObject {
  if (type === "service") return { Attempts: 0, Interval: 0, Delay: 30e9, DelayFunction: "exponential", MaxDelay: 3600e9, Unlimited: true };
  if (type === "batch") return { Attempts: 1, Interval: 86400e9, Delay: 5e9, DelayFunction: "constant", MaxDelay: 0, Unlimited: false };
  return { Attempts: 0, Interval: 0, Delay: 0, DelayFunction: "", MaxDelay: 0, Unlimited: false };
}

/**
 * The server's Job.Validate subset: the mistakes a client really makes.
 * Returns go-multierror text, or undefined when the job is valid.
 */
export function validateJob(job: Job): string | undefined {
  const errs: string[] = [];
  if (job.ID === "") errs.push("Missing job ID");
  else if (job.ID.includes(" ")) errs.push("Job ID contains a space");
  if (job.Name === "") errs.push("Missing job name");
  if (!["service", "batch", "system", "sysbatch"].includes(job.Type)) errs.push(`Invalid job type: "${job.Type}"`);
  if (typeof job.Priority !== "number" || job.Priority < 1 || job.Priority > 100) errs.push("Job priority must be between [1, 100]");
  if (job.TaskGroups.length === 0) errs.push("Missing job task groups");
  const seen = new Map<string, number>();
  job.TaskGroups.forEach((g, i) => {
    if (!isObject(g)) return;
    const prev = seen.get(g.Name);
    if (g.Name === "") errs.push(`Job task group ${i + 1} missing name`);
    else if (prev !== undefined) errs.push(`Job task group ${i + 1} redefines '${g.Name}' from group ${prev + 1}`);
    else seen.set(g.Name, i);
    const gErr = validateGroup(g, job.Type);
    if (gErr) errs.push(`Task group ${g.Name} validation failed: ${gErr}`);
  });
  return errs.length ? multiError(errs) : undefined;
}

function validateGroup(g: TaskGroup, type: string): string | undefined {
  const errs: string[] = [];
  if (typeof g.Count !== "number" || g.Count < 0) errs.push("Task group count can't be negative");
  if ((type === "system" || type === "sysbatch") && g.Count > 1) errs.push(`Job task group ${g.Name} has count ${g.Count}. Count cannot exceed 1 with system scheduler`);
  if (!Array.isArray(g.Tasks) || g.Tasks.length === 0) errs.push("Missing tasks for task group");
  const names = new Set<string>();
  (Array.isArray(g.Tasks) ? g.Tasks : []).forEach((t, i) => {
    if (!isObject(t)) return;
    if (!t.Name) errs.push(`Task ${i + 1} missing name`);
    else if (names.has(t.Name)) errs.push(`Task ${i + 1} redefines '${t.Name}' from task ${[...names].indexOf(t.Name) + 1}`);
    else names.add(t.Name);
    if (!t.Driver) errs.push(`Task ${t.Name} validation failed: ${multiError(["Missing task driver"])}`);
  });
  return errs.length ? multiError(errs) : undefined;
}

const SERVER_FIELDS = ["Status", "StatusDescription", "Stable", "Version", "SubmitTime", "CreateIndex", "ModifyIndex", "JobModifyIndex", "NomadTokenID"];

/** Nomad's Job.SpecChanged: anything but the fields the server itself sets. */
export function specChanged(a: Job, b: Job): boolean {
  const ka = Object.keys(a).filter((k) => !SERVER_FIELDS.includes(k));
  const kb = Object.keys(b).filter((k) => !SERVER_FIELDS.includes(k));
  if (ka.length !== kb.length) return true;
  return ka.some((k) => JSON.stringify(sortKeys(a[k])) !== JSON.stringify(sortKeys(b[k])));
}

/** A canonical rendering of a value with sorted object keys (for equality and hashing). */
export function sortKeys(v: JsonValue | undefined): JsonValue | undefined {
  if (Array.isArray(v)) return v.map((x) => sortKeys(x) ?? null);
  if (isObject(v)) {
    const o: JsonObject = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]) ?? null;
    return o;
  }
  return v;
}

function def(o: JsonObject, k: string, v: JsonValue): void {
  if (o[k] === undefined || o[k] === null) o[k] = v;
}

function set(o: JsonObject, k: string, v: JsonValue): void {
  o[k] = v;
}

function dropNull(o: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function arr(v: JsonValue | undefined): JsonObject[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

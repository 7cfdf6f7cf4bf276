/**
 * `api.Job.Canonicalize()`, run by `/v1/jobs/parse` when the request says
 * `"Canonicalize": true` (JOBSPEC.md section 5 and the type table in 6).
 * Mutates the job in place. Durations are nanoseconds.
 */
import { arr, obj } from "./normalize.js";
import type { Json, JsonObject } from "./schema.js";

const S = 1_000_000_000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

/** Sets each key whose value is null or missing. */
function fill(o: JsonObject, defaults: JsonObject): void {
  for (const [k, v] of Object.entries(defaults)) o[k] ??= v;
}

/** Copies `over`'s set (non-null) fields onto a copy of `base`. */
function merged(base: JsonObject, over: JsonObject | null): JsonObject {
  const out = structuredClone(base);
  if (over) for (const [k, v] of Object.entries(over)) if (v !== null) out[k] = v;
  return out;
}

const defaultUpdate = (): JsonObject => ({
  Stagger: 30 * S, MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * S, HealthyDeadline: 5 * MIN,
  ProgressDeadline: 10 * MIN, Canary: 0, AutoRevert: false, AutoPromote: false,
});

/** UpdateStrategy.Empty(): no field set to a non-zero value. */
function updateIsEmpty(u: JsonObject): boolean {
  return Object.values(u).every((v) => v === null || v === 0 || v === "" || v === false);
}

function defaultReschedule(type: string): JsonObject {
  if (type === "service") {
    return { Attempts: 0, Interval: 0, Delay: 30 * S, DelayFunction: "exponential", MaxDelay: HOUR, Unlimited: true };
  }
  if (type === "batch") {
    return { Attempts: 1, Interval: 24 * HOUR, Delay: 5 * S, DelayFunction: "constant", MaxDelay: 0, Unlimited: false };
  }
  return { Attempts: 0, Interval: 0, Delay: 0, DelayFunction: "", MaxDelay: 0, Unlimited: false };
}

function defaultRestart(type: string): JsonObject {
  return type === "service" || type === "system"
    ? { Interval: 30 * MIN, Attempts: 2, Delay: 15 * S, Mode: "fail", RenderTemplates: false }
    : { Interval: 24 * HOUR, Attempts: 3, Delay: 15 * S, Mode: "fail", RenderTemplates: false };
}

const defaultLogConfig = (): JsonObject => ({ MaxFiles: 10, MaxFileSizeMB: 10, Enabled: null, Disabled: false });

/** Canonicalizes a parsed job in place. */
export function canonicalizeJob(job: JsonObject): void {
  job.ID ??= "";
  job.Name ??= job.ID;
  fill(job, {
    ParentID: "", Namespace: "default", Priority: 50, Stop: false, Region: "global", NodePool: "", Type: "service",
    AllAtOnce: false, ConsulNamespace: "", VaultNamespace: "", NomadTokenID: "", Status: "", StatusDescription: "",
    Stable: false, Version: 0, CreateIndex: 0, ModifyIndex: 0, JobModifyIndex: 0,
  });
  const type = job.Type as string;
  const periodic = obj(job.Periodic);
  if (periodic) {
    fill(periodic, { Enabled: true, Spec: "", Specs: [], SpecType: "cron", ProhibitOverlap: false });
    if (periodic.TimeZone === null || periodic.TimeZone === "") periodic.TimeZone = "UTC";
  }
  const update = obj(job.Update);
  if (update) fill(update, defaultUpdate());
  else if (type === "service" || type === "system") job.Update = defaultUpdate();

  for (const g of arr(job.TaskGroups)) if (g) canonicalizeGroup(g, job);
  weights(job.Spreads);
  weights(job.Affinities);
  const ui = obj(job.UI);
  if (ui && arr(ui.Links).length === 0) ui.Links = null;
}

function weights(list: Json | undefined): void {
  for (const x of arr(list ?? null)) if (x) x.Weight ??= 50;
}

function canonicalizeGroup(g: JsonObject, job: JsonObject): void {
  const type = job.Type as string;
  g.Name ??= "";
  const scaling = obj(g.Scaling);
  if (g.Count === null) g.Count = typeof scaling?.Min === "number" ? scaling.Min : 1;
  if (scaling) {
    fill(scaling, { Enabled: true, Min: g.Count ?? 1 });
    if (scaling.Type === "") scaling.Type = "horizontal";
  }
  const disk = obj(g.EphemeralDisk);
  if (disk) fill(disk, { Sticky: false, Migrate: false, SizeMB: 300 });
  else g.EphemeralDisk = { Sticky: false, Migrate: false, SizeMB: 300 };

  const consul = obj(g.Consul);
  if (consul) {
    if (consul.Namespace === "") consul.Namespace = (job.ConsulNamespace as string | null) ?? "";
    if (consul.Cluster === "") consul.Cluster = "default";
  }

  const jobUpdate = obj(job.Update);
  const groupUpdate = obj(g.Update);
  if (jobUpdate && groupUpdate) g.Update = merged(jobUpdate, groupUpdate);
  else if (jobUpdate && !updateIsEmpty(jobUpdate)) g.Update = structuredClone(jobUpdate);
  const update = obj(g.Update);
  if (update) fill(update, defaultUpdate());

  const jobResched = obj(job.Reschedule);
  const groupResched = obj(g.ReschedulePolicy);
  if (jobResched) g.ReschedulePolicy = merged(jobResched, groupResched);
  else if (!groupResched && type !== "system" && type !== "sysbatch") g.ReschedulePolicy = defaultReschedule(type);
  const resched = obj(g.ReschedulePolicy);
  if (resched) fill(resched, defaultReschedule(type));

  const jobMigrate = obj(job.Migrate);
  const groupMigrate = obj(g.Migrate);
  if (jobMigrate) g.Migrate = merged(jobMigrate, groupMigrate);
  else if (!groupMigrate && type === "service") g.Migrate = {};
  const migrate = obj(g.Migrate);
  if (migrate) fill(migrate, { MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * S, HealthyDeadline: 5 * MIN });

  g.RestartPolicy = merged(defaultRestart(type), obj(g.RestartPolicy));

  for (const t of arr(g.Tasks)) if (t) canonicalizeTask(t, g, job);
  weights(g.Spreads);
  weights(g.Affinities);
  for (const s of arr(g.Services)) if (s) canonicalizeService(s, `${str(job.Name)}-${str(g.Name)}`);
  const disconnect = obj(g.Disconnect);
  if (disconnect) fill(disconnect, { Replace: true, Reconcile: "best_score" });
}

function canonicalizeTask(t: JsonObject, g: JsonObject, job: JsonObject): void {
  const resources = obj(t.Resources) ?? emptyResources();
  canonicalizeResources(resources);
  t.Resources = resources;
  t.KillTimeout ??= 5 * S;
  canonicalizeLogConfig(t);
  for (const a of arr(t.Artifacts)) if (a) canonicalizeArtifact(a);
  const vault = obj(t.Vault);
  if (vault) {
    fill(vault, { Env: true, DisableFile: false, Namespace: "", ChangeMode: "restart", ChangeSignal: "SIGHUP", AllowTokenExpiration: false });
    if (vault.Cluster === "") vault.Cluster = "default";
  }
  const consul = obj(t.Consul);
  if (consul && consul.Cluster === "") consul.Cluster = "default";
  for (const tmpl of arr(t.Templates)) if (tmpl) canonicalizeTemplate(tmpl);
  for (const s of arr(t.Secrets)) {
    if (!s) continue;
    if (isEmpty(s.Config)) s.Config = null;
    if (isEmpty(s.Env)) s.Env = null;
  }
  for (const s of arr(t.Services)) if (s) canonicalizeService(s, `${str(job.Name)}-${str(g.Name)}-${str(t.Name)}`);
  weights(t.Affinities);
  for (const vm of arr(t.VolumeMounts)) if (vm) fill(vm, { PropagationMode: "private", ReadOnly: false, SELinuxLabel: "" });
  const csi = obj(t.CSIPluginConfig);
  if (csi) {
    if (csi.MountDir === "") csi.MountDir = "/csi";
    if (csi.StagePublishBaseDir === "") csi.StagePublishBaseDir = "/local/csi";
    if (csi.HealthTimeout === 0) csi.HealthTimeout = 30 * S;
  }
  const groupRestart = obj(g.RestartPolicy) ?? {};
  const own = obj(t.RestartPolicy);
  t.RestartPolicy = own ? merged(groupRestart, own) : structuredClone(groupRestart);
}

function emptyResources(): JsonObject {
  return { CPU: null, Cores: null, MemoryMB: null, MemoryMaxMB: null, DiskMB: null, Networks: null, Devices: null, IOPS: null, SecretsMB: null, NUMA: null };
}

function canonicalizeResources(r: JsonObject): void {
  if (r.Cores === null) {
    r.Cores = 0;
    r.CPU ??= 100;
  }
  r.CPU ??= 0;
  r.MemoryMB ??= 300;
  for (const d of arr(r.Devices)) {
    if (!d) continue;
    d.Count ??= 1;
    weights(d.Affinities);
  }
  const numa = obj(r.NUMA);
  if (numa) {
    if (numa.Affinity === "") numa.Affinity = "none";
    if (arr(numa.Devices).length === 0) numa.Devices = null;
  }
}

function canonicalizeLogConfig(t: JsonObject): void {
  const logs = obj(t.LogConfig);
  if (logs) fill(logs, { MaxFiles: 10, MaxFileSizeMB: 10, Disabled: false });
  else t.LogConfig = defaultLogConfig();
}

function canonicalizeArtifact(a: JsonObject): void {
  fill(a, { GetterMode: "any", GetterInsecure: false, GetterSource: "" });
  if (isEmpty(a.GetterOptions)) a.GetterOptions = null;
  if (isEmpty(a.GetterHeaders)) a.GetterHeaders = null;
  if (a.RelativeDest === null) {
    // path.Base then filepath.Join("local", ...), as api.TaskArtifact does.
    const source = str(a.GetterSource);
    const trimmed = source.replace(/\/+$/, "");
    const base = trimmed === "" ? (source === "" ? "." : "/") : trimmed.slice(trimmed.lastIndexOf("/") + 1);
    a.RelativeDest = a.GetterMode === "file" ? (base === "." || base === "/" ? "local" : `local/${base}`) : "local/";
  }
}

function canonicalizeTemplate(t: JsonObject): void {
  fill(t, { SourcePath: "", DestPath: "", EmbeddedTmpl: "", ChangeMode: "restart" });
  if (typeof t.ChangeSignal === "string") t.ChangeSignal = t.ChangeSignal.toUpperCase();
  else t.ChangeSignal = t.ChangeMode === "signal" ? "SIGHUP" : "";
  const cs = obj(t.ChangeScript);
  if (cs) fill(cs, { Command: "", Args: [], Timeout: 5 * S, FailOnError: false, RunOnFirstRender: false });
  fill(t, {
    Once: false, Splay: 5 * S, Perms: "0644", LeftDelim: "{{", RightDelim: "}}", Envvars: false, ErrMissingKey: false, VaultGrace: 0,
  });
}

function canonicalizeService(s: JsonObject, defaultName: string): void {
  if (s.Name === "") s.Name = defaultName;
  if (s.AddressMode === "") s.AddressMode = "auto";
  if (s.OnUpdate === "") s.OnUpdate = "require_healthy";
  if (s.Provider === "") s.Provider = "consul";
  if (s.Cluster === "") s.Cluster = "default";
  for (const k of ["Meta", "CanaryMeta", "TaggedAddresses"]) if (isEmpty(s[k])) s[k] = null;
  const connect = obj(s.Connect);
  if (connect) canonicalizeConnect(connect);
  const w = obj(s.Weights);
  if (w) {
    if (typeof w.Passing !== "number" || w.Passing <= 0) w.Passing = 1;
    if (typeof w.Warning !== "number" || w.Warning <= 0) w.Warning = 1;
  }
  const serviceRestart = obj(s.CheckRestart);
  for (const c of arr(s.Checks)) {
    if (!c) continue;
    const restart = mergeCheckRestart(serviceRestart, obj(c.CheckRestart));
    if (restart) restart.Grace ??= S;
    c.CheckRestart = restart;
    for (const k of ["SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning"]) {
      const v = c[k];
      if (typeof v === "number" && v < 0) c[k] = 0;
    }
    if (c.OnUpdate === "") c.OnUpdate = s.OnUpdate ?? "";
  }
}

/** CheckRestart.Merge: the check's own settings over a copy of the service's. */
function mergeCheckRestart(service: JsonObject | null, check: JsonObject | null): JsonObject | null {
  if (!service) return check;
  const out = structuredClone(service);
  if (!check) return out;
  if (typeof check.Limit === "number" && check.Limit > 0) out.Limit = check.Limit;
  if (check.Grace !== null && check.Grace !== undefined) out.Grace = check.Grace;
  if (check.IgnoreWarnings === true) out.IgnoreWarnings = true;
  return out;
}

function canonicalizeConnect(c: JsonObject): void {
  const ss = obj(c.SidecarService);
  if (ss) {
    if (isEmpty(ss.Tags)) ss.Tags = null;
    if (isEmpty(ss.Meta)) ss.Meta = null;
    const proxy = obj(ss.Proxy);
    if (proxy) canonicalizeProxy(proxy);
  }
  const st = obj(c.SidecarTask);
  if (st) {
    for (const k of ["Config", "Env", "Meta"]) if (isEmpty(st[k])) st[k] = null;
    const r = obj(st.Resources);
    if (r) canonicalizeResources(r);
    else st.Resources = { ...emptyResources(), CPU: 100, Cores: 0, MemoryMB: 300 };
    canonicalizeLogConfig(st);
    st.KillTimeout ??= 5 * S;
    st.ShutdownDelay ??= 0;
    for (const vm of arr(st.VolumeMounts)) if (vm) fill(vm, { PropagationMode: "private", ReadOnly: false, SELinuxLabel: "" });
  }
}

function canonicalizeProxy(p: JsonObject): void {
  const expose = obj(p.Expose);
  if (expose && isEmpty(expose.Paths)) expose.Paths = null;
  if (isEmpty(p.Upstreams)) p.Upstreams = null;
  for (const u of arr(p.Upstreams)) if (u && isEmpty(u.Config)) u.Config = null;
  if (isEmpty(p.Config)) p.Config = null;
  const tp = obj(p.TransparentProxy);
  if (tp) {
    for (const k of ["ExcludeInboundPorts", "ExcludeOutboundPorts", "ExcludeOutboundCIDRs", "ExcludeUIDs"]) {
      if (isEmpty(tp[k])) tp[k] = null;
    }
  }
}

/** Go's `len(x) == 0` for a map or slice field. */
function isEmpty(v: Json | undefined): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v).length === 0;
}

function str(v: Json | undefined): string {
  return typeof v === "string" ? v : "";
}

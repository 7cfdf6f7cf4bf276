import type { NomadCore } from "./core.js";
import type { JobRec } from "./store.js";
import type { AllocRec, EvalRec, JsonObject, JsonValue, NetworkResource, NodeRec } from "./types.js";

/**
 * API views: the JSON the real server returns for allocations, nodes, job
 * stubs and summaries, built from the records on each read (records are
 * lean; views carry the many always-present fields Nomad's structs have).
 */

/** Nomad's structs.Allocation, as GET /v1/allocation/:id and /v1/node/:id/allocations return it. */
export function allocView(a: AllocRec): JsonObject {
  const taskResources: JsonObject = {};
  const allocatedTasks: JsonObject = {};
  const lifecycles: JsonObject = {};
  for (const t of findTasks(a)) {
    const nets = a.taskNetworks[t.name] ?? [];
    taskResources[t.name] = { CPU: t.cpu, Cores: 0, MemoryMB: t.mem, MemoryMaxMB: 0, DiskMB: 0, IOPS: 0, Networks: nets.length ? nets : null, Devices: null, NUMA: null };
    allocatedTasks[t.name] = { Cpu: { CpuShares: t.cpu, ReservedCores: null }, Memory: { MemoryMB: t.mem, MemoryMaxMB: 0 }, Networks: nets.length ? nets : null, Devices: null };
    lifecycles[t.name] = t.lifecycle;
  }
  const allNets = [...a.networks, ...Object.values(a.taskNetworks).flat()];
  return {
    ID: a.ID,
    Namespace: a.Namespace,
    EvalID: a.EvalID,
    Name: a.Name,
    NodeID: a.NodeID,
    NodeName: a.NodeName,
    JobID: a.JobID,
    Job: a.job,
    TaskGroup: a.TaskGroup,
    Resources: { CPU: a.resources.cpu, Cores: 0, MemoryMB: a.resources.memoryMB, MemoryMaxMB: 0, DiskMB: a.resources.diskMB, IOPS: 0, Networks: allNets.length ? allNets : null, Devices: null, NUMA: null },
    SharedResources: { CPU: 0, Cores: 0, MemoryMB: 0, MemoryMaxMB: 0, DiskMB: a.resources.diskMB, IOPS: 0, Networks: a.networks.length ? a.networks : null, Devices: null, NUMA: null },
    TaskResources: taskResources,
    AllocatedResources: {
      Tasks: allocatedTasks,
      TaskLifecycles: lifecycles,
      Shared: { DiskMB: a.resources.diskMB, Networks: a.networks.length ? a.networks : null, Ports: sharedPorts(a.networks) },
    },
    Metrics: a.Metrics,
    DesiredStatus: a.DesiredStatus,
    DesiredDescription: a.DesiredDescription,
    DesiredTransition: a.DesiredTransition,
    ClientStatus: a.ClientStatus,
    ClientDescription: a.ClientDescription,
    TaskStates: a.TaskStates,
    AllocStates: null,
    PreviousAllocation: a.PreviousAllocation,
    NextAllocation: a.NextAllocation,
    DeploymentID: a.DeploymentID,
    DeploymentStatus: a.DeploymentStatus,
    RescheduleTracker: rescheduleTracker(a),
    NetworkStatus: null,
    FollowupEvalID: a.FollowupEvalID,
    PreemptedAllocations: null,
    PreemptedByAllocation: "",
    SigningKeyID: "",
    CreateIndex: a.CreateIndex,
    ModifyIndex: a.ModifyIndex,
    AllocModifyIndex: a.AllocModifyIndex,
    CreateTime: a.CreateTime,
    ModifyTime: a.ModifyTime,
  };
}

/** structs.AllocListStub, as the allocation lists return it. */
export function allocStub(a: AllocRec): JsonObject {
  return {
    ID: a.ID,
    EvalID: a.EvalID,
    Name: a.Name,
    Namespace: a.Namespace,
    NodeID: a.NodeID,
    NodeName: a.NodeName,
    JobID: a.JobID,
    JobType: a.job.Type,
    JobVersion: a.job.Version,
    TaskGroup: a.TaskGroup,
    AllocatedResources: null,
    DesiredStatus: a.DesiredStatus,
    DesiredDescription: a.DesiredDescription,
    ClientStatus: a.ClientStatus,
    ClientDescription: a.ClientDescription,
    DesiredTransition: a.DesiredTransition,
    TaskStates: a.TaskStates,
    DeploymentStatus: a.DeploymentStatus,
    FollowupEvalID: a.FollowupEvalID,
    PreviousAllocation: a.PreviousAllocation,
    NextAllocation: a.NextAllocation,
    RescheduleTracker: rescheduleTracker(a),
    PreemptedAllocations: null,
    PreemptedByAllocation: "",
    CreateIndex: a.CreateIndex,
    ModifyIndex: a.ModifyIndex,
    CreateTime: a.CreateTime,
    ModifyTime: a.ModifyTime,
  };
}

function rescheduleTracker(a: AllocRec): JsonValue {
  return a.RescheduleEvents ? { Events: a.RescheduleEvents, LastReschedule: "ok" } : null;
}

function findTasks(a: AllocRec): { name: string; cpu: number; mem: number; lifecycle: JsonValue }[] {
  const g = a.job.TaskGroups.find((x) => x.Name === a.TaskGroup);
  return (g?.Tasks ?? []).map((t) => ({ name: t.Name, cpu: t.Resources.CPU, mem: t.Resources.MemoryMB, lifecycle: t.Lifecycle ?? null }));
}

function sharedPorts(nets: NetworkResource[]): JsonValue {
  const ports: JsonObject[] = [];
  for (const n of nets) {
    for (const p of [...(n.ReservedPorts ?? []), ...(n.DynamicPorts ?? [])]) ports.push({ Label: p.Label, Value: p.Value, To: p.To, HostIP: n.IP });
  }
  return ports.length ? ports : null;
}

/** structs.JobSummary, derived from the job's allocations and its blocked evaluation. */
export function jobSummary(core: NomadCore, rec: JobRec): JsonObject {
  const job = rec.current;
  const summary: Record<string, Record<string, number>> = {};
  for (const g of job.TaskGroups) summary[g.Name] = { Queued: 0, Complete: 0, Failed: 0, Running: 0, Starting: 0, Lost: 0, Unknown: 0 };
  for (const a of core.store.allocsByJob(job.Namespace, job.ID)) {
    const s = summary[a.TaskGroup] ?? (summary[a.TaskGroup] = { Queued: 0, Complete: 0, Failed: 0, Running: 0, Starting: 0, Lost: 0, Unknown: 0 });
    const bucket = { pending: "Starting", running: "Running", complete: "Complete", failed: "Failed", lost: "Lost", unknown: "Unknown" }[a.ClientStatus];
    s[bucket] = (s[bucket] ?? 0) + 1;
  }
  for (const e of core.store.evalsByJob(job.Namespace, job.ID)) {
    if (e.Status !== "blocked" || !e.FailedTGAllocs) continue;
    for (const [g, m] of Object.entries(e.FailedTGAllocs)) {
      const s = summary[g];
      if (s) s.Queued = (typeof m.CoalescedFailures === "number" ? m.CoalescedFailures : 0) + 1;
    }
  }
  return {
    JobID: job.ID,
    Namespace: job.Namespace,
    Summary: summary,
    Children: { Pending: 0, Running: 0, Dead: 0, Desired: 0 },
    CreateIndex: rec.summaryCreateIndex,
    ModifyIndex: rec.summaryIndex,
  };
}

/** structs.JobListStub; `Meta` only with `?meta=true`. */
export function jobStub(core: NomadCore, rec: JobRec, withMeta: boolean): JsonObject {
  const j = rec.current;
  return {
    ID: j.ID,
    ParentID: j.ParentID,
    Name: j.Name,
    Namespace: j.Namespace,
    Datacenters: j.Datacenters,
    NodePool: j.NodePool,
    Multiregion: null,
    Type: j.Type,
    Priority: j.Priority,
    Periodic: !!j.Periodic,
    ParameterizedJob: !!j.ParameterizedJob,
    Stop: j.Stop,
    Status: j.Status,
    StatusDescription: j.StatusDescription,
    JobSummary: jobSummary(core, rec),
    CreateIndex: j.CreateIndex,
    ModifyIndex: j.ModifyIndex,
    JobModifyIndex: j.JobModifyIndex,
    SubmitTime: j.SubmitTime,
    ...(withMeta ? { Meta: j.Meta } : {}),
  };
}

function drivers(updated: string): JsonObject {
  const off = (desc: string): JsonObject => ({ Attributes: null, Detected: false, HealthDescription: desc, Healthy: false, UpdateTime: updated });
  return {
    docker: {
      Attributes: { "driver.docker": "true", "driver.docker.bridge_ip": "172.17.0.1", "driver.docker.os_type": "linux", "driver.docker.runtimes": "io.containerd.runc.v2,runc", "driver.docker.version": "27.3.1", "driver.docker.volumes.enabled": "true" },
      Detected: true,
      HealthDescription: "Healthy",
      Healthy: true,
      UpdateTime: updated,
    },
    exec: { Attributes: { "driver.exec": "true" }, Detected: true, HealthDescription: "Healthy", Healthy: true, UpdateTime: updated },
    java: off(""),
    qemu: off(""),
    raw_exec: off("disabled"),
  };
}

/** structs.NodeListStub. */
export function nodeStub(n: NodeRec): JsonObject {
  return {
    Address: n.Address,
    ID: n.ID,
    Attributes: { "os.name": n.Attributes["os.name"] ?? "", "os.version": n.Attributes["os.version"] ?? "" },
    Datacenter: n.Datacenter,
    Name: n.Name,
    NodeClass: n.NodeClass,
    NodePool: n.NodePool,
    Version: n.Attributes["nomad.version"] ?? "",
    Drain: n.DrainStrategy !== null,
    SchedulingEligibility: n.SchedulingEligibility,
    Status: n.Status,
    StatusDescription: n.StatusDescription,
    Drivers: drivers(new Date(n.StatusUpdatedAt * 1000).toISOString()),
    HostVolumes: null,
    NodeResources: null,
    ReservedResources: null,
    LastDrain: n.LastDrain,
    CreateIndex: n.CreateIndex,
    ModifyIndex: n.ModifyIndex,
  };
}

/** structs.Node, as GET /v1/node/:id returns it (SecretID blanked, as the API does). */
export function nodeView(n: NodeRec): JsonObject {
  const mac = `02:42:${n.Address.split(".").map((x) => Number(x).toString(16).padStart(2, "0")).join(":")}`;
  const updated = new Date(n.StatusUpdatedAt * 1000).toISOString();
  return {
    ID: n.ID,
    SecretID: "",
    Datacenter: n.Datacenter,
    Name: n.Name,
    HTTPAddr: `${n.Address}:4646`,
    TLSEnabled: false,
    Attributes: n.Attributes,
    NodeResources: {
      Cpu: { CpuShares: n.capacity.cpu, TotalCpuCores: 2, ReservableCpuCores: [0, 1] },
      Memory: { MemoryMB: n.capacity.memoryMB },
      Disk: { DiskMB: n.capacity.diskMB },
      Networks: [{ CIDR: `${n.Address}/32`, Device: "eth0", DynamicPorts: null, IP: n.Address, MBits: 1000, Mode: "host", ReservedPorts: null }],
      NodeNetworks: [{ Addresses: [{ Address: n.Address, Alias: "default", Family: "ipv4", Gateway: "", ReservedPorts: "" }], Device: "eth0", MacAddress: mac, Mode: "host", Speed: 1000 }],
      Devices: [],
      MinDynamicPort: 20000,
      MaxDynamicPort: 32000,
    },
    ReservedResources: { Cpu: { CpuShares: 0, ReservedCpuCores: null }, Memory: { MemoryMB: 0 }, Disk: { DiskMB: 0 }, Networks: { ReservedHostPorts: "" } },
    Resources: { CPU: n.capacity.cpu, Cores: 0, MemoryMB: n.capacity.memoryMB, MemoryMaxMB: 0, DiskMB: n.capacity.diskMB, IOPS: 0, Networks: null, Devices: null, NUMA: null },
    Reserved: null,
    Links: { consul: `${n.Datacenter}.${n.Name}` },
    Meta: n.Meta,
    NodeClass: n.NodeClass,
    NodePool: n.NodePool,
    CgroupParent: "nomad.slice",
    Drain: n.DrainStrategy !== null,
    DrainStrategy: n.DrainStrategy,
    SchedulingEligibility: n.SchedulingEligibility,
    Status: n.Status,
    StatusDescription: n.StatusDescription,
    StatusUpdatedAt: n.StatusUpdatedAt,
    Events: n.Events,
    Drivers: drivers(updated),
    CSIControllerPlugins: null,
    CSINodePlugins: null,
    HostVolumes: {},
    HostNetworks: {},
    GCVolumesOnNodeGC: false,
    LastDrain: n.LastDrain,
    LastMissedHeartbeatIndex: 0,
    LastAllocUpdateIndex: 0,
    ComputedClass: n.ComputedClass,
    CreateIndex: n.CreateIndex,
    ModifyIndex: n.ModifyIndex,
  };
}

/** structs.EvaluationStub (RelatedEvals entries). */
export function evalStub(e: EvalRec): JsonObject {
  return {
    ID: e.ID,
    Namespace: e.Namespace,
    Priority: e.Priority,
    Type: e.Type,
    TriggeredBy: e.TriggeredBy,
    JobID: e.JobID,
    NodeID: e.NodeID,
    DeploymentID: e.DeploymentID,
    Status: e.Status,
    StatusDescription: e.StatusDescription,
    WaitUntil: e.WaitUntil,
    NextEval: e.NextEval,
    PreviousEval: e.PreviousEval,
    BlockedEval: e.BlockedEval,
    CreateIndex: e.CreateIndex,
    ModifyIndex: e.ModifyIndex,
    CreateTime: e.CreateTime,
    ModifyTime: e.ModifyTime,
  };
}

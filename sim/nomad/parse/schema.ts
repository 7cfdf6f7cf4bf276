/**
 * The jobspec as Nomad's `api` structs declare it: for each struct, its JSON
 * fields in declaration order, and for those settable from HCL the block or
 * attribute name, Go type and pointer-ness (a missing pointer field is
 * `null`, a missing plain field its zero value). Read from
 * ../shared/api-reference/nomad/JOBSPEC.md sections 3.1–3.13.
 *
 * The same table gives the Go helper its schema (`goSchema`) and the mapper
 * its output shape (build-job.ts), so the two cannot disagree.
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** Go field types the helper knows how to decode (hcl-helper/decode.go). */
export type AttrType =
  | "string" | "bool" | "int" | "int8" | "uint8" | "uint16" | "int64" | "uint64" | "duration"
  | "list(string)" | "list(uint16)" | "map(string)"
  /** Only in hcldec structs (constraint, affinity). */
  | "number";

export type Field =
  | { k: "attr"; json: string; hcl: string; type: AttrType; ptr: boolean; required?: boolean }
  /** The block label (`group "web"` → Name). */
  | { k: "label"; json: string }
  /** `json: null`: accepted in HCL but not a field of the struct (spread over tasks by normalize.ts). */
  | { k: "block"; json: string | null; hcl: string; struct: string; many: "one" | "list" | "map"; labels?: string[]; check?: "taskScaling" | "groupScaling"; dup?: "previous"; omitEmpty?: boolean }
  | { k: "map"; json: string; hcl: string; of: "string" | "stringlist" | "any"; attrForm?: boolean }
  /** Set by the server, never from HCL: written with this value. */
  | { k: "server"; json: string; zero: Json }
  /** Valid in Nomad, not implemented by sim: using it is a parse error. */
  | { k: "unsupported"; json: string | null; hcl: string };

export interface Struct {
  fields: Field[];
  /** jobspec2 reads this body with hcldec and computes the fields itself (build-job.ts). */
  hcldec?: boolean;
}

const P = true;
const attr = (json: string, hcl: string, type: AttrType, ptr = false, required = false): Field =>
  required ? { k: "attr", json, hcl, type, ptr, required } : { k: "attr", json, hcl, type, ptr };
const str = (json: string, hcl: string, ptr = false): Field => attr(json, hcl, "string", ptr);
const bool = (json: string, hcl: string, ptr = false): Field => attr(json, hcl, "bool", ptr);
const int = (json: string, hcl: string, ptr = false): Field => attr(json, hcl, "int", ptr);
const dur = (json: string, hcl: string, ptr = false): Field => attr(json, hcl, "duration", ptr);
const strs = (json: string, hcl: string): Field => attr(json, hcl, "list(string)");
const one = (json: string | null, hcl: string, struct: string, extra: Partial<Extract<Field, { k: "block" }>> = {}): Field =>
  ({ k: "block", json, hcl, struct, many: "one", ...extra });
const list = (json: string | null, hcl: string, struct: string, labels?: string[]): Field =>
  labels ? { k: "block", json, hcl, struct, many: "list", labels } : { k: "block", json, hcl, struct, many: "list" };
const smap = (json: string, hcl: string, attrForm = false): Field =>
  attrForm ? { k: "map", json, hcl, of: "string", attrForm } : { k: "map", json, hcl, of: "string" };
const anymap = (json: string, hcl: string): Field => ({ k: "map", json, hcl, of: "any" });
const server = (json: string, zero: Json = null): Field => ({ k: "server", json, zero });
const label = (json: string): Field => ({ k: "label", json });

/** Label names as gohcl reports them: `hcl:"name,label"` or `hcl:",label"`. */
const NAME = ["name"];
const ANON = [""];

const constraintFields: Field[] = [
  "attribute", "value", "operator", "version", "semver", "regexp", "set_contains", "set_contains_any",
  "set_contains_all", "distinct_property", "is_set", "is_not_set",
].map((h) => attr(h, h, "string"));

/** Every struct of the jobspec, by Go type name. */
export const STRUCTS: Record<string, Struct> = {
  Job: {
    fields: [
      str("Region", "region", P), str("Namespace", "namespace", P), str("ID", "id", P), str("Name", "name", P),
      str("Type", "type", P), int("Priority", "priority", P), bool("AllAtOnce", "all_at_once", P),
      strs("Datacenters", "datacenters"), str("NodePool", "node_pool", P),
      list("Constraints", "constraint", "Constraint"), list("Affinities", "affinity", "Affinity"),
      list("TaskGroups", "group", "TaskGroup", NAME), one("Update", "update", "UpdateStrategy"),
      { k: "unsupported", json: "Multiregion", hcl: "multiregion" },
      list("Spreads", "spread", "Spread"), one("Periodic", "periodic", "PeriodicConfig"),
      one("ParameterizedJob", "parameterized", "ParameterizedJobConfig"),
      one("Reschedule", "reschedule", "ReschedulePolicy"), one("Migrate", "migrate", "MigrateStrategy"),
      smap("Meta", "meta", true), one("UI", "ui", "JobUIConfig"),
      server("Stop"), server("ParentID"), server("Dispatched", false), server("DispatchIdempotencyToken"),
      server("Payload"), server("ConsulNamespace"), server("VaultNamespace"), server("NomadTokenID"),
      server("Status"), server("StatusDescription"), server("Stable"), server("Version"), server("SubmitTime"),
      server("CreateIndex"), server("ModifyIndex"), server("JobModifyIndex"), server("VersionTag"),
      // Job-level blocks jobspec2 spreads over the tasks (section 3.11).
      one(null, "vault", "Vault", { dup: "previous" }), list(null, "task", "Task", NAME), list(null, "secret", "Secret", NAME),
    ],
  },
  UpdateStrategy: {
    fields: [
      dur("Stagger", "stagger", P), int("MaxParallel", "max_parallel", P), str("HealthCheck", "health_check", P),
      dur("MinHealthyTime", "min_healthy_time", P), dur("HealthyDeadline", "healthy_deadline", P),
      dur("ProgressDeadline", "progress_deadline", P), int("Canary", "canary", P), bool("AutoRevert", "auto_revert", P),
      bool("AutoPromote", "auto_promote", P),
    ],
  },
  PeriodicConfig: {
    fields: [
      bool("Enabled", "enabled", P), str("Spec", "cron", P), strs("Specs", "crons"), server("SpecType"),
      bool("ProhibitOverlap", "prohibit_overlap", P), str("TimeZone", "time_zone", P),
    ],
  },
  ParameterizedJobConfig: {
    fields: [str("Payload", "payload"), strs("MetaRequired", "meta_required"), strs("MetaOptional", "meta_optional")],
  },
  ReschedulePolicy: {
    fields: [
      int("Attempts", "attempts", P), dur("Interval", "interval", P), dur("Delay", "delay", P),
      str("DelayFunction", "delay_function", P), dur("MaxDelay", "max_delay", P), bool("Unlimited", "unlimited", P),
    ],
  },
  MigrateStrategy: {
    fields: [
      int("MaxParallel", "max_parallel", P), str("HealthCheck", "health_check", P),
      dur("MinHealthyTime", "min_healthy_time", P), dur("HealthyDeadline", "healthy_deadline", P),
    ],
  },
  JobUIConfig: { fields: [str("Description", "description"), list("Links", "link", "JobUILink")] },
  JobUILink: { fields: [str("Label", "label"), str("URL", "url")] },
  Constraint: { hcldec: true, fields: [...constraintFields, attr("distinct_hosts", "distinct_hosts", "bool")] },
  Affinity: {
    hcldec: true,
    fields: [
      ...["attribute", "value", "operator", "version", "semver", "regexp", "set_contains", "set_contains_any", "set_contains_all"]
        .map((h) => attr(h, h, "string")),
      attr("weight", "weight", "number"),
    ],
  },
  Spread: {
    fields: [str("Attribute", "attribute"), attr("Weight", "weight", "int8", P), list("SpreadTarget", "target", "SpreadTarget", ANON)],
  },
  SpreadTarget: { fields: [label("Value"), attr("Percent", "percent", "uint8")] },
  TaskGroup: {
    fields: [
      label("Name"), int("Count", "count", P), list("Constraints", "constraint", "Constraint"),
      list("Affinities", "affinity", "Affinity"), list("Tasks", "task", "Task", NAME), list("Spreads", "spread", "Spread"),
      { k: "block", json: "Volumes", hcl: "volume", struct: "VolumeRequest", many: "map", labels: NAME },
      one("RestartPolicy", "restart", "RestartPolicy"), one("Disconnect", "disconnect", "DisconnectStrategy"),
      one("ReschedulePolicy", "reschedule", "ReschedulePolicy"), one("EphemeralDisk", "ephemeral_disk", "EphemeralDisk"),
      one("Update", "update", "UpdateStrategy"), one("Migrate", "migrate", "MigrateStrategy"),
      list("Networks", "network", "NetworkResource"), smap("Meta", "meta", true), list("Services", "service", "Service"),
      dur("ShutdownDelay", "shutdown_delay", P), dur("StopAfterClientDisconnect", "stop_after_client_disconnect", P),
      dur("MaxClientDisconnect", "max_client_disconnect", P), one("Scaling", "scaling", "ScalingPolicy", { check: "groupScaling" }),
      one("Consul", "consul", "Consul"), bool("PreventRescheduleOnLost", "prevent_reschedule_on_lost", P),
      dur("MaxRunDuration", "max_run_duration", P),
      // Group-level vault (the last one wins) and secrets go to the tasks.
      list(null, "vault", "Vault"), list(null, "secret", "Secret", NAME),
    ],
  },
  RestartPolicy: {
    fields: [
      dur("Interval", "interval", P), int("Attempts", "attempts", P), dur("Delay", "delay", P), str("Mode", "mode", P),
      bool("RenderTemplates", "render_templates", P),
    ],
  },
  DisconnectStrategy: {
    fields: [
      dur("LostAfter", "lost_after", P), dur("StopOnClientAfter", "stop_on_client_after", P),
      bool("Replace", "replace", P), str("Reconcile", "reconcile", P),
    ],
  },
  EphemeralDisk: { fields: [bool("Sticky", "sticky", P), bool("Migrate", "migrate", P), int("SizeMB", "size", P)] },
  VolumeRequest: {
    fields: [
      label("Name"), str("Type", "type"), str("Source", "source"), bool("ReadOnly", "read_only"), bool("Sticky", "sticky"),
      str("AccessMode", "access_mode"), str("AttachmentMode", "attachment_mode"),
      one("MountOptions", "mount_options", "CSIMountOptions"), bool("PerAlloc", "per_alloc"),
    ],
  },
  CSIMountOptions: { fields: [str("FSType", "fs_type"), strs("MountFlags", "mount_flags")] },
  ScalingPolicy: {
    fields: [
      server("ID", ""), server("Namespace", ""), server("Target"), attr("Min", "min", "int64", P), attr("Max", "max", "int64", P),
      anymap("Policy", "policy"), bool("Enabled", "enabled", P), str("Type", "type"), server("CreateIndex", 0),
      server("ModifyIndex", 0),
    ],
  },
  Consul: { fields: [str("Namespace", "namespace"), str("Cluster", "cluster"), str("Partition", "partition")] },
  Task: {
    fields: [
      label("Name"), str("Driver", "driver"), str("User", "user"), one("Lifecycle", "lifecycle", "TaskLifecycle"),
      anymap("Config", "config"), list("Constraints", "constraint", "Constraint"), list("Affinities", "affinity", "Affinity"),
      smap("Env", "env", true), list("Services", "service", "Service"), one("Resources", "resources", "Resources"),
      one("RestartPolicy", "restart", "RestartPolicy"), smap("Meta", "meta", true), dur("KillTimeout", "kill_timeout", P),
      one("LogConfig", "logs", "LogConfig"), list("Artifacts", "artifact", "TaskArtifact"), one("Vault", "vault", "Vault"),
      one("Consul", "consul", "Consul"), list("Templates", "template", "Template"),
      one("DispatchPayload", "dispatch_payload", "DispatchPayloadConfig"), list("VolumeMounts", "volume_mount", "VolumeMount"),
      one("CSIPluginConfig", "csi_plugin", "TaskCSIPluginConfig", { omitEmpty: true }), bool("Leader", "leader"),
      dur("ShutdownDelay", "shutdown_delay"), str("KillSignal", "kill_signal"), str("Kind", "kind"),
      { k: "block", json: "ScalingPolicies", hcl: "scaling", struct: "ScalingPolicy", many: "list", labels: NAME, check: "taskScaling" },
      list("Secrets", "secret", "Secret", NAME), server("Identity"), list("Identities", "identity", "WorkloadIdentity"),
      list("Actions", "action", "Action", NAME), one("Schedule", "schedule", "TaskSchedule"),
    ],
  },
  TaskLifecycle: { fields: [attr("Hook", "hook", "string", false, true), bool("Sidecar", "sidecar")] },
  LogConfig: {
    fields: [
      int("MaxFiles", "max_files", P), int("MaxFileSizeMB", "max_file_size", P), bool("Enabled", "enabled", P),
      bool("Disabled", "disabled", P),
    ],
  },
  TaskArtifact: {
    fields: [
      str("GetterSource", "source", P), smap("GetterOptions", "options"), smap("GetterHeaders", "headers"),
      str("GetterMode", "mode", P), bool("GetterInsecure", "insecure", P), str("RelativeDest", "destination", P),
      bool("Chown", "chown"),
    ],
  },
  Template: {
    fields: [
      str("SourcePath", "source", P), str("DestPath", "destination", P), str("EmbeddedTmpl", "data", P),
      str("ChangeMode", "change_mode", P), one("ChangeScript", "change_script", "ChangeScript"),
      str("ChangeSignal", "change_signal", P), dur("Splay", "splay", P), str("Perms", "perms", P), int("Uid", "uid", P),
      int("Gid", "gid", P), str("LeftDelim", "left_delimiter", P), str("RightDelim", "right_delimiter", P),
      bool("Envvars", "env", P), dur("VaultGrace", "vault_grace", P), one("Wait", "wait", "WaitConfig"),
      bool("ErrMissingKey", "error_on_missing_key", P), bool("Once", "once", P),
    ],
  },
  ChangeScript: {
    fields: [
      str("Command", "command", P), strs("Args", "args"), dur("Timeout", "timeout", P), bool("FailOnError", "fail_on_error", P),
      bool("RunOnFirstRender", "run_on_first_render", P),
    ],
  },
  WaitConfig: { fields: [dur("Min", "min", P), dur("Max", "max", P)] },
  Vault: {
    fields: [
      strs("Policies", "policies"), str("Role", "role"), str("Namespace", "namespace", P), str("Cluster", "cluster"),
      bool("Env", "env", P), bool("DisableFile", "disable_file", P), str("ChangeMode", "change_mode", P),
      str("ChangeSignal", "change_signal", P), bool("AllowTokenExpiration", "allow_token_expiration", P),
    ],
  },
  DispatchPayloadConfig: { fields: [str("File", "file")] },
  VolumeMount: {
    fields: [
      str("Volume", "volume", P), str("Destination", "destination", P), bool("ReadOnly", "read_only", P),
      str("PropagationMode", "propagation_mode", P), str("SELinuxLabel", "selinux_label", P),
    ],
  },
  TaskCSIPluginConfig: {
    fields: [
      str("ID", "id"), str("Type", "type"), str("MountDir", "mount_dir"), str("StagePublishBaseDir", "stage_publish_base_dir"),
      dur("HealthTimeout", "health_timeout"),
    ],
  },
  WorkloadIdentity: {
    fields: [
      str("Name", "name"), strs("Audience", "aud"), str("ChangeMode", "change_mode"), str("ChangeSignal", "change_signal"),
      bool("Env", "env"), bool("File", "file"), str("Filepath", "filepath"), str("ServiceName", "service_name"),
      dur("TTL", "ttl"), attr("ExtraClaims", "extra_claims", "map(string)"),
    ],
  },
  Action: { fields: [label("Name"), attr("Command", "command", "string", false, true), strs("Args", "args")] },
  TaskSchedule: { fields: [one("Cron", "cron", "TaskScheduleCron")] },
  TaskScheduleCron: { fields: [str("Start", "start"), str("End", "end"), str("Timezone", "timezone")] },
  Secret: {
    fields: [label("Name"), str("Provider", "provider"), str("Path", "path"), anymap("Config", "config"), smap("Env", "env")],
  },
  Resources: {
    fields: [
      int("CPU", "cpu", P), int("Cores", "cores", P), int("MemoryMB", "memory", P), int("MemoryMaxMB", "memory_max", P),
      int("DiskMB", "disk", P), list("Networks", "network", "NetworkResource"), list("Devices", "device", "RequestedDevice", ANON),
      int("IOPS", "iops", P), int("SecretsMB", "secrets", P), one("NUMA", "numa", "NUMAResource"),
    ],
  },
  NUMAResource: { fields: [str("Affinity", "affinity"), strs("Devices", "devices")] },
  RequestedDevice: {
    fields: [
      label("Name"), attr("Count", "count", "uint64", P), list("Constraints", "constraint", "Constraint"),
      list("Affinities", "affinity", "Affinity"),
    ],
  },
  NetworkResource: {
    fields: [
      str("Mode", "mode"), str("Device", "device"), str("CIDR", "cidr"), str("IP", "ip"), str("Hostname", "hostname"),
      one("DNS", "dns", "DNSConfig"), list("ReservedPorts", "reserved_ports", "Port", ANON),
      list("DynamicPorts", "port", "Port", ANON), int("MBits", "mbits", P), one("CNI", "cni", "CNIConfig"),
    ],
  },
  Port: {
    fields: [
      label("Label"), int("Value", "static"), int("To", "to"), str("HostNetwork", "host_network"),
      bool("IgnoreCollision", "ignore_collision"),
    ],
  },
  DNSConfig: { fields: [strs("Servers", "servers"), strs("Searches", "searches"), strs("Options", "options")] },
  CNIConfig: { fields: [attr("Args", "args", "map(string)")] },
  Service: {
    fields: [
      str("Name", "name"), strs("Tags", "tags"), strs("CanaryTags", "canary_tags"), bool("EnableTagOverride", "enable_tag_override"),
      str("PortLabel", "port"), str("AddressMode", "address_mode"), str("Address", "address"),
      list("Checks", "check", "ServiceCheck"), one("CheckRestart", "check_restart", "CheckRestart"),
      one("Connect", "connect", "ConsulConnect"), smap("Meta", "meta"), smap("CanaryMeta", "canary_meta"),
      smap("TaggedAddresses", "tagged_addresses"), str("TaskName", "task"), str("OnUpdate", "on_update"),
      one("Identity", "identity", "WorkloadIdentity"), one("Weights", "weights", "ServiceWeights"),
      str("Provider", "provider"), str("Cluster", "cluster"), str("Kind", "kind"),
    ],
  },
  ServiceCheck: {
    fields: [
      str("Name", "name"), str("Type", "type"), str("Command", "command"), strs("Args", "args"), str("Path", "path"),
      str("Protocol", "protocol"), str("PortLabel", "port"), bool("Expose", "expose"), str("AddressMode", "address_mode"),
      str("Advertise", "advertise"), dur("Interval", "interval"), dur("Timeout", "timeout"),
      str("InitialStatus", "initial_status"), str("Notes", "notes"), str("TLSServerName", "tls_server_name"),
      bool("TLSSkipVerify", "tls_skip_verify"), { k: "map", json: "Header", hcl: "header", of: "stringlist" },
      str("Method", "method"), one("CheckRestart", "check_restart", "CheckRestart"), str("GRPCService", "grpc_service"),
      bool("GRPCUseTLS", "grpc_use_tls"), str("TaskName", "task"), int("SuccessBeforePassing", "success_before_passing"),
      int("FailuresBeforeCritical", "failures_before_critical"), int("FailuresBeforeWarning", "failures_before_warning"),
      str("Body", "body"), str("OnUpdate", "on_update"),
    ],
  },
  CheckRestart: { fields: [int("Limit", "limit"), dur("Grace", "grace", P), bool("IgnoreWarnings", "ignore_warnings")] },
  ServiceWeights: { fields: [int("Passing", "passing"), int("Warning", "warning")] },
  ConsulConnect: {
    fields: [
      bool("Native", "native"), { k: "unsupported", json: "Gateway", hcl: "gateway" },
      one("SidecarService", "sidecar_service", "ConsulSidecarService"), one("SidecarTask", "sidecar_task", "SidecarTask"),
    ],
  },
  ConsulSidecarService: {
    fields: [
      strs("Tags", "tags"), str("Port", "port"), one("Proxy", "proxy", "ConsulProxy"),
      bool("DisableDefaultTCPCheck", "disable_default_tcp_check"), smap("Meta", "meta"),
    ],
  },
  SidecarTask: {
    fields: [
      str("Name", "name"), str("Driver", "driver"), str("User", "user"), anymap("Config", "config"), smap("Env", "env"),
      one("Resources", "resources", "Resources"), smap("Meta", "meta"), dur("KillTimeout", "kill_timeout", P),
      one("LogConfig", "logs", "LogConfig"), dur("ShutdownDelay", "shutdown_delay", P), str("KillSignal", "kill_signal"),
      list("VolumeMounts", "volume_mount", "VolumeMount"), list("Identities", "identity", "WorkloadIdentity"),
    ],
  },
  ConsulProxy: {
    fields: [
      str("LocalServiceAddress", "local_service_address"), int("LocalServicePort", "local_service_port"),
      one("Expose", "expose", "ConsulExposeConfig"), server("ExposeConfig"), list("Upstreams", "upstreams", "ConsulUpstream"),
      anymap("Config", "config"), one("TransparentProxy", "transparent_proxy", "ConsulTransparentProxy"),
    ],
  },
  ConsulExposeConfig: { fields: [list("Paths", "path", "ConsulExposePath"), server("Path")] },
  ConsulExposePath: {
    fields: [str("Path", "path"), str("Protocol", "protocol"), int("LocalPathPort", "local_path_port"), str("ListenerPort", "listener_port")],
  },
  ConsulUpstream: {
    fields: [
      str("DestinationName", "destination_name"), str("DestinationNamespace", "destination_namespace"),
      str("DestinationPeer", "destination_peer"), str("DestinationPartition", "destination_partition"),
      str("DestinationType", "destination_type"), int("LocalBindPort", "local_bind_port"), str("Datacenter", "datacenter"),
      str("LocalBindAddress", "local_bind_address"), str("LocalBindSocketPath", "local_bind_socket_path"),
      str("LocalBindSocketMode", "local_bind_socket_mode"), one("MeshGateway", "mesh_gateway", "ConsulMeshGateway"),
      anymap("Config", "config"),
    ],
  },
  ConsulMeshGateway: { fields: [str("Mode", "mode")] },
  ConsulTransparentProxy: {
    fields: [
      str("UID", "uid"), attr("OutboundPort", "outbound_port", "uint16"), strs("ExcludeInboundPorts", "exclude_inbound_ports"),
      attr("ExcludeOutboundPorts", "exclude_outbound_ports", "list(uint16)"), strs("ExcludeOutboundCIDRs", "exclude_outbound_cidrs"),
      strs("ExcludeUIDs", "exclude_uids"), bool("NoDNS", "no_dns"),
    ],
  },
};

/** The schema message for the Go helper (hcl-helper/schema.go). */
export interface GoSchema {
  root: string;
  bodies: Record<string, {
    attrs: Record<string, { type: AttrType; ptr: boolean; required: boolean }>;
    blocks: Record<string, { kind: string; body?: string; labels?: string[]; attrForm?: boolean; dup?: string; check?: string }>;
    hcldec?: boolean;
  }>;
}

/** Builds the helper's schema from STRUCTS. */
export function goSchema(): GoSchema {
  const bodies: GoSchema["bodies"] = {};
  for (const [name, s] of Object.entries(STRUCTS)) {
    const body: GoSchema["bodies"][string] = { attrs: {}, blocks: {} };
    if (s.hcldec) body.hcldec = true;
    for (const f of s.fields) {
      switch (f.k) {
        case "attr":
          body.attrs[f.hcl] = { type: f.type, ptr: f.ptr, required: f.required ?? false };
          break;
        case "block":
          body.blocks[f.hcl] = {
            kind: f.many === "one" ? "single" : "list",
            body: f.struct,
            ...(f.labels ? { labels: f.labels } : {}),
            ...(f.check ? { check: f.check } : {}),
            ...(f.dup ? { dup: f.dup } : {}),
          };
          break;
        case "map":
          body.blocks[f.hcl] = {
            kind: { string: "stringmap", stringlist: "stringlistmap", any: "anymap" }[f.of],
            ...(f.attrForm ? { attrForm: true } : {}),
          };
          break;
        case "unsupported":
          body.blocks[f.hcl] = { kind: "unsupported" };
          break;
        default:
          break;
      }
    }
    bodies[name] = body;
  }
  return { root: "Job", bodies };
}

import { INSTANCE_TYPES, NETWORK, renderInstanceType } from "./catalog.js";
import { Ec2Error } from "./errors.js";
import type { Fleet, LaunchSpec } from "./fleet.js";
import type { Instance } from "./instance.js";
import { type Filter, type QueryParams, wildcardMatch } from "./query.js";
import { reservationBody, stateXml, volumeItem } from "./render.js";
import { leaf, node, set } from "./xml.js";

/** What an action handler works with. */
export interface ActionContext {
  params: QueryParams;
  fleet: Fleet;
  region: string;
  accountId: string;
  /** ClientToken → the reservation it launched and the request it came with. */
  tokens: Map<string, { fingerprint: string; reservationId: string; instanceIds: string[] }>;
}

/** An action answers the children of its `<{Action}Response>` after `requestId`. */
export type ActionHandler = (c: ActionContext) => string[];

/** The EC2 actions the sim implements, by `Action` name. */
export const EC2_ACTIONS: Record<string, ActionHandler> = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  TerminateInstances: terminateInstances,
  DescribeInstanceAttribute: describeInstanceAttribute,
  ModifyInstanceAttribute: modifyInstanceAttribute,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
  DescribeInstanceTypes: describeInstanceTypes,
  DescribeVpcs: describeVpcs,
  DescribeVolumes: describeVolumes,
  DescribeInstanceCreditSpecifications: describeInstanceCreditSpecifications,
};

const AMI_ID = /^ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const USER_DATA_MAX = 16 * 1024;

function runInstances(c: ActionContext): string[] {
  const p = c.params;
  const token = p.get("ClientToken") ?? "";
  if (token.length > 64) throw new Ec2Error("InvalidParameterValue", "Value for parameter ClientToken is invalid. Length exceeds 64 characters.");
  if (token !== "") {
    const seen = c.tokens.get(token);
    const fingerprint = p.fingerprint(["ClientToken", "Version"]);
    if (seen) {
      // A retry of a call that already launched: the same reservation, never a second one.
      if (seen.fingerprint !== fingerprint) {
        throw new Ec2Error("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).");
      }
      const instances = seen.instanceIds.map((id) => c.fleet.get(id)).filter((i): i is Instance => i !== undefined);
      return reservationBody(seen.reservationId, c.accountId, instances);
    }
  }
  const spec = launchSpec(c);
  const { reservationId, instances } = c.fleet.launch(spec);
  if (token !== "") {
    c.tokens.set(token, { fingerprint: p.fingerprint(["ClientToken", "Version"]), reservationId, instanceIds: instances.map((i) => i.instanceId) });
  }
  return reservationBody(reservationId, c.accountId, instances);
}

function launchSpec(c: ActionContext): LaunchSpec {
  const p = c.params;
  const imageId = p.need("ImageId");
  if (!AMI_ID.test(imageId)) throw new Ec2Error("InvalidAMIID.Malformed", `Invalid id: "${imageId}" (expecting "ami-...")`);
  const instanceType = p.get("InstanceType") ?? "m1.small";
  const typeInfo = INSTANCE_TYPES.get(instanceType);
  if (!typeInfo) throw new Ec2Error("InvalidParameterValue", `Invalid value '${instanceType}' for InstanceType.`);
  const min = p.int("MinCount");
  const max = p.int("MaxCount");
  if (min === undefined) throw new Ec2Error("MissingParameter", "The request must contain the parameter MinCount");
  if (max === undefined) throw new Ec2Error("MissingParameter", "The request must contain the parameter MaxCount");
  if (min < 1 || max < 1) throw new Ec2Error("InvalidParameterValue", "Value for parameter MinCount/MaxCount must be at least 1.");
  if (min > max) throw new Ec2Error("InvalidParameterValue", `MinCount (${min}) must not be greater than MaxCount (${max}).`);

  const subnetId = p.get("SubnetId") || NETWORK.defaultSubnetId;
  if (!/^subnet-[0-9a-f]+$/.test(subnetId)) throw new Ec2Error("InvalidSubnetID.NotFound", `The subnet ID '${subnetId}' does not exist`);
  const az = p.get("Placement.AvailabilityZone") || `${c.region}a`;
  if (!new RegExp(`^${c.region}[a-f]$`).test(az)) throw new Ec2Error("InvalidParameterValue", `Invalid availability zone: [${az}]`);

  const tags = new Map<string, string>();
  const volumeTags = new Map<string, string>();
  for (const n of p.indices("TagSpecification")) {
    const type = p.get(`TagSpecification.${n}.ResourceType`);
    const into = type === "instance" ? tags : type === "volume" ? volumeTags : undefined;
    if (type === undefined) throw new Ec2Error("InvalidParameterValue", "Tag specification resource type must have a value");
    for (const t of p.tags(`TagSpecification.${n}.Tag`)) {
      checkTagKey(t.key);
      into?.set(t.key, t.value ?? "");
    }
  }

  const userData = (p.get("UserData") ?? "").replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(userData) || userData.length % 4 === 1) {
    throw new Ec2Error("InvalidParameterValue", "Invalid BASE64 encoding of user data.");
  }
  if (Buffer.from(userData, "base64").length > USER_DATA_MAX) {
    throw new Ec2Error("InvalidParameterValue", `User data is limited to ${USER_DATA_MAX} bytes`);
  }
  const shutdown = p.get("InstanceInitiatedShutdownBehavior") ?? "stop";
  if (shutdown !== "stop" && shutdown !== "terminate") {
    throw new Ec2Error("InvalidParameterValue", `Value (${shutdown}) for parameter instanceInitiatedShutdownBehavior is invalid. Expected: 'stop' or 'terminate'.`);
  }
  const credits = p.get("CreditSpecification.CpuCredits");
  if (credits !== undefined && credits !== "standard" && credits !== "unlimited") {
    throw new Ec2Error("InvalidParameterValue", `Value (${credits}) for parameter cpuCredits is invalid. Expected: 'standard' or 'unlimited'.`);
  }
  const cpuCredits = typeInfo.burstable ? (credits ?? typeInfo.defaultCredits) : undefined;
  const privateIp = p.get("PrivateIpAddress");
  if (privateIp !== undefined) checkPrivateIp(c, privateIp, max);
  return {
    imageId,
    instanceType,
    count: max,
    subnetId,
    availabilityZone: az,
    clientToken: p.get("ClientToken") ?? "",
    tags,
    volumeTags,
    userData,
    disableApiTermination: p.bool("DisableApiTermination") ?? false,
    disableApiStop: p.bool("DisableApiStop") ?? false,
    shutdownBehavior: shutdown,
    ebsOptimized: p.bool("EbsOptimized") ?? false,
    monitoring: p.bool("Monitoring.Enabled") ?? false,
    ...(cpuCredits !== undefined ? { cpuCredits } : {}),
    ...(privateIp !== undefined ? { privateIp } : {}),
  };
}

/** A fixed primary address (aws_instance `private_ip`, how servers keep stable addresses): in the VPC, one instance, not held by a live instance. */
function checkPrivateIp(c: ActionContext, ip: string, count: number): void {
  const m = /^10\.0\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  const octets = m ? [Number(m[1]), Number(m[2])] : [];
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new Ec2Error("InvalidParameterValue", `Invalid value '${ip}' for PrivateIpAddress.`);
  // .0-.3 and .255 of a subnet are AWS's own.
  if (!m || octets.some((o) => o > 255) || (octets[1] ?? 0) < 4 || octets[1] === 255) {
    throw new Ec2Error("InvalidParameterValue", `Address ${ip} does not fall within the subnet's address range`);
  }
  if (count > 1) throw new Ec2Error("InvalidParameterCombination", "A private IP address can be specified for one instance only; MaxCount must be 1.");
  if (c.fleet.all().some((i) => i.privateIp === ip && i.state !== "terminated")) throw new Ec2Error("InvalidIPAddress.InUse", `Address ${ip} is in use.`);
}

function checkTagKey(key: string): void {
  if (key === "") throw new Ec2Error("InvalidParameterValue", "Tag key cannot be empty");
  if (key.length > 128) throw new Ec2Error("InvalidParameterValue", `Tag key exceeds the maximum length of 128 characters: ${key}`);
  if (key.toLowerCase().startsWith("aws:")) {
    throw new Ec2Error("InvalidParameterValue", `Value ( ${key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`);
  }
}

/** The instances named in `InstanceId.N` (all must exist), or every instance when none is named. */
function selectInstances(c: ActionContext, ids: string[]): Instance[] {
  if (ids.length === 0) return c.fleet.all();
  for (const id of ids) {
    if (!INSTANCE_ID.test(id)) throw new Ec2Error("InvalidInstanceID.Malformed", `Invalid id: "${id}"`);
  }
  const missing = ids.filter((id) => !c.fleet.get(id));
  if (missing.length === 1) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${missing[0]}' does not exist`);
  if (missing.length > 1) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance IDs '${missing.join(", ")}' do not exist`);
  return [...new Set(ids)].map((id) => c.fleet.get(id)).filter((i): i is Instance => i !== undefined);
}

/** Values an instance has for a DescribeInstances filter; undefined = EC2 does not know the filter. */
function instanceFilterValues(i: Instance, name: string): string[] | undefined {
  if (name.startsWith("tag:")) {
    const v = i.tags.get(name.slice(4));
    return v === undefined ? [] : [v];
  }
  switch (name) {
    case "instance-id":
      return [i.instanceId];
    case "instance-state-name":
      return [i.state];
    case "instance-state-code":
      return [String({ pending: 0, running: 16, "shutting-down": 32, terminated: 48 }[i.state])];
    case "instance-type":
      return [i.instanceType];
    case "image-id":
      return [i.imageId];
    case "reservation-id":
      return [i.reservationId];
    case "client-token":
      return [i.clientToken];
    case "subnet-id":
      return [i.subnetId];
    case "vpc-id":
      return [i.vpcId];
    case "availability-zone":
    case "placement.availability-zone":
      return [i.availabilityZone];
    case "private-dns-name":
      return [i.privateDnsName];
    case "private-ip-address":
      return [i.privateIp];
    case "tag-key":
      return [...i.tags.keys()];
    case "tag-value":
      return [...i.tags.values()];
    default:
      return undefined;
  }
}

/** EC2 filter semantics: every filter must match (AND), any of its values may (OR). */
function matchesFilters<T>(item: T, filters: Filter[], values: (item: T, name: string) => string[] | undefined): boolean {
  return filters.every((f) => {
    const have = values(item, f.name) ?? [];
    return f.values.some((pattern) => have.some((v) => wildcardMatch(pattern, v)));
  });
}

/** EC2 refuses a filter it does not know for the action (`tag:<key>` is known where tags are). */
function checkFilters(filters: Filter[], known: readonly string[], tags: boolean): void {
  for (const f of filters) {
    if (!known.includes(f.name) && !(tags && f.name.startsWith("tag:"))) {
      throw new Ec2Error("InvalidParameterValue", `The filter '${f.name}' is invalid`);
    }
  }
}

const INSTANCE_FILTERS = [
  "instance-id", "instance-state-name", "instance-state-code", "instance-type", "image-id", "reservation-id", "client-token",
  "subnet-id", "vpc-id", "availability-zone", "placement.availability-zone", "private-dns-name", "private-ip-address", "tag-key", "tag-value",
];

function describeInstances(c: ActionContext): string[] {
  const p = c.params;
  const ids = p.list("InstanceId");
  const maxResults = p.int("MaxResults");
  if (maxResults !== undefined && ids.length > 0) {
    throw new Ec2Error("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults");
  }
  if (maxResults !== undefined && (maxResults < 5 || maxResults > 1000)) {
    throw new Ec2Error("InvalidParameterValue", `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  }
  const filters = p.filters();
  checkFilters(filters, INSTANCE_FILTERS, true);
  let found = selectInstances(c, ids).filter((i) => matchesFilters(i, filters, instanceFilterValues));
  const start = pageStart(p.get("NextToken"));
  let next: string | undefined;
  if (maxResults !== undefined || start > 0) {
    const end = maxResults !== undefined ? start + maxResults : found.length;
    if (end < found.length) next = Buffer.from(`instances:${end}`).toString("base64");
    found = found.slice(start, end);
  }
  const groups = new Map<string, Instance[]>();
  for (const i of found) groups.set(i.reservationId, [...(groups.get(i.reservationId) ?? []), i]);
  const body = [
    set(
      "reservationSet",
      [...groups].map(([rid, insts]) => reservationBody(rid, c.accountId, insts).join("")),
    ),
  ];
  if (next) body.push(leaf("nextToken", next));
  return body;
}

function pageStart(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  const m = /^instances:(\d+)$/.exec(Buffer.from(token, "base64").toString("utf8"));
  if (!m) throw new Ec2Error("InvalidParameterValue", `The NextToken value '${token}' is invalid.`);
  return Number(m[1]);
}

function terminateInstances(c: ActionContext): string[] {
  const ids = c.params.list("InstanceId");
  if (ids.length === 0) throw new Ec2Error("MissingParameter", "The request must contain the parameter InstanceId");
  const instances = selectInstances(c, ids);
  const locked = instances.find((i) => i.disableApiTermination && i.state !== "terminated");
  if (locked) {
    throw new Ec2Error(
      "OperationNotPermitted",
      `The instance '${locked.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
    );
  }
  const items = instances.map((i) => {
    const { previous, current } = c.fleet.terminate(i);
    return leaf("instanceId", i.instanceId) + stateXml("currentState", current) + stateXml("previousState", previous);
  });
  return [set("instancesSet", items)];
}

function oneInstance(c: ActionContext): Instance {
  const id = c.params.need("InstanceId");
  const [inst] = selectInstances(c, [id]);
  if (!inst) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
  return inst;
}

const value = (v: string | boolean): string => node("value", String(v));

/** DescribeInstanceAttribute answers, by attribute name. */
const ATTRIBUTES: Record<string, (i: Instance) => string> = {
  instanceType: (i) => node("instanceType", value(i.instanceType)),
  userData: (i) => (i.userData === "" ? "<userData/>" : node("userData", value(i.userData))),
  disableApiTermination: (i) => node("disableApiTermination", value(i.disableApiTermination)),
  disableApiStop: (i) => node("disableApiStop", value(i.disableApiStop)),
  instanceInitiatedShutdownBehavior: (i) => node("instanceInitiatedShutdownBehavior", value(i.shutdownBehavior)),
  rootDeviceName: (i) => node("rootDeviceName", value(i.rootVolume.device)),
  sourceDestCheck: (i) => node("sourceDestCheck", value(i.sourceDestCheck)),
  ebsOptimized: (i) => node("ebsOptimized", value(i.ebsOptimized)),
  enaSupport: () => node("enaSupport", value(true)),
  kernel: () => "<kernel/>",
  ramdisk: () => "<ramdisk/>",
  productCodes: () => "<productCodes/>",
  sriovNetSupport: () => "<sriovNetSupport/>",
  groupSet: () => set("groupSet", [leaf("groupId", NETWORK.securityGroupId)]),
  blockDeviceMapping: (i) =>
    set(
      "blockDeviceMapping",
      i.volumeDeleted
        ? []
        : [
            leaf("deviceName", i.rootVolume.device) +
              node("ebs", leaf("volumeId", i.rootVolume.volumeId), leaf("status", "attached"), leaf("deleteOnTermination", true)),
          ],
    ),
};

function describeInstanceAttribute(c: ActionContext): string[] {
  const attribute = c.params.need("Attribute");
  const render = ATTRIBUTES[attribute];
  if (!render) throw new Ec2Error("InvalidParameterValue", `Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
  const inst = oneInstance(c);
  return [leaf("instanceId", inst.instanceId), render(inst)];
}

/** The attributes ModifyInstanceAttribute can change here, and whether the instance must be stopped first. */
const MODIFIABLE: Record<string, { needsStopped: boolean; apply: (i: Instance, v: string, c: ActionContext) => void }> = {
  DisableApiTermination: { needsStopped: false, apply: (i, v) => (i.disableApiTermination = parseBool("DisableApiTermination", v)) },
  DisableApiStop: { needsStopped: false, apply: (i, v) => (i.disableApiStop = parseBool("DisableApiStop", v)) },
  SourceDestCheck: { needsStopped: false, apply: (i, v) => (i.sourceDestCheck = parseBool("SourceDestCheck", v)) },
  InstanceInitiatedShutdownBehavior: {
    needsStopped: false,
    apply: (i, v) => {
      if (v !== "stop" && v !== "terminate") {
        throw new Ec2Error("InvalidParameterValue", `Value (${v}) for parameter instanceInitiatedShutdownBehavior is invalid. Expected: 'stop' or 'terminate'.`);
      }
      i.shutdownBehavior = v;
    },
  },
  InstanceType: { needsStopped: true, apply: () => undefined },
  UserData: { needsStopped: true, apply: () => undefined },
  EbsOptimized: { needsStopped: true, apply: () => undefined },
};

function modifyInstanceAttribute(c: ActionContext): string[] {
  const p = c.params;
  const inst = oneInstance(c);
  const changes: [string, string][] = [];
  for (const name of Object.keys(MODIFIABLE)) {
    const v = p.get(`${name}.Value`);
    if (v !== undefined) changes.push([name, v]);
  }
  const attr = p.get("Attribute");
  if (attr !== undefined) {
    const name = attr.charAt(0).toUpperCase() + attr.slice(1);
    if (!MODIFIABLE[name]) throw new Ec2Error("InvalidParameterValue", `Value (${attr}) for parameter attribute is invalid. Unknown attribute.`);
    changes.push([name, p.need("Value")]);
  }
  if (changes.length === 0) throw new Ec2Error("MissingParameter", "The request must contain the parameter attribute");
  if (changes.length > 1) throw new Ec2Error("InvalidParameterCombination", "Only one attribute can be modified at a time");
  const [name, v] = changes[0] as [string, string];
  const m = MODIFIABLE[name];
  if (!m) throw new Ec2Error("InvalidParameterValue", `Value (${name}) for parameter attribute is invalid. Unknown attribute.`);
  // The sim never stops instances, so the attributes EC2 changes only when stopped are always refused.
  if (m.needsStopped) throw new Ec2Error("IncorrectInstanceState", `The instance '${inst.instanceId}' is not in the 'stopped' state.`);
  m.apply(inst, v, c);
  return [leaf("return", true)];
}

function parseBool(name: string, v: string): boolean {
  if (v === "true") return true;
  if (v === "false") return false;
  throw new Ec2Error("InvalidParameterValue", `Value (${v}) for parameter ${name} is invalid. Expected: 'true' or 'false'.`);
}

/** A taggable resource: an instance or the root volume of one. */
interface Taggable {
  id: string;
  type: "instance" | "volume";
  tags: Map<string, string>;
}

function taggable(c: ActionContext, id: string): Taggable {
  if (id.startsWith("i-")) {
    const inst = c.fleet.get(id);
    if (!inst) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    return { id, type: "instance", tags: inst.tags };
  }
  if (id.startsWith("vol-")) {
    const inst = c.fleet.all().find((i) => i.rootVolume.volumeId === id && !i.volumeDeleted);
    if (!inst) throw new Ec2Error("InvalidVolume.NotFound", `The volume '${id}' does not exist.`);
    return { id, type: "volume", tags: inst.rootVolume.tags };
  }
  throw new Ec2Error("InvalidID", `The ID '${id}' is not valid`);
}

function allTaggables(c: ActionContext): Taggable[] {
  return c.fleet.all().flatMap((i) => [
    { id: i.instanceId, type: "instance" as const, tags: i.tags },
    ...(i.volumeDeleted ? [] : [{ id: i.rootVolume.volumeId, type: "volume" as const, tags: i.rootVolume.tags }]),
  ]);
}

function createTags(c: ActionContext): string[] {
  const ids = c.params.list("ResourceId");
  if (ids.length === 0) throw new Ec2Error("MissingParameter", "The request must contain the parameter ResourceId");
  const tags = c.params.tags("Tag");
  if (tags.length === 0) throw new Ec2Error("MissingParameter", "The request must contain the parameter Tag");
  tags.forEach((t) => checkTagKey(t.key));
  const targets = ids.map((id) => taggable(c, id));
  for (const r of targets) {
    const keys = new Set([...r.tags.keys(), ...tags.map((t) => t.key)]);
    if (keys.size > 50) throw new Ec2Error("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.");
  }
  for (const r of targets) for (const t of tags) r.tags.set(t.key, t.value ?? "");
  return [leaf("return", true)];
}

function deleteTags(c: ActionContext): string[] {
  const ids = c.params.list("ResourceId");
  if (ids.length === 0) throw new Ec2Error("MissingParameter", "The request must contain the parameter ResourceId");
  const tags = c.params.tags("Tag");
  const targets = ids.map((id) => taggable(c, id));
  for (const r of targets) {
    if (tags.length === 0) r.tags.clear(); // no Tag.N: every (user) tag goes
    for (const t of tags) {
      // With a value, only a tag holding exactly that value is deleted (an empty value included).
      if (t.value === undefined || r.tags.get(t.key) === t.value) r.tags.delete(t.key);
    }
  }
  return [leaf("return", true)];
}

function describeTags(c: ActionContext): string[] {
  const filters = c.params.filters();
  checkFilters(filters, ["key", "value", "resource-id", "resource-type"], false);
  const rows = allTaggables(c).flatMap((r) => [...r.tags].map(([key, v]) => ({ r, key, value: v })));
  const pick = (row: (typeof rows)[number], name: string): string[] => {
    switch (name) {
      case "key":
        return [row.key];
      case "value":
        return [row.value];
      case "resource-id":
        return [row.r.id];
      default:
        return [row.r.type];
    }
  };
  const items = rows
    .filter((row) => matchesFilters(row, filters, pick))
    .map((row) => leaf("resourceId", row.r.id) + leaf("resourceType", row.r.type) + leaf("key", row.key) + leaf("value", row.value));
  return [set("tagSet", items)];
}

function describeInstanceTypes(c: ActionContext): string[] {
  const names = c.params.list("InstanceType");
  const filters = c.params.filters();
  checkFilters(filters, ["instance-type", "burstable-performance-supported", "current-generation"], false);
  const missing = names.filter((n) => !INSTANCE_TYPES.has(n));
  if (missing.length > 0) {
    throw new Ec2Error("InvalidInstanceType", `The following supplied instance types do not exist: [${missing.join(", ")}]`);
  }
  const chosen = names.length > 0 ? [...new Set(names)].map((n) => INSTANCE_TYPES.get(n)!) : [...INSTANCE_TYPES.values()];
  const matching = chosen.filter((t) =>
    matchesFilters(t, filters, (ti, name) =>
      name === "instance-type"
        ? [ti.name]
        : name === "burstable-performance-supported"
          ? [String(ti.burstable)]
          : [String(!/^(t2|m1)\./.test(ti.name))],
    ),
  );
  return [set("instanceTypeSet", matching.map(renderInstanceType))];
}

function describeVpcs(c: ActionContext): string[] {
  const ids = c.params.list("VpcId");
  const missing = ids.filter((id) => id !== NETWORK.vpcId);
  if (missing.length === 1) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${missing[0]}' does not exist`);
  if (missing.length > 1) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc IDs '${missing.join(", ")}' do not exist`);
  const filters = c.params.filters();
  const fields: Record<string, string[]> = {
    "vpc-id": [NETWORK.vpcId],
    state: ["available"],
    "cidr-block": [NETWORK.vpcCidr],
    cidr: [NETWORK.vpcCidr],
    "is-default": ["false"],
    "owner-id": [c.accountId],
    "dhcp-options-id": [NETWORK.dhcpOptionsId],
  };
  checkFilters(filters, Object.keys(fields), true);
  if (!matchesFilters(fields, filters, (f, name) => f[name] ?? [])) return ["<vpcSet/>"];
  const vpc = [
    leaf("vpcId", NETWORK.vpcId),
    leaf("ownerId", c.accountId),
    leaf("state", "available"),
    leaf("cidrBlock", NETWORK.vpcCidr),
    set("cidrBlockAssociationSet", [
      leaf("cidrBlock", NETWORK.vpcCidr) + leaf("associationId", NETWORK.cidrAssociationId) + node("cidrBlockState", leaf("state", "associated")),
    ]),
    leaf("dhcpOptionsId", NETWORK.dhcpOptionsId),
    "<tagSet/>",
    leaf("instanceTenancy", "default"),
    leaf("isDefault", false),
  ].join("");
  return [set("vpcSet", [vpc])];
}

const VOLUME_FILTERS = ["volume-id", "attachment.instance-id", "attachment.device", "attachment.status", "availability-zone", "volume-type", "status", "size"];

function describeVolumes(c: ActionContext): string[] {
  const ids = c.params.list("VolumeId");
  const live = c.fleet.all().filter((i) => !i.volumeDeleted);
  const missing = ids.filter((id) => !live.some((i) => i.rootVolume.volumeId === id));
  if (missing.length === 1) throw new Ec2Error("InvalidVolume.NotFound", `The volume '${missing[0]}' does not exist.`);
  if (missing.length > 1) throw new Ec2Error("InvalidVolume.NotFound", `The volumes '${missing.join(", ")}' do not exist.`);
  const filters = c.params.filters();
  const values = (i: Instance, name: string): string[] | undefined => {
    if (name.startsWith("tag:")) {
      const v = i.rootVolume.tags.get(name.slice(4));
      return v === undefined ? [] : [v];
    }
    const fields: Record<string, string> = {
      "volume-id": i.rootVolume.volumeId,
      "attachment.instance-id": i.instanceId,
      "attachment.device": i.rootVolume.device,
      "attachment.status": "attached",
      "availability-zone": i.availabilityZone,
      "volume-type": i.rootVolume.type,
      status: "in-use",
      size: String(i.rootVolume.sizeGiB),
    };
    const v = fields[name];
    return v === undefined ? [] : [v];
  };
  checkFilters(filters, VOLUME_FILTERS, true);
  const chosen = (ids.length > 0 ? live.filter((i) => ids.includes(i.rootVolume.volumeId)) : live).filter((i) => matchesFilters(i, filters, values));
  return [set("volumeSet", chosen.map(volumeItem))];
}

function describeInstanceCreditSpecifications(c: ActionContext): string[] {
  const ids = c.params.list("InstanceId");
  const chosen = selectInstances(c, ids).filter((i) => i.state !== "terminated" || ids.length > 0);
  const notBurstable = ids.length > 0 ? chosen.find((i) => i.cpuCredits === undefined) : undefined;
  if (notBurstable) {
    throw new Ec2Error("InvalidParameterValue", `The instance ID '${notBurstable.instanceId}' is not a burstable performance instance.`);
  }
  const items = chosen
    .filter((i) => i.cpuCredits !== undefined)
    .map((i) => leaf("instanceId", i.instanceId) + leaf("cpuCredits", i.cpuCredits ?? "standard"));
  return [set("instanceCreditSpecificationSet", items)];
}

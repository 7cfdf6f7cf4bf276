import { NETWORK } from "./catalog.js";
import { STATE_CODES, type Instance, type InstanceStateName } from "./instance.js";
import { leaf, node, set } from "./xml.js";

/** EC2 writes times as ISO 8601 with milliseconds in UTC. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function stateXml(name: string, state: InstanceStateName): string {
  return node(name, leaf("code", STATE_CODES[state]), leaf("name", state));
}

export function tagSet(tags: Map<string, string>): string {
  return set(
    "tagSet",
    [...tags].map(([k, v]) => leaf("key", k) + leaf("value", v)),
  );
}

const GROUP_SET = set("groupSet", [leaf("groupId", NETWORK.securityGroupId) + leaf("groupName", "default")]);

/**
 * One `instancesSet/item`, in the element order of
 * `shared/api-reference/ec2/describe-instances.json`. A shutting-down or
 * terminated instance keeps its network details, as the samples show (real
 * EC2 drops them once terminated; the provider reads nothing of a terminated
 * instance but its state).
 */
export function instanceItem(i: Instance): string {
  const attached = i.state === "pending" || i.state === "running";
  const launch = isoTime(i.launchTime);
  const parts = [
    leaf("instanceId", i.instanceId),
    leaf("imageId", i.imageId),
    stateXml("instanceState", i.state),
    leaf("privateDnsName", i.privateDnsName),
    leaf("dnsName", ""),
    leaf("reason", i.transitionReason),
    leaf("amiLaunchIndex", i.launchIndex),
    set("productCodes", []),
    leaf("instanceType", i.instanceType),
    leaf("launchTime", launch),
    node("placement", leaf("availabilityZone", i.availabilityZone), leaf("groupName", ""), leaf("tenancy", "default")),
    node("monitoring", leaf("state", i.monitoring ? "enabled" : "disabled")),
    leaf("subnetId", i.subnetId),
    leaf("vpcId", i.vpcId),
    leaf("privateIpAddress", i.privateIp),
    leaf("sourceDestCheck", i.sourceDestCheck),
    GROUP_SET,
  ];
  if (i.stateReason) parts.push(node("stateReason", leaf("code", i.stateReason.code), leaf("message", i.stateReason.message)));
  parts.push(
    leaf("architecture", i.instanceType.match(/^[a-z]\dg/) ? "arm64" : "x86_64"),
    leaf("rootDeviceType", "ebs"),
    leaf("rootDeviceName", i.rootVolume.device),
    set("blockDeviceMapping", [
      leaf("deviceName", i.rootVolume.device) +
        node(
          "ebs",
          leaf("volumeId", i.rootVolume.volumeId),
          leaf("status", attached ? "attached" : "detached"),
          leaf("attachTime", launch),
          leaf("deleteOnTermination", true),
        ),
    ]),
    leaf("virtualizationType", "hvm"),
    leaf("clientToken", i.clientToken),
    tagSet(i.tags),
    leaf("hypervisor", "xen"),
    set("networkInterfaceSet", [networkInterface(i, launch)]),
    leaf("ebsOptimized", i.ebsOptimized),
    leaf("enaSupport", true),
    node("cpuOptions", leaf("coreCount", 1), leaf("threadsPerCore", 2)),
    node("capacityReservationSpecification", leaf("capacityReservationPreference", "open")),
    node("hibernationOptions", leaf("configured", false)),
    node(
      "metadataOptions",
      leaf("state", "applied"),
      leaf("httpTokens", "optional"),
      leaf("httpPutResponseHopLimit", 1),
      leaf("httpEndpoint", "enabled"),
      leaf("httpProtocolIpv6", "disabled"),
      leaf("instanceMetadataTags", "disabled"),
    ),
    node("enclaveOptions", leaf("enabled", false)),
    leaf("platformDetails", "Linux/UNIX"),
    leaf("usageOperation", "RunInstances"),
    node("maintenanceOptions", leaf("autoRecovery", "default")),
    node(
      "privateDnsNameOptions",
      leaf("hostnameType", "ip-name"),
      leaf("enableResourceNameDnsARecord", false),
      leaf("enableResourceNameDnsAAAARecord", false),
    ),
  );
  return parts.join("\n");
}

function networkInterface(i: Instance, launch: string): string {
  return [
    leaf("networkInterfaceId", i.networkInterfaceId),
    leaf("subnetId", i.subnetId),
    leaf("vpcId", i.vpcId),
    leaf("description", ""),
    leaf("ownerId", i.ownerId),
    leaf("status", "in-use"),
    leaf("macAddress", i.macAddress),
    leaf("privateIpAddress", i.privateIp),
    leaf("privateDnsName", i.privateDnsName),
    leaf("sourceDestCheck", i.sourceDestCheck),
    GROUP_SET,
    node(
      "attachment",
      leaf("attachmentId", i.attachmentId),
      leaf("deviceIndex", 0),
      leaf("status", "attached"),
      leaf("attachTime", launch),
      leaf("deleteOnTermination", true),
      leaf("networkCardIndex", 0),
    ),
    set("privateIpAddressesSet", [leaf("privateIpAddress", i.privateIp) + leaf("privateDnsName", i.privateDnsName) + leaf("primary", true)]),
    set("ipv6AddressesSet", []),
    leaf("interfaceType", "interface"),
  ].join("\n");
}

/** A reservation: the instances one RunInstances launched. */
export function reservationBody(reservationId: string, ownerId: string, instances: Instance[]): string[] {
  return [
    leaf("reservationId", reservationId) + leaf("ownerId", ownerId) + set("groupSet", []),
    set("instancesSet", instances.map((i) => `\n${instanceItem(i)}\n`)),
  ];
}

/** One `volumeSet/item` of DescribeVolumes. */
export function volumeItem(i: Instance): string {
  const v = i.rootVolume;
  const attached = i.state !== "terminated";
  return [
    leaf("volumeId", v.volumeId),
    leaf("size", v.sizeGiB),
    leaf("snapshotId", NETWORK.snapshotId),
    leaf("availabilityZone", i.availabilityZone),
    leaf("status", attached ? "in-use" : "deleting"),
    leaf("createTime", isoTime(v.createTime)),
    set(
      "attachmentSet",
      attached
        ? [
            leaf("volumeId", v.volumeId) +
              leaf("instanceId", i.instanceId) +
              leaf("device", v.device) +
              leaf("status", "attached") +
              leaf("attachTime", isoTime(i.launchTime)) +
              leaf("deleteOnTermination", true),
          ]
        : [],
    ),
    leaf("volumeType", v.type),
    leaf("iops", v.iops),
    leaf("throughput", v.throughput),
    leaf("encrypted", false),
    leaf("multiAttachEnabled", false),
    tagSet(v.tags),
  ].join("");
}

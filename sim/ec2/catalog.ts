import { leaf, node, set } from "./xml.js";

/** What the sim knows about one instance type: enough for DescribeInstanceTypes and the provider's reads. */
export interface InstanceTypeInfo {
  name: string;
  vcpus: number;
  cores: number;
  threadsPerCore: number;
  memoryMiB: number;
  /** t2/t3/t3a/t4g: the provider then reads credit specifications. */
  burstable: boolean;
  arch: "x86_64" | "arm64";
  network: string;
  clockGhz: number;
  /** Credit mode when RunInstances does not say (t2 standard, later generations unlimited). */
  defaultCredits?: "standard" | "unlimited";
}

function t(name: string, vcpus: number, memoryMiB: number, extra: Partial<InstanceTypeInfo> = {}): InstanceTypeInfo {
  const burstable = /^t\d/.test(name);
  return {
    name,
    vcpus,
    cores: Math.max(1, vcpus / 2),
    threadsPerCore: vcpus === 1 ? 1 : 2,
    memoryMiB,
    burstable,
    arch: /^[a-z]\dg/.test(name) ? "arm64" : "x86_64",
    network: burstable ? "Up to 5 Gigabit" : "Up to 10 Gigabit",
    clockGhz: 2.5,
    ...(burstable ? { defaultCredits: name.startsWith("t2.") ? "standard" : "unlimited" } : {}),
    ...extra,
  };
}

/** The instance types the sim offers. Unknown types are refused as EC2 refuses them. */
export const INSTANCE_TYPES: ReadonlyMap<string, InstanceTypeInfo> = new Map(
  [
    t("m1.small", 1, 1740, { network: "Low", clockGhz: 1.8 }),
    t("t2.micro", 1, 1024, { network: "Low to Moderate", clockGhz: 2.3 }),
    t("t2.small", 1, 2048, { network: "Low to Moderate", clockGhz: 2.3 }),
    t("t3.micro", 2, 1024),
    t("t3.small", 2, 2048),
    t("t3.medium", 2, 4096),
    t("t3.large", 2, 8192),
    t("t3a.small", 2, 2048, { clockGhz: 2.2 }),
    t("t3a.medium", 2, 4096, { clockGhz: 2.2 }),
    t("t4g.small", 2, 2048, { cores: 2, threadsPerCore: 1 }),
    t("t4g.medium", 2, 4096, { cores: 2, threadsPerCore: 1 }),
    t("m5.large", 2, 8192, { clockGhz: 3.1 }),
    t("m5.xlarge", 4, 16384, { clockGhz: 3.1 }),
    t("m6i.large", 2, 8192, { clockGhz: 3.5, network: "Up to 12.5 Gigabit" }),
    t("c5.large", 2, 4096, { clockGhz: 3.4 }),
    t("c5.xlarge", 4, 8192, { clockGhz: 3.4 }),
    t("r5.large", 2, 16384, { clockGhz: 3.1 }),
  ].map((i) => [i.name, i]),
);

/** One `<item>` of DescribeInstanceTypes' `instanceTypeSet`, in the sample's element order. */
export function renderInstanceType(i: InstanceTypeInfo): string {
  const validThreads = i.threadsPerCore === 1 ? ["1"] : ["1", "2"];
  const legacy = /^(t2|m1)\./.test(i.name); // Xen generation: no ENA, no NVMe, not current
  return [
    leaf("instanceType", i.name),
    leaf("currentGeneration", !legacy),
    leaf("freeTierEligible", i.name === "t2.micro" || i.name === "t3.micro"),
    set("supportedUsageClasses", ["on-demand", "spot"]),
    set("supportedRootDeviceTypes", ["ebs"]),
    set("supportedVirtualizationTypes", ["hvm"]),
    leaf("bareMetal", false),
    leaf("hypervisor", legacy ? "xen" : "nitro"),
    node("processorInfo", set("supportedArchitectures", [i.arch]), leaf("sustainedClockSpeedInGhz", i.clockGhz)),
    node(
      "vCpuInfo",
      leaf("defaultVCpus", i.vcpus),
      leaf("defaultCores", i.cores),
      leaf("defaultThreadsPerCore", i.threadsPerCore),
      set("validCores", [String(i.cores)]),
      set("validThreadsPerCore", validThreads),
    ),
    node("memoryInfo", leaf("sizeInMiB", i.memoryMiB)),
    leaf("instanceStorageSupported", false),
    node("ebsInfo", leaf("ebsOptimizedSupport", legacy ? "unsupported" : "default"), leaf("encryptionSupport", "supported"), leaf("nvmeSupport", legacy ? "unsupported" : "required")),
    node(
      "networkInfo",
      leaf("networkPerformance", i.network),
      leaf("maximumNetworkInterfaces", 3),
      leaf("ipv4AddressesPerInterface", i.vcpus <= 1 ? 2 : 4),
      leaf("ipv6AddressesPerInterface", i.vcpus <= 1 ? 2 : 4),
      leaf("ipv6Supported", true),
      leaf("enaSupport", legacy ? "unsupported" : "required"),
    ),
    node("placementGroupInfo", set("supportedStrategies", i.burstable ? ["partition", "spread"] : ["cluster", "partition", "spread"])),
    leaf("hibernationSupported", true),
    leaf("burstablePerformanceSupported", i.burstable),
    leaf("dedicatedHostsSupported", !i.burstable),
    leaf("autoRecoverySupported", true),
  ].join("");
}

/** The one VPC and subnet the sim's network has; any subnet id a request names is placed in this VPC. */
export const NETWORK = {
  vpcId: "vpc-0a1b2c3d4e5f60718",
  vpcCidr: "10.0.0.0/16",
  cidrAssociationId: "vpc-cidr-assoc-0a1b2c3d4e5f60718",
  dhcpOptionsId: "dopt-0a1b2c3d4e5f60718",
  defaultSubnetId: "subnet-0123456789abcdef0",
  securityGroupId: "sg-0a1b2c3d4e5f60718",
  snapshotId: "snap-0123456789abcdef0",
} as const;

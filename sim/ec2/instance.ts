import type { SimTimer } from "../core/clock.js";

/** EC2 instance states and their codes (the low byte of `instanceState/code`). */
export const STATE_CODES = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
} as const;

/** The states the sim moves through: pending → running → shutting-down → terminated. */
export type InstanceStateName = "pending" | "running" | "shutting-down" | "terminated";

/** The root EBS volume every sim instance gets (8 GiB gp3, deleted with the instance). */
export interface RootVolume {
  volumeId: string;
  device: string;
  sizeGiB: number;
  type: string;
  iops: number;
  throughput: number;
  createTime: number;
  tags: Map<string, string>;
}

/** One emulated EC2 instance. Mutable state, owned by the Fleet. */
export interface Instance {
  instanceId: string;
  reservationId: string;
  ownerId: string;
  imageId: string;
  instanceType: string;
  state: InstanceStateName;
  /** `reason` (stateTransitionReason): empty while pending/running. */
  transitionReason: string;
  stateReason?: { code: string; message: string };
  launchTime: number;
  launchIndex: number;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  privateIp: string;
  privateDnsName: string;
  clientToken: string;
  /** Insertion order is kept: DescribeInstances echoes tags in the order they were set. */
  tags: Map<string, string>;
  /** Base64, exactly as RunInstances carried it ("" when none). */
  userData: string;
  disableApiTermination: boolean;
  disableApiStop: boolean;
  shutdownBehavior: "stop" | "terminate";
  ebsOptimized: boolean;
  monitoring: boolean;
  sourceDestCheck: boolean;
  /** Only for burstable types. */
  cpuCredits?: "standard" | "unlimited";
  rootVolume: RootVolume;
  /** Gone with the instance's termination (deleteOnTermination). */
  volumeDeleted: boolean;
  networkInterfaceId: string;
  attachmentId: string;
  macAddress: string;
  /** The world machine this instance booted (its Nomad client + Consul agent). */
  machineId?: string;
  /** Why no machine booted although the instance runs (e.g. its node name is taken). */
  bootError?: string;
  terminatedAt?: number;
  /** The pending state change (boot, shutdown, purge). */
  timer?: SimTimer;
}

/** A read-only copy of an instance for tests and the control API. */
export interface InstanceView {
  instanceId: string;
  reservationId: string;
  state: InstanceStateName;
  instanceType: string;
  imageId: string;
  subnetId: string;
  privateIp: string;
  privateDnsName: string;
  clientToken: string;
  tags: Record<string, string>;
  /** Decoded user data (UTF-8). */
  userData: string;
  launchTime: number;
  disableApiTermination: boolean;
  rootVolumeId: string;
  machineId?: string;
  bootError?: string;
  terminatedAt?: number;
}

export function viewOf(i: Instance): InstanceView {
  return {
    instanceId: i.instanceId,
    reservationId: i.reservationId,
    state: i.state,
    instanceType: i.instanceType,
    imageId: i.imageId,
    subnetId: i.subnetId,
    privateIp: i.privateIp,
    privateDnsName: i.privateDnsName,
    clientToken: i.clientToken,
    tags: Object.fromEntries(i.tags),
    userData: Buffer.from(i.userData, "base64").toString("utf8"),
    launchTime: i.launchTime,
    disableApiTermination: i.disableApiTermination,
    rootVolumeId: i.rootVolume.volumeId,
    ...(i.machineId !== undefined ? { machineId: i.machineId } : {}),
    ...(i.bootError !== undefined ? { bootError: i.bootError } : {}),
    ...(i.terminatedAt !== undefined ? { terminatedAt: i.terminatedAt } : {}),
  };
}

// What a user of sim's EC2 sees: idempotent launches, the instance lifecycle
// on the sim clock, machines booting into the world from tags, throttling,
// injected faults, tags and filters.
import test from "ava";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { seededRandom } from "../../sim/core/faults.js";
import { Ec2Server, type Ec2Options } from "../../sim/ec2/index.js";
import { child, parseXml, textAt, type XmlElement } from "../../sim/ec2/xml.js";
import { eventually } from "../helpers/eventually.js";

interface Env {
  ec2: Ec2Server;
  srv: SimServer;
  world: World;
  clock: Clock;
}

const envs: Env[] = [];
test.after.always(async () => {
  for (const e of envs) {
    e.ec2.close();
    await e.srv.close();
  }
});

/** Sim time runs 1000x: a 5 s boot takes 5 real ms. */
async function env(opts: Ec2Options = {}, scale = 1000): Promise<Env> {
  const clock = new Clock(scale);
  const world = new World(() => clock.now());
  const ec2 = new Ec2Server({ clock, world, random: seededRandom(envs.length + 7) }, opts);
  const srv = await serve({ name: "ec2", router: ec2.router });
  const e = { ec2, srv, world, clock };
  envs.push(e);
  return e;
}

interface Answer {
  status: number;
  xml: XmlElement;
}

async function call(e: Env, action: string, params: Record<string, string> = {}): Promise<Answer> {
  const version = action === "GetCallerIdentity" ? "2011-06-15" : "2016-11-15";
  const res = await fetch(`${e.srv.url}/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ Action: action, Version: version, ...params }).toString(),
  });
  return { status: res.status, xml: parseXml(await res.text()) };
}

const code = (a: Answer): string | undefined => textAt(a.xml, "Errors", "Error", "Code");
const items = (el: XmlElement | undefined): XmlElement[] => el?.children ?? [];

function runParams(tags: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  const p: Record<string, string> = {
    ImageId: "ami-0123456789abcdef0",
    InstanceType: "t3.small",
    MinCount: "1",
    MaxCount: "1",
    SubnetId: "subnet-0123456789abcdef0",
    UserData: Buffer.from("#!/bin/sh\necho hello\n").toString("base64"),
    "TagSpecification.1.ResourceType": "instance",
  };
  Object.entries(tags).forEach(([k, v], i) => {
    p[`TagSpecification.1.Tag.${i + 1}.Key`] = k;
    p[`TagSpecification.1.Tag.${i + 1}.Value`] = v;
  });
  return { ...p, ...extra };
}

async function run(e: Env, tags: Record<string, string> = { Name: "worker-a" }, extra: Record<string, string> = {}): Promise<string> {
  const a = await call(e, "RunInstances", runParams(tags, extra));
  if (a.status !== 200) throw new Error(`RunInstances: ${a.status} ${code(a)}`);
  return textAt(a.xml, "instancesSet", "item", "instanceId") ?? "";
}

test("retried_RunInstances_with_the_same_ClientToken_returns_the_same_instance", async (t) => {
  const e = await env();
  const first = await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok-1" }));
  const again = await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok-1" }));
  t.is(first.status, 200);
  t.is(again.status, 200);
  const id = textAt(first.xml, "instancesSet", "item", "instanceId");
  t.is(textAt(again.xml, "instancesSet", "item", "instanceId"), id);
  t.is(textAt(again.xml, "reservationId"), textAt(first.xml, "reservationId"));
  t.is(e.ec2.instances().length, 1, "a retry never launches a second instance");

  const other = await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok-2" }));
  t.not(textAt(other.xml, "instancesSet", "item", "instanceId"), id, "a new token is a new launch");

  const mismatch = await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok-1", InstanceType: "t3.medium" }));
  t.is(mismatch.status, 400);
  t.is(code(mismatch), "IdempotentParameterMismatch");
  t.is(e.ec2.instances().length, 2);
});

test("a_throttled_then_retried_launch_creates_one_instance", async (t) => {
  const e = await env({ throttle: { ratePerSec: 0, burst: 1, actions: ["DescribeVpcs", "RunInstances"] } });
  t.is((await call(e, "DescribeVpcs")).status, 200);
  const throttled = await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok" }));
  t.is(throttled.status, 503);
  t.is(code(throttled), "RequestLimitExceeded");
  t.is(e.ec2.instances().length, 0);
  e.ec2.setThrottle(null);
  t.is((await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok" }))).status, 200);
  t.is((await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok" }))).status, 200);
  t.is(e.ec2.instances().length, 1);
  t.deepEqual(
    e.ec2.calls("RunInstances").map((c) => [c.status, c.code ?? ""]),
    [[503, "RequestLimitExceeded"], [200, ""], [200, ""]],
  );
});

test("a_hung_launch_with_apply_loses_the_answer_not_the_instance", async (t) => {
  const e = await env();
  e.ec2.hangAction("RunInstances", 1, { apply: true });
  const hung = await fetch(`${e.srv.url}/`, {
    method: "POST",
    body: new URLSearchParams({ Action: "RunInstances", Version: "2016-11-15", ...runParams({ Name: "w" }, { ClientToken: "tok-h" }) }),
    // Long enough for the request to reach the server on a loaded machine; the answer never comes.
    signal: AbortSignal.timeout(1_500),
  }).then(
    () => "answered",
    (err: unknown) => (err as { name?: string }).name,
  );
  t.is(hung, "TimeoutError");
  await eventually(() => e.ec2.instances().length === 1, { timeoutMs: 5_000 });
  t.is(e.ec2.instances().length, 1, "the work was done");
  const retry = await call(e, "RunInstances", runParams({ Name: "w" }, { ClientToken: "tok-h" }));
  t.is(textAt(retry.xml, "instancesSet", "item", "instanceId"), e.ec2.instances()[0]?.instanceId, "the retry finds it by its token");
  t.is(e.ec2.instances().length, 1);
});

test("instance_lifecycle_follows_the_sim_clock_and_boots_then_removes_its_machine", async (t) => {
  // 1 sim s = 10 real ms: a 60 s boot is 600 real ms, long enough to see pending.
  const e = await env({ bootDelayMs: 60_000, terminateDelayMs: 60_000, terminatedVisibleMs: 600_000 }, 100);
  const id = await run(e, { Name: "worker-a", nomad_node_pool: "batch" });
  t.is(e.ec2.instance(id)?.state, "pending");
  t.is(e.world.list().length, 0, "no machine before the instance runs");
  await eventually(() => e.ec2.instance(id)?.state === "running", { timeoutMs: 3000 });
  const m = e.world.list()[0];
  t.truthy(m);
  t.is(m?.instanceId, id);
  t.is(m?.state, "up");
  t.true(e.clock.now() - (e.ec2.instance(id)?.launchTime ?? 0) >= 60_000, "running no sooner than bootDelayMs of sim time");

  // Real time while the instance shuts down, so a loaded machine cannot finish it between the two calls.
  e.clock.setScale(1);
  const term = await call(e, "TerminateInstances", { "InstanceId.1": id });
  t.is(textAt(term.xml, "instancesSet", "item", "currentState", "name"), "shutting-down");
  t.is(e.world.get(m?.id ?? "")?.state, "down", "the node goes down as the OS shuts down");
  const again = await call(e, "TerminateInstances", { "InstanceId.1": id });
  t.is(textAt(again.xml, "instancesSet", "item", "previousState", "name"), "shutting-down", "terminating twice is harmless");

  e.clock.setScale(100);
  await eventually(() => e.ec2.instance(id)?.state === "terminated", { timeoutMs: 3000 });
  t.is(e.world.get(m?.id ?? ""), undefined, "the machine is removed from the world");
  const d = await call(e, "DescribeInstances", { "InstanceId.1": id });
  t.is(textAt(d.xml, "reservationSet", "item", "instancesSet", "item", "instanceState", "name"), "terminated");
  const vol = await call(e, "DescribeVolumes", { "VolumeId.1": e.ec2.instance(id)?.rootVolumeId ?? "" });
  t.is(code(vol), "InvalidVolume.NotFound", "the root volume is deleted with the instance");

  e.clock.setScale(1e6);
  await eventually(async () => code(await call(e, "DescribeInstances", { "InstanceId.1": id })) === "InvalidInstanceID.NotFound");
  t.is(e.ec2.instances().length, 0, "terminated instances are purged after terminatedVisibleMs");
});

test("terminating_a_pending_instance_never_boots_a_machine", async (t) => {
  const e = await env({ bootDelayMs: 1e9, terminateDelayMs: 1000 });
  const id = await run(e);
  await call(e, "TerminateInstances", { "InstanceId.1": id });
  await eventually(() => e.ec2.instance(id)?.state === "terminated");
  t.is(e.world.list().length, 0);
});

test("booted_machine_takes_cluster_pool_class_and_meta_from_tags", async (t) => {
  const e = await env({ bootDelayMs: 1000 });
  const id = await run(e, {
    Name: "workers-b",
    nomad_cluster: "qa",
    nomad_datacenter: "dc2",
    nomad_node_pool: "gpu",
    nomad_node_class: "large",
    "nomad_meta:rack": "r2",
    "steward:pool": "workers",
    terraform_key: "b",
    owner: "team-x",
  });
  await eventually(() => e.world.list().length === 1);
  const m = e.world.list()[0];
  t.like(m, { name: "workers-b", cluster: "qa", datacenter: "dc2", nodePool: "gpu", nodeClass: "large", instanceId: id, state: "up" });
  t.deepEqual(m?.meta, { rack: "r2", steward_pool: "workers", terraform_key: "b" }, "other tags do not become meta");
  t.is(e.ec2.instance(id)?.machineId, m?.id);
});

test("machine_defaults_and_cluster_chooser", async (t) => {
  const e = await env({ bootDelayMs: 1000 });
  await run(e, {});
  await eventually(() => e.world.list().length === 1);
  t.like(e.world.list()[0], { cluster: "prod", nodePool: "default", nodeClass: "", datacenter: "dc1" });
  t.regex(e.world.list()[0]?.name ?? "", /^ip-10-0-\d+-\d+\.ec2\.internal$/, "no Name tag: the host name");

  const custom = await env({ bootDelayMs: 1000, clusterForInstance: (tags) => `env-${tags.env ?? "none"}` });
  await run(custom, { env: "staging" });
  await eventually(() => custom.world.list().length === 1);
  t.is(custom.world.list()[0]?.cluster, "env-staging", "the chooser picks the cluster from the tags");
});

test("a_taken_node_name_falls_back_to_the_host_name", async (t) => {
  const e = await env({ bootDelayMs: 1000 });
  e.world.addMachine({ cluster: "prod", name: "worker-a" });
  const id = await run(e, { Name: "worker-a" });
  await eventually(() => e.ec2.instance(id)?.machineId !== undefined);
  t.is(e.world.get(e.ec2.instance(id)?.machineId ?? "")?.name, e.ec2.instance(id)?.privateDnsName);
});

test("killInstanceUnderNode_terminates_behind_terraforms_back", async (t) => {
  const e = await env({ bootDelayMs: 1000 });
  const a = await run(e, { Name: "a" });
  const b = await run(e, { Name: "b" });
  await eventually(() => e.world.list().length === 2);
  const killed = e.ec2.killInstanceUnderNode(a);
  t.is(killed.state, "terminated");
  t.deepEqual(
    e.world.list().map((m) => m.name),
    ["b"],
  );
  const d = await call(e, "DescribeInstances", { "InstanceId.1": a });
  t.is(textAt(d.xml, "reservationSet", "item", "instancesSet", "item", "instanceState", "name"), "terminated");

  e.ec2.killInstanceUnderNode(b, { vanish: true });
  t.is(code(await call(e, "DescribeInstances", { "InstanceId.1": b })), "InvalidInstanceID.NotFound");
  t.is(e.world.list().length, 0);
  t.throws(() => e.ec2.killInstanceUnderNode("i-00000000000000000"), { message: /no instance/ });
});

test("throttle_bucket_refills_at_its_rate_and_spares_sts", async (t) => {
  // The bucket starts full (3) and earns one token every 2 s: a 4th call can only pass 2 s after it was made.
  const before = Date.now();
  const e = await env({ throttle: { ratePerSec: 0.5, burst: 3 } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await call(e, "DescribeVpcs")).status);
  t.deepEqual(statuses.slice(0, 3), [200, 200, 200], "the burst passes");
  t.is(statuses[3], 503, "four calls on loopback take far less than the 2 s a token needs");
  t.is((await call(e, "GetCallerIdentity")).status, 200, "STS is another service with its own limits");
  await eventually(async () => (await call(e, "DescribeVpcs")).status === 200, { timeoutMs: 8_000, intervalMs: 100 });
  t.true(Date.now() - before >= 2_000, "a token comes back at the bucket's rate, not at once");
});

test("injected_errors_fire_in_order_then_stop", async (t) => {
  const e = await env();
  e.ec2.failNextRunInstances("InsufficientInstanceCapacity", 2);
  e.ec2.failNext("RunInstances", { code: "Unsupported", status: 400, message: "The requested configuration is currently not supported." });
  const codes = [];
  for (let i = 0; i < 4; i++) {
    const a = await call(e, "RunInstances", runParams({ Name: `w${i}` }, { "Placement.AvailabilityZone": "us-east-1c" }));
    codes.push([a.status, code(a) ?? "ok"]);
    if (i === 0) t.regex(textAt(a.xml, "Errors", "Error", "Message") ?? "", /sufficient t3\.small capacity .*\(us-east-1c\)/);
  }
  t.deepEqual(codes, [
    [500, "InsufficientInstanceCapacity"],
    [500, "InsufficientInstanceCapacity"],
    [400, "Unsupported"],
    [200, "ok"],
  ]);
  e.ec2.failNext("DescribeInstances", "InternalError");
  e.ec2.clearFaults();
  t.is((await call(e, "DescribeInstances")).status, 200);
});

test("disable_api_termination_blocks_terminate_until_modified", async (t) => {
  const e = await env({ bootDelayMs: 1000 });
  const id = await run(e, { Name: "w" }, { DisableApiTermination: "true" });
  const attr = await call(e, "DescribeInstanceAttribute", { InstanceId: id, Attribute: "disableApiTermination" });
  t.is(textAt(attr.xml, "disableApiTermination", "value"), "true");
  const refused = await call(e, "TerminateInstances", { "InstanceId.1": id });
  t.is(refused.status, 400);
  t.is(code(refused), "OperationNotPermitted");
  t.is((await call(e, "ModifyInstanceAttribute", { InstanceId: id, "DisableApiTermination.Value": "false" })).status, 200);
  t.is((await call(e, "TerminateInstances", { "InstanceId.1": id })).status, 200);
  const typeChange = await call(e, "ModifyInstanceAttribute", { InstanceId: id, "InstanceType.Value": "t3.large" });
  t.is(code(typeChange), "IncorrectInstanceState", "the type changes only on a stopped instance");
});

test("describe_instance_attribute_answers_every_provider_attribute_and_refuses_unknown_ones", async (t) => {
  const e = await env();
  const id = await run(e);
  for (const [attr, want] of [
    ["instanceInitiatedShutdownBehavior", "stop"],
    ["disableApiStop", "false"],
    ["disableApiTermination", "false"],
    ["userData", Buffer.from("#!/bin/sh\necho hello\n").toString("base64")],
    ["instanceType", "t3.small"],
    ["sourceDestCheck", "true"],
    ["rootDeviceName", "/dev/xvda"],
  ]) {
    const a = await call(e, "DescribeInstanceAttribute", { InstanceId: id, Attribute: attr ?? "" });
    t.is(textAt(a.xml, attr ?? "", "value"), want, attr);
  }
  const bad = await call(e, "DescribeInstanceAttribute", { InstanceId: id, Attribute: "colour" });
  t.is(code(bad), "InvalidParameterValue");
  const missing = await call(e, "DescribeInstanceAttribute", { InstanceId: "i-0123456789abcdef0", Attribute: "userData" });
  t.is(code(missing), "InvalidInstanceID.NotFound");
});

test("tags_can_be_created_deleted_and_described_with_filters", async (t) => {
  const e = await env();
  const id = await run(e, { Name: "w", team: "a" });
  t.is((await call(e, "CreateTags", { "ResourceId.1": id, "Tag.1.Key": "team", "Tag.1.Value": "b", "Tag.2.Key": "env", "Tag.2.Value": "qa" })).status, 200);
  t.deepEqual(e.ec2.instance(id)?.tags, { Name: "w", team: "b", env: "qa" });
  const wrongValue = await call(e, "DeleteTags", { "ResourceId.1": id, "Tag.1.Key": "env", "Tag.1.Value": "prod" });
  t.is(wrongValue.status, 200);
  t.is(e.ec2.instance(id)?.tags.env, "qa", "a value that does not match deletes nothing");
  await call(e, "DeleteTags", { "ResourceId.1": id, "Tag.1.Key": "env" });
  t.false("env" in (e.ec2.instance(id)?.tags ?? {}));

  const d = await call(e, "DescribeTags", { "Filter.1.Name": "resource-id", "Filter.1.Value.1": id, "Filter.2.Name": "key", "Filter.2.Value.1": "te*" });
  t.deepEqual(
    items(child(d.xml, "tagSet")).map((i) => [textAt(i, "resourceType"), textAt(i, "key"), textAt(i, "value")]),
    [["instance", "team", "b"]],
  );
  t.is(code(await call(e, "CreateTags", { "ResourceId.1": id, "Tag.1.Key": "aws:secret", "Tag.1.Value": "x" })), "InvalidParameterValue");
  t.is(code(await call(e, "CreateTags", { "ResourceId.1": "i-0000000000000000f", "Tag.1.Key": "k" })), "InvalidInstanceID.NotFound");
  t.is(code(await call(e, "DescribeTags", { "Filter.1.Name": "colour", "Filter.1.Value.1": "x" })), "InvalidParameterValue");
});

test("describe_instances_filters_and_id_errors", async (t) => {
  const e = await env({ bootDelayMs: 1000 });
  const a = await run(e, { Name: "a", "steward:pool": "workers" });
  const b = await run(e, { Name: "b", "steward:pool": "edge" });
  await eventually(() => e.ec2.instances().every((i) => i.state === "running"));
  await call(e, "TerminateInstances", { "InstanceId.1": b });
  const ids = (x: Answer): string[] =>
    items(child(x.xml, "reservationSet")).flatMap((r) => items(child(r, "instancesSet")).map((i) => textAt(i, "instanceId") ?? ""));

  t.deepEqual(ids(await call(e, "DescribeInstances")), [a, b]);
  t.deepEqual(ids(await call(e, "DescribeInstances", { "Filter.1.Name": "tag:steward:pool", "Filter.1.Value.1": "workers" })), [a]);
  t.deepEqual(
    ids(await call(e, "DescribeInstances", { "Filter.1.Name": "instance-state-name", "Filter.1.Value.1": "pending", "Filter.1.Value.2": "running" })),
    [a],
  );
  t.deepEqual(ids(await call(e, "DescribeInstances", { "Filter.1.Name": "tag:Name", "Filter.1.Value.1": "?" })), [a, b], "wildcards");
  t.is(code(await call(e, "DescribeInstances", { "Filter.1.Name": "colour", "Filter.1.Value.1": "x" })), "InvalidParameterValue");
  t.is(code(await call(e, "DescribeInstances", { "InstanceId.1": "web-1" })), "InvalidInstanceID.Malformed");
  const two = await call(e, "DescribeInstances", { "InstanceId.1": "i-0000000000000000a", "InstanceId.2": "i-0000000000000000b" });
  t.is(textAt(two.xml, "Errors", "Error", "Message"), "The instance IDs 'i-0000000000000000a, i-0000000000000000b' do not exist");

  const page = await call(e, "DescribeInstances", { MaxResults: "5" });
  t.deepEqual(ids(page), [a, b]);
  t.is(code(await call(e, "DescribeInstances", { MaxResults: "5", "InstanceId.1": a })), "InvalidParameterCombination");
});

test("run_instances_validates_its_request", async (t) => {
  const e = await env();
  t.is(code(await call(e, "RunInstances", runParams({}, { ImageId: "web" }))), "InvalidAMIID.Malformed");
  t.is(code(await call(e, "RunInstances", runParams({}, { InstanceType: "t9.huge" }))), "InvalidParameterValue");
  t.is(code(await call(e, "RunInstances", runParams({}, { UserData: "not base64!" }))), "InvalidParameterValue");
  t.is(code(await call(e, "RunInstances", runParams({}, { MinCount: "3", MaxCount: "2" }))), "InvalidParameterValue");
  const three = await call(e, "RunInstances", runParams({}, { MinCount: "1", MaxCount: "3" }));
  t.is(items(child(three.xml, "instancesSet")).length, 3);
  t.deepEqual(
    items(child(three.xml, "instancesSet")).map((i) => textAt(i, "amiLaunchIndex")),
    ["0", "1", "2"],
  );
  t.is(e.ec2.instances().length, 3);
});

test("unknown_and_missing_actions_and_the_sts_error_format", async (t) => {
  const e = await env();
  const unknown = await call(e, "DescribeUnicorns");
  t.is(unknown.status, 400);
  t.is(code(unknown), "InvalidAction");
  const none = await fetch(`${e.srv.url}/`, { method: "POST", body: "Version=2016-11-15" });
  t.is(none.status, 400);
  t.is(textAt(parseXml(await none.text()), "Errors", "Error", "Code"), "MissingAction");
  const sts = await fetch(`${e.srv.url}/`, { method: "POST", body: "Action=AssumeRole&Version=2011-06-15" });
  const x = parseXml(await sts.text());
  t.is(x.name, "ErrorResponse");
  t.is(textAt(x, "Error", "Code"), "InvalidAction");
  t.is(textAt(x, "Error", "Type"), "Sender");
  const get = await fetch(`${e.srv.url}/?Action=DescribeVpcs&Version=2016-11-15`);
  t.is(get.status, 200, "the Query API also accepts GET");
  t.like(e.ec2.callCounts(), { DescribeUnicorns: 1, "": 1, AssumeRole: 1, DescribeVpcs: 1 });
});

test("credit_specifications_follow_the_launch_request_and_the_type", async (t) => {
  const e = await env();
  const unlimited = await run(e, { Name: "a" }, { "CreditSpecification.CpuCredits": "unlimited" });
  const standard = await run(e, { Name: "b" }, { "CreditSpecification.CpuCredits": "standard" });
  const big = await run(e, { Name: "c" }, { InstanceType: "m5.large" });
  const d = await call(e, "DescribeInstanceCreditSpecifications");
  t.deepEqual(
    items(child(d.xml, "instanceCreditSpecificationSet")).map((i) => [textAt(i, "instanceId"), textAt(i, "cpuCredits")]),
    [
      [unlimited, "unlimited"],
      [standard, "standard"],
    ],
  );
  t.is(code(await call(e, "DescribeInstanceCreditSpecifications", { "InstanceId.1": big })), "InvalidParameterValue");
  const types = await call(e, "DescribeInstanceTypes", { "InstanceType.1": "m5.large", "InstanceType.2": "t3.small" });
  t.deepEqual(
    items(child(types.xml, "instanceTypeSet")).map((i) => [textAt(i, "instanceType"), textAt(i, "burstablePerformanceSupported")]),
    [
      ["m5.large", "false"],
      ["t3.small", "true"],
    ],
  );
  t.is(code(await call(e, "DescribeInstanceTypes", { "InstanceType.1": "t9.huge" })), "InvalidInstanceType");
});

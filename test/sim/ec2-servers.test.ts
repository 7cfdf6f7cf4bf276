// Server instances in sim's EC2: a fixed private IP (aws_instance
// `private_ip`, how terraform/modules/server keeps addresses stable) and the
// `steward:role=server` tag that boots a Nomad/Consul server machine.
import test from "ava";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { serve } from "../../sim/core/http.js";
import { seededRandom } from "../../sim/core/faults.js";
import { Ec2Server } from "../../sim/ec2/index.js";
import { parseXml, textAt } from "../../sim/ec2/xml.js";
import { eventually } from "../helpers/eventually.js";

async function env(t: { teardown(fn: () => Promise<void> | void): void }, terminateDelayMs = 5_000) {
  // 1000x: a 5 s boot or shutdown is 5 real ms.
  const clock = new Clock(1000);
  const world = new World(() => clock.now());
  const ec2 = new Ec2Server({ clock, world, random: seededRandom(11) }, { terminateDelayMs });
  const srv = await serve({ name: "ec2", router: ec2.router });
  t.teardown(async () => {
    ec2.close();
    await srv.close();
  });
  const call = async (action: string, params: Record<string, string>) => {
    const res = await fetch(`${srv.url}/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ Action: action, Version: "2016-11-15", ...params }).toString(),
    });
    const xml = parseXml(await res.text());
    return { status: res.status, code: textAt(xml, "Errors", "Error", "Code"), message: textAt(xml, "Errors", "Error", "Message"), xml };
  };
  const run = (extra: Record<string, string>, name = "servers-a") =>
    call("RunInstances", {
      ImageId: "ami-0123456789abcdef0",
      InstanceType: "t3.small",
      MinCount: "1",
      MaxCount: "1",
      SubnetId: "subnet-0123456789abcdef0",
      "TagSpecification.1.ResourceType": "instance",
      "TagSpecification.1.Tag.1.Key": "Name",
      "TagSpecification.1.Tag.1.Value": name,
      "TagSpecification.1.Tag.2.Key": "steward:role",
      "TagSpecification.1.Tag.2.Value": "server",
      ...extra,
    });
  return { ec2, world, call, run };
}

test("a_fixed_private_ip_is_the_instances_and_its_machines_address", async (t) => {
  const e = await env(t);
  const r = await e.run({ PrivateIpAddress: "10.0.1.50" });
  t.is(r.status, 200);
  const id = textAt(r.xml, "instancesSet", "item", "instanceId") ?? "";
  t.is(textAt(r.xml, "instancesSet", "item", "privateIpAddress"), "10.0.1.50");
  const m = await eventually(() => e.world.get("servers-a"));
  t.like(m, { address: "10.0.1.50", role: "server", instanceId: id });
});

test("an_address_held_by_a_live_instance_is_in_use_until_it_is_terminated", async (t) => {
  // Shutting down takes 2 real s here: long enough to ask while it lasts.
  const e = await env(t, 2_000_000);
  const first = await e.run({ PrivateIpAddress: "10.0.1.50" });
  const id = textAt(first.xml, "instancesSet", "item", "instanceId") ?? "";
  const again = await e.run({ PrivateIpAddress: "10.0.1.50" }, "servers-b");
  t.like(again, { status: 400, code: "InvalidIPAddress.InUse", message: "Address 10.0.1.50 is in use." });
  await e.call("TerminateInstances", { "InstanceId.1": id });
  t.is((await e.run({ PrivateIpAddress: "10.0.1.50" }, "servers-b")).code, "InvalidIPAddress.InUse", "shutting-down still holds it");
  await eventually(() => e.ec2.instance(id)?.state === "terminated", { timeoutMs: 10_000 });
  t.is((await e.run({ PrivateIpAddress: "10.0.1.50" }, "servers-b")).status, 200, "a replacement takes the address over");
});

const bad: [string, Record<string, string>, string][] = [
  ["outside_the_vpc", { PrivateIpAddress: "192.168.1.5" }, "InvalidParameterValue"],
  ["reserved_by_aws", { PrivateIpAddress: "10.0.1.2" }, "InvalidParameterValue"],
  ["not_an_address", { PrivateIpAddress: "10.0.1" }, "InvalidParameterValue"],
  ["more_than_one_instance", { PrivateIpAddress: "10.0.1.60", MaxCount: "2" }, "InvalidParameterCombination"],
];
for (const [name, params, want] of bad) {
  test(`private_ip_${name}_is_refused`, async (t) => {
    const e = await env(t);
    const r = await e.run(params);
    t.like(r, { status: 400, code: want });
    t.deepEqual(e.ec2.instances(), []);
  });
}

test("handed_out_addresses_skip_a_fixed_one", async (t) => {
  const e = await env(t);
  await e.run({ PrivateIpAddress: "10.0.1.10" });
  const r = await e.call("RunInstances", { ImageId: "ami-0123456789abcdef0", MinCount: "1", MaxCount: "1" });
  t.is(textAt(r.xml, "instancesSet", "item", "privateIpAddress"), "10.0.1.11");
});

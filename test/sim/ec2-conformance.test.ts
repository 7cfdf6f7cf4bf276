// Replays every EC2/STS action sample of ../shared/api-reference/ec2/ against
// sim's Ec2Server and compares status, header names and the XML structure
// (element names and nesting; values only where they are fixed tokens).
import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Clock } from "../../sim/core/clock.js";
import { World } from "../../sim/core/world.js";
import { serve, type SimServer } from "../../sim/core/http.js";
import { seededRandom } from "../../sim/core/faults.js";
import { Ec2Server, type Ec2Options } from "../../sim/ec2/index.js";
import { parseXml, textAt, type XmlElement } from "../../sim/ec2/xml.js";
import { API_REFERENCE, listSamples, sameShape, type Json } from "../helpers/samples.js";
import { eventually } from "../helpers/eventually.js";

interface Ec2Sample {
  action: string;
  request_params: Record<string, string>;
  status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

function load(name: string): Ec2Sample {
  return JSON.parse(readFileSync(path.join(API_REFERENCE, "ec2", `${name}.json`), "utf8")) as Ec2Sample;
}

/** XML as JSON for sameShape: a list of `<item>`s is an array, an empty element is null (matches anything). */
function toJson(el: XmlElement): Json {
  if (el.children.length === 0) return el.text === "" ? null : el.text;
  if (el.children.every((c) => c.name === "item")) return el.children.map(toJson);
  const o: { [k: string]: Json } = {};
  for (const c of el.children) o[c.name] = toJson(c);
  return o;
}

interface Env {
  ec2: Ec2Server;
  srv: SimServer;
  world: World;
}

const envs: Env[] = [];
test.after.always(async () => {
  for (const e of envs) {
    e.ec2.close();
    await e.srv.close();
  }
});

async function env(opts: Ec2Options = {}): Promise<Env> {
  const clock = new Clock(1000);
  const world = new World(() => clock.now());
  const ec2 = new Ec2Server({ clock, world, random: seededRandom(envs.length + 1) }, { bootDelayMs: 5_000, terminateDelayMs: 5_000, ...opts });
  const srv = await serve({ name: "ec2", router: ec2.router });
  const e = { ec2, srv, world };
  envs.push(e);
  return e;
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

async function call(e: Env, params: Record<string, string>, signal?: AbortSignal): Promise<Answer> {
  const res = await fetch(`${e.srv.url}/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "amz-sdk-request": "attempt=1; max=3" },
    body: new URLSearchParams(params).toString(),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Launches one instance with the run-instances sample's request (a fresh ClientToken) and waits for the state wanted. */
async function launch(e: Env, state: "pending" | "running" = "running"): Promise<string> {
  const params = { ...load("run-instances").request_params, ClientToken: `conformance-${Math.random()}` };
  const a = await call(e, params);
  if (a.status !== 200) throw new Error(`RunInstances answered ${a.status}: ${a.body}`);
  const id = textAt(parseXml(a.body), "instancesSet", "item", "instanceId");
  if (!id) throw new Error("RunInstances answered no instanceId");
  if (state === "running") await eventually(() => e.ec2.instance(id)?.state === "running");
  return id;
}

/** How a replay departs from the sample's request: ids swapped for sim's, parameters set or dropped. */
interface Change {
  replace?: Record<string, string>;
  set?: Record<string, string>;
  drop?: string[];
}

/**
 * Sends the sample's request (with `replace` applied to its parameter
 * values) and checks status, header names, root element and namespace, and
 * the shape of the body. Returns the parsed answer for value checks.
 */
async function replay(t: ExecutionContext, e: Env, name: string, change: Change = {}): Promise<XmlElement> {
  const s = load(name);
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...s.request_params, ...change.set })) {
    if (change.drop?.includes(k)) continue;
    params[k] = Object.entries(change.replace ?? {}).reduce((acc, [from, to]) => acc.split(from).join(to), v);
  }
  const a = await call(e, params);
  t.is(a.status, s.status ?? -1, `${name}: status (body ${a.body.slice(0, 300)})`);
  for (const [h, v] of Object.entries(s.response_headers ?? {})) {
    t.true(a.headers.has(h), `${name}: header ${h} missing`);
    if (!v.startsWith("<")) t.is(a.headers.get(h), v, `${name}: header ${h}`);
  }
  const want = parseXml(s.response_body ?? "");
  const got = parseXml(a.body);
  t.is(got.name, want.name, `${name}: root element`);
  t.is(got.attrs.xmlns, want.attrs.xmlns, `${name}: namespace`);
  t.deepEqual(sameShape(toJson(want), toJson(got)), [], `${name}: body shape`);
  const requestId = textAt(got, "requestId") ?? textAt(got, "RequestID") ?? textAt(got, "ResponseMetadata", "RequestId");
  t.is(a.headers.get("x-amzn-RequestId"), requestId ?? "", `${name}: the header and the body name the same request id`);
  return got;
}

const errorCode = (x: XmlElement): string | undefined => textAt(x, "Errors", "Error", "Code");
const errorMessage = (x: XmlElement): string | undefined => textAt(x, "Errors", "Error", "Message");
const stateOf = (x: XmlElement): string | undefined =>
  textAt(x, "reservationSet", "item", "instancesSet", "item", "instanceState", "name");

// Each covered sample, by file name. The last test checks that this list and the folder agree.
const COVERED = new Set<string>();
const cover = (name: string, fn: (t: ExecutionContext) => Promise<void>): void => {
  COVERED.add(name);
  test(name, fn);
};

cover("run-instances", async (t) => {
  const e = await env();
  const x = await replay(t, e, "run-instances");
  t.is(textAt(x, "instancesSet", "item", "instanceState", "name"), "pending");
  t.is(textAt(x, "instancesSet", "item", "clientToken"), load("run-instances").request_params.ClientToken);
  t.is(x.children.find((c) => c.name === "instancesSet")?.children.length, 1, "MinCount=MaxCount=1");
});

for (const name of ["describe-instances", "describe-instances-running-after-wait"]) {
  cover(name, async (t) => {
    const e = await env();
    const id = await launch(e);
    const x = await replay(t, e, name, { replace: { [load(name).request_params["InstanceId.1"] ?? ""]: id } });
    t.is(stateOf(x), "running");
    t.is(textAt(x, "reservationSet", "item", "instancesSet", "item", "instanceState", "code"), "16");
    t.is(textAt(x, "reservationSet", "item", "instancesSet", "item", "sourceDestCheck"), "true");
  });
}

cover("describe-instances-pending", async (t) => {
  const e = await env({ bootDelayMs: 1e12 });
  const id = await launch(e, "pending");
  const x = await replay(t, e, "describe-instances-pending", { replace: { "i-98cca8a3aaa1764f6": id } });
  t.is(stateOf(x), "pending");
});

cover("describe-instances-shutting-down", async (t) => {
  const e = await env({ terminateDelayMs: 1e12 });
  const id = await launch(e);
  t.is((await call(e, { Action: "TerminateInstances", Version: "2016-11-15", "InstanceId.1": id })).status, 200);
  const x = await replay(t, e, "describe-instances-shutting-down", { replace: { "i-ae810d7ce5e2d48b9": id } });
  t.is(stateOf(x), "shutting-down");
  t.is(textAt(x, "reservationSet", "item", "instancesSet", "item", "instanceState", "code"), "32");
});

cover("describe-instances-terminated-after-delete", async (t) => {
  const e = await env();
  const id = await launch(e);
  t.is((await call(e, { Action: "TerminateInstances", Version: "2016-11-15", "InstanceId.1": id })).status, 200);
  await eventually(() => e.ec2.instance(id)?.state === "terminated");
  const x = await replay(t, e, "describe-instances-terminated-after-delete", { replace: { "i-ae810d7ce5e2d48b9": id } });
  t.is(stateOf(x), "terminated");
  t.is(textAt(x, "reservationSet", "item", "instancesSet", "item", "instanceState", "code"), "48");
});

cover("describe-instances-terminated", async (t) => {
  const e = await env();
  const id = await launch(e);
  e.ec2.killInstanceUnderNode(id);
  const x = await replay(t, e, "describe-instances-terminated", { replace: { "i-e860315924d085dcb": id } });
  t.is(stateOf(x), "terminated");
});

cover("describe-instances-not-found", async (t) => {
  const e = await env();
  const x = await replay(t, e, "describe-instances-not-found");
  t.is(errorCode(x), "InvalidInstanceID.NotFound");
  t.is(errorMessage(x), "The instance ID 'i-36a08db788b325f84' does not exist");
});

cover("describe-instances-empty", async (t) => {
  // Real EC2 answers NotFound for an unknown InstanceId.N (and so does sim);
  // the empty reservationSet is what a filter that matches nothing gives.
  const e = await env();
  await launch(e);
  const x = await replay(t, e, "describe-instances-empty", {
    set: { "Filter.1.Name": "instance-id", "Filter.1.Value.1": "i-36a08db788b325f84" },
    drop: ["InstanceId.1"],
  });
  t.is(x.children.find((c) => c.name === "reservationSet")?.children.length, 0);
});

for (const [name, value] of [
  ["describe-instance-attribute-disable-api-stop", "false"],
  ["describe-instance-attribute-disable-api-termination", "false"],
  ["describe-instance-attribute-instance-initiated-shutdown-behavior", "stop"],
  ["describe-instance-attribute-user-data", load("run-instances").request_params.UserData ?? ""],
] as const) {
  cover(name, async (t) => {
    const e = await env();
    const id = await launch(e);
    const s = load(name);
    const x = await replay(t, e, name, { replace: { [s.request_params.InstanceId ?? ""]: id } });
    t.is(textAt(x, "instanceId"), id);
    t.is(textAt(x, s.request_params.Attribute ?? "", "value"), value);
  });
}

cover("describe-instance-credit-specifications", async (t) => {
  const e = await env();
  const id = await launch(e);
  const x = await replay(t, e, "describe-instance-credit-specifications", { replace: { "i-1e550d314ca34a81f": id } });
  t.is(textAt(x, "instanceCreditSpecificationSet", "item", "cpuCredits"), "unlimited", "the sample's RunInstances asked for unlimited");
});

cover("describe-instance-types", async (t) => {
  const e = await env();
  const x = await replay(t, e, "describe-instance-types");
  t.is(textAt(x, "instanceTypeSet", "item", "burstablePerformanceSupported"), "true");
  t.is(textAt(x, "instanceTypeSet", "item", "vCpuInfo", "defaultVCpus"), "2");
});

cover("describe-tags-launch-template", async (t) => {
  const e = await env();
  const id = await launch(e);
  const x = await replay(t, e, "describe-tags-launch-template", { replace: { "i-1e550d314ca34a81f": id } });
  t.is(x.children.find((c) => c.name === "tagSet")?.children.length, 0, "no launch template, no tag");
});

cover("describe-volumes", async (t) => {
  const e = await env();
  const id = await launch(e);
  const vol = e.ec2.instance(id)?.rootVolumeId ?? "";
  const x = await replay(t, e, "describe-volumes", { replace: { "vol-d08fb8794248a4ac8": vol } });
  t.is(textAt(x, "volumeSet", "item", "attachmentSet", "item", "instanceId"), id);
});

cover("describe-vpcs", async (t) => {
  const e = await env();
  const x = await replay(t, e, "describe-vpcs");
  t.is(textAt(x, "vpcSet", "item", "state"), "available");
});

cover("terminate-instances", async (t) => {
  const e = await env();
  const id = await launch(e);
  const x = await replay(t, e, "terminate-instances", { replace: { "i-ae810d7ce5e2d48b9": id } });
  t.is(textAt(x, "instancesSet", "item", "currentState", "name"), "shutting-down");
  t.is(textAt(x, "instancesSet", "item", "previousState", "name"), "running");
});

cover("modify-instance-attribute-disable-api-termination", async (t) => {
  const e = await env();
  const id = await launch(e);
  const x = await replay(t, e, "modify-instance-attribute-disable-api-termination", { replace: { "i-ae810d7ce5e2d48b9": id } });
  t.is(textAt(x, "return"), "true");
});

cover("sts-get-caller-identity", async (t) => {
  const e = await env({ accountId: "210987654321" });
  const x = await replay(t, e, "sts-get-caller-identity");
  t.is(textAt(x, "GetCallerIdentityResult", "Account"), "210987654321");
  t.regex(textAt(x, "GetCallerIdentityResult", "Arn") ?? "", /^arn:aws:iam::210987654321:/);
});

cover("error-request-limit-exceeded", async (t) => {
  const e = await env({ throttle: { ratePerSec: 0, burst: 1 } });
  t.is((await call(e, { Action: "DescribeVpcs", Version: "2016-11-15" })).status, 200, "the burst lets one call through");
  const x = await replay(t, e, "error-request-limit-exceeded");
  t.is(errorCode(x), "RequestLimitExceeded");
  t.is(errorMessage(x), "Request limit exceeded.");
  t.is(e.ec2.instances().length, 0, "a throttled RunInstances launches nothing");
});

cover("error-throttling", async (t) => {
  const e = await env();
  e.ec2.failNext("DescribeInstances", "Throttling");
  const x = await replay(t, e, "error-throttling");
  t.is(errorCode(x), "Throttling");
  t.is(errorMessage(x), "Rate exceeded");
});

for (const [name, code] of [
  ["error-internal-error", "InternalError"],
  ["error-insufficient-instance-capacity", "InsufficientInstanceCapacity"],
  ["error-unauthorized-operation", "UnauthorizedOperation"],
] as const) {
  cover(name, async (t) => {
    const e = await env();
    e.ec2.failNextRunInstances(code);
    const x = await replay(t, e, name);
    t.is(errorCode(x), code);
    t.is(errorMessage(x), errorMessage(parseXml(load(name).response_body ?? "")));
    t.is(e.ec2.instances().length, 0);
  });
}

cover("error-invalid-action", async (t) => {
  // sim implements the sample's ModifyInstanceAttribute; an action it does not implement gets the same answer.
  const e = await env();
  const x = await replay(t, e, "error-invalid-action", { set: { Action: "ModifyInstanceMetadataOptions" } });
  t.is(errorCode(x), "InvalidAction");
  t.is(errorMessage(x), "The action ModifyInstanceMetadataOptions is not valid for this web service.");
});

cover("error-hang", async (t) => {
  const e = await env();
  e.ec2.hangAction("RunInstances", 1);
  const s = load("error-hang");
  const outcome = await call(e, s.request_params, AbortSignal.timeout(300)).then(
    (a) => `answered ${a.status}`,
    (err: unknown) => (err as { name?: string }).name,
  );
  t.is(outcome, "TimeoutError", "no answer at all, not an error status");
  t.is(e.ec2.instances().length, 0, "a hung call without apply launches nothing");
  t.is((await call(e, s.request_params)).status, 200, "the next call is answered");
  t.is(e.ec2.callCounts().RunInstances, 2);
});

test("every_ec2_action_sample_is_replayed", (t) => {
  // observed-terraform-*.json are whole Terraform streams, checked by ec2-terraform.test.ts.
  const samples = listSamples("ec2").filter((n) => !n.startsWith("observed-terraform-"));
  t.deepEqual(samples.filter((n) => !COVERED.has(n)), []);
});

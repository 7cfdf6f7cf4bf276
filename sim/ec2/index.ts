import { randomUUID } from "node:crypto";
import type { SimContext } from "../core/context.js";
import { Router, type SimReply, type SimRequest } from "../core/http.js";
import { EC2_ACTIONS, type ActionContext } from "./actions.js";
import { Ec2Error, injectedError, type InjectableErrorCode } from "./errors.js";
import { Fleet, TAGS } from "./fleet.js";
import { viewOf, type InstanceView } from "./instance.js";
import { QueryParams } from "./query.js";
import { TokenBucket, type ThrottleBucket } from "./throttle.js";
import { ec2ErrorBody, ec2Response, esc, STS_NS, stsErrorBody } from "./xml.js";

export type { InstanceView } from "./instance.js";
export type { ThrottleBucket } from "./throttle.js";
export type { InjectableErrorCode } from "./errors.js";
export { TAGS as EC2_TAGS } from "./fleet.js";

export interface Ec2Options {
  /** @default "us-east-1" */
  region?: string;
  /** Twelve digits; the owner of every instance and STS's Account. @default "123456789012" */
  accountId?: string;
  /** Sim ms from RunInstances to `running` (when the machine boots). @default 5000 */
  bootDelayMs?: number;
  /** Sim ms from TerminateInstances (`shutting-down`) to `terminated`. @default 5000 */
  terminateDelayMs?: number;
  /** Sim ms a terminated instance stays visible before lookups answer NotFound (EC2: about an hour). @default 3600000 */
  terminatedVisibleMs?: number;
  /** Which Nomad cluster a booted instance's client joins. @default the `nomad_cluster` tag, else "prod" */
  clusterForInstance?: (tags: Record<string, string>) => string;
  /** A request-rate limit from the start; see setThrottle. */
  throttle?: ThrottleBucket;
}

/** One call as the server saw it, for tests that count retries or read what was sent. */
export interface Ec2Call {
  action: string;
  status: number;
  /** The error code answered, if any. */
  code?: string;
  /** Sim time of arrival. */
  at: number;
  /** The SDK's `amz-sdk-request` header (`attempt=N; max=M`), when sent. */
  attempt?: string;
  params: Record<string, string>;
}

interface InjectedFault {
  remaining: number;
  error: InjectableErrorCode | { code: string; status: number; message: string };
}

interface Hang {
  remaining: number;
  /** Carry out the action before leaving the client hanging (the answer is lost, not the work). */
  apply: boolean;
}

const CALL_LOG_CAPACITY = 10_000;

/**
 * The EC2 (+ STS) Query API subset that the real `hashicorp/aws` provider
 * calls for `aws_instance`, on `POST /` (or `GET /?Action=…`) by `Action`.
 * Instances boot sim machines into `ctx.world` when they reach `running` and
 * take them down when they shut down; see sim/ec2/README.md.
 */
export class Ec2Server {
  readonly router: Router;
  private readonly fleet: Fleet;
  private readonly region: string;
  private readonly accountId: string;
  private readonly tokens: ActionContext["tokens"] = new Map();
  private readonly counts = new Map<string, number>();
  private log: Ec2Call[] = [];
  private bucket: TokenBucket | null = null;
  private readonly faults = new Map<string, InjectedFault[]>();
  private readonly hangs = new Map<string, Hang>();
  private readonly hanging = new Set<() => void>();

  constructor(
    private readonly ctx: SimContext,
    opts: Ec2Options = {},
  ) {
    this.region = opts.region ?? "us-east-1";
    this.accountId = opts.accountId ?? "123456789012";
    if (!/^\d{12}$/.test(this.accountId)) throw new Error(`ec2: accountId must be 12 digits, got ${this.accountId}`);
    const clusterForInstance = opts.clusterForInstance ?? ((tags: Record<string, string>) => tags[TAGS.cluster] ?? "prod");
    this.fleet = new Fleet(ctx, {
      region: this.region,
      accountId: this.accountId,
      bootDelayMs: opts.bootDelayMs ?? 5_000,
      terminateDelayMs: opts.terminateDelayMs ?? 5_000,
      terminatedVisibleMs: opts.terminatedVisibleMs ?? 3_600_000,
      clusterForInstance,
    });
    if (opts.throttle) this.setThrottle(opts.throttle);
    const notFound = (req: SimRequest): SimReply =>
      this.error(new Ec2Error("InvalidAction", `The requested path ${req.path} is not served here; use POST /`, 404), randomUUID(), false);
    this.router = new Router({ notFound, methodNotAllowed: notFound });
    this.router.add(["POST", "GET"], "/", (req) => this.handle(req));
  }

  // ---- inspection ------------------------------------------------------

  /** Every visible instance (terminated ones until they are purged), in launch order. */
  instances(): InstanceView[] {
    return this.fleet.all().map(viewOf);
  }

  instance(id: string): InstanceView | undefined {
    const i = this.fleet.get(id);
    return i && viewOf(i);
  }

  /** Calls received per Action, answered or not (throttled and failed calls count). */
  callCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** The most recent calls (up to 10,000), oldest first; optionally of one action. */
  calls(action?: string): Ec2Call[] {
    return action === undefined ? [...this.log] : this.log.filter((c) => c.action === action);
  }

  resetCalls(): void {
    this.counts.clear();
    this.log = [];
  }

  // ---- faults ------------------------------------------------------------

  /** Limits the request rate of EC2 actions; over the limit EC2 answers 503 RequestLimitExceeded. `null` lifts it. */
  setThrottle(bucket: ThrottleBucket | null): void {
    this.bucket = bucket && new TokenBucket(bucket);
  }

  /**
   * The next `count` calls of `action` fail with this error (a known code,
   * whose status and message are EC2's, or a custom one). Queued faults of
   * one action fire in order.
   */
  failNext(action: string, error: InjectableErrorCode | { code: string; status: number; message: string }, count = 1): void {
    const list = this.faults.get(action) ?? [];
    list.push({ remaining: count, error });
    this.faults.set(action, list);
  }

  /** Shorthand: the next `count` RunInstances fail (capacity by default, HTTP 500 as in the sample). */
  failNextRunInstances(code: InjectableErrorCode = "InsufficientInstanceCapacity", count = 1): void {
    this.failNext("RunInstances", code, count);
  }

  /**
   * The next `count` calls of `action` are accepted and never answered, as in
   * `error-hang.json`; the client waits until it gives up. With `apply`, the
   * action takes effect first (the work is done, the answer is lost).
   */
  hangAction(action: string, count = 1, opts: { apply?: boolean } = {}): void {
    this.hangs.set(action, { remaining: count, apply: opts.apply ?? false });
  }

  /** Lifts the throttle and drops every queued error and hang. */
  clearFaults(): void {
    this.bucket = null;
    this.faults.clear();
    this.hangs.clear();
  }

  /**
   * Terminates an instance behind Terraform's back (a host failure): it is
   * `terminated` at once and its machine leaves the world. With `vanish` it
   * is purged as well, so DescribeInstances answers InvalidInstanceID.NotFound.
   */
  killInstanceUnderNode(instanceId: string, opts: { vanish?: boolean } = {}): InstanceView {
    const inst = this.fleet.get(instanceId);
    if (!inst) throw new Error(`ec2: no instance ${instanceId}`);
    this.fleet.kill(inst, opts.vanish ?? false);
    return viewOf(inst);
  }

  /** Cancels pending state changes and releases hung requests. */
  close(): void {
    this.fleet.close();
    for (const release of [...this.hanging]) release();
  }

  // ---- dispatch ----------------------------------------------------------

  private async handle(req: SimRequest): Promise<SimReply> {
    const params = QueryParams.from(req.body, req.query);
    const action = params.get("Action") ?? "";
    const sts = isSts(params, req.headers.authorization);
    const call: Ec2Call = {
      action,
      status: 0,
      at: this.ctx.clock.now(),
      params: Object.fromEntries(params.entries()),
      ...(typeof req.headers["amz-sdk-request"] === "string" ? { attempt: req.headers["amz-sdk-request"] } : {}),
    };
    this.counts.set(action, (this.counts.get(action) ?? 0) + 1);
    this.log.push(call);
    if (this.log.length > CALL_LOG_CAPACITY) this.log = this.log.slice(-CALL_LOG_CAPACITY / 2);

    const { reply, code } = await this.answer(req, params, action, sts);
    call.status = reply.status;
    if (code !== undefined) call.code = code;
    return reply;
  }

  private async answer(req: SimRequest, params: QueryParams, action: string, sts: boolean): Promise<{ reply: SimReply; code?: string }> {
    const requestId = randomUUID();
    try {
      if (action === "") throw new Ec2Error("MissingAction", "The request must contain the parameter Action");
      if (!sts && this.bucket?.applies(action) && !this.bucket.take()) {
        throw new Ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503);
      }
      const hang = this.hangs.get(action);
      if (hang) {
        if (--hang.remaining <= 0) this.hangs.delete(action);
        if (hang.apply) this.runQuietly(params, action, sts, requestId);
        return { reply: await this.hangUntilGone(req) };
      }
      this.injected(action, params);
      return { reply: this.ok(this.run(params, action, sts, requestId), requestId, sts) };
    } catch (err) {
      if (err instanceof Ec2Error) return { reply: this.error(err, requestId, sts), code: err.code };
      throw err;
    }
  }

  /** The work of a call whose answer is lost: its own error would be lost too. */
  private runQuietly(params: QueryParams, action: string, sts: boolean, requestId: string): void {
    try {
      this.run(params, action, sts, requestId);
    } catch (err) {
      if (!(err instanceof Ec2Error)) throw err;
    }
  }

  /** Runs the action and answers its XML. */
  private run(params: QueryParams, action: string, sts: boolean, requestId: string): string {
    if (sts) {
      if (action !== "GetCallerIdentity") throw new Ec2Error("InvalidAction", `Could not find operation ${action} for version 2011-06-15`);
      return this.callerIdentity(requestId);
    }
    const handler = EC2_ACTIONS[action];
    if (!handler) throw new Ec2Error("InvalidAction", `The action ${action} is not valid for this web service.`);
    const body = handler({ params, fleet: this.fleet, region: this.region, accountId: this.accountId, tokens: this.tokens });
    return ec2Response(action, requestId, body);
  }

  private injected(action: string, params: QueryParams): void {
    const list = this.faults.get(action);
    const fault = list?.[0];
    if (!list || !fault) return;
    if (--fault.remaining <= 0) list.shift();
    if (list.length === 0) this.faults.delete(action);
    if (typeof fault.error !== "string") throw new Ec2Error(fault.error.code, fault.error.message, fault.error.status);
    const instanceType = params.get("InstanceType");
    const availabilityZone = params.get("Placement.AvailabilityZone") || `${this.region}a`;
    throw injectedError(fault.error, { availabilityZone, ...(instanceType !== undefined ? { instanceType } : {}) });
  }

  private callerIdentity(requestId: string): string {
    return (
      `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult>` +
      `<Arn>arn:aws:iam::${this.accountId}:user/sim</Arn><UserId>AIDASIMULATEDUSER0001</UserId><Account>${this.accountId}</Account>` +
      `</GetCallerIdentityResult><ResponseMetadata><RequestId>${esc(requestId)}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
    );
  }

  private hangUntilGone(req: SimRequest): Promise<SimReply> {
    return new Promise((resolve) => {
      const release = (): void => {
        this.hanging.delete(release);
        // Nobody reads this: the client left or the sim is closing.
        resolve({ status: 500, body: "" });
      };
      this.hanging.add(release);
      if (req.signal.aborted) release();
      else req.signal.addEventListener("abort", release, { once: true });
    });
  }

  private ok(xml: string, requestId: string, sts: boolean): SimReply {
    return { status: 200, headers: this.headers(requestId, sts), body: xml, contentType: "text/xml;charset=UTF-8" };
  }

  private error(err: Ec2Error, requestId: string, sts: boolean): SimReply {
    const body = sts
      ? stsErrorBody(err.code, err.message, requestId, err.status >= 500 ? "Receiver" : "Sender")
      : ec2ErrorBody(err.code, err.message, requestId);
    return { status: err.status, headers: this.headers(requestId, sts), body, contentType: "text/xml;charset=UTF-8" };
  }

  private headers(requestId: string, sts: boolean): Record<string, string> {
    return sts ? { "x-amzn-RequestId": requestId } : { "x-amzn-RequestId": requestId, Server: "AmazonEC2" };
  }
}

/** STS and EC2 share the endpoint here; STS calls carry its API version or are signed for `sts`. */
function isSts(params: QueryParams, authorization: string | undefined): boolean {
  if (params.get("Version") === "2011-06-15") return true;
  return /Credential=[^/]+\/\d{8}\/[^/]+\/sts\/aws4_request/.test(authorization ?? "");
}

/**
 * An EC2 API error: a code, its HTTP status and a message. Handlers throw it;
 * the server renders it as the `<Response><Errors>…` envelope (or STS's own).
 */
export class Ec2Error extends Error {
  readonly status: number;

  constructor(
    readonly code: string,
    message: string,
    status?: number,
  ) {
    super(message);
    this.status = status ?? statusOf(code);
  }
}

/**
 * Errors that tests inject by code alone. Status and message are the ones in
 * the samples of `shared/api-reference/ec2/` where there is one (the capacity
 * error's 500 is what the sample used; it makes the SDK retry it like
 * InternalError).
 */
export const INJECTABLE_ERRORS = {
  InsufficientInstanceCapacity: {
    status: 500,
    message: (ctx: ErrorContext) =>
      `We currently do not have sufficient ${ctx.instanceType ?? "t3.small"} capacity in the Availability Zone you requested (${ctx.availabilityZone ?? "us-east-1a"}).`,
  },
  InternalError: { status: 500, message: () => "An internal error has occurred" },
  Unavailable: { status: 503, message: () => "The server is overloaded and can't handle the request." },
  UnauthorizedOperation: { status: 403, message: () => "You are not authorized to perform this operation." },
  RequestLimitExceeded: { status: 503, message: () => "Request limit exceeded." },
  Throttling: { status: 400, message: () => "Rate exceeded" },
  InstanceLimitExceeded: {
    status: 400,
    message: () => "You have requested more instances than your current instance limit allows for the specified instance type.",
  },
  VcpuLimitExceeded: {
    status: 400,
    message: () => "You have requested more vCPU capacity than your current vCPU limit allows for the instance bucket that the specified instance type belongs to.",
  },
} as const;

export type InjectableErrorCode = keyof typeof INJECTABLE_ERRORS;

/** What an injected message may mention (the capacity error names the type and zone). */
export interface ErrorContext {
  instanceType?: string;
  availabilityZone?: string;
}

/** Builds an injectable error by code, filling its message from the request. */
export function injectedError(code: InjectableErrorCode, ctx: ErrorContext): Ec2Error {
  const e = INJECTABLE_ERRORS[code];
  return new Ec2Error(code, e.message(ctx), e.status);
}

function statusOf(code: string): number {
  if (code in INJECTABLE_ERRORS) return INJECTABLE_ERRORS[code as InjectableErrorCode].status;
  return 400; // every client error of EC2 (NotFound, Malformed, InvalidParameter…) is a 400
}

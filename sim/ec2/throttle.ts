/** A request-rate limit: `burst` requests at once, refilled at `ratePerSec`. */
export interface ThrottleBucket {
  ratePerSec: number;
  burst: number;
  /** Only these actions draw from the bucket. @default every EC2 action (STS is a separate service and is never throttled) */
  actions?: string[];
}

/**
 * A token bucket in real time: the client measures its retry gaps in real
 * seconds, so the limit it runs into must be real too (like a blocking
 * query's `wait`, this is protocol time, not world time).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly spec: ThrottleBucket,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(spec.ratePerSec >= 0) || !(spec.burst >= 1)) {
      throw new Error(`ec2 throttle: ratePerSec must be >= 0 and burst >= 1, got ${spec.ratePerSec} and ${spec.burst}`);
    }
    this.tokens = spec.burst;
    this.last = this.now();
  }

  applies(action: string): boolean {
    return this.spec.actions === undefined || this.spec.actions.includes(action);
  }

  /** Takes one token; false when the bucket is empty (the request is throttled). */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.spec.burst, this.tokens + ((t - this.last) / 1000) * this.spec.ratePerSec);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

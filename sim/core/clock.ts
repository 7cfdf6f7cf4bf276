/**
 * The sim's clock. Every world timeout (heartbeat TTLs, session TTLs,
 * lock-delay, deployment health times, progress deadlines, EC2 state changes)
 * is expressed in *sim* milliseconds and scheduled through this clock, so a
 * test can run a five-minute deadline in five seconds with `scale = 60`.
 *
 * Protocol timers (a blocking query's `wait`) are not world timeouts: they run
 * in real time, because the client on the other end measures them in real time.
 */
export class Clock {
  private realAnchor: number;
  private simAnchor: number;
  private scaleValue: number;
  private readonly timers = new Set<SimTimer>();

  /** @param scale sim milliseconds per real millisecond; 1 = real time. */
  constructor(scale = 1, startMs = Date.now()) {
    if (!(scale > 0)) throw new Error(`sim clock: scale must be > 0, got ${scale}`);
    this.scaleValue = scale;
    this.realAnchor = Date.now();
    this.simAnchor = startMs;
  }

  /** Sim time in epoch milliseconds. */
  now(): number {
    return this.simAnchor + (Date.now() - this.realAnchor) * this.scaleValue;
  }

  /** Sim time in epoch nanoseconds, as Nomad reports times. */
  nowNanos(): bigint {
    return BigInt(Math.floor(this.now())) * 1_000_000n;
  }

  get scale(): number {
    return this.scaleValue;
  }

  /**
   * Changes the speed of sim time from now on. Pending timers are re-armed so
   * that each still fires at the same *sim* instant.
   */
  setScale(scale: number): void {
    if (!(scale > 0)) throw new Error(`sim clock: scale must be > 0, got ${scale}`);
    const simNow = this.now();
    this.simAnchor = simNow;
    this.realAnchor = Date.now();
    this.scaleValue = scale;
    for (const t of this.timers) t.rearm();
  }

  /**
   * Runs `fn` after `simMs` sim milliseconds. Pass `{ unref: true }` for
   * background timers that must not keep the process alive on their own.
   */
  setTimeout(fn: () => void, simMs: number, opts: { unref?: boolean } = {}): SimTimer {
    const t = new SimTimer(this, fn, this.now() + Math.max(0, simMs), undefined, opts.unref ?? false);
    this.timers.add(t);
    return t;
  }

  /** Runs `fn` every `simMs` sim milliseconds until cancelled. */
  setInterval(fn: () => void, simMs: number, opts: { unref?: boolean } = {}): SimTimer {
    const period = Math.max(1, simMs);
    const t = new SimTimer(this, fn, this.now() + period, period, opts.unref ?? false);
    this.timers.add(t);
    return t;
  }

  /** Resolves after `simMs` sim milliseconds. */
  sleep(simMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, simMs));
  }

  /** Cancels every pending timer (used when the sim shuts down). */
  cancelAll(): void {
    for (const t of [...this.timers]) t.cancel();
  }

  /** @internal */
  forget(t: SimTimer): void {
    this.timers.delete(t);
  }
}

/** A timer scheduled in sim time; survives changes of clock scale. */
export class SimTimer {
  private handle: NodeJS.Timeout | undefined;
  private cancelled = false;

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
    private dueSim: number,
    private readonly periodSim: number | undefined,
    private readonly unref: boolean,
  ) {
    this.rearm();
  }

  /** @internal */
  rearm(): void {
    if (this.cancelled) return;
    if (this.handle) clearTimeout(this.handle);
    const realMs = Math.max(0, (this.dueSim - this.clock.now()) / this.clock.scale);
    this.handle = setTimeout(() => this.fire(), Math.min(realMs, 2_147_483_000));
    if (this.unref) this.handle.unref();
  }

  private fire(): void {
    if (this.cancelled) return;
    if (this.clock.now() + 0.5 < this.dueSim) {
      this.rearm(); // woke early (capped delay or scale change): wait the rest
      return;
    }
    if (this.periodSim !== undefined) {
      this.dueSim += this.periodSim;
      this.rearm();
    } else {
      this.cancelled = true;
      this.clock.forget(this);
    }
    this.fn();
  }

  cancel(): void {
    this.cancelled = true;
    if (this.handle) clearTimeout(this.handle);
    this.clock.forget(this);
  }
}

/**
 * The cloud budget: how many `terraform apply` runs Steward may start, per
 * working directory and across all of them, in a window. Two token buckets
 * per apply (the directory's and the global one); an apply needs a token from
 * both. Pure: time is an argument (`now`, epoch ms), nothing is scheduled, so
 * the planner can ask it with its snapshot's time and tests need no clock.
 */
import { TERRAFORM_APPLY_BUDGET_GLOBAL, TERRAFORM_APPLY_BUDGET_PER_DIR, TERRAFORM_APPLY_BUDGET_WINDOW_MS } from "../../config/defaults.js";

/** Limits of the budget. Counts are applies; the window is milliseconds. */
export interface ApplyBudgetOptions {
  /** Applies per working directory per window; also the burst. @default TERRAFORM_APPLY_BUDGET_PER_DIR (2) */
  perDir?: number;
  /** Applies across every directory per window; also the burst. @default TERRAFORM_APPLY_BUDGET_GLOBAL (6) */
  global?: number;
  /** The window over which a bucket refills completely, continuously. @default TERRAFORM_APPLY_BUDGET_WINDOW_MS (10 min) */
  windowMs?: number;
}

/** What the budget allows for one directory at one time, for the planner, `steward plan` and metrics. */
export interface BudgetView {
  /** Whole applies the directory may start now: the smaller of its own and the global tokens. */
  available: number;
  /** Whole tokens in the directory's bucket. */
  dirTokens: number;
  /** Whole tokens in the global bucket. */
  globalTokens: number;
  /** When the next apply may start (epoch ms; `now` when one may start now). */
  nextAt: number;
  /** Which bucket is empty when `available` is 0. */
  limitedBy?: "dir" | "global";
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets of applies. `take` spends one token from the directory's and
 * the global bucket together, or none when either is empty. A bucket starts
 * full and refills at capacity per window. The buckets live in memory: a new
 * leader starts with full buckets (the journal, not the budget, prevents a
 * second apply for one incident).
 */
export class ApplyBudget {
  readonly perDir: number;
  readonly global: number;
  readonly windowMs: number;
  private readonly dirs = new Map<string, Bucket>();
  private globalBucket: Bucket | undefined;

  constructor(opts: ApplyBudgetOptions = {}) {
    this.perDir = positiveInt("perDir", opts.perDir ?? TERRAFORM_APPLY_BUDGET_PER_DIR);
    this.global = positiveInt("global", opts.global ?? TERRAFORM_APPLY_BUDGET_GLOBAL);
    this.windowMs = positiveInt("windowMs", opts.windowMs ?? TERRAFORM_APPLY_BUDGET_WINDOW_MS);
  }

  /** What `dir` may do at `now`. Does not change the buckets. */
  view(dir: string, now: number): BudgetView {
    const d = this.refilled(this.dirs.get(dir), this.perDir, now);
    const g = this.refilled(this.globalBucket, this.global, now);
    const dirTokens = Math.floor(d.tokens + 1e-9);
    const globalTokens = Math.floor(g.tokens + 1e-9);
    const available = Math.min(dirTokens, globalTokens);
    if (available > 0) return { available, dirTokens, globalTokens, nextAt: now };
    const dirAt = now + this.msToToken(d.tokens, this.perDir);
    const globalAt = now + this.msToToken(g.tokens, this.global);
    return { available, dirTokens, globalTokens, nextAt: Math.max(dirAt, globalAt), limitedBy: dirTokens === 0 ? "dir" : "global" };
  }

  /** Spends one apply for `dir` at `now`. Returns false, and spends nothing, when either bucket is empty. */
  take(dir: string, now: number): boolean {
    const d = this.refilled(this.dirs.get(dir), this.perDir, now);
    const g = this.refilled(this.globalBucket, this.global, now);
    if (d.tokens + 1e-9 < 1 || g.tokens + 1e-9 < 1) return false;
    this.dirs.set(dir, { tokens: d.tokens - 1, at: now });
    this.globalBucket = { tokens: g.tokens - 1, at: now };
    return true;
  }

  /**
   * Gives back the token of an apply that never reached the cloud (it failed
   * on the state lock, or before planning), so a busy lock does not eat the budget.
   */
  refund(dir: string, now: number): void {
    const d = this.refilled(this.dirs.get(dir), this.perDir, now);
    const g = this.refilled(this.globalBucket, this.global, now);
    this.dirs.set(dir, { tokens: Math.min(this.perDir, d.tokens + 1), at: now });
    this.globalBucket = { tokens: Math.min(this.global, g.tokens + 1), at: now };
  }

  /** Tokens left in the global bucket at `now`, for the `steward_…_budget_tokens` gauge. */
  globalTokens(now: number): number {
    return Math.floor(this.refilled(this.globalBucket, this.global, now).tokens + 1e-9);
  }

  private refilled(b: Bucket | undefined, capacity: number, now: number): Bucket {
    if (!b) return { tokens: capacity, at: now };
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - b.at);
    return { tokens: Math.min(capacity, b.tokens + (elapsed * capacity) / this.windowMs), at: now };
  }

  private msToToken(tokens: number, capacity: number): number {
    return Math.ceil(((1 - tokens) * this.windowMs) / capacity);
  }
}

function positiveInt(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`budget.${field}: must be a whole number >= 1, got ${String(v)}`);
  return v;
}

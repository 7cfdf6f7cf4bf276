import type { SimReply } from "./http.js";

/**
 * A fault rule. It matches requests to one server (or all), optionally one
 * method and a path prefix or regular expression, and fires on a share of
 * them (`rate`), at most `count` times when given.
 */
export interface FaultRule {
  /** Server name (`nomad:qa`, `nomad:*`, `consul`, `vault`, `registry`, `ec2`) or `*`. */
  target: string;
  method?: string;
  /** A path prefix, or a regular expression when written as `/.../`. */
  path?: string;
  /** Share of matching requests that fail, 0..1. @default 1 */
  rate?: number;
  /** Fire at most this many times, then the rule is spent. @default unlimited */
  count?: number;
  kind: "latency" | "error" | "throttle" | "timeout" | "reset";
  /** `latency`: milliseconds added before the real answer (real time). */
  latencyMs?: number;
  /** `error`: status to answer. @default 500 */
  status?: number;
  /** `error`: body to answer. @default a plain-text message */
  body?: unknown;
  /** `throttle`: the `Retry-After` header in seconds. @default 1 */
  retryAfterS?: number;
}

export interface ActiveFault extends FaultRule {
  id: string;
  fired: number;
}

export type FaultOutcome = "pass" | "reset" | "hang" | SimReply;

/** Holds the fault rules of the whole sim and decides, per request, which one fires. */
export class FaultInjector {
  private readonly rules = new Map<string, ActiveFault>();
  private seq = 0;

  constructor(private readonly random: () => number) {}

  add(rule: FaultRule): ActiveFault {
    validateRule(rule);
    const active: ActiveFault = { ...rule, id: `fault-${++this.seq}`, fired: 0 };
    this.rules.set(active.id, active);
    return active;
  }

  remove(id: string): boolean {
    return this.rules.delete(id);
  }

  clear(): void {
    this.rules.clear();
  }

  list(): ActiveFault[] {
    return [...this.rules.values()];
  }

  /** The first rule that fires for this request, if any. */
  pick(server: string, method: string, path: string): ActiveFault | undefined {
    for (const rule of this.rules.values()) {
      if (!matches(rule, server, method, path)) continue;
      if (this.random() >= (rule.rate ?? 1)) continue;
      rule.fired++;
      if (rule.count !== undefined && rule.fired >= rule.count) this.rules.delete(rule.id);
      return rule;
    }
    return undefined;
  }

  /** Carries out a fault: waits for latency, or says what to answer instead. */
  async apply(rule: FaultRule, signal: AbortSignal): Promise<FaultOutcome> {
    switch (rule.kind) {
      case "latency":
        await abortableDelay(rule.latencyMs ?? 0, signal);
        return "pass";
      case "reset":
        return "reset";
      case "timeout":
        return "hang";
      case "throttle":
        return {
          status: 429,
          headers: { "Retry-After": String(rule.retryAfterS ?? 1) },
          body: "Too Many Requests (sim fault)",
        };
      case "error":
        return { status: rule.status ?? 500, body: rule.body ?? "sim: injected fault" };
    }
  }
}

function matches(rule: FaultRule, server: string, method: string, path: string): boolean {
  if (!targetMatches(rule.target, server)) return false;
  if (rule.method && rule.method.toUpperCase() !== method) return false;
  if (!rule.path) return true;
  if (rule.path.length > 2 && rule.path.startsWith("/") && rule.path.endsWith("/")) {
    return new RegExp(rule.path.slice(1, -1)).test(path);
  }
  return path.startsWith(rule.path);
}

function targetMatches(target: string, server: string): boolean {
  if (target === "*" || target === server) return true;
  if (target.endsWith(":*")) return server.startsWith(target.slice(0, -1));
  return false;
}

function validateRule(rule: FaultRule): void {
  const kinds = ["latency", "error", "throttle", "timeout", "reset"];
  if (!kinds.includes(rule.kind)) throw new Error(`fault rule: kind must be one of ${kinds.join(", ")}, got ${String(rule.kind)}`);
  if (typeof rule.target !== "string" || rule.target === "") throw new Error("fault rule: target is required (a server name or *)");
  if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) throw new Error(`fault rule: rate must be within 0..1, got ${rule.rate}`);
  if (rule.path && rule.path.length > 2 && rule.path.startsWith("/") && rule.path.endsWith("/")) {
    try {
      new RegExp(rule.path.slice(1, -1));
    } catch (err) {
      throw new Error(`fault rule: path is not a valid regular expression: ${(err as Error).message}`, { cause: err });
    }
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** A small seeded generator (mulberry32), so fault rates are repeatable in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

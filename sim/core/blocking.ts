/**
 * Blocking queries as Nomad and Consul serve them: a read that carries
 * `?index=N` waits until the data it returns has an index above N, or until
 * `wait` runs out, then answers with the current data either way.
 *
 * One `IndexNotifier` per raft-like store: every write bumps the store's
 * index and wakes all waiters, and each waiter re-reads its own resource's
 * index (a write to another job must not wake a watcher of this one with new
 * data, but may wake it to re-check).
 */
export class IndexNotifier {
  private index: number;
  private waiters = new Set<() => void>();

  constructor(start = 1) {
    this.index = start;
  }

  /** The store's current (latest) index. */
  get current(): number {
    return this.index;
  }

  /** Allocates the next index for a write and wakes every waiter. */
  bump(): number {
    this.index++;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
    return this.index;
  }

  /** Resolves at the next bump, after `ms` real milliseconds, or on abort; whichever is first. */
  nextChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.waiters.delete(finish);
        // A waiter woken many times must not pile listeners onto the request's signal.
        signal?.removeEventListener("abort", finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      this.waiters.add(finish);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }

  /** Number of parked waiters (for benchmarks and leak checks). */
  get waiting(): number {
    return this.waiters.size;
  }
}

/**
 * Runs `read` until the index it reports exceeds `minIndex` or `waitMs`
 * passes. With `minIndex` 0 it answers at once.
 */
export async function blockingRead<T>(
  notifier: IndexNotifier,
  minIndex: number,
  waitMs: number,
  read: () => { index: number; value: T },
  signal?: AbortSignal,
): Promise<{ index: number; value: T }> {
  let r = read();
  if (minIndex <= 0) return r;
  const deadline = Date.now() + waitMs;
  while (r.index <= minIndex && !signal?.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await notifier.nextChange(left, signal);
    r = read();
  }
  return r;
}

/**
 * Parses a Go `time.ParseDuration` string ("300ms", "1.5h", "2m30s").
 * Returns milliseconds, or undefined when the text is not a Go duration.
 */
export function parseGoDuration(text: string): number | undefined {
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let sign = 1;
  let s = text;
  if (s.startsWith("-") || s.startsWith("+")) {
    sign = s.startsWith("-") ? -1 : 1;
    s = s.slice(1);
  }
  if (s === "") return undefined;
  let total = 0;
  let pos = 0;
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (unit[m[2] ?? ""] ?? 0);
    pos = re.lastIndex;
  }
  if (pos !== s.length || pos === 0) return undefined;
  return sign * total;
}

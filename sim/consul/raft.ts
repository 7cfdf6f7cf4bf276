import { IndexNotifier } from "../core/blocking.js";

/**
 * Consul's single Raft log as the sim keeps it: one monotonically rising
 * index shared by every table, plus the index at which each table last
 * changed (Consul's `index` table). Reads report table or item indexes from
 * here, so `X-Consul-Index` behaves as on a real server.
 *
 * Every write takes a fresh index with `next()`, which also wakes parked
 * blocking queries; they re-read after the current synchronous write has
 * finished (promise continuations run later), so they never see half a write.
 */
export class Raft {
  readonly notifier: IndexNotifier;
  private readonly tables = new Map<string, number>();

  constructor(start = 1) {
    this.notifier = new IndexNotifier(start);
  }

  /** The latest index in the log. */
  get index(): number {
    return this.notifier.current;
  }

  /** Appends an entry: returns its index and wakes every waiter to re-check. */
  next(): number {
    return this.notifier.bump();
  }

  /** Records that `table` changed at `idx`. */
  touch(table: string, idx: number): void {
    this.tables.set(table, idx);
  }

  /** The highest index at which any of `tables` changed (0 when never). */
  tableIndex(...tables: string[]): number {
    return Math.max(0, ...tables.map((t) => this.tables.get(t) ?? 0));
  }
}

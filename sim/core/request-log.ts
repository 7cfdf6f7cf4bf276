/** One request seen by a sim server. `status` -1 = connection reset, -2 = left hanging. */
export interface LoggedRequest {
  server: string;
  method: string;
  path: string;
  query: string;
  status: number;
  ms: number;
}

/**
 * The sim's request log, so tests can count calls where counting *is* the
 * promise ("no plan calls on an idle pass"). It keeps the most recent
 * `capacity` entries; counts by server are kept for all time.
 */
export class RequestLog {
  private entries: LoggedRequest[] = [];
  private readonly totals = new Map<string, number>();

  constructor(private readonly capacity = 50_000) {}

  record(e: LoggedRequest): void {
    this.entries.push(e);
    if (this.entries.length > this.capacity) this.entries = this.entries.slice(-Math.floor(this.capacity / 2));
    this.totals.set(e.server, (this.totals.get(e.server) ?? 0) + 1);
  }

  /** Entries matching the filter, oldest first. */
  find(filter: Partial<Pick<LoggedRequest, "server" | "method">> & { pathPrefix?: string } = {}): LoggedRequest[] {
    return this.entries.filter(
      (e) =>
        (filter.server === undefined || e.server === filter.server) &&
        (filter.method === undefined || e.method === filter.method) &&
        (filter.pathPrefix === undefined || e.path.startsWith(filter.pathPrefix)),
    );
  }

  total(server: string): number {
    return this.totals.get(server) ?? 0;
  }

  clear(): void {
    this.entries = [];
    this.totals.clear();
  }
}

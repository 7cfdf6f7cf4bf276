// The page's copy of Steward's live state, kept by the event stream alone:
// a snapshot replaces it, a patch changes items by key, an event is appended.
// Components subscribe and re-render; unchanged items keep their identity,
// so memoised rows skip the work.
import type { LiveEvent, LivePatch, LiveSections, LiveSnapshot, SyncCell } from "../../src/server/live-types.js";

/** Connection state shown in the header. */
export type LinkState = "connecting" | "live" | "reconnecting" | "signed-out";

/** The events kept in the page (the server's ring buffer holds as many). */
const MAX_EVENTS = 1000;

/** One row of the overview: a service and its cell per environment. */
export interface ServiceRow {
  service: string;
  /** Keyed by environment. */
  cells: Record<string, SyncCell>;
}

export class LiveStore {
  sections: Partial<LiveSections> = {};
  sync = new Map<string, SyncCell>();
  /** Other loops' collections (promotion, pools), by name then key. */
  collections = new Map<string, Map<string, unknown>>();
  events: LiveEvent[] = [];
  link: LinkState = "connecting";
  /** Bumped on every change; components compare it. */
  version = 0;
  /** When the latest message arrived (performance.now()), for the benchmark. */
  lastMessageAt = 0;
  private rowsCache: { version: number; rows: ServiceRow[] } | undefined;
  private rowsVersion = 0;
  private readonly listeners = new Set<() => void>();
  private pending = false;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  reset(s: LiveSnapshot): void {
    this.sections = s.sections;
    this.sync = new Map(Object.entries(s.collections.sync ?? {}));
    this.collections = new Map(
      Object.entries(s.collections)
        .filter(([name]) => name !== "sync")
        .map(([name, items]) => [name, new Map(Object.entries(items))]),
    );
    this.events = s.events.slice(-MAX_EVENTS);
    this.rowsVersion++;
    this.changed();
  }

  apply(p: LivePatch): void {
    if (p.sections) this.sections = { ...this.sections, ...p.sections };
    for (const [name, items] of Object.entries(p.set ?? {})) {
      if (name === "sync") {
        for (const [k, v] of Object.entries(items)) {
          const cell = v as SyncCell;
          const before = this.sync.get(k);
          if (!before || before.service !== cell.service) this.rowsVersion++;
          this.sync.set(k, cell);
        }
        // Rows hold cells: rebuild the few rows that changed, keep the rest as they were.
        this.patchRows(Object.values(items) as SyncCell[]);
        continue;
      }
      const m = this.collections.get(name) ?? new Map<string, unknown>();
      for (const [k, v] of Object.entries(items)) m.set(k, v);
      this.collections.set(name, m);
    }
    for (const [name, keys] of Object.entries(p.del ?? {})) {
      if (name === "sync") {
        for (const k of keys) this.sync.delete(k);
        this.rowsVersion++;
      } else for (const k of keys) this.collections.get(name)?.delete(k);
    }
    this.changed();
  }

  addEvent(e: LiveEvent): void {
    this.events = this.events.length >= MAX_EVENTS ? [...this.events.slice(1), e] : [...this.events, e];
    this.changed();
  }

  setLink(l: LinkState): void {
    if (this.link === l) return;
    this.link = l;
    this.changed();
  }

  /** Services in name order, each with its cells; rebuilt only when keys come or go. */
  rows(): ServiceRow[] {
    if (this.rowsCache?.version === this.rowsVersion) return this.rowsCache.rows;
    const byService = new Map<string, Record<string, SyncCell>>();
    for (const cell of this.sync.values()) {
      const cells = byService.get(cell.service) ?? {};
      cells[cell.env] = cell;
      byService.set(cell.service, cells);
    }
    const rows = [...byService.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([service, cells]) => ({ service, cells }));
    this.rowsCache = { version: this.rowsVersion, rows };
    return rows;
  }

  /** Environments in promotion order (the revision's), then any others cells name. */
  environments(): string[] {
    const names = [...(this.sections.environments?.names ?? [])];
    for (const c of this.sync.values()) if (!names.includes(c.env)) names.push(c.env);
    return names;
  }

  private patchRows(cells: SyncCell[]): void {
    const cache = this.rowsCache;
    if (!cache || cache.version !== this.rowsVersion) return;
    const index = new Map<string, number>();
    cache.rows.forEach((r, i) => index.set(r.service, i));
    const rows = cache.rows.slice();
    for (const cell of cells) {
      const i = index.get(cell.service);
      const row = i === undefined ? undefined : rows[i];
      if (i === undefined || !row) {
        this.rowsVersion++;
        return;
      }
      rows[i] = { service: row.service, cells: { ...row.cells, [cell.env]: cell } };
    }
    this.rowsCache = { version: this.rowsVersion, rows };
  }

  private changed(): void {
    this.version++;
    this.lastMessageAt = performance.now();
    // Many messages in one task (a resume replay) render once.
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      for (const fn of this.listeners) fn();
    });
  }
}

/**
 * Connects the store to `/api/events`. The browser's EventSource reconnects
 * by itself (sending Last-Event-ID, so the server replays what was missed);
 * when it gives up (the server answered an error), a new one is opened after
 * a pause and gets a fresh snapshot.
 */
export function connect(store: LiveStore, url = "/api/events"): () => void {
  let es: EventSource | undefined;
  let timer: number | undefined;
  let stopped = false;
  const open = (): void => {
    es = new EventSource(url);
    es.onopen = () => store.setLink("live");
    es.onerror = () => {
      store.setLink("reconnecting");
      if (es?.readyState === EventSource.CLOSED && !stopped) {
        es.close();
        timer = window.setTimeout(open, 2000);
      }
    };
    es.addEventListener("snapshot", (m) => store.reset(JSON.parse((m as MessageEvent<string>).data) as LiveSnapshot));
    es.addEventListener("patch", (m) => store.apply(JSON.parse((m as MessageEvent<string>).data) as LivePatch));
    es.addEventListener("event", (m) => store.addEvent(JSON.parse((m as MessageEvent<string>).data) as LiveEvent));
  };
  open();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    es?.close();
  };
}

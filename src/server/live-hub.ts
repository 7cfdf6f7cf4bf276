import { createHash, randomBytes } from "node:crypto";
import { LIVE_BUFFER_ITEMS, LIVE_EVENT_BUFFER, LIVE_FLUSH_MS, LIVE_SECTION_TICK_MS } from "../config/defaults.js";
import { systemClock, type Clock, type Timer } from "../reconciler/core/clock.js";
import type { LiveEvent, LiveMessage, LivePatch, LiveSections, LiveSnapshot } from "./live-types.js";

/** A keyed collection the hub publishes (`sync`: `env/job` → SyncCell). Reads only in-memory state. */
export interface LiveCollectionSource<T = unknown> {
  /** Every item, for a snapshot and a full re-diff. */
  list(): Iterable<[string, T]>;
  /** One item; undefined when it no longer exists (it is then deleted on the page). */
  get(key: string): T | undefined;
}

/** What a loop records: an event without the fields the hub fills in (`id`, and `at`/`level` when omitted). */
export type LiveRecord = Omit<LiveEvent, "id" | "at" | "level"> & { at?: string; level?: LiveEvent["level"] };

/** Options of a `LiveHub`. Durations in milliseconds. */
export interface LiveHubOptions {
  /** The small sections, recomputed at each flush and tick, sent when they changed. */
  sections: () => LiveSections;
  /** Messages kept for Last-Event-ID resume. @default LIVE_EVENT_BUFFER (1,000) */
  bufferSize?: number;
  /** Collection items (set or deleted) the kept patches may carry in all; older messages go first. @default LIVE_BUFFER_ITEMS (5,000) */
  bufferItems?: number;
  /** Longest a change waits before it is sent, so a burst becomes one patch. @default LIVE_FLUSH_MS (50) */
  flushMs?: number;
  /** Period of the sections check (who leads changes without any loop event). @default LIVE_SECTION_TICK_MS (1,000) */
  sectionTickMs?: number;
  /** @default systemClock */
  clock?: Clock;
}

/** A connection's listener: each message in stream order. */
export type LiveListener = (msg: LiveMessage) => void;

/**
 * The in-process event bus behind the live UI. Loops publish with one line,
 * `hub.record({ loop, kind, message, env?, service?, pool?, key? })`; their
 * status reaches the page as keyed collections (`register("promotion", …)`)
 * whose changed items are sent by key (`touch(name, key)`, or a whole
 * re-diff with `touch(name)`).
 *
 * Changes are batched for `flushMs` and sent as one `patch` (only the items
 * whose JSON changed) followed by the events, each message with a stream id
 * `<epoch>-<seq>`. The last `bufferSize` messages are kept, so a page that
 * reconnects with `Last-Event-ID` gets exactly what it missed; an id from
 * another epoch (another instance, a restart) or older than the buffer gets
 * a fresh snapshot instead.
 */
export class LiveHub {
  /** Random per hub: ids from another instance or an earlier run are never resumed. */
  readonly epoch = randomBytes(4).toString("hex");
  private readonly o: LiveHubOptions;
  private readonly clock: Clock;
  private readonly bufferSize: number;
  private readonly bufferItems: number;
  /** Items carried by the patches in `buffer`. */
  private bufferedItems = 0;
  private readonly collections = new Map<string, LiveCollectionSource>();
  /** A digest of the JSON last sent per collection and key: the base of the next diff (the JSON of 10,000 cells is ~7 MB). */
  private readonly sent = new Map<string, Map<string, string>>();
  private readonly sentSections = new Map<string, string>();
  private readonly dirtyKeys = new Map<string, Set<string>>();
  private readonly dirtyAll = new Set<string>();
  private pendingEvents: LiveEvent[] = [];
  private readonly buffer: LiveMessage[] = [];
  private readonly listeners = new Set<LiveListener>();
  private readonly eventLog: LiveEvent[] = [];
  private seq = 0;
  private flushTimer: Timer | undefined;
  private tickTimer: Timer | undefined;
  private closed = false;

  constructor(options: LiveHubOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.bufferSize = Math.max(1, options.bufferSize ?? LIVE_EVENT_BUFFER);
    this.bufferItems = Math.max(0, options.bufferItems ?? LIVE_BUFFER_ITEMS);
    this.scheduleTick();
  }

  /** Publishes a collection under `name`; its items are diffed by key from now on. */
  register(name: string, source: LiveCollectionSource): void {
    this.collections.set(name, source);
    this.touch(name);
  }

  /** Marks one item (or, without `key`, the whole collection) as possibly changed; sent within flushMs if it did. */
  touch(name: string, key?: string): void {
    if (this.closed) return;
    if (key === undefined) this.dirtyAll.add(name);
    else {
      const keys = this.dirtyKeys.get(name) ?? new Set<string>();
      keys.add(key);
      this.dirtyKeys.set(name, keys);
    }
    this.scheduleFlush();
  }

  /** The sections may have changed (who is there, who leads): they are compared and sent within flushMs, not at the next tick. */
  touchSections(): void {
    if (!this.closed) this.scheduleFlush();
  }

  /**
   * Records an event for the stream. It also touches `key` in the collection
   * named like `loop`, when there is one, so the item and its event arrive
   * together.
   */
  record(e: LiveRecord): void {
    if (this.closed) return;
    const event: LiveEvent = { ...e, id: "", at: e.at ?? new Date(this.clock.now()).toISOString(), level: e.level ?? "info" };
    this.pendingEvents.push(event);
    if (e.key !== undefined && this.collections.has(e.loop)) this.touch(e.loop, e.key);
    else this.scheduleFlush();
  }

  /** The whole state now, current at the latest stream id. */
  snapshot(): LiveSnapshot {
    const collections: Record<string, Record<string, unknown>> = {};
    for (const [name, src] of this.collections) {
      const items: Record<string, unknown> = {};
      for (const [k, v] of src.list()) items[k] = v;
      collections[name] = items;
    }
    return {
      at: this.idOf(this.seq),
      epoch: this.epoch,
      sections: this.o.sections(),
      collections: { sync: {}, ...collections },
      events: [...this.eventLog],
    };
  }

  /**
   * Adds a listener for the messages after `lastEventId`. Returns the
   * messages it missed (to send first), or undefined when they cannot be
   * replayed (no id, another epoch, older than the buffer): send a snapshot.
   */
  subscribe(listener: LiveListener, lastEventId?: string): { missed: LiveMessage[] | undefined; unsubscribe: () => void } {
    this.listeners.add(listener);
    return { missed: this.missedSince(lastEventId), unsubscribe: () => void this.listeners.delete(listener) };
  }

  /** Sends what is pending now (tests and benchmarks; the timer does it otherwise). */
  flush(): void {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    if (this.closed) return;
    const patch = this.diff();
    if (patch) this.emit({ type: "patch", id: "", data: patch });
    const events = this.pendingEvents;
    this.pendingEvents = [];
    for (const e of events) {
      this.eventLog.push(e);
      if (this.eventLog.length > this.bufferSize) this.eventLog.shift();
      this.emit({ type: "event", id: "", data: e });
    }
  }

  /** Number of connected listeners. */
  get connections(): number {
    return this.listeners.size;
  }

  /** Stops the timers and drops every listener (the server ends their streams). */
  close(): void {
    this.closed = true;
    this.flushTimer?.cancel();
    this.tickTimer?.cancel();
    this.listeners.clear();
  }

  private missedSince(lastEventId: string | undefined): LiveMessage[] | undefined {
    if (!lastEventId) return undefined;
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId.trim());
    if (!m || m[1] !== this.epoch) return undefined;
    const seq = Number(m[2]);
    if (seq > this.seq) return undefined;
    const first = this.buffer[0];
    const firstSeq = first ? seqOf(first.id) : this.seq + 1;
    // Every message after `seq` must still be in the buffer, or the page would miss one silently.
    if (seq + 1 < firstSeq) return undefined;
    return this.buffer.filter((msg) => seqOf(msg.id) > seq);
  }

  private emit(msg: LiveMessage): void {
    this.seq++;
    msg.id = this.idOf(this.seq);
    if (msg.type === "event") msg.data.id = msg.id;
    this.buffer.push(msg);
    this.bufferedItems += itemsOf(msg);
    while (this.buffer.length > this.bufferSize || (this.bufferedItems > this.bufferItems && this.buffer.length > 0)) {
      const dropped = this.buffer.shift();
      if (dropped) this.bufferedItems -= itemsOf(dropped);
    }
    for (const l of this.listeners) l(msg);
  }

  private diff(): LivePatch | undefined {
    const patch: LivePatch = {};
    let changed = false;
    const sections = this.o.sections();
    for (const [name, value] of Object.entries(sections)) {
      const json = JSON.stringify(value);
      if (this.sentSections.get(name) === json) continue;
      this.sentSections.set(name, json);
      (patch.sections ??= {})[name] = value;
      changed = true;
    }
    const names = new Set([...this.dirtyAll, ...this.dirtyKeys.keys()]);
    for (const name of names) {
      const src = this.collections.get(name);
      if (!src) continue;
      const sent = this.sent.get(name) ?? new Map<string, string>();
      this.sent.set(name, sent);
      const set: Record<string, unknown> = {};
      const del: string[] = [];
      const check = (key: string, value: unknown): void => {
        if (value === undefined) {
          if (sent.delete(key)) del.push(key);
          return;
        }
        const digest = digestOf(JSON.stringify(value));
        if (sent.get(key) === digest) return;
        sent.set(key, digest);
        set[key] = value;
      };
      if (this.dirtyAll.has(name)) {
        const seen = new Set<string>();
        for (const [k, v] of src.list()) {
          seen.add(k);
          check(k, v);
        }
        for (const k of [...sent.keys()]) if (!seen.has(k)) check(k, undefined);
      } else for (const k of this.dirtyKeys.get(name) ?? []) check(k, src.get(k));
      if (Object.keys(set).length) (patch.set ??= {})[name] = set;
      if (del.length) (patch.del ??= {})[name] = del;
      changed ||= Object.keys(set).length > 0 || del.length > 0;
    }
    this.dirtyAll.clear();
    this.dirtyKeys.clear();
    return changed ? patch : undefined;
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = this.clock.setTimeout(() => this.flush(), this.o.flushMs ?? LIVE_FLUSH_MS);
  }

  private scheduleTick(): void {
    this.tickTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.scheduleFlush();
      this.scheduleTick();
    }, this.o.sectionTickMs ?? LIVE_SECTION_TICK_MS);
  }

  private idOf(seq: number): string {
    return `${this.epoch}-${seq}`;
  }
}

/** Collection items a message carries (set or deleted); an event carries none. */
function itemsOf(msg: LiveMessage): number {
  if (msg.type !== "patch") return 0;
  let n = 0;
  for (const items of Object.values(msg.data.set ?? {})) n += Object.keys(items).length;
  for (const keys of Object.values(msg.data.del ?? {})) n += keys.length;
  return n;
}

/** A collision-safe stand-in for an item's JSON (28 characters instead of hundreds). */
function digestOf(json: string): string {
  return createHash("sha1").update(json).digest("base64");
}

function seqOf(id: string): number {
  return Number(id.slice(id.indexOf("-") + 1));
}

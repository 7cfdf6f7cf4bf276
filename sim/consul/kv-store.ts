import type { Clock } from "../core/clock.js";
import type { Raft } from "./raft.js";
import type { TimerSet } from "./timers.js";
import type { DirEntry, SessionBehavior } from "./types.js";
import { goQuote, rpcError } from "./errors.js";

/** Consul's default `tombstone_ttl`: deleted keys keep their index this long. */
export const TOMBSTONE_TTL_MS = 15 * 60_000;
/** structs.MaxLockDelay: a session's lock-delay is capped at one minute. */
export const MAX_LOCK_DELAY_MS = 60_000;

/**
 * The KV table with Consul's state-store semantics (agent/consul/state/kvs.go):
 * check-and-set, locks held by sessions, tombstones that keep a prefix's
 * index from sliding back after a delete (until they are reaped), and
 * lock-delay after a session holding a lock is invalidated.
 */
export class KvStore {
  private readonly entries = new Map<string, DirEntry>();
  /** key (or deleted prefix) -> index of the delete. */
  private readonly tombstones = new Map<string, number>();
  /** key -> sim ms until which acquiring the key is refused. */
  private readonly lockDelays = new Map<string, number>();

  constructor(
    private readonly raft: Raft,
    private readonly clock: Clock,
    private readonly timers: TimerSet,
  ) {}

  private tableIndex(): number {
    return this.raft.tableIndex("kvs", "tombstones");
  }

  /** One key. Index: the key's ModifyIndex, or the table index when the key is missing. */
  get(key: string): { index: number; entry: DirEntry | undefined } {
    const entry = this.entries.get(key);
    return { index: entry ? entry.ModifyIndex : this.tableIndex(), entry };
  }

  /**
   * Every key under `prefix`, sorted. Index: the highest ModifyIndex or
   * tombstone under the prefix; the table index for the empty prefix or
   * when there is neither.
   */
  list(prefix: string): { index: number; entries: DirEntry[] } {
    const entries = [...this.entries.values()].filter((e) => e.Key.startsWith(prefix)).sort((a, b) => cmp(a.Key, b.Key));
    let lindex = Math.max(0, ...entries.map((e) => e.ModifyIndex));
    if (prefix !== "") {
      for (const [k, idx] of this.tombstones) if (k.startsWith(prefix) && idx > lindex) lindex = idx;
    } else {
      lindex = this.tableIndex();
    }
    return { index: lindex !== 0 ? lindex : this.tableIndex(), entries };
  }

  /** Keys under `prefix`, folded at the first `separator` after it (KVS.ListKeys). */
  keys(prefix: string, separator: string): { index: number; keys: string[] } {
    const { index, entries } = this.list(prefix);
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      if (separator === "") {
        keys.push(e.Key);
        continue;
      }
      const at = e.Key.indexOf(separator, prefix.length);
      if (at === -1) {
        keys.push(e.Key);
        continue;
      }
      const folded = e.Key.slice(0, at + separator.length);
      if (!seen.has(folded)) {
        seen.add(folded);
        keys.push(folded);
      }
    }
    return { index, keys };
  }

  /** A plain PUT: keeps the holder's session; LockIndex comes from the request (0), as kvsSetTxn does. */
  set(key: string, flags: number, value: Buffer): void {
    const idx = this.raft.next();
    const existing = this.entries.get(key);
    this.write(idx, { Key: key, Flags: flags, Value: value, LockIndex: 0, Session: existing?.Session ?? "" });
  }

  /** `?cas=N`: 0 writes only a new key; N writes only when N is the key's ModifyIndex. */
  cas(key: string, flags: number, value: Buffer, casIndex: number): boolean {
    const idx = this.raft.next();
    const existing = this.entries.get(key);
    if (casIndex === 0 && existing) return false;
    if (casIndex !== 0 && (!existing || existing.ModifyIndex !== casIndex)) return false;
    this.write(idx, { Key: key, Flags: flags, Value: value, LockIndex: 0, Session: existing?.Session ?? "" });
    return true;
  }

  /** True while a lock-delay set by an invalidated session still covers `key`. */
  lockDelayed(key: string): boolean {
    const until = this.lockDelays.get(key);
    if (until === undefined) return false;
    if (until > this.clock.now()) return true;
    this.lockDelays.delete(key);
    return false;
  }

  /**
   * `?acquire=session`. The caller has already applied lock-delay (Consul
   * does that before the Raft apply). Throws the state store's errors for a
   * missing or unknown session.
   */
  lock(key: string, flags: number, value: Buffer, session: string, sessionExists: (id: string) => boolean): boolean {
    const idx = this.raft.next();
    if (session === "") throw rpcError("missing session");
    if (!sessionExists(session)) throw rpcError(`invalid session ${goQuote(session)}`);
    const existing = this.entries.get(key);
    let lockIndex = 1;
    if (existing) {
      if (existing.Session === session) lockIndex = existing.LockIndex;
      else if (existing.Session !== "") return false;
      else lockIndex = existing.LockIndex + 1;
    }
    this.write(idx, { Key: key, Flags: flags, Value: value, LockIndex: lockIndex, Session: session });
    return true;
  }

  /** `?release=session`: only the holder may release; LockIndex is kept. */
  unlock(key: string, flags: number, value: Buffer, session: string): boolean {
    const idx = this.raft.next();
    if (session === "") throw rpcError("missing session");
    const existing = this.entries.get(key);
    if (!existing || existing.Session !== session) return false;
    this.write(idx, { Key: key, Flags: flags, Value: value, LockIndex: existing.LockIndex, Session: "" });
    return true;
  }

  delete(key: string): void {
    const idx = this.raft.next();
    this.remove(idx, key);
  }

  /** `DELETE ?cas=N`: true also when the key is already gone (kvsDeleteCASTxn). */
  deleteCas(key: string, casIndex: number): boolean {
    const idx = this.raft.next();
    const existing = this.entries.get(key);
    if (!existing || existing.ModifyIndex !== casIndex) return existing === undefined;
    this.remove(idx, key);
    return true;
  }

  /** `DELETE ?recurse`: one tombstone for the prefix, none when the whole tree goes. */
  deleteTree(prefix: string): void {
    const idx = this.raft.next();
    const doomed = [...this.entries.keys()].filter((k) => k.startsWith(prefix));
    if (doomed.length === 0) return;
    for (const k of doomed) this.entries.delete(k);
    if (prefix !== "") this.bury(idx, prefix);
    this.raft.touch("kvs", idx);
  }

  /** Keys whose lock `session` holds. */
  heldBy(session: string): DirEntry[] {
    return [...this.entries.values()].filter((e) => e.Session === session);
  }

  /**
   * A session ended (destroyed, expired, or its check failed): release or
   * delete what it held, per its behavior, and start the lock-delay.
   */
  invalidateSession(session: string, behavior: SessionBehavior, lockDelayNs: number): void {
    const held = this.heldBy(session);
    if (held.length === 0) return;
    const idx = this.raft.next();
    const delayMs = Math.min(lockDelayNs / 1e6, MAX_LOCK_DELAY_MS);
    const now = this.clock.now();
    for (const e of held) {
      if (behavior === "release") this.write(idx, { ...e, Session: "" });
      else this.remove(idx, e.Key);
      if (delayMs > 0) this.lockDelays.set(e.Key, now + delayMs);
    }
  }

  /**
   * Reaps every tombstone now (the leader does this after `tombstone_ttl`).
   * A prefix whose only history was deletes then reports a lower index:
   * one way a client sees X-Consul-Index go backwards.
   */
  reapTombstones(): number {
    const n = this.tombstones.size;
    if (n === 0) return 0;
    const idx = this.raft.next();
    for (const k of this.tombstones.keys()) this.timers.cancel(`tombstone:${k}`);
    this.tombstones.clear();
    this.raft.touch("tombstones", idx);
    return n;
  }

  /** All entries (inspection for tests). */
  all(): DirEntry[] {
    return [...this.entries.values()].sort((a, b) => cmp(a.Key, b.Key));
  }

  private write(idx: number, next: Omit<DirEntry, "CreateIndex" | "ModifyIndex">): void {
    const existing = this.entries.get(next.Key);
    if (existing && sameEntry(existing, next)) return; // Consul skips no-op writes: ModifyIndex stays
    this.entries.set(next.Key, { ...next, CreateIndex: existing?.CreateIndex ?? idx, ModifyIndex: idx });
    this.raft.touch("kvs", idx);
  }

  private remove(idx: number, key: string): void {
    if (!this.entries.delete(key)) return;
    this.bury(idx, key);
    this.raft.touch("kvs", idx);
  }

  private bury(idx: number, key: string): void {
    this.tombstones.set(key, idx);
    this.raft.touch("tombstones", idx);
    this.timers.set(`tombstone:${key}`, TOMBSTONE_TTL_MS, () => {
      if (this.tombstones.get(key) !== idx) return;
      this.tombstones.delete(key);
      this.raft.touch("tombstones", this.raft.next());
    });
  }
}

function sameEntry(a: DirEntry, b: Omit<DirEntry, "CreateIndex" | "ModifyIndex">): boolean {
  return a.LockIndex === b.LockIndex && a.Flags === b.Flags && a.Session === b.Session && a.Value.equals(b.Value);
}

/** Byte order, as Consul's radix tree sorts keys. */
function cmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

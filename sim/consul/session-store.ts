import type { Raft } from "./raft.js";
import type { TimerSet } from "./timers.js";
import type { KvStore } from "./kv-store.js";
import type { CatalogStore, SessionInvalidator } from "./catalog-store.js";
import type { Session, SessionBehavior } from "./types.js";
import { rpcError } from "./errors.js";
import { goDurationString, parseDuration } from "./durations.js";

/** Consul's default `session_ttl_min` and structs.SessionTTLMax. */
export const SESSION_TTL_MIN_MS = 10_000;
export const SESSION_TTL_MAX_MS = 24 * 3_600_000;
/**
 * structs.SessionTTLMultiplier. The leader arms each session's timer at
 * TTL x 2 from its creation or last renewal ("not expired before the TTL,
 * no explicit upper bound"); the sim does exactly that.
 */
export const SESSION_TTL_MULTIPLIER = 2;

/** A session create request after the HTTP layer applied its defaults. */
export interface SessionInput {
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: string;
  TTL: string;
  NodeChecks: string[] | null;
  ServiceChecks: Array<{ ID: string; Namespace: string }> | null;
  Checks: string[] | null;
}

/**
 * Sessions (agent/consul/session_endpoint.go and state/session.go): create
 * with the server's validations, TTL expiry, and invalidation when a check
 * the session names goes critical or its node leaves. Invalidating releases
 * or deletes the session's locks and starts their lock-delay.
 */
export class SessionStore implements SessionInvalidator {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly raft: Raft,
    private readonly kv: KvStore,
    private readonly catalog: CatalogStore,
    private readonly timers: TimerSet,
    private readonly newId: () => string,
  ) {}

  /** Creates a session and returns its ID, or throws Consul's error (HTTP 500). */
  create(input: SessionInput): string {
    if (input.Node === "") throw rpcError("Must provide Node");
    let behavior: SessionBehavior;
    if (input.Behavior === "" || input.Behavior === "release") behavior = "release";
    else if (input.Behavior === "delete") behavior = "delete";
    else throw rpcError(`Invalid Behavior setting '${input.Behavior}'`);
    const ttlMs = this.validateTtl(input.TTL);
    const idx = this.raft.next();
    if (!this.catalog.node(input.Node)) throw rpcError("Missing node registration");
    const checkIds = [...(input.NodeChecks ?? []), ...(input.Checks ?? []), ...(input.ServiceChecks ?? []).map((c) => c.ID)];
    for (const id of checkIds) {
      const check = this.catalog.check(input.Node, id);
      if (!check) throw rpcError(`Missing check '${id}' registration`);
      if (check.Status === "critical") throw rpcError(`Check '${id}' is in critical state`);
    }
    let id = this.newId();
    while (this.sessions.has(id)) id = this.newId();
    this.sessions.set(id, {
      ID: id,
      Name: input.Name,
      Node: this.catalog.node(input.Node)?.Node ?? input.Node,
      LockDelay: input.LockDelay,
      Behavior: behavior,
      TTL: input.TTL,
      NodeChecks: input.NodeChecks,
      ServiceChecks: input.ServiceChecks,
      Checks: input.Checks,
      CreateIndex: idx,
      ModifyIndex: idx,
    });
    this.raft.touch("sessions", idx);
    if (ttlMs > 0) this.armTimer(id, ttlMs);
    return id;
  }

  /** Ends a session (idempotent): its locks are released or deleted, then lock-delay applies. */
  destroy(id: string): void {
    const s = this.sessions.get(id);
    this.timers.cancel(`session:${id}`);
    const idx = this.raft.next();
    if (!s) return;
    this.sessions.delete(id);
    this.raft.touch("sessions", idx);
    this.kv.invalidateSession(id, s.Behavior, s.LockDelay);
  }

  /** Restarts the TTL timer; undefined when the session does not exist. */
  renew(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const ttl = parseDuration(s.TTL);
    if (s.TTL !== "" && ttl.ok && ttl.ms > 0) this.armTimer(id, ttl.ms);
    return s;
  }

  exists(id: string): boolean {
    return this.sessions.has(id);
  }

  get(id: string): { index: number; sessions: Session[] } {
    const s = this.sessions.get(id);
    return { index: this.raft.tableIndex("sessions"), sessions: s ? [s] : [] };
  }

  list(): { index: number; sessions: Session[] } {
    return { index: this.raft.tableIndex("sessions"), sessions: [...this.sessions.values()].sort(byId) };
  }

  forNode(node: string): { index: number; sessions: Session[] } {
    const n = node.toLowerCase();
    return { index: this.raft.tableIndex("sessions"), sessions: [...this.sessions.values()].filter((s) => s.Node.toLowerCase() === n).sort(byId) };
  }

  checkLost(node: string, checkId: string): void {
    for (const s of this.onNode(node)) {
      const ids = [...(s.NodeChecks ?? []), ...(s.Checks ?? []), ...(s.ServiceChecks ?? []).map((c) => c.ID)];
      if (ids.includes(checkId)) this.destroy(s.ID);
    }
  }

  nodeLost(node: string): void {
    for (const s of this.onNode(node)) this.destroy(s.ID);
  }

  private onNode(node: string): Session[] {
    return [...this.sessions.values()].filter((s) => s.Node.toLowerCase() === node.toLowerCase());
  }

  private armTimer(id: string, ttlMs: number): void {
    this.timers.set(`session:${id}`, ttlMs * SESSION_TTL_MULTIPLIER, () => this.destroy(id));
  }

  /** Session.Apply's TTL check; returns the TTL in ms (0 = none). */
  private validateTtl(ttl: string): number {
    if (ttl === "") return 0;
    const parsed = parseDuration(ttl);
    if (!parsed.ok) throw rpcError(`Session TTL '${ttl}' invalid: ${parsed.error}`);
    const ms = parsed.ms;
    if (ms !== 0 && (ms < SESSION_TTL_MIN_MS || ms > SESSION_TTL_MAX_MS)) {
      throw rpcError(
        `Invalid Session TTL '${Math.round(ms * 1e6)}', must be between [${goDurationString(SESSION_TTL_MIN_MS)}=${goDurationString(SESSION_TTL_MAX_MS)}]`,
      );
    }
    return ms;
  }
}

function byId(a: Session, b: Session): number {
  return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

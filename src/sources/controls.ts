import { isDeepStrictEqual } from "node:util";
import { CONSUL_CONTROL_PREFIX, WATCH_BLOCKING_WAIT_MS } from "../config/defaults.js";
import type { FreezeNote } from "../reconciler/core/freeze.js";
import type { ConsulClient, KvEntry } from "./consul.js";
import { folderPrefix } from "./consul-kv-tree.js";
import { Watch, type WatchOptions, type WatchQuery } from "./watch.js";

/**
 * One runtime switch under the control prefix (`steward/control/`):
 * - `pause`: every loop stops acting (plans still run and say `Paused`);
 * - `pause/<service>`: only that service's jobs;
 * - `sync-now`: each write asks for a full resync (its ModifyIndex moves;
 *   Consul skips a write of the value already stored, so write a new one,
 *   e.g. the time);
 * - `prune-override/<env>`: the next prune in that environment may exceed
 *   the share guard (the loop deletes the key once it used it);
 * - `freeze/<env>`: nothing is deployed to that environment: sync writes
 *   nothing there (its plans still run and say `Frozen`) and promotion
 *   starts no stage there. Healing is not frozen;
 * - `ack-short-circuit/<pool>`: an operator acknowledged the pool's
 *   short-circuit, so healing replaces within its other guards; the healing
 *   loop deletes the key once the pool is no longer short-circuited.
 */
export type ControlSwitch =
  | { kind: "pause"; service?: string }
  | { kind: "sync-now" }
  | { kind: "prune-override"; env: string }
  | { kind: "freeze"; env: string }
  | { kind: "ack-short-circuit"; pool: string };

/** An `ack-short-circuit/<pool>` switch as read: its note, and the ModifyIndex its removal must check against. */
export interface ShortCircuitAckNote {
  by?: string;
  reason?: string;
  /** ISO 8601. */
  at?: string;
  modifyIndex: number;
}

/** The switches as they stand. Built by `controlsFromEntries`; never mutated. */
export interface Controls {
  /** X-Consul-Index of the answer these came from; 0 before the first. */
  index: number;
  paused: { all: boolean; services: ReadonlySet<string> };
  /** ModifyIndex of `sync-now`; 0 when the key is absent. A change asks for a resync (`syncNowRequested`). */
  syncNowIndex: number;
  /**
   * The scope the latest `sync-now` note names (`{"env":"qa"}`, `{"service":"web"}`):
   * only those jobs are woken. Empty (a full pass) when the note names none or is not JSON.
   */
  syncNowScope: { env?: string; service?: string };
  /** Environments whose prune share guard is lifted for the next prune. */
  pruneOverride: ReadonlySet<string>;
  /** Frozen environments, each with its note (who, why, when). */
  frozen: ReadonlyMap<string, FreezeNote>;
  /** Pools whose short-circuit an operator acknowledged, with the note (who, why, when). */
  shortCircuitAcks: ReadonlyMap<string, ShortCircuitAckNote>;
  /** The value of each switch that is on (a note: who, why, when), keyed by its path under the prefix (`pause/web`). */
  notes: ReadonlyMap<string, string>;
  /** Keys under the prefix that name no known switch (a typo like `pasue`), for a warning. */
  unknown: readonly string[];
}

/** No switch on: what holds before the first answer and when the prefix is empty. */
export const NO_CONTROLS: Controls = {
  index: 0,
  paused: { all: false, services: new Set() },
  syncNowIndex: 0,
  syncNowScope: {},
  pruneOverride: new Set(),
  frozen: new Map(),
  shortCircuitAcks: new Map(),
  notes: new Map(),
  unknown: [],
};

/** A name segment Steward accepts after `pause/`, `prune-override/` or `freeze/`: one path segment, no spaces. */
const NAME = /^[A-Za-z0-9._-]+$/;

/** The switch's path under the control prefix: `pause`, `pause/web`, `sync-now`, `prune-override/prod`, `freeze/prod`. */
export function controlPath(s: ControlSwitch): string {
  switch (s.kind) {
    case "pause":
      return s.service === undefined ? "pause" : `pause/${s.service}`;
    case "sync-now":
      return "sync-now";
    case "prune-override":
      return `prune-override/${s.env}`;
    case "freeze":
      return `freeze/${s.env}`;
    case "ack-short-circuit":
      return `ack-short-circuit/${s.pool}`;
  }
}

/** The switch a path under the prefix names, or undefined when it names none. */
export function parseControlPath(path: string): ControlSwitch | undefined {
  if (path === "pause") return { kind: "pause" };
  if (path === "sync-now") return { kind: "sync-now" };
  const [head, name, ...rest] = path.split("/");
  if (name === undefined || rest.length > 0 || !NAME.test(name)) return undefined;
  if (head === "pause") return { kind: "pause", service: name };
  if (head === "prune-override") return { kind: "prune-override", env: name };
  if (head === "freeze") return { kind: "freeze", env: name };
  if (head === "ack-short-circuit") return { kind: "ack-short-circuit", pool: name };
  return undefined;
}

/**
 * Whether a switch's value turns it off rather than on: `false`, `0`, `off`
 * or `no` (any case), so `consul kv put steward/control/pause false` does what
 * it says. Any other value, empty included, leaves the switch on.
 */
export function isOffValue(value: Buffer): boolean {
  return ["false", "0", "off", "no"].includes(value.toString("utf8").trim().toLowerCase());
}

/** The switches the entries under `prefix` turn on. Folder keys are skipped; unknown keys are listed, not fatal. */
export function controlsFromEntries(prefix: string, entries: readonly KvEntry[], index: number): Controls {
  const root = folderPrefix(prefix);
  let all = false;
  let syncNowIndex = 0;
  let syncNowScope: Controls["syncNowScope"] = {};
  const services = new Set<string>();
  const pruneOverride = new Set<string>();
  const frozen = new Map<string, FreezeNote>();
  const shortCircuitAcks = new Map<string, ShortCircuitAckNote>();
  const notes = new Map<string, string>();
  const unknown: string[] = [];
  for (const e of entries) {
    if (!e.key.startsWith(root) || e.key.endsWith("/")) continue;
    const path = e.key.slice(root.length);
    const s = parseControlPath(path);
    if (!s) {
      unknown.push(path);
      continue;
    }
    // sync-now is an event, not a state: any write counts, whatever it holds.
    if (s.kind === "sync-now") {
      syncNowIndex = e.modifyIndex;
      syncNowScope = syncNowScopeOf(e.value);
      continue;
    }
    if (isOffValue(e.value)) continue;
    notes.set(path, e.value.toString("utf8"));
    if (s.kind === "prune-override") pruneOverride.add(s.env);
    else if (s.kind === "freeze") frozen.set(s.env, freezeNoteOf(e.value));
    else if (s.kind === "ack-short-circuit") shortCircuitAcks.set(s.pool, { ...freezeNoteOf(e.value), modifyIndex: e.modifyIndex });
    else if (s.service === undefined) all = true;
    else services.add(s.service);
  }
  return { index, paused: { all, services }, syncNowIndex, syncNowScope, pruneOverride, frozen, shortCircuitAcks, notes, unknown };
}

/**
 * A freeze (or short-circuit acknowledgement) switch's note: `{by, reason,
 * at}` as `steward freeze` and the UI write it. A value that is not such
 * JSON (`consul kv put steward/control/freeze/prod "release night"`) is the
 * reason itself.
 */
export function freezeNoteOf(value: Buffer): FreezeNote {
  const text = value.toString("utf8").trim();
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text ? { reason: text.slice(0, 200) } : {};
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return text ? { reason: text.slice(0, 200) } : {};
  const o = v as Record<string, unknown>;
  return {
    ...(typeof o.by === "string" && o.by ? { by: o.by } : {}),
    ...(typeof o.reason === "string" && o.reason ? { reason: o.reason } : {}),
    ...(typeof o.at === "string" && o.at ? { at: o.at } : {}),
  };
}


/** The `env` and `service` a sync-now note names, when they are names; else none (a full pass). */
function syncNowScopeOf(value: Buffer): Controls["syncNowScope"] {
  let note: unknown;
  try {
    note = JSON.parse(value.toString("utf8"));
  } catch {
    return {};
  }
  if (note === null || typeof note !== "object") return {};
  const { env, service } = note as Record<string, unknown>;
  return {
    ...(typeof env === "string" && NAME.test(env) ? { env } : {}),
    ...(typeof service === "string" && NAME.test(service) ? { service } : {}),
  };
}

/** Whether `next` asks for a resync that `prev` did not: `sync-now` was written since. The first answer never does (startup syncs anyway). */
export function syncNowRequested(prev: Controls | undefined, next: Controls): boolean {
  return prev !== undefined && prev.index > 0 && next.syncNowIndex !== 0 && next.syncNowIndex !== prev.syncNowIndex;
}

/** Whether a service's jobs are paused, by `pause` or `pause/<service>`. */
export function isPaused(c: Controls, service: string | undefined): boolean {
  return c.paused.all || (service !== undefined && c.paused.services.has(service));
}

/** The blocking query behind the controls watch: one recursive read of the prefix. */
export function controlsQuery(consul: ConsulClient, prefix: string, waitMs = WATCH_BLOCKING_WAIT_MS): WatchQuery<Controls> {
  const root = folderPrefix(prefix);
  return {
    name: "consul-kv",
    async fetch(index, signal, options) {
      const { meta, entries } = await consul.kvList(root, { index, waitMs, allowStale: options.allowStale, signal, context: { endpoint: `GET /v1/kv/${root}` } });
      return { index: meta.index, data: controlsFromEntries(root, entries, meta.index), lastContactMs: meta.lastContactMs };
    },
  };
}

/** Called with the new switches and the ones before (undefined at the first answer). */
export type ControlsListener = (next: Controls, prev: Controls | undefined) => void;

/** Options of a `ControlsSource`. */
export interface ControlsSourceOptions extends Omit<WatchOptions<Controls>, "query" | "onChange" | "equal"> {
  consul: ConsulClient;
  /** @default CONSUL_CONTROL_PREFIX ("steward/control/") */
  prefix?: string;
  /** Server-side wait of each blocking query. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  waitMs?: number;
}

/**
 * The runtime switches, watched with one recursive blocking query on the
 * control prefix. `current` is `NO_CONTROLS` until the first answer (so
 * nothing is paused by a Consul that has not answered yet: the loops do not
 * act before they are synced anyway). Listeners hear each change that
 * matters; a new index with the same switches wakes nobody.
 */
export class ControlsSource {
  private readonly watch: Watch<Controls>;
  private readonly listeners = new Set<ControlsListener>();
  private latest: Controls | undefined;
  /** The watched prefix, ending in `/`. */
  readonly prefix: string;

  constructor(options: ControlsSourceOptions) {
    const { consul, prefix, waitMs, ...watchOptions } = options;
    this.prefix = folderPrefix(prefix ?? CONSUL_CONTROL_PREFIX);
    this.watch = new Watch<Controls>({
      ...watchOptions,
      query: controlsQuery(consul, this.prefix, waitMs),
      onChange: (next) => this.deliver(next),
      equal: (a, b) => isDeepStrictEqual({ ...a, index: 0 }, { ...b, index: 0 }),
    });
  }

  /** The switches as last seen; NO_CONTROLS before the first answer. */
  get current(): Controls {
    return this.latest ?? NO_CONTROLS;
  }

  /** Adds a listener; returns a function that removes it. A listener that throws is logged by the watch; the others still run. */
  onChange(listener: ControlsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts watching. Call once. */
  start(): void {
    this.watch.start();
  }

  /** Stops the watch and waits for its loop to end. */
  stop(): Promise<void> {
    return this.watch.stop();
  }

  /** True once the first answer was delivered. */
  get synced(): boolean {
    return this.watch.synced;
  }

  /** Resolves at the first answer. */
  whenSynced(): Promise<void> {
    return this.watch.whenSynced();
  }

  private deliver(next: Controls): void {
    const prev = this.latest;
    this.latest = next;
    let failure: Error | undefined;
    for (const l of this.listeners) {
      try {
        l(next, prev);
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error("controls listener threw", { cause: err });
      }
    }
    // Every listener ran; the first failure goes to the watch, which logs it.
    if (failure) throw failure;
  }
}

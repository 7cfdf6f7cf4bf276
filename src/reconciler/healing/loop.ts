import { randomUUID } from "node:crypto";
import path from "node:path";
import {
  HEALING_APPLY_BACKOFF_BASE_MS,
  HEALING_APPLY_BACKOFF_CAP_MS,
  HEALING_BOOT_TIMEOUT_MS,
  HEALING_RESYNC_INTERVAL_MS,
  HEALING_STATE_MAX_AGE_MS,
  HEALING_WATCH_WAIT_MS,
  TERRAFORM_APPLY_TIMEOUT_MS,
} from "../../config/defaults.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import type { DesiredState, EnvironmentSpec, PoolSpec } from "../../model/types.js";
import type { IncidentStore } from "../../actuators/healing-journal.js";
import type { NomadNodesActuator } from "../../actuators/nomad-nodes.js";
import type { ConsulCatalogActuator } from "../../actuators/consul-catalog.js";
import type { ConsulHealthReader, ConsulNode, SerfHealthByNode } from "../../sources/consul-health.js";
import type { NomadNodeStub, NomadNodesReader, RaftServer, AutopilotHealth } from "../../sources/nomad-nodes.js";
import { Watch } from "../../sources/watch.js";
import { systemClock, type Clock } from "../core/clock.js";
import { Runner, type PassContext, type RunnerOptions } from "../core/runner.js";
import { ConflictError, type ActionRecord, type PassResult } from "../core/outcome.js";
import type { KeyStatus } from "../core/status.js";
import { advanceIncident, newIncident, type IncidentEntry, type IncidentRecord } from "./journal.js";
import { createHealingMetrics, initPoolMetrics, type HealingMetrics } from "./metrics.js";
import { CONSUL_NODES, HealingCache, observeHealing, stateKey, type CachedNode } from "./observe.js";
import { describeAck, planHealing, type HealingAction, type HealingPlan, type InstanceObservation, type NodeRef, type RaftHealth, type ShortCircuitAck } from "./plan.js";
import { appendProgress, createRedactor, progressLineOf, type ApplyProgress, type ProgressLine, type TerraformProgressEvent } from "./progress.js";

/** One Terraform diagnostic, as the runner reports it. */
export interface HealingDiagnostic {
  severity: string;
  summary: string;
  detail?: string;
}

/** What healing needs of one apply's result (a subset of actuators/terraform.ts's ApplyResult). */
export interface HealingApplyResult {
  ok: boolean;
  durationMs: number;
  timedOut: boolean;
  lockError: boolean;
  diagnostics: readonly HealingDiagnostic[];
  exitCode: number | null;
}

/**
 * The Terraform runner as healing uses it: actuators/terraform.ts's
 * TerraformRunner satisfies it (a seam for tests with a fake runner).
 */
export interface HealingTerraform {
  /** Whether a command runs (or waits) in `dir` now. */
  isBusy(dir: string): boolean;
  /** `onProgress` hears each `-json` UI message as it arrives (actuators/terraform.ts's TerraformEvent). */
  apply(req: { dir: string; workspace?: string; replace?: readonly string[]; onProgress?: (e: TerraformProgressEvent) => void }): Promise<HealingApplyResult>;
  /** The resource instances of the state (`terraform show -json`). */
  state(dir: string, workspace?: string): Promise<Array<{ address: string; type: string; values: Record<string, unknown> }>>;
}

/** The apply budget as healing uses it: reconciler/healing/budget.ts's ApplyBudget satisfies it. */
export interface HealingBudget {
  view(dir: string, now: number): { available: number; nextAt: number };
  take(dir: string, now: number): boolean;
  refund(dir: string, now: number): void;
}

/** One environment's Nomad, for healing. */
export interface HealingNomad {
  reader: NomadNodesReader;
  actuator: NomadNodesActuator;
}

/** Options of a HealingLoop. Durations in milliseconds (of `clock`). */
export interface HealingLoopOptions {
  // ── the world ──
  nomad: (env: EnvironmentSpec) => HealingNomad;
  consul: { reader: ConsulHealthReader; catalog: ConsulCatalogActuator };
  terraform: HealingTerraform;
  budget: HealingBudget;
  journal: IncidentStore;
  /**
   * EC2 by tag (sources/ec2.ts): the live state of the pool's instances and
   * the orphans. Without it, instance states are the Terraform state's (as
   * of its last refresh), so a terminated instance is replaced, not recreated.
   */
  instances?: { listByTag(key: string, value: string): Promise<Array<{ id: string; state: string }>> };
  /** A pool's `terraform.dir` is relative to this. @default the working directory */
  terraformRoot?: string;
  /**
   * Deletes a pool's spent short-circuit acknowledgement
   * (`ack-short-circuit/<pool>`), check-and-set on the ModifyIndex it was
   * read at, so a newer one is never deleted. wire.ts passes the controls
   * writer. Without it a spent acknowledgement stays (and is reported).
   * @throws ConflictError when it was written again since
   */
  clearAck?: (pool: string, modifyIndex: number) => Promise<void>;

  // ── timing ──
  /** @default HEALING_WATCH_WAIT_MS (60 s) */
  watchWaitMs?: number;
  /** @default HEALING_STATE_MAX_AGE_MS (60 s) */
  stateMaxAgeMs?: number;
  /** @default HEALING_BOOT_TIMEOUT_MS (10 min) */
  bootTimeoutMs?: number;
  /** The runner's apply deadline, so a dead leader's apply is known to be over after it. @default TERRAFORM_APPLY_TIMEOUT_MS (15 min) */
  applyTimeoutMs?: number;
  /** First and longest wait after a failed apply, doubled per failure. @default HEALING_APPLY_BACKOFF_BASE_MS / _CAP_MS */
  applyBackoff?: { baseMs: number; capMs: number };
  /** Time of decisions and timers: a sim Clock in tests. @default systemClock */
  clock?: Clock;
  runner?: Partial<Pick<RunnerOptions<string>, "workers" | "resyncIntervalMs" | "queue" | "random">>;

  // ── recording ──
  logger: Logger;
  metrics?: StewardMetrics;
  onStatus?: (s: KeyStatus) => void;
  /** A pool's apply printed a progress line (the live UI refreshes that pool). */
  onProgress?: (pool: string) => void;
  /**
   * Redacts a Terraform progress line before it is kept for the status.
   * @default createRedactor() (every registered credential, and credential-shaped text)
   */
  redact?: (text: string) => string;
}

/** One pool as the status shows it: the last plan's summary and actions. */
export interface PoolStatus {
  pool: string;
  env: string;
  role: "worker" | "server";
  at: number;
  summary: HealingPlan["summary"];
  actions: Array<{ kind: string; reason: string; message: string }>;
  /** Terraform applies the budget (per directory and global, the smaller) still allows this window. */
  budgetTokens: number;
  /** The operator's acknowledgement of the short-circuit while it is in Consul KV (who, why, when); `summary.shortCircuitAcknowledged` says whether it is in use. */
  shortCircuitAck?: ShortCircuitAck;
  incidents: Array<
    Pick<IncidentRecord, "nodeName" | "address" | "step" | "attempts" | "lastError" | "unhealthySince" | "applyStartedAt" | "finishedAt"> & {
      /** The last lines (at most HEALING_PROGRESS_LINES) of the incident's latest apply, while it is not done; only on the instance that ran it. Redacted. */
      progress?: ProgressLine[];
    }
  >;
}

/**
 * The healing loop: keeps each pool's nodes healthy by replacing lost ones
 * through Terraform. Standbys run the watches (history and caches stay warm);
 * only the leader runs the runner, so only the leader writes. One key per
 * pool; every event maps to the pools of its environment.
 */
export class HealingLoop {
  readonly cache = new HealingCache();
  private desired: DesiredState | undefined;
  private readonly watches = new Map<string, Watch<unknown>>();
  private runner: Runner<string> | undefined;
  private readonly clock: Clock;
  private readonly metrics: HealingMetrics | undefined;
  private readonly lastPlans = new Map<string, PoolStatus>();
  private readonly stateReads = new Map<string, Promise<void>>();

  private readonly redact: (text: string) => string;

  constructor(private readonly o: HealingLoopOptions) {
    this.clock = o.clock ?? systemClock;
    this.metrics = o.metrics ? createHealingMetrics(o.metrics.registry) : undefined;
    this.redact = o.redact ?? createRedactor();
  }

  get leading(): boolean {
    return this.runner !== undefined;
  }

  /** The pools of the desired state in force. */
  get pools(): PoolSpec[] {
    return this.desired?.pools ?? [];
  }

  /** Takes the desired state in force (pools and environments); starts or stops watches to match. */
  setDesired(state: DesiredState): void {
    this.desired = state;
    for (const p of state.pools) if (this.metrics) initPoolMetrics(this.metrics, p.name);
    this.ensureWatches();
    this.wakeAll();
  }

  /** Starts acting: loads the journal, then runs every pool. */
  async lead(): Promise<void> {
    if (this.runner) return;
    await this.loadJournal();
    const r = this.o.runner ?? {};
    this.runner = new Runner<string>({
      loop: "healing",
      keyOf: (k) => k,
      keyFields: (k) => ({ pool: k }),
      reconcile: (key, ctx) => this.reconcile(key, ctx),
      listKeys: () => this.pools.map((p) => p.name),
      logger: this.o.logger,
      clock: this.clock,
      resyncIntervalMs: HEALING_RESYNC_INTERVAL_MS,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      ...(this.o.onStatus ? { onStatus: this.o.onStatus } : {}),
      ...r,
    });
    this.runner.start();
    this.o.logger.info({ loop: "healing" }, "healing: leading; replacements enabled");
  }

  /** Stops acting (leadership lost); the watches keep the caches warm. An apply in flight finishes. */
  async standBy(): Promise<void> {
    const r = this.runner;
    this.runner = undefined;
    if (r) await r.stop();
    // Plans a standby keeps would go stale: only the leader's are shown.
    this.lastPlans.clear();
  }

  async stop(): Promise<void> {
    await this.standBy();
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    this.watches.clear();
  }

  /**
   * Takes the short-circuit acknowledgements as the controls watch last read
   * them (pool → note and ModifyIndex); wakes the pools whose one changed.
   */
  setAcks(acks: ReadonlyMap<string, ShortCircuitAck & { modifyIndex: number }>): void {
    const before = this.cache.acks;
    this.cache.acks = new Map(acks);
    for (const p of this.pools) {
      const ack = acks.get(p.name);
      if (before.get(p.name)?.modifyIndex === ack?.modifyIndex) continue;
      // The leader says so once per acknowledgement; the pass that uses it says why in its plan.
      if (ack && this.runner) this.o.logger.warn({ loop: "healing", pool: p.name, by: ack.by, reason: "ShortCircuitAcknowledged" }, `healing: the short-circuit of pool ${p.name} was acknowledged${describeAck(ack)}`);
      this.runner?.add(p.name);
    }
  }

  wakeAll(): void {
    for (const p of this.pools) this.runner?.add(p.name);
  }

  /** Statuses of the pools' passes (empty on a standby). */
  statuses(): KeyStatus[] {
    return this.runner?.status.list() ?? [];
  }

  /**
   * Each pool's last plan, for /api/status and `steward status`, with the
   * incidents as the journal has them now (a step written mid-pass, such as
   * `applying`, and the apply's progress lines show while they last).
   */
  poolStatuses(): PoolStatus[] {
    return [...this.lastPlans.values()].map((p) => ({ ...p, incidents: incidentViews(this.cache.incidents.values(), p.pool, this.cache.progress) }));
  }

  /** Resolves when every watch has answered once. */
  async whenSynced(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.whenSynced()));
  }

  /** The absolute working directory of a pool. */
  dirOf(pool: PoolSpec): string {
    return path.resolve(this.o.terraformRoot ?? ".", pool.terraform.dir);
  }

  /**
   * Observes and plans one pool, reading what the caches cannot answer (the
   * Terraform state when old, Raft health for servers). Changes nothing:
   * `steward plan` uses it as it is.
   */
  async planPool(name: string, now: number): Promise<HealingPlan | undefined> {
    const pool = this.pools.find((p) => p.name === name);
    if (!pool) return undefined;
    const dir = this.dirOf(pool);
    await this.ensureState(pool, dir, now);
    if (pool.role === "server") await this.readQuorum(pool);
    const view = this.o.budget.view(dir, now);
    const snapshot = observeHealing(this.cache, {
      pool,
      dir,
      budget: { tokens: view.available, nextTokenInMs: Math.max(0, view.nextAt - now), dirBusy: this.o.terraform.isBusy(dir) },
      timing: { applyTimeoutMs: this.o.applyTimeoutMs ?? TERRAFORM_APPLY_TIMEOUT_MS, bootTimeoutMs: this.o.bootTimeoutMs ?? HEALING_BOOT_TIMEOUT_MS },
      stateMaxAgeMs: this.o.stateMaxAgeMs ?? HEALING_STATE_MAX_AGE_MS,
      now,
    });
    const plan = planHealing(snapshot, now);
    this.record(pool, plan, view.available, now);
    return plan;
  }

  /** One pass over one pool: observe, plan, act in order, stop at the first failure. */
  async reconcile(name: string, ctx: PassContext): Promise<PassResult> {
    const now = this.clock.now();
    const plan = await this.planPool(name, now);
    const pool = this.pools.find((p) => p.name === name);
    if (!plan || !pool) return { actions: [] };
    for (const action of plan.actions) {
      if (ctx.signal.aborted) break;
      ctx.recordAction(await this.act(pool, action, ctx));
    }
    return { actions: [], ...(plan.recheckAfterMs !== undefined ? { recheckAfterMs: plan.recheckAfterMs } : {}) };
  }

  private async act(pool: PoolSpec, action: HealingAction, ctx: PassContext): Promise<ActionRecord> {
    const base = { kind: action.kind, reason: action.reason, message: action.message };
    switch (action.kind) {
      case "noop":
        return { ...base, result: "unchanged" };
      case "report":
        ctx.log.warn({ reason: action.reason, instances: action.instances }, action.message);
        return { ...base, result: "unchanged" };
      case "drain":
        await this.drain(pool, action.node, action.deadlineMs, ctx);
        return { ...base, result: "changed" };
      case "apply":
        return { ...base, result: (await this.apply(pool, action, ctx)) ? "changed" : "failed" };
      case "confirm-applied": {
        const e = this.incident(pool, action.node.id);
        if (e) await this.write(e, advanceIncident(e.record, "applied", this.clock.now(), "the state holds a new instance: an earlier apply finished", { appliedAt: this.clock.now() }));
        return { ...base, result: "changed" };
      }
      case "purge":
        await this.purge(pool, action.node, action.newNodeId, ctx);
        return { ...base, result: "changed" };
      case "clear-ack":
        return { ...base, result: (await this.clearAck(pool, ctx)) ? "changed" : "unchanged" };
    }
  }

  /** Deletes the pool's spent acknowledgement; false when there is none to delete here, or it was written again since. */
  private async clearAck(pool: PoolSpec, ctx: PassContext): Promise<boolean> {
    const ack = this.cache.acks.get(pool.name);
    if (!ack) return false;
    if (!this.o.clearAck) {
      ctx.log.warn({ reason: "ShortCircuitAckSpent" }, `healing: pool ${pool.name}: the short-circuit acknowledgement is spent, but this loop cannot delete it`);
      return false;
    }
    await ctx.acquireWrite();
    try {
      await this.o.clearAck(pool.name, ack.modifyIndex);
    } catch (err) {
      // A new acknowledgement (or a removal by hand) since it was read: the next controls read decides.
      if (err instanceof ConflictError) return false;
      throw err;
    }
    ctx.log.info({ reason: "ShortCircuitAckSpent", by: ack.by }, `healing: pool ${pool.name} is no longer short-circuited; its acknowledgement${describeAck(ack)} was removed`);
    return true;
  }

  private async drain(pool: PoolSpec, node: NodeRef, deadlineMs: number, ctx: PassContext): Promise<void> {
    const now = this.clock.now();
    // Journal first: a leader that dies after the drain leaves a record saying so.
    const rec = newIncident({ pool: pool.name, nodeId: node.id, nodeName: node.name, address: node.address, ...(node.instanceId ? { oldInstanceId: node.instanceId } : {}), unhealthySince: node.unhealthySince }, "draining", now, `lost; draining with a ${Math.round(deadlineMs / 1000)} s deadline`);
    await this.write(undefined, rec);
    await ctx.acquireWrite();
    await this.nomadOf(pool).actuator.drainNode(node.id, deadlineMs);
    ctx.log.info({ node: node.name, reason: "NodeLostDrained" }, `healing: draining ${node.name}`);
  }

  /** Runs one batched apply; true when it succeeded. Failures are recorded per incident with their backoff. */
  private async apply(pool: PoolSpec, action: Extract<HealingAction, { kind: "apply" }>, ctx: PassContext): Promise<boolean> {
    const dir = this.dirOf(pool);
    const now = this.clock.now();
    if (!this.o.budget.take(dir, now)) return false;
    const applyId = randomUUID();
    const entries: IncidentEntry[] = [];
    for (const n of action.nodes) {
      const e = this.incident(pool, n.id);
      const note = `apply ${applyId.slice(0, 8)}: ${action.replace.includes(n.address) ? `-replace=${n.address}` : `plain apply recreates ${n.address}`}`;
      const fields = { applyId, applyStartedAt: now, attempts: (e?.record.attempts ?? 0) + 1 };
      const next = e
        ? advanceIncident(e.record, "applying", now, note, fields)
        : { ...newIncident({ pool: pool.name, nodeId: n.id, nodeName: n.name, address: n.address, ...(n.instanceId ? { oldInstanceId: n.instanceId } : {}), unhealthySince: n.unhealthySince }, "applying", now, note), ...fields };
      entries.push(await this.write(e, next));
    }
    for (const n of action.nodes) this.cache.applying.add(n.id);
    ctx.log.info({ dir, replace: action.replace, recreate: action.recreate, apply_id: applyId }, `healing: terraform apply for ${action.nodes.map((n) => n.name).join(", ")}`);
    this.cache.progress.set(pool.name, { applyId, lines: [] });
    const onProgress = (e: TerraformProgressEvent): void => {
      const line = progressLineOf(e, this.clock.now(), this.redact);
      if (!line) return;
      appendProgress(this.cache.progress, pool.name, applyId, line);
      this.o.onProgress?.(pool.name);
    };
    let result: HealingApplyResult;
    try {
      result = await this.o.terraform.apply({ dir, workspace: pool.terraform.workspace, replace: action.replace, onProgress });
    } catch (err) {
      result = { ok: false, durationMs: 0, timedOut: false, lockError: false, diagnostics: [{ severity: "error", summary: (err as Error).message }], exitCode: null };
    } finally {
      for (const n of action.nodes) this.cache.applying.delete(n.id);
    }
    const invalid = this.cache.states.get(stateKey(dir, pool.terraform.workspace));
    if (invalid) invalid.invalid = true;
    this.metrics?.applyDuration.observe({ pool: pool.name }, result.durationMs / 1000);
    const after = this.clock.now();
    if (result.ok) {
      this.metrics?.appliesTotal.inc({ pool: pool.name, result: "succeeded" });
      for (const e of entries) await this.write(e, advanceIncident(e.record, "applied", after, `apply ${applyId.slice(0, 8)} succeeded in ${Math.round(result.durationMs / 1000)} s`, { appliedAt: after }));
      return true;
    }
    if (result.lockError) this.o.budget.refund(dir, after);
    this.metrics?.appliesTotal.inc({ pool: pool.name, result: result.timedOut ? "timed_out" : result.lockError ? "lock_held" : "failed" });
    const diag = describeFailure(result);
    ctx.log.warn({ dir, apply_id: applyId, exit_code: result.exitCode }, `healing: terraform apply failed: ${diag}`);
    for (const e of entries) {
      const backoff = this.backoff(e.record.attempts);
      await this.write(e, advanceIncident(e.record, "apply-failed", after, `apply ${applyId.slice(0, 8)} failed: ${diag}`, { lastError: diag, retryAt: after + backoff }));
    }
    return false;
  }

  private async purge(pool: PoolSpec, node: NodeRef, newNodeId: string, ctx: PassContext): Promise<void> {
    let e = this.incident(pool, node.id);
    const now = this.clock.now();
    if (e && e.record.step !== "purging") e = await this.write(e, advanceIncident(e.record, "purging", now, `replacement ${newNodeId} is ready`, { newNodeId, readyAt: now }));
    await ctx.acquireWrite();
    // A server runs no Nomad client, so there is no client node to purge; autopilot's dead-server cleanup removes its Raft peer.
    if (pool.role !== "server") await this.nomadOf(pool).actuator.purgeNode(node.id);
    // Consul names nodes, not ids: a replacement of the same name has taken the entry over, and deregistering would remove it.
    const replacement = this.cache.nodes.get(pool.env)?.get(newNodeId);
    if (replacement?.name !== node.name) await this.o.consul.catalog.deregisterNode(node.name);
    if (!e) return;
    const done = await this.write(e, advanceIncident(e.record, "done", this.clock.now(), "old node purged from Nomad and deregistered from Consul", { finishedAt: this.clock.now() }));
    this.metrics?.replacementsTotal.inc({ pool: pool.name, result: "succeeded" });
    const readyAt = done.record.readyAt ?? now;
    this.metrics?.lossToReady.observe({ pool: pool.name }, Math.max(0, readyAt - done.record.unhealthySince) / 1000);
    ctx.log.info({ node: node.name, new_node: newNodeId, loss_to_ready_s: Math.round((readyAt - done.record.unhealthySince) / 1000) }, `healing: ${node.name} replaced`);
    await this.o.journal.prune(pool.name).catch(() => 0);
  }

  /** CAS-writes the next record and keeps the cache in step. */
  private async write(prev: IncidentEntry | undefined, next: IncidentRecord): Promise<IncidentEntry> {
    let stored: IncidentEntry;
    try {
      stored = await this.o.journal.advance(next, prev?.modifyIndex ?? 0);
    } catch (err) {
      // Another leader moved the record: re-read the journal, so the next pass plans from what it wrote.
      if (err instanceof ConflictError) await this.loadJournal();
      throw err;
    }
    this.cache.incidents.set(`${next.pool}/${next.nodeId}`, stored);
    return stored;
  }

  private incident(pool: PoolSpec, nodeId: string): IncidentEntry | undefined {
    return this.cache.incidents.get(`${pool.name}/${nodeId}`);
  }

  private backoff(attempts: number): number {
    const { baseMs, capMs } = this.o.applyBackoff ?? { baseMs: HEALING_APPLY_BACKOFF_BASE_MS, capMs: HEALING_APPLY_BACKOFF_CAP_MS };
    return Math.min(capMs, baseMs * 2 ** Math.max(0, attempts - 1));
  }

  private async loadJournal(): Promise<void> {
    const all = await this.o.journal.listAll();
    this.cache.incidents.clear();
    for (const e of all) this.cache.incidents.set(`${e.record.pool}/${e.record.nodeId}`, e);
  }

  /**
   * Reads the state when it is missing (awaited) or old (in the background:
   * `terraform show` takes seconds, and a replacement waiting for its node
   * must not wait for it; the pool is woken when the read is done).
   */
  private async ensureState(pool: PoolSpec, dir: string, now: number): Promise<void> {
    const key = stateKey(dir, pool.terraform.workspace);
    if (!this.stateNeedsRead(pool, key, now)) return;
    // The runner serialises commands per directory: never queue a read behind this process's own apply.
    if (this.o.terraform.isBusy(dir)) return;
    const running = this.stateReads.get(key);
    const read =
      running ??
      this.refreshState(pool, dir, now).finally(() => {
        this.stateReads.delete(key);
      });
    if (!running) this.stateReads.set(key, read);
    const known = this.cache.states.get(key);
    if (!known) return read;
    // Woken after a read that follows an apply; periodic and foreign-apply reads are picked up by the planner's recheck.
    const wake = known.invalid;
    read.then(
      () => {
        if (wake) this.runner?.add(pool.name);
      },
      (err: unknown) => this.o.logger.warn({ pool: pool.name, err: (err as Error).message }, "healing: terraform state unreadable; retried at the next pass"),
    );
  }

  private stateNeedsRead(pool: PoolSpec, key: string, now: number): boolean {
    const known = this.cache.states.get(key);
    // An apply of an earlier leader shows its end only in the state: while one is open, the state is read on every pass.
    const foreignApply = [...this.cache.incidents.values()].some((e) => e.record.pool === pool.name && e.record.step === "applying" && !this.cache.applying.has(e.record.nodeId));
    return !known || known.invalid || foreignApply || now - known.at > (this.o.stateMaxAgeMs ?? HEALING_STATE_MAX_AGE_MS);
  }

  private async refreshState(pool: PoolSpec, dir: string, _now: number): Promise<void> {
    const key = stateKey(dir, pool.terraform.workspace);
    const resources = await this.o.terraform.state(dir, pool.terraform.workspace);
    const byAddress = new Map<string, InstanceObservation>();
    for (const r of resources) {
      if (r.type !== "aws_instance") continue;
      const id = typeof r.values.id === "string" ? r.values.id : "";
      const st = typeof r.values.instance_state === "string" ? r.values.instance_state : "unknown";
      byAddress.set(r.address, { id, state: st as InstanceObservation["state"] });
    }
    const orphans = this.o.instances ? await this.mergeLive(pool, byAddress) : [];
    this.cache.states.set(key, { at: this.clock.now(), byAddress, orphans, invalid: false });
  }

  /** EC2's live states over the state's (an instance EC2 no longer lists is gone); returns the orphans. */
  private async mergeLive(pool: PoolSpec, byAddress: Map<string, InstanceObservation>): Promise<string[]> {
    const live = await this.o.instances?.listByTag(POOL_TAG, pool.name) ?? [];
    const byId = new Map(live.map((i) => [i.id, i.state]));
    for (const [address, inst] of byAddress) byAddress.set(address, { id: inst.id, state: (byId.get(inst.id) ?? "terminated") as InstanceObservation["state"] });
    const held = new Set([...byAddress.values()].map((i) => i.id));
    return live.filter((i) => !held.has(i.id) && (i.state === "pending" || i.state === "running")).map((i) => i.id);
  }

  private async readQuorum(pool: PoolSpec): Promise<void> {
    const env = this.envSpec(pool.env);
    if (!env) return;
    const nomad = this.nomadOf(pool).reader;
    const consul = this.o.consul.reader;
    const side = async (read: () => Promise<RaftHealth>): Promise<RaftHealth | undefined> => {
      try {
        return await read();
      } catch (err) {
        this.o.logger.warn({ pool: pool.name, err: (err as Error).message }, "healing: raft health unreadable");
        return undefined;
      }
    };
    const [n, c] = await Promise.all([
      side(async () => {
        const ap = await nomad.autopilotHealth();
        return raftHealth(autopilotVoters(ap), ap);
      }),
      side(async () => raftHealth(await consul.raftConfiguration(), await consul.autopilotHealth())),
    ]);
    this.cache.quorum.set(pool.env, { ...(n ? { nomad: n } : {}), ...(c ? { consul: c } : {}) });
  }

  private record(pool: PoolSpec, plan: HealingPlan, tokens: number, now: number): void {
    const m = this.metrics;
    if (m) {
      m.unhealthyNodes.set({ pool: pool.name }, plan.summary.unhealthy);
      m.lostNodes.set({ pool: pool.name }, plan.summary.lost);
      m.shortCircuited.set({ pool: pool.name }, plan.summary.shortCircuited ? 1 : 0);
      m.shortCircuitAcknowledged.set({ pool: pool.name }, plan.summary.shortCircuitAcknowledged ? 1 : 0);
      if (plan.summary.shortCircuited) m.shortCircuitsTotal.inc({ pool: pool.name });
      m.budgetTokens.set({ pool: pool.name }, tokens);
      m.orphanedInstances.set({ pool: pool.name }, plan.summary.orphans);
    }
    const incidents = incidentViews(this.cache.incidents.values(), pool.name, this.cache.progress);
    const ack = this.cache.acks.get(pool.name);
    this.lastPlans.set(pool.name, {
      pool: pool.name,
      env: pool.env,
      role: pool.role,
      at: now,
      summary: plan.summary,
      actions: plan.actions.map((a) => ({ kind: a.kind, reason: a.reason, message: a.message })),
      budgetTokens: tokens,
      ...(ack ? { shortCircuitAck: { ...(ack.by ? { by: ack.by } : {}), ...(ack.reason ? { reason: ack.reason } : {}), ...(ack.at ? { at: ack.at } : {}) } } : {}),
      incidents,
    });
  }

  private envSpec(name: string): EnvironmentSpec | undefined {
    return this.desired?.environments.find((e) => e.name === name);
  }

  private nomadOf(pool: PoolSpec): HealingNomad {
    const env = this.envSpec(pool.env);
    if (!env) throw new Error(`pool ${pool.name}: environment ${pool.env} is not in the desired state`);
    return this.o.nomad(env);
  }

  /** A nodes watch per environment that has pools, and one serfHealth watch. */
  private ensureWatches(): void {
    const envs = new Set(this.pools.map((p) => p.env));
    const waitMs = this.o.watchWaitMs ?? HEALING_WATCH_WAIT_MS;
    for (const name of envs) {
      const key = `nomad-nodes:${name}`;
      if (this.watches.has(key)) continue;
      const env = this.envSpec(name);
      if (!env) continue;
      const reader = this.o.nomad(env).reader;
      this.cache.stale.add(key);
      this.startWatch<NomadNodeStub[]>(key, "nomad-nodes", (i, s) => reader.listNodes(i, waitMs, s), (nodes) => this.onNodes(name, reader, nodes));
    }
    if (!this.watches.has("consul-nodes") && this.pools.some((p) => p.role === "server")) {
      this.cache.stale.add("consul-nodes");
      this.startWatch<ConsulNode[]>("consul-nodes", "consul-health", (i, s) => this.o.consul.reader.listNodes(i, waitMs, s), (nodes) => {
        this.cache.consulNodes = new Map(nodes.map((n) => [n.name, n]));
        this.cache.stale.delete("consul-nodes");
        this.afterHealthChange(envs);
      });
    }
    if (!this.watches.has("consul-health") && envs.size > 0) {
      this.cache.stale.add("consul-health");
      this.startWatch<SerfHealthByNode>("consul-health", "consul-health", (i, s) => this.o.consul.reader.listSerfHealth(i, waitMs, s), (serf) => {
        this.cache.serf = serf;
        this.cache.stale.delete("consul-health");
        this.afterHealthChange(envs);
      });
    }
  }

  private startWatch<T>(key: string, source: string, fetch: (index: number, signal: AbortSignal) => Promise<{ index: number; data: T }>, onChange: (data: T) => void | Promise<void>): void {
    const watch = new Watch<T>({
      query: { name: source, fetch: (index, signal) => fetch(index, signal) },
      onChange,
      logger: this.o.logger,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
    });
    this.watches.set(key, watch as Watch<unknown>);
    watch.start();
    // A failing watch makes its view stale for the planner until it answers again.
    const timer = setInterval(() => {
      if (!this.watches.has(key)) return clearInterval(timer);
      if (watch.failures > 0) this.cache.stale.add(key);
      else if (watch.synced) this.cache.stale.delete(key);
    }, 1_000);
    timer.unref();
  }

  private async onNodes(env: string, reader: NomadNodesReader, stubs: NomadNodeStub[]): Promise<void> {
    const before = this.cache.nodes.get(env) ?? new Map<string, CachedNode>();
    const after = new Map<string, CachedNode>();
    const missing: string[] = [];
    for (const s of stubs) {
      const old = before.get(s.ID);
      after.set(s.ID, {
        id: s.ID,
        name: s.Name,
        status: s.Status,
        eligible: s.SchedulingEligibility === "eligible",
        draining: s.Drain,
        nodeClass: s.NodeClass,
        nodePool: s.NodePool,
        ...(old?.meta ? { meta: old.meta } : {}),
      });
      if (!old?.meta) missing.push(s.ID);
    }
    this.cache.nodes.set(env, after);
    this.cache.stale.delete(`nomad-nodes:${env}`);
    await this.readDetails(env, reader, missing);
    this.afterHealthChange(new Set([env]));
  }

  /** Meta is not in the nodes list: each new node is read once (a few at a time). */
  private async readDetails(env: string, reader: NomadNodesReader, ids: string[]): Promise<void> {
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const d = await reader.getNode(id);
          const n = this.cache.nodes.get(env)?.get(id);
          if (n) n.meta = { ...(d?.Meta ?? {}) };
        } catch (err) {
          this.o.logger.warn({ env, node: id, err: (err as Error).message }, "healing: node details unreadable; retried at the next change");
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
  }

  private afterHealthChange(envs: Set<string>): void {
    const now = this.clock.now();
    const keep = Math.max(0, ...this.pools.map((p) => p.health.flapping.windowMs));
    for (const env of envs) this.cache.updateHistory(env, now, keep);
    if (this.pools.some((p) => p.role === "server")) this.cache.updateHistory(CONSUL_NODES, now, keep);
    for (const p of this.pools) if (envs.has(p.env)) this.runner?.add(p.name);
  }
}

/**
 * The open incidents of one pool as status shows them (the journal records
 * without their bookkeeping), each not yet done with the progress lines of
 * its latest apply when `progress` (the cache's) holds them.
 */
export function incidentViews(entries: Iterable<{ record: IncidentRecord }>, pool: string, progress?: ReadonlyMap<string, ApplyProgress>): PoolStatus["incidents"] {
  const latest = progress?.get(pool);
  return [...entries]
    .filter((e) => e.record.pool === pool)
    .map(({ record: r }) => ({
      nodeName: r.nodeName,
      address: r.address,
      step: r.step,
      attempts: r.attempts,
      unhealthySince: r.unhealthySince,
      ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
      ...(r.applyStartedAt !== undefined ? { applyStartedAt: r.applyStartedAt } : {}),
      ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
      ...(latest && r.step !== "done" && r.applyId === latest.applyId && latest.lines.length > 0 ? { progress: [...latest.lines] } : {}),
    }));
}

/** The instance tag naming a node's pool (terraform/modules/cloud-init writes it). */
export const POOL_TAG = "steward:pool";

/**
 * Nomad's Raft peers as autopilot lists them. Nomad's own
 * `/v1/operator/raft/configuration` needs a management token, which
 * Steward's policy never holds; autopilot health (operator:read) lists
 * every peer with its voter flag as well.
 */
export function autopilotVoters(ap: AutopilotHealth): RaftServer[] {
  return ap.Servers.map((s) => ({ ID: s.ID, Node: s.Name, Address: "", Leader: false, Voter: s.Voter }));
}

/** A Raft cluster's health from its configuration and autopilot: voters, and the voters autopilot calls healthy. */
export function raftHealth(servers: RaftServer[], ap: AutopilotHealth): RaftHealth {
  const voters = servers.filter((s) => s.Voter);
  const healthy = new Set(ap.Servers.filter((s) => s.Healthy).map((s) => s.ID));
  // Autopilot's own `Healthy` is false whenever any server is down, which is exactly when a replacement is due: quorum is counted instead.
  return { voters: voters.length, healthyVoters: voters.filter((s) => healthy.has(s.ID)).length };
}

function describeFailure(r: HealingApplyResult): string {
  const d = r.diagnostics.find((x) => x.severity === "error");
  if (r.timedOut) return `timed out after ${Math.round(r.durationMs / 1000)} s${d ? `: ${d.summary}` : ""}`;
  if (r.lockError) return "the state lock is held by another process";
  return d ? `${d.summary}${d.detail ? `: ${d.detail.split("\n")[0] ?? ""}` : ""}` : `exit ${r.exitCode}`;
}

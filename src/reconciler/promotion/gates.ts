import { isDeepStrictEqual } from "node:util";
import { HTTP_GATE_INTERVAL_MS, HTTP_GATE_PROBE_TIMEOUT_MS, PROMETHEUS_GATE_INTERVAL_MS, WATCH_BLOCKING_WAIT_MS } from "../../config/defaults.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import { InvalidInputError } from "../../model/errors.js";
import type { GateSpec } from "../../model/types.js";
import { hclString } from "../../model/variables.js";
import { NomadActuator } from "../../actuators/nomad.js";
import type { EnvironmentSpec } from "../../model/types.js";
import type { HttpClientOptions } from "../../sources/http-client.js";
import { probeHttp, type HttpProbeResult, type PrometheusReader } from "../../sources/gate-probes.js";
import { NomadBatchReader } from "../../sources/nomad-batch.js";
import { NomadReader, nomadHttpClient, type NomadJob } from "../../sources/nomad.js";
import type { TokenResolver } from "../sync/clients.js";
import { Watch } from "../../sources/watch.js";
import { systemClock, type Clock, type Random, type Timer } from "../core/clock.js";
import { ConflictError } from "../core/outcome.js";
import { buildVerifyJob, httpObservation, nextPrometheusObservation, verifyJobId, verifyObservation } from "./gate-observations.js";
import { gateKey, type GateContext, type GateRunnerLike } from "./gate-types.js";
import type { GateObservation } from "./plan.js";

/** What a verify gate needs of one stage's Nomad: parse and read (sources), register (actuator). */
export interface GateNomad {
  reader: Pick<NomadReader, "parseJob" | "getJob">;
  batch: Pick<NomadBatchReader, "watchJob" | "allocations">;
  actuator: Pick<NomadActuator, "registerJob">;
}

/**
 * The GateNomad of each environment, built once per environment (and
 * rebuilt when its address, region, namespace or token source change),
 * with tokens resolved as the sync loop's are (`envTokens`, `vaultTokens`).
 * `for(stage)` is what GateRunnerOptions.nomad wants.
 */
export class GateNomadClients {
  private readonly built = new Map<string, { fingerprint: string; nomad: GateNomad }>();

  constructor(
    private readonly opts: {
      /** The environments of the desired state in force. */
      environments: () => readonly EnvironmentSpec[];
      tokens: TokenResolver;
      logger?: Logger;
      metrics?: StewardMetrics;
      http?: Partial<HttpClientOptions>;
    },
  ) {}

  /** The stage's Nomad, or undefined when no environment has that name. */
  for(stage: string): GateNomad | undefined {
    const env = this.opts.environments().find((e) => e.name === stage);
    if (!env) return undefined;
    const fingerprint = JSON.stringify(env.nomad);
    const known = this.built.get(stage);
    if (known?.fingerprint === fingerprint) return known.nomad;
    const http = nomadHttpClient(env, this.opts.tokens(env.nomad.token, env.name), {
      ...(this.opts.logger && { logger: this.opts.logger }),
      ...(this.opts.metrics && { metrics: this.opts.metrics }),
      ...this.opts.http,
    });
    const nomad: GateNomad = { reader: new NomadReader(env, http), batch: new NomadBatchReader(env, http), actuator: new NomadActuator(env, http) };
    this.built.set(stage, { fingerprint, nomad });
    return nomad;
  }
}

/** Options of a `GateRunner`. Durations in ms. */
export interface GateRunnerOptions {
  // ── where ──
  /** The Nomad of a stage (environment name); undefined when the stage is unknown (a verify gate's start then rejects). */
  nomad: (stage: string) => GateNomad | undefined;
  /** The Prometheus of steward.yaml `prometheus.address`; absent: a prometheus gate observes an error naming that field, and times out. */
  prometheus?: Pick<PrometheusReader, "query"> | undefined;

  // ── pacing ──
  /** Period of an http gate's probe. @default HTTP_GATE_INTERVAL_MS (5 s) */
  httpIntervalMs?: number;
  /** Timeout of one http probe. @default HTTP_GATE_PROBE_TIMEOUT_MS (5 s) */
  httpProbeTimeoutMs?: number;
  /** Period of a prometheus gate's query. @default PROMETHEUS_GATE_INTERVAL_MS (15 s) */
  prometheusIntervalMs?: number;
  /** Server-side wait of the verification job's blocking query. @default WATCH_BLOCKING_WAIT_MS (60 s) */
  verifyWaitMs?: number;

  // ── time, chance, recording ──
  /** The same clock as the journal's `startedAt`. @default systemClock */
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  metrics?: StewardMetrics;
}

interface Running {
  ctx: GateContext;
  obs?: GateObservation;
  /** Resolves when the check has begun (a verify gate's registration); shared by repeated starts. */
  started: Promise<void>;
  halt: () => void;
}

/**
 * Runs the checks of `verify`, `http` and `prometheus` gates, one per
 * running gate (`gateKey`), and keeps what each last saw for `observe`.
 * `soak` and `manual` gates need no check here (the loop judges soak from
 * its own allocation failures, manual from the ApprovalStore): starting one
 * does nothing and `observe` answers undefined.
 *
 * - http: GET the URL every `httpIntervalMs` (each probe with its own
 *   timeout) until it answers `expectStatus` or the gate's timeout passed.
 * - prometheus: an instant query every `prometheusIntervalMs`, tracking
 *   since when the value stayed below the threshold, until it held `for`
 *   or the timeout passed.
 * - verify: registers the verification batch job for the digest under a
 *   deterministic ID (`<job>-<12 hex of the digest>`) only if Nomad does not
 *   have it (check-and-set at index 0, so two leaders cannot both register
 *   it), then follows it with a blocking query until it is dead or the
 *   gate's timeout passed.
 *
 * Judging the observations is evaluateGate's (plan.ts), not this class's.
 */
export class GateRunner implements GateRunnerLike {
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Set<(ctx: GateContext) => void>();
  private readonly clock: Clock;

  constructor(private readonly o: GateRunnerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /**
   * Begins the gate's check; a second call for a running gate waits for the
   * first one's start. Rejects when the check could not begin (the loop
   * retries): Nomad unreachable (TransientError), a verification job that
   * is not registered, not a batch job, or refused by Nomad's parser
   * (InvalidInputError naming it).
   */
  start(ctx: GateContext): Promise<void> {
    const key = gateKey(ctx);
    const known = this.running.get(key);
    if (known) return known.started;
    const entry: Running = { ctx, started: Promise.resolve(), halt: () => undefined };
    this.running.set(key, entry);
    entry.started = this.begin(entry).catch((err: unknown) => {
      // Forgotten, so the loop's next start() tries again.
      if (this.running.get(key) === entry) this.running.delete(key);
      throw err;
    });
    return entry.started;
  }

  /** What the gate's check last saw; undefined before the first result, for soak and manual gates, and for a gate not started. */
  observe(ctx: GateContext): GateObservation | undefined {
    return this.running.get(gateKey(ctx))?.obs;
  }

  /** Stops the check and forgets its result. Changes nothing in Nomad (a verification job left running finishes on its own). */
  stop(ctx: GateContext): void {
    const key = gateKey(ctx);
    const r = this.running.get(key);
    if (!r) return;
    this.running.delete(key);
    r.halt();
  }

  /** Stops every check (on losing leadership, or shutdown). */
  stopAll(): void {
    for (const r of [...this.running.values()]) this.stop(r.ctx);
  }

  /** Called when a gate's observation changes (not for a new probe time alone). */
  onChange(listener: (ctx: GateContext) => void): void {
    this.listeners.add(listener);
  }

  /** The gates running now, for status. */
  list(): Array<{ ctx: GateContext; obs?: GateObservation }> {
    return [...this.running.values()].map((r) => ({ ctx: r.ctx, ...(r.obs && { obs: r.obs }) }));
  }

  private async begin(r: Running): Promise<void> {
    const gate = r.ctx.gate;
    switch (gate.kind) {
      case "http":
        return this.periodic(r, this.o.httpIntervalMs ?? HTTP_GATE_INTERVAL_MS, gate.timeoutMs, (signal) => this.httpProbe(gate, signal));
      case "prometheus":
        return this.periodic(r, this.o.prometheusIntervalMs ?? PROMETHEUS_GATE_INTERVAL_MS, gate.timeoutMs, (signal) => this.prometheusProbe(r, gate, signal));
      case "verify":
        return this.verify(r, gate);
      case "soak":
      case "manual":
        return;
    }
  }

  private set(r: Running, obs: GateObservation): void {
    if (this.running.get(gateKey(r.ctx)) !== r) return;
    const prev = r.obs;
    r.obs = obs;
    if (prev && isDeepStrictEqual({ ...prev, at: 0 }, { ...obs, at: 0 })) return;
    for (const l of this.listeners) {
      try {
        l(r.ctx);
      } catch (err) {
        this.o.logger?.error({ err: (err as Error).message, service: r.ctx.service }, "gates: a listener threw");
      }
    }
  }

  /**
   * Runs `probe` now and then every `intervalMs` until it says it is done,
   * the gate's timeout passed (counted from the journal's `startedAt`), or
   * the gate is stopped.
   */
  private periodic(r: Running, intervalMs: number, timeoutMs: number, probe: (signal: AbortSignal) => Promise<{ obs: GateObservation; done: boolean }>): void {
    const abort = new AbortController();
    let timer: Timer | undefined;
    r.halt = () => {
      abort.abort();
      timer?.cancel();
    };
    const tick = async (): Promise<void> => {
      const { obs, done } = await probe(abort.signal);
      if (abort.signal.aborted) return;
      this.set(r, obs);
      // The last probe is the one at or before the timeout; after it nothing can change the verdict.
      if (done || this.clock.now() + intervalMs > r.ctx.startedAt + timeoutMs) return;
      timer = this.clock.setTimeout(() => void tick(), intervalMs);
    };
    void tick();
  }

  private async httpProbe(gate: Extract<GateSpec, { kind: "http" }>, signal: AbortSignal): Promise<{ obs: GateObservation; done: boolean }> {
    const result: HttpProbeResult = await probeHttp(gate.url, {
      timeoutMs: this.o.httpProbeTimeoutMs ?? HTTP_GATE_PROBE_TIMEOUT_MS,
      signal,
      ...(this.o.logger && { logger: this.o.logger }),
    });
    return { obs: httpObservation(result, this.clock.now()), done: "status" in result && result.status === gate.expectStatus };
  }

  private async prometheusProbe(r: Running, gate: Extract<GateSpec, { kind: "prometheus" }>, signal: AbortSignal): Promise<{ obs: GateObservation; done: boolean }> {
    const result = this.o.prometheus
      ? await this.o.prometheus.query(gate.query, signal)
      : { error: "no Prometheus to query: set prometheus.address in Steward's configuration" };
    const at = this.clock.now();
    const prev = r.obs?.kind === "prometheus" ? r.obs : undefined;
    const obs = nextPrometheusObservation(prev, result, at, gate.below);
    const since = obs.belowSince === undefined ? undefined : Math.max(obs.belowSince, r.ctx.startedAt);
    return { obs, done: since !== undefined && at - since >= gate.forMs };
  }

  private async verify(r: Running, gate: Extract<GateSpec, { kind: "verify" }>): Promise<void> {
    const { ctx } = r;
    const context = { env: ctx.stage, service: ctx.service, nomadJob: gate.job };
    const nomad = this.o.nomad(ctx.stage);
    if (!nomad) throw new InvalidInputError(`verify gate: stage ${ctx.stage} is not an environment Steward knows`, context);
    const source = await this.verifySource(nomad, ctx, gate);
    const id = verifyJobId(typeof source.ID === "string" ? source.ID : gate.job, ctx.digest, ctx.attempt);
    if (!(await nomad.reader.getJob(id))) {
      let job: Record<string, unknown>;
      try {
        job = buildVerifyJob(source, { id, image: ctx.image, service: ctx.service, digest: ctx.digest, from: gate.file ?? gate.job });
      } catch (err) {
        throw new InvalidInputError((err as Error).message, context);
      }
      try {
        await nomad.actuator.registerJob(job as NomadJob, 0);
        this.o.logger?.info({ env: ctx.stage, service: ctx.service, nomad_job: id, digest: ctx.digest }, "gates: verification job registered");
      } catch (err) {
        // Check-and-set at 0 lost: another leader registered this very job (same ID, same digest) meanwhile.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    if (this.running.get(gateKey(ctx)) !== r) return;
    this.followVerifyJob(r, nomad, id, gate.timeoutMs);
  }

  /** The job to copy: the job file parsed by the stage's Nomad with `var.image`, or the registered template job. */
  private async verifySource(nomad: GateNomad, ctx: GateContext, gate: Extract<GateSpec, { kind: "verify" }>): Promise<Record<string, unknown>> {
    if (gate.hcl !== undefined) return nomad.reader.parseJob(gate.hcl, `image = ${hclString(ctx.image)}\n`, gate.file ?? gate.job);
    const template = await nomad.reader.getJob(gate.job);
    if (!template) {
      throw new InvalidInputError(`verify gate: job ${gate.job} is not registered in ${ctx.stage}'s Nomad (name a job file ending in .hcl beside service.yaml, or register the job)`, {
        env: ctx.stage,
        service: ctx.service,
        nomadJob: gate.job,
      });
    }
    return template;
  }

  private followVerifyJob(r: Running, nomad: GateNomad, id: string, timeoutMs: number): void {
    const waitMs = this.o.verifyWaitMs ?? WATCH_BLOCKING_WAIT_MS;
    const watch = new Watch<GateObservation>({
      query: {
        name: "nomad-jobs",
        async fetch(index, signal) {
          const res = await nomad.batch.watchJob(id, index, waitMs, signal);
          const allocs = res.data?.Status === "dead" ? await nomad.batch.allocations(id, signal) : [];
          return { index: res.index, data: verifyObservation(res.data, allocs) };
        },
      },
      onChange: (obs) => {
        this.set(r, obs);
        if (obs.kind === "verify" && obs.status === "dead") r.halt();
      },
      clock: this.clock,
      ...(this.o.random && { random: this.o.random }),
      ...(this.o.logger && { logger: this.o.logger }),
      ...(this.o.metrics && { metrics: this.o.metrics }),
    });
    // Past the gate's timeout nothing the job does can change the verdict.
    const deadline = this.clock.setTimeout(() => r.halt(), Math.max(0, r.ctx.startedAt + timeoutMs - this.clock.now()));
    let halted = false;
    r.halt = () => {
      if (halted) return;
      halted = true;
      deadline.cancel();
      void watch.stop();
    };
    watch.start();
  }
}

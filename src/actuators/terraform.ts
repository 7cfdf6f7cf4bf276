/**
 * The Terraform actuator: runs the real `terraform` binary as a child
 * process, one command at a time per working directory, and reads its
 * `-json` stream. How Steward runs Terraform, and why, is in docs/terraform.md.
 *
 * For the healing loop (issue 8):
 *
 * ```ts
 * const tf = new TerraformRunner({ env: { AWS_ENDPOINT_URL_EC2: "…" } });
 * if (!tf.isBusy(dir)) {
 *   const r = await tf.apply({ dir, replace: ['module.workers.aws_instance.worker["b"]'], onProgress: (e) => log.info(e.message) });
 *   if (!r.ok) throw applyFailure(r, { pool: "workers" });   // TerraformError (transient) or TerraformInputError (stalled)
 * }
 * await tf.resourceAddresses(dir);   // for `steward validate`: which addresses exist (state, or planned creates)
 * await tf.state(dir);               // resources in state, with their attributes (instance ids, tags): orphan detection
 * ```
 *
 * `apply` never throws for a failed apply: the result says what happened
 * (`ok`, `timedOut`, `lockError`, `diagnostics`), and `applyFailure` turns it
 * into the error kind the runner acts on. It throws only when the binary
 * cannot be started or `init` fails (`TerraformError`).
 */
import path from "node:path";
import type { Logger } from "../log.js";
import type { ErrorContext } from "../model/errors.js";
import { InvalidInputError, TransientError } from "../reconciler/core/outcome.js";
import {
  TERRAFORM_APPLY_TIMEOUT_MS,
  TERRAFORM_BINARY,
  TERRAFORM_COMMAND_TIMEOUT_MS,
  TERRAFORM_INTERRUPT_GRACE_MS,
  TERRAFORM_LOCK_TIMEOUT_MS,
} from "../config/defaults.js";
import { KeyedMutex } from "./keyed-mutex.js";
import { runProcess, type ProcessExit } from "./terraform-process.js";
import {
  TerraformStream,
  isInputDiagnostic,
  isStateLockDiagnostic,
  isSupportedUiVersion,
  needsInitDiagnostic,
  type ChangeCounts,
  type PlannedChange,
  type ResourceOutcome,
  type StreamSummary,
  type TerraformDiagnostic,
  type TerraformEvent,
} from "./terraform-stream.js";

export type { ChangeCounts, PlannedChange, ResourceOutcome, TerraformDiagnostic, TerraformEvent } from "./terraform-stream.js";

/** How Steward runs terraform. Every field is optional; defaults are in config/defaults.ts. */
export interface TerraformRunnerOptions {
  // ── The binary and its environment ──
  /** Path or name (looked up on PATH) of the binary. @default TERRAFORM_BINARY ("terraform") */
  binary?: string;
  /**
   * Extra environment over Steward's own (which is inherited: PATH, HOME, the
   * instance's AWS credentials), e.g. `AWS_ENDPOINT_URL_EC2`, `TF_CLI_CONFIG_FILE`.
   * `TF_IN_AUTOMATION=1`, `TF_INPUT=0` and `CHECKPOINT_DISABLE=1` are set unless given here.
   */
  env?: Record<string, string>;

  // ── Time limits (real milliseconds) ──
  /** Deadline of one apply, after which it is interrupted. @default TERRAFORM_APPLY_TIMEOUT_MS (15 min) */
  applyTimeoutMs?: number;
  /** Deadline of one init, plan or show. @default TERRAFORM_COMMAND_TIMEOUT_MS (5 min) */
  commandTimeoutMs?: number;
  /** Time between the interrupt (SIGINT) and the kill (SIGKILL). @default TERRAFORM_INTERRUPT_GRACE_MS (60 s) */
  interruptGraceMs?: number;
  /** `-lock-timeout` of plan and apply. @default TERRAFORM_LOCK_TIMEOUT_MS (30 s) */
  lockTimeoutMs?: number;

  // ── Seams ──
  log?: Logger;
}

/** One `terraform apply`. */
export interface ApplyRequest {
  /** The root module's directory (`-chdir`). */
  dir: string;
  /** Terraform workspace, through `TF_WORKSPACE`; it must exist (see checkWorkspace). @default "default" */
  workspace?: string;
  /** Resource instance addresses to replace, one `-replace=` each. Empty: a plain apply (recreates what is gone). */
  replace?: readonly string[];
  /** @default the runner's applyTimeoutMs */
  timeoutMs?: number;
  /** @default the runner's lockTimeoutMs */
  lockTimeoutMs?: number;
  /** Each UI message worth showing, as it arrives (planned changes, Creating..., Still creating..., diagnostics). */
  onProgress?: (event: TerraformEvent) => void;
  /** Aborting interrupts Terraform like the timeout does (e.g. Steward is shutting down). */
  signal?: AbortSignal;
}

/**
 * What an apply did. `ok` is true only when Terraform exited 0. After a
 * failure, `changes` counts what did complete (from the resources' apply
 * hooks), so a partial apply is visible; after success it is Terraform's own
 * change_summary.
 */
export interface ApplyResult {
  /** Terraform exited 0 and every `-replace` address was planned (see unmatchedReplace). */
  ok: boolean;
  /**
   * `-replace` addresses the plan did not mention: Terraform ignores such an
   * address without a word and applies the rest, so the node was not
   * replaced. Each also has an error diagnostic (REPLACE_UNMATCHED), and the
   * result is not ok.
   */
  unmatchedReplace: string[];
  dir: string;
  workspace: string;
  replace: string[];
  changes: ChangeCounts;
  /** The plan that preceded the apply (its change_summary), when Terraform got that far. */
  planned?: ChangeCounts;
  /** Per resource instance and action (a replacement has a `delete` and a `create` entry). */
  resources: ResourceOutcome[];
  diagnostics: TerraformDiagnostic[];
  /** Root outputs after a successful apply. */
  outputs?: Record<string, unknown>;
  durationMs: number;
  /** The deadline passed; Terraform was interrupted (and killed if it did not stop within the grace period). */
  timedOut: boolean;
  /** The caller's signal interrupted it. */
  interrupted: boolean;
  /** It ignored the interrupt and was killed: a remote state lock may be left behind. */
  killed: boolean;
  /** Another process held the state lock past `-lock-timeout`; nothing was planned or changed. */
  lockError: boolean;
  exitCode: number | null;
  terraformVersion?: string;
  /** stderr, when there was any (flag errors before `-json` applies, crashes). */
  stderr?: string;
}

/** Summary of the diagnostic Steward adds for a `-replace` address Terraform ignored (see ApplyResult.unmatchedReplace). */
export const REPLACE_UNMATCHED = "Replace address matched no resource instance";

/** One `terraform plan` (read-only). */
export interface PlanRequest {
  dir: string;
  workspace?: string;
  replace?: readonly string[];
  /** Refresh from the cloud API first. `false` plans from state alone: no API calls. @default true */
  refresh?: boolean;
  /** Take the state lock. `false` never waits for (or blocks) an apply. @default true */
  lock?: boolean;
  onProgress?: (event: TerraformEvent) => void;
  signal?: AbortSignal;
}

/** What a plan said. `ok`: Terraform exited 0 (no changes) or 2 (changes). */
export interface PlanResult {
  ok: boolean;
  dir: string;
  workspace: string;
  changes: ChangeCounts;
  planned: PlannedChange[];
  diagnostics: TerraformDiagnostic[];
  durationMs: number;
  timedOut: boolean;
  lockError: boolean;
  exitCode: number | null;
}

/** A resource instance in Terraform's state (`terraform show -json`). */
export interface StateResource {
  /** Absolute address, e.g. `module.workers.aws_instance.worker["b"]`. */
  address: string;
  mode: "managed" | "data";
  type: string;
  /** The resource's attributes as Terraform stores them (`id`, `tags`, `private_ip`, …). */
  values: Record<string, unknown>;
}

/** What `init` did. `cached`: this runner had already initialised the directory. */
export interface InitResult {
  dir: string;
  durationMs: number;
  cached: boolean;
}

const NO_CHANGES: ChangeCounts = { add: 0, change: 0, remove: 0 };

/**
 * Runs terraform for Steward. Safe to share: commands in one working
 * directory are serialised (they share state, its lock and `.terraform/`),
 * commands in different directories run in parallel. Each directory is
 * `init`ed once per runner, before its first command, and again only when
 * Terraform says a module or provider is missing.
 */
export class TerraformRunner {
  private readonly mutex = new KeyedMutex();
  private readonly inits = new Map<string, Promise<InitResult>>();
  /** `dir\0workspace` pairs whose workspace was seen to exist. */
  private readonly workspaces = new Set<string>();
  private readonly binary: string;
  private readonly applyTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly graceMs: number;
  private readonly lockTimeoutMs: number;

  constructor(private readonly opts: TerraformRunnerOptions = {}) {
    this.binary = opts.binary ?? TERRAFORM_BINARY;
    this.applyTimeoutMs = positive("applyTimeoutMs", opts.applyTimeoutMs ?? TERRAFORM_APPLY_TIMEOUT_MS);
    this.commandTimeoutMs = positive("commandTimeoutMs", opts.commandTimeoutMs ?? TERRAFORM_COMMAND_TIMEOUT_MS);
    this.graceMs = positive("interruptGraceMs", opts.interruptGraceMs ?? TERRAFORM_INTERRUPT_GRACE_MS);
    this.lockTimeoutMs = positive("lockTimeoutMs", opts.lockTimeoutMs ?? TERRAFORM_LOCK_TIMEOUT_MS);
  }

  /** Whether a command runs (or waits to run) in `dir` now: the planner's "one apply at a time per directory". */
  isBusy(dir: string): boolean {
    return this.mutex.isBusy(path.resolve(dir));
  }

  /**
   * `terraform init -input=false` in `dir`, once per runner (later calls
   * return the first result with `cached: true`; a failed init is retried
   * on the next call).
   * @throws TerraformError with Terraform's output when init fails
   */
  async init(dir: string, workspace?: string): Promise<InitResult> {
    const key = path.resolve(dir);
    return this.mutex.run(key, () => this.initLocked(key, workspace ?? "default"));
  }

  /**
   * `terraform apply -auto-approve -input=false -no-color -json
   * -lock-timeout=… [-replace=ADDR …]` in `req.dir`, after any command
   * already running there. Never throws for a failed apply: see ApplyResult
   * and applyFailure.
   * @throws TerraformError when the binary cannot be started or init fails
   * @throws TerraformInputError when `req.workspace` does not exist in `req.dir` (never created on the fly)
   */
  async apply(req: ApplyRequest): Promise<ApplyResult> {
    const dir = path.resolve(req.dir);
    const workspace = req.workspace ?? "default";
    const replace = [...(req.replace ?? [])];
    return this.mutex.run(dir, async () => {
      await this.initLocked(dir, workspace);
      const args = [
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-json",
        `-lock-timeout=${goDuration(req.lockTimeoutMs ?? this.lockTimeoutMs)}`,
        ...replace.map((a) => `-replace=${a}`),
      ];
      this.opts.log?.info({ dir, workspace, replace }, "terraform apply started");
      const { exit, summary } = await this.runReinitOnce(dir, workspace, args, {
        timeoutMs: req.timeoutMs ?? this.applyTimeoutMs,
        onProgress: req.onProgress,
        signal: req.signal,
      });
      const result = toApplyResult({ dir, workspace, replace }, exit, summary);
      this.opts.log?.[result.ok ? "info" : "warn"](
        { dir, workspace, replace, ok: result.ok, changes: result.changes, duration_ms: result.durationMs, timed_out: result.timedOut, lock_error: result.lockError, error: firstError(result.diagnostics)?.summary },
        "terraform apply finished",
      );
      return result;
    });
  }

  /**
   * `terraform plan -json -detailed-exitcode` in `req.dir`: what an apply
   * would do. Read-only; with `lock: false` it neither waits for nor blocks an apply's lock.
   * @throws TerraformError when the binary cannot be started or init fails
   */
  async plan(req: PlanRequest): Promise<PlanResult> {
    const dir = path.resolve(req.dir);
    const workspace = req.workspace ?? "default";
    return this.mutex.run(dir, async () => {
      await this.initLocked(dir, workspace);
      const args = [
        "plan",
        "-input=false",
        "-no-color",
        "-json",
        "-detailed-exitcode",
        req.lock === false ? "-lock=false" : `-lock-timeout=${goDuration(this.lockTimeoutMs)}`,
        ...(req.refresh === false ? ["-refresh=false"] : []),
        ...(req.replace ?? []).map((a) => `-replace=${a}`),
      ];
      const { exit, summary } = await this.runReinitOnce(dir, workspace, args, {
        timeoutMs: this.commandTimeoutMs,
        onProgress: req.onProgress,
        signal: req.signal,
      });
      return {
        ok: (exit.code === 0 || exit.code === 2) && !exit.timedOut,
        dir,
        workspace,
        changes: summary.plannedChanges ?? NO_CHANGES,
        planned: summary.planned,
        diagnostics: withStderr(summary.diagnostics, exit),
        durationMs: exit.durationMs,
        timedOut: exit.timedOut,
        lockError: summary.diagnostics.some(isStateLockDiagnostic),
        exitCode: exit.code,
      };
    });
  }

  /**
   * The resource instances in the state of `dir` (`terraform show -json`), modules included.
   * @throws TerraformError when show fails or prints something that is not a state document
   */
  async state(dir: string, workspace = "default"): Promise<StateResource[]> {
    const key = path.resolve(dir);
    return this.mutex.run(key, async () => {
      await this.initLocked(key, workspace);
      let out = "";
      const exit = await this.spawn(key, workspace, ["show", "-json", "-no-color"], this.commandTimeoutMs, (l) => (out += l + "\n"));
      let doc: unknown;
      try {
        doc = JSON.parse(out);
      } catch (err) {
        throw new TerraformError(`terraform show -json in ${key} printed no state document (exit ${exit.code}): ${exit.stderrTail.trim() || out.slice(0, 500)}`, {
          dir: key,
          workspace,
          cause: err,
        });
      }
      if (exit.code !== 0) throw new TerraformError(`terraform show -json in ${key} exited ${exit.code}: ${exit.stderrTail.trim()}`, { dir: key, workspace });
      return stateResources(doc);
    });
  }

  /**
   * Which managed resource instance addresses exist in `dir`: those in state,
   * and those a plan would create (refresh and lock off: no cloud API call,
   * never in an apply's way). `steward validate` checks a pool's address
   * template against these.
   * @throws TerraformError when show or plan fails
   */
  async resourceAddresses(dir: string, workspace = "default"): Promise<{ inState: string[]; planned: string[] }> {
    const state = await this.state(dir, workspace);
    const plan = await this.plan({ dir, workspace, refresh: false, lock: false });
    if (!plan.ok) {
      const d = firstError(plan.diagnostics);
      throw new TerraformError(`terraform plan in ${plan.dir} failed: ${d ? describeDiagnostic(d) : `exit ${plan.exitCode}`}`, { dir: plan.dir, workspace, diagnostics: plan.diagnostics });
    }
    return {
      inState: state.filter((r) => r.mode === "managed").map((r) => r.address),
      planned: plan.planned.filter((c) => c.action === "create" || c.action === "replace").map((c) => c.address),
    };
  }

  private async initLocked(dir: string, workspace: string): Promise<InitResult> {
    const cached = this.inits.get(dir);
    let result: InitResult;
    if (cached) {
      result = { ...(await cached), cached: true };
    } else {
      const p = this.runInit(dir, workspace);
      this.inits.set(dir, p);
      try {
        result = await p;
      } catch (err) {
        this.inits.delete(dir);
        throw err;
      }
    }
    await this.checkWorkspace(dir, workspace);
    return result;
  }

  /**
   * With TF_WORKSPACE naming a workspace that does not exist, the local
   * backend silently creates it and applies the whole configuration into
   * empty state: a typo in a pool file would build a second cluster. So a
   * workspace other than `default` must already exist (once per runner).
   */
  private async checkWorkspace(dir: string, workspace: string): Promise<void> {
    const key = `${dir}\u0000${workspace}`;
    if (workspace === "default" || this.workspaces.has(key)) return;
    let out = "";
    const exit = await this.spawn(dir, "default", ["workspace", "list"], this.commandTimeoutMs, (l) => (out += l + "\n"));
    if (exit.code !== 0) throw new TerraformError(`terraform workspace list in ${dir} exited ${exit.code}: ${exit.stderrTail.trim()}`, { dir, workspace });
    // Names are listed as "* current" or "  other"; a note about TF_WORKSPACE may follow, unindented.
    const names = out.split("\n").flatMap((l) => /^[* ] (\S+)\s*$/.exec(l)?.[1] ?? []);
    if (!names.includes(workspace)) {
      throw new TerraformInputError(
        `terraform workspace ${workspace} does not exist in ${dir} (it has ${names.join(", ")}); Steward never creates one: run \`terraform workspace new ${workspace}\` there if it is meant to exist`,
        { dir, workspace },
      );
    }
    this.workspaces.add(key);
  }

  private async runInit(dir: string, workspace: string): Promise<InitResult> {
    let out = "";
    const exit = await this.spawn(dir, workspace, ["init", "-input=false", "-no-color"], this.commandTimeoutMs, (l) => (out += l + "\n"));
    if (exit.code !== 0) {
      const why = exit.timedOut ? `timed out after ${this.commandTimeoutMs} ms` : `exited ${exit.code}`;
      throw new TerraformError(`terraform init in ${dir} ${why}: ${(exit.stderrTail || out).trim().slice(-2000)}`, { dir, workspace });
    }
    this.opts.log?.info({ dir, duration_ms: exit.durationMs }, "terraform init done");
    return { dir, durationMs: exit.durationMs, cached: false };
  }

  /** Runs a `-json` command; when Terraform says the directory needs init again, inits and runs it once more. */
  private async runReinitOnce(
    dir: string,
    workspace: string,
    args: string[],
    o: { timeoutMs: number; onProgress: ((e: TerraformEvent) => void) | undefined; signal: AbortSignal | undefined },
  ): Promise<{ exit: ProcessExit; summary: StreamSummary }> {
    const first = await this.runJson(dir, workspace, args, o);
    if (first.exit.code === 0 || !first.summary.diagnostics.some(needsInitDiagnostic)) return first;
    this.inits.delete(dir);
    await this.initLocked(dir, workspace);
    return this.runJson(dir, workspace, args, o);
  }

  private async runJson(
    dir: string,
    workspace: string,
    args: string[],
    o: { timeoutMs: number; onProgress: ((e: TerraformEvent) => void) | undefined; signal: AbortSignal | undefined },
  ): Promise<{ exit: ProcessExit; summary: StreamSummary }> {
    const stream = new TerraformStream();
    let refused: string | undefined;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(o.signal?.reason);
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const exit = await this.spawn(dir, workspace, args, o.timeoutMs, (line) => {
        const event = stream.push(line);
        const ui = stream.summary().uiVersion;
        // The version line comes first, before anything is planned: refusing there changes nothing.
        if (refused === undefined && ui !== undefined && !isSupportedUiVersion(ui)) {
          refused = ui;
          controller.abort();
        }
        if (event) o.onProgress?.(event);
      }, controller.signal);
      const summary = stream.summary();
      if (refused !== undefined) {
        summary.diagnostics.unshift({
          severity: "error",
          summary: "Unsupported Terraform UI version",
          detail: `terraform printed machine-readable UI version ${refused}; Steward reads 1.x only, so it interrupted the command before it planned anything`,
        });
      }
      return { exit: { ...exit, aborted: exit.aborted && refused === undefined }, summary };
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
  }

  private async spawn(dir: string, workspace: string, args: string[], timeoutMs: number, onLine: (l: string) => void, signal?: AbortSignal): Promise<ProcessExit> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      ...this.opts.env,
      // TF_WORKSPACE selects per command without writing .terraform/environment (what `workspace select` does), so nothing is left selected for the next caller.
      TF_WORKSPACE: workspace,
    };
    try {
      return await runProcess({ binary: this.binary, args: [`-chdir=${dir}`, ...args], env, timeoutMs, graceMs: this.graceMs, onLine, ...(signal ? { signal } : {}) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? `terraform binary ${this.binary} not found (set the binary path, or install terraform on PATH)` : `cannot start ${this.binary}: ${(err as Error).message}`;
      throw new TerraformError(`terraform ${args[0] ?? ""} in ${dir}: ${why}`, { dir, workspace, cause: err });
    }
  }
}

/** Details a Terraform error carries beyond ErrorContext. */
export interface TerraformErrorDetails {
  dir: string;
  workspace?: string;
  /** The `-replace` addresses of the apply. */
  addresses?: readonly string[];
  diagnostics?: readonly TerraformDiagnostic[];
  timedOut?: boolean;
  lockError?: boolean;
  context?: ErrorContext;
  cause?: unknown;
}

/** A Terraform command failed in a way that may pass (cloud API errors, throttling, timeouts, the state lock): retry with backoff. */
export class TerraformError extends TransientError {
  readonly dir: string;
  readonly workspace: string;
  readonly addresses: readonly string[];
  readonly diagnostics: readonly TerraformDiagnostic[];
  readonly timedOut: boolean;
  readonly lockError: boolean;

  constructor(message: string, d: TerraformErrorDetails) {
    super(message, d.context ?? {}, undefined, d.cause !== undefined ? { cause: d.cause } : undefined);
    this.dir = d.dir;
    this.workspace = d.workspace ?? "default";
    this.addresses = d.addresses ?? [];
    this.diagnostics = d.diagnostics ?? [];
    this.timedOut = d.timedOut ?? false;
    this.lockError = d.lockError ?? false;
  }
}

/** A Terraform command failed because its input is wrong (a `-replace` address, a variable, the configuration): retrying cannot help. */
export class TerraformInputError extends InvalidInputError {
  readonly dir: string;
  readonly addresses: readonly string[];
  readonly diagnostics: readonly TerraformDiagnostic[];

  constructor(message: string, d: TerraformErrorDetails) {
    super(message, d.context ?? {});
    this.dir = d.dir;
    this.addresses = d.addresses ?? [];
    this.diagnostics = d.diagnostics ?? [];
  }
}

/**
 * The error for a failed apply, undefined for a successful one. The message
 * names the directory, the `-replace` addresses and Terraform's first error
 * (the provider's own words, e.g. `api error RequestLimitExceeded: Request
 * limit exceeded.`). Input errors (see isInputDiagnostic) are terminal;
 * everything else is transient.
 */
export function applyFailure(r: ApplyResult, context: ErrorContext = {}): TerraformError | TerraformInputError | undefined {
  if (r.ok) return undefined;
  const where = `terraform apply in ${r.dir}${r.workspace !== "default" ? ` (workspace ${r.workspace})` : ""}${r.replace.length ? ` replacing ${r.replace.join(", ")}` : ""}`;
  const d = firstError(r.diagnostics);
  const details: TerraformErrorDetails = { dir: r.dir, workspace: r.workspace, addresses: r.replace, diagnostics: r.diagnostics, timedOut: r.timedOut, lockError: r.lockError, context };
  if (r.timedOut) {
    return new TerraformError(`${where} timed out after ${Math.round(r.durationMs / 1000)} s and was ${r.killed ? "killed (the state lock may be left behind)" : "interrupted (state saved, lock released)"}${d ? `: ${describeDiagnostic(d)}` : ""}`, details);
  }
  if (r.lockError) return new TerraformError(`${where}: the state lock is held by another process${lockHolder(r.diagnostics)}`, details);
  if (d && isInputDiagnostic(d)) return new TerraformInputError(`${where}: ${describeDiagnostic(d)}`, details);
  return new TerraformError(`${where} failed${r.interrupted ? " (interrupted)" : ""}: ${d ? describeDiagnostic(d) : `exit ${r.exitCode}${r.stderr ? `: ${r.stderr.trim().slice(-500)}` : ""}`}`, details);
}

/** ` (root@host, OperationTypeApply since …)` from the lock diagnostic's Lock Info block, or "". */
function lockHolder(ds: readonly TerraformDiagnostic[]): string {
  const detail = ds.find(isStateLockDiagnostic)?.detail ?? "";
  const field = (name: string): string | undefined => new RegExp(`^\\s*${name}:\\s*(.+)$`, "m").exec(detail)?.[1]?.trim();
  const [who, op, created] = [field("Who"), field("Operation"), field("Created")];
  if (!who) return "";
  return ` (${who}${op ? `, ${op}` : ""}${created ? ` since ${created}` : ""})`;
}

/** `summary` and, when the diagnostic names one, the resource address and configuration location. */
export function describeDiagnostic(d: TerraformDiagnostic): string {
  const at = [d.address, d.location].filter(Boolean).join(", ");
  return `${d.summary}${at ? ` (${at})` : ""}`;
}

function firstError(ds: readonly TerraformDiagnostic[]): TerraformDiagnostic | undefined {
  return ds.find((d) => d.severity === "error");
}

function toApplyResult(req: { dir: string; workspace: string; replace: string[] }, exit: ProcessExit, s: StreamSummary): ApplyResult {
  const unmatched = unmatchedReplace(req.replace, s);
  const diagnostics = [...withStderr(s.diagnostics, exit), ...unmatched.map(unmatchedDiagnostic)];
  return {
    ok: exit.code === 0 && !exit.timedOut && !exit.aborted && unmatched.length === 0,
    unmatchedReplace: unmatched,
    ...req,
    changes: s.appliedChanges ?? tally(s.resources),
    ...(s.plannedChanges ? { planned: s.plannedChanges } : {}),
    resources: s.resources,
    diagnostics,
    ...(s.outputs ? { outputs: s.outputs } : {}),
    durationMs: exit.durationMs,
    timedOut: exit.timedOut,
    interrupted: exit.aborted,
    killed: exit.killed,
    lockError: diagnostics.some(isStateLockDiagnostic),
    exitCode: exit.code,
    ...(s.terraformVersion ? { terraformVersion: s.terraformVersion } : {}),
    ...(exit.stderrTail.trim() ? { stderr: exit.stderrTail } : {}),
  };
}

/**
 * `-replace` addresses the plan never mentioned. Terraform ignores a valid
 * address that matches no resource instance, silently, and applies the rest
 * (contract README): for healing that is a node not replaced. Known only once
 * the plan finished (its change_summary); before that nothing was planned at all.
 */
function unmatchedReplace(replace: readonly string[], s: StreamSummary): string[] {
  if (!s.plannedChanges) return [];
  // Terraform prints addresses canonically; a template may have spaces Terraform's parser drops.
  const canon = (a: string): string => a.replace(/\s+/g, "");
  const planned = new Set(s.planned.map((p) => canon(p.address)));
  return replace.filter((a) => !planned.has(canon(a)));
}

function unmatchedDiagnostic(address: string): TerraformDiagnostic {
  return {
    severity: "error",
    summary: REPLACE_UNMATCHED,
    detail: `-replace=${address} names no resource instance of the configuration, so Terraform ignored it (it says nothing about such an address): check the pool's address template against \`terraform state list\``,
    address,
  };
}

/** A failure with no diagnostic in the stream (a crash, a flag error before `-json`) still gets one, from stderr. */
function withStderr(ds: TerraformDiagnostic[], exit: ProcessExit): TerraformDiagnostic[] {
  if (exit.code === 0 || exit.code === 2 || ds.some((d) => d.severity === "error") || !exit.stderrTail.trim()) return ds;
  return [...ds, { severity: "error", summary: exit.stderrTail.trim().split("\n")[0] ?? "terraform failed", detail: exit.stderrTail.trim() }];
}

function tally(resources: readonly ResourceOutcome[]): ChangeCounts {
  const c = { add: 0, change: 0, remove: 0 };
  for (const r of resources) {
    if (r.status !== "complete") continue;
    if (r.action === "create") c.add++;
    else if (r.action === "update") c.change++;
    else if (r.action === "delete") c.remove++;
  }
  return c;
}

interface StateModule {
  resources?: { address?: unknown; mode?: unknown; type?: unknown; values?: unknown }[];
  child_modules?: StateModule[];
}

function stateResources(doc: unknown): StateResource[] {
  const root = (doc as { values?: { root_module?: StateModule } } | null)?.values?.root_module;
  const out: StateResource[] = [];
  const walk = (m: StateModule | undefined): void => {
    for (const r of m?.resources ?? []) {
      if (typeof r.address !== "string" || typeof r.type !== "string") continue;
      const values = typeof r.values === "object" && r.values !== null ? (r.values as Record<string, unknown>) : {};
      out.push({ address: r.address, mode: r.mode === "data" ? "data" : "managed", type: r.type, values });
    }
    for (const c of m?.child_modules ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Milliseconds as a Go duration: whole seconds as `30s` (as Terraform prints them back), anything else as `1500ms`. */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.ceil(ms)}ms`;
}

function positive(field: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`terraform.${field}: must be a positive number of milliseconds, got ${String(v)}`);
  return v;
}

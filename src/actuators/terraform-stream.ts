/**
 * Reading Terraform's machine-readable UI (`plan -json`, `apply -json`): one
 * JSON object per stdout line, contract in ../shared/api-reference/terraform/.
 * Pure: lines in, events and a summary out. Message types and keys this code
 * does not know are skipped, as the contract asks, and any `1.x` UI schema is
 * accepted.
 */

/** A diagnostic as Terraform printed it. `address` names a resource instance when the error belongs to one. */
export interface TerraformDiagnostic {
  severity: "error" | "warning";
  summary: string;
  detail: string;
  address?: string;
  /** `file:line` of the configuration the diagnostic points at, when it has a range. */
  location?: string;
}

/** Counts of a `change_summary` (or tallied from completed resources when the apply failed before one). */
export interface ChangeCounts {
  add: number;
  change: number;
  remove: number;
}

/**
 * One line of progress, for logs and the UI. `message` is Terraform's own
 * `@message` (e.g. `module.w.aws_instance.worker["b"]: Creating...`);
 * the other fields are what a caller may act on.
 */
export interface TerraformEvent {
  /** The UI message type: `planned_change`, `apply_start`, `apply_progress`, `apply_complete`, `apply_errored`, `change_summary`, `diagnostic`, `log`, `state_lock_acquire`, … */
  type: string;
  level: "info" | "warn" | "error";
  message: string;
  /** Resource instance address, for resource messages and addressed diagnostics. */
  address?: string;
  /** `create`, `delete`, `update`, `replace`, `read`, … (planned_change and apply hooks). */
  action?: string;
  /** planned_change only: `requested` (-replace), `tainted`, `cannot_update`, … */
  reason?: string;
  /** apply_complete: the new resource id (an instance id). */
  idValue?: string;
  elapsedSeconds?: number;
  /** change_summary only. */
  changes?: ChangeCounts & { operation: string };
}

/** What became of one resource instance during an apply. */
export interface ResourceOutcome {
  address: string;
  action: string;
  status: "started" | "complete" | "errored";
  /** The id after a create (apply_complete `id_value`). */
  idValue?: string;
  elapsedSeconds?: number;
}

/** A planned change of one resource instance (`planned_change`). */
export interface PlannedChange {
  address: string;
  action: string;
  reason?: string;
}

/** Everything a finished `-json` stream said. */
export interface StreamSummary {
  /** From the `version` line, e.g. `1.11.4`. */
  terraformVersion?: string;
  /** The UI schema version, e.g. `1.2`. */
  uiVersion?: string;
  planned: PlannedChange[];
  /** The plan's change_summary. */
  plannedChanges?: ChangeCounts;
  /** The apply's (or destroy's) change_summary; absent when the apply failed. */
  appliedChanges?: ChangeCounts;
  resources: ResourceOutcome[];
  diagnostics: TerraformDiagnostic[];
  /** Final output values of a successful apply (the `outputs` line whose entries carry `value`). */
  outputs?: Record<string, unknown>;
  /** Lines that were not UI messages (human text, a truncated line). */
  otherLines: number;
}

type Json = Record<string, unknown>;

/**
 * Accumulates a stream line by line. Feed every stdout line to `push`, which
 * returns the line as an event (or undefined for lines that carry nothing to
 * show); read `summary()` at the end.
 */
export class TerraformStream {
  private readonly s: StreamSummary = { planned: [], resources: [], diagnostics: [], otherLines: 0 };
  private readonly byAddress = new Map<string, ResourceOutcome>();

  push(line: string): TerraformEvent | undefined {
    const msg = parseLine(line);
    if (!msg) {
      if (line.trim() !== "") this.s.otherLines++;
      return undefined;
    }
    const type = str(msg.type) ?? "unknown";
    const event: TerraformEvent = { type, level: level(msg["@level"]), message: str(msg["@message"]) ?? "" };
    switch (type) {
      case "version":
        this.onVersion(msg);
        return undefined;
      case "planned_change":
        this.onPlanned(msg, event);
        break;
      case "apply_start":
      case "apply_progress":
      case "apply_complete":
      case "apply_errored":
        this.onHook(type, msg, event);
        break;
      case "change_summary":
        this.onSummary(msg, event);
        break;
      case "diagnostic":
        this.onDiagnostic(msg, event);
        break;
      case "outputs":
        this.onOutputs(msg);
        return undefined;
      default:
        break;
    }
    return event;
  }

  summary(): StreamSummary {
    return { ...this.s, resources: [...this.byAddress.values()] };
  }

  private onVersion(msg: Json): void {
    const tf = str(msg.terraform);
    const ui = str(msg.ui);
    if (tf !== undefined) this.s.terraformVersion = tf;
    if (ui !== undefined) this.s.uiVersion = ui;
  }

  private onPlanned(msg: Json, event: TerraformEvent): void {
    const change = obj(msg.change);
    const address = str(obj(change?.resource)?.addr);
    const action = str(change?.action);
    const reason = str(change?.reason);
    if (address === undefined || action === undefined) return;
    this.s.planned.push({ address, action, ...(reason !== undefined ? { reason } : {}) });
    Object.assign(event, { address, action }, reason !== undefined ? { reason } : {});
  }

  private onHook(type: string, msg: Json, event: TerraformEvent): void {
    const hook = obj(msg.hook);
    const address = str(obj(hook?.resource)?.addr);
    const action = str(hook?.action);
    if (address === undefined || action === undefined) return;
    const elapsed = num(hook?.elapsed_seconds);
    const idValue = str(hook?.id_value);
    Object.assign(event, { address, action }, elapsed !== undefined ? { elapsedSeconds: elapsed } : {}, idValue !== undefined ? { idValue } : {});
    // A replacement is two hooks on one address (delete, then create): the key keeps both.
    const key = `${address}\u0000${action}`;
    const prev = this.byAddress.get(key);
    const status = type === "apply_complete" ? "complete" : type === "apply_errored" ? "errored" : (prev?.status ?? "started");
    this.byAddress.set(key, {
      address,
      action,
      status,
      ...(idValue !== undefined ? { idValue } : prev?.idValue !== undefined ? { idValue: prev.idValue } : {}),
      ...(elapsed !== undefined ? { elapsedSeconds: elapsed } : {}),
    });
  }

  private onSummary(msg: Json, event: TerraformEvent): void {
    const c = obj(msg.changes);
    if (!c) return;
    const counts: ChangeCounts = { add: num(c.add) ?? 0, change: num(c.change) ?? 0, remove: num(c.remove) ?? 0 };
    const operation = str(c.operation) ?? "apply";
    if (operation === "plan") this.s.plannedChanges = counts;
    else this.s.appliedChanges = counts;
    event.changes = { ...counts, operation };
  }

  private onDiagnostic(msg: Json, event: TerraformEvent): void {
    const d = obj(msg.diagnostic);
    if (!d) return;
    const diag = toDiagnostic(d);
    this.s.diagnostics.push(diag);
    if (diag.address !== undefined) event.address = diag.address;
  }

  private onOutputs(msg: Json): void {
    const outs = obj(msg.outputs);
    if (!outs) return;
    const values: Record<string, unknown> = {};
    let final = false;
    for (const [name, o] of Object.entries(outs)) {
      const out = obj(o);
      if (out && "value" in out) {
        values[name] = out.value;
        final = true;
      }
    }
    // The planned outputs line (entries with `action`) comes first; only the final values count.
    if (final) this.s.outputs = values;
  }
}

/** Parses one stdout line as a UI message; undefined when it is not one. */
export function parseLine(line: string): Json | undefined {
  const t = line.trim();
  if (!t.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return obj(v);
  } catch {
    return undefined;
  }
}

/** A UI schema this reader understands: any `1.x` (new minors only add things), and the pre-1.1 `0.1.0`. */
export function isSupportedUiVersion(ui: string): boolean {
  return /^(1\.\d+(\.\d+)?|0\.1\.0)$/.test(ui);
}

/**
 * Terraform's state-lock failure (`Error acquiring the state lock`). Terraform
 * gives only text for it, so the match lives here alone.
 */
export function isStateLockDiagnostic(d: TerraformDiagnostic): boolean {
  return d.severity === "error" && d.summary === "Error acquiring the state lock";
}

/**
 * Diagnostics that mean the working directory needs `terraform init` again
 * (a module or provider added since the last init). Text only, as above.
 */
export function needsInitDiagnostic(d: TerraformDiagnostic): boolean {
  return (
    d.severity === "error" &&
    /^(Module not installed|Required plugins are not installed|Inconsistent dependency lock file|Backend initialization required|Missing required provider|Module source has changed)/.test(d.summary)
  );
}

/**
 * Diagnostics that retrying cannot fix: the configuration, a variable or a
 * flag (e.g. a `-replace` address) is wrong. Everything else — the cloud
 * API's errors, timeouts, the state lock — may pass. Text only, as above.
 */
export function isInputDiagnostic(d: TerraformDiagnostic): boolean {
  return (
    d.severity === "error" &&
    /^(Invalid force-replace address|Replace address matched no resource instance|Unsupported plan mode|No value for required variable|Invalid value for (input )?variable|Unsupported argument|Missing required argument|Unsupported block type|Reference to undeclared|Invalid reference|Argument or block definition required|Invalid expression|Resource precondition failed|Invalid for_each argument|Invalid count argument)/.test(
      d.summary,
    )
  );
}

function toDiagnostic(d: Json): TerraformDiagnostic {
  const range = obj(d.range);
  const start = obj(range?.start);
  const file = str(range?.filename);
  const line = num(start?.line);
  const address = str(d.address);
  return {
    severity: d.severity === "warning" ? "warning" : "error",
    summary: str(d.summary) ?? "",
    detail: str(d.detail) ?? "",
    ...(address !== undefined && address !== "" ? { address } : {}),
    ...(file !== undefined ? { location: line !== undefined ? `${file}:${line}` : file } : {}),
  };
}

function level(v: unknown): TerraformEvent["level"] {
  return v === "error" ? "error" : v === "warn" ? "warn" : "info";
}

function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

import { HEALING_PROGRESS_LINE_CHARS, HEALING_PROGRESS_LINES } from "../../config/defaults.js";
import { REDACTED, scrubSecrets } from "../../log.js";

/**
 * The Terraform progress lines of a replacement in flight, as the status
 * (and so the live UI's pool page) carries them: only messages of known,
 * harmless kinds, every credential scrubbed, bounded in count and length.
 * Terraform can echo a variable's value (a diagnostic's detail, a provider's
 * log line), so nothing passes that was not chosen to pass.
 */

/** One line of a Terraform apply, as the pool page shows it. `at` is epoch ms. */
export interface ProgressLine {
  at: number;
  level: "info" | "warn" | "error";
  message: string;
}

/** A pool's latest apply run by this process: its id (the incidents' `applyId`) and its last lines, oldest first. */
export interface ApplyProgress {
  applyId: string;
  lines: ProgressLine[];
}

/** A Terraform UI event as the runner reports it (actuators/terraform-stream.ts's TerraformEvent satisfies it). */
export interface TerraformProgressEvent {
  /** The `-json` message type (`apply_start`, `diagnostic`, `log`, …). */
  type: string;
  level: "info" | "warn" | "error";
  /** Terraform's `@message`. */
  message: string;
}

/**
 * The `-json` message types whose `@message` is shown: resource hooks
 * (`…: Creating...`, `…: Still creating... [10s elapsed]`, `…: Creation
 * complete after 31s [id=i-…]`), planned changes, refreshes, the change
 * summary, and diagnostics (their `@message` is `Error: <summary>`; the
 * detail, which may quote a variable, is never part of it). Not shown:
 * `log` (free text from Terraform and providers), `outputs` (values),
 * provisioner output, and any type Terraform adds later.
 */
export const PROGRESS_TYPES: ReadonlySet<string> = new Set([
  "planned_change",
  "apply_start",
  "apply_progress",
  "apply_complete",
  "apply_errored",
  "refresh_start",
  "refresh_complete",
  "resource_drift",
  "change_summary",
  "diagnostic",
]);

/** Shapes of credentials that are redacted even when Steward never read their value. */
const CREDENTIAL_PATTERNS: readonly RegExp[] = [
  // AWS access key ids (long-term and STS).
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  // Vault tokens: service, batch and legacy.
  /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/g,
  /\bs\.[A-Za-z0-9]{24}\b/g,
  // `password = …`, `secret: …`, `token=…` in free text (not a resource address like `module.secret: Creating...`).
  /(?<![.\w"[])(password|passwd|secret|token|secret_key|access_key|private_key)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi,
];

/** Environment names whose values may be secrets or a Terraform variable's value. */
const SENSITIVE_NAME = /^TF_VAR_|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|(^|_)KEY($|_)/i;

// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]+/g;

/** Shorter values are not redacted: replacing them would mangle ordinary words. */
const MIN_REDACTED_LENGTH = 6;

/**
 * The values of `env` that may be secrets or Terraform variables: `TF_VAR_*`
 * and names with SECRET, TOKEN, PASSWORD, CREDENTIAL, PRIVATE or KEY in them.
 */
export function sensitiveEnvValues(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(env).flatMap(([name, v]) => (v !== undefined && SENSITIVE_NAME.test(name) && v.length >= MIN_REDACTED_LENGTH ? [v] : []));
}

/**
 * A redactor for progress text: every value registered with log.ts's
 * `addSecret` (tokens read from the environment, files or Vault, the AWS
 * keys), the `extra` values (e.g. `sensitiveEnvValues` of terraform's
 * environment), and what looks like a credential (AWS key ids, Vault
 * tokens, `password=…`) become `[REDACTED]`.
 */
export function createRedactor(extra: Iterable<string> = []): (text: string) => string {
  // Longest first, so a value that contains another is replaced whole.
  const values = [...new Set(extra)].filter((v) => v.length >= MIN_REDACTED_LENGTH).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = scrubSecrets(text);
    for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    for (const p of CREDENTIAL_PATTERNS) out = out.replace(p, (m, name?: string, sep?: string) => (typeof name === "string" && typeof sep === "string" && /[=:]/.test(sep) ? `${name}${sep}${REDACTED}` : REDACTED));
    return out;
  };
}

/**
 * The line a Terraform event shows on the pool page, or undefined when its
 * kind is not shown (see PROGRESS_TYPES) or it says nothing. Control
 * characters and colour codes go, the text is redacted, then cut to HEALING_PROGRESS_LINE_CHARS.
 */
export function progressLineOf(e: TerraformProgressEvent, at: number, redact: (text: string) => string): ProgressLine | undefined {
  if (!PROGRESS_TYPES.has(e.type)) return undefined;
  const flat = e.message.replace(ANSI_ESCAPE, "").replace(CONTROL_CHARS, " ").trim();
  if (!flat) return undefined;
  const clean = redact(flat);
  const message = clean.length > HEALING_PROGRESS_LINE_CHARS ? `${clean.slice(0, HEALING_PROGRESS_LINE_CHARS - 1)}…` : clean;
  return { at, level: e.level, message };
}

/**
 * Appends a line to the pool's latest apply, starting afresh when `applyId`
 * is a new apply; keeps the last `max` lines.
 */
export function appendProgress(store: Map<string, ApplyProgress>, pool: string, applyId: string, line: ProgressLine, max = HEALING_PROGRESS_LINES): void {
  const known = store.get(pool);
  const p = known?.applyId === applyId ? known : { applyId, lines: [] };
  p.lines.push(line);
  if (p.lines.length > max) p.lines.splice(0, p.lines.length - max);
  store.set(pool, p);
}

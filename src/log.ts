import { hostname } from "node:os";
import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";

export type { Logger };

/** Header names that carry credentials, in the spellings clients send them. */
export const SECRET_HEADERS = ["X-Nomad-Token", "X-Consul-Token", "X-Vault-Token", "Authorization", "Cookie"] as const;

/** Object keys whose values are credentials wherever they appear (Nomad/Consul ACL SecretID, Vault client_token, …). */
const SECRET_KEYS = ["token", "Token", "secretId", "SecretID", "client_token", "password", "authorization"];

const HEADER_CONTAINERS = ["headers", "*.headers", "config.headers", "*.config.headers", "*.*.headers"];

/**
 * Paths pino removes from every line: credential keys at the top and one or
 * two levels down, and credential headers in request objects, axios configs
 * and errors (`err.config.headers`), in both spellings of each header name.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  ...HEADER_CONTAINERS.flatMap((c) =>
    SECRET_HEADERS.flatMap((h) => [`${c}["${h}"]`, `${c}["${h.toLowerCase()}"]`]),
  ),
];

/** What replaces a redacted value. */
export const REDACTED = "[REDACTED]";

/**
 * Fields a log line may carry about what it concerns, named like the metric
 * labels so one search works in both (STYLE 4.3). Undefined fields are
 * left out of the line.
 */
export interface LogFields {
  loop?: string | undefined;
  env?: string | undefined;
  nomad_job?: string | undefined;
  service?: string | undefined;
  pool?: string | undefined;
  node?: string | undefined;
  revision?: string | undefined;
  reconcile_id?: string | undefined;
  source?: string | undefined;
  target?: string | undefined;
}

/** Options of `createLogger`. */
export interface CreateLoggerOptions {
  /** pino level. @default "info" */
  level?: LoggerOptions["level"];
  /** Where lines go. @default stdout */
  destination?: DestinationStream;
  /** Fields on every line, besides `pid` and `hostname`. */
  base?: LogFields & Record<string, string>;
}

const secrets = new Set<string>();

/**
 * Registers a credential's value (a token read from the environment or
 * Vault) so that it is scrubbed from every log line, whatever path it hides
 * in: the second line of defence behind `REDACT_PATHS`. Values shorter than
 * 8 characters are ignored, since scrubbing them would mangle ordinary text.
 */
export function addSecret(value: string): void {
  if (value.length >= 8) secrets.add(value);
}

function scrub(line: string): string {
  let out = line;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
  }
  return out;
}

/**
 * `text` with every value given to `addSecret` replaced by `REDACTED`: for
 * text that leaves Steward other than through a log line (the live UI's
 * Terraform progress lines).
 */
export function scrubSecrets(text: string): string {
  return scrub(text);
}

/**
 * Steward's JSON logger. Redaction is always on (unlike pepr's opt-in):
 * `REDACT_PATHS` plus every value given to `addSecret`. Errors under `err`
 * are serialised with their `context` (env, nomad_job, endpoint, …).
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? "info",
    // Which instance wrote the line matters: Steward runs on every server, one of them leading.
    base: { pid: process.pid, hostname: hostname(), ...options.base },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: scrub },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/**
 * A child logger for one concern (a loop, a pass, a source), carrying `fields`
 * on every line. Undefined fields are left out rather than logged as null.
 */
export function childLogger(parent: Logger, fields: LogFields): Logger {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return parent.child(defined);
}

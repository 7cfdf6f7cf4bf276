/**
 * Where an error happened, in the words the user knows: the environment,
 * Nomad job, service, node, file (and line), field, or API endpoint. Every
 * Steward error carries the parts it knows; logs and status show them.
 */
export interface ErrorContext {
  env?: string;
  nomadJob?: string;
  service?: string;
  pool?: string;
  node?: string;
  file?: string;
  line?: number;
  field?: string;
  endpoint?: string;
  revision?: string;
}

/** The base of every error Steward raises on purpose. `kind` decides what the runner does with it. */
export abstract class StewardError extends Error {
  abstract readonly kind: "invalid" | "waiting" | "conflict" | "transient";

  constructor(
    message: string,
    readonly context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** `file:line: field: message`, or as much of it as is known. */
  describe(): string {
    return describeIssue({ message: this.message, ...this.context });
  }
}

/**
 * Terminal: the input is wrong and retrying cannot help. The key goes
 * Stalled, the last good revision stays in force, and the message names the
 * file and field so the user can fix it.
 */
export class InvalidInputError extends StewardError {
  readonly kind = "invalid" as const;

  constructor(
    message: string,
    context: ErrorContext = {},
    /** Every problem found, when validation collected several. */
    readonly issues: ValidationIssue[] = [{ message, ...context }],
    options?: { cause?: unknown },
  ) {
    super(message, context, options);
  }
}

/** One problem in the desired state, located as precisely as the input allows. */
export interface ValidationIssue extends ErrorContext {
  message: string;
}

/** Formats an issue the way compilers do: `services/web/service.yaml:7: sync.drift: must be heal or report`. */
export function describeIssue(i: ValidationIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}` : ""}: ` : "";
  const field = i.field ? `${i.field}: ` : "";
  const scope = [i.env && `env ${i.env}`, i.nomadJob && `job ${i.nomadJob}`, i.endpoint && `endpoint ${i.endpoint}`]
    .filter(Boolean)
    .join(", ");
  return `${where}${field}${i.message}${scope ? ` (${scope})` : ""}`;
}

import { IMAGE_VARIABLE } from "./schema-service.js";
import type { ServiceSpec } from "./types.js";

/**
 * The `Variables` text for Nomad's `/v1/jobs/parse` (a variables file): one
 * `name = value` line per variable, `image` first, then the environment's
 * variables sorted by name, so equal inputs give equal text. Strings are
 * HCL-quoted and escaped (including `${` and `%{`, which would otherwise be
 * template directives); numbers and booleans are bare.
 * @param env an environment the service runs in
 * @param imageRef what `var.image` becomes: `repository@sha256:…`
 * @throws Error when the service does not run in `env`, or its variables
 *   set `image` (both excluded by {@link loadDesiredState}; a caller bug)
 */
export function renderVariables(service: ServiceSpec, env: string, imageRef: string): string {
  const spec = service.environments[env];
  if (!spec) throw new Error(`service ${service.name} does not run in environment ${env}`);
  if (IMAGE_VARIABLE in spec.variables) throw new Error(`service ${service.name} sets "image" in ${env}; it is Steward's`);
  const names = Object.keys(spec.variables).sort();
  const lines = [`${IMAGE_VARIABLE} = ${hclString(imageRef)}`];
  for (const name of names) lines.push(`${name} = ${hclValue(spec.variables[name] ?? "")}`);
  return `${lines.join("\n")}\n`;
}

/** One value as an HCL literal. */
export function hclValue(v: string | number | boolean): string {
  if (typeof v === "string") return hclString(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`${v} has no HCL literal`);
    // JS prints 1e21 as "1e+21", which HCL's number grammar also reads.
    return String(v);
  }
  return v ? "true" : "false";
}

/**
 * A string as an HCL quoted template that evaluates to exactly `s`: the
 * escapes HCL knows (`\\`, `\"`, `\n`, `\r`, `\t`), other control
 * characters as `\uNNNN`, and template openers doubled (`$${`, `%%{`).
 */
export function hclString(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? "";
    const next = s[i + 1];
    if (c === "\\") out += "\\\\";
    else if (c === '"') out += '\\"';
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if ((c === "$" || c === "%") && next === "{") out += c + c;
    else if (c < " " || c === "\u007f") out += `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    else out += c;
  }
  return `"${out}"`;
}

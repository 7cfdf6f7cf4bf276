import { z } from "zod";
import { parseDuration } from "./duration.js";
import { unknownKeysMessage } from "./issues.js";

/**
 * A mapping whose keys are exactly `shape`'s: any other key is an error
 * naming it (a typo must not be silently ignored), with a suggestion when
 * it is close to a known key.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

/** A Go-style duration string (`90s`, `5m`, `1h30m`) turned into milliseconds. */
export const durationMs = z.string({ error: durationTypeMessage }).transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.issues.push({ code: "custom", message: (err as Error).message, input: text });
    return z.NEVER;
  }
});

function durationTypeMessage(iss: { input: unknown }): string {
  if (iss.input === undefined) return "is required";
  // YAML reads `5` as a number: the unit is what is missing, so say that.
  if (typeof iss.input === "number") return `${iss.input} has no unit; write ${iss.input}s, ${iss.input}m or ${iss.input}h`;
  return "must be a duration such as 90s, 5m or 1h30m";
}

/** Environment names: `qa`, `prod`, `eu-west`. They appear in metrics labels and KV paths, so they stay short and plain. */
export const ENV_NAME = /^[a-z0-9-]{1,32}$/;

/** Service and pool names (a directory or file name): lowercase, digits and dashes, starting with a letter or digit, 1..63 chars. */
export const OBJECT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** An environment name, as declared in steward.yaml or referenced from a service or pool. */
export const envName = z
  .string()
  .regex(ENV_NAME, { error: "must be 1 to 32 characters of a-z, 0-9 and -" });

/** A share between 0 and 1 inclusive (`0.25` = a quarter). */
export const share = z.number().min(0, { error: "must be between 0 and 1" }).max(1, { error: "must be between 0 and 1" });

import { parseGoDuration } from "../core/blocking.js";

/**
 * Reads a duration the way Vault's `parseutil.ParseDurationSecond` does: a
 * number (or a numeric string) is seconds, a string with units is a Go
 * duration ("1h", "90m", "3h25m19s"). Returns whole seconds, or undefined when
 * the value is not a duration. Negative values are returned as they are; the
 * caller decides whether they are an error.
 */
export function parseDurationSecond(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (text === "") return 0;
  if (/^[+-]?\d+$/.test(text)) return Number(text);
  const ms = parseGoDuration(text);
  return ms === undefined ? undefined : Math.trunc(ms / 1000);
}

/** Formats whole seconds as Go's `time.Duration.String()` does: "0s", "45s", "1m30s", "1h0m0s". */
export function formatGoDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const sign = seconds < 0 ? "-" : "";
  let rest = Math.abs(Math.trunc(seconds));
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

/** Go's RFC3339Nano rendering of an epoch-ms instant (UTC), as Vault prints times. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

import { parseGoDuration } from "../core/blocking.js";

/** Go's `time.Duration.String()` for whole milliseconds and up: "10s", "1m30s", "24h0m0s". */
export function goDurationString(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = `${rest / 1000}s`;
  if (h > 0) return `${sign}${h}h${m}m${s}`;
  if (m > 0) return `${sign}${m}m${s}`;
  return `${sign}${s}`;
}

/** Go's `time.ParseDuration` error text for `text`. */
export function goDurationError(text: string): string {
  return `time: invalid duration ${JSON.stringify(text)}`;
}

/** Parses a Go duration into ms, or returns Go's error text. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; error: string } {
  const ms = parseGoDuration(text);
  return ms === undefined ? { ok: false, error: goDurationError(text) } : { ok: true, ms };
}

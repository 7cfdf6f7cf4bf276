/**
 * Go-style durations (`time.ParseDuration`), the way Nomad and Consul users
 * already write them: `90s`, `5m`, `1h30m`, `1.5h`, `250ms`, `0`.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // µs (micro sign), as Go accepts
  "\u03bcs": 1e-3, // μs (Greek mu), as Go accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const EXAMPLES = "90s, 5m or 1h30m";

/**
 * Parses a Go-style duration into milliseconds.
 *
 * Accepts what Go's `time.ParseDuration` accepts (units ns, us/µs, ms, s, m,
 * h; decimal fractions; several components; a leading `+`; a bare `0`),
 * except negative values, which no setting of Steward's means. The result
 * can have a fraction when sub-millisecond units are used.
 * @throws RangeError whose message says what is wrong, in words fit for a
 *   validation issue (`"5" has no unit; write 5s, 5m or 5h`).
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "") throw new RangeError(`must be a duration such as ${EXAMPLES}, not an empty string`);
  if (s.startsWith("-")) throw new RangeError(`"${text}" is negative; a duration here must be 0 or more`);
  const body = s.startsWith("+") ? s.slice(1) : s;
  if (body === "0") return 0;
  if (/\s/.test(body)) throw new RangeError(`"${text}" is not a duration; write it without spaces, like ${EXAMPLES}`);
  if (/^\d+(\.\d*)?$/.test(body)) throw new RangeError(`"${text}" has no unit; write ${body}s, ${body}m or ${body}h`);

  const component = /(\d*\.?\d*)([^\d.]+)/y;
  let ms = 0;
  let at = 0;
  while (at < body.length) {
    component.lastIndex = at;
    const m = component.exec(body);
    const number = m?.[1];
    const unit = m?.[2];
    if (!m || number === undefined || unit === undefined || !/\d/.test(number)) {
      throw new RangeError(`"${text}" is not a duration; write it like ${EXAMPLES}`);
    }
    const factor = UNIT_MS[unit];
    if (factor === undefined) throw new RangeError(`unknown unit "${unit}" in "${text}"; use ms, s, m or h (like ${EXAMPLES})`);
    ms += Number(number) * factor;
    at = component.lastIndex;
  }
  if (!Number.isFinite(ms)) throw new RangeError(`"${text}" is too long`);
  return ms;
}

import test from "ava";
import { parseDuration } from "../../src/model/duration.js";

const valid: Array<{ name: string; text: string; ms: number }> = [
  { name: "seconds", text: "90s", ms: 90_000 },
  { name: "minutes", text: "5m", ms: 300_000 },
  { name: "hours_and_minutes", text: "1h30m", ms: 5_400_000 },
  { name: "every_unit_in_one", text: "1h1m1s1ms", ms: 3_661_001 },
  { name: "milliseconds_not_minutes", text: "250ms", ms: 250 },
  { name: "decimal_fraction", text: "1.5h", ms: 5_400_000 },
  { name: "leading_dot_fraction", text: ".5s", ms: 500 },
  { name: "sub_millisecond_units", text: "1500us", ms: 1.5 },
  { name: "micro_sign", text: "1000\u00b5s", ms: 1 },
  { name: "nanoseconds", text: "2000000ns", ms: 2 },
  { name: "bare_zero", text: "0", ms: 0 },
  { name: "zero_with_unit", text: "0s", ms: 0 },
  { name: "plus_sign", text: "+5s", ms: 5000 },
  { name: "surrounding_space_trimmed", text: " 5m ", ms: 300_000 },
];

for (const row of valid) {
  test(`duration ${row.name}: ${JSON.stringify(row.text)} is ${row.ms} ms`, (t) => {
    t.is(parseDuration(row.text), row.ms);
  });
}

const invalid: Array<{ name: string; text: string; message: string }> = [
  { name: "empty_refused", text: "", message: "must be a duration such as 90s, 5m or 1h30m, not an empty string" },
  { name: "number_without_unit_suggests_units", text: "5", message: '"5" has no unit; write 5s, 5m or 5h' },
  { name: "negative_refused", text: "-5m", message: '"-5m" is negative; a duration here must be 0 or more' },
  { name: "unknown_unit_named", text: "5min", message: 'unknown unit "min" in "5min"; use ms, s, m or h (like 90s, 5m or 1h30m)' },
  { name: "days_not_a_go_unit", text: "1d", message: 'unknown unit "d" in "1d"; use ms, s, m or h (like 90s, 5m or 1h30m)' },
  { name: "spaces_refused", text: "5 minutes", message: '"5 minutes" is not a duration; write it without spaces, like 90s, 5m or 1h30m' },
  { name: "unit_without_number_refused", text: "h", message: '"h" is not a duration; write it like 90s, 5m or 1h30m' },
  { name: "lone_dot_refused", text: ".s", message: '".s" is not a duration; write it like 90s, 5m or 1h30m' },
  { name: "trailing_number_refused", text: "1h30", message: '"1h30" is not a duration; write it like 90s, 5m or 1h30m' },
  { name: "two_dots_refused", text: "1.2.3s", message: '"1.2.3s" is not a duration; write it like 90s, 5m or 1h30m' },
];

for (const row of invalid) {
  test(`duration ${row.name}: ${JSON.stringify(row.text)}`, (t) => {
    t.throws(() => parseDuration(row.text), { instanceOf: RangeError, message: row.message });
  });
}

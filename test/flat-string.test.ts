import test from "ava";
import { flatString } from "../src/flat-string.js";

const big = `${"x".repeat(5_000)}services/web/web.nomad.hcl${"y".repeat(5_000)}`;
const rows: Array<{ name: string; s: string }> = [
  { name: "empty_string_stays_empty", s: "" },
  { name: "a_rope_reads_the_same", s: ["qa", "/", "web-frontend-", String(42)].join("") },
  { name: "a_slice_of_a_large_string_reads_the_same", s: big.slice(5_000, 5_026) },
  { name: "non_ascii_text_is_kept", s: "übung ✓ 日本 🚀" },
  { name: "lone_surrogates_and_quotes_are_kept", s: `a\ud800b"\\\n\u0000` },
];
for (const row of rows) {
  test(`flat_string: ${row.name}`, (t) => {
    const flat = flatString(row.s);
    t.is(flat, row.s);
    t.is(flat.length, row.s.length);
  });
}

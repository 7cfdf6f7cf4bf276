import test from "ava";
import { formatFieldPath, unknownKeysMessage } from "../../src/model/issues.js";

const paths: Array<{ name: string; path: PropertyKey[]; text: string }> = [
  { name: "empty_path_is_empty", path: [], text: "" },
  { name: "keys_joined_by_dots", path: ["sync", "drift"], text: "sync.drift" },
  { name: "indexes_in_brackets", path: ["environments", 1, "nomad", "address"], text: "environments[1].nomad.address" },
  { name: "dashes_allowed_in_keys", path: ["environments", "eu-west", "variables"], text: "environments.eu-west.variables" },
  { name: "other_keys_quoted", path: ["select", "meta", "team name"], text: 'select.meta["team name"]' },
];
for (const row of paths) {
  test(`formatFieldPath ${row.name}`, (t) => t.is(formatFieldPath(row.path), row.text));
}

const keys: Array<{ name: string; key: string; known: string[]; message: string }> = [
  { name: "swapped_letters_suggested", key: "drfit", known: ["drift", "prune"], message: 'unknown key "drfit" (did you mean "drift"?)' },
  { name: "one_letter_off_suggested", key: "regoin", known: ["address", "region"], message: 'unknown key "regoin" (did you mean "region"?)' },
  { name: "case_difference_suggested", key: "MaxPruneShare", known: ["maxPruneShare"], message: 'unknown key "MaxPruneShare" (did you mean "maxPruneShare"?)' },
  { name: "far_key_gets_no_suggestion", key: "colour", known: ["drift", "prune"], message: 'unknown key "colour"' },
  { name: "short_keys_need_a_close_match", key: "jo", known: ["env", "job"], message: 'unknown key "jo" (did you mean "job"?)' },
  { name: "short_keys_far_apart_not_suggested", key: "xy", known: ["env", "job"], message: 'unknown key "xy"' },
];
for (const row of keys) {
  test(`unknownKeysMessage ${row.name}`, (t) => t.is(unknownKeysMessage([row.key], row.known), row.message));
}

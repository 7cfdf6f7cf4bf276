import test from "ava";
import { parseYamlFile } from "../../src/model/yaml-file.js";
import { describeIssue } from "../../src/model/errors.js";

const TEXT = `environments:
  - name: qa
    nomad:
      address: http://a
  - name: prod
    nomad:
      region: global
sync: { drift: heal }
`;

const rows: Array<{ name: string; path: PropertyKey[]; line: number | undefined }> = [
  { name: "top_level_key_on_its_line", path: ["environments"], line: 1 },
  { name: "sequence_item_on_its_first_line", path: ["environments", 1], line: 5 },
  { name: "nested_key_on_its_line", path: ["environments", 0, "nomad", "address"], line: 4 },
  { name: "missing_field_points_at_its_parent_key", path: ["environments", 1, "nomad", "address"], line: 6 },
  { name: "flow_mapping_keys_located", path: ["sync", "drift"], line: 8 },
  { name: "missing_top_level_field_points_at_the_document", path: ["pools"], line: 1 },
];
for (const row of rows) {
  test(`lineOf ${row.name}`, (t) => t.is(parseYamlFile("steward.yaml", TEXT).lineOf(row.path), row.line));
}

test("lineOf an empty document knows no line", (t) => {
  t.is(parseYamlFile("steward.yaml", "").lineOf(["environments"]), undefined);
});

test("every syntax error is reported with its line, and no value", (t) => {
  const y = parseYamlFile("f.yaml", "a: 1\na: 2\nb:\n\t- x\n");
  t.is(y.value, undefined);
  t.deepEqual(y.issues.map(describeIssue), [
    "f.yaml:2: YAML syntax: Map keys must be unique",
    "f.yaml:4: YAML syntax: Tabs are not allowed as indentation",
  ]);
});

test("an alias to an unknown anchor is an issue, not a crash", (t) => {
  const y = parseYamlFile("f.yaml", "a: *nope\n");
  t.is(y.value, undefined);
  t.is(y.issues.length, 1);
  t.regex(y.issues[0]?.message ?? "", /^YAML/);
});

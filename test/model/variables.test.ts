import test from "ava";
import { parse } from "@cdktf/hcl2json";
import { hclString, renderVariables } from "../../src/model/variables.js";
import type { ServiceSpec } from "../../src/model/types.js";

const IMAGE = "127.0.0.1:5000/web@sha256:" + "a".repeat(64);

function aService(variables: ServiceSpec["environments"][string]["variables"]): ServiceSpec {
  return {
    name: "web",
    file: "services/web/service.yaml",
    jobFile: "services/web/web.nomad.hcl",
    jobHcl: "",
    image: { repository: "127.0.0.1:5000/web" },
    environments: { qa: { variables } },
    sync: { drift: "heal", adopt: false, prune: false, pruneGracePeriodMs: 300_000, maxPruneShare: 0.25 },
  };
}

const rows: Array<{ name: string; variables: Record<string, string | number | boolean>; text: string }> = [
  { name: "image_alone_when_no_variables", variables: {}, text: `image = "${IMAGE}"\n` },
  { name: "numbers_bare", variables: { count: 3, ratio: 0.5, offset: -2 }, text: `image = "${IMAGE}"\ncount = 3\noffset = -2\nratio = 0.5\n` },
  { name: "booleans_bare", variables: { canary: true, debug: false }, text: `image = "${IMAGE}"\ncanary = true\ndebug = false\n` },
  { name: "names_sorted_for_stable_text", variables: { b: 1, a: 2 }, text: `image = "${IMAGE}"\na = 2\nb = 1\n` },
  { name: "numeric_looking_string_stays_quoted", variables: { port: "8080" }, text: `image = "${IMAGE}"\nport = "8080"\n` },
  { name: "quotes_and_backslashes_escaped", variables: { s: 'say "hi" \\o/' }, text: `image = "${IMAGE}"\ns = "say \\"hi\\" \\\\o/"\n` },
  { name: "newlines_and_tabs_escaped", variables: { s: "a\nb\tc\r" }, text: `image = "${IMAGE}"\ns = "a\\nb\\tc\\r"\n` },
  { name: "interpolation_kept_literal", variables: { s: "${var.x}" }, text: `image = "${IMAGE}"\ns = "$\${var.x}"\n` },
  { name: "directive_kept_literal", variables: { s: "%{ if x }" }, text: `image = "${IMAGE}"\ns = "%%{ if x }"\n` },
  { name: "lone_dollar_and_percent_untouched", variables: { s: "50% of $5" }, text: `image = "${IMAGE}"\ns = "50% of $5"\n` },
  { name: "control_characters_as_unicode_escapes", variables: { s: "\u0001\u007f" }, text: `image = "${IMAGE}"\ns = "\\u0001\\u007f"\n` },
  { name: "non_ascii_kept", variables: { s: "café ☕" }, text: `image = "${IMAGE}"\ns = "café ☕"\n` },
];

for (const row of rows) {
  test(`renderVariables ${row.name}`, (t) => {
    t.is(renderVariables(aService(row.variables), "qa", IMAGE), row.text);
  });
}

// HCL's parser reads each rendered string back as the same literal text. hcl2json writes a
// literal `${` as `$${` (the HCL-JSON convention) and an interpolation as `${`, so an
// unescaped template would show here as a difference.
const tricky = ['say "hi"', "back\\slash", "a\nb", "${var.x}", "$${x}", "$$${x}", "%{if}", "%%{x}", "ends with $", "tab\there", "\u0002"];
for (const s of tricky) {
  test(`hclString round-trips through HashiCorp's parser: ${JSON.stringify(s)}`, async (t) => {
    const parsed = (await parse("v.hcl", `v = ${hclString(s)}\n`)) as { v: string };
    t.is(parsed.v, s.replaceAll("${", () => "$${").replaceAll("%{", () => "%%{"));
  });
}

test("renderVariables refuses an environment the service does not run in", (t) => {
  t.throws(() => renderVariables(aService({}), "prod", IMAGE), { message: "service web does not run in environment prod" });
});

test("renderVariables refuses a service that sets image itself", (t) => {
  t.throws(() => renderVariables(aService({ image: "x" }), "qa", IMAGE), { message: /sets "image" in qa/ });
});

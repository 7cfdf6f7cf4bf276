/**
 * Maps the helper's evaluated tree onto the `api` structs' JSON, field by
 * field from schema.ts: what gohcl's decode into `api.Job` leaves before
 * jobspec2's own fixes (normalize.ts) and Canonicalize (canonicalize.ts).
 */
import { STRUCTS, type Field, type Json, type JsonObject } from "./schema.js";

/** One evaluated body, as hcl-helper/schema.go writes it. */
export interface TreeNode {
  attrs: Record<string, Json>;
  blocks: TreeBlock[];
}

export interface TreeBlock {
  type: string;
  labels?: string[];
  body?: TreeNode;
  value?: Json;
}

/** The evaluated `job "<label>"` block. */
export interface Tree {
  label: string;
  body: TreeNode;
}

/** The blocks of one type in a body, in source order. */
export function blocksOf(node: TreeNode, type: string): TreeBlock[] {
  return node.blocks.filter((b) => b.type === type);
}

/** Builds the JSON of `structName` from an evaluated body (and its block labels). */
export function buildStruct(structName: string, node: TreeNode, labels: string[] = []): JsonObject {
  const s = STRUCTS[structName];
  if (!s) throw new Error(`jobspec schema has no struct ${structName}`);
  if (structName === "Constraint") return buildConstraint(node.attrs);
  if (structName === "Affinity") return buildAffinity(node.attrs);
  const out: JsonObject = {};
  for (const f of s.fields) {
    if (f.k === "block" && f.json === null) continue;
    const v = fieldValue(f, node, labels);
    if (v === undefined) continue;
    out[f.json as string] = v;
  }
  return out;
}

function fieldValue(f: Field, node: TreeNode, labels: string[]): Json | undefined {
  switch (f.k) {
    case "attr": {
      const v = node.attrs[f.hcl];
      return v === undefined ? zeroOf(f) : v;
    }
    case "label":
      return labels[0] ?? "";
    case "server":
      return f.zero;
    case "unsupported":
      return null;
    case "map": {
      const b = blocksOf(node, f.hcl)[0];
      return b?.value ?? null;
    }
    case "block": {
      const blocks = blocksOf(node, f.hcl).filter((b) => b.body);
      if (f.many === "one") {
        const b = blocks[0];
        if (!b?.body) return f.omitEmpty ? undefined : null;
        return buildStruct(f.struct, b.body, b.labels);
      }
      if (blocks.length === 0) return null;
      if (f.many === "list") return blocks.map((b) => buildStruct(f.struct, b.body as TreeNode, b.labels));
      const byLabel: JsonObject = {};
      for (const b of blocks) byLabel[b.labels?.[0] ?? ""] = buildStruct(f.struct, b.body as TreeNode, b.labels);
      return byLabel;
    }
  }
}

/** The value gohcl leaves in a field the job file does not set. */
function zeroOf(f: Extract<Field, { k: "attr" }>): Json {
  if (f.ptr) return null;
  switch (f.type) {
    case "string":
      return "";
    case "bool":
      return false;
    case "list(string)":
    case "list(uint16)":
    case "map(string)":
      return null;
    default:
      return 0;
  }
}

const text = (attrs: Record<string, Json>, name: string): string => {
  const v = attrs[name];
  return typeof v === "string" ? v : "";
};

/** jobspec2's decodeConstraint: the shorthand attributes, later ones winning. */
function buildConstraint(a: Record<string, Json>): JsonObject {
  let lTarget = text(a, "attribute");
  let rTarget = text(a, "value");
  let operand = text(a, "operator");
  for (const op of ["version", "semver", "regexp", "set_contains"]) {
    if (text(a, op) !== "") {
      operand = op;
      rTarget = text(a, op);
    }
  }
  if (a.distinct_hosts === true) {
    operand = "distinct_hosts";
    rTarget = "true";
  }
  if (text(a, "distinct_property") !== "") {
    operand = "distinct_property";
    lTarget = text(a, "distinct_property");
  }
  return { LTarget: lTarget, RTarget: rTarget, Operand: operand === "" ? "=" : operand };
}

/** jobspec2's decodeAffinity; the helper already truncated the weight to int8. */
function buildAffinity(a: Record<string, Json>): JsonObject {
  let rTarget = text(a, "value");
  let operand = text(a, "operator");
  for (const op of ["version", "semver", "regexp", "set_contains_any", "set_contains_all", "set_contains"]) {
    if (text(a, op) !== "") {
      operand = op;
      rTarget = text(a, op);
    }
  }
  const weight = a.weight;
  return {
    LTarget: text(a, "attribute"),
    RTarget: rTarget,
    Operand: operand === "" ? "=" : operand,
    Weight: typeof weight === "number" ? weight : null,
  };
}

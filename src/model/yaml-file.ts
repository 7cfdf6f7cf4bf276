import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import type { ValidationIssue } from "./errors.js";

/** A YAML file of the desired state, parsed, with a way back from a field path to a line. */
export interface YamlFile {
  file: string;
  /** The plain JS value; `undefined` when the file did not parse (its issues say why). */
  value: unknown;
  /** YAML syntax problems, each with its line. Empty when the file parsed. */
  issues: ValidationIssue[];
  /**
   * The 1-based line of the field at `path` (`["environments", 1, "nomad"]`):
   * the line of its key for a mapping entry, of the item for a sequence
   * element. A path that is absent (a missing required field) gives the line
   * of the nearest key that is present, so the user is pointed at the
   * mapping that lacks it. `undefined` when nothing on the path exists.
   */
  lineOf: (path: readonly PropertyKey[]) => number | undefined;
}

/**
 * Parses one YAML file with line tracking. Never throws: syntax errors,
 * duplicate keys and unresolvable aliases become issues located in `file`.
 */
export function parseYamlFile(file: string, text: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lines.linePos(offset).line;
  const lineOf = (path: readonly PropertyKey[]): number | undefined => locate(doc, path, lineAt);
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ file, line: lineAt(e.pos[0]), message: `YAML syntax: ${e.message}` }));
    return { file, value: undefined, issues, lineOf };
  }
  try {
    return { file, value: doc.toJS({ maxAliasCount: 100 }) as unknown, issues: [], lineOf };
  } catch (err) {
    // Aliases are resolved only here (an unknown anchor, or an alias bomb past maxAliasCount).
    return { file, value: undefined, issues: [{ file, message: `YAML: ${(err as Error).message}` }], lineOf };
  }
}

function locate(doc: Document, path: readonly PropertyKey[], lineAt: (offset: number) => number): number | undefined {
  let node: unknown = doc.contents;
  let line = startLine(node, lineAt);
  for (const seg of path) {
    const next = step(node, seg);
    if (next === undefined) return line;
    node = next.node;
    line = startLine(next.at, lineAt) ?? line;
  }
  return line;
}

/** One step down: the child node and the node whose line stands for it (the key, for a mapping entry). */
function step(node: unknown, seg: PropertyKey): { node: unknown; at: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
    return pair ? { node: pair.value, at: pair.key } : undefined;
  }
  if (isSeq(node) && typeof seg === "number") {
    const item = node.items[seg];
    return item === undefined ? undefined : { node: item, at: item };
  }
  return undefined;
}

function startLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? lineAt(range[0]) : undefined;
}

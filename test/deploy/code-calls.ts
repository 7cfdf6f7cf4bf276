// What Steward's code calls, read from src/ with the TypeScript parser (not
// from a hand list), so the ACL policies in deploy/policies/ are checked
// against the code as it is: a new endpoint in src/ fails the policy test
// until the policy grants it.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import ts from "typescript";
import * as defaults from "../../src/config/defaults.js";
import { REPO_ROOT } from "./fixture.js";

const SRC = path.join(REPO_ROOT, "src");

/** One HTTP call site: method, path pattern (`/v1/job/:param`), where. */
export interface HttpCall {
  method: string;
  path: string;
  file: string;
  line: number;
}

/** Every .ts file under src/, relative to the repository (`src/sources/nomad.ts`). */
export async function srcFiles(dir = SRC): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await srcFiles(p)));
    else if (e.name.endsWith(".ts")) out.push(path.relative(REPO_ROOT, p));
  }
  return out.sort();
}

async function sourceOf(file: string): Promise<ts.SourceFile> {
  return ts.createSourceFile(file, await readFile(path.join(REPO_ROOT, file), "utf8"), ts.ScriptTarget.ES2022, true);
}

/** A string or template literal as a path pattern: each `${…}` becomes `:param`. */
function literalPattern(node: ts.Node | undefined): string | undefined {
  if (!node) return undefined;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => `:param${s.literal.text}`).join("");
  return undefined;
}

function property(obj: ts.ObjectLiteralExpression, name: string): ts.ObjectLiteralElementLike | undefined {
  return obj.properties.find((p) => p.name !== undefined && ts.isIdentifier(p.name) && p.name.text === name);
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

/**
 * The path patterns a parameter receives: `path` in `readCall(path, …)` is
 * found at every `readCall(<literal>, …)` / `this.readCall(<literal>, …)` of the file.
 */
function argumentsAt(sf: ts.SourceFile, fn: string, index: number): string[] {
  const out: string[] = [];
  walk(sf, (n) => {
    if (!ts.isCallExpression(n)) return;
    const callee = n.expression;
    const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
    const p = name === fn ? literalPattern(n.arguments[index]) : undefined;
    if (p !== undefined) out.push(p);
  });
  return out;
}

/** The function-like node around `node` that declares a parameter named `name`, with its index. */
function parameterOf(node: ts.Node, name: string): { fn: string; index: number } | undefined {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isMethodDeclaration(n) || ts.isFunctionDeclaration(n)) {
      const index = n.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === name);
      if (index >= 0 && n.name && ts.isIdentifier(n.name)) return { fn: n.name.text, index };
      return undefined;
    }
  }
  return undefined;
}

/**
 * The HTTP calls of a source file: every object literal with a literal
 * `method` and a `path` that is a literal, a template, or a parameter of the
 * enclosing method (then each call of that method supplies the path).
 */
export async function httpCallsIn(file: string): Promise<HttpCall[]> {
  const sf = await sourceOf(file);
  const calls: HttpCall[] = [];
  walk(sf, (n) => {
    if (!ts.isObjectLiteralExpression(n)) return;
    const m = property(n, "method");
    const p = property(n, "path");
    if (!m || !p || !ts.isPropertyAssignment(m)) return;
    const method = literalPattern(m.initializer);
    if (method === undefined) return;
    const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
    let paths: string[] = [];
    const direct = ts.isPropertyAssignment(p) ? literalPattern(p.initializer) : undefined;
    if (direct !== undefined) paths = [direct];
    else {
      const ident = ts.isShorthandPropertyAssignment(p) ? p.name.text : ts.isPropertyAssignment(p) && ts.isIdentifier(p.initializer) ? p.initializer.text : undefined;
      const param = ident ? parameterOf(n, ident) : undefined;
      if (param) paths = argumentsAt(sf, param.fn, param.index);
    }
    for (const path of paths) calls.push({ method, path, file, line });
  });
  return calls;
}

/** Every HTTP call of every file under src/. */
export async function allHttpCalls(): Promise<HttpCall[]> {
  return (await Promise.all((await srcFiles()).map(httpCallsIn))).flat();
}

/** A Consul KV path Steward uses, and whether it writes there. */
export interface KvUse {
  key: string;
  access: "read" | "write";
  /** Where the path comes from (a constant of src/config/defaults.ts, or a template in src/daemon.ts). */
  from: string;
}

/**
 * The Consul KV keys and prefixes Steward uses: the KV constants of
 * src/config/defaults.ts (`CONSUL_*_PREFIX`, `*_KEY`), each `write` when a
 * module that writes (src/actuators/, src/reconciler/: the lock is acquired
 * there) imports it, else `read` (only src/sources/ reads); and the keys
 * src/daemon.ts composes under the state prefix (`${prefix}/control/`), which
 * hold Steward's own state.
 */
export async function consulKvUses(): Promise<KvUse[]> {
  const files = await srcFiles();
  const texts = new Map(await Promise.all(files.map(async (f) => [f, await readFile(path.join(REPO_ROOT, f), "utf8")] as const)));
  const uses: KvUse[] = [];
  for (const [name, value] of Object.entries(defaults)) {
    if (typeof value !== "string" || !/^(CONSUL_\w+_PREFIX|\w+_KEY)$/.test(name)) continue;
    const importers = files.filter((f) => f !== "src/config/defaults.ts" && new RegExp(`\\b${name}\\b`).test(texts.get(f) ?? ""));
    const writes = importers.some((f) => f.startsWith("src/actuators/") || f.startsWith("src/reconciler/"));
    uses.push({ key: value, access: writes ? "write" : "read", from: `${name} (used by ${importers.join(", ") || "nothing"})` });
  }
  const daemon = await sourceOf("src/daemon.ts");
  walk(daemon, (n) => {
    const p = literalPattern(n);
    if (p?.startsWith(":param/") && ts.isTemplateExpression(n) && n.templateSpans[0]?.expression.getText() === "prefix") {
      uses.push({ key: `${defaults.DEFAULT_STATE_PREFIX}${p.slice(":param".length)}`, access: "write", from: `src/daemon.ts: ${n.getText()}` });
    }
  });
  return uses;
}

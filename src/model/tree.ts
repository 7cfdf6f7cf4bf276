import type { ValidationIssue } from "./errors.js";
import { located } from "./issues.js";
import type { TreeSnapshot } from "./types.js";

/** The root file every tree must have. */
export const STEWARD_FILE = "steward.yaml";

/** The shape of a desired-state tree, as the loader reads it. */
export interface TreeLayout {
  /** Service name → the paths under `services/<name>/` other than service.yaml. */
  services: Map<string, string[]>;
  /** Service names whose directory holds a service.yaml. */
  serviceFiles: Set<string>;
  /** Pool name → `pools/<name>.yaml`. */
  pools: Map<string, string>;
}

/**
 * Whether a path is one the loader ignores: Markdown files (`README.md`,
 * any `*.md`) and `.gitkeep` / `.gitignore`, anywhere in the tree. Ignored
 * files are not read, so no size limit applies to them.
 */
export function isIgnoredPath(path: string): boolean {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return /\.md$/i.test(base) || base === ".gitkeep" || base === ".gitignore";
}

/**
 * Why a snapshot path cannot be used, or `undefined` when it is a plain
 * relative path inside the tree. A path that could leave the tree (`..`,
 * absolute) is refused whatever its content.
 */
export function pathProblem(path: string): string | undefined {
  const segments = path.split("/");
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "absolute path; every path must be relative to the desired-state tree";
  if (segments.includes("..")) return `path contains ".."; every file must stay inside the desired-state tree`;
  if (path.includes("\\") || path.includes("\0") || segments.some((s) => s === "" || s === ".")) {
    return `not a plain relative path (empty or "." segments, backslashes or NUL)`;
  }
  return undefined;
}

/**
 * Decodes the files the loader will read, checking each path, size and
 * encoding, and sorts every path into the tree's layout. Stray files (not
 * part of the documented layout and not ignored) are issues. Empty keys
 * ending in `/` (Consul KV folders) are skipped.
 * @param maxFileBytes files larger than this are refused (bytes)
 */
export function readTree(
  snapshot: TreeSnapshot,
  maxFileBytes: number,
): { texts: Map<string, string>; layout: TreeLayout; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const texts = new Map<string, string>();
  const layout: TreeLayout = { services: new Map(), serviceFiles: new Set(), pools: new Map() };
  for (const path of [...snapshot.files.keys()].sort()) {
    const { text, issue } = readTreeFile(path, snapshot.files.get(path), maxFileBytes, layout);
    if (issue) issues.push(issue);
    else if (text !== undefined) texts.set(path, text);
  }
  return { texts, layout, issues };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * One path of {@link readTree}: its text when the loader reads it, or the
 * issue that refuses it; neither when the path is ignored (Markdown, a
 * Consul KV folder). A path with a place in the layout is recorded there
 * (also when its content is refused), as readTree does.
 */
export function readTreeFile(path: string, content: Buffer | undefined, maxFileBytes: number, layout: TreeLayout): { text?: string; issue?: ValidationIssue } {
  // Consul KV lists folders as empty keys ending in "/"; they hold nothing to read.
  if (path.endsWith("/") && content?.length === 0) return {};
  const problem = pathProblem(path);
  if (problem !== undefined) return { issue: located(path, undefined, "", problem) };
  if (isIgnoredPath(path)) return {};
  const stray = placeInLayout(path, layout);
  if (stray !== undefined) return { issue: located(path, undefined, "", stray) };
  const bytes = content ?? Buffer.alloc(0);
  if (bytes.length > maxFileBytes) return { issue: located(path, undefined, "", `file is ${kib(bytes.length)}; the limit is ${kib(maxFileBytes)}`) };
  try {
    return { text: decoder.decode(bytes) };
  } catch {
    return { issue: located(path, undefined, "", "not valid UTF-8 text") };
  }
}

/**
 * Takes a path that left the tree out of the layout (the inverse of what
 * {@link readTreeFile} recorded): a service with no file left has no entry.
 */
export function removeFromLayout(path: string, layout: TreeLayout): void {
  const parts = path.split("/");
  if (parts[0] === "services" && parts.length >= 3) {
    const name = parts[1] ?? "";
    if (parts.length === 3 && parts[2] === "service.yaml") layout.serviceFiles.delete(name);
    const others = layout.services.get(name)?.filter((p) => p !== path);
    if (others === undefined) return;
    if (others.length === 0 && !layout.serviceFiles.has(name)) layout.services.delete(name);
    else layout.services.set(name, others);
    return;
  }
  if (parts[0] === "pools" && parts.length === 2 && layout.pools.get(parts[1]?.slice(0, -".yaml".length) ?? "") === path) {
    layout.pools.delete(parts[1]?.slice(0, -".yaml".length) ?? "");
  }
}

const LAYOUT_HINT = "expected steward.yaml, services/<name>/service.yaml with its job file, pools/<name>.yaml (and *.md anywhere)";

/** Records the path in the layout, or returns why it has no place in it. */
function placeInLayout(path: string, layout: TreeLayout): string | undefined {
  const parts = path.split("/");
  if (path === STEWARD_FILE) return undefined;
  if (parts[0] === "services" && parts.length >= 3) {
    const name = parts[1] ?? "";
    if (parts.length === 3 && parts[2] === "service.yaml") layout.serviceFiles.add(name);
    else {
      const others = layout.services.get(name) ?? [];
      // Sorted, whatever order paths come in (a whole tree sorted, or a few changed ones).
      if (!others.includes(path)) layout.services.set(name, [...others, path].sort());
    }
    if (!layout.services.has(name)) layout.services.set(name, []);
    return undefined;
  }
  if (parts[0] === "pools" && parts.length === 2 && parts[1]?.endsWith(".yaml")) {
    layout.pools.set(parts[1].slice(0, -".yaml".length), path);
    return undefined;
  }
  return `unexpected file; ${LAYOUT_HINT}`;
}

function kib(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const k = bytes / 1024;
  return `${Number.isInteger(k) ? k : k.toFixed(1)} KiB`;
}

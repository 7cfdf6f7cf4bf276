import type { Constraint, NodeRec } from "./types.js";

/**
 * Resolves a constraint target against a node, as Nomad's scheduler does:
 * `${attr.*}`, `${meta.*}`, `${node.*}` interpolate, anything else is a
 * literal. Returns undefined when the target names something the node lacks.
 */
export function resolveTarget(target: string, node: NodeRec, region: string): string | undefined {
  if (!target.startsWith("${")) return target;
  const m = /^\$\{(.+)\}$/.exec(target);
  if (!m) return target;
  const ref = m[1] ?? "";
  if (ref.startsWith("attr.")) return node.Attributes[ref.slice(5)];
  if (ref.startsWith("meta.")) return node.Meta[ref.slice(5)];
  switch (ref) {
    case "node.unique.id":
      return node.ID;
    case "node.unique.name":
      return node.Name;
    case "node.datacenter":
      return node.Datacenter;
    case "node.class":
      return node.NodeClass;
    case "node.pool":
      return node.NodePool;
    case "node.region":
      return region;
    default:
      return undefined;
  }
}

/** Operands the scheduler checks per allocation set rather than per node. */
export const SET_OPERANDS = new Set(["distinct_hosts", "distinct_property"]);

/** True when the node satisfies one (per-node) constraint. */
export function checkConstraint(c: Constraint, node: NodeRec, region: string): boolean {
  const op = c.Operand || "=";
  if (SET_OPERANDS.has(op)) return true;
  const l = resolveTarget(c.LTarget, node, region);
  const r = resolveTarget(c.RTarget, node, region);
  switch (op) {
    case "=":
    case "==":
    case "is":
      return l !== undefined && r !== undefined && l === r;
    case "!=":
    case "not":
      return l !== r;
    case "<":
    case "<=":
    case ">":
    case ">=":
      return l !== undefined && r !== undefined && checkOrder(op, l, r);
    case "is_set":
      return l !== undefined;
    case "is_not_set":
      return l === undefined;
    case "regexp":
      return l !== undefined && r !== undefined && safeRegex(r)?.test(l) === true;
    case "set_contains":
    case "set_contains_all": {
      if (l === undefined || r === undefined) return false;
      const have = new Set(splitSet(l));
      return splitSet(r).every((x) => have.has(x));
    }
    case "set_contains_any": {
      if (l === undefined || r === undefined) return false;
      const have = new Set(splitSet(l));
      return splitSet(r).some((x) => have.has(x));
    }
    case "version":
    case "semver":
      return l !== undefined && r !== undefined && versionMatches(l, r);
    default:
      return false;
  }
}

/** The text Nomad uses for a constraint in ConstraintFiltered metrics. */
export function constraintString(c: Constraint): string {
  return `${c.LTarget} ${c.Operand} ${c.RTarget}`;
}

/** Datacenter glob match (`*`, `dc*`), as Nomad 1.5+ matches job datacenters. */
export function datacenterMatches(patterns: readonly string[], dc: string): boolean {
  return patterns.some((p) => (p.includes("*") ? globRegex(p).test(dc) : p === dc));
}

const globCache = new Map<string, RegExp>();
function globRegex(p: string): RegExp {
  let re = globCache.get(p);
  if (!re) {
    re = new RegExp(`^${p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    globCache.set(p, re);
  }
  return re;
}

const regexCache = new Map<string, RegExp | null>();
function safeRegex(src: string): RegExp | null {
  if (!regexCache.has(src)) {
    try {
      regexCache.set(src, new RegExp(src));
    } catch {
      regexCache.set(src, null);
    }
  }
  return regexCache.get(src) ?? null;
}

function splitSet(s: string): string[] {
  return s.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

function checkOrder(op: string, l: string, r: string): boolean {
  const ln = Number(l);
  const rn = Number(r);
  const numeric = l.trim() !== "" && r.trim() !== "" && !Number.isNaN(ln) && !Number.isNaN(rn);
  const cmp = numeric ? Math.sign(ln - rn) : l < r ? -1 : l > r ? 1 : 0;
  return op === "<" ? cmp < 0 : op === "<=" ? cmp <= 0 : op === ">" ? cmp > 0 : cmp >= 0;
}

/** go-version style constraints: `>= 1.2, < 2.0`, `~> 1.4`, `= 1.0.0`. */
export function versionMatches(version: string, constraint: string): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  return constraint.split(",").every((part) => {
    const m = /^\s*(>=|<=|!=|~>|=|>|<)?\s*v?([0-9][0-9A-Za-z.+-]*)\s*$/.exec(part);
    if (!m) return false;
    const op = m[1] ?? "=";
    const c = parseVersion(m[2] ?? "");
    if (!c) return false;
    const cmp = compareVersions(v, c.nums);
    switch (op) {
      case "=":
        return cmp === 0;
      case "!=":
        return cmp !== 0;
      case ">":
        return cmp > 0;
      case ">=":
        return cmp >= 0;
      case "<":
        return cmp < 0;
      case "<=":
        return cmp <= 0;
      default: {
        // ~> 1.4 allows 1.x >= 1.4; ~> 1.4.2 allows 1.4.x >= 1.4.2
        if (cmp < 0) return false;
        const fixed = c.given - 1;
        return c.nums.slice(0, Math.max(1, fixed)).every((n, i) => v.nums[i] === n);
      }
    }
  });
}

function parseVersion(s: string): { nums: number[]; given: number } | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(s.trim());
  if (!m) return undefined;
  const given = m[3] !== undefined ? 3 : m[2] !== undefined ? 2 : 1;
  return { nums: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)], given };
}

function compareVersions(a: { nums: number[] }, b: number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a.nums[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * ACL policies, reduced to what a least-privilege test needs: a policy is a
 * map of path patterns to capabilities, as the `path "..." { capabilities =
 * [...] }` blocks of a Vault HCL policy are. Patterns follow Vault's rules: a
 * trailing `*` is a prefix glob, a `+` segment matches exactly one segment,
 * anything else matches exactly. When several patterns match, the most
 * specific one alone decides (Vault's priority rules); capabilities of the
 * same pattern in different policies add up, and `deny` beats all.
 */
export type Capability = "create" | "read" | "update" | "patch" | "delete" | "list" | "sudo" | "deny";

/** Path pattern → capabilities. */
export type PolicyRules = Record<string, Capability[]>;

/** The capability an operation needs. */
export type Operation = "read" | "list" | "create" | "update" | "patch" | "delete";

/**
 * The parts of Vault's built-in `default` policy that concern the endpoints
 * the sim serves: a token may look itself up, renew and revoke itself.
 */
export const DEFAULT_POLICY: PolicyRules = {
  "auth/token/lookup-self": ["read"],
  "auth/token/renew-self": ["update"],
  "auth/token/revoke-self": ["update"],
  "sys/capabilities-self": ["update"],
  "sys/leases/renew": ["update"],
  "sys/leases/lookup": ["update"],
  "cubbyhole/*": ["create", "read", "update", "delete", "list"],
};

interface CompiledRule {
  pattern: string;
  regex: RegExp;
  caps: Set<Capability>;
  firstWildcard: number;
  glob: boolean;
  plusCount: number;
}

/** Named policies and the ACL decision over a token's policy set. */
export class PolicyStore {
  private readonly policies = new Map<string, PolicyRules>([["default", DEFAULT_POLICY]]);

  /** Creates or replaces a policy. `root` cannot be defined: it is built in. */
  set(name: string, rules: PolicyRules): void {
    if (name === "root") throw new Error("vault sim: cannot define the root policy");
    this.policies.set(name, rules);
  }

  has(name: string): boolean {
    return name === "root" || this.policies.has(name);
  }

  /**
   * Whether a token holding `policyNames` may perform `op` on `path` (the
   * logical path, without `/v1/`; list operations end with `/`).
   */
  allows(policyNames: readonly string[], path: string, op: Operation): boolean {
    if (policyNames.includes("root")) return true;
    const rules = this.compile(policyNames);
    let best: CompiledRule | undefined;
    for (const rule of rules) {
      if (!rule.regex.test(path)) continue;
      if (!best || outranks(rule, best)) best = rule;
    }
    if (!best || best.caps.has("deny")) return false;
    return best.caps.has(op);
  }

  private compile(policyNames: readonly string[]): CompiledRule[] {
    const merged = new Map<string, Set<Capability>>();
    for (const name of new Set(policyNames)) {
      const rules = this.policies.get(name);
      if (!rules) continue; // Vault ignores policies that do not exist
      for (const [pattern, caps] of Object.entries(rules)) {
        const set = merged.get(pattern) ?? new Set<Capability>();
        for (const c of caps) set.add(c);
        merged.set(pattern, set);
      }
    }
    return [...merged].map(([pattern, caps]) => compileRule(pattern, caps));
  }
}

function compileRule(pattern: string, caps: Set<Capability>): CompiledRule {
  const glob = pattern.endsWith("*");
  const body = glob ? pattern.slice(0, -1) : pattern;
  const source = body
    .split("/")
    .map((seg) => (seg === "+" ? "[^/]+" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  const plusAt = body.split("/").findIndex((s) => s === "+");
  const plusIndex = plusAt < 0 ? -1 : body.split("/").slice(0, plusAt).join("/").length + (plusAt > 0 ? 1 : 0);
  const wildcardPositions = [plusIndex, glob ? body.length : -1].filter((i) => i >= 0);
  return {
    pattern,
    regex: new RegExp(`^${source}${glob ? ".*" : ""}$`),
    caps,
    firstWildcard: wildcardPositions.length > 0 ? Math.min(...wildcardPositions) : Number.POSITIVE_INFINITY,
    glob,
    plusCount: body.split("/").filter((s) => s === "+").length,
  };
}

/** Vault's priority rules: is `a` more specific than `b`? */
function outranks(a: CompiledRule, b: CompiledRule): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard > b.firstWildcard;
  if (a.glob !== b.glob) return !a.glob;
  if (a.plusCount !== b.plusCount) return a.plusCount < b.plusCount;
  if (a.pattern.length !== b.pattern.length) return a.pattern.length > b.pattern.length;
  return a.pattern > b.pattern;
}

/** What an address template can refer to of a node. */
export interface TemplateNode {
  id: string;
  name: string;
  nodeClass: string;
  nodePool: string;
  meta: Record<string, string>;
}

const REF = /\$\{([^}]*)\}/g;

/**
 * Resolves a pool's address template (`module.w.aws_instance.worker["${meta.terraform_key}"]`)
 * for one node. Pure.
 * @returns the address, or `missing` naming the first reference the node cannot fill
 */
export function resolveAddress(template: string, node: TemplateNode): { address: string } | { missing: string } {
  let missing: string | undefined;
  const address = template.replace(REF, (_m, raw: string) => {
    const ref = raw.trim();
    const value = lookup(ref, node);
    if (value === undefined && missing === undefined) missing = ref;
    return value ?? "";
  });
  return missing !== undefined ? { missing } : { address };
}

function lookup(ref: string, node: TemplateNode): string | undefined {
  if (ref.startsWith("meta.")) return node.meta[ref.slice("meta.".length)];
  switch (ref) {
    case "node.name":
      return node.name;
    case "node.id":
      return node.id;
    case "node.class":
      return node.nodeClass;
    case "node.pool":
      return node.nodePool;
    default:
      return undefined;
  }
}

/** Whether a node belongs to a pool by its `select` (node pool, class and meta must all match those set). */
export function selectsNode(select: { nodePool?: string; nodeClass?: string; meta?: Record<string, string> }, node: TemplateNode): boolean {
  if (select.nodePool !== undefined && node.nodePool !== select.nodePool) return false;
  if (select.nodeClass !== undefined && node.nodeClass !== select.nodeClass) return false;
  for (const [k, v] of Object.entries(select.meta ?? {})) if (node.meta[k] !== v) return false;
  return true;
}

/**
 * A pattern matching every address the template can produce, whatever the
 * node (each `${…}` matches one non-empty key without quotes or brackets):
 * what `steward validate --terraform` checks against the state and plan.
 */
export function templatePattern(template: string): RegExp {
  const parts = template.split(REF);
  // split with a capture group alternates literal text and reference names.
  const source = parts.map((p, i) => (i % 2 === 0 ? p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : '[^"\\]\\[]+')).join("");
  return new RegExp(`^${source}$`);
}

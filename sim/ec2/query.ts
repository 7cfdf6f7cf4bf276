import { Ec2Error } from "./errors.js";

/**
 * The decoded form parameters of one Query API call (`Action=…&Version=…&…`),
 * with readers for EC2's numbered lists (`InstanceId.1`, `Filter.1.Value.2`).
 */
export class QueryParams {
  constructor(private readonly map: Map<string, string>) {}

  /** Reads a form body and the URL query (the Query API accepts both; the body wins). */
  static from(body: Buffer, query: URLSearchParams): QueryParams {
    const map = new Map<string, string>();
    for (const [k, v] of query) map.set(k, v);
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) map.set(k, v);
    return new QueryParams(map);
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** A required parameter: EC2 answers `MissingParameter` without it. */
  need(name: string): string {
    const v = this.map.get(name);
    if (v === undefined || v === "") throw new Ec2Error("MissingParameter", `The request must contain the parameter ${name}`);
    return v;
  }

  /** A boolean parameter; EC2 accepts `true`/`false` only. */
  bool(name: string): boolean | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    if (v === "true") return true;
    if (v === "false") return false;
    throw new Ec2Error("InvalidParameterValue", `Value (${v}) for parameter ${name} is invalid. Expected: 'true' or 'false'.`);
  }

  /** An integer parameter. */
  int(name: string): number | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new Ec2Error("InvalidParameterValue", `Value (${v}) for parameter ${name} is invalid. Expected an integer.`);
    return Number(v);
  }

  /** `Prefix.1`, `Prefix.2`, … in index order (gaps allowed, as the SDK never leaves them but users may). */
  list(prefix: string): string[] {
    return this.indices(prefix).map((n) => this.map.get(`${prefix}.${n}`) ?? "");
  }

  /** The indices N for which some `Prefix.N` or `Prefix.N.*` parameter exists, ascending. */
  indices(prefix: string): number[] {
    const found = new Set<number>();
    const head = `${prefix}.`;
    for (const k of this.map.keys()) {
      if (!k.startsWith(head)) continue;
      const m = /^(\d+)(?:\.|$)/.exec(k.slice(head.length));
      if (m) found.add(Number(m[1]));
    }
    return [...found].sort((a, b) => a - b);
  }

  /** `Filter.N.Name` + `Filter.N.Value.M`, in index order. */
  filters(): Filter[] {
    return this.indices("Filter").map((n) => ({
      name: this.map.get(`Filter.${n}.Name`) ?? "",
      values: this.list(`Filter.${n}.Value`),
    }));
  }

  /** `Tag.N.Key`/`Tag.N.Value` under a prefix (`TagSpecification.1.Tag`, `Tag`). */
  tags(prefix: string): Tag[] {
    return this.indices(prefix).map((n) => {
      const value = this.map.get(`${prefix}.${n}.Value`);
      return { key: this.map.get(`${prefix}.${n}.Key`) ?? "", ...(value !== undefined ? { value } : {}) };
    });
  }

  /** Every parameter but the ones named, as a stable string (ClientToken idempotency compares requests). */
  fingerprint(skip: string[]): string {
    return [...this.map.entries()]
      .filter(([k]) => !skip.includes(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
  }

  entries(): [string, string][] {
    return [...this.map.entries()];
  }
}

export interface Filter {
  name: string;
  values: string[];
}

/** A tag as a request carries it; DeleteTags may leave `value` out. */
export interface Tag {
  key: string;
  value?: string;
}

/** EC2 filter values match with `*` (any run) and `?` (one character) wildcards. */
export function wildcardMatch(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "s").test(value);
}

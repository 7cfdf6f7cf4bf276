import type { Clock } from "../core/clock.js";
import { accessorId, serviceTokenId } from "./ids.js";
import { rfc3339 } from "./durations.js";
import type { AuthBlock } from "./reply.js";

/** Vault's default and maximum lease TTL (768h, 32 days) when the mount does not tune them. */
export const SYSTEM_TTL_S = 768 * 3600;

/** One token of the token store. Times are sim epoch ms; TTLs whole seconds. */
export interface TokenEntry {
  id: string;
  accessor: string;
  /** Sorted; includes `default` unless asked not to; `["root"]` for root tokens. */
  policies: string[];
  /** Policies the token's identity entity brings (AppRole logins with seeded identity policies). */
  identityPolicies: string[];
  entityId: string;
  meta: Record<string, string> | null;
  displayName: string;
  path: string;
  issueMs: number;
  creationTtlS: number;
  /** null: never expires (root tokens). */
  expireMs: number | null;
  explicitMaxTtlS: number;
  /** Ceiling of renewals measured from issue time (a role's token_max_ttl); 0 = only the system maximum. */
  maxTtlS: number;
  /** TTL a renewal without `increment` grants. */
  renewTtlS: number;
  /** TTL of the last grant (creation or renewal): the `lease_duration` of auth blocks. */
  grantedTtlS: number;
  renewable: boolean;
  orphan: boolean;
  numUses: number;
  parentId: string | null;
  lastRenewalMs: number | null;
}

/** What creating a token needs; see `TokenStore.create`. */
export interface TokenSpec {
  policies: string[];
  noDefaultPolicy?: boolean;
  /** Requested TTL in seconds; 0/absent = the default (or none for root-policy tokens). */
  ttlS?: number;
  explicitMaxTtlS?: number;
  maxTtlS?: number;
  renewable?: boolean;
  meta?: Record<string, string> | null;
  displayName?: string;
  path?: string;
  orphan?: boolean;
  parentId?: string | null;
  entityId?: string;
  identityPolicies?: string[];
  numUses?: number;
  id?: string;
}

/** Sorts and de-duplicates policy names and adds `default` the way Vault's policyutil does. */
export function sanitizePolicies(names: readonly string[], addDefault: boolean): string[] {
  const set = new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => n !== ""));
  if (set.has("root")) return ["root"];
  if (addDefault) set.add("default");
  return [...set].sort();
}

/**
 * The token store. Expiry is decided lazily against the sim clock: an entry
 * whose TTL has run out is treated as gone, as Vault's expiration manager
 * would have revoked it.
 */
export class TokenStore {
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  /** Creates a token. TTLs are capped by the explicit max TTL and the system maximum. */
  create(spec: TokenSpec): TokenEntry {
    const now = this.clock.now();
    const policies = sanitizePolicies(spec.policies, !spec.noDefaultPolicy);
    const isRoot = policies.includes("root");
    const explicitMax = Math.max(0, spec.explicitMaxTtlS ?? 0);
    let ttl = Math.max(0, spec.ttlS ?? 0);
    if (ttl === 0 && !isRoot) ttl = SYSTEM_TTL_S;
    const ceiling = effectiveMax(explicitMax, spec.maxTtlS ?? 0);
    if (ttl > 0 && ttl > ceiling) ttl = ceiling;
    const entry: TokenEntry = {
      id: spec.id ?? serviceTokenId(this.random),
      accessor: accessorId(this.random),
      policies,
      identityPolicies: [...(spec.identityPolicies ?? [])].sort(),
      entityId: spec.entityId ?? "",
      meta: spec.meta && Object.keys(spec.meta).length > 0 ? { ...spec.meta } : null,
      displayName: spec.displayName ?? "token",
      path: spec.path ?? "auth/token/create",
      issueMs: now,
      creationTtlS: ttl,
      expireMs: ttl > 0 ? now + ttl * 1000 : null,
      explicitMaxTtlS: explicitMax,
      maxTtlS: Math.max(0, spec.maxTtlS ?? 0),
      renewTtlS: ttl,
      grantedTtlS: ttl,
      renewable: ttl > 0 && (spec.renewable ?? true),
      orphan: spec.orphan ?? false,
      numUses: spec.numUses ?? 0,
      parentId: spec.parentId ?? null,
      lastRenewalMs: null,
    };
    this.tokens.set(entry.id, entry);
    return entry;
  }

  /** A live token by id; undefined when unknown, revoked or expired. */
  lookup(id: string | undefined): TokenEntry | undefined {
    if (!id) return undefined;
    const entry = this.tokens.get(id);
    if (!entry) return undefined;
    if (entry.expireMs !== null && this.clock.now() >= entry.expireMs) {
      this.revoke(id);
      return undefined;
    }
    return entry;
  }

  /**
   * Renews a live token by `incrementS` (or its own TTL), never past its max
   * TTL measured from issue time. Returns Vault's error text when the token
   * cannot be renewed.
   */
  renew(entry: TokenEntry, incrementS: number): { ok: true; ttlS: number } | { ok: false; error: string } {
    if (entry.expireMs === null || !entry.renewable) return { ok: false, error: "lease is not renewable" };
    const now = this.clock.now();
    const wanted = incrementS > 0 ? incrementS : entry.renewTtlS;
    const ceilingMs = entry.issueMs + effectiveMax(entry.explicitMaxTtlS, entry.maxTtlS) * 1000;
    entry.expireMs = Math.min(now + wanted * 1000, ceilingMs);
    entry.lastRenewalMs = now;
    entry.grantedTtlS = Math.max(0, Math.round((entry.expireMs - now) / 1000));
    return { ok: true, ttlS: entry.grantedTtlS };
  }

  /** Revokes a token and, as Vault does, every non-orphan child under it. */
  revoke(id: string): void {
    if (!this.tokens.delete(id)) return;
    for (const child of [...this.tokens.values()]) {
      if (child.parentId === id && !child.orphan) this.revoke(child.id);
    }
  }

  /** Whole seconds of life left; 0 for tokens that never expire. */
  remainingS(entry: TokenEntry): number {
    if (entry.expireMs === null) return 0;
    return Math.max(0, Math.floor((entry.expireMs - this.clock.now()) / 1000));
  }

  /** The `data` of lookup and lookup-self. */
  lookupData(entry: TokenEntry): Record<string, unknown> {
    const data: Record<string, unknown> = {
      accessor: entry.accessor,
      creation_time: Math.floor(entry.issueMs / 1000),
      creation_ttl: entry.creationTtlS,
      display_name: entry.displayName,
      entity_id: entry.entityId,
      expire_time: entry.expireMs === null ? null : rfc3339(entry.expireMs),
      explicit_max_ttl: entry.explicitMaxTtlS,
      id: entry.id,
      issue_time: rfc3339(entry.issueMs),
      meta: entry.meta,
      num_uses: entry.numUses,
      orphan: entry.orphan,
      path: entry.path,
      policies: entry.policies,
      renewable: entry.renewable,
      ttl: this.remainingS(entry),
      type: "service",
    };
    if (entry.lastRenewalMs !== null) {
      data.last_renewal_time = Math.floor(entry.lastRenewalMs / 1000);
      data.last_renewal = rfc3339(entry.lastRenewalMs);
    }
    // Vault adds these only when the token's entity brings policies.
    if (entry.identityPolicies.length > 0) {
      data.identity_policies = entry.identityPolicies;
      data.external_namespace_policies = {};
    }
    return data;
  }

  /** The `auth` block of create, login and renew replies. */
  authBlock(entry: TokenEntry): AuthBlock {
    const block: AuthBlock = {
      client_token: entry.id,
      accessor: entry.accessor,
      policies: [...new Set([...entry.policies, ...entry.identityPolicies])].sort(),
      token_policies: entry.policies,
      metadata: entry.meta,
      lease_duration: entry.grantedTtlS,
      renewable: entry.renewable,
      entity_id: entry.entityId,
      token_type: "service",
      orphan: entry.orphan,
      mfa_requirement: null,
      num_uses: entry.numUses,
    };
    if (entry.identityPolicies.length > 0) block.identity_policies = entry.identityPolicies;
    return block;
  }

  clear(): void {
    this.tokens.clear();
  }
}

function effectiveMax(explicitMaxS: number, maxS: number): number {
  return Math.min(...[SYSTEM_TTL_S, explicitMaxS, maxS].filter((v) => v > 0));
}

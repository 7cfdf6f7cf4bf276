import type { Clock } from "../core/clock.js";
import type { SimReply } from "../core/http.js";
import { uuid } from "./ids.js";
import {
  boolField,
  durationField,
  intField,
  isError,
  stringField,
  stringListField,
  firstError,
  value,
  type Field,
} from "./fields.js";
import { envelope, errors, json, noContent } from "./reply.js";
import type { Mount, VaultRequest, VaultRoute } from "./routes.js";
import type { TokenStore } from "./tokens.js";

/** An AppRole role. TTLs in seconds; 0 means "the system default" (token) or "never" (secret id). */
export interface AppRole {
  name: string;
  roleId: string;
  policies: string[];
  tokenTtlS: number;
  tokenMaxTtlS: number;
  tokenExplicitMaxTtlS: number;
  tokenNumUses: number;
  tokenNoDefaultPolicy: boolean;
  secretIdTtlS: number;
  secretIdNumUses: number;
  bindSecretId: boolean;
  /** Policies of the identity entity the role's logins map to (sim seeding only; Vault gets them from identity groups). */
  identityPolicies: string[];
  /** The entity AppRole logins create (one alias per role id), made on first login. */
  entityId: string | null;
}

interface SecretId {
  roleName: string;
  accessor: string;
  createdMs: number;
  ttlS: number;
  /** Remaining uses; 0 = unlimited. */
  numUses: number;
  metadata: Record<string, string>;
}

/** Options of `AppRoleBackend.createRole` (and of VaultServer.createAppRole). */
export interface AppRoleSpec {
  policies?: string[];
  tokenTtlS?: number;
  tokenMaxTtlS?: number;
  secretIdTtlS?: number;
  secretIdNumUses?: number;
  identityPolicies?: string[];
  roleId?: string;
}

/**
 * The AppRole auth method at `auth/approle/`: role CRUD, role-id read/write,
 * secret-id generation (TTL and use count in sim time), secret-id list and
 * destroy, and login, which issues a service token through the token store.
 */
export class AppRoleBackend {
  private readonly roles = new Map<string, AppRole>();
  private readonly secretIds = new Map<string, SecretId>();

  constructor(
    private readonly tokens: TokenStore,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  /** Creates or replaces a role. */
  createRole(name: string, spec: AppRoleSpec): AppRole {
    const role = this.newRole(name, spec);
    this.roles.set(role.name, role);
    return role;
  }

  private newRole(name: string, spec: AppRoleSpec): AppRole {
    const key = name.toLowerCase();
    return {
      name: key,
      roleId: spec.roleId ?? this.roles.get(key)?.roleId ?? uuid(this.random),
      policies: [...(spec.policies ?? [])],
      tokenTtlS: spec.tokenTtlS ?? 0,
      tokenMaxTtlS: spec.tokenMaxTtlS ?? 0,
      tokenExplicitMaxTtlS: 0,
      tokenNumUses: 0,
      tokenNoDefaultPolicy: false,
      secretIdTtlS: spec.secretIdTtlS ?? 0,
      secretIdNumUses: spec.secretIdNumUses ?? 0,
      bindSecretId: true,
      identityPolicies: [...(spec.identityPolicies ?? [])],
      entityId: null,
    };
  }

  /** Issues a secret id for a role; `ttlS`/`numUses` default to the role's. */
  generateSecretId(roleName: string, opts: { ttlS?: number; numUses?: number; metadata?: Record<string, string> } = {}): {
    secretId: string;
    accessor: string;
    ttlS: number;
    numUses: number;
  } {
    const role = this.roles.get(roleName.toLowerCase());
    if (!role) throw new Error(`vault sim: no AppRole role ${roleName}`);
    const secretId = uuid(this.random);
    const entry: SecretId = {
      roleName: role.name,
      accessor: uuid(this.random),
      createdMs: this.clock.now(),
      ttlS: opts.ttlS ?? role.secretIdTtlS,
      numUses: opts.numUses ?? role.secretIdNumUses,
      metadata: { ...(opts.metadata ?? {}) },
    };
    this.secretIds.set(secretId, entry);
    return { secretId, accessor: entry.accessor, ttlS: entry.ttlS, numUses: entry.numUses };
  }

  mount(): Mount {
    return { path: "auth/approle/", type: "approle", routes: this.routes() };
  }

  private routes(): VaultRoute[] {
    const role = (m: RegExpExecArray): AppRole | undefined => this.roles.get((m[1] ?? "").toLowerCase());
    return [
      { pattern: /^login$/, unauthenticated: true, write: (r) => this.login(r) },
      { pattern: /^role\/?$/, list: (r) => this.listRoles(r) },
      {
        pattern: /^role\/([^/]+)$/,
        read: (r) => this.readRole(r),
        write: (r) => this.writeRole(r),
        delete: (r) => this.deleteRole(r),
        exists: (m) => role(m) !== undefined,
      },
      {
        pattern: /^role\/([^/]+)\/role-id$/,
        read: (r) => {
          const found = role(r.match);
          return found ? json(envelope(r.requestId, r.mountType, { data: { role_id: found.roleId } })) : errors(404);
        },
        write: (r) => this.writeRoleId(r),
      },
      {
        pattern: /^role\/([^/]+)\/secret-id\/?$/,
        write: (r) => this.generate(r),
        list: (r) => this.listSecretIds(r),
      },
      { pattern: /^role\/([^/]+)\/secret-id\/destroy$/, write: (r) => this.destroySecretId(r), delete: (r) => this.destroySecretId(r) },
    ];
  }

  private login(req: VaultRequest): SimReply {
    const roleId = (value(stringField(req.data, "role_id")) ?? "").trim();
    if (roleId === "") return errors(400, ["missing role_id"]);
    const role = [...this.roles.values()].find((r) => r.roleId === roleId);
    if (!role) return errors(400, ["invalid role or secret ID"]);
    const metadata: Record<string, string> = {};
    if (role.bindSecretId) {
      const secretId = (value(stringField(req.data, "secret_id")) ?? "").trim();
      if (secretId === "") return errors(400, ["missing secret_id"]);
      const entry = this.liveSecretId(secretId);
      if (!entry || entry.roleName !== role.name) return errors(400, ["invalid role or secret ID"]);
      if (entry.numUses === 1) this.secretIds.delete(secretId);
      else if (entry.numUses > 1) entry.numUses--;
      Object.assign(metadata, entry.metadata);
    }
    metadata.role_name = role.name;
    role.entityId ??= uuid(this.random);
    const token = this.tokens.create({
      policies: role.policies,
      noDefaultPolicy: role.tokenNoDefaultPolicy,
      ttlS: role.tokenTtlS,
      maxTtlS: role.tokenMaxTtlS,
      explicitMaxTtlS: role.tokenExplicitMaxTtlS,
      numUses: role.tokenNumUses,
      meta: metadata,
      displayName: "approle",
      path: "auth/approle/login",
      orphan: true,
      entityId: role.entityId,
      identityPolicies: role.identityPolicies,
    });
    return json(envelope(req.requestId, req.mountType, { auth: this.tokens.authBlock(token) }));
  }

  private listRoles(req: VaultRequest): SimReply {
    if (this.roles.size === 0) return errors(404);
    return json(envelope(req.requestId, req.mountType, { data: { keys: [...this.roles.keys()].sort() } }));
  }

  private readRole(req: VaultRequest): SimReply {
    const role = this.roles.get((req.match[1] ?? "").toLowerCase());
    if (!role) return errors(404);
    const data: Record<string, unknown> = {
      bind_secret_id: role.bindSecretId,
      local_secret_ids: false,
      secret_id_bound_cidrs: null,
      secret_id_num_uses: role.secretIdNumUses,
      secret_id_ttl: role.secretIdTtlS,
      token_bound_cidrs: [],
      token_explicit_max_ttl: role.tokenExplicitMaxTtlS,
      token_max_ttl: role.tokenMaxTtlS,
      token_no_default_policy: role.tokenNoDefaultPolicy,
      token_num_uses: role.tokenNumUses,
      token_period: 0,
      token_policies: role.policies,
      token_ttl: role.tokenTtlS,
      token_type: "default",
    };
    if (role.policies.length > 0) data.policies = role.policies;
    return json(envelope(req.requestId, req.mountType, { data }));
  }

  private writeRole(req: VaultRequest): SimReply {
    const name = (req.match[1] ?? "").toLowerCase();
    const existing = this.roles.get(name);
    const d = req.data;
    const policies = stringListField(d, d.token_policies !== undefined ? "token_policies" : "policies");
    const tokenTtl = durationField(d, "token_ttl");
    const tokenMaxTtl = durationField(d, "token_max_ttl");
    const explicitMax = durationField(d, "token_explicit_max_ttl");
    const tokenNumUses = intField(d, "token_num_uses");
    const noDefault = boolField(d, "token_no_default_policy");
    const secretIdTtl = durationField(d, "secret_id_ttl");
    const secretIdNumUses = intField(d, "secret_id_num_uses");
    const bind = boolField(d, "bind_secret_id");
    const roleId = stringField(d, "role_id");
    const bad = firstError(policies, tokenTtl, tokenMaxTtl, explicitMax, tokenNumUses, noDefault, secretIdTtl, secretIdNumUses, bind, roleId);
    if (bad) return errors(400, [bad]);
    const role: AppRole = existing ?? this.newRole(name, {});
    const next: AppRole = {
      ...role,
      policies: valueOr(policies, role.policies),
      tokenTtlS: valueOr(tokenTtl, role.tokenTtlS),
      tokenMaxTtlS: valueOr(tokenMaxTtl, role.tokenMaxTtlS),
      tokenExplicitMaxTtlS: valueOr(explicitMax, role.tokenExplicitMaxTtlS),
      tokenNumUses: valueOr(tokenNumUses, role.tokenNumUses),
      tokenNoDefaultPolicy: valueOr(noDefault, role.tokenNoDefaultPolicy),
      secretIdTtlS: valueOr(secretIdTtl, role.secretIdTtlS),
      secretIdNumUses: valueOr(secretIdNumUses, role.secretIdNumUses),
      bindSecretId: valueOr(bind, role.bindSecretId),
      roleId: valueOr(roleId, role.roleId) || role.roleId,
    };
    if (next.secretIdNumUses < 0) return errors(400, ["secret_id_num_uses cannot be negative"]);
    if (!next.bindSecretId) return errors(400, ["at least one constraint should be enabled on the role"]);
    if (next.tokenMaxTtlS > 0 && next.tokenTtlS > next.tokenMaxTtlS) {
      return errors(400, ["token_ttl should not be greater than token_max_ttl"]);
    }
    this.roles.set(name, next);
    return noContent();
  }

  private deleteRole(req: VaultRequest): SimReply {
    const name = (req.match[1] ?? "").toLowerCase();
    if (this.roles.delete(name)) {
      for (const [id, s] of this.secretIds) if (s.roleName === name) this.secretIds.delete(id);
    }
    return noContent();
  }

  private writeRoleId(req: VaultRequest): SimReply {
    const role = this.roles.get((req.match[1] ?? "").toLowerCase());
    if (!role) return errors(404, [`role name ${JSON.stringify(req.match[1] ?? "")} doesn't exist`]);
    const roleId = (value(stringField(req.data, "role_id")) ?? "");
    if (roleId === "") return errors(400, ["missing role_id"]);
    role.roleId = roleId;
    return noContent();
  }

  private generate(req: VaultRequest): SimReply {
    const name = req.match[1] ?? "";
    const role = this.roles.get(name.toLowerCase());
    if (!role) return errors(404, [`role ${JSON.stringify(name)} does not exist`]);
    const numUses = intField(req.data, "num_uses");
    const ttl = durationField(req.data, "ttl");
    const metadataText = stringField(req.data, "metadata");
    const bad = firstError(numUses, ttl, metadataText);
    if (bad) return errors(400, [bad]);
    if (typeof numUses === "number") {
      if (numUses < 0) return errors(400, ["num_uses cannot be negative"]);
      if ((numUses === 0 && role.secretIdNumUses > 0) || (role.secretIdNumUses > 0 && numUses > role.secretIdNumUses)) {
        return errors(400, ["num_uses cannot be higher than the role's secret_id_num_uses"]);
      }
    }
    if (typeof ttl === "number" && ((ttl === 0 && role.secretIdTtlS > 0) || (role.secretIdTtlS > 0 && ttl > role.secretIdTtlS))) {
      return errors(400, ["ttl cannot be longer than the role's secret_id_ttl"]);
    }
    const metadata = parseMetadata(typeof metadataText === "string" ? metadataText : "");
    if (metadata === undefined) return errors(400, ["failed to parse metadata: invalid key/value pairs"]);
    const issued = this.generateSecretId(role.name, {
      ...(typeof ttl === "number" ? { ttlS: ttl } : {}),
      ...(typeof numUses === "number" ? { numUses } : {}),
      metadata,
    });
    return json(
      envelope(req.requestId, req.mountType, {
        data: {
          secret_id_accessor: issued.accessor,
          secret_id: issued.secretId,
          secret_id_ttl: issued.ttlS,
          secret_id_num_uses: issued.numUses,
        },
      }),
    );
  }

  private listSecretIds(req: VaultRequest): SimReply {
    const name = (req.match[1] ?? "").toLowerCase();
    const keys = [...this.secretIds.entries()]
      .filter(([id, s]) => s.roleName === name && this.liveSecretId(id))
      .map(([, s]) => s.accessor)
      .sort();
    if (keys.length === 0) return errors(404);
    return json(envelope(req.requestId, req.mountType, { data: { keys } }));
  }

  private destroySecretId(req: VaultRequest): SimReply {
    const secretId = (value(stringField(req.data, "secret_id")) ?? "");
    if (secretId === "") return errors(400, ["missing secret_id"]);
    this.secretIds.delete(secretId);
    return noContent();
  }

  /** A secret id that exists and has not outlived its TTL. */
  private liveSecretId(id: string): SecretId | undefined {
    const entry = this.secretIds.get(id);
    if (!entry) return undefined;
    if (entry.ttlS > 0 && this.clock.now() >= entry.createdMs + entry.ttlS * 1000) {
      this.secretIds.delete(id);
      return undefined;
    }
    return entry;
  }

  clear(): void {
    this.roles.clear();
    this.secretIds.clear();
  }
}

/** strutil.ParseArbitraryKeyValues: a JSON object, or `k=v` pairs separated by commas. */
function parseMetadata(text: string): Record<string, string> | undefined {
  if (text.trim() === "") return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
  } catch {
    const out: Record<string, string> = {};
    for (const pair of text.split(",")) {
      const eq = pair.indexOf("=");
      if (eq <= 0) return undefined;
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    return out;
  }
}

function valueOr<T>(field: Field<T>, fallback: T): T {
  return field === undefined || isError(field) ? fallback : field;
}

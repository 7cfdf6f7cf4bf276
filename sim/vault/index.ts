import { Router } from "../core/http.js";
import type { SimContext } from "../core/context.js";
import { AppRoleBackend, type AppRoleSpec } from "./approle.js";
import { dispatch } from "./dispatch.js";
import { uuid } from "./ids.js";
import { KvV2Engine, type KeyMetadataSeed } from "./kv2.js";
import { PolicyStore, type PolicyRules } from "./policy.js";
import { errors } from "./reply.js";
import type { Mount } from "./routes.js";
import { sysHealth, sysMount, type ClusterInfo, type VaultStatus } from "./sys.js";
import { tokenMount } from "./token-backend.js";
import { TokenStore } from "./tokens.js";

export type { PolicyRules, Capability } from "./policy.js";
export type { VaultStatus } from "./sys.js";

export interface VaultServerOptions {
  /** The root token's id; it carries the `root` policy and never expires. */
  rootToken: string;
}

/** Every HTTP verb Vault answers (LIST is Vault's own); anything else is 405 with `{"errors":[]}`. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "LIST", "OPTIONS"];

/**
 * An emulated Vault server (one active node): the token store with TTLs in
 * sim time, ACL policies, KV version 2 at `secret/`, AppRole at
 * `auth/approle/`, `sys/health` and `sys/mounts`. See README.md for the
 * exact coverage and the differences from a real Vault.
 *
 * Seeding helpers (`putSecret`, `setPolicy`, `createAppRole`, `createToken`,
 * `setStatus`) change state directly, as an operator would have, without
 * going through HTTP.
 */
export class VaultServer {
  readonly router: Router;
  private readonly policies = new PolicyStore();
  private readonly tokens: TokenStore;
  private readonly approle: AppRoleBackend;
  private readonly kv = new Map<string, KvV2Engine>();
  private readonly fixedMounts: Mount[];
  private readonly cluster: ClusterInfo;
  private readonly status: VaultStatus = { initialized: true, sealed: false, standby: false, performanceStandby: false };
  private readonly mountIds = new Map<string, { uuid: string; accessor: string }>();

  constructor(
    private readonly ctx: SimContext,
    private readonly options: VaultServerOptions,
  ) {
    this.tokens = new TokenStore(ctx.clock, ctx.random);
    this.approle = new AppRoleBackend(this.tokens, ctx.clock, ctx.random);
    this.cluster = {
      clusterName: `vault-cluster-${uuid(ctx.random).slice(0, 8)}`,
      clusterId: uuid(ctx.random),
      version: "1.16.3",
    };
    this.fixedMounts = [
      tokenMount(this.tokens, this.policies),
      this.approle.mount(),
      sysMount(() => this.mounts(), (m) => this.describeMount(m)),
    ];
    this.mountKvV2("secret");
    this.createRootToken();
    this.router = new Router({
      notFound: () => errors(404),
      methodNotAllowed: () => errors(405),
    });
    this.router.add(METHODS, "/v1/sys/health", (req) => sysHealth(req, this.status, this.cluster, this.ctx.clock.now()));
    this.router.add(METHODS, "/v1/*path", (req) =>
      dispatch(
        {
          tokens: this.tokens,
          policies: this.policies,
          mounts: () => this.mounts(),
          random: this.ctx.random,
          sealed: () => this.status.sealed || !this.status.initialized,
        },
        req,
      ),
    );
  }

  /** Mounts another KV v2 engine at `path` (`secret` is mounted at start). */
  mountKvV2(path: string): void {
    const p = path.replace(/\/+$/, "") + "/";
    if (!this.kv.has(p)) this.kv.set(p, new KvV2Engine(p, this.ctx.clock));
  }

  /** Writes a new version of a KV v2 secret; returns the version number. */
  putSecret(mount: string, path: string, data: Record<string, unknown>): number {
    return this.engine(mount).put(path, data);
  }

  /** Sets a KV v2 key's metadata (custom_metadata, max_versions, cas_required, delete_version_after). */
  setSecretMetadata(mount: string, path: string, fields: KeyMetadataSeed): void {
    this.engine(mount).setMetadata(path, fields);
  }

  /** The latest live data of a KV v2 secret, or undefined when absent or deleted. */
  getSecret(mount: string, path: string): Record<string, unknown> | undefined {
    return this.engine(mount).get(path);
  }

  /**
   * Defines an ACL policy: path patterns (`secret/data/app/*`, `secret/+/x`)
   * to capabilities, as the `path` blocks of a Vault HCL policy.
   */
  setPolicy(name: string, rules: PolicyRules): void {
    this.policies.set(name, rules);
  }

  /** Creates an AppRole role and one secret id for it. */
  createAppRole(
    name: string,
    spec: AppRoleSpec & { policies: string[] },
  ): { roleId: string; secretId: string; secretIdAccessor: string } {
    const role = this.approle.createRole(name, spec);
    const issued = this.approle.generateSecretId(role.name);
    return { roleId: role.roleId, secretId: issued.secretId, secretIdAccessor: issued.accessor };
  }

  /** Issues another secret id for an AppRole role. */
  generateSecretId(roleName: string, opts: { ttlS?: number; numUses?: number; metadata?: Record<string, string> } = {}): string {
    return this.approle.generateSecretId(roleName, opts).secretId;
  }

  /**
   * Creates a token as a root parent would (orphan-free child of the root
   * token). `ttlS` 0 or absent gives Vault's default 768h, unless the
   * policies include `root`. Returns the token id.
   */
  createToken(spec: {
    policies: string[];
    ttlS?: number;
    renewable?: boolean;
    explicitMaxTtlS?: number;
    meta?: Record<string, string>;
    noDefaultPolicy?: boolean;
  }): string {
    return this.tokens.create({
      policies: spec.policies,
      ...(spec.ttlS !== undefined ? { ttlS: spec.ttlS } : {}),
      ...(spec.renewable !== undefined ? { renewable: spec.renewable } : {}),
      ...(spec.explicitMaxTtlS !== undefined ? { explicitMaxTtlS: spec.explicitMaxTtlS } : {}),
      ...(spec.noDefaultPolicy !== undefined ? { noDefaultPolicy: spec.noDefaultPolicy } : {}),
      meta: spec.meta ?? null,
      parentId: this.options.rootToken,
    }).id;
  }

  /** Revokes a token (and its children), as `vault token revoke` would. */
  revokeToken(id: string): void {
    this.tokens.revoke(id);
  }

  /** Changes what the node reports: sealed (every API but sys/health answers 503), standby, uninitialised. */
  setStatus(change: Partial<VaultStatus>): void {
    Object.assign(this.status, change);
  }

  /** Drops all state; the server keeps answering (with an empty store) until its HTTP server closes. */
  close(): void {
    this.tokens.clear();
    this.approle.clear();
    this.kv.clear();
  }

  private engine(mount: string): KvV2Engine {
    const e = this.kv.get(mount.replace(/\/+$/, "") + "/");
    if (!e) throw new Error(`vault sim: no KV v2 engine mounted at ${mount}`);
    return e;
  }

  private mounts(): Mount[] {
    return [...this.fixedMounts, ...[...this.kv.values()].map((e) => e.mount())];
  }

  private createRootToken(): void {
    this.tokens.create({
      id: this.options.rootToken,
      policies: ["root"],
      displayName: "root",
      path: "auth/token/root",
      orphan: true,
    });
  }

  private describeMount(m: Mount): Record<string, unknown> {
    let ids = this.mountIds.get(m.path);
    if (!ids) {
      ids = { uuid: uuid(this.ctx.random), accessor: `${m.type}_${uuid(this.ctx.random).slice(0, 8)}` };
      this.mountIds.set(m.path, ids);
    }
    const kv = m.type === "kv";
    return {
      accessor: ids.accessor,
      config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
      description: kv ? "key/value secret storage" : "system endpoints used for control, policy and debugging",
      external_entropy_access: false,
      local: false,
      options: kv ? { version: "2" } : null,
      plugin_version: "",
      running_plugin_version: kv ? "v0.17.0+builtin" : `v${this.cluster.version}+builtin.vault`,
      running_sha256: "",
      seal_wrap: false,
      type: kv ? "kv" : m.type,
      uuid: ids.uuid,
    };
  }
}

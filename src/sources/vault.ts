import { createRequire } from "node:module";
import type nodeVaultModule from "node-vault";
import { z } from "zod";
import {
  DEFAULT_VAULT_KV_MOUNT,
  HTTP_TIMEOUT_MS,
  VAULT_REFRESH_JITTER_FRACTION,
  VAULT_RETRY_BASE_MS,
  VAULT_RETRY_CAP_MS,
  VAULT_SECRET_REFRESH_MS,
  VAULT_TOKEN_RENEW_FRACTION,
} from "../config/defaults.js";
import { readSecret } from "../config/load.js";
import type { SecretRef, VaultConfig } from "../config/schema.js";
import { addSecret, type Logger } from "../log.js";
import type { StewardMetrics } from "../metrics.js";
import { InvalidInputError } from "../model/errors.js";
import { checkOption, fullJitterBackoff, jitterInterval, systemClock, systemRandom, type Clock, type Random, type Timer } from "../reconciler/core/clock.js";
import { TransientError } from "../reconciler/core/outcome.js";
import { HttpStatusError } from "./http-client.js";
import { hasStatus, vaultCallError, vaultResponseCode } from "./vault-errors.js";

/**
 * node-vault, loaded at the first VaultSource: a daemon without Vault in its
 * configuration never pays for it (~3.5 MB of resident memory with its
 * dependencies).
 */
function loadNodeVault(): typeof nodeVaultModule {
  return createRequire(import.meta.url)("node-vault") as typeof nodeVaultModule;
}

/** One credential Steward logs in with, read afresh at every login (a file Nomad's template re-renders is picked up). */
export interface CredentialSource {
  /** The value, or undefined when its variable is unset. @throws when its file cannot be read */
  read(): Promise<string | undefined>;
  /** Where it comes from, for errors: `env VAULT_TOKEN`, `file /secrets/secret-id`. */
  where: string;
  /** Its field in Steward's config, for errors: `vault.auth.approle.secretId`. */
  field: string;
}

/** How Steward logs in to Vault. */
export type VaultAuth =
  | { method: "token"; token: CredentialSource }
  | { method: "approle"; roleId: CredentialSource; secretId: CredentialSource; /** The AppRole auth mount, `approle`. */ mount: string };

/** Builds the login method from `config.vault.auth`; credentials are read at each login, not now. */
export function vaultAuthFromConfig(auth: VaultConfig["auth"], env: NodeJS.ProcessEnv = process.env): VaultAuth {
  const source = (ref: SecretRef, field: string): CredentialSource => ({
    read: () => readSecret(ref, env),
    where: "env" in ref ? `env ${ref.env}` : `file ${ref.file}`,
    field,
  });
  if ("token" in auth) return { method: "token", token: source(auth.token, "vault.auth.token") };
  return {
    method: "approle",
    roleId: source(auth.approle.roleId, "vault.auth.approle.roleId"),
    secretId: source(auth.approle.secretId, "vault.auth.approle.secretId"),
    mount: auth.approle.mount,
  };
}

/**
 * The KV v2 API path of a secret: a path whose second segment is `data`
 * (`secret/data/steward/nomad-qa`, `kv/data/x`) is used as written; a path
 * starting with the mount (`secret/steward/nomad-qa`, as `vault kv get`
 * takes it) gets `data/` inserted; any other path is under the mount
 * (`steward/nomad-qa` → `secret/data/steward/nomad-qa`). Slashes at either
 * end are dropped.
 */
export function kvDataPath(path: string, mount: string = DEFAULT_VAULT_KV_MOUNT): string {
  const clean = path.replace(/^\/+|\/+$/g, "");
  const m = mount.replace(/^\/+|\/+$/g, "");
  const [first, second, ...rest] = clean.split("/");
  if (second === "data") return clean;
  if (first === m && second !== undefined) return [m, "data", second, ...rest].join("/");
  return `${m}/data/${clean}`;
}

/** Options of a `VaultSource`. Durations in milliseconds, on `clock`. */
export interface VaultSourceOptions {
  // ── where and who ──
  /** `http://127.0.0.1:8200`. */
  address: string;
  auth: VaultAuth;
  /** KV v2 mount of relative paths (see kvDataPath). @default DEFAULT_VAULT_KV_MOUNT ("secret") */
  kvMount?: string;

  // ── pacing ──
  /** Timeout of one Vault call. @default HTTP_TIMEOUT_MS (10 s) */
  timeoutMs?: number;
  /** Period between reads of every secret, ±10 % jitter. @default VAULT_SECRET_REFRESH_MS (5 min) */
  refreshIntervalMs?: number;
  /** Share of its TTL after which the token is renewed, in (0, 1). @default VAULT_TOKEN_RENEW_FRACTION (2/3) */
  renewFraction?: number;
  /** First delay after a failed call; doubled per failure. @default VAULT_RETRY_BASE_MS (1 s) */
  retryBaseMs?: number;
  /** Longest delay after failed calls. @default VAULT_RETRY_CAP_MS (1 min) */
  retryCapMs?: number;

  // ── time, chance, recording ──
  clock?: Clock;
  random?: Random;
  logger: Logger;
  /** `steward_api_requests_total{target="vault"}` and `steward_source_errors_total{source="vault"}`. */
  metrics?: StewardMetrics;
}

/** A secret Steward cannot use, for /readyz and status. */
export interface VaultProblem {
  /** The KV v2 API path, or `auth` for a failed login. */
  path: string;
  message: string;
}

/** The node-vault calls used here, typed at the boundary (node-vault answers `any`). */
interface VaultCalls {
  token: string;
  read(path: string, requestOptions?: object): Promise<unknown>;
  approleLogin(args: { mount_point: string; role_id: string; secret_id: string; requestOptions?: object }): Promise<unknown>;
  tokenRenewSelf(args?: { requestOptions?: object }): Promise<unknown>;
  tokenLookupSelf(args?: { requestOptions?: object }): Promise<unknown>;
}

const authReply = z.object({
  auth: z.object({ client_token: z.string().min(1), lease_duration: z.number(), renewable: z.boolean() }),
});
const lookupReply = z.object({
  data: z.object({ ttl: z.number(), creation_ttl: z.number().optional(), renewable: z.boolean().optional() }),
});
const kvReply = z.object({
  data: z.object({ data: z.record(z.string(), z.unknown()).nullable(), metadata: z.object({ version: z.number() }).partial().nullish() }),
});

/** Steward's own Vault token and what is known of its life. */
interface TokenState {
  id: string;
  /** The TTL a full grant gives (login, or a renewal not cut by the max TTL); 0 for a token that never expires. */
  fullTtlMs: number;
  /** When it expires on `clock`, counted from when the granting call was sent; undefined when it never does. */
  expiresAt: number | undefined;
  renewable: boolean;
  /** A renewal granted less than fullTtlMs: the max TTL is near, so the next step is a new login. */
  capped: boolean;
}

/** One secret Steward was asked for. */
interface SecretEntry {
  /** KV v2 API path. */
  path: string;
  /** Keys asked for, to name a missing one. */
  keys: Set<string>;
  /** The last good values (strings only); kept through transient failures and permission denials. */
  data: Map<string, string> | undefined;
  version: number | undefined;
  /** Has Vault answered for it (data, 403 or 404) at least once. */
  answered: boolean;
  problem: string | undefined;
}

type ReadResult = "ok" | "answered" | "transient";

/**
 * Steward's credentials from Vault, through the real `node-vault` client.
 *
 * - Logs in with the token as given (looked up for its TTL) or with AppRole.
 * - Renews its own token (renew-self) at `renewFraction` of each grant;
 *   logs in again when a renewal is refused, when the token expired, or when
 *   a renewal came back cut short by the max TTL (a token auth "logs in" by
 *   re-reading its token from the environment or file).
 * - Reads each requested KV v2 secret (`GET <mount>/data/<path>`) at start,
 *   when first asked for, and every `refreshIntervalMs`.
 * - Failures, by kind:
 *   transient (5xx, sealed, 429, timeouts, refused connections) → the last
 *   good values and the token are kept, one warning per outage, retry with
 *   backoff, and an info line on recovery;
 *   403 → if the token itself is refused (lookup-self 403) a new login and
 *   one more read, else an error naming the path and the policy, retried
 *   only at the next refresh, the last values kept;
 *   404 → an error naming the path; the values are dropped (Vault says the
 *   secret is gone);
 *   any other answer (400, 405, not KV v2) → an error naming the path and
 *   Vault's text, retried at the next refresh, the last values kept.
 *   A read, lookup or renewal whose connection was reset is sent again at
 *   once before any of this applies.
 * - Every value read, and every token and secret id, is registered with
 *   the log scrubber (`addSecret`); log lines name paths and keys, never values.
 *
 * `get` only reads the cache: it never blocks and never calls Vault.
 */
export class VaultSource {
  private readonly client: VaultCalls;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly log: Logger;
  private readonly mount: string;
  private readonly timeoutMs: number;
  private readonly refreshMs: number;
  private readonly renewFraction: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;

  private readonly secrets = new Map<string, SecretEntry>();
  private token: TokenState | undefined;
  private loginInFlight: Promise<void> | undefined;
  private loginProblem: string | undefined;
  private readTimer: { timer: Timer; at: number } | undefined;
  private tokenTimer: Timer | undefined;
  private readFailures = 0;
  private tokenFailures = 0;
  private unreachableSince: number | undefined;
  private started = false;
  private stopped = false;
  private isReady = false;
  private readonly readyWaiters: (() => void)[] = [];
  private readonly inflight = new Set<Promise<void>>();

  /** @throws RangeError naming the option when a duration or fraction is out of range */
  constructor(private readonly o: VaultSourceOptions) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? systemRandom;
    this.log = o.logger.child({ source: "vault" });
    this.mount = o.kvMount ?? DEFAULT_VAULT_KV_MOUNT;
    this.timeoutMs = checkOption("timeoutMs", o.timeoutMs ?? HTTP_TIMEOUT_MS, 1);
    this.refreshMs = checkOption("refreshIntervalMs", o.refreshIntervalMs ?? VAULT_SECRET_REFRESH_MS, 1);
    this.renewFraction = checkOption("renewFraction", o.renewFraction ?? VAULT_TOKEN_RENEW_FRACTION, 0.01);
    if (this.renewFraction >= 1) throw new RangeError(`renewFraction: must be below 1, got ${this.renewFraction}`);
    this.retryBaseMs = checkOption("retryBaseMs", o.retryBaseMs ?? VAULT_RETRY_BASE_MS, 1);
    this.retryCapMs = checkOption("retryCapMs", o.retryCapMs ?? VAULT_RETRY_CAP_MS, this.retryBaseMs);
    this.client = loadNodeVault()({
      apiVersion: "v1",
      endpoint: o.address,
      requestOptions: { timeout: this.timeoutMs },
      // node-vault's `debug` output (DEBUG=node-vault) prints request bodies, the AppRole secret id among them, outside pino's scrubbing.
      debug: () => undefined,
    });
    // node-vault adopts VAULT_TOKEN from the environment; only the configured auth may give Steward its token.
    this.client.token = "";
  }

  /**
   * Asks for a secret: it is read now (when started) and at every refresh.
   * `path` as kvDataPath takes it; `key`, when given, is checked to exist at each read.
   */
  want(path: string, key?: string): void {
    const p = kvDataPath(path, this.mount);
    let entry = this.secrets.get(p);
    if (!entry) {
      entry = { path: p, keys: new Set(), data: undefined, version: undefined, answered: false, problem: undefined };
      this.secrets.set(p, entry);
      if (this.started && !this.stopped) this.track(this.readFirst(entry));
    }
    if (key !== undefined) entry.keys.add(key);
  }

  /** The cached value of `key` in the secret at `path` (as kvDataPath takes it); undefined when not read (yet), absent or not a string. */
  get(path: string, key: string): string | undefined {
    return this.secrets.get(kvDataPath(path, this.mount))?.data?.get(key);
  }

  /** True once logged in and every secret asked for before (or while) starting has had an answer from Vault. Stays true. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Resolves when `ready` becomes true (at once if it is). Never rejects; while Vault cannot be reached it stays pending. */
  whenReady(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** What keeps a secret (or the login) from being usable right now. */
  problems(): VaultProblem[] {
    const out: VaultProblem[] = this.loginProblem ? [{ path: "auth", message: this.loginProblem }] : [];
    for (const e of this.secrets.values()) if (e.problem) out.push({ path: e.path, message: e.problem });
    return out;
  }

  /** Logs in and reads every secret asked for so far; then keeps the token and the secrets fresh until `stop`. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.track(this.refreshAll());
  }

  /** Cancels the timers and waits for calls in flight. The token is left to expire (other holders are none, and a revoke is a write). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.readTimer?.timer.cancel();
    this.tokenTimer?.cancel();
    await this.idle();
  }

  /** Resolves when no login, renewal or read is in flight (including work such calls start). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  // ── reading ──

  private async refreshAll(): Promise<void> {
    if (this.stopped) return;
    this.readTimer?.timer.cancel();
    this.readTimer = undefined;
    let transient: boolean;
    try {
      await this.ensureToken();
      const results = await Promise.all([...this.secrets.values()].map((e) => this.readOne(e)));
      transient = results.includes("transient");
    } catch {
      // ensureToken has logged why; the read round is retried with backoff like any outage.
      transient = true;
    }
    this.readFailures = transient ? this.readFailures + 1 : 0;
    if (!transient) this.reachable();
    this.checkReady();
    this.scheduleRead(transient ? this.backoff(this.readFailures) : jitterInterval(this.refreshMs, VAULT_REFRESH_JITTER_FRACTION, this.random));
  }

  /** A secret asked for after start: read at once, so its first user does not wait for the next refresh. */
  private async readFirst(entry: SecretEntry): Promise<void> {
    try {
      await this.ensureToken();
      if ((await this.readOne(entry)) === "transient") this.scheduleRead(this.backoff(Math.max(1, this.readFailures)));
    } catch {
      this.scheduleRead(this.backoff(Math.max(1, this.readFailures)));
    }
  }

  private async readOne(entry: SecretEntry, retried = false): Promise<ReadResult> {
    try {
      const body = await this.call(() => this.client.read(entry.path, { timeout: this.timeoutMs }));
      this.accept(entry, body);
      return "ok";
    } catch (raw) {
      const err = raw instanceof TransientError || raw instanceof HttpStatusError ? raw : vaultCallError(raw, `GET ${entry.path}`);
      if (hasStatus(err, 403)) return this.forbidden(entry, err, retried);
      if (hasStatus(err, 404)) return this.missing(entry);
      if (err instanceof HttpStatusError && err.status > 0) return this.refused(entry, err);
      return this.unreachable(entry, err);
    }
  }

  private accept(entry: SecretEntry, body: unknown): void {
    const parsed = kvReply.safeParse(body);
    if (!parsed.success) throw new HttpStatusError(`GET ${entry.path}: not a KV v2 secret (is the path under a KV v2 mount?)`, 200, { endpoint: `GET ${entry.path}` });
    const data = new Map<string, string>();
    for (const [k, v] of Object.entries(parsed.data.data.data ?? {})) {
      if (typeof v !== "string") continue;
      addSecret(v);
      data.set(k, v);
    }
    const version = parsed.data.data.metadata?.version;
    const wasProblem = entry.problem;
    entry.data = data;
    entry.version = version;
    entry.answered = true;
    const absent = [...entry.keys].filter((k) => !data.has(k));
    entry.problem = absent.length ? `secret ${entry.path} has no string key ${absent.map((k) => `"${k}"`).join(", ")}` : undefined;
    if (entry.problem && entry.problem !== wasProblem) this.log.error({ path: entry.path, keys: absent, version }, `vault: ${entry.problem}`);
    else if (!entry.problem && wasProblem) this.log.info({ path: entry.path, version }, "vault: secret readable again");
    this.log.debug({ path: entry.path, version, keys: [...data.keys()] }, "vault: secret read");
  }

  private async forbidden(entry: SecretEntry, err: HttpStatusError, retried: boolean): Promise<ReadResult> {
    // A 403 means either the token is no longer valid or its policies do not grant the path; lookup-self tells which.
    if (!retried) {
      try {
        if (await this.tokenRefused()) {
          await this.relogin("the token was refused");
          return await this.readOne(entry, true);
        }
      } catch (e) {
        return this.blocked(entry, e as Error);
      }
    }
    this.o.metrics?.sourceErrorsTotal.inc({ source: "vault" });
    const problem =
      `permission denied reading ${entry.path}: the policies of Steward's Vault token do not grant "read" on "${entry.path}" ` +
      `(add a policy with path "${entry.path}" { capabilities = ["read"] } to Steward's role); checked again in ${Math.round(this.refreshMs / 1000)} s`;
    if (entry.problem !== problem) this.log.error({ path: entry.path, endpoint: err.context.endpoint, status: 403, kept_last_value: entry.data !== undefined }, `vault: ${problem}`);
    entry.problem = problem;
    entry.answered = true;
    return "answered";
  }

  private missing(entry: SecretEntry): ReadResult {
    this.o.metrics?.sourceErrorsTotal.inc({ source: "vault" });
    const problem = `no secret at ${entry.path} (404): write it with \`vault kv put\`, or fix the path`;
    if (entry.problem !== problem) this.log.error({ path: entry.path, status: 404 }, `vault: ${problem}`);
    entry.problem = problem;
    entry.data = undefined;
    entry.version = undefined;
    entry.answered = true;
    return "answered";
  }

  /** Any other answer (400, 405, a reply that is not KV v2): an error naming the path, checked again at the next refresh. */
  private refused(entry: SecretEntry, err: HttpStatusError): ReadResult {
    this.o.metrics?.sourceErrorsTotal.inc({ source: "vault" });
    const problem = `Vault refused ${err.message}`;
    if (entry.problem !== problem) this.log.error({ path: entry.path, status: err.status, kept_last_value: entry.data !== undefined }, `vault: ${problem}`);
    entry.problem = problem;
    entry.answered = true;
    return "answered";
  }

  private unreachable(entry: SecretEntry, err: Error): ReadResult {
    this.o.metrics?.sourceErrorsTotal.inc({ source: "vault" });
    entry.problem = entry.data ? undefined : `not read yet: ${err.message}`;
    this.noteOutage(err, entry.path);
    return "transient";
  }

  /** The read could not go on because the token check or the new login failed (already logged and counted); retried with backoff. */
  private blocked(entry: SecretEntry, err: Error): ReadResult {
    if (err instanceof TransientError) this.noteOutage(err, entry.path);
    if (!entry.data) entry.problem = `not read yet: ${err.message}`;
    return "transient";
  }

  /** True when Vault refuses the token itself (lookup-self 403). @throws the lookup's error when Vault cannot be reached */
  private async tokenRefused(): Promise<boolean> {
    try {
      await this.call(() => this.client.tokenLookupSelf({ requestOptions: { timeout: this.timeoutMs } }));
      return false;
    } catch (raw) {
      const err = vaultCallError(raw, "GET auth/token/lookup-self");
      if (hasStatus(err, 403)) return true;
      throw err;
    }
  }

  // ── the token ──

  private async ensureToken(): Promise<void> {
    const t = this.token;
    if (t && (t.expiresAt === undefined || this.clock.now() < t.expiresAt)) return;
    await this.relogin(t ? "the token expired" : undefined);
  }

  /** One login at a time; callers arriving during one share it. @throws what the login threw */
  private relogin(reason: string | undefined): Promise<void> {
    if (!this.loginInFlight) {
      this.loginInFlight = this.login(reason).finally(() => {
        this.loginInFlight = undefined;
      });
    }
    return this.loginInFlight;
  }

  private async login(reason: string | undefined): Promise<void> {
    const sentAt = this.clock.now();
    let next: TokenState;
    try {
      next = this.o.auth.method === "approle" ? await this.loginAppRole(this.o.auth) : await this.loginToken(this.o.auth.token, sentAt);
    } catch (err) {
      this.loginFailed(err as Error);
      throw err;
    }
    this.token = next;
    this.tokenFailures = 0;
    if (this.loginProblem) this.log.info("vault: login works again");
    this.loginProblem = undefined;
    this.reachable();
    const fields = { method: this.o.auth.method, ttl_s: next.fullTtlMs / 1000, renewable: next.renewable };
    this.log.info(reason ? { ...fields, reason } : fields, reason ? "vault: logged in again" : "vault: logged in");
    this.scheduleToken(sentAt, next.expiresAt === undefined ? 0 : next.expiresAt - sentAt);
  }

  private async loginAppRole(auth: Extract<VaultAuth, { method: "approle" }>): Promise<TokenState> {
    const roleId = await this.credential(auth.roleId);
    const secretId = await this.credential(auth.secretId);
    const sentAt = this.clock.now();
    let body: unknown;
    try {
      body = await this.call(() =>
        this.client.approleLogin({ mount_point: auth.mount, role_id: roleId, secret_id: secretId, requestOptions: { timeout: this.timeoutMs } }),
        // A repeated login would spend another use of a secret id that may have few.
        false,
      );
    } catch (raw) {
      const err = vaultCallError(raw, `POST auth/${auth.mount}/login`);
      if (err instanceof HttpStatusError && (err.status === 400 || err.status === 403)) {
        throw new InvalidInputError(
          `Vault refused the AppRole login at auth/${auth.mount}/login (${err.status} ${vaultText(err)}): check the role id (${auth.roleId.where}) and that the secret id (${auth.secretId.where}) is current`,
          { field: auth.secretId.field, endpoint: `POST auth/${auth.mount}/login` },
        );
      }
      throw err;
    }
    const a = authReply.parse(body).auth;
    addSecret(a.client_token);
    this.client.token = a.client_token;
    const ttlMs = a.lease_duration * 1000;
    return { id: a.client_token, fullTtlMs: ttlMs, expiresAt: ttlMs > 0 ? sentAt + ttlMs : undefined, renewable: a.renewable, capped: false };
  }

  private async loginToken(source: CredentialSource, sentAt: number): Promise<TokenState> {
    const id = await this.credential(source);
    const previous = this.client.token;
    this.client.token = id;
    let body: unknown;
    try {
      body = await this.call(() => this.client.tokenLookupSelf({ requestOptions: { timeout: this.timeoutMs } }));
    } catch (raw) {
      // The token in use stays until a new one is known to work.
      this.client.token = previous;
      const err = vaultCallError(raw, "GET auth/token/lookup-self");
      if (!hasStatus(err, 403)) throw err;
      throw new InvalidInputError(`Vault refused the token from ${source.where} (403 permission denied): it expired or was revoked; give Steward a new one`, {
        field: source.field,
        endpoint: "GET auth/token/lookup-self",
      });
    }
    const d = lookupReply.parse(body).data;
    const ttlMs = d.ttl * 1000;
    const same = this.token?.id === id;
    return {
      id,
      fullTtlMs: (d.creation_ttl ?? d.ttl) * 1000,
      expiresAt: ttlMs > 0 ? sentAt + ttlMs : undefined,
      renewable: d.renewable ?? ttlMs > 0,
      // The same token read again cannot be renewed past where it already was cut.
      capped: same ? (this.token?.capped ?? false) : false,
    };
  }

  /** Reads a login credential and registers it with the scrubber. @throws InvalidInputError naming the config field when it is unset or unreadable */
  private async credential(source: CredentialSource): Promise<string> {
    let value: string | undefined;
    try {
      value = await source.read();
    } catch (err) {
      throw new InvalidInputError(`cannot read ${source.where}: ${(err as Error).message}`, { field: source.field }, undefined, { cause: err });
    }
    if (!value) throw new InvalidInputError(`${source.where} is not set`, { field: source.field });
    addSecret(value);
    return value;
  }

  private loginFailed(err: Error): void {
    this.o.metrics?.sourceErrorsTotal.inc({ source: "vault" });
    if (err instanceof TransientError) {
      this.noteOutage(err, "auth");
      return;
    }
    const message = err instanceof InvalidInputError ? `${err.context.field ? `${err.context.field}: ` : ""}${err.message}` : err.message;
    if (this.loginProblem !== message) this.log.error({ method: this.o.auth.method, endpoint: (err as { context?: { endpoint?: string } }).context?.endpoint }, `vault: login failed: ${message}`);
    this.loginProblem = message;
  }

  /** Sets the token timer: renew (or log in again) at renewFraction of the grant of `grantedMs` sent at `sentAt`. */
  private scheduleToken(sentAt: number, grantedMs: number): void {
    this.tokenTimer?.cancel();
    this.tokenTimer = undefined;
    if (this.stopped || grantedMs <= 0) return;
    const at = sentAt + grantedMs * this.renewFraction;
    // Never sooner than the retry base: a token renewed to a few seconds must not turn this into a busy loop.
    const delay = Math.max(this.retryBaseMs, at - this.clock.now());
    this.tokenTimer = this.clock.setTimeout(() => this.track(this.onTokenTimer()), delay);
  }

  private async onTokenTimer(): Promise<void> {
    const t = this.token;
    if (!t || this.stopped) return;
    if (!t.renewable || t.capped) {
      await this.reloginOrRetry(t.capped ? "the token nears its max TTL" : "the token is not renewable");
      return;
    }
    const sentAt = this.clock.now();
    try {
      const body = await this.call(() => this.client.tokenRenewSelf({ requestOptions: { timeout: this.timeoutMs } }));
      this.renewed(t, sentAt, authReply.parse(body).auth);
    } catch (raw) {
      const err = raw instanceof z.ZodError ? raw : vaultCallError(raw, "POST auth/token/renew-self");
      if (err instanceof TransientError && t.expiresAt !== undefined && this.clock.now() < t.expiresAt) {
        this.o.metrics?.sourceErrorsTotal.inc({ source: "vault" });
        this.noteOutage(err, "auth/token/renew-self");
        this.retryToken(t.expiresAt);
        return;
      }
      await this.reloginOrRetry(`renewal failed: ${err.message}`);
    }
  }

  private renewed(t: TokenState, sentAt: number, auth: z.infer<typeof authReply>["auth"]): void {
    const grantedMs = auth.lease_duration * 1000;
    // Vault grants whole seconds; a grant a second or more short of the full TTL was cut by the max TTL.
    const capped = grantedMs + 1000 <= t.fullTtlMs;
    this.token = { ...t, expiresAt: sentAt + grantedMs, renewable: auth.renewable, capped };
    this.tokenFailures = 0;
    this.reachable();
    this.log.debug({ ttl_s: auth.lease_duration, capped }, "vault: token renewed");
    this.scheduleToken(sentAt, grantedMs);
  }

  private async reloginOrRetry(reason: string): Promise<void> {
    try {
      await this.relogin(reason);
    } catch {
      // relogin has logged why; the old token is kept (it may still work) and the login retried with backoff.
      this.retryToken(this.token?.expiresAt);
    }
  }

  /** Tries the token step again after backoff, but before `expiresAt` when that is sooner. */
  private retryToken(expiresAt: number | undefined): void {
    if (this.stopped) return;
    this.tokenTimer?.cancel();
    let delay = this.backoff(++this.tokenFailures);
    if (expiresAt !== undefined && expiresAt > this.clock.now()) delay = Math.min(delay, Math.max(this.retryBaseMs, (expiresAt - this.clock.now()) / 2));
    this.tokenTimer = this.clock.setTimeout(() => this.track(this.onTokenTimer()), delay);
  }

  // ── bookkeeping ──

  /**
   * One node-vault call, counted in `steward_api_requests_total{target="vault"}`;
   * rejects with what node-vault rejected with. A call safe to repeat is sent
   * once more at once when its connection was reset: a keep-alive connection
   * the server closed as the request left (Go's net/http retries the same
   * way). Every other failure goes to the source's own backoff.
   */
  private async call(fn: () => Promise<unknown>, repeatable = true): Promise<unknown> {
    try {
      return await this.attempt(fn);
    } catch (raw) {
      if (!repeatable || codeOfError(raw) !== "ECONNRESET" || this.stopped) throw raw;
      this.log.debug({ err: (raw as Error).message }, "vault: connection reset; sending the call again");
      return this.attempt(fn);
    }
  }

  private async attempt(fn: () => Promise<unknown>): Promise<unknown> {
    const started = performance.now();
    let code = "200";
    try {
      return await fn();
    } catch (raw) {
      code = vaultResponseCode(raw);
      throw raw;
    } finally {
      this.o.metrics?.apiRequestsTotal.inc({ target: "vault", code });
      this.o.metrics?.apiRequestDuration.observe({ target: "vault" }, (performance.now() - started) / 1000);
    }
  }

  private noteOutage(err: Error, what: string): void {
    if (this.unreachableSince === undefined) {
      this.unreachableSince = this.clock.now();
      const cached = [...this.secrets.values()].filter((e) => e.data).length;
      this.log.warn({ err: err.message, path: what, cached_secrets: cached }, "vault: unreachable; keeping the last good values and the token, retrying with backoff");
    } else {
      this.log.debug({ err: err.message, path: what }, "vault: still unreachable");
    }
  }

  private reachable(): void {
    if (this.unreachableSince === undefined) return;
    this.log.info({ outage_ms: this.clock.now() - this.unreachableSince }, "vault: reachable again");
    this.unreachableSince = undefined;
  }

  private checkReady(): void {
    if (this.isReady || !this.token) return;
    if ([...this.secrets.values()].some((e) => !e.answered)) return;
    this.isReady = true;
    for (const w of this.readyWaiters.splice(0)) w();
  }

  /** Moves the next read round to `ms` from now, unless one is already due sooner. */
  private scheduleRead(ms: number): void {
    if (this.stopped) return;
    const at = this.clock.now() + ms;
    if (this.readTimer && this.readTimer.at <= at) return;
    this.readTimer?.timer.cancel();
    this.readTimer = { at, timer: this.clock.setTimeout(() => this.track(this.refreshAll()), ms) };
  }

  private backoff(failures: number): number {
    return Math.max(this.retryBaseMs, fullJitterBackoff(failures - 1, this.retryBaseMs * 2, this.retryCapMs, this.random));
  }

  private track(p: Promise<void>): void {
    const q = p.catch((err: unknown) => this.log.error({ err: (err as Error).message }, "vault: unexpected failure"));
    this.inflight.add(q);
    void q.finally(() => this.inflight.delete(q));
  }
}

/** Vault's own text of an error (after `endpoint: status`). */
function vaultText(err: HttpStatusError): string {
  return err.message.replace(/^[^:]*: \d+ ?/, "") || "no reason given";
}

function codeOfError(raw: unknown): string | undefined {
  const code = (raw as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

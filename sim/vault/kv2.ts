import type { Clock } from "../core/clock.js";
import type { SimReply } from "../core/http.js";
import { formatGoDuration, rfc3339 } from "./durations.js";
import {
  boolField,
  durationField,
  intField,
  isError,
  stringListField,
  stringMapField,
  firstError,
} from "./fields.js";
import { envelope, errors, json, noContent } from "./reply.js";
import type { Mount, VaultRequest, VaultRoute } from "./routes.js";

/** Versions a key keeps when neither the key nor the mount sets max_versions. */
const DEFAULT_MAX_VERSIONS = 10;

interface Version {
  createdMs: number;
  /** When the version is (or will be) soft-deleted; a future time comes from delete_version_after. */
  deletionMs: number | null;
  destroyed: boolean;
  data: Record<string, unknown> | null;
}

interface KeyMetadata {
  createdMs: number;
  updatedMs: number;
  currentVersion: number;
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfterS: number;
  customMetadata: Record<string, string> | null;
  versions: Map<number, Version>;
}

/** Seedable key metadata (see `KvV2Engine.setMetadata`). */
export interface KeyMetadataSeed {
  maxVersions?: number;
  casRequired?: boolean;
  deleteVersionAfterS?: number;
  customMetadata?: Record<string, string>;
}

/** The mount's `config` endpoint. */
export interface KvConfig {
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfterS: number;
}

/**
 * One KV version 2 secrets engine (vault-plugin-secrets-kv), mounted at
 * `path`: versioned data with check-and-set, JSON merge patch, soft delete,
 * undelete and destroy, key metadata with custom_metadata, max_versions and
 * delete_version_after, listing, and the mount config. Times come from the
 * sim clock, so delete_version_after runs in sim time.
 */
export class KvV2Engine {
  readonly config: KvConfig = { maxVersions: 0, casRequired: false, deleteVersionAfterS: 0 };
  private readonly keys = new Map<string, KeyMetadata>();

  constructor(
    readonly path: string,
    private readonly clock: Clock,
  ) {}

  /** Writes a new version (as a POST to data/ with no cas would) and returns its number. */
  put(key: string, data: Record<string, unknown>): number {
    const meta = this.keys.get(key) ?? this.newMetadata();
    this.keys.set(key, meta);
    return this.addVersion(meta, structuredClone(data)).version;
  }

  /** Sets key metadata (creating a metadata-only key), as a metadata write would. */
  setMetadata(key: string, fields: KeyMetadataSeed): void {
    const meta = this.keys.get(key) ?? this.newMetadata();
    this.keys.set(key, meta);
    if (fields.maxVersions !== undefined) meta.maxVersions = fields.maxVersions;
    if (fields.casRequired !== undefined) meta.casRequired = fields.casRequired;
    if (fields.deleteVersionAfterS !== undefined) meta.deleteVersionAfterS = fields.deleteVersionAfterS;
    if (fields.customMetadata !== undefined) meta.customMetadata = { ...fields.customMetadata };
  }

  /** The data of the latest live version, or undefined. For tests and the demo. */
  get(key: string): Record<string, unknown> | undefined {
    const meta = this.keys.get(key);
    const v = meta?.versions.get(meta.currentVersion);
    if (!v || this.isGone(v)) return undefined;
    return structuredClone(v.data ?? undefined);
  }

  mount(): Mount {
    return { path: this.path, type: "kv", routes: this.routes() };
  }

  private routes(): VaultRoute[] {
    const exists = (m: RegExpExecArray): boolean => this.keys.has(m[1] ?? "");
    return [
      { pattern: /^config$/, read: (r) => this.readConfig(r), write: (r) => this.writeConfig(r) },
      {
        pattern: /^data\/(.*[^/])$/,
        read: (r) => this.readData(r),
        write: (r) => this.writeData(r),
        patch: (r) => this.patchData(r),
        delete: (r) => this.deleteLatest(r),
        exists,
      },
      {
        pattern: /^metadata\/(.*)$/,
        read: (r) => this.readMetadata(r),
        list: (r) => this.listMetadata(r),
        write: (r) => this.writeMetadata(r),
        patch: (r) => this.patchMetadata(r),
        delete: (r) => this.deleteMetadata(r),
        exists,
      },
      { pattern: /^delete\/(.*[^/])$/, write: (r) => this.changeVersions(r, "delete") },
      { pattern: /^undelete\/(.*[^/])$/, write: (r) => this.changeVersions(r, "undelete") },
      { pattern: /^destroy\/(.*[^/])$/, write: (r) => this.changeVersions(r, "destroy") },
      // KV v1-style paths on a v2 mount: 404 with a hint, as the plugin's catch-all path does.
      { pattern: /^.*$/, read: invalidPath("get"), list: invalidPath("list"), write: invalidPath("put"), delete: invalidPath("delete") },
    ];
  }

  // ---- config ----

  private readConfig(req: VaultRequest): SimReply {
    return json(
      envelope(req.requestId, req.mountType, {
        data: {
          cas_required: this.config.casRequired,
          delete_version_after: formatGoDuration(this.config.deleteVersionAfterS),
          max_versions: this.config.maxVersions,
        },
      }),
    );
  }

  private writeConfig(req: VaultRequest): SimReply {
    const max = intField(req.data, "max_versions");
    const cas = boolField(req.data, "cas_required");
    const dva = durationField(req.data, "delete_version_after");
    const bad = firstError(max, cas, dva);
    if (bad) return errors(400, [bad]);
    if (typeof dva === "number" && dva < 0) return errors(400, ["delete_version_after cannot be negative"]);
    if (typeof max === "number") this.config.maxVersions = Math.max(0, max);
    if (typeof cas === "boolean") this.config.casRequired = cas;
    if (typeof dva === "number") this.config.deleteVersionAfterS = dva;
    return noContent();
  }

  // ---- data ----

  private readData(req: VaultRequest): SimReply {
    const meta = this.keys.get(req.match[1] ?? "");
    if (!meta) return errors(404);
    const wanted = intField(req.data, "version");
    if (isError(wanted)) return errors(400, [wanted.error]);
    const number = wanted && wanted > 0 ? wanted : meta.currentVersion;
    const v = meta.versions.get(number);
    if (!v) return errors(404);
    const body = envelope(req.requestId, req.mountType, {
      data: { data: null, metadata: versionMetadata(v, number, meta) },
    });
    // A deleted or destroyed version answers 404 with its metadata, not an empty error.
    if (this.isGone(v)) return json(body, 404);
    (body.data as Record<string, unknown>).data = structuredClone(v.data);
    return json(body);
  }

  private writeData(req: VaultRequest): SimReply {
    const key = req.match[1] ?? "";
    const data = req.data.data;
    if (data === undefined || data === null) return errors(400, ["no data provided"]);
    if (typeof data !== "object" || Array.isArray(data)) {
      return errors(400, [`error converting input ${JSON.stringify(data)} for field "data": '' expected a map, got '${goKind(data)}'`]);
    }
    const meta = this.keys.get(key) ?? this.newMetadata();
    const casError = this.checkCas(req.data, meta);
    if (casError) return errors(400, [casError]);
    this.keys.set(key, meta);
    const { version, v } = this.addVersion(meta, structuredClone(data as Record<string, unknown>));
    return json(envelope(req.requestId, req.mountType, { data: versionMetadata(v, version, meta) }));
  }

  private patchData(req: VaultRequest): SimReply {
    const key = req.match[1] ?? "";
    const patch = req.data.data;
    if (patch === undefined || patch === null) return errors(400, ["no data provided"]);
    const meta = this.keys.get(key);
    if (!meta) return rawNotFound();
    const casError = this.checkCas(req.data, meta);
    if (casError) return errors(400, [casError]);
    const current = meta.versions.get(meta.currentVersion);
    if (!current) return rawNotFound();
    if (this.isGone(current)) {
      return json(envelope(req.requestId, req.mountType, { data: versionMetadata(current, meta.currentVersion, meta) }), 404);
    }
    if (typeof patch !== "object" || Array.isArray(patch)) return errors(400, ["no data provided"]);
    const merged = mergePatch(structuredClone(current.data ?? {}), patch) as Record<string, unknown>;
    const { version, v } = this.addVersion(meta, merged);
    return json(envelope(req.requestId, req.mountType, { data: versionMetadata(v, version, meta) }));
  }

  private deleteLatest(req: VaultRequest): SimReply {
    const meta = this.keys.get(req.match[1] ?? "");
    const latest = meta?.versions.get(meta.currentVersion);
    if (latest && !this.isGone(latest)) latest.deletionMs = this.clock.now();
    return noContent();
  }

  private changeVersions(req: VaultRequest, action: "delete" | "undelete" | "destroy"): SimReply {
    const versions = stringListField(req.data, "versions");
    if (isError(versions)) return errors(400, [versions.error]);
    const numbers = (versions ?? []).map(Number).filter((n) => Number.isInteger(n));
    if (numbers.length === 0) return errors(400, ["no version number provided"]);
    const meta = this.keys.get(req.match[1] ?? "");
    for (const n of numbers) {
      const v = meta?.versions.get(n);
      if (!v) continue;
      if (action === "destroy") {
        v.destroyed = true;
        v.data = null;
      } else if (action === "undelete") {
        if (!v.destroyed) v.deletionMs = null;
      } else if (!v.destroyed && !this.isDeleted(v)) {
        v.deletionMs = this.clock.now();
      }
    }
    return noContent();
  }

  // ---- metadata ----

  private readMetadata(req: VaultRequest): SimReply {
    const meta = this.keys.get(req.match[1] ?? "");
    if (!meta) return errors(404);
    const versions: Record<string, unknown> = {};
    for (const [n, v] of meta.versions) {
      versions[String(n)] = {
        created_time: rfc3339(v.createdMs),
        deletion_time: v.deletionMs === null ? "" : rfc3339(v.deletionMs),
        destroyed: v.destroyed,
      };
    }
    return json(
      envelope(req.requestId, req.mountType, {
        data: {
          cas_required: meta.casRequired,
          created_time: rfc3339(meta.createdMs),
          current_version: meta.currentVersion,
          custom_metadata: meta.customMetadata,
          delete_version_after: formatGoDuration(meta.deleteVersionAfterS),
          max_versions: meta.maxVersions,
          oldest_version: meta.oldestVersion,
          updated_time: rfc3339(meta.updatedMs),
          versions,
        },
      }),
    );
  }

  private listMetadata(req: VaultRequest): SimReply {
    const prefix = req.match[1] ?? "";
    const children = new Set<string>();
    for (const key of this.keys.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      children.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    children.delete("");
    if (children.size === 0) return errors(404);
    return json(envelope(req.requestId, req.mountType, { data: { keys: [...children].sort() } }));
  }

  private writeMetadata(req: VaultRequest): SimReply {
    const key = req.match[1] ?? "";
    if (key === "") return errors(400, ["missing path"]);
    const parsed = parseMetadataFields(req.data);
    if ("error" in parsed) return errors(400, [parsed.error]);
    if (Object.keys(parsed).length === 0) return noContent();
    const meta = this.keys.get(key) ?? this.newMetadata();
    this.keys.set(key, meta);
    if (parsed.maxVersions !== undefined) meta.maxVersions = parsed.maxVersions;
    if (parsed.casRequired !== undefined) meta.casRequired = parsed.casRequired;
    if (parsed.deleteVersionAfterS !== undefined) meta.deleteVersionAfterS = parsed.deleteVersionAfterS;
    if (parsed.customMetadata !== undefined) meta.customMetadata = parsed.customMetadata;
    return this.casRequiredWarning(req, parsed.casRequired);
  }

  private patchMetadata(req: VaultRequest): SimReply {
    const meta = this.keys.get(req.match[1] ?? "");
    if (!meta) return rawNotFound();
    const raw = req.data.custom_metadata;
    const parsed = parseMetadataFields({ ...req.data, custom_metadata: undefined });
    if ("error" in parsed) return errors(400, [parsed.error]);
    if (raw !== undefined && raw !== null) {
      if (typeof raw !== "object" || Array.isArray(raw)) return errors(400, ["custom_metadata validation failed: expected a map"]);
      const merged = mergePatch({ ...(meta.customMetadata ?? {}) }, raw) as Record<string, unknown>;
      const custom = stringMapField({ custom_metadata: merged }, "custom_metadata");
      if (isError(custom)) return errors(400, [custom.error]);
      const invalid = validateCustomMetadata(custom ?? {});
      if (invalid) return errors(400, [invalid]);
      meta.customMetadata = custom && Object.keys(custom).length > 0 ? custom : null;
    }
    if (parsed.maxVersions !== undefined) meta.maxVersions = parsed.maxVersions;
    if (parsed.casRequired !== undefined) meta.casRequired = parsed.casRequired;
    if (parsed.deleteVersionAfterS !== undefined) meta.deleteVersionAfterS = parsed.deleteVersionAfterS;
    return this.casRequiredWarning(req, parsed.casRequired);
  }

  private deleteMetadata(req: VaultRequest): SimReply {
    this.keys.delete(req.match[1] ?? "");
    return noContent();
  }

  private casRequiredWarning(req: VaultRequest, casRequired: boolean | undefined): SimReply {
    if (casRequired === false && this.config.casRequired) {
      return json(
        envelope(req.requestId, req.mountType, {
          warnings: ['"cas_required" set to false, but is mandated by backend config. This value will be ignored.'],
        }),
      );
    }
    return noContent();
  }

  // ---- helpers ----

  private newMetadata(): KeyMetadata {
    const now = this.clock.now();
    return {
      createdMs: now,
      updatedMs: now,
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      deleteVersionAfterS: 0,
      customMetadata: null,
      versions: new Map(),
    };
  }

  /** validateCheckAndSetOption of path_data.go: cas must equal the current version (0 = must not exist). */
  private checkCas(data: Record<string, unknown>, meta: KeyMetadata): string | undefined {
    const options = data.options;
    const hasCas = typeof options === "object" && options !== null && !Array.isArray(options) && "cas" in options;
    if (hasCas) {
      const cas = intField(options, "cas");
      if (cas === undefined || isError(cas)) return "error parsing check-and-set parameter";
      if (cas !== meta.currentVersion) return "check-and-set parameter did not match the current version";
      return undefined;
    }
    if (this.config.casRequired || meta.casRequired) return "check-and-set parameter required for this call";
    return undefined;
  }

  /** KeyMetadata.AddVersion: a new current version, then the sliding window of max_versions. */
  private addVersion(meta: KeyMetadata, data: Record<string, unknown>): { version: number; v: Version } {
    const now = this.clock.now();
    const dva = [this.config.deleteVersionAfterS, meta.deleteVersionAfterS].filter((s) => s > 0);
    const v: Version = {
      createdMs: now,
      deletionMs: dva.length > 0 ? now + Math.min(...dva) * 1000 : null,
      destroyed: false,
      data,
    };
    meta.currentVersion++;
    meta.versions.set(meta.currentVersion, v);
    meta.updatedMs = now;
    const max = Math.max(meta.maxVersions, this.config.maxVersions) || DEFAULT_MAX_VERSIONS;
    if (meta.currentVersion - meta.oldestVersion >= max) {
      const drop = meta.currentVersion - max;
      for (let i = meta.oldestVersion; i <= drop; i++) meta.versions.delete(i);
      meta.oldestVersion = drop + 1;
    }
    return { version: meta.currentVersion, v };
  }

  private isDeleted(v: Version): boolean {
    return v.deletionMs !== null && v.deletionMs <= this.clock.now();
  }

  private isGone(v: Version): boolean {
    return v.destroyed || this.isDeleted(v);
  }
}

function versionMetadata(v: Version, version: number, meta: KeyMetadata): Record<string, unknown> {
  return {
    created_time: rfc3339(v.createdMs),
    custom_metadata: meta.customMetadata,
    deletion_time: v.deletionMs === null ? "" : rfc3339(v.deletionMs),
    destroyed: v.destroyed,
    version,
  };
}

function invalidPath(command: string): (req: VaultRequest) => SimReply {
  return (req) =>
    json(
      envelope(req.requestId, "", {
        warnings: [
          `Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv ${command}' for this operation.`,
        ],
      }),
      404,
    );
}

/** logical.RespondWithStatusCode(nil, req, 404): a 404 labelled JSON with no body at all. */
function rawNotFound(): SimReply {
  return { status: 404, headers: { "Cache-Control": "no-store", "Content-Type": "application/json" } };
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface MetadataFields {
  maxVersions?: number;
  casRequired?: boolean;
  deleteVersionAfterS?: number;
  customMetadata?: Record<string, string> | null;
}

function parseMetadataFields(data: Record<string, unknown>): MetadataFields | { error: string } {
  const max = intField(data, "max_versions");
  const cas = boolField(data, "cas_required");
  const dva = durationField(data, "delete_version_after");
  const custom = stringMapField(data, "custom_metadata");
  const bad = firstError(max, cas, dva, custom);
  if (bad) return { error: bad };
  if (typeof dva === "number" && dva < 0) return { error: "delete_version_after cannot be negative" };
  const out: MetadataFields = {};
  if (typeof max === "number") out.maxVersions = Math.max(0, max);
  if (typeof cas === "boolean") out.casRequired = cas;
  if (typeof dva === "number") out.deleteVersionAfterS = dva;
  if (custom !== undefined && !isError(custom)) {
    const invalid = validateCustomMetadata(custom);
    if (invalid) return { error: invalid };
    out.customMetadata = Object.keys(custom).length > 0 ? custom : null;
  }
  return out;
}

/** The plugin's custom_metadata limits: at most 64 keys, keys ≤ 128 and values ≤ 512 bytes, both non-empty. */
function validateCustomMetadata(custom: Record<string, string>): string | undefined {
  const prefix = "custom_metadata validation failed";
  const entries = Object.entries(custom);
  if (entries.length > 64) return `${prefix}: payload must contain at most 64 keys, provided ${entries.length}`;
  const problems: string[] = [];
  for (const [k, v] of entries) {
    const kl = Buffer.byteLength(k);
    const vl = Buffer.byteLength(v);
    if (kl === 0 || kl > 128) problems.push(`${prefix}: length of key ${JSON.stringify(k)} is ${kl} but must be 0 < len(key) <= 128`);
    if (vl === 0 || vl > 512) {
      problems.push(`${prefix}: length of value for key ${JSON.stringify(k)} is ${vl} but must be 0 < len(value) <= 512`);
    }
  }
  if (problems.length === 0) return undefined;
  return `${problems.length} error${problems.length === 1 ? "" : "s"} occurred:\n${problems.map((p) => `\t* ${p}`).join("\n")}\n\n`;
}

function goKind(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "float64";
  if (typeof v === "boolean") return "bool";
  return "slice";
}

import type { SimReply } from "../core/http.js";
import { errorDetail, type Call, type RegistryContext } from "./context.js";
import { registryError, registryErrors } from "./errors.js";
import { acceptedFormats, parseManifest } from "./manifest-format.js";
import { parseDigest } from "./routes.js";
import type { Repository, StoredManifest } from "./store.js";

/** The platform a manifest list is resolved to for clients that do not accept lists. */
const DEFAULT_PLATFORM = { os: "linux", architecture: "amd64" };

/** A reference is a digest when go-digest parses it; anything else the router let through is a tag. */
function splitReference(reference: string): { tag?: string; digest?: string } {
  return parseDigest(reference) ? { digest: reference } : { tag: reference };
}

/**
 * `GET`/`HEAD /v2/<name>/manifests/<reference>`, negotiated as distribution
 * does: an OCI manifest or index is only served to a client that accepts it
 * (404 otherwise); fetched by tag, a Docker schema 2 manifest needs its type
 * in Accept under 2.8 (which would rewrite it to schema 1, and cannot), and a
 * manifest list is replaced by its linux/amd64 entry for clients that do not
 * accept lists. By digest, the stored manifest is served as it is.
 */
export function getManifest(ctx: RegistryContext, call: Call, name: string, reference: string): SimReply {
  const repo = ctx.store.repository(name);
  const accepts = acceptedFormats(call.req.headers.accept);
  const { tag } = splitReference(reference);
  let digest = reference;
  if (tag !== undefined) {
    const tagged = repo?.tags.get(tag);
    if (tagged === undefined) return registryError("MANIFEST_UNKNOWN", errorDetail(ctx, { Tag: tag }, `unknown tag=${tag}`));
    digest = tagged;
  }
  if (etagMatch(call.req.headers["if-none-match"], digest)) return { status: 304 };
  const found = fetchManifest(ctx, call, repo, name, digest, tag);
  if ("reply" in found) return found.reply;
  let served = found.manifest;

  if (served.kind === "oci" && !accepts.oci) {
    return registryError("MANIFEST_UNKNOWN", undefined, "OCI manifest found, but accept header does not support OCI manifests");
  }
  if (served.kind === "index" && !accepts.index) {
    return registryError("MANIFEST_UNKNOWN", undefined, "OCI index found, but accept header does not support OCI indexes");
  }
  if (tag !== undefined && served.kind === "schema2" && !accepts.schema2 && ctx.compat === "2.8") {
    return schema1RewriteFails(ctx, call, name, served);
  }
  if (tag !== undefined && served.kind === "list" && !accepts.list) {
    const entry = served.entries.find((e) => e.os === DEFAULT_PLATFORM.os && e.architecture === DEFAULT_PLATFORM.architecture);
    if (!entry) return registryError("MANIFEST_UNKNOWN");
    const child = fetchManifest(ctx, call, repo, name, entry.digest, undefined);
    if ("reply" in child) return child.reply;
    if (child.manifest.kind === "schema2" && !accepts.schema2) {
      return ctx.compat === "3"
        ? registryError("MANIFEST_INVALID", undefined, "Schema 2 manifest not supported by client")
        : schema1RewriteFails(ctx, call, name, child.manifest);
    }
    served = child.manifest;
  }
  return {
    status: 200,
    headers: { "Docker-Content-Digest": served.digest, Etag: `"${served.digest}"` },
    contentType: served.mediaType,
    body: served.bytes,
  };
}

/**
 * 2.8 rewrites a schema 2 manifest to schema 1 for old clients: it reads the
 * config blob (a `pull` event), then fails, schema 1 being disabled.
 */
function schema1RewriteFails(ctx: RegistryContext, call: Call, name: string, m: StoredManifest): SimReply {
  const config = m.config === undefined ? undefined : ctx.store.blob(name, m.config);
  if (m.config !== undefined && config) {
    ctx.emit(call, "pull", {
      mediaType: "application/octet-stream",
      size: config.length,
      digest: m.config,
      length: config.length,
      repository: name,
      url: `${call.base}/v2/${name}/blobs/${m.config}`,
    });
  }
  return registryError("MANIFEST_INVALID", {});
}

/**
 * Loads a revision; like the reference server's notification bridge, a
 * successful load is a `pull` event even when negotiation then refuses it.
 */
function fetchManifest(
  ctx: RegistryContext,
  call: Call,
  repo: Repository | undefined,
  name: string,
  digest: string,
  tag: string | undefined,
): { manifest: StoredManifest } | { reply: SimReply } {
  const manifest = repo?.manifests.get(digest);
  if (!manifest) {
    // A layer blob's digest: the server finds the blob through its legacy
    // link fallback and then fails to read it as a manifest.
    if (repo?.layers.has(digest)) return { reply: registryError("UNKNOWN", errorDetail(ctx, {}, "invalid manifest")) };
    return {
      reply: registryError("MANIFEST_UNKNOWN", errorDetail(ctx, { Name: name, Revision: digest }, `unknown manifest name=${name} revision=${digest}`)),
    };
  }
  ctx.emit(call, "pull", manifestTarget(call, name, manifest, tag));
  return { manifest };
}

/**
 * `PUT /v2/<name>/manifests/<reference>`: the body's Content-Type picks the
 * format; the digest is the sha256 of the exact bytes (and must equal a
 * digest reference); every blob an image manifest names, and every manifest
 * an index names, must already be in this repository, else one
 * `MANIFEST_BLOB_UNKNOWN` per missing digest.
 */
export function putManifest(ctx: RegistryContext, call: Call, name: string, reference: string): SimReply {
  const { tag, digest } = splitReference(reference);
  const parsed = parseManifest(headerValue(call.req.headers["content-type"]), call.req.body);
  if ("reason" in parsed) return registryError("MANIFEST_INVALID", errorDetail(ctx, {}, parsed.reason));
  if (digest !== undefined && parsed.digest !== digest) return registryError("DIGEST_INVALID");
  if (parsed.schemaVersion !== 2) {
    return registryError("UNKNOWN", errorDetail(ctx, {}, `unrecognized manifest schema version ${String(parsed.schemaVersion)}`));
  }
  const repo = ctx.store.repository(name);
  const missing = [
    ...parsed.blobRefs.filter((d) => !repo?.layers.has(d)),
    ...parsed.manifestRefs.filter((d) => !repo?.manifests.has(d) && !repo?.layers.has(d)),
  ];
  if (missing.length > 0) return registryErrors(missing.map((d) => ({ code: "MANIFEST_BLOB_UNKNOWN" as const, detail: d })));

  const stored: StoredManifest = {
    digest: parsed.digest,
    kind: parsed.kind,
    mediaType: parsed.mediaType,
    bytes: Buffer.from(parsed.bytes),
    entries: parsed.entries,
    ...(parsed.blobRefs[0] === undefined ? {} : { config: parsed.blobRefs[0] }),
  };
  ctx.store.putManifest(name, stored, tag);
  ctx.emit(call, "push", manifestTarget(call, name, stored, tag));
  return {
    status: 201,
    headers: { "Docker-Content-Digest": stored.digest, Location: `${call.base}/v2/${name}/manifests/${stored.digest}` },
  };
}

/**
 * `DELETE /v2/<name>/manifests/<digest>` (when deletes are enabled): removes
 * the revision and every tag pointing at it (a `delete` event for the
 * digest, then one per tag). Distribution 2.8 cannot delete
 * by tag and answers `DIGEST_INVALID`; v3 removes just the tag.
 */
export function deleteManifest(ctx: RegistryContext, call: Call, name: string, reference: string): SimReply {
  if (!ctx.deleteEnabled) return registryError("UNSUPPORTED");
  const repo = ctx.store.repository(name);
  const { tag } = splitReference(reference);
  if (tag !== undefined) {
    if (ctx.compat === "2.8") return registryError("DIGEST_INVALID");
    if (!repo?.tags.delete(tag)) return registryError("MANIFEST_UNKNOWN", `unknown tag=${tag}`);
    return { status: 202 };
  }
  const manifest = repo?.manifests.get(reference);
  if (!repo || !manifest) return registryError("MANIFEST_UNKNOWN");
  repo.manifests.delete(reference);
  ctx.emit(call, "delete", { digest: reference, repository: name });
  for (const t of repo.tagsOf(reference)) {
    repo.tags.delete(t);
    ctx.emit(call, "delete", { repository: name, tag: t });
  }
  return { status: 202 };
}

function manifestTarget(call: Call, name: string, m: StoredManifest, tag: string | undefined): Parameters<RegistryContext["emit"]>[2] {
  return {
    mediaType: m.mediaType,
    size: m.bytes.length,
    digest: m.digest,
    length: m.bytes.length,
    repository: name,
    url: `${call.base}/v2/${name}/manifests/${m.digest}`,
    ...(tag === undefined ? {} : { tag }),
  };
}

/** If-None-Match against the digest, quoted or not (distribution's etagMatch). */
function etagMatch(header: string | string[] | undefined, digest: string): boolean {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.some((v) => v === digest || v === `"${digest}"`);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

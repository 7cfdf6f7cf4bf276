import type { SimReply } from "../core/http.js";
import { errorDetail, type Call, type RegistryContext } from "./context.js";
import { registryError } from "./errors.js";
import { digestOf, isName, parseDigest } from "./routes.js";
import type { UploadSession } from "./store.js";

const BLOB_TYPE = "application/octet-stream";

/** Why a digest in a blob URL is refused, in go-digest's words. */
function digestProblem(s: string): string {
  const i = s.indexOf(":");
  const algorithm = s.slice(0, i);
  if (!["sha256", "sha384", "sha512"].includes(algorithm)) return "unsupported digest algorithm";
  return /^[a-f0-9]*$/.test(s.slice(i + 1)) ? "invalid checksum digest length" : "invalid checksum digest format";
}

/**
 * `GET`/`HEAD /v2/<name>/blobs/<digest>`: a blob linked into this repository
 * (blobs of other repositories and manifests are not), served like Go's
 * http.ServeContent: Etag, If-None-Match, and one byte range.
 */
export function getBlob(ctx: RegistryContext, call: Call, name: string, digest: string): SimReply {
  if (!parseDigest(digest)) return registryError("DIGEST_INVALID", errorDetail(ctx, {}, digestProblem(digest)));
  const bytes = ctx.store.blob(name, digest);
  if (!bytes) return registryError("BLOB_UNKNOWN", digest);
  ctx.emit(call, "pull", blobTarget(call, name, digest, bytes.length));
  const cached: Record<string, string> = { "Cache-Control": "max-age=31536000", "Docker-Content-Digest": digest, Etag: `"${digest}"` };
  const inm = call.req.headers["if-none-match"];
  if (inm === `"${digest}"` || inm === "*") return { status: 304, headers: cached };
  const headers = { ...cached, "Accept-Ranges": "bytes" };
  const range = parseRange(call.req.headers.range, bytes.length);
  if (range === "unsatisfiable") {
    return { status: 416, headers: { ...headers, "Content-Range": `bytes */${bytes.length}` }, body: "invalid range: failed to overlap\n" };
  }
  if (range) {
    return {
      status: 206,
      headers: { ...headers, "Content-Range": `bytes ${range.start}-${range.end}/${bytes.length}` },
      contentType: BLOB_TYPE,
      body: bytes.subarray(range.start, range.end + 1),
    };
  }
  return { status: 200, headers, contentType: BLOB_TYPE, body: bytes };
}

/** One `bytes=` range; several ranges or a malformed header serve the whole blob. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? "");
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size || end < start) return "unsatisfiable";
  }
  return { start, end };
}

/** `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from the repository (when deletes are enabled). */
export function deleteBlob(ctx: RegistryContext, call: Call, name: string, digest: string): SimReply {
  if (!ctx.deleteEnabled) return registryError("UNSUPPORTED");
  if (!parseDigest(digest)) return registryError("DIGEST_INVALID", errorDetail(ctx, {}, digestProblem(digest)));
  const repo = ctx.store.repository(name);
  if (!repo?.layers.delete(digest)) return registryError("BLOB_UNKNOWN");
  ctx.emit(call, "delete", { digest, repository: name });
  return { status: 202 };
}

/**
 * `POST /v2/<name>/blobs/uploads/`: a cross-repository mount when `mount` and
 * `from` name a blob of another repository (201), else a new upload session
 * (202). Like distribution, a `?digest=` single-POST upload is not taken: the
 * body is dropped and a session is opened, which the OCI spec allows.
 */
export function startUpload(ctx: RegistryContext, call: Call, name: string): SimReply {
  const q = call.req.query;
  const mount = q.get("mount");
  const from = q.get("from");
  if (mount && from && parseDigest(mount) && isName(from)) {
    const bytes = ctx.store.blob(from, mount);
    if (bytes) {
      ctx.store.linkBlob(name, mount, bytes);
      ctx.emit(call, "mount", { ...blobTarget(call, name, mount, bytes.length), fromRepository: from });
      return { status: 201, headers: { "Docker-Content-Digest": mount, Location: blobUrl(call, name, mount) } };
    }
  }
  const session: UploadSession = { uuid: ctx.uuid(), repository: name, chunks: [], size: 0, startedAt: new Date().toISOString() };
  ctx.store.ensureRepository(name);
  ctx.store.uploads.set(session.uuid, session);
  return { status: 202, headers: uploadHeaders(call, session) };
}

/**
 * `GET`/`HEAD`/`PATCH`/`PUT`/`DELETE /v2/<name>/blobs/uploads/<uuid>`. The
 * `_state` of the last Location must come back: without it, or with an offset
 * the session has moved past, the upload is `BLOB_UPLOAD_INVALID`, and so is
 * every later request after a commit with the wrong digest. PUT needs
 * `?digest=`; the blob's digest is computed over every byte received.
 */
export function continueUpload(ctx: RegistryContext, call: Call, name: string, uuid: string): SimReply {
  const { req } = call;
  if (req.method === "POST") return registryError("BLOB_UPLOAD_INVALID", errorDetail(ctx, {}, "invalid upload state"));
  const state = decodeState(req.query.get("_state"));
  if (!state || state.Name !== name || state.UUID !== uuid) return registryError("BLOB_UPLOAD_INVALID", errorDetail(ctx, {}, "invalid upload state"));
  const session = ctx.store.uploads.get(uuid);
  if (!session || session.repository !== name) return registryError("BLOB_UPLOAD_UNKNOWN", errorDetail(ctx, {}, "blob upload unknown"));
  if (session.failed || state.Offset !== session.size) return registryError("BLOB_UPLOAD_INVALID", errorDetail(ctx, undefined, "upload resumed at wrong offset"));

  switch (req.method) {
    case "GET":
    case "HEAD":
      return { status: 204, headers: uploadHeaders(call, session) };
    case "DELETE":
      ctx.store.uploads.delete(uuid);
      return { status: 204, headers: { "Docker-Upload-Uuid": uuid } };
    case "PATCH":
      append(session, req.body);
      return { status: 202, headers: uploadHeaders(call, session) };
    default:
      return completeUpload(ctx, call, name, session);
  }
}

function completeUpload(ctx: RegistryContext, call: Call, name: string, session: UploadSession): SimReply {
  const digest = call.req.query.get("digest");
  if (digest === null || digest === "") return registryError("DIGEST_INVALID", "digest missing");
  const parsed = parseDigest(digest);
  if (!parsed) return registryError("DIGEST_INVALID", "digest parsing failed");
  append(session, call.req.body);
  const bytes = Buffer.concat(session.chunks);
  if (digestOf(bytes, parsed.algorithm) !== digest) {
    session.failed = true;
    return registryError(
      "DIGEST_INVALID",
      errorDetail(ctx, { Digest: digest, Reason: {} }, `invalid digest for referenced layer: ${digest}, content does not match digest`),
    );
  }
  ctx.store.uploads.delete(session.uuid);
  ctx.store.linkBlob(name, digest, bytes);
  ctx.emit(call, "push", blobTarget(call, name, digest, bytes.length));
  return { status: 201, headers: { "Docker-Content-Digest": digest, Location: blobUrl(call, name, digest) } };
}

function append(session: UploadSession, chunk: Buffer): void {
  if (chunk.length === 0) return;
  session.chunks.push(chunk);
  session.size += chunk.length;
}

interface UploadState {
  Name: string;
  UUID: string;
  Offset: number;
  StartedAt: string;
}

/** The session's headers, with a fresh `_state` carrying the current offset (as distribution's signed state does). */
function uploadHeaders(call: Call, s: UploadSession): Record<string, string> {
  const state: UploadState = { Name: s.repository, UUID: s.uuid, Offset: s.size, StartedAt: s.startedAt };
  const token = Buffer.from(JSON.stringify(state)).toString("base64url");
  return {
    "Docker-Upload-Uuid": s.uuid,
    Location: `${call.base}/v2/${s.repository}/blobs/uploads/${s.uuid}?_state=${token}`,
    Range: `0-${Math.max(0, s.size - 1)}`,
  };
}

function decodeState(token: string | null): UploadState | undefined {
  if (!token) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Partial<UploadState>;
    if (typeof v.Name !== "string" || typeof v.UUID !== "string" || typeof v.Offset !== "number") return undefined;
    return { Name: v.Name, UUID: v.UUID, Offset: v.Offset, StartedAt: String(v.StartedAt ?? "") };
  } catch {
    return undefined;
  }
}

function blobUrl(call: Call, name: string, digest: string): string {
  return `${call.base}/v2/${name}/blobs/${digest}`;
}

function blobTarget(call: Call, name: string, digest: string, size: number): Parameters<RegistryContext["emit"]>[2] {
  return { mediaType: BLOB_TYPE, size, digest, length: size, repository: name, url: blobUrl(call, name, digest) };
}

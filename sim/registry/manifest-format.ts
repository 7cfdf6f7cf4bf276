import { digestOf } from "./routes.js";

/** Media types of the image formats the registry stores. */
export const MEDIA = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** Which of the four formats a stored manifest is (decided by the Content-Type it was pushed with). */
export type ManifestKind = "schema2" | "oci" | "list" | "index";

const KIND_BY_TYPE: Record<string, ManifestKind> = {
  [MEDIA.dockerManifest]: "schema2",
  [MEDIA.ociManifest]: "oci",
  [MEDIA.dockerList]: "list",
  [MEDIA.ociIndex]: "index",
};

/** A manifest accepted by the format checks; its references still have to exist. */
export interface ParsedManifest {
  kind: ManifestKind;
  mediaType: string;
  digest: string;
  bytes: Buffer;
  schemaVersion: unknown;
  /** Blobs an image manifest needs in the repository: config, then layers. */
  blobRefs: string[];
  /** Manifests a list or index needs in the repository. */
  manifestRefs: string[];
  entries: { digest: string; os?: string; architecture?: string }[];
}

/** Why a manifest body was refused: the JSON or its format (`MANIFEST_INVALID`). */
export interface ManifestFormatError {
  /** The error value's message, for servers that send it as the detail. */
  reason: string;
}

type Json = Record<string, unknown>;

/**
 * Reads a pushed manifest the way distribution's UnmarshalManifest does: the
 * Content-Type picks the format (any other type falls to schema 1, which the
 * Debian build refuses), then the body must be JSON of that format, with a
 * matching `mediaType` and none of the other family's fields.
 */
export function parseManifest(contentType: string | undefined, bytes: Buffer): ParsedManifest | ManifestFormatError {
  const mediaType = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const kind = KIND_BY_TYPE[mediaType];
  if (!kind) return { reason: "schema 1 manifests are not supported" };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    return { reason: (err as Error).message };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { reason: "json: cannot unmarshal into a manifest" };
  const m = doc as Json;
  const declared = m.mediaType;
  switch (kind) {
    case "schema2":
      if (declared !== MEDIA.dockerManifest) return { reason: `mediaType in manifest should be '${MEDIA.dockerManifest}' not '${text(declared)}'` };
      break;
    case "oci":
      if (declared !== undefined && declared !== "" && declared !== MEDIA.ociManifest) return { reason: `if present, mediaType in manifest should be '${MEDIA.ociManifest}' not '${text(declared)}'` };
      if ("manifests" in m) return { reason: "expected manifest but found index" };
      break;
    case "list":
      if (declared !== MEDIA.dockerList) return { reason: `mediaType in manifest list should be '${MEDIA.dockerList}' not '${text(declared)}'` };
      break;
    case "index":
      if (declared !== undefined && declared !== "" && declared !== MEDIA.ociIndex) return { reason: `if present, mediaType in image index should be '${MEDIA.ociIndex}' not '${text(declared)}'` };
      if ("config" in m || "layers" in m) return { reason: "expected index but found manifest" };
      break;
  }
  const image = kind === "schema2" || kind === "oci";
  const descriptors = image ? [m.config, ...arrayOf(m.layers)] : arrayOf(m.manifests);
  if (!descriptors.every((d) => d === undefined || (typeof d === "object" && d !== null))) return { reason: "json: cannot unmarshal descriptor" };
  const described = descriptors as (Json | undefined)[];
  // Layers fetched from elsewhere (`urls`) need not be in the registry.
  const refs = described.filter((d) => !(Array.isArray(d?.urls) && d.urls.length > 0)).map((d) => text(d?.digest));
  return {
    kind,
    mediaType: image ? (kind === "oci" ? MEDIA.ociManifest : MEDIA.dockerManifest) : kind === "index" ? MEDIA.ociIndex : MEDIA.dockerList,
    digest: digestOf(bytes),
    bytes,
    schemaVersion: m.schemaVersion,
    blobRefs: image ? refs : [],
    manifestRefs: image ? [] : refs,
    entries: image
      ? []
      : described.map((d) => {
          const platform = (d?.platform ?? {}) as Json;
          return {
            digest: text(d?.digest),
            ...(typeof platform.os === "string" ? { os: platform.os } : {}),
            ...(typeof platform.architecture === "string" ? { architecture: platform.architecture } : {}),
          };
        }),
  };
}

/** A JSON value as Go's `%s` would print a string field ("" when it is not a string). */
function text(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Which manifest formats a GET's `Accept` headers name (q-values ignored, as distribution ignores them). */
export interface AcceptedFormats {
  schema2: boolean;
  list: boolean;
  oci: boolean;
  index: boolean;
}

/** Parses Accept the way distribution's GetManifest does: split on commas, drop parameters. */
export function acceptedFormats(accept: string | string[] | undefined): AcceptedFormats {
  const values = (Array.isArray(accept) ? accept : accept === undefined ? [] : [accept]).flatMap((h) => h.split(","));
  const types = new Set(values.map((v) => v.split(";")[0]!.trim()));
  return {
    schema2: types.has(MEDIA.dockerManifest),
    list: types.has(MEDIA.dockerList),
    oci: types.has(MEDIA.ociManifest),
    index: types.has(MEDIA.ociIndex),
  };
}

import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { MEDIA } from "./manifest-format.js";

/** How `RegistryServer.pushImage` builds the image it pushes. */
export interface PushImageOptions {
  /**
   * `oci` (default) and `docker`: one image manifest. `oci-index` and
   * `docker-list`: one image per platform, then an index (or manifest list)
   * of them under the tag.
   */
  format?: "oci" | "docker" | "oci-index" | "docker-list";
  /** The uncompressed layer content. @default a text naming repository, tag and platform, so every build differs */
  layer?: string | Buffer;
  /** Image config labels. */
  labels?: Record<string, string>;
  /** The config's `created`. @default the sim clock's now */
  created?: string;
  /** Platforms of an index or list. @default linux/amd64 and linux/arm64 */
  platforms?: { os: string; architecture: string; variant?: string }[];
}

/** What to push, in order: blobs first, then manifests; the last manifest goes under the tag. */
export interface ImagePlan {
  blobs: Buffer[];
  manifests: { mediaType: string; bytes: Buffer }[];
}

const DEFAULT_PLATFORMS: { os: string; architecture: string; variant?: string }[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

/**
 * Builds the blobs and manifests a CI job would push for `repo:tag`: a
 * gzipped layer, an image config whose `rootfs.diff_ids` names it, and the
 * manifest (or index) describing them, all as compact JSON.
 */
export function planImage(repo: string, tag: string, opts: PushImageOptions, now: string): ImagePlan {
  const format = opts.format ?? "oci";
  const docker = format === "docker" || format === "docker-list";
  const platforms = format === "oci" || format === "docker" ? [DEFAULT_PLATFORMS[0]!] : (opts.platforms ?? DEFAULT_PLATFORMS);
  const plan: ImagePlan = { blobs: [], manifests: [] };
  const children: { descriptor: Record<string, unknown> }[] = [];
  for (const platform of platforms) {
    const raw = Buffer.from(opts.layer ?? `${repo}:${tag} ${platform.os}/${platform.architecture}\n`);
    const layer = gzipSync(raw);
    const config = json({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created: opts.created ?? now,
      config: { Labels: opts.labels ?? {} },
      rootfs: { type: "layers", diff_ids: [sha256(raw)] },
    });
    plan.blobs.push(config, layer);
    const manifest = json({
      schemaVersion: 2,
      mediaType: docker ? MEDIA.dockerManifest : MEDIA.ociManifest,
      config: { mediaType: docker ? MEDIA.dockerConfig : MEDIA.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: docker ? MEDIA.dockerLayer : MEDIA.ociLayer, digest: sha256(layer), size: layer.length }],
    });
    const mediaType = docker ? MEDIA.dockerManifest : MEDIA.ociManifest;
    plan.manifests.push({ mediaType, bytes: manifest });
    children.push({ descriptor: { mediaType, digest: sha256(manifest), size: manifest.length, platform } });
  }
  if (format === "oci-index" || format === "docker-list") {
    const mediaType = format === "oci-index" ? MEDIA.ociIndex : MEDIA.dockerList;
    plan.manifests.push({ mediaType, bytes: json({ schemaVersion: 2, mediaType, manifests: children.map((c) => c.descriptor) }) });
  }
  return plan;
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

function sha256(b: Buffer): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

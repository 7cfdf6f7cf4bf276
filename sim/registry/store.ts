import { createHash } from "node:crypto";
import type { ManifestKind } from "./manifest-format.js";

/** A manifest revision of a repository: its exact bytes and what it references. */
export interface StoredManifest {
  digest: string;
  kind: ManifestKind;
  /** The Content-Type it is served with. */
  mediaType: string;
  bytes: Buffer;
  /** An image manifest's config blob. */
  config?: string;
  /** Index and list entries, in order, for platform fallback. */
  entries: { digest: string; os?: string; architecture?: string }[];
}

/**
 * One repository, laid out as the filesystem driver lays it out: blobs linked
 * into it (`_layers`), manifest revisions, tags. The `…Dir` flags stand for
 * directories that, once created, outlive their contents; the reference
 * server's catalog and tags list look at the directories, not the contents.
 */
export class Repository {
  readonly layers = new Set<string>();
  readonly manifests = new Map<string, StoredManifest>();
  readonly tags = new Map<string, string>();
  /** `_layers/` exists (a blob was ever linked): the repository is in the catalog. */
  layersDir = false;
  /** `_manifests/tags/` exists: the tags list answers (maybe with no tags). */
  tagsDir = false;

  constructor(readonly name: string) {}

  /**
   * Tag names in a stable order that is not lexical, standing in for the
   * filesystem's directory order (ext4 lists entries by hash), which is the
   * order distribution 2.8 lists and walks tags in.
   */
  tagNames(): string[] {
    const key = (t: string): string => createHash("sha256").update(t).digest("hex");
    return [...this.tags.keys()].map((t) => [key(t), t] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
  }

  /** Tags pointing at `digest`, in directory order. */
  tagsOf(digest: string): string[] {
    return this.tagNames().filter((t) => this.tags.get(t) === digest);
  }
}

/** A blob upload session in progress. */
export interface UploadSession {
  uuid: string;
  repository: string;
  chunks: Buffer[];
  size: number;
  startedAt: string;
  /** A commit failed (wrong digest): the reference server no longer resumes it. */
  failed?: boolean;
}

/** The registry's storage: content by digest, shared by all repositories, plus their links and uploads. */
export class RegistryStore {
  readonly content = new Map<string, Buffer>();
  readonly repositories = new Map<string, Repository>();
  readonly uploads = new Map<string, UploadSession>();

  repository(name: string): Repository | undefined {
    return this.repositories.get(name);
  }

  /** The repository, created (empty, not yet in the catalog) when missing. */
  ensureRepository(name: string): Repository {
    let repo = this.repositories.get(name);
    if (!repo) {
      repo = new Repository(name);
      this.repositories.set(name, repo);
    }
    return repo;
  }

  /** Stores content and links it into a repository as a blob. */
  linkBlob(name: string, digest: string, bytes: Buffer): void {
    this.content.set(digest, bytes);
    const repo = this.ensureRepository(name);
    repo.layers.add(digest);
    repo.layersDir = true;
  }

  /** The bytes of a blob linked into the repository, if it is. */
  blob(name: string, digest: string): Buffer | undefined {
    return this.repositories.get(name)?.layers.has(digest) ? this.content.get(digest) : undefined;
  }

  /** Stores a manifest revision, and points a tag at it when given. */
  putManifest(name: string, manifest: StoredManifest, tag?: string): void {
    const repo = this.ensureRepository(name);
    this.content.set(manifest.digest, manifest.bytes);
    repo.manifests.set(manifest.digest, manifest);
    if (tag !== undefined) {
      repo.tags.set(tag, manifest.digest);
      repo.tagsDir = true;
    }
  }
}

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";

/** The real registry binary, from Debian's `docker-registry` package. */
export const DOCKER_REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN ?? "/usr/bin/docker-registry";

/** Throws a clear error when the Debian package is not installed (CI installs it; tests fail, not skip). */
export function assertDockerRegistryInstalled(): void {
  try {
    accessSync(DOCKER_REGISTRY_BIN, constants.X_OK);
  } catch {
    throw new Error(
      `the real registry is not installed: ${DOCKER_REGISTRY_BIN} is missing. Install the Debian package ` +
        "(apt-get install docker-registry, or npm run setup); CI installs it.",
    );
  }
}

/** What to put in the generated config.yml. */
export interface DockerRegistryOptions {
  /** `storage.delete.enabled`. @default false */
  deleteEnabled?: boolean;
  /** `notifications.endpoints`, as the registry's config spells them. */
  notifications?: {
    name: string;
    url: string;
    headers?: Record<string, string[]>;
    timeout?: string;
    threshold?: number;
    backoff?: string;
  }[];
  /** Files to write into the temp dir before start (an htpasswd file, a token CA certificate). */
  files?: Record<string, string>;
  /** More top-level config keys (`auth`, ...), given the temp dir the files are in. */
  extraConfig?: (dir: string) => Record<string, unknown>;
}

/** A running real registry on loopback. */
export interface DockerRegistry {
  url: string;
  port: number;
  /** The temp dir holding config.yml and storage. */
  dir: string;
  /** What the process wrote to stdout and stderr so far. */
  output(): string;
  /** Stops the process and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts `docker-registry serve config.yml` on a free 127.0.0.1 port with
 * filesystem storage in a temp dir, and waits until `GET /v2/` answers (200,
 * or 401 when the config has auth).
 * Throws a clear error when the package is not installed (CI installs it):
 * tests that need it fail rather than skip.
 */
export async function startDockerRegistry(opts: DockerRegistryOptions = {}): Promise<DockerRegistry> {
  assertDockerRegistryInstalled();
  const dir = await mkdtemp(path.join(os.tmpdir(), "steward-docker-registry-"));
  const port = await freePort();
  const config = {
    version: 0.1,
    log: { level: "error", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: path.join(dir, "data") }, delete: { enabled: opts.deleteEnabled ?? false } },
    http: { addr: `127.0.0.1:${port}` },
    ...(opts.notifications ? { notifications: { endpoints: opts.notifications } } : {}),
    ...(opts.extraConfig?.(dir) ?? {}),
  };
  for (const [name, content] of Object.entries(opts.files ?? {})) await writeFile(path.join(dir, name), content);
  const configPath = path.join(dir, "config.yml");
  await writeFile(configPath, stringify(config));

  const child = spawn(DOCKER_REGISTRY_BIN, ["serve", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopChild(child, exited);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`docker-registry exited with ${child.exitCode} before answering:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer GET /v2/ within 15 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, port, dir, output: () => output, stop };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A port that was free a moment ago (the registry binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `sha256:<hex>` of the bytes. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Pushes a blob to any registry (real or sim) as a client does: POST to open
 * an upload, PUT the bytes to the Location with `?digest=`. Returns the digest.
 */
export async function pushBlob(base: string, repo: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256Digest(bytes);
  const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST", headers });
  const location = started.headers.get("location");
  if (started.status !== 202 || !location) throw new Error(`upload start answered ${started.status}: ${await started.text()}`);
  const url = new URL(location, base);
  url.searchParams.set("digest", digest);
  const done = await fetch(url, { method: "PUT", headers: { ...headers, "Content-Type": "application/octet-stream" }, body: new Uint8Array(bytes) });
  if (done.status !== 201) throw new Error(`blob PUT answered ${done.status}: ${await done.text()}`);
  return digest;
}

/** PUTs a manifest under a tag or digest; returns the response for the caller to check. */
export function pushManifest(
  base: string,
  repo: string,
  reference: string,
  mediaType: string,
  bytes: Buffer,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/v2/${repo}/manifests/${reference}`, { method: "PUT", headers: { ...headers, "Content-Type": mediaType }, body: new Uint8Array(bytes) });
}

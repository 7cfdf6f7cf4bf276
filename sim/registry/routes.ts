import { createHash } from "node:crypto";

// The grammar of distribution's `reference` package, as its router uses it.
// Written without the nested optional separator (`[-]*`) of the original, which
// would backtrack exponentially in JS; the language is the same.
const NAME_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const NAME_RE = new RegExp(`^(?:${DOMAIN}/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** go-digest's DigestRegexp: what the router accepts as a digest before parsing it. */
const DIGEST_SYNTAX_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const UUID_SEGMENT_RE = /^[a-zA-Z0-9-_.=]+$/;

/** The longest repository name the storage layer takes (reference.NameTotalLengthMax). */
export const NAME_MAX_LENGTH = 255;

/** Hash functions go-digest knows, with the length of their hex encoding. */
const ALGORITHMS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** A route of the /v2 API, as distribution's router names them. */
export type V2Route =
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "upload"; name: string; uuid?: string };

/** The methods each route's handler map holds (what a 405 lists in `Allow`). */
export const ALLOWED_METHODS: Record<V2Route["kind"], string[]> = {
  catalog: ["GET"],
  tags: ["GET"],
  manifest: ["DELETE", "GET", "HEAD", "PUT"],
  blob: ["DELETE", "GET", "HEAD"],
  upload: ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"],
};

/**
 * Matches a path under /v2/ (without the prefix) to a route, in the order
 * distribution registers them; `undefined` is the router's plain 404.
 */
export function matchV2Route(rest: string): V2Route | undefined {
  if (rest === "_catalog") return { kind: "catalog" };
  let m = /^(.+)\/manifests\/([^/]+)$/.exec(rest);
  if (m && isName(m[1]!) && isReference(m[2]!)) return { kind: "manifest", name: m[1]!, reference: m[2]! };
  m = /^(.+)\/tags\/list$/.exec(rest);
  if (m && isName(m[1]!)) return { kind: "tags", name: m[1]! };
  m = /^(.+)\/blobs\/([^/]+)$/.exec(rest);
  if (m && isName(m[1]!) && DIGEST_SYNTAX_RE.test(m[2]!)) return { kind: "blob", name: m[1]!, digest: m[2]! };
  m = /^(.+)\/blobs\/uploads\/$/.exec(rest);
  if (m && isName(m[1]!)) return { kind: "upload", name: m[1]! };
  m = /^(.+)\/blobs\/uploads\/([^/]+)$/.exec(rest);
  if (m && isName(m[1]!) && UUID_SEGMENT_RE.test(m[2]!)) return { kind: "upload", name: m[1]!, uuid: m[2]! };
  return undefined;
}

/** A repository name as the router accepts it (`team/app`, `localhost:5000/app`). */
export function isName(name: string): boolean {
  return NAME_RE.test(name);
}

function isReference(ref: string): boolean {
  return TAG_RE.test(ref) || DIGEST_SYNTAX_RE.test(ref);
}

/** A tag as the reference grammar allows it. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/**
 * go-digest's Parse: `algorithm:hex` with a known algorithm and lower-case hex
 * of the right length. Anything else is not a digest (a manifest reference
 * that fails here is then taken as a tag, as the reference server does).
 */
export function parseDigest(s: string): { algorithm: string; hex: string } | undefined {
  const i = s.indexOf(":");
  if (i <= 0) return undefined;
  const algorithm = s.slice(0, i);
  const hex = s.slice(i + 1);
  const len = ALGORITHMS[algorithm];
  if (len === undefined || hex.length !== len || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return { algorithm, hex };
}

/** The digest of `bytes` with the given algorithm, as `algorithm:hex`. */
export function digestOf(bytes: Buffer, algorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

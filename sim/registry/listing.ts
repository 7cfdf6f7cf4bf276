import type { SimReply } from "../core/http.js";
import type { Call, RegistryContext } from "./context.js";
import { jsonReply, registryError } from "./errors.js";

/** Entries per catalog page when `n` is missing or unusable, and the most a client may ask for. */
const CATALOG_DEFAULT_N = 100;
const CATALOG_MAX_N = 1000;

/**
 * `GET /v2/_catalog`: repositories that ever had a blob linked (the walk
 * looks for `_layers` directories; an upload never finished does not count),
 * in path order
 * (`/` sorts before every other character), after `last`, at most `n`, with a
 * `Link` to the next page while more remain. An unparseable or negative `n`
 * means the default page size, as in distribution.
 */
export function catalog(ctx: RegistryContext, call: Call): SimReply {
  const q = call.req.query;
  let n = goAtoi(q.get("n") ?? "");
  if (n === undefined || n < 0) n = CATALOG_DEFAULT_N;
  if (n > CATALOG_MAX_N) return registryError("PAGINATION_NUMBER_INVALID", { n });
  const last = q.get("last") ?? "";
  const names = [...ctx.store.repositories.values()]
    .filter((r) => r.layersDir)
    .map((r) => r.name)
    .filter((name) => comparePath(last, name) < 0)
    .sort(comparePath);
  const page = names.slice(0, n);
  const headers: Record<string, string> = {};
  if (n > 0 && names.length > n) headers.Link = linkEntry(call.req.path, n, page[page.length - 1]!);
  return jsonReply(200, { repositories: page }, headers);
}

/**
 * `GET /v2/<name>/tags/list`. Distribution 2.8 lists every tag, in the
 * storage driver's directory order (not sorted; see Repository.tagNames),
 * and ignores `n` and `last`;
 * v3 sorts, pages with `n`/`last` and links the next page. A 2.8 repository
 * whose tags directory exists but is empty answers `"tags": null`.
 */
export function tagsList(ctx: RegistryContext, call: Call, name: string): SimReply {
  const repo = ctx.store.repository(name);
  if (!repo?.tagsDir) return registryError("NAME_UNKNOWN", { name });
  if (ctx.compat === "2.8") {
    const tags = repo.tagNames();
    return jsonReply(200, { name, tags: tags.length > 0 ? tags : null });
  }
  let tags = [...repo.tags.keys()];
  tags.sort();
  const q = call.req.query;
  const last = q.get("last") ?? "";
  if (last !== "") tags = tags.filter((t) => t > last);
  let limit = -1;
  const nParam = q.get("n");
  if (nParam !== null && nParam !== "") {
    const parsed = goAtoi(nParam);
    if (parsed === undefined || parsed < 0) return registryError("PAGINATION_NUMBER_INVALID", { n: parsed ?? 0 });
    limit = parsed;
  }
  const headers: Record<string, string> = {};
  if (limit >= 0 && limit < tags.length) {
    if (limit > 0) headers.Link = linkEntry(call.req.path, limit, tags[limit - 1]!);
    tags = tags.slice(0, limit);
  }
  return jsonReply(200, { name, tags }, headers, "application/json");
}

/**
 * The `Link` header as distribution's createLinkEntry writes it: the request
 * path, its query replaced by url.Values{n, last}.Encode() (keys sorted, so
 * `last` first), in angle brackets, `rel="next"`.
 */
export function linkEntry(path: string, n: number, last: string): string {
  return `<${path}?last=${goQueryEscape(last)}&n=${n}>; rel="next"`;
}

/** Go's url.QueryEscape: everything but letters, digits and `-_.~` is escaped, space as `+`. */
export function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** Go's strconv.Atoi: an optional sign and decimal digits, nothing else. */
function goAtoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** distribution's lessPath order: compare component-wise by letting `/` sort first. */
function comparePath(a: string, b: string): number {
  const x = a.replaceAll("/", "\u0000");
  const y = b.replaceAll("/", "\u0000");
  return x < y ? -1 : x > y ? 1 : 0;
}

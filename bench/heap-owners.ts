/**
 * `npx tsx bench/heap-owners.ts FILE.heapsnapshot [--min-mb=1] [--depth=12] [--top=40]`:
 * who holds the memory in a V8 heap snapshot (as `bench/daemon.bench.ts
 * --heap-snapshot=FILE` writes of the idle daemon).
 *
 * Prints (1) self size by node type and by constructor, (2) the dominator
 * tree from the GC roots, expanded only through objects that retain at least
 * `--min-mb` (each line: retained MB, self MB, the edge it is reached by from
 * its dominator, its constructor or type), and (3) strings: how many bytes sit
 * in strings, and the sliced strings whose parent is large (a slice keeps its
 * whole parent alive). Retained size is the bytes that would be freed if the
 * object went away (dominator tree, Cooper–Harvey–Kennedy over a postorder),
 * as DevTools' "Retained Size"; weak edges do not retain.
 *
 * `--drop=Ctor.field[+Ctor.field…]` (repeatable) answers "what would be
 * freed without these references": the bytes no longer reachable from the
 * roots once every edge named `field` out of an object of constructor
 * `Ctor` is cut (`*` matches any constructor). Shared data shows up only
 * when all its holders are cut together, so name them with `+`.
 *
 * Large snapshots need a large heap: `NODE_OPTIONS=--max-old-space-size=6000`.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "min-mb": { type: "string", default: "1" },
    depth: { type: "string", default: "12" },
    top: { type: "string", default: "40" },
    drop: { type: "string", multiple: true, default: [] },
  },
});
const file = positionals[0];
if (!file) {
  process.stderr.write("usage: tsx bench/heap-owners.ts FILE.heapsnapshot [--min-mb=1] [--depth=12] [--top=40]\n");
  process.exit(64);
}
const MIN = Number(flags["min-mb"]) * 2 ** 20;
const DEPTH = Number(flags.depth);
const TOP = Number(flags.top);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
const meta = snap.snapshot.meta;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf("type");
const nName = meta.node_fields.indexOf("name");
const nSelf = meta.node_fields.indexOf("self_size");
const nEdges = meta.node_fields.indexOf("edge_count");
const eType = meta.edge_fields.indexOf("type");
const eName = meta.edge_fields.indexOf("name_or_index");
const eTo = meta.edge_fields.indexOf("to_node");
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const N = snap.nodes.length / NF;
const E = snap.edges.length / EF;
const WEAK = edgeTypes.indexOf("weak");
const SHORTCUT = edgeTypes.indexOf("shortcut");
const STRING_EDGE = new Set(["context", "property", "internal", "shortcut"].map((t) => edgeTypes.indexOf(t)));

const type = (i: number): string => nodeTypes[snap.nodes[i * NF + nType] ?? 0] ?? "?";
const name = (i: number): string => snap.strings[snap.nodes[i * NF + nName] ?? 0] ?? "";
const self = (i: number): number => snap.nodes[i * NF + nSelf] ?? 0;
const firstEdge = new Uint32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += snap.nodes[i * NF + nEdges] ?? 0;
  firstEdge[i + 1] = e;
}
const edgeTo = (e: number): number => (snap.edges[e * EF + eTo] ?? 0) / NF;
const edgeLabel = (e: number): string => {
  const t = snap.edges[e * EF + eType] ?? 0;
  const v = snap.edges[e * EF + eName] ?? 0;
  return STRING_EDGE.has(t) ? (snap.strings[v] ?? "?") : `[${v}]`;
};
const retains = (e: number): boolean => {
  const t = snap.edges[e * EF + eType];
  return t !== WEAK && t !== SHORTCUT;
};

// ---- postorder from the root (node 0), iteratively ----
const post = new Int32Array(N).fill(-1); // node -> postorder number
const order = new Uint32Array(N); // postorder number -> node
let count = 0;
{
  const stack = new Uint32Array(N);
  const next = new Uint32Array(N);
  const seen = new Uint8Array(N);
  let sp = 0;
  stack[sp++] = 0;
  seen[0] = 1;
  next[0] = firstEdge[0] ?? 0;
  while (sp > 0) {
    const v = stack[sp - 1] ?? 0;
    const end = firstEdge[v + 1] ?? 0;
    let pushed = false;
    while ((next[v] ?? 0) < end) {
      const e = next[v] ?? 0;
      next[v] = e + 1;
      if (!retains(e)) continue;
      const w = edgeTo(e);
      if (seen[w]) continue;
      seen[w] = 1;
      next[w] = firstEdge[w] ?? 0;
      stack[sp++] = w;
      pushed = true;
      break;
    }
    if (!pushed) {
      sp--;
      post[v] = count;
      order[count++] = v;
    }
  }
}

// ---- predecessors (reachable nodes only), as CSR ----
const predCount = new Uint32Array(N + 1);
for (let v = 0; v < N; v++) {
  if (post[v] === -1) continue;
  for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) if (retains(e)) predCount[edgeTo(e) + 1] = (predCount[edgeTo(e) + 1] ?? 0) + 1;
}
for (let i = 0; i < N; i++) predCount[i + 1] = (predCount[i + 1] ?? 0) + (predCount[i] ?? 0);
const preds = new Uint32Array(predCount[N] ?? 0);
{
  const fill = predCount.slice(0, N);
  for (let v = 0; v < N; v++) {
    if (post[v] === -1) continue;
    for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) {
      if (!retains(e)) continue;
      const at = fill[edgeTo(e)] ?? 0;
      fill[edgeTo(e)] = at + 1;
      preds[at] = v;
    }
  }
}

// ---- immediate dominators (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm") ----
const root = count - 1; // the root is last in postorder
const idom = new Int32Array(count).fill(-1); // by postorder number
idom[root] = root;
/** The nearest common dominator of two nodes (postorder numbers), walking up the current idom tree. */
const intersect = (a: number, b: number): number => {
  let x = a;
  let y = b;
  while (x !== y) {
    while (x < y) x = idom[x] ?? root;
    while (y < x) y = idom[y] ?? root;
  }
  return x;
};
for (let changed = true; changed; ) {
  changed = false;
  for (let b = root - 1; b >= 0; b--) {
    const v = order[b] ?? 0;
    let d = -1;
    for (let p = predCount[v] ?? 0; p < (predCount[v + 1] ?? 0); p++) {
      const q = post[preds[p] ?? 0] ?? -1;
      if (q === -1 || idom[q] === -1) continue;
      if (d === -1) {
        d = q;
        continue;
      }
      d = intersect(q, d);
    }
    if (d !== -1 && idom[b] !== d) {
      idom[b] = d;
      changed = true;
    }
  }
}

// ---- retained sizes, children lists ----
const retained = new Float64Array(count);
for (let b = 0; b < count; b++) retained[b] = self(order[b] ?? 0);
for (let b = 0; b < root; b++) retained[idom[b] ?? root] = (retained[idom[b] ?? root] ?? 0) + (retained[b] ?? 0);
const children = new Map<number, number[]>();
for (let b = 0; b < root; b++) {
  const d = idom[b] ?? root;
  const list = children.get(d);
  if (list) list.push(b);
  else children.set(d, [b]);
}

const mb = (n: number): string => (n / 2 ** 20).toFixed(1).padStart(7);
const label = (v: number): string => {
  const t = type(v);
  const n = name(v);
  if (t === "string" || t === "concatenated string" || t === "sliced string") return `${t} (${self(v)} B) ${JSON.stringify(n.slice(0, 40))}`;
  if (t === "object" || t === "closure" || t === "native" || t === "synthetic") return `${n || t}${t === "object" ? "" : ` (${t})`}`;
  return `(${t}) ${n.slice(0, 60)}`;
};
/** The name of an edge from the dominator to the node, else from any retainer. */
const via = (v: number, dom: number): string => {
  for (let e = firstEdge[dom] ?? 0; e < (firstEdge[dom + 1] ?? 0); e++) if (edgeTo(e) === v) return edgeLabel(e);
  return "…";
};

// ---- report ----
let total = 0;
const byType = new Map<string, number>();
const byCtor = new Map<string, { bytes: number; n: number }>();
for (let b = 0; b < count; b++) {
  const v = order[b] ?? 0;
  const s = self(v);
  total += s;
  byType.set(type(v), (byType.get(type(v)) ?? 0) + s);
  if (type(v) === "object" || type(v) === "array") {
    const k = `${type(v)}:${name(v)}`;
    const c = byCtor.get(k) ?? { bytes: 0, n: 0 };
    c.bytes += s;
    c.n++;
    byCtor.set(k, c);
  }
}
const out: string[] = [];
out.push(`${file}: ${N} nodes (${count} reachable), ${E} edges, ${mb(total).trim()} MB reachable self size`);
out.push("", "## self size by node type (MB)");
for (const [k, v] of [...byType].sort((a, b) => b[1] - a[1])) out.push(`${mb(v)}  ${k}`);
out.push("", `## self size by constructor, top ${TOP} (MB, count)`);
for (const [k, v] of [...byCtor].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP)) out.push(`${mb(v.bytes)}  ${String(v.n).padStart(8)}  ${k}`);

out.push("", `## dominator tree (retained MB, self MB, edge from dominator, what), nodes retaining >= ${mb(MIN).trim()} MB`);
const walk = (b: number, depth: number, edge: string): void => {
  const v = order[b] ?? 0;
  out.push(`${mb(retained[b] ?? 0)} ${mb(self(v))}  ${"  ".repeat(depth)}${edge ? `.${edge} ` : ""}${label(v)}`);
  if (depth >= DEPTH) return;
  const kids = (children.get(b) ?? []).filter((c) => (retained[c] ?? 0) >= MIN).sort((x, y) => (retained[y] ?? 0) - (retained[x] ?? 0));
  for (const c of kids) walk(c, depth + 1, via(order[c] ?? 0, v));
  const small = (children.get(b) ?? []).filter((c) => (retained[c] ?? 0) < MIN);
  const smallBytes = small.reduce((s, c) => s + (retained[c] ?? 0), 0);
  if (smallBytes >= MIN) out.push(`${mb(smallBytes)} ${"".padStart(7)}  ${"  ".repeat(depth + 1)}(${small.length} smaller children)`);
};
walk(root, 0, "");

// ---- what the root's many small children are: shared objects, grouped by who holds them ----
{
  const retainerEdges = new Map<number, number[]>(); // node -> edges into it (only for the root's children)
  const rootKids = new Set((children.get(root) ?? []).filter((c) => (retained[c] ?? 0) < MIN).map((c) => order[c] ?? 0));
  for (let v = 0; v < N; v++) {
    if (post[v] === -1) continue;
    for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) {
      const w = edgeTo(e);
      if (!rootKids.has(w) || !retains(e)) continue;
      const list = retainerEdges.get(w) ?? [];
      if (list.length < 4) list.push(e);
      retainerEdges.set(w, list);
    }
  }
  const edgeFrom = new Uint32Array(E);
  for (let v = 0; v < N; v++) for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) edgeFrom[e] = v;
  const groups = new Map<string, { bytes: number; n: number }>();
  for (const v of rootKids) {
    const holders = (retainerEdges.get(v) ?? []).map((e) => {
      const from = edgeFrom[e] ?? 0;
      const ft = type(from);
      const fn = ft === "object" || ft === "closure" ? name(from) : `(${ft})`;
      const el = edgeLabel(e);
      return `${fn}.${/^\[?\d+\]?$/.test(el) ? "[i]" : el.replace(/\d+/g, "#").slice(0, 40)}`;
    });
    const t = type(v);
    const what = t === "object" || t === "closure" ? name(v) : `(${t})`;
    const k = `${what} <- ${[...new Set(holders)].sort().join(" | ")}`;
    const g = groups.get(k) ?? { bytes: 0, n: 0 };
    g.bytes += retained[post[v] ?? 0] ?? 0;
    g.n++;
    groups.set(k, g);
  }
  const sum = [...groups.values()].reduce((a, g) => a + g.bytes, 0);
  out.push("", `## the root's smaller children (shared objects: ${mb(sum).trim()} MB in ${rootKids.size}, ${groups.size} groups), by what they are and who holds them (retained MB, count), top ${TOP}`);
  for (const [k, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP)) out.push(`${mb(g.bytes)}  ${String(g.n).padStart(8)}  ${k.slice(0, 200)}`);
}

// ---- strings ----
const stringTypes = new Set(["string", "concatenated string", "sliced string"]);
let strBytes = 0;
let strN = 0;
const parents = new Map<number, number>(); // parent node -> slices into it
for (let b = 0; b < count; b++) {
  const v = order[b] ?? 0;
  if (!stringTypes.has(type(v))) continue;
  strBytes += self(v);
  strN++;
  if (type(v) !== "sliced string") continue;
  for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) {
    if (edgeLabel(e) === "parent") parents.set(edgeTo(e), (parents.get(edgeTo(e)) ?? 0) + 1);
  }
}
{
  // Which fields hold the string bytes: self size of strings by (holder constructor).(edge), over every holder.
  const byHolder = new Map<string, { bytes: number; n: number }>();
  const counted = new Uint8Array(N);
  for (let v = 0; v < N; v++) {
    if (post[v] === -1) continue;
    const ft = type(v);
    const fn = ft === "object" || ft === "closure" ? name(v) : `(${ft})`;
    for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) {
      const w = edgeTo(e);
      if (counted[w] || !stringTypes.has(type(w)) || !retains(e) || ft === "concatenated string" || ft === "sliced string") continue;
      counted[w] = 1;
      const el = edgeLabel(e);
      const k = `${fn}.${/^\[?\d+\]?$/.test(el) ? "[i]" : el.replace(/\d+/g, "#").slice(0, 40)}`;
      const g = byHolder.get(k) ?? { bytes: 0, n: 0 };
      // A rope (concatenated string) counts with every piece it holds alone.
      g.bytes += type(w) === "string" ? self(w) : (retained[post[w] ?? 0] ?? 0);
      g.n++;
      byHolder.set(k, g);
    }
  }
  out.push("", `## string bytes by the first holder found (constructor.field; MB, count), top ${TOP}`);
  for (const [k, g] of [...byHolder].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP)) out.push(`${mb(g.bytes)}  ${String(g.n).padStart(8)}  ${k}`);
}
out.push("", `## strings: ${mb(strBytes).trim()} MB in ${strN} strings; sliced strings' parents over 4 KB (kept whole by their slices)`);
const bigParents = [...parents].filter(([p]) => self(p) >= 4096).sort((a, b) => self(b[0]) - self(a[0]));
out.push(`${bigParents.length} parents, ${mb(bigParents.reduce((s, [p]) => s + self(p), 0)).trim()} MB; the largest:`);
for (const [p, n] of bigParents.slice(0, 15)) out.push(`${mb(self(p))}  ${n} slices  ${JSON.stringify(name(p).slice(0, 80))}`);

// ---- what dropping some references would free ----
if (flags.drop.length) out.push("", "## freed by dropping references (MB no longer reachable; objects)");
for (const spec of flags.drop) {
  const cuts = spec.split("+").map((p) => {
    const dot = p.lastIndexOf(".");
    return { ctor: p.slice(0, dot), field: p.slice(dot + 1) };
  });
  const cut = (from: number, e: number): boolean =>
    cuts.some((c) => (c.ctor === "*" || name(from) === c.ctor) && edgeLabel(e) === c.field);
  const reach = new Uint8Array(N);
  const queue = new Uint32Array(N);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  reach[0] = 1;
  let matched = 0;
  while (head < tail) {
    const v = queue[head++] ?? 0;
    for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e++) {
      if (!retains(e)) continue;
      const w = edgeTo(e);
      if (reach[w]) continue;
      if (cut(v, e)) {
        matched++;
        continue;
      }
      reach[w] = 1;
      queue[tail++] = w;
    }
  }
  let freed = 0;
  let n = 0;
  for (let v = 0; v < N; v++) {
    if (post[v] !== -1 && !reach[v]) {
      freed += self(v);
      n++;
    }
  }
  out.push(`${mb(freed)}  ${String(n).padStart(8)}  ${spec}${matched ? "" : "   (no such reference found)"}`);
}
process.stdout.write(`${out.join("\n")}\n`);

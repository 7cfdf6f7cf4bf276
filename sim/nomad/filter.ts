import type { JsonValue } from "./types.js";

/** A compiled `?filter=` expression over an API object. */
export type Filter = (v: JsonValue) => boolean;

/**
 * The go-bexpr subset Nomad list endpoints accept: `==`, `!=`, `contains`,
 * `not contains`, `in`, `not in`, `matches`, `not matches`, `is empty`,
 * `is not empty`, joined with `and`, `or`, `not` and parentheses. Selectors
 * are dotted field paths (`Meta.owner`, `JobSummary.Summary.web.Running`)
 * or `Meta["key-with-dashes"]`; values are quoted strings, raw `back-quoted`
 * strings, numbers, booleans or bare words. Throws on a syntax error.
 */
export function compileFilter(text: string): Filter {
  const p = new Parser(tokenize(text));
  const f = p.expr();
  if (!p.done()) throw new Error(`1:${p.pos() + 1}: unexpected token "${p.peek()?.text ?? ""}"`);
  return f;
}

interface Tok {
  kind: "word" | "str" | "op" | "lp" | "rp" | "lb" | "rb" | "dot";
  text: string;
  at: number;
}

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] ?? "";
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === '"' || c === "`") {
      let j = i + 1;
      let v = "";
      while (j < s.length && s[j] !== c) {
        if (c === '"' && s[j] === "\\" && j + 1 < s.length) j++;
        v += s[j];
        j++;
      }
      if (j >= s.length) throw new Error(`1:${at + 1}: unterminated string`);
      out.push({ kind: "str", text: v, at });
      i = j + 1;
      continue;
    }
    if (s.startsWith("==", i) || s.startsWith("!=", i)) {
      out.push({ kind: "op", text: s.slice(i, i + 2), at });
      i += 2;
      continue;
    }
    const single: Record<string, Tok["kind"]> = { "(": "lp", ")": "rp", "[": "lb", "]": "rb", ".": "dot" };
    const kind = single[c];
    if (kind) {
      out.push({ kind, text: c, at });
      i++;
      continue;
    }
    const m = /^[A-Za-z0-9_\-/:+*@]+/.exec(s.slice(i));
    if (!m) throw new Error(`1:${at + 1}: unexpected character "${c}"`);
    out.push({ kind: "word", text: m[0], at });
    i += m[0].length;
  }
  return out;
}

type Op = "==" | "!=" | "contains" | "not contains" | "in" | "not in" | "matches" | "not matches" | "empty" | "not empty";

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  done(): boolean {
    return this.i >= this.toks.length;
  }

  pos(): number {
    return this.toks[this.i]?.at ?? 0;
  }

  peek(o = 0): Tok | undefined {
    return this.toks[this.i + o];
  }

  private isWord(w: string, o = 0): boolean {
    const t = this.peek(o);
    return t?.kind === "word" && t.text === w;
  }

  private next(): Tok {
    const t = this.toks[this.i++];
    if (!t) throw new Error(`1:${(this.toks.at(-1)?.at ?? 0) + 1}: unexpected end of expression`);
    return t;
  }

  expr(): Filter {
    let left = this.and();
    while (this.isWord("or")) {
      this.i++;
      const l = left;
      const r = this.and();
      left = (v) => l(v) || r(v);
    }
    return left;
  }

  private and(): Filter {
    let left = this.not();
    while (this.isWord("and")) {
      this.i++;
      const l = left;
      const r = this.not();
      left = (v) => l(v) && r(v);
    }
    return left;
  }

  private not(): Filter {
    if (this.isWord("not")) {
      this.i++;
      const inner = this.not();
      return (v) => !inner(v);
    }
    if (this.peek()?.kind === "lp") {
      this.i++;
      const inner = this.expr();
      if (this.next().kind !== "rp") throw new Error(`1:${this.pos()}: expected ")"`);
      return inner;
    }
    return this.match();
  }

  private match(): Filter {
    // `<value> in <selector>` / `<value> not in <selector>`
    if (this.isWord("in", 1) || (this.isWord("not", 1) && this.isWord("in", 2))) {
      const value = this.value();
      const op: Op = this.isWord("not") ? "not in" : "in";
      this.i += op === "in" ? 1 : 2;
      return build(this.selector(), op, value);
    }
    const sel = this.selector();
    const t = this.next();
    if (t.kind === "op") return build(sel, t.text as Op, this.value());
    if (t.kind === "word") {
      if (t.text === "is") {
        const neg = this.isWord("not");
        if (neg) this.i++;
        const e = this.next();
        if (e.text !== "empty") throw new Error(`1:${e.at + 1}: expected "empty"`);
        return build(sel, neg ? "not empty" : "empty", "");
      }
      if (t.text === "contains" || t.text === "matches") return build(sel, t.text, this.value());
      if (t.text === "not") {
        const w = this.next();
        if (w.text === "contains" || w.text === "matches") return build(sel, `not ${w.text}`, this.value());
      }
    }
    throw new Error(`1:${t.at + 1}: unexpected "${t.text}", expecting a match operator`);
  }

  private selector(): string[] {
    const first = this.next();
    if (first.kind !== "word") throw new Error(`1:${first.at + 1}: expected a selector`);
    const path = [first.text];
    for (;;) {
      const t = this.peek();
      if (t?.kind === "dot") {
        this.i++;
        const w = this.next();
        path.push(w.text);
      } else if (t?.kind === "lb") {
        this.i++;
        const k = this.next();
        if (this.next().kind !== "rb") throw new Error(`1:${k.at + 1}: expected "]"`);
        path.push(k.text);
      } else return path;
    }
  }

  private value(): string {
    const t = this.next();
    if (t.kind !== "str" && t.kind !== "word") throw new Error(`1:${t.at + 1}: expected a value`);
    return t.text;
  }
}

function resolve(v: JsonValue | undefined, path: string[]): JsonValue | undefined {
  let cur = v;
  for (const p of path) {
    if (cur === null || cur === undefined || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function equals(field: JsonValue | undefined, value: string): boolean {
  if (typeof field === "string") return field === value;
  if (typeof field === "number") return value.trim() !== "" && Number(value) === field;
  if (typeof field === "boolean") return String(field) === value;
  return false;
}

function build(path: string[], op: Op, value: string): Filter {
  let re: RegExp | undefined;
  if (op === "matches" || op === "not matches") re = new RegExp(value);
  return (root) => {
    const f = resolve(root, path);
    switch (op) {
      case "==":
        return equals(f, value);
      case "!=":
        return !equals(f, value);
      case "contains":
      case "in":
        return contains(f, value);
      case "not contains":
      case "not in":
        return !contains(f, value);
      case "matches":
        return typeof f === "string" && !!re?.test(f);
      case "not matches":
        return !(typeof f === "string" && !!re?.test(f));
      case "empty":
        return isEmpty(f);
      case "not empty":
        return !isEmpty(f);
    }
  };
}

function contains(f: JsonValue | undefined, value: string): boolean {
  if (typeof f === "string") return f.includes(value);
  if (Array.isArray(f)) return f.some((x) => equals(x, value));
  if (f && typeof f === "object") return value in f;
  return false;
}

function isEmpty(f: JsonValue | undefined): boolean {
  if (f === null || f === undefined || f === "") return true;
  if (Array.isArray(f)) return f.length === 0;
  if (typeof f === "object") return Object.keys(f).length === 0;
  return false;
}

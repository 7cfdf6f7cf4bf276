/**
 * What Go's `json.Decoder.Decode` makes of a request body, as the Nomad
 * agent's decodeBody uses it: the end of the first JSON value (the decoder
 * ignores anything after it), or the error text the agent returns as a 400.
 */
export function goDecode(text: string): { ok: true; end: number } | { ok: false; error: string } {
  const s = new Scan(text);
  try {
    s.ws();
    if (s.eof()) return { ok: false, error: "EOF" };
    s.value("looking for beginning of value");
    return { ok: true, end: s.i };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

class Scan {
  i = 0;
  constructor(private readonly t: string) {}

  eof(): boolean {
    return this.i >= this.t.length;
  }

  ws(): void {
    while (!this.eof() && " \t\r\n".includes(this.t[this.i] ?? "")) this.i++;
  }

  private bad(context: string): never {
    if (this.eof()) throw new Error("unexpected EOF");
    throw new Error(`invalid character ${quoteChar(this.t[this.i] ?? "")} ${context}`);
  }

  value(context: string): void {
    this.ws();
    const c = this.t[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const lit of ["true", "false", "null"]) {
      if (c === lit[0]) {
        for (let k = 1; k < lit.length; k++) {
          this.i++;
          if (this.t[this.i] !== lit[k]) this.bad(`in literal ${lit} (expecting ${quoteChar(lit[k] ?? "")})`);
        }
        this.i++;
        return;
      }
    }
    this.bad(context);
  }

  private object(): void {
    this.i++;
    this.ws();
    if (this.t[this.i] === "}") {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.t[this.i] !== '"') this.bad("looking for beginning of object key string");
      this.string();
      this.ws();
      if (this.t[this.i] !== ":") this.bad("after object key");
      this.i++;
      this.value("looking for beginning of value");
      this.ws();
      if (this.t[this.i] === ",") {
        this.i++;
        continue;
      }
      if (this.t[this.i] === "}") {
        this.i++;
        return;
      }
      this.bad("after object key:value pair");
    }
  }

  private array(): void {
    this.i++;
    this.ws();
    if (this.t[this.i] === "]") {
      this.i++;
      return;
    }
    for (;;) {
      this.value("looking for beginning of value");
      this.ws();
      if (this.t[this.i] === ",") {
        this.i++;
        continue;
      }
      if (this.t[this.i] === "]") {
        this.i++;
        return;
      }
      this.bad("after array element");
    }
  }

  private string(): void {
    this.i++;
    while (!this.eof()) {
      const c = this.t[this.i] ?? "";
      if (c === '"') {
        this.i++;
        return;
      }
      if (c === "\\") {
        this.i++;
        const e = this.t[this.i] ?? "";
        if (!'"\\/bfnrtu'.includes(e) || e === "") this.bad("in string escape code");
        this.i += e === "u" ? 5 : 1;
        continue;
      }
      if (c.charCodeAt(0) < 0x20) this.bad("in string literal");
      this.i++;
    }
    this.bad("in string literal");
  }

  private number(): void {
    if (this.t[this.i] === "-") this.i++;
    const digits = (): number => {
      const start = this.i;
      while (!this.eof() && (this.t[this.i] ?? "") >= "0" && (this.t[this.i] ?? "") <= "9") this.i++;
      return this.i - start;
    };
    if (this.t[this.i] === "0") this.i++;
    else if (digits() === 0) this.bad("in numeric literal");
    if (this.t[this.i] === ".") {
      this.i++;
      if (digits() === 0) this.bad("after decimal point in numeric literal");
    }
    if (this.t[this.i] === "e" || this.t[this.i] === "E") {
      this.i++;
      if (this.t[this.i] === "+" || this.t[this.i] === "-") this.i++;
      if (digits() === 0) this.bad("in exponent of numeric literal");
    }
  }
}

/** Go's %q of a rune, as the scanner prints it in single quotes. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === "\n") return "'\\n'";
  if (c === "\t") return "'\\t'";
  if (c === "\r") return "'\\r'";
  return `'${c}'`;
}

/**
 * XML for the EC2 and STS Query APIs. Answers are built as strings from small
 * helpers, because the shapes are fixed and the element order must match
 * what EC2 sends (the AWS SDK does not care, but a reader of a capture does).
 */

/** Escapes text for an XML element body. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** `<name>text</name>`; an empty text gives `<name></name>`, as EC2 writes empty strings. */
export function leaf(name: string, value: string | number | boolean): string {
  return `<${name}>${esc(String(value))}</${name}>`;
}

/** `<name>…children…</name>` from already-built XML. */
export function node(name: string, ...children: string[]): string {
  return `<${name}>${children.join("")}</${name}>`;
}

/** An EC2 list: `<name><item>…</item>…</name>`, or `<name/>` when empty. */
export function set(name: string, items: string[]): string {
  if (items.length === 0) return `<${name}/>`;
  return `<${name}>${items.map((i) => `<item>${i}</item>`).join("")}</${name}>`;
}

export const EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/";
export const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";

/** A successful EC2 answer: `<{Action}Response xmlns=…><requestId>…</requestId>…</…>`. */
export function ec2Response(action: string, requestId: string, body: string[]): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<${action}Response xmlns="${EC2_NS}">\n` +
    `<requestId>${esc(requestId)}</requestId>\n` +
    body.join("\n") +
    `\n</${action}Response>`
  );
}

/** The EC2 error envelope (`<Response><Errors><Error>…`), the same for every action. */
export function ec2ErrorBody(code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors>` +
    `<RequestID>${esc(requestId)}</RequestID></Response>`
  );
}

/** The STS error envelope, which differs from EC2's (`ErrorResponse`, `Type`, `RequestId`). */
export function stsErrorBody(code: string, message: string, requestId: string, type: "Sender" | "Receiver"): string {
  return (
    `<ErrorResponse xmlns="${STS_NS}"><Error><Type>${type}</Type><Code>${esc(code)}</Code>` +
    `<Message>${esc(message)}</Message></Error><RequestId>${esc(requestId)}</RequestId></ErrorResponse>`
  );
}

/** One parsed element. Text is the concatenated character data directly inside it. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A small XML parser for the answers above and the samples: elements,
 * attributes, self-closing tags, character data and the five predefined
 * entities plus numeric ones. No DTDs, CDATA or comments are needed here and
 * they are rejected rather than half-handled.
 */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`xml: ${msg} at offset ${i}`);
  };
  const skipSpace = (): void => {
    while (i < src.length && /\s/.test(src[i] ?? "")) i++;
  };
  if (src.startsWith("<?xml", i)) {
    const end = src.indexOf("?>", i);
    if (end < 0) fail("unterminated declaration");
    i = end + 2;
  }
  skipSpace();
  const root = parseElement();
  skipSpace();
  if (i !== src.length) fail("content after the root element");
  return root;

  function parseElement(): XmlElement {
    if (src[i] !== "<") fail("expected <");
    if (src.startsWith("<!", i) || src.startsWith("<?", i)) fail("comments, CDATA and processing instructions are not supported");
    i++;
    const name = readName();
    const attrs: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (src.startsWith("/>", i)) {
        i += 2;
        return { name, attrs, children: [], text: "" };
      }
      if (src[i] === ">") {
        i++;
        break;
      }
      const an = readName();
      skipSpace();
      if (src[i] !== "=") fail(`expected = after attribute ${an}`);
      i++;
      skipSpace();
      const q = src[i];
      if (q !== '"' && q !== "'") fail("expected a quoted attribute value");
      const end = src.indexOf(q as string, i + 1);
      if (end < 0) fail("unterminated attribute value");
      attrs[an] = decode(src.slice(i + 1, end));
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = "";
    for (;;) {
      if (i >= src.length) fail(`unterminated element ${name}`);
      if (src.startsWith("</", i)) {
        i += 2;
        const close = readName();
        if (close !== name) fail(`</${close}> closes <${name}>`);
        skipSpace();
        if (src[i] !== ">") fail("expected >");
        i++;
        return { name, attrs, children, text };
      }
      if (src[i] === "<") {
        children.push(parseElement());
        continue;
      }
      const next = src.indexOf("<", i);
      const end = next < 0 ? src.length : next;
      text += decode(src.slice(i, end));
      i = end;
    }
  }

  function readName(): string {
    const m = /^[A-Za-z_][\w.:-]*/.exec(src.slice(i, i + 200));
    if (!m) return fail("expected a name");
    i += m[0].length;
    return m[0];
  }
}

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[e] ?? "";
  });
}

/** Direct child by name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** Text of the first element found along a path of child names, or undefined. */
export function textAt(el: XmlElement, ...path: string[]): string | undefined {
  let cur: XmlElement | undefined = el;
  for (const p of path) cur = cur && child(cur, p);
  return cur?.text;
}

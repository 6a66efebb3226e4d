// A fast path for the YAML that Kubernetes manifests are made of: block mappings and
// sequences, single-line plain and quoted scalars, literal block scalars (`|`, `|-`),
// comments and `---` between documents. It returns exactly what the `yaml` package's
// parseAllDocuments(text) + doc.toJS() returns (YAML 1.2, core schema), or undefined for
// anything outside that subset (flow collections, anchors and aliases, tags, folded or
// multi-line scalars, escapes, tabs, duplicate or non-string keys, a document that is a
// scalar, nesting deeper than asked, any construct yaml might report an error for...):
// the caller then parses with `yaml`, which gives its own values, errors and limits. So
// this path never reports an error and never accepts what `yaml` refuses; the
// differential tests in test/unit/simple-yaml.test.ts hold it to that.
// Why: `yaml` builds a CST and a document model first, about 1 s per 500 KB file; this is
// one linear pass over the lines (tens of ms for the same file).

/** Thrown inside the parser when the text is outside the subset; never escapes it. */
const UNSUPPORTED = Symbol('unsupported');
function unsupported(): never {
  throw UNSUPPORTED;
}

// Characters the subset leaves to `yaml`: tabs (indentation rules), CR (line breaks), C0/C1
// controls and DEL (not printable in YAML), NEL/LS/PS (line breaks in YAML 1.1), BOM and
// non-characters, and the Unicode spaces (NBSP, U+2000-U+200A, ...) that JavaScript's trim()
// removes and YAML keeps as content ("a: x\u00a0" is "x\u00a0" to yaml).
const OUTSIDE = /[\u0000-\u0009\u000B-\u001F\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF\uFFFE\uFFFF]/;
/** What a plain scalar (or key) may not start with: YAML's indicators. */
const INDICATOR = new Set(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);
/** Longer implicit keys are an error in `yaml` (1024 characters): leave them to it. */
const MAX_KEY = 1000;

// The core schema's plain scalars, tested in yaml's order (null, bool, int oct, int, int
// hex, float NaN/Inf, float exp, float) and resolved as yaml resolves them.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
/** First characters of every non-string plain scalar (the empty string is null, and never reaches here). */
const MAYBE_NOT_STRING = /^[-+.~0-9nNtTfF]/;

export function resolvePlain(s: string): string | number | boolean | null {
  if (!MAYBE_NOT_STRING.test(s)) return s;
  if (NULL.test(s)) return null;
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT_OCT.test(s)) return parseInt(s.substring(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (INT_HEX.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  return s;
}

interface Line {
  indent: number;
  /** The line without its indentation. */
  content: string;
}

/**
 * The documents of a YAML stream as yaml's parseAllDocuments(text).map((d) => d.toJS())
 * would give them (null for an empty document), or undefined when the text is outside
 * the subset this parser is sure of. Nesting deeper than `maxDepth` collections is left
 * to yaml too (the caller's limits then apply as they do to yaml's values).
 */
export function parseSimpleYaml(text: string, maxDepth: number): unknown[] | undefined {
  if (OUTSIDE.test(text)) return undefined;
  try {
    return new SimpleParser(text, maxDepth).documents();
  } catch (e) {
    if (e === UNSUPPORTED) return undefined;
    throw e;
  }
}

/** The spaces a line starts with (its indentation). */
function spaces(l: string): number {
  let n = 0;
  while (l.charCodeAt(n) === 32) n++;
  return n;
}

class SimpleParser {
  private readonly lines: string[];
  private pos = 0;
  /** End (exclusive) of the current document's lines. */
  private end = 0;

  private readonly text: string;
  private readonly maxDepth: number;

  constructor(text: string, maxDepth: number) {
    this.text = text;
    this.maxDepth = maxDepth;
    this.lines = text.split('\n');
  }

  documents(): unknown[] {
    const docs: unknown[] = [];
    const { lines } = this;
    let start = 0;
    let explicit = false; // the current document began with `---`
    const flush = (end: number) => {
      this.pos = start;
      this.end = end;
      const first = this.peek();
      if (!first) {
        if (explicit) docs.push(null);
        return;
      }
      if (first.indent !== 0) unsupported();
      docs.push(this.block(0, 1));
      if (this.peek()) unsupported(); // something after the root collection
    };
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.startsWith('---') && (l.length === 3 || l[3] === ' ')) {
        const rest = l.slice(3).trimStart();
        if (rest !== '' && rest[0] !== '#') unsupported(); // content after the marker
        flush(i);
        start = i + 1;
        explicit = true;
      } else if (l.startsWith('...') && (l.length === 3 || l[3] === ' ')) unsupported();
    }
    flush(lines.length);
    return docs;
  }

  /** The last line peek() returned, and its index: every enclosing collection peeks at the line that ends it. */
  private peeked: Line | undefined;
  private peekedPos = -1;

  /** The next line with content (blank and comment-only lines skipped), not consumed. */
  private peek(): Line | undefined {
    if (this.peekedPos === this.pos && this.pos < this.end) return this.peeked;
    const { lines } = this;
    while (this.pos < this.end) {
      const l = lines[this.pos]!;
      const indent = spaces(l);
      if (indent < l.length && l[indent] !== '#') {
        this.peekedPos = this.pos;
        this.peeked = { indent, content: l.slice(indent) };
        return this.peeked;
      }
      this.pos++;
    }
    return undefined;
  }

  /** A block collection whose first line (at `indent`) is the next content line. */
  private block(indent: number, depth: number): unknown {
    if (depth > this.maxDepth) unsupported();
    const line = this.peek()!;
    return isSeqItem(line.content) ? this.seq(indent, depth) : this.map(indent, depth, undefined);
  }

  private seq(indent: number, depth: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const line = this.peek();
      if (!line || line.indent < indent) break;
      if (line.indent > indent) unsupported();
      if (!isSeqItem(line.content)) break; // the parent's (a compact sequence's key's sibling), or an error the parent finds
      const rest = line.content.slice(1);
      const text = rest.trimStart();
      if (text === '' || text[0] === '#') {
        this.pos++;
        out.push(this.nested(indent, depth, false));
        continue;
      }
      if (isSeqItem(text)) unsupported(); // `- - x`
      const column = indent + 1 + (rest.length - text.length);
      if (splitEntry(text)) {
        if (depth + 1 > this.maxDepth) unsupported();
        out.push(this.map(column, depth + 1, text));
      } else {
        this.pos++;
        out.push(this.scalarOrLiteral(text, indent, depth));
      }
    }
    return out;
  }

  /** A block mapping at `indent`; `first` is the text of its first entry when it starts mid-line (`- key: value`). */
  private map(indent: number, depth: number, first: string | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let pending = first;
    for (;;) {
      let text: string;
      if (pending !== undefined) {
        text = pending;
        pending = undefined;
      } else {
        const line = this.peek();
        if (!line || line.indent < indent) break;
        if (line.indent > indent) unsupported();
        text = line.content;
      }
      const entry = splitEntry(text);
      if (!entry) unsupported(); // a sequence item or a scalar among the keys
      const [key, rest] = entry;
      if (key === '__proto__' || Object.hasOwn(out, key)) unsupported(); // yaml reports duplicates
      this.pos++;
      const value = rest.trimStart();
      out[key] = value === '' || value[0] === '#' ? this.nested(indent, depth, true) : this.scalarOrLiteral(value, indent, depth);
    }
    return out;
  }

  /** The value of a `key:` or `-` with nothing after it on the line: a block below it, or null. */
  private nested(parentIndent: number, depth: number, compactSeq: boolean): unknown {
    const line = this.peek();
    if (!line) return null;
    if (line.indent > parentIndent) return this.block(line.indent, depth + 1);
    if (compactSeq && line.indent === parentIndent && isSeqItem(line.content)) {
      if (depth + 1 > this.maxDepth) unsupported();
      return this.seq(parentIndent, depth + 1);
    }
    return null;
  }

  /** A value that starts on the line just consumed (in a collection at `depth`): a scalar (its lines below too), a literal block scalar, `{}` or `[]`. */
  private scalarOrLiteral(text: string, parentIndent: number, depth: number): unknown {
    const c = text[0]!;
    if (c === '|') return this.literal(text, parentIndent);
    if ((c === '{' || c === '[') && text[1] === (c === '{' ? '}' : ']')) {
      checkTrailer(text.slice(2));
      if (depth + 1 > this.maxDepth) unsupported();
      return c === '{' ? {} : [];
    }
    if (c === '"' || c === "'") return this.quotedScalar(text, parentIndent);
    if (INDICATOR.has(c) && !(c === '-' && text.length > 1 && text[1] !== ' ')) unsupported();
    const hash = text.indexOf(' #');
    const first = (hash === -1 ? text : text.slice(0, hash)).trimEnd();
    if (first.includes(': ') || first.endsWith(':')) unsupported(); // a mapping on the line of a value
    // A comment ends the scalar; a deeper line after it is then left to yaml by the callers.
    return resolvePlain(hash === -1 ? this.foldPlain(first, parentIndent) : first);
  }

  /**
   * A plain scalar's continuation lines (deeper than the parent, not comments), folded as
   * YAML folds them: each trimmed, one line break a space, n empty lines n newlines.
   */
  private foldPlain(first: string, parentIndent: number): string {
    const { lines } = this;
    let out = first;
    let blanks = 0;
    for (let p = this.pos; p < this.end; p++) {
      const l = lines[p]!;
      const n = spaces(l);
      if (n === l.length) {
        blanks++;
        continue;
      }
      if (n <= parentIndent || l[n] === '#') break;
      const content = l.slice(n).trimEnd();
      // Text goes on (`&&`, `!x`, `'a'`... are text here); a block indicator, a mapping or a comment is left to yaml.
      const c = content[0]!;
      if (((c === '-' || c === '?' || c === ':') && (content.length === 1 || content[1] === ' ')) || content.includes(': ') || content.endsWith(':') || content.includes(' #')) unsupported();
      out += blanks ? '\n'.repeat(blanks) : ' ';
      out += content;
      blanks = 0;
      this.pos = p + 1;
    }
    return out;
  }

  /** A single- or double-quoted scalar, on one line or folded over several. */
  private quotedScalar(text: string, parentIndent: number): string {
    const one = quoted(text);
    if (one) {
      checkTrailer(one[1]);
      return one[0];
    }
    const quote = text[0]!;
    const first = text.slice(1).trimEnd();
    if (first === '') unsupported();
    let out = unquote(first, quote);
    let blanks = 0;
    const { lines } = this;
    for (let p = this.pos; p < this.end; p++) {
      const l = lines[p]!;
      const n = spaces(l);
      if (n === l.length) {
        blanks++;
        continue;
      }
      if (n <= parentIndent) unsupported();
      const content = l.slice(n);
      const end = closingQuote(content, quote);
      const piece = end === -1 ? content.trimEnd() : content.slice(0, end);
      if (piece === '') unsupported(); // a closing quote first on its line: left to yaml
      out += (blanks ? '\n'.repeat(blanks) : ' ') + unquote(piece, quote);
      blanks = 0;
      if (end !== -1) {
        checkTrailer(content.slice(end + 1));
        this.pos = p + 1;
        return out;
      }
    }
    return unsupported(); // not closed in this document
  }

  /** `|`, `|-`: the lines below that are indented deeper than the parent, as yaml keeps them. */
  private literal(header: string, parentIndent: number): string {
    const chomp = header[1] === '-' ? 'strip' : 'clip';
    const after = header.slice(chomp === 'strip' ? 2 : 1);
    if (after !== '' && !(after[0] === ' ' && (after.trim() === '' || after.trimStart()[0] === '#'))) unsupported(); // `|+`, `|2`, ...
    const { lines } = this;
    const body: string[] = [];
    let contentIndent = -1;
    let leadingBlankMax = 0;
    for (; this.pos < this.end; this.pos++) {
      const l = lines[this.pos]!;
      const n = spaces(l);
      if (n === l.length) {
        // blank (or spaces only): part of the scalar whatever its indentation
        if (contentIndent < 0) leadingBlankMax = Math.max(leadingBlankMax, n);
        body.push(l);
        continue;
      }
      if (contentIndent < 0) {
        if (n <= parentIndent) break;
        contentIndent = n;
      } else if (n < contentIndent) break;
      body.push(l);
    }
    // No content line, leading blanks longer than the indentation (an error in yaml), or the last line without a newline after it.
    if (contentIndent < 0 || leadingBlankMax > contentIndent) unsupported();
    if (this.pos >= lines.length && !this.text.endsWith('\n')) unsupported();
    // Blank lines after the last content line are only line breaks (chomped); the lines are cut at the content indentation.
    let last = body.length - 1;
    while (last >= 0 && body[last]!.length <= contentIndent) last--;
    const content = body.slice(0, last + 1).map((l) => l.slice(contentIndent)).join('\n');
    return chomp === 'strip' ? content : `${content}\n`;
  }
}

function isSeqItem(content: string): boolean {
  return content[0] === '-' && (content.length === 1 || content[1] === ' ');
}

/** `key: rest` → [key, rest]; undefined when the text is not a mapping entry. */
function splitEntry(text: string): [string, string] | undefined {
  const c = text[0];
  if (c === '"' || c === "'") {
    const q = quoted(text);
    if (!q) return undefined;
    const [key, after] = q;
    let i = 0;
    while (after[i] === ' ') i++;
    if (after[i] !== ':' || (i + 1 < after.length && after[i + 1] !== ' ')) return undefined;
    if (key.length > MAX_KEY) unsupported();
    return [key, after.slice(i + 1)];
  }
  let i = text.indexOf(':');
  while (i !== -1 && i + 1 < text.length && text[i + 1] !== ' ') i = text.indexOf(':', i + 1);
  if (i === -1) return undefined;
  const hash = text.indexOf(' #');
  if (hash !== -1 && hash < i) return undefined; // the colon is in a comment
  const key = text.slice(0, i).trimEnd();
  // Keys yaml would read as something else than a string, or with an indicator: left to yaml.
  if (key === '' || key.length > MAX_KEY || INDICATOR.has(key[0]!) || typeof resolvePlain(key) !== 'string') unsupported();
  return [key, text.slice(i + 1)];
}

/** Index of the quote that closes a scalar in text (`''` is an escaped quote in single quotes), or -1. */
function closingQuote(text: string, quote: string): number {
  if (quote === '"') {
    // Linear: each search starts where the last one ended (a line of 2 MiB of backslashes stays fast).
    let j = text.indexOf('"');
    for (let b = text.indexOf('\\'); j !== -1 && b !== -1 && b < j; b = text.indexOf('\\', b + 2)) {
      if (j === b + 1) j = text.indexOf('"', b + 2); // that quote is escaped
    }
    return j;
  }
  for (let i = 0; ;) {
    const j = text.indexOf("'", i);
    if (j === -1 || text[j + 1] !== "'") return j;
    i = j + 2;
  }
}

/** A quoted scalar at the start of text: [value, what follows the closing quote]; undefined if it does not close on this line. */
function quoted(text: string): [string, string] | undefined {
  const quote = text[0]!;
  const end = closingQuote(text.slice(1), quote);
  if (end === -1) return undefined;
  return [unquote(text.slice(1, end + 1), quote), text.slice(end + 2)];
}

/**
 * YAML's one-character escapes of double-quoted scalars; the others (\\x, \\u, \\U, \\N, \\_,
 * \\L, \\P, an escaped line break, which is a backslash last on a line once it is trimmed) are left to yaml.
 */
const ESCAPES: Record<string, string> = { '0': '\0', a: '\x07', b: '\b', t: '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b', ' ': ' ', '"': '"', '/': '/', '\\': '\\' };

/** The text of one line's part of a quoted scalar: `''` in single quotes, escapes in double quotes. */
function unquote(raw: string, quote: string): string {
  if (quote === "'") return raw.replaceAll("''", "'");
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(.?)/g, (_, c: string) => ESCAPES[c] ?? unsupported());
}

/** What may follow a quoted scalar on its line: nothing, spaces, a comment after a space. */
function checkTrailer(after: string): void {
  if (after !== '' && !(after[0] === ' ' && (after.trim() === '' || after.trimStart()[0] === '#'))) unsupported();
}

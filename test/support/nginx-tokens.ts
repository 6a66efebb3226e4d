// A small nginx config tokenizer that decodes arguments the way nginx's own parser does
// (ngx_conf_read_token): a directive is a name plus arguments up to ";" or "{"; inside and
// outside quotes a backslash escapes the next character, and \" \' \\ \t \r \n decode to
// that character. Tests use it to check that a user value stayed one argument of the
// directive that should carry it, with nothing added around it.

export interface Directive {
  /** Decoded name (for a map entry: its pattern). */
  name: string;
  /** Decoded arguments. */
  args: string[];
  /** 1-based line of the name. */
  line: number;
  /** The enclosing block directives, outermost first (server, location...). */
  parents: Directive[];
  /** Ends with "{" (a block) rather than ";". */
  block: boolean;
}

function decode(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\' || i + 1 >= raw.length) { out += c; continue; }
    const n = raw[i + 1];
    if (n === '"' || n === "'" || n === '\\') { out += n; i++; }
    else if (n === 't') { out += '\t'; i++; }
    else if (n === 'r') { out += '\r'; i++; }
    else if (n === 'n') { out += '\n'; i++; }
    else out += c; // nginx keeps other escapes as written
  }
  return out;
}

/**
 * The Lua code of a *_by_lua_block from just after its "{" to the matching "}" (returned
 * `end` is past it), skipping braces in Lua strings, long brackets and comments.
 */
function luaBlock(text: string, from: number): { code: string; end: number } {
  let depth = 1;
  let i = from;
  const longBracket = (at: number) => /^\[(=*)\[/.exec(text.slice(at, at + 64));
  while (i < text.length) {
    const c = text[i]!;
    if (c === '-' && text[i + 1] === '-') {
      const lb = longBracket(i + 2);
      if (lb) { const close = text.indexOf(`]${lb[1]}]`, i + 2 + lb[0].length); if (close < 0) break; i = close + lb[1]!.length + 2; continue; }
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const lb = c === '[' ? longBracket(i) : null;
    if (lb) { const close = text.indexOf(`]${lb[1]}]`, i + lb[0].length); if (close < 0) break; i = close + lb[1]!.length + 2; continue; }
    if (c === '{') depth++;
    if (c === '}' && --depth === 0) return { code: text.slice(from, i), end: i + 1 };
    i++;
  }
  throw new Error('unterminated *_by_lua_block');
}

/** Every directive of an nginx config, in order; throws where nginx's parser would. */
export function parseNginx(text: string): Directive[] {
  const out: Directive[] = [];
  const stack: Directive[] = [];
  let words: { value: string; line: number }[] = [];
  let i = 0;
  let line = 1;
  const end = (block: boolean) => {
    if (!words.length) throw new Error(`line ${line}: unexpected "${block ? '{' : ';'}"`);
    const [name, ...args] = words;
    const d: Directive = { name: name.value, args: args.map((a) => a.value), line: name.line, parents: [...stack], block };
    out.push(d);
    if (block) stack.push(d);
    words = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === ';') { end(false); i++; continue; }
    if (c === '{' && words.length && words[0]!.value.endsWith('_by_lua_block')) {
      // lua-nginx-module reads a *_by_lua_block's body with its own Lua lexer: one argument.
      const startLine = line;
      const body = luaBlock(text, i + 1);
      line += (text.slice(i, body.end).match(/\n/g) ?? []).length;
      words.push({ value: body.code, line: startLine });
      end(false);
      i = body.end;
      continue;
    }
    if (c === '{') { end(true); i++; continue; }
    if (c === '}') {
      if (words.length) throw new Error(`line ${line}: unexpected "}"`);
      if (!stack.length) throw new Error(`line ${line}: unexpected "}"`);
      stack.pop();
      i++;
      continue;
    }
    const startLine = line;
    let raw = '';
    if (c === '"' || c === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`line ${startLine}: unterminated string`);
        const d = text[i];
        if (d === '\\' && i + 1 < text.length) { raw += d + text[i + 1]; if (text[i + 1] === '\n') line++; i += 2; continue; }
        if (d === c) { i++; break; }
        if (d === '\n') line++;
        raw += d;
        i++;
      }
      // nginx wants a separator after a closing quote; ")" counts as one and starts the next word ("if ($x = "")").
      if (i < text.length && !/[\s;{)]/.test(text[i])) throw new Error(`line ${line}: unexpected "${text[i]}" after a quoted string`);
    } else {
      // An unquoted word ends at a space, ";" or "{", except the "{" of "${name}".
      while (i < text.length && !/[\s;{]/.test(text[i])) {
        if (text[i] === '\\' && i + 1 < text.length) { raw += text[i] + text[i + 1]; i += 2; continue; }
        if (text[i] === '$' && text[i + 1] === '{') { const close = text.indexOf('}', i); if (close < 0) throw new Error(`line ${line}: unterminated variable`); raw += text.slice(i, close + 1); i = close + 1; continue; }
        raw += text[i++];
      }
    }
    words.push({ value: decode(raw), line: startLine });
  }
  if (words.length || stack.length) throw new Error('unexpected end of file');
  return out;
}

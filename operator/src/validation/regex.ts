// Go RE2 patterns (OpenAPI `pattern`, CEL `matches()`) translated to JS RegExp with the `u`
// flag. The differences that matter for matching are rewritten; RE2 syntax with no faithful
// JS equivalent throws, so an unsupported pattern fails loudly instead of matching wrongly.

const cache = new Map<string, RegExp>();

/** A compiled RegExp that matches like Go's regexp.MatchString(pattern, s) (unanchored search). */
export function re2(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    const { source, flags } = translate(pattern);
    re = new RegExp(source, flags);
    cache.set(pattern, re);
  }
  return re;
}

export class UnsupportedRegexError extends Error {}

/** RE2 escapes of ASCII punctuation mean the literal character; JS `u` mode rejects most of them. */
const punct = /[!-\/:-@\[-`{-~]/;
const hex = (ch: string) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
/** RE2's \s is ASCII-only and `.` excludes only \n; JS's versions are wider. */
const perlSpace = '\\t\\n\\f\\r ';

function translate(pattern: string): { source: string; flags: string } {
  let out = '';
  let inClass = false;
  let caseless = false;
  // Per open group: how many "(?i:" we opened for a "(?i)" inside it, closed with the group.
  const groups = [0];
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new UnsupportedRegexError(`trailing backslash: ${pattern}`);
      i += 2;
      if (next === 's') out += inClass ? perlSpace : `[${perlSpace}]`;
      else if (next === 'S') {
        if (inClass) throw new UnsupportedRegexError(`\\S inside a character class is not supported: ${pattern}`);
        out += `[^${perlSpace}]`;
      } else if (next === 'z') out += '$'; // without the m flag, JS $ is end of text like RE2's \z
      else if (next === 'A') out += '^';
      else if ('dDwWbBfnrtv'.includes(next)) out += '\\' + next;
      else if (next === 'x') {
        const braced = /^\{([0-9a-fA-F]+)\}/.exec(pattern.slice(i));
        const digits = braced ? braced[0] : pattern.slice(i, i + 2);
        out += braced ? `\\u{${braced[1]}}` : `\\x${digits}`;
        i += digits.length;
      } else if (next === 'p' || next === 'P') {
        const braced = /^\{\^?[A-Za-z_]+\}/.exec(pattern.slice(i));
        if (braced?.[0].startsWith('{^')) throw new UnsupportedRegexError(`negated \\p{^..} is not supported: ${pattern}`);
        const name = braced ? braced[0] : `{${pattern[i]}}`;
        out += `\\${next}${name}`;
        i += braced ? name.length : 1;
      } else if (/[0-9]/.test(next)) throw new UnsupportedRegexError(`octal escapes and backreferences are not supported: ${pattern}`);
      else if (punct.test(next)) out += hex(next);
      else throw new UnsupportedRegexError(`escape \\${next} is not supported: ${pattern}`);
      continue;
    }
    if (inClass) {
      if (ch === '[' && pattern[i + 1] === ':') throw new UnsupportedRegexError(`POSIX character classes are not supported: ${pattern}`);
      if (ch === ']') inClass = false;
      out += ch === '[' ? '\\[' : ch;
      i++;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += '[';
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      // A ']' right after '[' or '[^' is a literal in RE2, an empty class in JS.
      if (pattern[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(') {
      const flagsOnly = /^\(\?i\)/.exec(pattern.slice(i));
      if (flagsOnly) {
        // RE2's (?i) lasts to the end of the enclosing group. Leading the pattern, it is the i flag;
        // elsewhere, a JS modifier group closed with the enclosing group.
        if (groups.length === 1 && /^\^*$/.test(out)) caseless = true;
        else {
          out += '(?i:';
          groups.push((groups.pop() ?? 0) + 1);
        }
        i += flagsOnly[0].length;
        continue;
      }
      const group = /^\((\?(:|P?<[A-Za-z_][A-Za-z0-9_]*>|i:))?/.exec(pattern.slice(i))!;
      if (pattern[i + 1] === '?' && !group[1]) throw new UnsupportedRegexError(`group syntax is not supported: ${pattern}`);
      out += '(' + (group[1] ?? '').replace('?P<', '?<');
      groups.push(0);
      i += group[0].length;
      continue;
    }
    if (ch === ')' || ch === '|') {
      if (ch === '|' && (groups.at(-1) ?? 0) > 0) throw new UnsupportedRegexError(`alternation after an inline (?i) is not supported: ${pattern}`);
      if (ch === ')') out += ')'.repeat(groups.pop() ?? 0);
      out += ch;
      i++;
      continue;
    }
    if (ch === '{') {
      // A brace that does not start a repetition is a literal in RE2, a syntax error in JS `u` mode.
      const rep = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i));
      out += rep ? rep[0] : '\\{';
      i += rep ? rep[0].length : 1;
      continue;
    }
    if (ch === '}' || ch === ']') out += '\\' + ch;
    else if (ch === '.') out += '[^\\n]';
    else out += ch;
    i++;
  }
  if (inClass) throw new UnsupportedRegexError(`missing closing ]: ${pattern}`);
  out += ')'.repeat(groups[0] ?? 0);
  return { source: out, flags: caseless ? 'iu' : 'u' };
}

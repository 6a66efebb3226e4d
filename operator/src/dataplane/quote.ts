// The one way a string becomes an nginx token. Every value is double-quoted; inside
// quotes nginx's parser only interprets \" \' \\ \n \r \t, so escaping backslashes and
// quotes makes ";", "{", "}", "#" and spaces inert. "$" is literal in the contexts these
// tokens are used in (location, server_name, map keys and regexes); in script contexts
// that expand variables (header values, redirect targets) it becomes ${wg_dollar}, a
// variable whose value is "$" (nginx has no escape for it). Values were validated first (values/checks.ts); this
// layer still refuses control characters and over-long tokens, as a second wall.

import { limits } from '../values/checks.ts';

/** nginx reads one token into a 4 KiB buffer; stay below it (the graph checks the same limit). */
const MAX_TOKEN = limits.token;

export class UnsafeValueError extends Error {}

/** What nginx's parser un-escapes inside quotes, and its escape. */
const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function quote(value: string, opts: { script?: boolean } = {}): string {
  if (typeof value !== 'string') throw new UnsafeValueError(`not a string: ${String(value)}`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) throw new UnsafeValueError(`control character in ${JSON.stringify(value)}`);
  // One pass, and none for the usual value without such characters (every token of the config goes through here).
  const raw = opts.script ? scriptLiteral(value) : value;
  const body = /[\\"\n\r\t]/.test(raw) ? raw.replace(/[\\"\n\r\t]/g, (c) => ESCAPES[c]!) : raw;
  if (body.length > MAX_TOKEN) throw new UnsafeValueError(`value of ${body.length} characters exceeds nginx's token limit`);
  return `"${body}"`;
}

/** Dollar signs of a literal made inert for a script context; the result is then quoted. */
export function scriptLiteral(value: string): string {
  return value.replace(/\$/g, '${wg_dollar}');
}

/** Escapes PCRE metacharacters so that a literal matches itself. */
export function regexLiteral(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}\/-]/g, '\\$&');
}

/** The nginx variable of a request header (names are validated: letters, digits, "-"). */
export const headerVar = (name: string) => `$http_${name.toLowerCase().replace(/-/g, '_')}`;
/** The nginx variable of a query argument (names are validated: letters, digits, "_"). */
export const queryVar = (name: string) => `\${arg_${name}}`;

/** Names we generate (upstreams, variables): already safe; asserted, never quoted. */
export function identifier(name: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new UnsafeValueError(`bad identifier ${JSON.stringify(name)}`);
  return name;
}

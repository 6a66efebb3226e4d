// Renders values the way the API server's Go code prints them in error messages, so that
// our messages are byte-for-byte those of `kubectl apply` against a real cluster.

/** Go's unicode.IsPrint, for the purposes of strconv.Quote: letters, marks, numbers, punctuation, symbols, ASCII space. */
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** strconv.Quote / fmt's %q for a string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (printable.test(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** fmt's %v for a float64: %g with the shortest digits, in exponent form when exp < -4 || exp >= 6. */
export function goFloat(f: number): string {
  if (!Number.isFinite(f)) return Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mantissa, expStr] = f.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(f);
}

/** fmt's %v for a JSON scalar decoded by the API server (integers are int64, others float64). */
export function goNumber(n: number | bigint): string {
  return typeof n === 'bigint' || Number.isInteger(n) ? String(n) : goFloat(n);
}

/** encoding/json.Marshal: sorted object keys and HTML-safe escaping. */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  if (typeof v === 'number' || typeof v === 'bigint') return String(v); // Go's float encoding matches ES here
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (v instanceof Map) return goJson(Object.fromEntries(v));
  const obj = v as Record<string, unknown>;
  return `{${Object.keys(obj).sort().map((k) => `${goJson(k)}:${goJson(obj[k])}`).join(',')}}`;
}

/** What field.Error prints for a bad value: %q for strings, %v for numbers and booleans, JSON for the rest. */
export function goValue(v: unknown): string {
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'number' || typeof v === 'bigint') return goNumber(v);
  if (typeof v === 'boolean') return String(v);
  return goJson(v);
}

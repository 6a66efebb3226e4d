// Allow-lists for every user-controlled string that can reach nginx.conf. Route authors
// are untrusted (IngressNightmare): a value outside these lists fails its rule with a
// condition and never reaches the renderer. The renderer then emits values only through
// dataplane/quote.ts. Each check returns undefined when valid, else a message naming the
// problem. graph/ (conditions) and dataplane/ (limits) both import these rules from here.

import { RegexAnalysisTimeout, regexProblem } from './regex.ts';

const CONTROL = /[\u0000-\u001f\u007f]/;

const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** Exact and PathPrefix values: RFC 3986 path characters, no percent-escapes (nginx matches decoded URIs). */
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
/** Header names nginx exposes as $http_<name>: letters, digits, dashes. */
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** Query parameter names usable as ${arg_<name>}. */
const QUERY_NAME = /^[A-Za-z0-9_]+$/;
/** Printable ASCII, no control characters (header values cannot carry newlines). */
const PRINTABLE = /^[\x20-\x7e]*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Lengths we accept. Besides the CRDs' own limits they bound what nginx must hold: the
 * main config sizes its hashes for the longest hostname, header name and variable name
 * (dataplane/hashes.ts), so an accepted value can never make `nginx -t` fail for everyone.
 */
export const limits = { path: 1024, regex: 1024, headerValue: 1024, queryValue: 1024, hostname: 253, headerName: 256, queryName: 256, token: 4000, locationPath: 254, weight: 1_000_000 } as const;

/**
 * A value that becomes one quoted nginx token (a header value, say) must fit nginx's
 * 4 KiB token buffer after quoting: backslashes and quotes double, and in script contexts
 * each "$" becomes "${wg_dollar}" (dataplane/quote.ts). `extra` counts what the renderer
 * adds around the value in the same token.
 */
export function checkTokenLength(v: string, what: string, opts: { script?: boolean; extra?: number } = {}): string | undefined {
  let n = v.length + (opts.extra ?? 0);
  for (const ch of v) if (ch === '\\' || ch === '"') n++; else if (opts.script && ch === '$') n += 11;
  if (n > limits.token) return `${what} is ${v.length} characters; written into the nginx configuration it would take ${n} of the ${limits.token} characters one configuration token can hold`;
}

export function checkHostname(h: unknown): string | undefined {
  if (typeof h !== 'string' || h.length > limits.hostname || !HOSTNAME.test(h)) return `${JSON.stringify(String(h))} is not a valid hostname`;
}

export function checkPath(p: unknown): string | undefined {
  if (typeof p !== 'string' || p.length > limits.path) return `path longer than ${limits.path} characters`;
  if (!PATH.test(p)) return `${JSON.stringify(p)} must start with "/" and contain only unescaped RFC 3986 path characters`;
  if (/\/\.\.?(\/|$)|\/\//.test(p)) return `${JSON.stringify(p)} must not contain "//", "/./" or "/../"`;
}

/**
 * Regular expressions run in nginx's PCRE2 for every request of a shared location: a
 * common subset of PCRE2 and JavaScript with nothing that changes nginx state, proven free
 * of super-linear backtracking (regex.ts).
 */
export function checkRegex(re: unknown): string | undefined {
  if (typeof re !== 'string' || re.length === 0 || re.length > limits.regex) return `regular expression must have 1 to ${limits.regex} characters`;
  if (CONTROL.test(re)) return 'regular expression contains control characters';
  try {
    return regexProblem(re);
  } catch (err) {
    // The analysis' last-resort guard: this route is refused for now (not remembered, so
    // the next rebuild decides again); no other object waits on it.
    if (err instanceof RegexAnalysisTimeout) return `regular expression ${JSON.stringify(re)} could not be analysed for backtracking in time; it is refused until an analysis completes`;
    throw err;
  }
}

/**
 * Exact and PathPrefix match values become nginx locations, whose static lookup tree keeps
 * a name's length in one byte: a longer location is matched by the wrong name (a 300-
 * character path served another route's 44-character prefix). "/x" also becomes "/x/".
 */
export function checkMatchPath(p: unknown): string | undefined {
  const err = checkPath(p);
  if (err) return err;
  if ((p as string).length > limits.locationPath) return `path of ${(p as string).length} characters; nginx locations hold at most ${limits.locationPath}`;
}

/** A port number, checked here whatever the CRD says (it is printed into nginx.conf). */
export function checkPort(n: unknown): string | undefined {
  if (!(typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535)) return `${JSON.stringify(n)} is not a port number (1-65535)`;
}

/** A backendRef weight: an integer the upstream's `weight=` can carry (the CRD's range). */
export function checkWeight(n: unknown): string | undefined {
  if (!(typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= limits.weight)) return `${JSON.stringify(n)} is not a weight (an integer from 0 to ${limits.weight})`;
}

export function checkHeaderName(n: unknown): string | undefined {
  if (typeof n !== 'string' || n.length > limits.headerName || !HEADER_NAME.test(n)) return `header name ${JSON.stringify(String(n))} must contain only letters, digits and "-"`;
}

export function checkQueryName(n: unknown): string | undefined {
  if (typeof n !== 'string' || n.length > limits.queryName || !QUERY_NAME.test(n)) return `query parameter name ${JSON.stringify(String(n))} must contain only letters, digits and "_" (nginx \$arg_ variables)`;
}

export function checkPrintable(v: unknown, what: string, max: number): string | undefined {
  if (typeof v !== 'string' || v.length > max) return `${what} longer than ${max} characters`;
  if (!PRINTABLE.test(v)) return `${what} ${JSON.stringify(v)} must be printable ASCII`;
}

export function isDnsLabel(s: unknown): boolean {
  return typeof s === 'string' && DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: unknown): boolean {
  return typeof s === 'string' && s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

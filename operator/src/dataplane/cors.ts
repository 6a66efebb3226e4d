// The CORS filter in nginx: maps decide, per request, what each Access-Control-* header
// says, and add_header omits a header whose value is empty. The Origin is matched against
// regexes built here from the parsed allowOrigins (regexLiteral() for every user part, our
// own classes for the wildcards), so only an origin of letters, digits, ".", "-", ":" and
// "/" is ever echoed back. A preflight (OPTIONS with Origin and Access-Control-Request-
// Method) is answered by the gateway with 204; the backend never sees it.
import type { Cors, CorsOrigin } from '../graph/cors.ts';
import type { MapFactory } from './filters.ts';
import { quote, regexLiteral } from './quote.ts';

export interface CorsPreflight {
  /** Variable (without "$") that is "1" for a CORS preflight request. */
  variable: string;
  /** add_header lines of the preflight answer; their values are empty (omitted) unless the origin is allowed. */
  headers: { name: string; value: string }[];
}

export interface CorsActions {
  preflight: CorsPreflight;
  /** add_header lines of every other response (the backend's CORS headers are hidden). */
  addHeaders: { name: string; value: string }[];
  hideHeaders: string[];
}

/** One or more DNS labels, matched case-insensitively ("*" is greedy to the left, across dots). */
const LABELS = '[a-z0-9-]+(?:\\.[a-z0-9-]+)*';
/** A host of any origin: DNS labels or a bracketed IPv6 literal. */
const ANY_HOST = `(?:${LABELS}|\\[[0-9a-f:.]+\\])`;
/** An RFC 9110 token without "$" and "`" (nothing a browser sends as a method or header name needs them). */
const TOKEN = "[A-Za-z0-9!#%&'*+.^_|~-]+";

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** The regex (without anchors) that one allowOrigins entry matches: the default port may be written or not. */
export function originPattern(o: CorsOrigin): string {
  const host = o.host === '*' ? ANY_HOST : o.host.startsWith('*.') ? `${LABELS}${regexLiteral(o.host.slice(1))}` : regexLiteral(o.host);
  const port = o.port === undefined || o.port === DEFAULT_PORT[o.scheme] ? `(?::${DEFAULT_PORT[o.scheme]})?` : `:${o.port}`;
  return `${o.scheme}://${host}${port}`;
}

/** The pattern for allowOrigins "*": any http(s) origin with a host and an optional port. */
export const ANY_ORIGIN = `https?://${ANY_HOST}(?::[0-9]{1,5})?`;

const HIDDEN = ['Access-Control-Allow-Origin', 'Access-Control-Allow-Credentials', 'Access-Control-Allow-Methods', 'Access-Control-Allow-Headers', 'Access-Control-Expose-Headers', 'Access-Control-Max-Age'];

export function corsActions(maps: MapFactory, cors: Cors, source: string): CorsActions {
  const creds = cors.allowCredentials;
  // Without credentials "*" may stand for every origin; with them the origin is echoed (the spec).
  const star = cors.allowOrigins === '*' && !creds;
  const origins = cors.allowOrigins === '*' ? [ANY_ORIGIN] : cors.allowOrigins.map(originPattern);
  const originValue = quote(star ? '*' : '$http_origin');
  const allowed = origins.length
    ? maps('$http_origin', origins.map((o) => ({ pattern: quote(`~*^(?:${o})$`), value: originValue })), '""', source)
    : undefined;
  const origin = allowed ? `$${allowed}` : '""';
  /** A fixed value, sent only when the origin is allowed (a map value is a script: "$" made inert). */
  const whenAllowed = (value: string) => (allowed ? `$${maps(`$${allowed}`, [{ pattern: '""', value: '""' }], quote(value, { script: true }), source)}` : '""');
  /** The request header's value when it is a valid list of tokens and the origin is allowed. */
  const echo = (header: string, list: boolean) => {
    if (!allowed) return '""';
    const value = list ? `${TOKEN}(?:[ \\t]*,[ \\t]*${TOKEN})*` : TOKEN;
    return `$${maps(quote(`k$${allowed}\n${header}`), [{ pattern: quote(`~^k[^\\n]+\\n(${value})$`), value: '"$1"' }], '""', source)}`;
  };
  const methods = cors.allowMethods === '*' ? (creds ? echo('$http_access_control_request_method', false) : whenAllowed('*')) : cors.allowMethods.length ? whenAllowed(cors.allowMethods.join(', ')) : undefined;
  const headers = cors.allowHeaders === '*' ? (creds ? echo('$http_access_control_request_headers', true) : whenAllowed('*')) : cors.allowHeaders.length ? whenAllowed(cors.allowHeaders.join(', ')) : undefined;
  // With credentials "*" is not a wildcard for browsers: the names listed beside it still are exposed.
  const exposed = creds ? cors.exposeHeaders.filter((h) => h !== '*') : cors.exposeHeaders;
  const expose = exposed.length ? whenAllowed(exposed.join(', ')) : undefined;
  const credentials = creds ? whenAllowed('true') : undefined;
  const h = (name: string, value: string | undefined) => (value === undefined ? [] : [{ name: quote(name), value }]);
  // The answer differs by Origin unless it is "*" for everyone: shared caches must know.
  const vary = star ? [] : h('Vary', '"Origin"');
  const preflight = maps(quote('k$request_method\n$http_origin\n$http_access_control_request_method'), [{ pattern: quote('~^kOPTIONS\\n[^\\n]+\\n[^\\n]+$'), value: '"1"' }], '"0"', '');
  return {
    preflight: {
      variable: preflight,
      headers: [
        ...h('Access-Control-Allow-Origin', origin),
        ...h('Access-Control-Allow-Credentials', credentials),
        ...h('Access-Control-Allow-Methods', methods),
        ...h('Access-Control-Allow-Headers', headers),
        ...h('Access-Control-Max-Age', whenAllowed(String(cors.maxAge))),
        ...h('Access-Control-Expose-Headers', expose),
        ...vary,
      ],
    },
    addHeaders: [...h('Access-Control-Allow-Origin', origin), ...h('Access-Control-Allow-Credentials', credentials), ...h('Access-Control-Expose-Headers', expose), ...vary],
    hideHeaders: HIDDEN.map((n) => quote(n)),
  };
}

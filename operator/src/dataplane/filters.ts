// Rule filters as nginx directives for a rule's internal location: request header
// changes (proxy_set_header), response header changes (proxy_hide_header + add_header),
// redirects (return) and rewrites (the Host header and the proxied URI). User values go
// through quote() in script mode, so "$" in them stays a literal dollar.
import type { PathModifier, RuleFilters } from '../graph/filters.ts';
import { normalizePrefix } from '../graph/precedence.ts';
import type { RouteMatch } from '../graph/types.ts';
import { headerVar, quote, regexLiteral, scriptLiteral } from './quote.ts';
import { UPGRADE_HEADERS } from './backend-protocol.ts';

/** Creates (or reuses) a `map` and returns its variable name, without "$". */
export type MapFactory = (key: string, entries: { pattern: string; value: string }[], defaultValue: string, source: string) => string;

export interface FilterActions {
  redirect?: { status: number; location: string };
  /** proxy_set_header name value (quoted tokens), Host first. */
  requestHeaders: { name: string; value: string }[];
  hideHeaders: string[];
  addHeaders: { name: string; value: string }[];
  /** URLRewrite: the new path, an unquoted script expression (user parts already made inert). */
  proxyPath?: string;
}

/** The request path without its query, from the original request line. */
function requestPath(maps: MapFactory, source: string): string {
  return `$${maps('$request_uri', [{ pattern: quote('~^([^?]*)'), value: '$1' }], '""', source)}`;
}

/** The new path after a path modifier, as a script expression (no quotes yet). */
function modifiedPath(maps: MapFactory, mod: PathModifier, match: RouteMatch, source: string): string {
  if (mod.type === 'ReplaceFullPath') return scriptLiteral(mod.value);
  // ReplacePrefixMatch: keep what follows the matched prefix, at a path-element boundary.
  const prefix = regexLiteral(normalizePrefix(match.path.value) === '/' ? '' : normalizePrefix(match.path.value));
  const replacement = normalizePrefix(mod.value) === '/' ? '' : normalizePrefix(mod.value);
  const v = maps('$request_uri', [
    { pattern: quote(`~^${prefix}(/[^?]*)(?:\\?.*)?$`), value: quote(`${scriptLiteral(replacement)}$1`) },
    { pattern: quote(`~^${prefix}(?:\\?.*)?$`), value: quote(scriptLiteral(replacement || '/')) },
  ], '""', source);
  return `$${v}`;
}

function portSuffix(maps: MapFactory, scheme: string | undefined, port: number | undefined, source: string, listenerPort: string): string {
  const wellKnown = (s: string, p: number) => (s === 'http' && p === 80) || (s === 'https' && p === 443);
  if (port === undefined) {
    if (scheme) return ''; // the scheme's well-known port
    return `$${maps(`"$scheme:${listenerPort}"`, [{ pattern: '"http:80"', value: '""' }, { pattern: '"https:443"', value: '""' }], `":${listenerPort}"`, source)}`;
  }
  if (scheme) return wellKnown(scheme, port) ? '' : `:${port}`;
  return `$${maps('$scheme', [{ pattern: '"http"', value: port === 80 ? '""' : `":${port}"` }, { pattern: '"https"', value: port === 443 ? '""' : `":${port}"` }], `":${port}"`, source)}`;
}

export function filterActions(maps: MapFactory, filters: RuleFilters, match: RouteMatch, source: string, listenerPort = '$server_port'): FilterActions {
  const out: FilterActions = { requestHeaders: [], hideHeaders: [], addHeaders: [] };
  const r = filters.redirect;
  if (r) {
    const scheme = r.scheme ?? '$scheme';
    const host = r.hostname ? scriptLiteral(r.hostname) : '$host';
    const path = r.path ? modifiedPath(maps, r.path, match, source) : requestPath(maps, source);
    out.redirect = { status: r.statusCode, location: quote(`${scheme}://${host}${portSuffix(maps, r.scheme, r.port, source, listenerPort)}${path}$is_args$args`) };
    return out;
  }
  const headers = new Map<string, { name: string; value: string }>();
  const put = (name: string, value: string) => headers.set(name.toLowerCase(), { name: quote(name), value });
  put('Host', filters.rewrite?.hostname ? quote(filters.rewrite.hostname, { script: true }) : '$http_host');
  for (const h of UPGRADE_HEADERS) put(h.name, h.value); // WebSocket handshakes pass; else keep-alive
  put('X-Forwarded-For', '$proxy_add_x_forwarded_for');
  put('X-Forwarded-Proto', '$scheme');
  const req = filters.requestHeaders;
  for (const h of req?.set ?? []) put(h.name, quote(h.value, { script: true }));
  for (const h of req?.add ?? []) {
    // Append to a value the client sent, comma-separated, as the spec's "add" reads.
    const existing = headerVar(h.name);
    const v = maps(existing, [{ pattern: '""', value: quote(h.value, { script: true }) }], quote(`${existing},${scriptLiteral(h.value)}`), source);
    put(h.name, `$${v}`);
  }
  for (const name of req?.remove ?? []) put(name, '""'); // an empty value drops the header
  out.requestHeaders = [...headers.values()];
  const res = filters.responseHeaders;
  for (const h of res?.set ?? []) { out.hideHeaders.push(quote(h.name)); out.addHeaders.push({ name: quote(h.name), value: quote(h.value, { script: true }) }); }
  for (const h of res?.add ?? []) out.addHeaders.push({ name: quote(h.name), value: quote(h.value, { script: true }) });
  for (const name of res?.remove ?? []) out.hideHeaders.push(quote(name));
  if (filters.rewrite?.path) out.proxyPath = modifiedPath(maps, filters.rewrite.path, match, source);
  return out;
}

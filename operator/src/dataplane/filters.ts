// Rule filters as nginx directives for a rule's internal location: request header
// changes (proxy_set_header), response header changes (proxy_hide_header + add_header),
// redirects (return), rewrites (the Host header and the proxied URI) and CORS. A
// backendRef's own filters apply after the rule's, in the location of that backend (see
// backend-choice.ts). User values go through quote() in script mode, so "$" in them stays
// a literal dollar.
import type { BackendFilters, HeaderModifier, PathModifier, RuleFilters } from '../graph/filters.ts';
import { normalizePrefix } from '../graph/precedence.ts';
import type { RouteMatch } from '../graph/types.ts';
import { corsActions, type CorsPreflight } from './cors.ts';
import { headerVar, quote, regexLiteral, scriptLiteral } from './quote.ts';
import { UPGRADE_HEADERS } from './backend-protocol.ts';

/** Creates (or reuses) a `map` and returns its variable name, without "$". */

/**
 * What every proxied request carries unless a filter changes it: the client's Host, the
 * WebSocket handshake (else keep-alive), X-Forwarded-For and -Proto. Route servers set these
 * once (server.hbs); a location with its own list must repeat them (nginx inherits
 * proxy_set_header all or nothing).
 */
export const DEFAULT_REQUEST_HEADERS: readonly { key: string; name: string; value: string }[] = [
  { name: 'Host', value: '$http_host' },
  ...UPGRADE_HEADERS,
  { name: 'X-Forwarded-For', value: '$proxy_add_x_forwarded_for' },
  { name: 'X-Forwarded-Proto', value: '$scheme' },
].map((h) => ({ key: h.name.toLowerCase(), name: quote(h.name), value: h.value }));

/** Whether a target's request headers are exactly the defaults (it can inherit the server's). */
export function defaultHeadersOnly(headers: readonly { name: string; value: string }[]): boolean {
  return headers.length === DEFAULT_REQUEST_HEADERS.length && headers.every((h, i) => h.name === DEFAULT_REQUEST_HEADERS[i]!.name && h.value === DEFAULT_REQUEST_HEADERS[i]!.value);
}

export type MapFactory = (key: string, entries: { pattern: string; value: string }[], defaultValue: string, source: string) => string;

export interface FilterActions {
  redirect?: { status: number; location: string };
  /** proxy_set_header name value (quoted tokens), Host first. */
  requestHeaders: { name: string; value: string }[];
  hideHeaders: string[];
  addHeaders: { name: string; value: string }[];
  /** URLRewrite: the new path, an unquoted script expression (user parts already made inert). */
  proxyPath?: string;
  /** CORS: preflight requests answered in the location. */
  cors?: CorsPreflight;
}

/**
 * The request headers after a sequence of modifiers (the rule's, then a backendRef's), per
 * header name: untouched, a literal (set, or add after set), the client's value with
 * suffixes (add), or removed. Each modifier sees the result of the one before it.
 */
type RequestHeaderState = { name: string; literal: string } | { name: string; suffixes: string[] } | { name: string; removed: true };

function composeRequestHeaders(mods: readonly (HeaderModifier | undefined)[]): RequestHeaderState[] {
  const state = new Map<string, RequestHeaderState>();
  for (const m of mods) {
    for (const h of m?.set ?? []) state.set(h.name.toLowerCase(), { name: h.name, literal: h.value });
    for (const h of m?.add ?? []) {
      const key = h.name.toLowerCase();
      const cur = state.get(key);
      if (!cur) state.set(key, { name: h.name, suffixes: [h.value] });
      else if ('literal' in cur) state.set(key, { name: cur.name, literal: `${cur.literal},${h.value}` });
      else if ('suffixes' in cur) state.set(key, { name: cur.name, suffixes: [...cur.suffixes, h.value] });
      else state.set(key, { name: h.name, literal: h.value });
    }
    for (const name of m?.remove ?? []) state.set(name.toLowerCase(), { name, removed: true });
  }
  return [...state.values()];
}

/** Response headers after modifiers applied in order (a backendRef's first: it is nearer the backend). */
function composeResponseHeaders(mods: readonly (HeaderModifier | undefined)[]): ResponseHeaderState[] {
  const state = new Map<string, ResponseHeaderState>();
  for (const m of mods) {
    for (const h of m?.set ?? []) Object.assign(responseHeader(state, h.name), { hide: true, adds: [h.value] });
    for (const h of m?.add ?? []) responseHeader(state, h.name).adds.push(h.value);
    for (const name of m?.remove ?? []) Object.assign(responseHeader(state, name), { hide: true, adds: [] });
  }
  return [...state.values()];
}

type ResponseHeaderState = { name: string; hide: boolean; adds: string[] };

/** A response header's state by case-insensitive name, created untouched on first use. */
function responseHeader(state: Map<string, ResponseHeaderState>, name: string): ResponseHeaderState {
  return state.get(name.toLowerCase()) ?? state.set(name.toLowerCase(), { name, hide: false, adds: [] }).get(name.toLowerCase())!;
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

/** Sets a proxied request header, replacing any of the same name in another case. */
function putHeader(headers: Map<string, { name: string; value: string }>, name: string, value: string): void {
  headers.set(name.toLowerCase(), { name: quote(name), value });
}

/** `backend`: the filters of the backendRef this location sends to, applied after the rule's. */
export function filterActions(maps: MapFactory, filters: RuleFilters, match: RouteMatch, source: string, listenerPort = '$server_port', backend: BackendFilters = {}): FilterActions {
  const out: FilterActions = { requestHeaders: [], hideHeaders: [], addHeaders: [] };
  const cors = filters.cors ? corsActions(maps, filters.cors, source) : undefined;
  if (cors) out.cors = cors.preflight;
  const r = filters.redirect;
  if (r) {
    const scheme = r.scheme ?? '$scheme';
    const host = r.hostname ? scriptLiteral(r.hostname) : '$host';
    const path = r.path ? modifiedPath(maps, r.path, match, source) : requestPath(maps, source);
    out.redirect = { status: r.statusCode, location: quote(`${scheme}://${host}${portSuffix(maps, r.scheme, r.port, source, listenerPort)}${path}$is_args$args`) };
    return out;
  }
  const rewrite = { hostname: backend.rewrite?.hostname ?? filters.rewrite?.hostname, path: backend.rewrite?.path ?? filters.rewrite?.path };
  const headers = new Map<string, { name: string; value: string }>();
  for (const h of DEFAULT_REQUEST_HEADERS) headers.set(h.key, { name: h.name, value: h.value });
  if (rewrite.hostname) putHeader(headers, 'Host', quote(rewrite.hostname, { script: true }));
  for (const h of composeRequestHeaders([filters.requestHeaders, backend.requestHeaders])) {
    if ('removed' in h) putHeader(headers, h.name, '""'); // an empty value drops the header
    else if ('literal' in h) putHeader(headers, h.name, quote(h.literal, { script: true }));
    else {
      // Append to a value the client sent, comma-separated, as the spec's "add" reads.
      const existing = headerVar(h.name);
      const added = h.suffixes.join(',');
      const v = maps(existing, [{ pattern: '""', value: quote(added, { script: true }) }], quote(`${existing},${scriptLiteral(added)}`), source);
      putHeader(headers, h.name, `$${v}`);
    }
  }
  out.requestHeaders = [...headers.values()];
  for (const h of composeResponseHeaders([backend.responseHeaders, filters.responseHeaders])) {
    if (h.hide) out.hideHeaders.push(quote(h.name));
    for (const value of h.adds) out.addHeaders.push({ name: quote(h.name), value: quote(value, { script: true }) });
  }
  if (cors) {
    out.hideHeaders.push(...cors.hideHeaders);
    out.addHeaders.push(...cors.addHeaders);
  }
  if (rewrite.path) out.proxyPath = modifiedPath(maps, rewrite.path, match, source);
  return out;
}

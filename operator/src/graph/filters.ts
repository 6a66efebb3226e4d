// HTTPRoute filters: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect,
// URLRewrite, RequestMirror and CORS on rules, and the header and rewrite filters on
// backendRefs, checked against the allow-lists. Other filter types fail their rule
// (UnsupportedValue) rather than being ignored.
import type { BackendObjectReference, HTTPHeaderFilter, HTTPPathModifier, HTTPRequestMirrorFilter, HTTPRequestRedirectFilter, HTTPRouteFilter, HTTPURLRewriteFilter } from '../api/gateway-api.ts';
import { checkHeaderName, checkHostname, checkPath, checkPort, checkPrintable, checkTokenLength, limits } from '../values/checks.ts';
import { parseCors, type Cors } from './cors.ts';
import type { BackendNode } from './types.ts';

export interface HeaderModifier {
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

export type PathModifier = { type: 'ReplaceFullPath'; value: string } | { type: 'ReplacePrefixMatch'; value: string };

export interface Redirect {
  scheme?: 'http' | 'https';
  hostname?: string;
  port?: number;
  path?: PathModifier;
  statusCode: number;
}

export interface Rewrite {
  hostname?: string;
  path?: PathModifier;
}

/** RequestMirror: a copy of each request (or of a share of them) goes to one more backend. */
export interface Mirror {
  /** Resolved like a backendRef; a problem means the mirror is left out and ResolvedRefs is False. */
  backend: BackendNode;
  /** The filter's field path ("spec.rules[0].filters[1].requestMirror"), for messages. */
  field: string;
  /** The share of requests mirrored (percent p is p/100); undefined: every request. */
  fraction?: { numerator: number; denominator: number };
}

export interface RuleFilters {
  requestHeaders?: HeaderModifier;
  responseHeaders?: HeaderModifier;
  redirect?: Redirect;
  rewrite?: Rewrite;
  mirrors?: Mirror[];
  cors?: Cors;
}

/** Filters of one backendRef: applied after the rule's, only to requests sent to that backend. */
export type BackendFilters = Pick<RuleFilters, 'requestHeaders' | 'responseHeaders' | 'rewrite'>;

/** Resolves a RequestMirror backendRef as backendRefs are resolved (ReferenceGrant, kind, Service port). */
export type MirrorResolver = (ref: BackendObjectReference, field: string) => BackendNode;

const HEADER_VALUE_MAX = 4096;
/** RequestRedirect statusCode: the CRD's enum. */
const REDIRECT_CODES: readonly number[] = [301, 302, 303, 307, 308];

function headerModifier(m: HTTPHeaderFilter | undefined, field: string): { value?: HeaderModifier; problem?: string } {
  const out: HeaderModifier = { set: [], add: [], remove: [] };
  for (const op of ['set', 'add'] as const) {
    for (const [i, h] of (m?.[op] ?? []).entries()) {
      const nameErr = checkHeaderName(h.name);
      if (nameErr) return { problem: `${field}.${op}[${i}].name: ${nameErr}` };
      // "add" appends to the client's value: the token also holds "$http_<name>,".
      const err = checkPrintable(h.value, 'header value', HEADER_VALUE_MAX) ?? checkTokenLength(h.value, 'the header value', { script: true, extra: op === 'add' ? 7 + limits.headerName : 0 });
      if (err) return { problem: `${field}.${op}[${i}].value: ${err}` };
      out[op].push({ name: h.name, value: h.value });
    }
  }
  for (const [i, name] of (m?.remove ?? []).entries()) {
    const err = checkHeaderName(name);
    if (err) return { problem: `${field}.remove[${i}]: ${err}` };
    out.remove.push(name);
  }
  return { value: out };
}

function pathModifier(p: HTTPPathModifier | undefined, field: string, matchTypes: readonly string[]): { value?: PathModifier; problem?: string } {
  if (!p) return {};
  // The CRD requires the field its type names; checkPath refuses a missing one all the same.
  if (p.type === 'ReplaceFullPath') {
    const value = p.replaceFullPath;
    const err = checkPath(value);
    return err || value === undefined ? { problem: `${field}.replaceFullPath: ${err}` } : { value: { type: 'ReplaceFullPath', value } };
  }
  if (p.type === 'ReplacePrefixMatch') {
    const value = p.replacePrefixMatch;
    const err = checkPath(value);
    if (err || value === undefined) return { problem: `${field}.replacePrefixMatch: ${err}` };
    if (matchTypes.some((t) => t !== 'PathPrefix')) return { problem: `${field}: ReplacePrefixMatch needs every match of the rule to be a PathPrefix match` };
    return { value: { type: 'ReplacePrefixMatch', value } };
  }
  return { problem: `${field}.type: ${p.type} is not supported` };
}

function hostname(h: string | undefined, field: string): string | undefined {
  if (h === undefined) return undefined;
  const err = checkHostname(h) ?? (h.startsWith('*') ? 'a wildcard is not a hostname' : undefined);
  return err ? `${field}: ${err}` : undefined;
}

/** Mirror shares above this denominator are refused (split_clients works in 0.01% steps anyway). */
const FRACTION_MAX = 2_147_483_647;

function mirror(m: HTTPRequestMirrorFilter | undefined, field: string, resolve: MirrorResolver | undefined): { value?: Mirror; problem?: string } {
  if (!m?.backendRef) return { problem: `${field}.backendRef: required` };
  if (!resolve) return { problem: `${field}: RequestMirror is not supported here` };
  if (m.percent !== undefined && m.fraction !== undefined) return { problem: `${field}: only one of percent or fraction may be set` };
  let fraction: Mirror['fraction'];
  if (m.percent !== undefined) {
    if (!(Number.isInteger(m.percent) && m.percent >= 0 && m.percent <= 100)) return { problem: `${field}.percent: ${JSON.stringify(m.percent)} is not an integer from 0 to 100` };
    fraction = { numerator: m.percent, denominator: 100 };
  } else if (m.fraction !== undefined) {
    const { numerator, denominator = 100 } = m.fraction;
    const int = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= FRACTION_MAX;
    if (!int(numerator) || !int(denominator) || denominator < 1) return { problem: `${field}.fraction: numerator and denominator must be integers, the denominator at least 1` };
    if (numerator > denominator) return { problem: `${field}.fraction: numerator ${numerator} is larger than denominator ${denominator}` };
    fraction = { numerator, denominator };
  }
  const portErr = m.backendRef.port === undefined ? undefined : checkPort(m.backendRef.port);
  if (portErr) return { problem: `${field}.backendRef.port: ${portErr}` };
  const backend = resolve(m.backendRef, `${field}.backendRef`);
  return { value: { backend, field, ...(fraction && fraction.numerator < fraction.denominator ? { fraction } : {}) } };
}

/** Every backend a rule reaches: its backendRefs and its RequestMirror backends (ResolvedRefs covers both). */
export const mirrorBackends = (filters: RuleFilters): BackendNode[] => (filters.mirrors ?? []).map((m) => m.backend);

/** spec.rules[i].filters; matchTypes are the path types of the rule's matches; `resolve` resolves RequestMirror backendRefs. */
export function parseFilters(filters: readonly HTTPRouteFilter[] | undefined, field: string, matchTypes: readonly string[], resolve?: MirrorResolver): { filters: RuleFilters; problem?: string } {
  const out: RuleFilters = {};
  for (const [i, f] of (filters ?? []).entries()) {
    const at = `${field}[${i}]`;
    switch (f.type) {
      case 'RequestHeaderModifier':
      case 'ResponseHeaderModifier': {
        const key = f.type === 'RequestHeaderModifier' ? 'requestHeaders' : 'responseHeaders';
        const sub = f.type === 'RequestHeaderModifier' ? 'requestHeaderModifier' : 'responseHeaderModifier';
        const r = headerModifier(f[sub], `${at}.${sub}`);
        if (r.problem) return { filters: out, problem: r.problem };
        out[key] = r.value;
        break;
      }
      case 'RequestRedirect': {
        const r: HTTPRequestRedirectFilter = f.requestRedirect ?? {};
        const problem = hostname(r.hostname, `${at}.requestRedirect.hostname`);
        if (problem) return { filters: out, problem };
        if (r.scheme !== undefined && r.scheme !== 'http' && r.scheme !== 'https') return { filters: out, problem: `${at}.requestRedirect.scheme: ${JSON.stringify(String(r.scheme))} is not supported` };
        // Defense in depth: both are printed unquoted, so they are checked here whatever the CRD says.
        if (r.statusCode !== undefined && !REDIRECT_CODES.includes(r.statusCode)) return { filters: out, problem: `${at}.requestRedirect.statusCode: ${JSON.stringify(r.statusCode)} is not one of ${REDIRECT_CODES.join(', ')}` };
        const portError = r.port === undefined ? undefined : checkPort(r.port);
        if (portError) return { filters: out, problem: `${at}.requestRedirect.port: ${portError}` };
        const path = pathModifier(r.path, `${at}.requestRedirect.path`, matchTypes);
        if (path.problem) return { filters: out, problem: path.problem };
        out.redirect = { scheme: r.scheme, hostname: r.hostname, port: r.port, path: path.value, statusCode: r.statusCode ?? 302 };
        break;
      }
      case 'URLRewrite': {
        const r: HTTPURLRewriteFilter = f.urlRewrite ?? {};
        const problem = hostname(r.hostname, `${at}.urlRewrite.hostname`);
        if (problem) return { filters: out, problem };
        const path = pathModifier(r.path, `${at}.urlRewrite.path`, matchTypes);
        if (path.problem) return { filters: out, problem: path.problem };
        out.rewrite = { hostname: r.hostname, path: path.value };
        break;
      }
      case 'RequestMirror': {
        const r = mirror(f.requestMirror, `${at}.requestMirror`, resolve);
        if (r.problem) return { filters: out, problem: r.problem };
        // A share of 0 mirrors nothing: nothing to configure, but its backendRef still counts for ResolvedRefs.
        (out.mirrors ??= []).push(r.value!);
        break;
      }
      case 'CORS': {
        const r = parseCors(f.cors, `${at}.cors`);
        if (r.problem) return { filters: out, problem: r.problem };
        out.cors = r.value;
        break;
      }
      default:
        return { filters: out, problem: `${at}.type: filter ${f.type} is not supported yet` };
    }
  }
  return { filters: out };
}

/** The filter types a backendRef may carry here: they act after the backend is chosen. */
const BACKEND_FILTER_TYPES: readonly string[] = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'URLRewrite'];

/**
 * spec.rules[i].backendRefs[j].filters, given the rule's own filters. The path may be
 * rewritten once: by the rule or by the backendRef (two rewrites of one path have no
 * defined composition); a backendRef's hostname rewrite replaces the rule's.
 */
export function parseBackendFilters(filters: readonly HTTPRouteFilter[] | undefined, field: string, matchTypes: readonly string[], rule: RuleFilters): { filters?: BackendFilters; problem?: string } {
  if (!filters?.length) return {};
  for (const [i, f] of filters.entries()) {
    if (!BACKEND_FILTER_TYPES.includes(f.type)) return { problem: `${field}[${i}].type: filter ${f.type} is not supported on a backendRef (${BACKEND_FILTER_TYPES.join(', ')} are)` };
  }
  const parsed = parseFilters(filters, field, matchTypes);
  if (parsed.problem) return { problem: parsed.problem };
  const { requestHeaders, responseHeaders, rewrite } = parsed.filters;
  if (rewrite?.path && rule.rewrite?.path) {
    const at = filters.findIndex((f) => f.type === 'URLRewrite');
    return { problem: `${field}[${at}].urlRewrite.path: the rule's URLRewrite already rewrites the path; a path is rewritten once` };
  }
  if (rule.redirect) return { problem: `${field}: the rule answers with a RequestRedirect; backendRef filters would never apply` };
  return { filters: { ...(requestHeaders ? { requestHeaders } : {}), ...(responseHeaders ? { responseHeaders } : {}), ...(rewrite ? { rewrite } : {}) } };
}

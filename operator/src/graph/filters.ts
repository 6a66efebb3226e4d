// HTTPRoute filters: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect and
// URLRewrite, checked against the allow-lists. Other filter types fail their rule
// (UnsupportedValue) rather than being ignored.
import type { HTTPHeaderFilter, HTTPPathModifier, HTTPRequestRedirectFilter, HTTPRouteFilter, HTTPURLRewriteFilter } from '../api/gateway-api.ts';
import { checkHeaderName, checkHostname, checkPath, checkPort, checkPrintable, checkTokenLength, limits } from '../values/checks.ts';

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

export interface RuleFilters {
  requestHeaders?: HeaderModifier;
  responseHeaders?: HeaderModifier;
  redirect?: Redirect;
  rewrite?: Rewrite;
}

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

/** spec.rules[i].filters; matchTypes are the path types of the rule's matches. */
export function parseFilters(filters: readonly HTTPRouteFilter[] | undefined, field: string, matchTypes: readonly string[]): { filters: RuleFilters; problem?: string } {
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
      default:
        return { filters: out, problem: `${at}.type: filter ${f.type} is not supported yet` };
    }
  }
  return { filters: out };
}

// The CORS filter of an HTTPRoute rule, validated: origins are parsed into scheme, host
// pattern and port (never used as regexes: dataplane/cors.ts builds its own from them),
// methods come from the spec's list, header names pass the header-name allow-list.
import type { HTTPCORSFilter } from '../api/gateway-api.ts';
import { checkHeaderName, checkTokenLength } from '../values/checks.ts';

/** One allowOrigins entry other than "*". `host` is lowercase; "*" alone, or "*." then a domain. */
export interface CorsOrigin {
  scheme: 'http' | 'https';
  host: string;
  /** Explicit port; absent means the scheme's default (80, 443). */
  port?: number;
}

export interface Cors {
  /** "*": every origin. */
  allowOrigins: CorsOrigin[] | '*';
  allowMethods: string[] | '*';
  allowHeaders: string[] | '*';
  /** May contain "*" (exposed as a wildcard only without credentials). */
  exposeHeaders: string[];
  /** Seconds. */
  maxAge: number;
  allowCredentials: boolean;
}

/** HTTPMethodWithWildcard: the CRD's enum. */
const METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
/** The CRD's CORSOrigin pattern, with the scheme and port captured. */
const ORIGIN = /^(https?):\/\/(\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::([0-9]{1,5}))?$/;
const LIST_MAX = 64;
const MAX_AGE_MAX = 2_147_483_647;
const DEFAULT_MAX_AGE = 5;

function origin(value: unknown, field: string): { value?: CorsOrigin; problem?: string } {
  const m = typeof value === 'string' && value.length <= 253 ? value.match(ORIGIN) : null;
  if (!m) return { problem: `${field}: ${JSON.stringify(String(value))} is not "*" nor an origin <http|https>://<host>[:<port>] whose host may start with "*."` };
  const [, scheme, host, port] = m;
  if (host!.split('.').some((label) => label.length > 63)) return { problem: `${field}: a DNS label of ${JSON.stringify(value)} is longer than 63 characters` };
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return { problem: `${field}: port ${port} is not from 1 to 65535` };
  return { value: { scheme: scheme as 'http' | 'https', host: host!.toLowerCase(), ...(port !== undefined ? { port: Number(port) } : {}) } };
}

/** A list that is "*" alone or names only; `check` validates one name. */
function wildcardList(list: readonly string[] | undefined, field: string, check: (v: string) => string | undefined): { value: string[] | '*' } | { problem: string } {
  if (!list) return { value: [] };
  if (list.length > LIST_MAX) return { problem: `${field}: more than ${LIST_MAX} entries` };
  if (list.includes('*')) return list.length === 1 ? { value: '*' } : { problem: `${field}: "*" cannot be listed alongside other entries` };
  for (const [i, v] of list.entries()) {
    const err = check(v);
    if (err) return { problem: `${field}[${i}]: ${err}` };
  }
  // One response header carries the list: it must fit one nginx token.
  const err = checkTokenLength(list.join(', '), 'the list');
  if (err) return { problem: `${field}: ${err}` };
  return { value: [...new Set(list)] };
}

export function parseCors(f: HTTPCORSFilter | undefined, field: string): { value?: Cors; problem?: string } {
  const c = f ?? {};
  let allowOrigins: Cors['allowOrigins'] = [];
  if (c.allowOrigins?.includes('*')) {
    if (c.allowOrigins.length > 1) return { problem: `${field}.allowOrigins: "*" cannot be listed alongside other origins` };
    allowOrigins = '*';
  } else {
    if ((c.allowOrigins?.length ?? 0) > LIST_MAX) return { problem: `${field}.allowOrigins: more than ${LIST_MAX} entries` };
    for (const [i, o] of (c.allowOrigins ?? []).entries()) {
      const r = origin(o, `${field}.allowOrigins[${i}]`);
      if (r.problem) return { problem: r.problem };
      allowOrigins.push(r.value!);
    }
  }
  const methods = wildcardList(c.allowMethods, `${field}.allowMethods`, (m) => (METHODS.includes(m) ? undefined : `${JSON.stringify(String(m))} is not an HTTP method the spec allows`));
  if ('problem' in methods) return { problem: methods.problem };
  const headers = wildcardList(c.allowHeaders, `${field}.allowHeaders`, checkHeaderName);
  if ('problem' in headers) return { problem: headers.problem };
  // exposeHeaders may hold "*" beside names (the CRD allows it): the names still apply with credentials.
  const expose = c.exposeHeaders ?? [];
  if (expose.length > LIST_MAX) return { problem: `${field}.exposeHeaders: more than ${LIST_MAX} entries` };
  for (const [i, h] of expose.entries()) {
    const err = h === '*' ? undefined : checkHeaderName(h);
    if (err) return { problem: `${field}.exposeHeaders[${i}]: ${err}` };
  }
  const exposeErr = checkTokenLength(expose.join(', '), 'the list');
  if (exposeErr) return { problem: `${field}.exposeHeaders: ${exposeErr}` };
  const maxAge = c.maxAge ?? DEFAULT_MAX_AGE;
  if (!(Number.isInteger(maxAge) && maxAge >= 1 && maxAge <= MAX_AGE_MAX)) return { problem: `${field}.maxAge: ${JSON.stringify(maxAge)} is not a number of seconds from 1 to ${MAX_AGE_MAX}` };
  if (c.allowCredentials !== undefined && typeof c.allowCredentials !== 'boolean') return { problem: `${field}.allowCredentials: not a boolean` };
  return { value: { allowOrigins, allowMethods: methods.value, allowHeaders: headers.value, exposeHeaders: [...new Set(expose)], maxAge, allowCredentials: c.allowCredentials === true } };
}

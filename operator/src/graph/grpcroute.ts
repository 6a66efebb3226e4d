// GRPCRoute rules as HTTP matches: a gRPC call is a POST to "/<service>/<method>", so each
// GRPCRouteMatch becomes a path match the HTTPRoute machinery serves (locations, dispatch
// maps, upstreams), and its targets grpc_pass (dataplane/grpc-target.ts).
//
//   service and method (Exact)   -> Exact "/service/method"
//   service only (Exact)         -> PathPrefix "/service"
//   method only (Exact)          -> RegularExpression "/[^/]+/method"
//   RegularExpression            -> RegularExpression "/[^/]+/[^/]+" and a regex per segment (grpcRegex)
//   no method match              -> PathPrefix "/"
//
// Precedence (spec: GRPCRouteRule.matches): the most characters of a matching service, then
// of a matching method, then the most header matches, then the oldest route. An Exact
// "/service/method" location beats everything; a service prefix beats a method-only match;
// the regex matches come next (in `rank` order: a method-only match by its method's length,
// then regular expressions, which count no characters: the spec leaves them to the
// implementation), then rules without a method match. dataplane/dispatch.ts consults the
// regex stage of a gRPC server after the service prefixes (regexAfterPrefixes).
//
// Service and method names are checked against the CRD's patterns (values/grpc.ts), regular
// expressions by the ReDoS analysis; anything else fails its rule, never the whole route.
import type { GRPCMethodMatch, GRPCRouteMatch, GRPCRouteRule, HTTPRouteFilter } from '../api/gateway-api.ts';
import type { GRPCRoute } from '../objects.ts';
import { checkHostname, checkMatchPath, checkPort, checkRegex, checkWeight, isDnsSubdomain } from '../values/checks.ts';
import { checkGrpcMethod, checkGrpcService, GRPC_NAME_MAX } from '../values/grpc.ts';
import { resolveBackendRef, type BackendIndex } from './backendrefs.ts';
import { Reason, type Problem } from './conditions.ts';
import { parseFilters } from './filters.ts';
import { parseMatch } from './httproute.ts';
import type { GRPCRouteNode, PathMatch, RouteMatch, RuleNode } from './types.ts';

/** A path match and its rank among matches of its path type (higher first). */
export interface GrpcPath { path: PathMatch; rank: number; grpcRegex?: RouteMatch['grpcRegex'] }

/** Rank of exact names: service characters first, then method characters. */
const exactRank = (service: string, method: string) => service.length * (GRPC_NAME_MAX + 1) + method.length;

/** Any one path segment: a service or a method the match leaves open. */
const ANY_SEGMENT = '[^/]+';

/** spec.rules[].matches[].method as a path match, or why it cannot be served. */
export function grpcMethodPath(m: GRPCMethodMatch | undefined, field: string): GrpcPath | { problem: string } {
  const service = m?.service || undefined;
  const method = m?.method || undefined;
  if (!service && !method) return { path: { type: 'PathPrefix', value: '/' }, rank: 0 };
  const type = m?.type ?? 'Exact';
  if (type === 'Exact') {
    const serviceErr = service === undefined ? undefined : checkGrpcService(service);
    if (serviceErr) return { problem: `${field}.service: ${serviceErr}` };
    const methodErr = method === undefined ? undefined : checkGrpcMethod(method);
    if (methodErr) return { problem: `${field}.method: ${methodErr}` };
    let path: PathMatch;
    if (service && method) path = { type: 'Exact', value: `/${service}/${method}` };
    else if (service) path = { type: 'PathPrefix', value: `/${service}` };
    // Names are identifiers: nothing in them is a regex metacharacter.
    else path = { type: 'RegularExpression', value: `/${ANY_SEGMENT}/${method}` };
    // Exact and prefix paths become nginx locations, whose length nginx bounds.
    const err = path.type === 'RegularExpression' ? checkRegex(path.value) : checkMatchPath(path.value);
    if (err) return { problem: `${field}: ${service ? `service ${JSON.stringify(service)}` : ''}${service && method ? ' and ' : ''}${method ? `method ${JSON.stringify(method)}` : ''}: ${err}` };
    return { path, rank: exactRank(service ?? '', method ?? '') };
  }
  if (type === 'RegularExpression') {
    for (const [name, value] of [['service', service], ['method', method]] as const) {
      const err = value === undefined ? undefined : checkRegex(value);
      if (err) return { problem: `${field}.${name}: ${err}` };
    }
    // Each part runs on its own path segment (dataplane/grpc-match.ts), the path only checks there are two.
    return { path: { type: 'RegularExpression', value: `/${ANY_SEGMENT}/${ANY_SEGMENT}` }, rank: 0, grpcRegex: { service, method } };
  }
  return { problem: `${field}.type: ${JSON.stringify(String(type))} is not supported` };
}

/** RFC 9113 8.2.2: connection-specific header fields; an HTTP/2 request to the backend cannot carry them. */
const CONNECTION_HEADERS: readonly string[] = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te'];

/** Filter types served for GRPCRoute; RequestMirror and ExtensionRef fail their rule. */
const SERVED_FILTERS: readonly string[] = ['RequestHeaderModifier', 'ResponseHeaderModifier'];

function buildRule(route: GRPCRoute, rule: GRPCRouteRule, index: number, backends: BackendIndex, modelProblem?: string): RuleNode {
  const field = `spec.rules[${index}]`;
  const node: RuleNode = { index, matches: [], backends: [], filters: {}, ...(typeof rule.name === 'string' ? { name: rule.name } : {}) };
  const fail = (message: string): RuleNode => ({ ...node, problem: { reason: Reason.UnsupportedValue, message } });
  if (modelProblem) return fail(modelProblem);
  // A rule's name (GRPCRouteNamedRouteRule) only names it in status messages: checked like HTTPRoute's.
  if (rule.name !== undefined) {
    if (!isDnsSubdomain(rule.name)) return fail(`${field}.name: ${JSON.stringify(String(rule.name))} is not a valid rule name (lowercase DNS subdomain, at most 253 characters)`);
    const first = (route.spec?.rules ?? []).findIndex((r) => r.name === rule.name);
    if (first !== index) return fail(`${field}.name: ${JSON.stringify(rule.name)} is already the name of spec.rules[${first}]; rule names are unique within a route`);
  }
  // Served without sticky sessions it would not do what its author asked.
  if (rule.sessionPersistence !== undefined) return fail(`${field}.sessionPersistence: not supported yet; the rule is not served rather than served without it`);
  for (const [i, b] of (rule.backendRefs ?? []).entries()) {
    if (b.filters?.length) return fail(`${field}.backendRefs[${i}].filters: backendRef filters are not supported yet`);
    // Defense in depth: both are printed into nginx.conf, whatever the CRD says.
    const weightErr = b.weight === undefined ? undefined : checkWeight(b.weight);
    if (weightErr) return fail(`${field}.backendRefs[${i}].weight: ${weightErr}`);
    const portErr = b.port === undefined ? undefined : checkPort(b.port);
    if (portErr) return fail(`${field}.backendRefs[${i}].port: ${portErr}`);
  }
  const rawMatches: GRPCRouteMatch[] = rule.matches?.length ? rule.matches : [{}];
  for (const [i, m] of rawMatches.entries()) {
    const at = `${field}.matches[${i}]`;
    const p = grpcMethodPath(m.method, `${at}.method`);
    if ('problem' in p) return fail(p.problem);
    // Headers are checked as HTTPRoute's are (names, values, regexes); the path is ours.
    const parsed = parseMatch({ path: p.path, headers: m.headers }, at);
    if ('problem' in parsed) return fail(parsed.problem);
    node.matches.push({ ...parsed.match, rank: p.rank, ...(p.grpcRegex ? { grpcRegex: p.grpcRegex } : {}) });
  }
  for (const [i, f] of (rule.filters ?? []).entries()) {
    if (!SERVED_FILTERS.includes(f.type)) return fail(`${field}.filters[${i}].type: filter ${f.type} is not supported for GRPCRoute yet; the rule is not served rather than served without it`);
    const mod = f.requestHeaderModifier;
    const names = [...(mod?.set ?? []).map((h) => h.name), ...(mod?.add ?? []).map((h) => h.name), ...(mod?.remove ?? [])];
    const forbidden = names.find((n) => CONNECTION_HEADERS.includes(n.toLowerCase()));
    if (forbidden) return fail(`${field}.filters[${i}].requestHeaderModifier: ${JSON.stringify(forbidden)} is a connection-specific header, which HTTP/2 (and so gRPC) does not carry`);
  }
  // The two header modifiers have HTTPRoute's schema (HTTPHeaderFilter) and rules.
  const { filters, problem } = parseFilters(rule.filters as HTTPRouteFilter[] | undefined, `${field}.filters`, node.matches.map((m) => m.path.type));
  if (problem) return fail(problem);
  node.filters = filters;
  node.backends = (rule.backendRefs ?? []).map((b, i) => resolveBackendRef(backends, route, b, `${field}.backendRefs[${i}]`, { backendTLS: true }));
  return node;
}

/** `modelProblems`: rule index -> why the data plane could not express it (pipeline.ts). */
export function buildGRPCRoute(obj: GRPCRoute, backends: BackendIndex, rejected?: Problem, modelProblems?: ReadonlyMap<number, string>): GRPCRouteNode {
  const key = `GRPCRoute/${obj.metadata.namespace}/${obj.metadata.name}`;
  const hostnames = obj.spec?.hostnames ?? [];
  const node: GRPCRouteNode = { obj, key, kind: 'GRPCRoute', hostnames, rules: [], parents: [], problem: rejected };
  for (const [i, h] of hostnames.entries()) {
    const err = checkHostname(h);
    if (err) { node.problem = { reason: Reason.UnsupportedValue, message: `spec.hostnames[${i}]: ${err}` }; return node; }
  }
  node.rules = (obj.spec?.rules ?? []).map((r, i) => buildRule(obj, r, i, backends, modelProblems?.get(i)));
  return node;
}

// HTTPRoute rules: matches checked against the allow-lists (an unsafe or unsupported
// value invalidates its rule, never the whole route unless every rule fails) and
// backendRefs resolved.
import type { BackendRef, HTTPHeaderMatch, HTTPRouteMatch, HTTPRouteRule } from '../api/gateway-api.ts';
import type { HTTPRoute } from '../objects.ts';
import { checkHeaderName, checkHostname, checkMatchPath, checkPort, checkWeight, checkPrintable, checkQueryName, checkRegex, isDnsSubdomain, limits } from '../values/checks.ts';
import { Reason, type Problem } from './conditions.ts';
import { resolveBackendRef, type BackendIndex } from './backendrefs.ts';
import { httpRouteProtocol } from './backend-protocol.ts';
import { parseBackendFilters, parseFilters } from './filters.ts';
import { parseRulePolicy } from './rule-policy.ts';
import type { HTTPRouteNode, PathMatch, RouteMatch, RuleNode, ValueMatch } from './types.ts';

/** spec.rules[].matches[].method: the CRD's enum. */
const HTTP_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

function valueMatches(list: readonly HTTPHeaderMatch[] | undefined, field: string, checkName: (n: string) => string | undefined, what: string): { matches: ValueMatch[]; problem?: string } {
  const matches: ValueMatch[] = [];
  for (const [i, m] of (list ?? []).entries()) {
    const type = m.type ?? 'Exact';
    const f = `${field}[${i}]`;
    const nameErr = checkName(m.name);
    if (nameErr) return { matches, problem: `${f}.name: ${nameErr}` };
    if (type !== 'Exact' && type !== 'RegularExpression') return { matches, problem: `${f}.type: ${type} is not supported` };
    const valueErr = type === 'Exact' ? checkPrintable(m.value, `${what} value`, limits.headerValue) : checkRegex(m.value);
    if (valueErr) return { matches, problem: `${f}.value: ${valueErr}` };
    matches.push({ type, name: m.name, value: m.value });
  }
  return { matches };
}

export function parseMatch(m: HTTPRouteMatch, field: string): { match: RouteMatch } | { problem: string } {
  const path: PathMatch = { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' };
  if (path.type === 'RegularExpression') {
    const err = checkRegex(path.value);
    if (err) return { problem: `${field}.path.value: ${err}` };
  } else if (path.type === 'Exact' || path.type === 'PathPrefix') {
    const err = checkMatchPath(path.value);
    if (err) return { problem: `${field}.path.value: ${err}` };
  } else return { problem: `${field}.path.type: ${path.type} is not supported` };
  if (m.method !== undefined && !HTTP_METHODS.includes(m.method)) return { problem: `${field}.method: ${JSON.stringify(String(m.method))} is not an HTTP method the spec allows` };
  const headers = valueMatches(m.headers, `${field}.headers`, checkHeaderName, 'header');
  if (headers.problem) return { problem: headers.problem };
  const query = valueMatches(m.queryParams, `${field}.queryParams`, checkQueryName, 'query parameter');
  if (query.problem) return { problem: query.problem };
  return { match: { path, headers: headers.matches, queryParams: query.matches, method: m.method } };
}

/** How HTTPRoute backendRefs (and RequestMirror backendRefs) are resolved. */
const RESOLVE = { backendTLS: true, protocol: httpRouteProtocol };

/** rules[].name (SectionName): the CRD's pattern and uniqueness, checked again (it reaches messages). */
function ruleNameProblem(route: HTTPRoute, rule: HTTPRouteRule, index: number): string | undefined {
  if (rule.name === undefined) return undefined;
  if (!isDnsSubdomain(rule.name)) return `spec.rules[${index}].name: ${JSON.stringify(String(rule.name))} is not a valid rule name (lowercase DNS subdomain, at most 253 characters)`;
  const first = (route.spec?.rules ?? []).findIndex((r) => r.name === rule.name);
  if (first !== index) return `spec.rules[${index}].name: ${JSON.stringify(rule.name)} is already the name of spec.rules[${first}]; rule names are unique within a route`;
}

/**
 * Rule fields waygate does not implement yet. Ignoring them would serve the rule without
 * what its author asked for (sticky sessions), so the rule is not
 * served and its route reports the field (README: "What waygate does not implement yet").
 */
const UNSUPPORTED_RULE_FIELDS = ['sessionPersistence'] as const;

/** The rule as far as it was built, with the problem that stops it being served. */
function failRule(node: RuleNode, message: string): RuleNode {
  return { ...node, problem: { reason: Reason.UnsupportedValue, message } };
}

function buildRule(route: HTTPRoute, rule: HTTPRouteRule, index: number, backends: BackendIndex, modelProblem?: string): RuleNode {
  const field = `spec.rules[${index}]`;
  const node: RuleNode = { index, matches: [], backends: [], filters: {}, ...(typeof rule.name === 'string' ? { name: rule.name } : {}) };
  // The data plane could not express this rule in an earlier pass (pipeline.ts).
  if (modelProblem) return failRule(node, modelProblem);
  for (const name of UNSUPPORTED_RULE_FIELDS) {
    if (rule[name] !== undefined) return failRule(node, `${field}.${name}: not supported yet; the rule is not served rather than served without it`);
  }
  const policy = parseRulePolicy(rule, field);
  if ('problem' in policy) return failRule(node, policy.problem);
  if (policy.policy) node.policy = policy.policy;
  const nameErr = ruleNameProblem(route, rule, index);
  if (nameErr) return failRule(node, nameErr);
  for (const [i, b] of (rule.backendRefs ?? []).entries()) {
    // Defense in depth: both are printed into nginx.conf, whatever the CRD says.
    const weightErr = b.weight === undefined ? undefined : checkWeight(b.weight);
    if (weightErr) return failRule(node, `${field}.backendRefs[${i}].weight: ${weightErr}`);
    const portErr = b.port === undefined ? undefined : checkPort(b.port);
    if (portErr) return failRule(node, `${field}.backendRefs[${i}].port: ${portErr}`);
  }
  const rawMatches: HTTPRouteMatch[] = rule.matches?.length ? rule.matches : [{ path: { type: 'PathPrefix', value: '/' } }];
  for (const [i, m] of rawMatches.entries()) {
    const parsed = parseMatch(m, `${field}.matches[${i}]`);
    if ('problem' in parsed) return failRule(node, parsed.problem);
    node.matches.push(parsed.match);
  }
  const matchTypes = node.matches.map((m) => m.path.type);
  const { filters, problem } = parseFilters(rule.filters, `${field}.filters`, matchTypes, (ref: BackendRef, f: string) => resolveBackendRef(backends, route, ref, f, RESOLVE));
  if (problem) return failRule(node, problem);
  node.filters = filters;
  const backendFilters = (rule.backendRefs ?? []).map((b, i) => parseBackendFilters(b.filters, `${field}.backendRefs[${i}].filters`, matchTypes, filters));
  const filterProblem = backendFilters.find((r) => r.problem)?.problem;
  if (filterProblem) return failRule(node, filterProblem);
  node.backends = (rule.backendRefs ?? []).map((b, i) => {
    const resolved = resolveBackendRef(backends, route, b, `${field}.backendRefs[${i}]`, RESOLVE);
    const f = backendFilters[i]!.filters;
    return f ? { ...resolved, filters: f } : resolved;
  });
  return node;
}

/** `modelProblems`: rule index -> why the data plane could not express it (pipeline.ts). */
export function buildHTTPRoute(obj: HTTPRoute, backends: BackendIndex, rejected?: Problem, modelProblems?: ReadonlyMap<number, string>): HTTPRouteNode {
  const key = `HTTPRoute/${obj.metadata.namespace}/${obj.metadata.name}`;
  const hostnames = obj.spec?.hostnames ?? [];
  const node: HTTPRouteNode = { obj, key, kind: 'HTTPRoute', hostnames, rules: [], parents: [], problem: rejected };
  for (const [i, h] of hostnames.entries()) {
    const err = checkHostname(h);
    if (err) { node.problem = { reason: Reason.UnsupportedValue, message: `spec.hostnames[${i}]: ${err}` }; return node; }
  }
  node.rules = (obj.spec?.rules ?? []).map((r, i) => buildRule(obj, r, i, backends, modelProblems?.get(i)));
  return node;
}

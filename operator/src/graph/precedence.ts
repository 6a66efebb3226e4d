// Matching precedence across every rule of every route on one hostname (spec:
// HTTPRouteRule): first the route whose own matching hostname is the most specific
// (spec.hostnames: not the listener/route intersection), then Exact path, then
// (implementation-specific) regular expressions, then the longest PathPrefix; then a
// GRPCRoute match's rank (graph/grpcroute.ts); then a method match; then the most header
// matches; then the most query matches; ties go to the oldest route, then namespace/name
// order, then rule and match order within the route.
import { compareHostnameSpecificity } from './hostnames.ts';
import type { RouteMatch, RouteNode } from './types.ts';

export interface MatchCandidate {
  route: RouteNode;
  ruleIndex: number;
  matchIndex: number;
  match: RouteMatch;
  /** The route's own hostname that matched the server's name (hostnames.ts matchingRouteHostname); '' or absent: any host. */
  routeHostname?: string;
}

const pathRank = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

/** PathPrefix ignores a trailing "/" (spec), so "/abc/" and "/abc" are the same prefix. */
export function normalizePrefix(value: string): string {
  // Most prefixes have no trailing "/": no regex for them (this runs for every candidate).
  return value.length > 1 && value.endsWith('/') ? value.replace(/\/+$/, '') || '/' : value;
}

/** What precedence compares, computed once per candidate (a sort compares each many times). */
interface PrecedenceKey {
  candidate: MatchCandidate;
  hostname: string;
  prefixLength: number;
  age: string;
  fullName: string;
}

function precedenceKey(c: MatchCandidate): PrecedenceKey {
  const { path } = c.match, { metadata } = c.route.obj;
  return {
    candidate: c,
    hostname: c.routeHostname ?? '',
    // Compared only between two PathPrefix candidates (the path ranks are equal then).
    prefixLength: path.type === 'PathPrefix' ? normalizePrefix(path.value).length : 0,
    age: metadata.creationTimestamp ?? '',
    fullName: `${metadata.namespace}/${metadata.name}`,
  };
}

function compareKeys(ka: PrecedenceKey, kb: PrecedenceKey): number {
  const a = ka.candidate, b = kb.candidate;
  return (
    compareHostnameSpecificity(ka.hostname, kb.hostname) ||
    pathRank[a.match.path.type] - pathRank[b.match.path.type] ||
    kb.prefixLength - ka.prefixLength ||
    (b.match.rank ?? 0) - (a.match.rank ?? 0) ||
    Number(!!b.match.method) - Number(!!a.match.method) ||
    b.match.headers.length - a.match.headers.length ||
    b.match.queryParams.length - a.match.queryParams.length ||
    compareStrings(ka.age, kb.age) ||
    compareStrings(ka.fullName, kb.fullName) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}

export function comparePrecedence(a: MatchCandidate, b: MatchCandidate): number {
  return compareKeys(precedenceKey(a), precedenceKey(b));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortByPrecedence(candidates: MatchCandidate[]): MatchCandidate[] {
  return candidates.map(precedenceKey).sort(compareKeys).map((k) => k.candidate);
}

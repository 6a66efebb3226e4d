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
  return value.length > 1 ? value.replace(/\/+$/, '') || '/' : value;
}

export function comparePrecedence(a: MatchCandidate, b: MatchCandidate): number {
  const pa = a.match.path, pb = b.match.path;
  return (
    compareHostnameSpecificity(a.routeHostname ?? '', b.routeHostname ?? '') ||
    pathRank[pa.type] - pathRank[pb.type] ||
    (pa.type === 'PathPrefix' ? normalizePrefix(pb.value).length - normalizePrefix(pa.value).length : 0) ||
    (b.match.rank ?? 0) - (a.match.rank ?? 0) ||
    Number(!!b.match.method) - Number(!!a.match.method) ||
    b.match.headers.length - a.match.headers.length ||
    b.match.queryParams.length - a.match.queryParams.length ||
    compareStrings(a.route.obj.metadata.creationTimestamp ?? '', b.route.obj.metadata.creationTimestamp ?? '') ||
    compareStrings(`${a.route.obj.metadata.namespace}/${a.route.obj.metadata.name}`, `${b.route.obj.metadata.namespace}/${b.route.obj.metadata.name}`) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortByPrecedence(candidates: MatchCandidate[]): MatchCandidate[] {
  return [...candidates].sort(comparePrecedence);
}

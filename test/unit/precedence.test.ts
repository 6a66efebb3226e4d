// Precedence across rules and routes (spec: HTTPRouteRule, "matching precedence"), as a
// table: each case lists candidates in an order that is wrong, and the order the spec wants.
import { expect } from 'chai';
import { sortByPrecedence, normalizePrefix, type MatchCandidate } from '../../operator/src/graph/precedence.ts';
import type { HTTPRouteNode, RouteMatch } from '../../operator/src/graph/types.ts';

function routeNode(name: string, created = '2026-01-01T00:00:00Z', namespace = 'app'): HTTPRouteNode {
  return { obj: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace, creationTimestamp: created } }, key: `HTTPRoute/${namespace}/${name}`, kind: 'HTTPRoute', hostnames: [], rules: [], parents: [] };
}

function m(path: string, extra: Partial<RouteMatch> = {}): RouteMatch {
  const [type, value] = path.startsWith('=') ? ['Exact', path.slice(1)] : path.startsWith('~') ? ['RegularExpression', path.slice(1)] : ['PathPrefix', path];
  return { path: { type: type as any, value }, headers: [], queryParams: [], ...extra };
}

const h = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'Exact' as const, name: `h${i}`, value: 'v' }));
const r = routeNode('r');

const cases: { name: string; candidates: [string, MatchCandidate][]; want: string[] }[] = [
  { name: 'Exact beats any PathPrefix', candidates: [['prefix', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/a/b/c') }], ['exact', { route: r, ruleIndex: 1, matchIndex: 0, match: m('=/a') }]], want: ['exact', 'prefix'] },
  { name: 'the longest PathPrefix first', candidates: [['short', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/a') }], ['long', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/a/b') }]], want: ['long', 'short'] },
  { name: 'a trailing slash does not lengthen a prefix', candidates: [['slash', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/ab/') }], ['noslash', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/abc') }]], want: ['noslash', 'slash'] },
  { name: 'regular expressions between Exact and PathPrefix', candidates: [['prefix', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/a') }], ['regex', { route: r, ruleIndex: 1, matchIndex: 0, match: m('~/a.*') }], ['exact', { route: r, ruleIndex: 2, matchIndex: 0, match: m('=/a') }]], want: ['exact', 'regex', 'prefix'] },
  { name: 'on equal paths, a method match first', candidates: [['headers', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/', { headers: h(3) }) }], ['method', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/', { method: 'GET' }) }]], want: ['method', 'headers'] },
  { name: 'then the most header matches', candidates: [['one', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/', { headers: h(1) }) }], ['two', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/', { headers: h(2) }) }]], want: ['two', 'one'] },
  { name: 'then the most query matches', candidates: [['none', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/') }], ['query', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/', { queryParams: [{ type: 'Exact', name: 'q', value: '1' }] }) }]], want: ['query', 'none'] },
  { name: 'headers outrank query parameters', candidates: [['query', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/', { queryParams: [{ type: 'Exact', name: 'a', value: '1' }, { type: 'Exact', name: 'b', value: '1' }] }) }], ['header', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/', { headers: h(1) }) }]], want: ['header', 'query'] },
  { name: 'across routes, the oldest route first', candidates: [['new', { route: routeNode('a', '2026-02-01T00:00:00Z'), ruleIndex: 0, matchIndex: 0, match: m('/') }], ['old', { route: routeNode('z', '2026-01-01T00:00:00Z'), ruleIndex: 0, matchIndex: 0, match: m('/') }]], want: ['old', 'new'] },
  { name: 'then namespace/name alphabetical', candidates: [['b', { route: routeNode('b'), ruleIndex: 0, matchIndex: 0, match: m('/') }], ['a', { route: routeNode('a', undefined, 'zz'), ruleIndex: 0, matchIndex: 0, match: m('/') }], ['a2', { route: routeNode('a'), ruleIndex: 0, matchIndex: 0, match: m('/') }]], want: ['a2', 'b', 'a'] },
  { name: 'within a route, rule order then match order', candidates: [['r1', { route: r, ruleIndex: 1, matchIndex: 0, match: m('/') }], ['r0m1', { route: r, ruleIndex: 0, matchIndex: 1, match: m('/') }], ['r0m0', { route: r, ruleIndex: 0, matchIndex: 0, match: m('/') }]], want: ['r0m0', 'r0m1', 'r1'] },
  { name: 'path length outranks route age', candidates: [['old-short', { route: routeNode('a', '2020-01-01T00:00:00Z'), ruleIndex: 0, matchIndex: 0, match: m('/a') }], ['new-long', { route: routeNode('b', '2026-01-01T00:00:00Z'), ruleIndex: 0, matchIndex: 0, match: m('/a/b') }]], want: ['new-long', 'old-short'] },
];

describe('precedence', () => {
  for (const c of cases) {
    it(c.name, () => {
      const names = new Map(c.candidates.map(([n, cand]) => [cand, n]));
      expect(sortByPrecedence(c.candidates.map(([, cand]) => cand)).map((x) => names.get(x))).to.deep.equal(c.want);
    });
  }
  it('normalizes PathPrefix trailing slashes but keeps "/"', () => {
    expect(['/', '/a/', '/a', '/a//'].map(normalizePrefix)).to.deep.equal(['/', '/a', '/a', '/a']);
  });
});

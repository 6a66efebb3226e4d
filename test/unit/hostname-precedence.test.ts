// Precedence across routes by their own hostnames (spec: HTTPRoute.spec.hostnames; feature
// GatewayRouteHostnameIntersectionPrecedence): routes whose hostnames intersect a listener's
// to the same name are ordered by the route's original hostname (exact before wildcard, the
// longer wildcard first, no hostnames last), before any path, header or age rule.
import { expect } from 'chai';
import { buildHttpModel, defaultBuildOptions } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { compareHostnameSpecificity, matchingRouteHostname } from '../../operator/src/graph/hostnames.ts';
import { sortByPrecedence, type MatchCandidate } from '../../operator/src/graph/precedence.ts';
import type { HTTPRouteNode, RouteMatch } from '../../operator/src/graph/types.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, service, storeOf } from '../support/objects.ts';

/** Every rule in server blocks: these tests are about the server renderer, not the route table. */
const SERVER_BLOCKS = { ...defaultBuildOptions, routeTable: false };

describe('hostnames: the route hostname a server name matched', () => {
  const cases: [string[], string, string][] = [
    [['abc.example.com'], 'abc.example.com', 'abc.example.com'],
    [['*.example.com'], 'abc.example.com', '*.example.com'],
    [['*.com', '*.example.com'], 'abc.example.com', '*.example.com'],
    [['*.example.com', 'abc.example.com'], 'abc.example.com', 'abc.example.com'],
    [['*.com'], '*.example.com', '*.com'],
    [['*.example.com'], '*.example.com', '*.example.com'],
    [[], 'abc.example.com', ''],
    [['other.org'], 'abc.example.com', ''],
    [['abc.example.com'], '*', ''],
  ];
  for (const [route, host, want] of cases) {
    it(`route ${JSON.stringify(route)} reaches ${host} through ${JSON.stringify(want)}`, () => expect(matchingRouteHostname(route, host)).to.equal(want));
  }

  it('specificity: characters of a non-wildcard name, then characters; none last', () => {
    const sorted = ['', '*.com', 'a.example.com', '*.example.com', 'abc.example.com', '*.a.example.com'].sort(compareHostnameSpecificity);
    expect(sorted).to.deep.equal(['abc.example.com', 'a.example.com', '*.a.example.com', '*.example.com', '*.com', '']);
  });
});

function routeNode(name: string, created: string): HTTPRouteNode {
  return { obj: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'app', creationTimestamp: created } }, key: `HTTPRoute/app/${name}`, kind: 'HTTPRoute', hostnames: [], rules: [], parents: [] } as HTTPRouteNode;
}
const prefix = (value: string, headers = 0): RouteMatch => ({ path: { type: 'PathPrefix', value }, headers: Array.from({ length: headers }, (_, i) => ({ type: 'Exact' as const, name: `h${i}`, value: 'v' })), queryParams: [] });
const OLD = '2026-01-01T00:00:00Z', NEW = '2026-02-01T00:00:00Z';

describe('precedence: the route\'s own hostname goes first', () => {
  const cases: { name: string; candidates: [string, MatchCandidate][]; want: string[] }[] = [
    {
      name: 'an exact hostname beats a wildcard, though newer and with a shorter PathPrefix',
      candidates: [
        ['wildcard-old-long', { route: routeNode('w', OLD), ruleIndex: 0, matchIndex: 0, match: prefix('/path/prefix', 2), routeHostname: '*.example.com' }],
        ['exact-new-short', { route: routeNode('e', NEW), ruleIndex: 0, matchIndex: 0, match: prefix('/path'), routeHostname: 'abc.example.com' }],
      ],
      want: ['exact-new-short', 'wildcard-old-long'],
    },
    {
      name: 'a longer wildcard beats a shorter one',
      candidates: [
        ['com', { route: routeNode('c', OLD), ruleIndex: 0, matchIndex: 0, match: prefix('/path/prefix'), routeHostname: '*.com' }],
        ['example-com', { route: routeNode('x', NEW), ruleIndex: 0, matchIndex: 0, match: prefix('/'), routeHostname: '*.example.com' }],
      ],
      want: ['example-com', 'com'],
    },
    {
      name: 'a route without hostnames comes last',
      candidates: [
        ['any', { route: routeNode('a', OLD), ruleIndex: 0, matchIndex: 0, match: prefix('/x/y'), routeHostname: '' }],
        ['wildcard', { route: routeNode('w', NEW), ruleIndex: 0, matchIndex: 0, match: prefix('/'), routeHostname: '*.example.com' }],
      ],
      want: ['wildcard', 'any'],
    },
    {
      name: 'equal hostnames: the path rules decide, then age',
      candidates: [
        ['old-short', { route: routeNode('o', OLD), ruleIndex: 0, matchIndex: 0, match: prefix('/a'), routeHostname: '*.example.com' }],
        ['new-long', { route: routeNode('n', NEW), ruleIndex: 0, matchIndex: 0, match: prefix('/a/b'), routeHostname: '*.example.com' }],
        ['new-short', { route: routeNode('m', NEW), ruleIndex: 0, matchIndex: 0, match: prefix('/a'), routeHostname: '*.example.com' }],
      ],
      want: ['new-long', 'old-short', 'new-short'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const names = new Map(c.candidates.map(([n, cand]) => [cand, n]));
      expect(sortByPrecedence(c.candidates.map(([, cand]) => cand)).map((x) => names.get(x))).to.deep.equal(c.want);
    });
  }
});

describe('model: routes that intersect a listener to one name, ordered by their own hostnames', () => {
  /** The conformance scenario: an older wildcard route and a newer exact one on a listener for abc.example.com. */
  function model(listenerHostname: string, older: { hostname: string; path: string; header: string }, newer: { hostname: string; path: string; header: string }) {
    const route = (name: string, created: string, r: typeof older, backend: string): KubeObject => httpRoute('app', name, {
      hostnames: [r.hostname],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: r.path }, headers: [{ name: r.header, value: 'x' }] }], backendRefs: [{ name: backend, port: 80 }] }],
    }, { creationTimestamp: created });
    const graph = buildGraph(storeOf(gatewayClass(), gateway('app', 'gw', [{ hostname: listenerHostname }]), service('app', 'v1'), service('app', 'v2'),
      route('older', OLD, older, 'v1'), route('newer', NEW, newer, 'v2')).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    return buildHttpModel(graph, SERVER_BLOCKS);
  }
  /** Route names in the order the dispatch map of `path`'s location on server `host` tries them. */
  function order(m: ReturnType<typeof buildHttpModel>, host: string, path: string): string[] {
    const server = m.servers.find((s) => s.serverNames.includes(JSON.stringify(host)))!;
    const loc = server.locations.find((l) => l.path === JSON.stringify(path) && !l.modifier)!;
    const variable = (loc.dispatch as { variable: string }).variable;
    const map = m.maps.find((x) => x.variable === variable)!;
    return map.entries.map((e) => e.source!.replace(/^HTTPRoute\/app\//, ''));
  }

  it('exact over wildcard on an exact listener: the newer exact route with the shorter prefix is tried first', () => {
    const m = model('abc.example.com', { hostname: '*.example.com', path: '/path/prefix', header: 'b' }, { hostname: 'abc.example.com', path: '/path', header: 'a' });
    expect(order(m, 'abc.example.com', '/path/prefix/')).to.deep.equal(['newer', 'older']);
  });

  it('the longer wildcard over the shorter one on a wildcard listener', () => {
    const m = model('*.example.com', { hostname: '*.com', path: '/path/prefix', header: 'b' }, { hostname: '*.example.com', path: '/path', header: 'a' });
    expect(order(m, '*.example.com', '/path/prefix/')).to.deep.equal(['newer', 'older']);
  });

  it('equal route hostnames keep the path rules: the longer prefix first, whatever the age', () => {
    const m = model('abc.example.com', { hostname: 'abc.example.com', path: '/path', header: 'b' }, { hostname: 'abc.example.com', path: '/path/prefix', header: 'a' });
    expect(order(m, 'abc.example.com', '/path/prefix/')).to.deep.equal(['newer', 'older']);
    const m2 = model('abc.example.com', { hostname: 'abc.example.com', path: '/path/prefix', header: 'b' }, { hostname: 'abc.example.com', path: '/path', header: 'a' });
    expect(order(m2, 'abc.example.com', '/path/prefix/')).to.deep.equal(['older', 'newer']);
  });
});

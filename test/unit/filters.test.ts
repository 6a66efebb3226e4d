// Filters, validated: RequestMirror shares and backendRefs, CORS origins/methods/headers/maxAge,
// backendRef filters, rule names; the shares split_clients gets (backend choice, mirrors); the
// CORS regexes we build are free of super-linear backtracking.
import { expect } from 'chai';
import fc from 'fast-check';
import type { HTTPRouteFilter } from '../../operator/src/api/gateway-api.ts';
import { parseBackendFilters, parseFilters, type Mirror } from '../../operator/src/graph/filters.ts';
import { parseCors } from '../../operator/src/graph/cors.ts';
import { indexBackends } from '../../operator/src/graph/backendrefs.ts';
import { buildHTTPRoute } from '../../operator/src/graph/httproute.ts';
import type { BackendNode } from '../../operator/src/graph/types.ts';
import { shareUnits } from '../../operator/src/dataplane/backend-choice.ts';
import { ANY_ORIGIN, originPattern } from '../../operator/src/dataplane/cors.ts';
import { mirrorUnits } from '../../operator/src/dataplane/mirror.ts';
import { regexProblem } from '../../operator/src/values/regex.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { backendTLSPolicy, CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';
import type { HTTPRoute } from '../../operator/src/objects.ts';

const backendNode: BackendNode = { name: 'app/m:80', weight: 1, endpoints: ['10.0.0.1:80'] };
const resolver = () => {
  const calls: string[] = [];
  return { calls, resolve: (_ref: unknown, field: string) => (calls.push(field), backendNode) };
};
const mirrorFilter = (extra: object): HTTPRouteFilter => ({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', port: 80 }, ...extra } }) as HTTPRouteFilter;
const problemOf = (filters: HTTPRouteFilter[]) => parseFilters(filters, 'spec.rules[0].filters', ['PathPrefix'], resolver().resolve).problem;

describe('RequestMirror filter (graph)', () => {
  it('resolves the backendRef through the given resolver, naming the field; several mirrors are kept in order', () => {
    const r = resolver();
    const { filters, problem } = parseFilters([mirrorFilter({}), mirrorFilter({ percent: 20 })], 'spec.rules[0].filters', ['PathPrefix'], r.resolve);
    expect(problem).to.equal(undefined);
    expect(r.calls).to.deep.equal(['spec.rules[0].filters[0].requestMirror.backendRef', 'spec.rules[0].filters[1].requestMirror.backendRef']);
    expect(filters.mirrors).to.deep.equal([
      { backend: backendNode, field: 'spec.rules[0].filters[0].requestMirror' },
      { backend: backendNode, field: 'spec.rules[0].filters[1].requestMirror', fraction: { numerator: 20, denominator: 100 } },
    ]);
  });

  it('percent 100 and fraction n/n mirror everything; percent 0 is kept (it still counts for ResolvedRefs) and mirrors nothing', () => {
    const parse = (extra: object) => parseFilters([mirrorFilter(extra)], 'f', [], resolver().resolve).filters.mirrors![0]!;
    expect(parse({ percent: 100 })).not.to.have.property('fraction');
    expect(parse({ fraction: { numerator: 7, denominator: 7 } })).not.to.have.property('fraction');
    expect(parse({ percent: 0 }).fraction).to.deep.equal({ numerator: 0, denominator: 100 });
    expect(parse({ fraction: { numerator: 1 } }).fraction).to.deep.equal({ numerator: 1, denominator: 100 }); // the CRD's default denominator
  });

  it('refuses out-of-range or mixed shares, naming the field', () => {
    expect(problemOf([mirrorFilter({ percent: 101 })])).to.equal('spec.rules[0].filters[0].requestMirror.percent: 101 is not an integer from 0 to 100');
    expect(problemOf([mirrorFilter({ percent: 2.5 })])).to.match(/percent: 2.5 is not an integer/);
    expect(problemOf([mirrorFilter({ percent: 10, fraction: { numerator: 1, denominator: 2 } })])).to.equal('spec.rules[0].filters[0].requestMirror: only one of percent or fraction may be set');
    expect(problemOf([mirrorFilter({ fraction: { numerator: 3, denominator: 2 } })])).to.equal('spec.rules[0].filters[0].requestMirror.fraction: numerator 3 is larger than denominator 2');
    expect(problemOf([mirrorFilter({ fraction: { numerator: 0, denominator: 0 } })])).to.match(/fraction: numerator and denominator must be integers/);
    expect(problemOf([mirrorFilter({ fraction: { numerator: -1, denominator: 2 } })])).to.match(/fraction: numerator and denominator must be integers/);
    expect(problemOf([{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', port: 70000 } } } as HTTPRouteFilter])).to.match(/backendRef\.port: 70000 is not a port number/);
    expect(parseFilters([mirrorFilter({})], 'f', []).problem).to.equal('f[0].requestMirror: RequestMirror is not supported here');
  });

  it('mirrorUnits: split_clients hundredths of a percent, never 0 for a positive share nor 100% for less than all', () => {
    const m = (numerator: number, denominator: number): Mirror => ({ backend: backendNode, field: 'f', fraction: { numerator, denominator } });
    expect(mirrorUnits({ backend: backendNode, field: 'f' })).to.equal(10_000);
    expect(mirrorUnits(m(20, 100))).to.equal(2000);
    expect(mirrorUnits(m(25, 50))).to.equal(5000);
    expect(mirrorUnits(m(1, 3))).to.equal(3333);
    expect(mirrorUnits(m(0, 100))).to.equal(0);
    expect(mirrorUnits(m(1, 1_000_000))).to.equal(1);
    expect(mirrorUnits(m(999_999, 1_000_000))).to.equal(9999);
  });
});

describe('CORS filter (graph)', () => {
  const parse = (c: object) => parseCors(c, 'spec.rules[0].filters[0].cors');

  it('parses origins into scheme, lowercase host pattern and port; methods, headers, maxAge (default 5), credentials', () => {
    expect(parse({ allowOrigins: ['https://www.Foo.com', 'http://*.bar.com:8080', 'https://*'], allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['x-a'], exposeHeaders: ['x-b', '*'], allowCredentials: true })).to.deep.equal({
      value: {
        allowOrigins: [{ scheme: 'https', host: 'www.foo.com' }, { scheme: 'http', host: '*.bar.com', port: 8080 }, { scheme: 'https', host: '*' }],
        allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['x-a'], exposeHeaders: ['x-b', '*'], maxAge: 5, allowCredentials: true,
      },
    });
    expect(parse({ allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], maxAge: 60 }).value).to.deep.include({ allowOrigins: '*', allowMethods: '*', allowHeaders: '*', maxAge: 60, allowCredentials: false });
  });

  const badOrigins = ['ftp://x.com', 'https://*bar.com', 'https://a.*.com', 'https://x.com/path', 'https://x.com:0', 'https://x.com:99999', 'https://', 'x.com', 'https://x.com:80:80', `https://${'a'.repeat(64)}.com`, 'https://x.com\n'];
  for (const o of badOrigins) {
    it(`refuses the origin ${JSON.stringify(o)}, naming the entry`, () => {
      expect(parse({ allowOrigins: ['https://ok.com', o] }).problem).to.match(/^spec\.rules\[0\]\.filters\[0\]\.cors\.allowOrigins\[1\]: /);
    });
  }

  it('refuses "*" beside others, unknown methods, bad header names, a bad maxAge, lists that do not fit one header', () => {
    expect(parse({ allowOrigins: ['*', 'https://x.com'] }).problem).to.equal('spec.rules[0].filters[0].cors.allowOrigins: "*" cannot be listed alongside other origins');
    expect(parse({ allowMethods: ['*', 'GET'] }).problem).to.match(/allowMethods: "\*" cannot be listed/);
    expect(parse({ allowMethods: ['get'] }).problem).to.equal('spec.rules[0].filters[0].cors.allowMethods[0]: "get" is not an HTTP method the spec allows');
    expect(parse({ allowHeaders: ['x-a', 'x b'] }).problem).to.match(/allowHeaders\[1\]: header name "x b"/);
    expect(parse({ exposeHeaders: ['x;y'] }).problem).to.match(/exposeHeaders\[0\]: header name/);
    for (const maxAge of [0, -1, 1.5, 2 ** 31]) expect(parse({ maxAge }).problem, String(maxAge)).to.match(/maxAge: .* is not a number of seconds/);
    const long = Array.from({ length: 64 }, (_, i) => `x-${String(i).padStart(2, '0')}-${'h'.repeat(80)}`);
    expect(parse({ allowHeaders: long }).problem).to.match(/allowHeaders: the list is .* characters/);
    expect(parse({ allowHeaders: [...long, 'x'] }).problem).to.match(/allowHeaders: more than 64 entries/);
  });
});

describe('CORS origin regexes (dataplane)', () => {
  const match = (pattern: string, origin: string) => new RegExp(`^(?:${pattern})$`, 'i').test(origin);

  it('exact hosts match themselves (dots are literal), with the default port or none', () => {
    const p = originPattern({ scheme: 'https', host: 'www.foo.com' });
    expect(['https://www.foo.com', 'https://www.foo.com:443', 'HTTPS://WWW.FOO.COM'].map((o) => match(p, o))).to.deep.equal([true, true, true]);
    expect(['https://wwwxfoo.com', 'http://www.foo.com', 'https://www.foo.com:8443', 'https://www.foo.com.evil', 'https://www.foo.com/'].map((o) => match(p, o))).to.deep.equal([false, false, false, false, false]);
    expect(match(originPattern({ scheme: 'http', host: 'a.com', port: 80 }), 'http://a.com')).to.equal(true);
    expect(match(originPattern({ scheme: 'http', host: 'a.com', port: 8080 }), 'http://a.com')).to.equal(false);
  });

  it('"*." covers one or more labels to its left; "*" alone any host; ANY_ORIGIN any http(s) origin with a port', () => {
    const p = originPattern({ scheme: 'https', host: '*.bar.com' });
    expect(['https://a.bar.com', 'https://x.y.bar.com'].map((o) => match(p, o))).to.deep.equal([true, true]);
    expect(['https://bar.com', 'https://.bar.com', 'https://abar.com', 'https://a..bar.com', 'https://a/.bar.com'].map((o) => match(p, o))).to.deep.equal([false, false, false, false, false]);
    expect(match(originPattern({ scheme: 'https', host: '*' }), 'https://anything.example')).to.equal(true);
    expect(['https://foobar.com:12345', 'http://[::1]:8080', 'http://x'].map((o) => match(ANY_ORIGIN, o))).to.deep.equal([true, true, true]);
    expect(['null', 'https://a.com/x', 'file://x', 'https://a b'].map((o) => match(ANY_ORIGIN, o))).to.deep.equal([false, false, false, false]);
  });

  it('every pattern we build is proven free of super-linear backtracking (the tenant-regex analysis)', function () {
    this.timeout(60_000);
    const patterns = [ANY_ORIGIN, originPattern({ scheme: 'https', host: '*.bar.com' }), originPattern({ scheme: 'http', host: '*', port: 8080 }), originPattern({ scheme: 'https', host: 'a-b.c.d' })];
    // regexLiteral() writes "-" as "\\-", which PCRE reads as "-" but the tenant subset refuses as syntax.
    for (const p of patterns) expect(regexProblem(`^(?:${p.replaceAll('\\-', '-')})$`), p).to.equal(undefined);
  });
});

describe('backendRef filters (graph)', () => {
  const f = (filters: object[], rule = {}) => parseBackendFilters(filters as HTTPRouteFilter[], 'spec.rules[0].backendRefs[1].filters', ['PathPrefix'], rule);

  it('keeps RequestHeaderModifier, ResponseHeaderModifier and URLRewrite; nothing for no filters', () => {
    expect(f([])).to.deep.equal({});
    expect(f([{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'A', value: '1' }] } }, { type: 'URLRewrite', urlRewrite: { hostname: 'x.example.com' } }]).filters).to.deep.equal({
      requestHeaders: { set: [{ name: 'A', value: '1' }], add: [], remove: [] }, rewrite: { hostname: 'x.example.com', path: undefined },
    });
  });

  it('refuses other filter types, two path rewrites, and filters behind a redirect, naming the field', () => {
    for (const type of ['RequestMirror', 'RequestRedirect', 'CORS', 'ExtensionRef', 'ExternalAuth']) {
      expect(f([{ type }]).problem, type).to.equal(`spec.rules[0].backendRefs[1].filters[0].type: filter ${type} is not supported on a backendRef (RequestHeaderModifier, ResponseHeaderModifier, URLRewrite are)`);
    }
    const rewrite = { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/b' } } };
    expect(f([rewrite], { rewrite: { path: { type: 'ReplaceFullPath', value: '/a' } } }).problem).to.equal('spec.rules[0].backendRefs[1].filters[0].urlRewrite.path: the rule\'s URLRewrite already rewrites the path; a path is rewritten once');
    expect(f([{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'bad name', value: '1' }] } }]).problem).to.match(/filters\[0\]\.requestHeaderModifier\.set\[0\]\.name/);
  });
});

describe('named route rules (graph)', () => {
  const index = indexBackends([], [], []);
  const rules = (route: HTTPRoute) => buildHTTPRoute(route, index).rules.map((r) => ({ name: r.name, problem: r.problem?.message }));

  it('a valid, unique name is kept on the rule', () => {
    expect(rules(httpRoute('app', 'r', { rules: [{ name: 'first' }, {}] }) as HTTPRoute)).to.deep.equal([{ name: 'first', problem: undefined }, { name: undefined, problem: undefined }]);
  });

  it('an invalid or repeated name fails its rule, naming the field', () => {
    expect(rules(httpRoute('app', 'r', { rules: [{ name: 'Upper' }, { name: 'a' }, { name: 'a' }] }) as HTTPRoute).map((r) => r.problem)).to.deep.equal([
      'spec.rules[0].name: "Upper" is not a valid rule name (lowercase DNS subdomain, at most 253 characters)',
      undefined,
      'spec.rules[2].name: "a" is already the name of spec.rules[1]; rule names are unique within a route',
    ]);
  });
});

describe('backend choice shares (split_clients hundredths of a percent)', () => {
  it('sum to exactly 10000, a positive weight gets at least 1, a zero weight none, each within one unit when it is above one', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 16 }), (weights) => {
      const units = shareUnits(weights);
      const total = weights.reduce((s, w) => s + w, 0);
      if (total === 0) return units.every((u) => u === 0);
      expect(units.reduce((s, u) => s + u, 0)).to.equal(10_000);
      weights.forEach((w, i) => {
        if (w === 0) expect(units[i]).to.equal(0);
        else expect(units[i]).to.be.at.least(1);
      });
      if (weights.every((w) => w === 0 || (w * 10_000) / total >= 2)) weights.forEach((w, i) => expect(Math.abs(units[i]! - (w * 10_000) / total)).to.be.below(1));
      return true;
    }), { numRuns: 2000 });
  });

  it('1:3 is 25%/75%; 1:1:1 is 33.34/33.33/33.33', () => {
    expect(shareUnits([1, 3])).to.deep.equal([2500, 7500]);
    expect(shareUnits([1, 1, 1])).to.deep.equal([3334, 3333, 3333]);
  });
});

describe('RequestMirror to a Service a BackendTLSPolicy protects (model)', () => {
  it('the hop sends the copy over verified TLS, the policy gets status from the mirroring route', () => {
    const objects = [
      gatewayClass(), namespace('app'), gateway('app', 'gw'),
      ...service('app', 'svc', 80, ['10.0.0.1:8080']), ...service('app', 'secure', 443, ['10.0.0.2:8443']),
      backendTLSPolicy('app', 'tls', [{ name: 'secure' }]),
      httpRoute('app', 'r', { rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'secure', port: 443 } } }], backendRefs: [{ name: 'svc', port: 80 }] }] }),
    ];
    const graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    const model = buildHttpModel(graph, { certDir: '/cfg/certs', socketDir: '/run/wg' });
    expect(model.problems).to.deep.equal([]);
    const hop = model.mirrorHop!;
    expect(hop.listen).to.equal('"unix:/run/wg/wg-mirror.sock"');
    expect(hop.targets).to.have.length(1);
    expect(hop.targets[0]!.proxyPass).to.match(/^https:\/\/wg_u_[0-9a-f]{16}\$request_uri$/);
    expect(hop.targets[0]!.proxySsl).to.include({ name: '"backend.example.com"' });
    const policy = graph.backendTLSPolicies.find((p) => p.obj.metadata.name === 'tls')!;
    expect(policy.ancestors.map((a) => a.gateway.key)).to.deep.equal(['app/gw']);
  });
});

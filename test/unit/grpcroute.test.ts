// GRPCRoute in the graph and the model: service and method names validated before anything
// reaches nginx.conf (they are user strings), matches as HTTP matches with the spec's
// precedence, filters, cross serving with HTTPRoute, gRPC targets and the h1/h2c front.
import { expect } from 'chai';
import fc from 'fast-check';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildStreamModel } from '../../operator/src/dataplane/stream.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { grpcMethodPath } from '../../operator/src/graph/grpcroute.ts';
import type { GRPCRouteNode, Graph } from '../../operator/src/graph/types.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { checkGrpcMethod, checkGrpcService } from '../../operator/src/values/grpc.ts';
import { conds, graphOptions, statusesOf } from '../support/statuses.ts';
import { gateway, gatewayClass, httpRoute, otherRoute, service, storeOf } from '../support/objects.ts';

const SOCKETS = '/run/wg-test';
const build = { certDir: '/etc/wg/certs', socketDir: SOCKETS };

/** A GRPCRoute in namespace app attached to gw, rules as given (backendRefs default to svc:80). */
const grpcRoute = (name: string, spec: any = {}, meta: any = {}) => {
  const r = otherRoute('GRPCRoute', 'app', name, spec);
  Object.assign(r.metadata, meta);
  return r;
};
const graphOf = (...objects: any[]): Graph => buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), graphOptions);
const grpcNode = (g: Graph, name: string) => g.routes.find((r) => r.key === `GRPCRoute/app/${name}`) as GRPCRouteNode;
const ruleProblem = (g: Graph, name: string, rule = 0) => grpcNode(g, name).rules[rule]!.problem?.message;
const base = [gateway('app', 'gw'), service('app', 'svc')];

describe('GRPCRoute: method matches as path matches', () => {
  it('maps service and method to Exact, service to PathPrefix, method to a regex, neither to "/"', () => {
    expect(grpcMethodPath({ service: 'pkg.Echo', method: 'Say' }, 'f')).to.deep.equal({ path: { type: 'Exact', value: '/pkg.Echo/Say' }, rank: 8 * 1025 + 3 });
    expect(grpcMethodPath({ service: 'pkg.Echo' }, 'f')).to.deep.equal({ path: { type: 'PathPrefix', value: '/pkg.Echo' }, rank: 8 * 1025 });
    expect(grpcMethodPath({ method: 'Say' }, 'f')).to.deep.equal({ path: { type: 'RegularExpression', value: '/[^/]+/Say' }, rank: 3 });
    expect(grpcMethodPath(undefined, 'f')).to.deep.equal({ path: { type: 'PathPrefix', value: '/' }, rank: 0 });
    expect(grpcMethodPath({ type: 'RegularExpression', service: 'pkg\\..*', method: 'S.*' }, 'f')).to.deep.equal({
      path: { type: 'RegularExpression', value: '/[^/]+/[^/]+' }, rank: 0, grpcRegex: { service: 'pkg\\..*', method: 'S.*' },
    });
  });

  it('ranks a service prefix above a method-only match, and that above a regex (spec: service characters, then method characters)', () => {
    const rank = (m: any) => (grpcMethodPath(m, 'f') as { rank: number }).rank;
    expect(rank({ service: 'a' })).to.be.above(rank({ method: 'AVeryLongMethodName' }));
    expect(rank({ method: 'Say' })).to.be.above(rank({ type: 'RegularExpression', method: 'Say' }));
    expect(rank({ service: 'a', method: 'B' })).to.be.above(rank({ service: 'a' }));
  });

  it('accepts only the CRD\'s names: identifiers joined by dots (service), one identifier (method), at most 1024 characters', () => {
    for (const ok of ['a', '_x', 'pkg.v1.Echo', '.pkg.Echo', 'A_1.b_2']) expect(checkGrpcService(ok), ok).to.equal(undefined);
    for (const bad of ['', '1a', 'a..b', 'a.', 'a/b', 'a b', 'a"b', 'a;b', 'a$b', 'a\nb', 'a{b', 'é', 'a'.repeat(1025)]) expect(checkGrpcService(bad), JSON.stringify(bad)).to.be.a('string');
    for (const ok of ['Say', '_x', 'A1_b']) expect(checkGrpcMethod(ok), ok).to.equal(undefined);
    for (const bad of ['', 'a.b', 'a/b', '1a', 'a b', 'a"', 'a'.repeat(1025)]) expect(checkGrpcMethod(bad), JSON.stringify(bad)).to.be.a('string');
  });

  it('whatever strings a route author writes, an Exact match either fails its rule naming the field or becomes a path of name characters only', () => {
    fc.assert(fc.property(fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), (service, method) => {
      const r = grpcMethodPath({ service, method }, 'spec.rules[0].matches[0].method');
      if ('problem' in r) return /^spec\.rules\[0\]\.matches\[0\]\.method/.test(r.problem);
      if (r.path.type === 'RegularExpression') return /^\/\[\^\/\]\+\/[A-Za-z_][A-Za-z0-9_]*$/.test(r.path.value);
      return /^\/[A-Za-z0-9_.]*(\/[A-Za-z0-9_]+)?$/.test(r.path.value);
    }), { numRuns: 2000 });
  });

  it('an invalid name, an unsafe regex or a name too long for a location fails its rule (UnsupportedValue, field named), the others serve', () => {
    const g = graphOf(...base, grpcRoute('r', { rules: [
      { matches: [{ method: { service: 'a/b', method: 'Say' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { method: 'Say"; return 200' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { type: 'RegularExpression', service: '(a+)+$' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { type: 'RegularExpression', method: '(?<x>a)' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { service: `s${'x'.repeat(300)}`, method: 'M' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { service: 'ok.Svc', method: 'Say' } }], backendRefs: [{ name: 'svc', port: 80 }] },
    ] }));
    expect(ruleProblem(g, 'r', 0)).to.match(/^spec\.rules\[0\]\.matches\[0\]\.method\.service: "a\/b" is not a gRPC service name/);
    expect(ruleProblem(g, 'r', 1)).to.match(/^spec\.rules\[1\]\.matches\[0\]\.method\.method: .* is not a gRPC method name/);
    expect(ruleProblem(g, 'r', 2)).to.match(/^spec\.rules\[2\]\.matches\[0\]\.method\.service: regular expression .* backtrack/);
    expect(ruleProblem(g, 'r', 3)).to.match(/^spec\.rules\[3\]\.matches\[0\]\.method\.method: /);
    expect(ruleProblem(g, 'r', 4)).to.match(/^spec\.rules\[4\]\.matches\[0\]\.method: service .*nginx locations hold at most/);
    expect(ruleProblem(g, 'r', 5)).to.equal(undefined);
    const d = statusesOf(...base, grpcRoute('r', { rules: [{ matches: [{ method: { service: 'a/b' } }] }, { matches: [{ method: { service: 'ok' } }] }] })).find('GRPCRoute', 'app', 'r')!;
    expect(conds(d.parents![0]!.conditions)).to.include({ Accepted: 'True/Accepted', PartiallyInvalid: 'True/UnsupportedValue' });
  });

  it('headers are checked as HTTPRoute\'s: names, values, regexes', () => {
    const g = graphOf(...base, grpcRoute('r', { rules: [
      { matches: [{ headers: [{ name: 'bad name', value: 'x' }] }] },
      { matches: [{ headers: [{ name: 'x-v', type: 'RegularExpression', value: '(a|a)*b' }] }] },
      { matches: [{ headers: [{ name: 'x-v', value: 'two' }] }] },
    ] }));
    expect(ruleProblem(g, 'r', 0)).to.match(/^spec\.rules\[0\]\.matches\[0\]\.headers\[0\]\.name: /);
    expect(ruleProblem(g, 'r', 1)).to.match(/^spec\.rules\[1\]\.matches\[0\]\.headers\[0\]\.value: /);
    expect(grpcNode(g, 'r').rules[2]!.matches[0]!.headers).to.deep.equal([{ type: 'Exact', name: 'x-v', value: 'two' }]);
  });
});

describe('GRPCRoute: filters and rule fields', () => {
  it('serves the header modifiers; RequestMirror, ExtensionRef, backendRef filters and sessionPersistence fail their rule, named', () => {
    const g = graphOf(...base, grpcRoute('r', { rules: [
      { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: '1' }] } }, { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['x-b'] } }] },
      { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'svc', port: 80 } } }] },
      { filters: [{ type: 'ExtensionRef', extensionRef: { group: 'x', kind: 'Y', name: 'z' } }] },
      { backendRefs: [{ name: 'svc', port: 80, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: 'y' }] } }] }] },
      { sessionPersistence: { type: 'Cookie' } },
    ] }));
    const rules = grpcNode(g, 'r').rules;
    expect(rules[0]!.problem).to.equal(undefined);
    expect(rules[0]!.filters.requestHeaders!.set).to.deep.equal([{ name: 'x-a', value: '1' }]);
    expect(rules[0]!.filters.responseHeaders!.remove).to.deep.equal(['x-b']);
    expect(rules[1]!.problem!.message).to.match(/^spec\.rules\[1\]\.filters\[0\]\.type: filter RequestMirror is not supported for GRPCRoute/);
    expect(rules[2]!.problem!.message).to.match(/^spec\.rules\[2\]\.filters\[0\]\.type: filter ExtensionRef/);
    expect(rules[3]!.problem!.message).to.match(/^spec\.rules\[3\]\.backendRefs\[0\]\.filters/);
    expect(rules[4]!.problem!.message).to.match(/^spec\.rules\[4\]\.sessionPersistence/);
  });

  it('named rules: the name names the rule in status; an invalid or repeated name fails its rule', () => {
    const s = statusesOf(...base, grpcRoute('r', { rules: [
      { name: 'echo', matches: [{ method: { service: 'a/b' } }] },
      { name: 'Bad Name' },
      { name: 'echo' },
      { name: 'ok' },
    ] }));
    const rules = grpcNode(s.graph, 'r').rules;
    expect(rules.map((r) => r.name)).to.deep.equal(['echo', 'Bad Name', 'echo', 'ok']);
    expect(rules[1]!.problem!.message).to.match(/^spec\.rules\[1\]\.name: "Bad Name" is not a valid rule name/);
    expect(rules[2]!.problem!.message).to.match(/^spec\.rules\[2\]\.name: "echo" is already the name of spec\.rules\[0\]/);
    expect(rules[3]!.problem).to.equal(undefined);
    const partially = s.find('GRPCRoute', 'app', 'r')!.parents![0]!.conditions.find((c) => c.type === 'PartiallyInvalid')!;
    expect(partially.message).to.match(/^rules 0 \(echo\), 1 \(Bad Name\), 2 \(echo\) are not served/);
  });

  it('refuses connection-specific request headers, which an HTTP/2 request cannot carry', () => {
    for (const name of ['Connection', 'upgrade', 'TE', 'Transfer-Encoding', 'keep-alive']) {
      const g = graphOf(...base, grpcRoute('r', { rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name, value: 'x' }] } }] }] }));
      expect(ruleProblem(g, 'r'), name).to.match(/connection-specific header/);
    }
  });
});

describe('GRPCRoute: attachment and cross serving with HTTPRoute', () => {
  const older = { creationTimestamp: '2026-01-01T00:00:00Z' };
  const newer = { creationTimestamp: '2026-02-01T00:00:00Z' };

  it('attaches to HTTP and HTTPS listeners, not to TCP ones (NotAllowedByListeners)', () => {
    const s = statusesOf(gateway('app', 'gw', [{ name: 'h' }]), gateway('app', 'tcp', [{ protocol: 'TCP', port: 9000 }]), service('app', 'svc'),
      grpcRoute('a'), grpcRoute('b', { parentRefs: [{ name: 'tcp' }] }));
    expect(conds(s.find('GRPCRoute', 'app', 'a')!.parents![0]!.conditions)).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(conds(s.find('GRPCRoute', 'app', 'b')!.parents![0]!.conditions).Accepted).to.equal('False/NotAllowedByListeners');
    expect((s.find('Gateway', 'app', 'gw')!.status!.listeners as any[])[0].attachedRoutes).to.equal(1);
  });

  it('a missing backend is ResolvedRefs=False/BackendNotFound, the route stays accepted', () => {
    const d = statusesOf(...base, grpcRoute('r', { rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] })).find('GRPCRoute', 'app', 'r')!;
    expect(conds(d.parents![0]!.conditions)).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' });
  });

  it('an HTTPRoute and a GRPCRoute sharing a hostname on a listener: the older is accepted, the newer is HostnameConflict naming it', () => {
    const s = statusesOf(...base, httpRoute('app', 'web', { hostnames: ['a.example.com'] }, older), grpcRoute('rpc', { hostnames: ['*.example.com'] }, newer));
    expect(conds(s.find('HTTPRoute', 'app', 'web')!.parents![0]!.conditions).Accepted).to.equal('True/Accepted');
    const rpc = s.find('GRPCRoute', 'app', 'rpc')!.parents![0]!.conditions.find((c) => c.type === 'Accepted')!;
    expect(`${rpc.status}/${rpc.reason}`).to.equal('False/HostnameConflict');
    expect(rpc.message).to.contain('HTTPRoute app/web (older) serves hostname a.example.com');
    expect(s.graph.gateways[0]!.listeners[0]!.attached.map((a) => a.route.key)).to.deep.equal(['HTTPRoute/app/web']);
    // The other way round, and with equal timestamps the first by namespace/name wins.
    const t = statusesOf(...base, httpRoute('app', 'web', {}, newer), grpcRoute('rpc', {}, older));
    expect(conds(t.find('HTTPRoute', 'app', 'web')!.parents![0]!.conditions).Accepted).to.equal('False/HostnameConflict');
    const u = statusesOf(...base, httpRoute('app', 'b', {}, older), grpcRoute('a', {}, older));
    expect(conds(u.find('HTTPRoute', 'app', 'b')!.parents![0]!.conditions).Accepted).to.equal('False/HostnameConflict');
  });

  it('no conflict without a common hostname, across listeners, or between routes of one kind; a refused route blocks nobody', () => {
    const s = statusesOf(...base, httpRoute('app', 'web', { hostnames: ['www.example.com'] }, older), grpcRoute('rpc', { hostnames: ['rpc.example.com'] }, newer),
      grpcRoute('rpc2', { hostnames: ['rpc.example.com'] }, newer));
    for (const [k, n] of [['HTTPRoute', 'web'], ['GRPCRoute', 'rpc'], ['GRPCRoute', 'rpc2']] as const) expect(conds(s.find(k, 'app', n)!.parents![0]!.conditions).Accepted, n).to.equal('True/Accepted');
    const two = [gateway('app', 'gw', [{ name: 'a', hostname: 'a.example.com' }, { name: 'b', hostname: 'b.example.com' }]), service('app', 'svc')];
    const t = statusesOf(...two, httpRoute('app', 'web', { parentRefs: [{ name: 'gw', sectionName: 'a' }] }, older), grpcRoute('rpc', { parentRefs: [{ name: 'gw', sectionName: 'b' }] }, newer));
    expect(conds(t.find('GRPCRoute', 'app', 'rpc')!.parents![0]!.conditions).Accepted).to.equal('True/Accepted');
    // HTTPRoute x (oldest, x.example.com), GRPCRoute y (*.example.com) refused by x, HTTPRoute z (z.example.com) conflicts only with y.
    const u = statusesOf(...base, httpRoute('app', 'x', { hostnames: ['x.example.com'] }, older), grpcRoute('y', { hostnames: ['*.example.com'] }, newer),
      httpRoute('app', 'z', { hostnames: ['z.example.com'] }, { creationTimestamp: '2026-03-01T00:00:00Z' }));
    expect(conds(u.find('GRPCRoute', 'app', 'y')!.parents![0]!.conditions).Accepted).to.equal('False/HostnameConflict');
    expect(conds(u.find('HTTPRoute', 'app', 'z')!.parents![0]!.conditions).Accepted).to.equal('True/Accepted');
  });
});

describe('GRPCRoute: the model (named targets, UNAVAILABLE, the h1/h2c front)', () => {
  const ports = [gateway('app', 'gw', [{ name: 'http', port: 80 }, { name: 'web', port: 8080 }, { name: 'tls', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } }], { addresses: [{ type: 'IPAddress', value: '127.0.0.9' }] }), service('app', 'svc')];

  it('fronts only the plaintext port a GRPCRoute attaches to: two local sockets with PROXY protocol, a js_preread stream server on the address', () => {
    const g = graphOf(...ports, grpcRoute('rpc', { parentRefs: [{ name: 'gw', sectionName: 'http' }] }), httpRoute('app', 'web', { parentRefs: [{ name: 'gw', sectionName: 'web' }] }));
    const http = buildHttpModel(g, build);
    const on80 = http.servers.filter((s) => s.listen.startsWith(`"unix:${SOCKETS}/wg-p-`));
    expect(on80).to.have.length.above(0);
    for (const s of on80) expect(s).to.include({ proxyProtocol: true }).and.to.have.property('h2cListen').that.matches(new RegExp(`^"unix:${SOCKETS}/wg-c-[0-9a-f]{16}\\.sock"$`));
    expect(http.servers.filter((s) => s.listen === '"127.0.0.9:8080"')).to.have.length.above(0);
    expect(http.servers.every((s) => s.listen !== '"127.0.0.9:80"')).to.equal(true);
    const stream = buildStreamModel(g, build);
    expect(stream.servers.map((s) => [s.listen, s.h2cPreread, s.sendProxyProtocol])).to.deep.equal([['"127.0.0.9:80"', true, true]]);
    const text = renderConfig(http, stream).files['stream.conf']!;
    expect(text).to.contain('js_preread wg_h2c.preread;').and.to.contain('map $wg_h2c $wg_front_0 {');
  });

  it('a port with HTTPRoutes only keeps its direct listen and no front; with frontSockets (the controller) it listens on the front\'s sockets too', () => {
    const g = graphOf(...ports, httpRoute('app', 'web', {}));
    expect(buildStreamModel(g, build).servers).to.deep.equal([]);
    const plain = buildHttpModel(g, build).servers.filter((s) => s.listen === '"127.0.0.9:80"');
    expect(plain).to.have.length.above(0);
    for (const s of plain) expect(s).to.not.have.any.keys('plainListen', 'h2cListen', 'proxyProtocol');
    const kept = buildHttpModel(g, { ...build, frontSockets: true }).servers.filter((s) => s.listen === '"127.0.0.9:80"');
    expect(kept).to.have.length(plain.length);
    for (const s of kept) {
      expect(s.plainListen).to.match(new RegExp(`^"unix:${SOCKETS}/wg-p-[0-9a-f]{16}\\.sock"$`));
      expect(s.h2cListen).to.match(new RegExp(`^"unix:${SOCKETS}/wg-c-[0-9a-f]{16}\\.sock"$`));
      expect(s.proxyProtocol).to.not.equal(true);
    }
    // The same sockets as the port's front would use, so a reload between the two finds them.
    const fronted = buildHttpModel(graphOf(...ports, grpcRoute('rpc', { parentRefs: [{ name: 'gw', sectionName: 'http' }] })), build).servers.find((s) => s.h2cListen && s.proxyProtocol)!;
    expect([fronted.listen, fronted.h2cListen]).to.deep.equal([kept[0]!.plainListen, kept[0]!.h2cListen]);
  });

  it('gRPC servers dispatch by error_page to named locations (the request URI stays the client\'s) and grpc_pass; no backend answers UNAVAILABLE', () => {
    const g = graphOf(...base, grpcRoute('rpc', { rules: [
      { matches: [{ method: { service: 'pkg.Echo', method: 'Say' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { service: 'pkg.Other' } }], backendRefs: [{ name: 'missing', port: 80 }] },
    ] }));
    const model = buildHttpModel(g, build);
    const server = model.servers.find((s) => s.grpc)!;
    expect(server.locations.find((l) => l.path === '"/pkg.Echo/Say"')).to.deep.include({ named: true, dispatch: { uri: '@wg_g0_0' } });
    const http = renderConfig(model).files['http.conf']!;
    expect(http).to.contain('error_page 418 = @wg_g0_0;\n        return 418;');
    expect(http).to.match(/location @wg_g0_0 \{[^}]*grpc_set_header "Host" \$http_host;[^}]*grpc_pass grpc:\/\/wg_u_g0_0;/);
    expect(http).to.not.match(/location @wg_g0_0 \{[^}]*"Upgrade"/);
    expect(http).to.match(/location @wg_g0_1 \{[^}]*add_header grpc-status 14 always;\s*add_header grpc-message "no valid backend for this GRPCRoute rule" always;\s*return 200 "";/);
    expect(http).to.contain('location @wg_ {\n        return 404;');
  });

  it('precedence on a gRPC server: a service prefix outranks the method-only (regex) matches, which outrank rules without a method match', () => {
    const g = graphOf(...base, grpcRoute('rpc', { rules: [
      { matches: [{ method: { method: 'Poke' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ method: { service: 'pkg.Other' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { backendRefs: [{ name: 'svc', port: 80 }] },
    ] }));
    const server = buildHttpModel(g, build).servers.find((s) => s.grpc)!;
    // Under "/pkg.Other/" the unconditional service prefix decides: the regex stage is never consulted.
    expect(server.locations.find((l) => l.path === '"/pkg.Other/"')!.dispatch).to.deep.equal({ uri: '@wg_g0_1' });
    // Under "/" the regex stage (Poke) comes before the rule without a method match.
    const root = server.locations.find((l) => l.path === '"/"')!.dispatch as { variable: string };
    expect(root).to.have.property('variable');
    const model = buildHttpModel(g, build);
    const map = model.maps.find((m) => m.variable === root.variable)!;
    expect(map.default).to.equal('g0_2');
  });

  it('regular expressions of service and method run on their own path segment', () => {
    const g = graphOf(...base, grpcRoute('rpc', { rules: [{ matches: [{ method: { type: 'RegularExpression', service: 'pkg\\..*', method: 'S.*' } }], backendRefs: [{ name: 'svc', port: 80 }] }] }));
    const http = renderConfig(buildHttpModel(g, build)).files['http.conf']!;
    expect(http).to.match(/map \$uri \$(wg_m\d+) \{\s*"~\^\/\(\[\^\/\]\+\)\/\[\^\/\]\+\$" \$1;/);
    expect(http).to.contain('"~^(?:pkg\\\\..*)$" 1;');
    expect(http).to.contain('"~^(?:S.*)$" 1;');
  });
});

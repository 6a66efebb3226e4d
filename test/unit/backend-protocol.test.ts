// Backend appProtocol of HTTPRoute backends (graph/backend-protocol.ts) and what the model
// makes of it (dataplane/backend-protocol.ts): which protocols are spoken, which are refused.
import { expect } from 'chai';
import { serverTargets } from '../../operator/src/dataplane/model.ts';
import { httpRouteProtocol } from '../../operator/src/graph/backend-protocol.ts';
import { h2cSocket, protocolProblem } from '../../operator/src/dataplane/backend-protocol.ts';
import type { BackendNode } from '../../operator/src/graph/types.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const check = (appProtocol: string | undefined, tls = false) => httpRouteProtocol({ port: 80, ...(appProtocol === undefined ? {} : { appProtocol }) }, tls, 'spec.rules[0].backendRefs[0]: Service a/b port 80');
const protocolOf = (appProtocol: string | undefined, tls = false) => {
  const r = check(appProtocol, tls);
  return 'protocol' in r ? r.protocol : `${r.problem.reason}: ${r.problem.message}`;
};

describe('backend appProtocol (HTTPRoute)', () => {
  it('speaks HTTP/1.1 without appProtocol or with http, WebSocket with kubernetes.io/ws, HTTP/2 with kubernetes.io/h2c', () => {
    expect(protocolOf(undefined)).to.equal('http');
    expect(protocolOf('')).to.equal('http');
    expect(protocolOf('http')).to.equal('http');
    expect(protocolOf('HTTP')).to.equal('http');
    expect(protocolOf('kubernetes.io/ws')).to.equal('ws');
    expect(protocolOf('kubernetes.io/h2c')).to.equal('h2c');
    expect(protocolOf('http', true)).to.equal('http'); // the BackendTLSPolicy adds TLS
  });

  it('speaks https and kubernetes.io/wss only when a BackendTLSPolicy supplies the TLS', () => {
    expect(protocolOf('https', true)).to.equal('http');
    expect(protocolOf('kubernetes.io/wss', true)).to.equal('ws');
    expect(protocolOf('https')).to.match(/^UnsupportedProtocol: .*"https": TLS to the backend needs a BackendTLSPolicy/);
    expect(protocolOf('kubernetes.io/wss')).to.match(/^UnsupportedProtocol: /);
  });

  it('refuses h2c over TLS and every other protocol with UnsupportedProtocol, naming the field and the value', () => {
    expect(protocolOf('kubernetes.io/h2c', true)).to.match(/^UnsupportedProtocol: .*HTTP\/2 over TLS to backends is not supported/);
    for (const p of ['grpc', 'kubernetes.io/foo', 'tcp', 'h2', 'example.com/custom']) {
      expect(protocolOf(p), p).to.equal(`UnsupportedProtocol: spec.rules[0].backendRefs[0]: Service a/b port 80 has appProtocol ${JSON.stringify(p)}: HTTPRoute backends support http, kubernetes.io/h2c, kubernetes.io/ws; https and kubernetes.io/wss with a BackendTLSPolicy`);
    }
  });

  it('does not let one rule mix h2c and HTTP/1.1 backends', () => {
    const b = (name: string, protocol: BackendNode['protocol']): BackendNode => ({ name, weight: 1, endpoints: [], protocol });
    expect(protocolProblem([b('a', 'h2c'), b('b', 'h2c')], 0)).to.equal(undefined);
    expect(protocolProblem([b('a', 'http'), b('b', 'ws')], 0)).to.equal(undefined);
    expect(protocolProblem([b('a', 'h2c'), b('b', 'ws')], 2)).to.equal('spec.rules[2].backendRefs: a speak HTTP/2 (appProtocol kubernetes.io/h2c) and b HTTP/1.1; one rule cannot mix them');
  });

  it('names the h2c hop socket by our own keys, stable and short', () => {
    const s = h2cSocket('/run/waygate/nginx', 'HTTPRoute/ns/name', 0);
    expect(s).to.match(/^\/run\/waygate\/nginx\/wg-2-[0-9a-f]{16}\.sock$/);
    expect(h2cSocket('/run/waygate/nginx', 'HTTPRoute/ns/name', 0)).to.equal(s);
    expect(h2cSocket('/run/waygate/nginx', 'HTTPRoute/ns/name', 1)).not.to.equal(s);
    expect(() => h2cSocket(`/${'d'.repeat(90)}`, 'HTTPRoute/ns/name', 0)).to.throw(/too long/);
  });

  it('gives each h2c target its own hop: backendRefs with filters are targets of their own', () => {
    const h2c = (name: string, ip: string) => service('app', name, 80, [`${ip}:8080`]).map((o: any) => (o.kind === 'Service' ? { ...o, spec: { ports: [{ ...o.spec.ports[0], appProtocol: 'kubernetes.io/h2c' }] } } : o));
    const withHeader = (name: string) => ({ name, port: 80, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-backend', value: name }] } }] });
    const objects = [gatewayClass(), namespace('app'), gateway('app', 'gw', [{ port: 80 }], { addresses: [{ type: 'IPAddress', value: '127.0.0.9' }] }),
      ...h2c('one', '10.0.0.1'), ...h2c('two', '10.0.0.2'),
      httpRoute('app', 'r', { rules: [{ backendRefs: [withHeader('one'), withHeader('two')] }] })];
    const model = buildHttpModel(buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] }), { certDir: '/c', socketDir: '/s' });
    expect(model.problems).to.deep.equal([]);
    expect(model.h2cHops).to.have.length(2);
    expect(new Set(model.h2cHops.map((h) => h.listen)).size).to.equal(2);
    // Each hop grpc_passes to one backend's upstream; the targets proxy to the hops' sockets.
    const upstreams = new Map(model.upstreams.map((u) => [u.name, u.servers.map((x) => x.address)]));
    expect(model.h2cHops.map((h) => upstreams.get(h.upstream)).sort()).to.deep.equal([['"10.0.0.1:8080"'], ['"10.0.0.2:8080"']]);
    const proxied = model.servers.flatMap((sv) => serverTargets(sv).flatMap((t) => (t.upstream ? [upstreams.get(t.upstream)] : [])));
    expect(proxied.map((a) => a![0]).sort()).to.deep.equal(model.h2cHops.map((h) => h.listen).sort());
  });
});

// TLS, TCP and UDP listeners and their routes in the graph (conditions the spec and the
// conformance tests expect) and in the stream model (targets, SNI precedence, port sharing).
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildStreamModel, CLOSED_UPSTREAM } from '../../operator/src/dataplane/stream.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { selfSigned, tlsSecret } from '../support/certs.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, otherRoute, referenceGrant, service, storeOf } from '../support/objects.ts';

const opts = { controllerName: CONTROLLER, supportedFeatures: [] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };
const conds = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
const build = (...objects: (KubeObject | KubeObject[])[]) => {
  const graph = buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), opts);
  const all = desiredStatuses(graph, opts, programmed);
  const find = (kind: string, ns: string, name: string) => all.find((d) => d.kind === kind && d.namespace === ns && d.name === name)!;
  const listener = (name: string) => (find('Gateway', 'app', 'gw').status!.listeners as any[]).find((l) => l.name === name);
  const route = (kind: string, name: string, i = 0) => conds(find(kind, 'app', name).parents![i]!.conditions);
  return { graph, all, find, listener, route };
};
const at = (ts: string, o: KubeObject) => ((o.metadata.creationTimestamp = ts), o);
const cert = selfSigned(['t.example.com']);

describe('graph: TLS, TCP and UDP listeners and routes', () => {
  const listeners = [
    { name: 'tcp', protocol: 'TCP', port: 9000 },
    { name: 'udp', protocol: 'UDP', port: 5300 },
    { name: 'pass', protocol: 'TLS', port: 443, hostname: '*.example.com', tls: { mode: 'Passthrough' } },
    { name: 'term', protocol: 'TLS', port: 8443, hostname: 't.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'c' }] } },
  ];
  const base = [gateway('app', 'gw', listeners), tlsSecret('app', 'c', cert), service('app', 'svc')];

  it('listeners: supportedKinds per protocol, Accepted, attachedRoutes counts the routes of each kind', () => {
    const { listener } = build(...base, otherRoute('TCPRoute', 'app', 't', { parentRefs: [{ name: 'gw', sectionName: 'tcp' }] }),
      otherRoute('UDPRoute', 'app', 'u', { parentRefs: [{ name: 'gw', sectionName: 'udp' }] }),
      otherRoute('TLSRoute', 'app', 'p', { parentRefs: [{ name: 'gw', sectionName: 'pass' }], hostnames: ['a.example.com'] }));
    for (const [name, kind, attached] of [['tcp', 'TCPRoute', 1], ['udp', 'UDPRoute', 1], ['pass', 'TLSRoute', 1], ['term', 'TLSRoute', 0]] as const) {
      const l = listener(name);
      expect(l.supportedKinds, name).to.deep.equal([{ group: 'gateway.networking.k8s.io', kind }]);
      expect(l.attachedRoutes, name).to.equal(attached);
      expect(conds(l.conditions), name).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs', Conflicted: 'False/NoConflicts' });
    }
  });

  it('a TCPRoute on an HTTP-only Gateway is NotAllowedByListeners; a missing sectionName is NoMatchingParent', () => {
    const { route } = build(gateway('app', 'gw'), service('app', 'svc'), otherRoute('TCPRoute', 'app', 'r', { parentRefs: [{ name: 'gw' }, { name: 'gw', sectionName: 'nope' }] }));
    expect(route('TCPRoute', 'r', 0)).to.include({ Accepted: 'False/NotAllowedByListeners' });
    expect(route('TCPRoute', 'r', 1)).to.include({ Accepted: 'False/NoMatchingParent' });
  });

  it('backendRefs: BackendNotFound and RefNotPermitted keep the route Accepted; a ReferenceGrant resolves it', () => {
    const missing = build(...base, otherRoute('TCPRoute', 'app', 'r', { parentRefs: [{ name: 'gw', sectionName: 'tcp' }], rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] }));
    expect(missing.route('TCPRoute', 'r')).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' });
    const cross = [otherRoute('UDPRoute', 'app', 'r', { parentRefs: [{ name: 'gw', sectionName: 'udp' }], rules: [{ backendRefs: [{ name: 'svc', namespace: 'other', port: 80 }] }] }), service('other', 'svc')];
    expect(build(...base, ...cross).route('UDPRoute', 'r')).to.include({ ResolvedRefs: 'False/RefNotPermitted' });
    expect(build(...base, ...cross, referenceGrant('other', 'g', [{ kind: 'UDPRoute', namespace: 'app' }], [{ kind: 'Service' }])).route('UDPRoute', 'r')).to.include({ ResolvedRefs: 'True/ResolvedRefs' });
  });

  it('TLSRoute hostnames that do not intersect the listener: NoMatchingListenerHostname; an invalid hostname: UnsupportedValue', () => {
    const { route } = build(...base, otherRoute('TLSRoute', 'app', 'r', { parentRefs: [{ name: 'gw', sectionName: 'pass' }], hostnames: ['a.example.org'] }),
      otherRoute('TLSRoute', 'app', 'bad', { parentRefs: [{ name: 'gw', sectionName: 'pass' }], hostnames: ['a.example.com;'] }));
    expect(route('TLSRoute', 'r')).to.include({ Accepted: 'False/NoMatchingListenerHostname' });
    expect(route('TLSRoute', 'bad')).to.include({ Accepted: 'False/UnsupportedValue' });
  });

  it('port sharing: HTTPS and TLS (both modes) are compatible; TCP with HTTP is ProtocolConflict and the rest keeps serving', () => {
    const { listener } = build(gateway('app', 'gw', [
      { name: 'https', protocol: 'HTTPS', port: 443, hostname: 'www.example.com', tls: { certificateRefs: [{ name: 'c' }] } },
      { name: 'pass', protocol: 'TLS', port: 443, hostname: 'a.example.com', tls: { mode: 'Passthrough' } },
      { name: 'term', protocol: 'TLS', port: 443, hostname: 't.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'c' }] } },
      { name: 'http', protocol: 'HTTP', port: 80 },
      { name: 'tcp', protocol: 'TCP', port: 80 },
      { name: 'other', protocol: 'TCP', port: 9000 },
    ]), tlsSecret('app', 'c', cert));
    for (const n of ['https', 'pass', 'term', 'other']) expect(conds(listener(n).conditions), n).to.include({ Accepted: 'True/Accepted', Conflicted: 'False/NoConflicts' });
    for (const n of ['http', 'tcp']) expect(conds(listener(n).conditions), n).to.include({ Accepted: 'False/ProtocolConflict', Conflicted: 'True/ProtocolConflict' });
  });

  it('two TCP listeners on one port conflict (no hostname tells them apart)', () => {
    const { listener } = build(gateway('app', 'gw', [{ name: 'a', protocol: 'TCP', port: 9000, hostname: 'a.example.com' }, { name: 'b', protocol: 'TCP', port: 9000, hostname: 'b.example.com' }]));
    expect(conds(listener('a').conditions)).to.include({ Conflicted: 'True/HostnameConflict' });
  });

  it('a Terminate listener needs its certificate: without the Secret it is Accepted, ResolvedRefs=False/InvalidCertificateRef, not programmed', () => {
    const { listener } = build(gateway('app', 'gw', [listeners[3]!]));
    expect(conds(listener('term').conditions)).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'False/InvalidCertificateRef', Programmed: 'False/Invalid' });
  });
});

describe('stream model', () => {
  const streamOf = (...objects: (KubeObject | KubeObject[])[]) => {
    const graph = buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), opts);
    return { graph, stream: buildStreamModel(graph, { certDir: '/c', socketDir: '/s' }), http: buildHttpModel(graph, { certDir: '/c', socketDir: '/s' }) };
  };
  const tcpGw = gateway('app', 'gw', [{ name: 'tcp', protocol: 'TCP', port: 9000 }], { addresses: [{ type: 'IPAddress', value: '127.0.0.9' }] });

  it('weights become upstream weights; weight 0 is left out; an invalid backend\'s share is closed through split_clients', () => {
    const { stream } = streamOf(tcpGw, service('app', 'a', 80, ['10.0.0.1:80']), service('app', 'b', 80, ['10.0.0.2:80']),
      otherRoute('TCPRoute', 'app', 'r', { rules: [{ backendRefs: [{ name: 'a', port: 80, weight: 3 }, { name: 'b', port: 80, weight: 1 }, { name: 'z', port: 80, weight: 0 }, { name: 'missing', port: 80, weight: 4 }] }] }));
    const up = stream.upstreams.find((u) => u.name.startsWith('wg_su_'))!;
    expect(up.servers).to.deep.equal([{ address: '"10.0.0.1:80"', weight: 300 }, { address: '"10.0.0.2:80"', weight: 100 }]);
    expect(stream.splits).to.have.length(1);
    expect(stream.splits[0]).to.include({ okPercent: '50.00%', ok: up.name, fail: CLOSED_UPSTREAM });
    expect(stream.servers[0]).to.include({ listen: '"127.0.0.9:9000"', proxyPass: `$${stream.splits[0]!.variable}` });
    expect(stream.upstreams.find((u) => u.name === CLOSED_UPSTREAM)).to.include({ down: true });
  });

  it('no valid backend: every connection is closed', () => {
    const { stream } = streamOf(tcpGw, otherRoute('TCPRoute', 'app', 'r', { rules: [{ backendRefs: [{ name: 'missing', port: 80 }] }] }));
    expect(stream.servers[0]!.proxyPass).to.equal(CLOSED_UPSTREAM);
  });

  it('several routes on one TCP listener: the oldest serves', () => {
    const { stream } = streamOf(tcpGw, service('app', 'a', 80, ['10.0.0.1:80']), service('app', 'b', 80, ['10.0.0.2:80']),
      at('2026-01-02T00:00:00Z', otherRoute('TCPRoute', 'app', 'newer', { rules: [{ backendRefs: [{ name: 'b', port: 80 }] }] })),
      at('2026-01-01T00:00:00Z', otherRoute('TCPRoute', 'app', 'older', { rules: [{ backendRefs: [{ name: 'a', port: 80 }] }] })));
    expect(stream.servers).to.have.length(1);
    const up = stream.upstreams.find((u) => u.name === stream.servers[0]!.proxyPass)!;
    expect(up.servers[0]!.address).to.equal('"10.0.0.1:80"');
  });

  it('SNI: the more specific route hostname wins over the older route (exact over wildcard, longer wildcard over shorter)', () => {
    const gw = gateway('app', 'gw', [{ name: 'x', protocol: 'TLS', port: 443, hostname: 'abc.example.com', tls: { mode: 'Passthrough' } },
      { name: 'w', protocol: 'TLS', port: 8443, hostname: '*.example.com', tls: { mode: 'Passthrough' } }], { addresses: [{ type: 'IPAddress', value: '127.0.0.9' }] });
    const { stream } = streamOf(gw, service('app', 'old', 443, ['10.0.0.1:443']), service('app', 'new', 443, ['10.0.0.2:443']),
      at('2026-01-01T00:00:00Z', otherRoute('TLSRoute', 'app', 'old-x', { parentRefs: [{ name: 'gw', sectionName: 'x' }], hostnames: ['*.example.com'], rules: [{ backendRefs: [{ name: 'old', port: 443 }] }] })),
      at('2026-01-02T00:00:00Z', otherRoute('TLSRoute', 'app', 'new-x', { parentRefs: [{ name: 'gw', sectionName: 'x' }], hostnames: ['abc.example.com'], rules: [{ backendRefs: [{ name: 'new', port: 443 }] }] })),
      at('2026-01-01T00:00:00Z', otherRoute('TLSRoute', 'app', 'old-w', { parentRefs: [{ name: 'gw', sectionName: 'w' }], hostnames: ['*.com'], rules: [{ backendRefs: [{ name: 'old', port: 443 }] }] })),
      at('2026-01-02T00:00:00Z', otherRoute('TLSRoute', 'app', 'new-w', { parentRefs: [{ name: 'gw', sectionName: 'w' }], hostnames: ['*.example.com'], rules: [{ backendRefs: [{ name: 'new', port: 443 }] }] })));
    const endpointOf = (upstream: string) => stream.upstreams.find((u) => u.name === upstream)!.servers[0]!.address;
    for (const m of stream.maps) {
      expect(m.entries).to.have.length(1);
      expect(endpointOf(m.entries[0]!.value), m.entries[0]!.pattern).to.equal('"10.0.0.2:443"');
      expect(m.default).to.equal(CLOSED_UPSTREAM); // unknown SNI: closed
    }
  });

  it('HTTPS sharing a port with passthrough: the http server listens on a local socket with PROXY protocol; the front sends the HTTPS name and unknown names there', () => {
    const gw = gateway('app', 'gw', [
      { name: 'https', protocol: 'HTTPS', port: 443, hostname: 'www.example.com', tls: { certificateRefs: [{ name: 'c' }] } },
      { name: 'pass', protocol: 'TLS', port: 443, hostname: 'a.example.com', tls: { mode: 'Passthrough' } }], { addresses: [{ type: 'IPAddress', value: '127.0.0.9' }] });
    const { stream, http } = streamOf(gw, tlsSecret('app', 'c', cert), service('app', 'svc', 443, ['10.0.0.1:443']), httpRoute('app', 'web', { hostnames: ['www.example.com'] }),
      otherRoute('TLSRoute', 'app', 'p', { parentRefs: [{ name: 'gw', sectionName: 'pass' }], hostnames: ['a.example.com'], rules: [{ backendRefs: [{ name: 'svc', port: 443 }] }] }));
    expect(http.servers.every((s) => s.listen.startsWith('"unix:/s/wg-h-') && s.proxyProtocol)).to.equal(true);
    const front = stream.servers.find((s) => s.preread)!;
    expect(front).to.include({ listen: '"127.0.0.9:443"', sendProxyProtocol: true });
    const map = stream.maps[0]!;
    const socketOf = (upstream: string) => stream.upstreams.find((u) => u.name === upstream)!.servers[0]!.address;
    expect(socketOf(map.entries.find((e) => e.pattern === '"www.example.com"')!.value)).to.equal(http.servers[0]!.listen);
    expect(socketOf(map.default)).to.equal(http.servers[0]!.listen);
    // The passthrough route goes through a relay that takes the PROXY header off.
    const relay = socketOf(map.entries.find((e) => e.pattern === '"a.example.com"')!.value);
    expect(stream.servers.find((s) => s.listen === relay)).to.include({ acceptProxyProtocol: true, ssl: false });
  });
});

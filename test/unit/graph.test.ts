// Graph rules, table-driven: each case is a set of objects and the conditions the spec
// requires on one object.
import { expect } from 'chai';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, referenceGrant, service, storeOf } from '../support/objects.ts';
import { selfSigned, tlsSecret } from '../support/certs.ts';

const opts = { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };

function statuses(...objects: (KubeObject | KubeObject[])[]) {
  const graph = buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), opts);
  const all = desiredStatuses(graph, opts, programmed);
  return { graph, find: (kind: string, ns: string | undefined, name: string) => all.find((d) => d.kind === kind && d.namespace === ns && d.name === name) };
}

const conds = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

function routeConds(objects: (KubeObject | KubeObject[])[], ns = 'app', name = 'r', parent = 0) {
  const d = statuses(...objects).find('HTTPRoute', ns, name);
  return conds(d?.parents?.[parent]?.conditions);
}

describe('graph: GatewayClass', () => {
  it('accepts a class with our controllerName and publishes supportedFeatures sorted', () => {
    const d = statuses().find('GatewayClass', undefined, 'waygate')!;
    expect(conds(d.status!.conditions as any[])).to.include({ Accepted: 'True/Accepted' });
    expect(d.status!.supportedFeatures).to.deep.equal([{ name: 'Gateway' }, { name: 'HTTPRoute' }]);
  });
  it('ignores classes of other controllers', () => {
    const { graph } = statuses(gatewayClass('other', 'example.com/other'));
    expect(graph.gatewayClasses.map((c) => c.obj.metadata.name)).to.deep.equal(['waygate']);
  });
  it('does not accept parametersRef (InvalidParameters) and its Gateways are not accepted', () => {
    const graph = buildGraph(storeOf(gatewayClass('waygate', CONTROLLER, { parametersRef: { group: 'x', kind: 'Y', name: 'z' } }), gateway('infra', 'gw')).snapshot(), opts);
    const all = desiredStatuses(graph, opts, programmed);
    expect(conds(all.find((d) => d.kind === 'GatewayClass')!.status!.conditions as any[])).to.include({ Accepted: 'False/InvalidParameters' });
    expect(conds(all.find((d) => d.kind === 'Gateway')!.status!.conditions as any[])).to.include({ Accepted: 'False/Invalid', Programmed: 'False/Invalid' });
  });
});

describe('graph: Gateway and listeners', () => {
  const cases: { name: string; gw: KubeObject; gateway: Record<string, string>; listeners: Record<string, string>[] }[] = [
    { name: 'one HTTP listener', gw: gateway('infra', 'gw'), gateway: { Accepted: 'True/Accepted', Programmed: 'True/Programmed' }, listeners: [{ Accepted: 'True/Accepted', Conflicted: 'False/NoConflicts', ResolvedRefs: 'True/ResolvedRefs', Programmed: 'True/Programmed' }] },
    {
      name: 'two listeners on one port with the same hostname: HostnameConflict',
      gw: gateway('infra', 'gw', [{ name: 'a', hostname: 'x.example.com' }, { name: 'b', hostname: 'x.example.com' }, { name: 'c', hostname: 'y.example.com' }]),
      gateway: { Accepted: 'True/ListenersNotValid' },
      listeners: [{ Conflicted: 'True/HostnameConflict', Accepted: 'False/HostnameConflict' }, { Conflicted: 'True/HostnameConflict' }, { Conflicted: 'False/NoConflicts', Accepted: 'True/Accepted' }],
    },
    {
      name: 'HTTP and TCP on one port: ProtocolConflict',
      gw: gateway('infra', 'gw', [{ name: 'a', protocol: 'HTTP', port: 80 }, { name: 'b', protocol: 'TCP', port: 80 }]),
      gateway: { Accepted: 'False/ListenersNotValid' },
      listeners: [{ Conflicted: 'True/ProtocolConflict' }, { Conflicted: 'True/ProtocolConflict' }],
    },
    {
      name: 'an unsupported protocol',
      gw: gateway('infra', 'gw', [{ name: 'a', protocol: 'SCTP', port: 53 }, { name: 'b' }]),
      gateway: { Accepted: 'True/ListenersNotValid' },
      listeners: [{ Accepted: 'False/UnsupportedProtocol', Programmed: 'False/Invalid' }, { Accepted: 'True/Accepted' }],
    },
    {
      name: 'allowedRoutes.kinds with a kind HTTP cannot carry: InvalidRouteKinds',
      gw: gateway('infra', 'gw', [{ allowedRoutes: { kinds: [{ group: 'gateway.networking.k8s.io', kind: 'TCPRoute' }, { kind: 'HTTPRoute' }] } }]),
      gateway: { Accepted: 'True/Accepted' },
      listeners: [{ ResolvedRefs: 'False/InvalidRouteKinds' }],
    },
    {
      name: 'a non-loopback address: accepted, not programmed (AddressNotUsable: loopback mode binds 127.0.0.0/8)',
      gw: gateway('infra', 'gw', [{}], { addresses: [{ type: 'IPAddress', value: '192.0.2.1' }] }),
      gateway: { Accepted: 'True/Accepted', Programmed: 'False/AddressNotUsable' },
      listeners: [{ Accepted: 'True/Accepted', Programmed: 'False/Pending' }],
    },
    {
      name: 'a Hostname address: UnsupportedAddress',
      gw: gateway('infra', 'gw', [{}], { addresses: [{ type: 'Hostname', value: 'gw.example.com' }] }),
      gateway: { Accepted: 'False/UnsupportedAddress' },
      listeners: [{}],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = statuses(c.gw).find('Gateway', 'infra', 'gw')!;
      expect(conds(d.status!.conditions as any[])).to.include(c.gateway);
      const listeners = d.status!.listeners as any[];
      c.listeners.forEach((want, i) => expect(conds(listeners[i].conditions), `listener ${i}`).to.include(want));
    });
  }

  it('reports supportedKinds, attachedRoutes and a deterministic loopback address', () => {
    const objs = [gateway('app', 'gw'), service('app', 'svc'), httpRoute('app', 'r1', {}), httpRoute('app', 'r2', {})];
    const a = statuses(...objs).find('Gateway', 'app', 'gw')!;
    const b = statuses(...[...objs].reverse()).find('Gateway', 'app', 'gw')!;
    const l = (a.status!.listeners as any[])[0];
    expect(l.supportedKinds).to.deep.equal([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }, { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' }]);
    expect(l.attachedRoutes).to.equal(2);
    expect(a.status!.addresses).to.deep.equal(b.status!.addresses);
    expect((a.status!.addresses as any[])[0].value).to.match(/^127\.10\.\d+\.\d+$/);
  });

  it('uses spec.addresses when it is a loopback IPAddress', () => {
    const d = statuses(gateway('infra', 'gw', [{}], { addresses: [{ type: 'IPAddress', value: '127.0.0.7' }] })).find('Gateway', 'infra', 'gw')!;
    expect(d.status!.addresses).to.deep.equal([{ type: 'IPAddress', value: '127.0.0.7' }]);
  });

  it('ignores Gateways of other classes', () => {
    const gw = gateway('infra', 'gw', [{}], { gatewayClassName: 'other' });
    expect(statuses(gw).find('Gateway', 'infra', 'gw')).to.equal(undefined);
  });
});

describe('graph: HTTPRoute attachment and references', () => {
  const base = [namespace('app'), namespace('infra'), gateway('app', 'gw'), service('app', 'svc')];
  const cases: { name: string; objects: (KubeObject | KubeObject[])[]; want: Record<string, string> }[] = [
    { name: 'a route in the Gateway namespace is accepted', objects: [httpRoute('app', 'r', {})], want: { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' } },
    {
      name: 'allowedRoutes Same refuses another namespace: NotAllowedByListeners',
      objects: [gateway('infra', 'gw2'), httpRoute('app', 'r', { parentRefs: [{ name: 'gw2', namespace: 'infra' }] })],
      want: { Accepted: 'False/NotAllowedByListeners' },
    },
    {
      name: 'allowedRoutes All admits another namespace',
      objects: [gateway('infra', 'gw2', [{ allowedRoutes: { namespaces: { from: 'All' } } }]), httpRoute('app', 'r', { parentRefs: [{ name: 'gw2', namespace: 'infra' }] })],
      want: { Accepted: 'True/Accepted' },
    },
    {
      name: 'allowedRoutes Selector reads namespace labels (match)',
      objects: [namespace('app', { team: 'a' }), gateway('infra', 'gw2', [{ allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } } } }]), httpRoute('app', 'r', { parentRefs: [{ name: 'gw2', namespace: 'infra' }] })],
      want: { Accepted: 'True/Accepted' },
    },
    {
      name: 'allowedRoutes Selector reads namespace labels (no match)',
      objects: [gateway('infra', 'gw2', [{ allowedRoutes: { namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['b'] }] } } } }]), httpRoute('app', 'r', { parentRefs: [{ name: 'gw2', namespace: 'infra' }] })],
      want: { Accepted: 'False/NotAllowedByListeners' },
    },
    {
      name: 'allowedRoutes.kinds without HTTPRoute: NotAllowedByListeners',
      objects: [gateway('app', 'gw', [{ allowedRoutes: { namespaces: { from: 'Same' }, kinds: [{ kind: 'GRPCRoute' }] } }]), httpRoute('app', 'r', {})],
      want: { Accepted: 'False/NotAllowedByListeners' },
    },
    { name: 'sectionName that matches no listener: NoMatchingParent', objects: [httpRoute('app', 'r', { parentRefs: [{ name: 'gw', sectionName: 'nope' }] })], want: { Accepted: 'False/NoMatchingParent' } },
    { name: 'port that matches no listener: NoMatchingParent', objects: [httpRoute('app', 'r', { parentRefs: [{ name: 'gw', port: 8080 }] })], want: { Accepted: 'False/NoMatchingParent' } },
    { name: 'sectionName and port of the listener', objects: [httpRoute('app', 'r', { parentRefs: [{ name: 'gw', sectionName: 'l0', port: 80 }] })], want: { Accepted: 'True/Accepted' } },
    {
      name: 'hostnames that no listener serves: NoMatchingListenerHostname',
      objects: [gateway('app', 'gw', [{ hostname: '*.example.com' }]), httpRoute('app', 'r', { hostnames: ['foo.example.org'] })],
      want: { Accepted: 'False/NoMatchingListenerHostname' },
    },
    { name: 'a missing Service: BackendNotFound', objects: [httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] })], want: { Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' } },
    { name: 'a Service port that does not exist: BackendNotFound', objects: [httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc', port: 81 }] }] })], want: { ResolvedRefs: 'False/BackendNotFound' } },
    { name: 'a backend of another kind: InvalidKind', objects: [httpRoute('app', 'r', { rules: [{ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'b' }] }] })], want: { ResolvedRefs: 'False/InvalidKind' } },
    {
      name: 'a Service in another namespace without ReferenceGrant: RefNotPermitted',
      objects: [service('other', 'svc2'), httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc2', namespace: 'other', port: 80 }] }] })],
      want: { ResolvedRefs: 'False/RefNotPermitted' },
    },
    {
      name: 'a Service in another namespace with a ReferenceGrant',
      objects: [service('other', 'svc2'), referenceGrant('other', 'g', [{ kind: 'HTTPRoute', namespace: 'app' }], [{ kind: 'Service' }]), httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc2', namespace: 'other', port: 80 }] }] })],
      want: { ResolvedRefs: 'True/ResolvedRefs' },
    },
    {
      name: 'a ReferenceGrant for another Service name does not allow it',
      objects: [service('other', 'svc2'), referenceGrant('other', 'g', [{ kind: 'HTTPRoute', namespace: 'app' }], [{ kind: 'Service', name: 'svc3' }]), httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc2', namespace: 'other', port: 80 }] }] })],
      want: { ResolvedRefs: 'False/RefNotPermitted' },
    },
    {
      name: 'a ReferenceGrant from another namespace does not allow it',
      objects: [service('other', 'svc2'), referenceGrant('other', 'g', [{ kind: 'HTTPRoute', namespace: 'elsewhere' }], [{ kind: 'Service' }]), httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc2', namespace: 'other', port: 80 }] }] })],
      want: { ResolvedRefs: 'False/RefNotPermitted' },
    },
    {
      name: 'one unsupported rule of two: PartiallyInvalid',
      objects: [httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }, { matches: [{ path: { type: 'PathPrefix', value: '/x' }, headers: [{ name: 'bad_name', value: 'v' }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })],
      want: { Accepted: 'True/Accepted', PartiallyInvalid: 'True/UnsupportedValue' },
    },
    {
      name: 'every rule unsupported: Accepted=False UnsupportedValue',
      objects: [httpRoute('app', 'r', { rules: [{ matches: [{ path: { type: 'RegularExpression', value: '(unclosed' } }], backendRefs: [{ name: 'svc', port: 80 }] }] })],
      want: { Accepted: 'False/UnsupportedValue' },
    },
  ];
  for (const c of cases) it(c.name, () => expect(routeConds([...base, ...c.objects])).to.include(c.want));

  it('names the field in messages', () => {
    const d = statuses(...base, httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] })).find('HTTPRoute', 'app', 'r')!;
    const rr = d.parents![0].conditions.find((c) => c.type === 'ResolvedRefs')!;
    expect(rr.message).to.contain('spec.rules[0].backendRefs[0]').and.contain('app/nope');
  });

  it('says nothing about routes whose parents are not our Gateways', () => {
    const { graph } = statuses(...base, httpRoute('app', 'r', { parentRefs: [{ name: 'someone-elses' }] }));
    expect(graph.routes).to.have.length(0);
  });

  it('reports each parentRef separately', () => {
    const objs = [...base, gateway('infra', 'gw2'), httpRoute('app', 'r', { parentRefs: [{ name: 'gw' }, { name: 'gw2', namespace: 'infra' }] })];
    expect(routeConds(objs, 'app', 'r', 0)).to.include({ Accepted: 'True/Accepted' });
    expect(routeConds(objs, 'app', 'r', 1)).to.include({ Accepted: 'False/NotAllowedByListeners' });
  });

  it('sets observedGeneration from the object', () => {
    const r = httpRoute('app', 'r', {});
    r.metadata.generation = 7;
    const d = statuses(...base, r).find('HTTPRoute', 'app', 'r')!;
    expect(d.parents![0].conditions.every((c) => c.observedGeneration === 7)).to.equal(true);
  });
});

describe('graph: HTTPS listeners and certificateRefs', () => {
  const cert = selfSigned(['secure.example.com']);
  const other = selfSigned(['other.example.com']);
  const https = (refs: any[]) => gateway('infra', 'gw', [{ name: 'https', protocol: 'HTTPS', port: 443, tls: { certificateRefs: refs } }]);
  const listenerConds = (...objects: (KubeObject | KubeObject[])[]) => {
    const d = statuses(...objects).find('Gateway', 'infra', 'gw')!;
    const l = (d.status!.listeners as any[])[0];
    return { ...conds(l.conditions), attachedRoutes: l.attachedRoutes };
  };
  const cases: { name: string; objects: (KubeObject | KubeObject[])[]; want: Record<string, unknown> }[] = [
    { name: 'a valid Secret in the Gateway namespace', objects: [https([{ name: 's' }]), tlsSecret('infra', 's', cert)], want: { ResolvedRefs: 'True/ResolvedRefs', Programmed: 'True/Programmed' } },
    { name: 'a missing Secret: InvalidCertificateRef', objects: [https([{ name: 'nope' }])], want: { ResolvedRefs: 'False/InvalidCertificateRef', Accepted: 'True/Accepted', Programmed: 'False/Invalid' } },
    { name: 'a ConfigMap: InvalidCertificateRef', objects: [https([{ kind: 'ConfigMap', name: 's' }])], want: { ResolvedRefs: 'False/InvalidCertificateRef' } },
    { name: 'another group: InvalidCertificateRef', objects: [https([{ group: 'example.com', kind: 'Secret', name: 's' }])], want: { ResolvedRefs: 'False/InvalidCertificateRef' } },
    { name: 'a malformed Secret: InvalidCertificateRef', objects: [https([{ name: 's' }]), { ...tlsSecret('infra', 's', cert), data: { 'tls.crt': Buffer.from('garbage').toString('base64'), 'tls.key': Buffer.from('garbage').toString('base64') } }], want: { ResolvedRefs: 'False/InvalidCertificateRef' } },
    { name: 'a key of another certificate: InvalidCertificateRef', objects: [https([{ name: 's' }]), tlsSecret('infra', 's', { cert: cert.cert, key: other.key })], want: { ResolvedRefs: 'False/InvalidCertificateRef' } },
    { name: 'a Secret in another namespace without ReferenceGrant: RefNotPermitted', objects: [https([{ name: 's', namespace: 'certs' }]), tlsSecret('certs', 's', cert)], want: { ResolvedRefs: 'False/RefNotPermitted' } },
    {
      name: 'a Secret in another namespace with a ReferenceGrant from Gateways',
      objects: [https([{ name: 's', namespace: 'certs' }]), tlsSecret('certs', 's', cert), { ...referenceGrant('certs', 'g', [{ kind: 'Gateway', namespace: 'infra' }], [{ kind: 'Secret' }]) }],
      want: { ResolvedRefs: 'True/ResolvedRefs' },
    },
  ];
  for (const c of cases) it(c.name, () => expect(listenerConds(...c.objects)).to.include(c.want));

  it('counts routes attached to a listener whose certificate does not resolve, but does not program it', () => {
    const route = httpRoute('infra', 'r', { parentRefs: [{ name: 'gw' }] });
    expect(listenerConds(https([{ name: 'nope' }]), service('infra', 'svc'), route)).to.include({ attachedRoutes: 1, Programmed: 'False/Invalid', ResolvedRefs: 'False/InvalidCertificateRef' });
    const graph = buildGraph(storeOf(gatewayClass(), https([{ name: 'nope' }]), service('infra', 'svc'), route).snapshot(), opts);
    expect(buildHttpModel(graph).servers).to.deep.equal([]);
    expect(listenerConds(https([{ name: 's' }]), tlsSecret('infra', 's', cert), service('infra', 'svc'), route)).to.include({ attachedRoutes: 1, Programmed: 'True/Programmed' });
  });
});

describe('graph: address allocation', () => {
  it('uses 127.<block>.0.0/16, so that two instances can share a machine', () => {
    const objs = [gatewayClass(), gateway('infra', 'gw')];
    const addr = (block?: number) => (desiredStatuses(buildGraph(storeOf(...objs).snapshot(), { ...opts, addressBlock: block }), opts, programmed)
      .find((d) => d.kind === 'Gateway')!.status!.addresses as any[])[0].value;
    expect(addr()).to.match(/^127\.10\.\d+\.\d+$/);
    expect(addr(11)).to.match(/^127\.11\.\d+\.\d+$/);
    expect(addr(11).split('.').slice(2)).to.deep.equal(addr().split('.').slice(2));
  });
});

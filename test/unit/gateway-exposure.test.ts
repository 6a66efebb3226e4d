// Gateways exposed through Services (operator --gateway-addresses service): nginx listens
// on an internal port per (Gateway, listener port), each Gateway gets a Service of its own,
// its status reports the Service's address, and its parameters come from ConfigMaps.
import { expect } from 'chai';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { allocateInternalPorts, gatewayServiceName, internalPortRange } from '../../operator/src/graph/exposure.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { endpointSliceObject, serviceObject, staleObjects } from '../../operator/src/apply/gateway-services.ts';
import { isLabelValue, isQualifiedName } from '../../operator/src/validation/names.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, service, storeOf } from '../support/objects.ts';

const opts = { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'], exposure: 'service' as const };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };

function gw(ns: string, name: string, created: number, extra: any = {}, listeners: any[] = [{ name: 'http', port: 80 }]): KubeObject {
  const g = gateway(ns, name, listeners, extra);
  g.metadata.uid = `uid-${ns}-${name}`;
  g.metadata.creationTimestamp = new Date(Date.UTC(2026, 0, 1) + created * 1000).toISOString().replace('.000Z', 'Z');
  return g;
}

/** The Service the leader would have created for `g`, with the status a cluster gives it. */
function ownedService(g: KubeObject, spec: any = { clusterIP: '10.96.0.42' }, status: any = {}, owner = g.metadata.uid): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { namespace: g.metadata.namespace, name: gatewayServiceName(g as any), labels: { 'app.kubernetes.io/managed-by': 'waygate', 'gateway.networking.k8s.io/gateway-name': g.metadata.name }, ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: g.metadata.name, uid: owner! }] },
    spec, status,
  };
}

function configMap(ns: string, name: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: ns, name }, data };
}

function run(objects: (KubeObject | KubeObject[])[], classExtra: any = {}) {
  const { graph, config } = buildConfiguration(storeOf(gatewayClass('waygate', CONTROLLER, classExtra), ...objects).snapshot(), opts);
  const all = desiredStatuses(graph, opts, programmed);
  const status = (kind: string, ns: string | undefined, name: string) => all.find((d) => d.kind === kind && d.namespace === ns && d.name === name)!.status as any;
  const cond = (kind: string, ns: string | undefined, name: string) => Object.fromEntries((status(kind, ns, name).conditions as any[]).map((c) => [c.type, c]));
  const gateway = (ns: string, name: string) => graph.gateways.find((g) => g.key === `${ns}/${name}`)!;
  return { graph, http: config.files['http.conf'] ?? '', status, cond, gateway };
}

describe('graph: Gateways exposed through Services', () => {
  it('two Gateways on port 80 get different internal ports, nginx listens on those and on no loopback address', () => {
    const a = gw('team-a', 'gw', 1);
    const b = gw('team-b', 'gw', 2);
    const r = run([a, b, service('team-a', 'svc'), httpRoute('team-a', 'r', {})]);
    const pa = r.gateway('team-a', 'gw').listenPorts!.get(80)!;
    const pb = r.gateway('team-b', 'gw').listenPorts!.get(80)!;
    expect(pa).to.not.equal(pb);
    for (const p of [pa, pb]) expect(p).to.be.within(internalPortRange.first, internalPortRange.last);
    const listens = [...r.http.matchAll(/^\s*listen\s+([^;]+);/gm)].map((m) => m[1]!.split(/\s+/)[0]!.replace(/"/g, ''));
    expect(new Set(listens)).to.deep.equal(new Set([String(pa), String(pb)]));
    expect(r.http).to.not.match(/listen\s+127\./);
    // The Service maps the listener port to the internal one.
    expect(r.gateway('team-a', 'gw').service!.ports).to.deep.equal([{ name: 'tcp-80', port: 80, targetPort: pa, protocol: 'TCP' }]);
  });

  it('internal ports do not depend on object order, and a newer Gateway never takes an older one\'s port', () => {
    const reqs = Array.from({ length: 200 }, (_, i) => ({ key: `Gateway/ns/g${i}`, creationTimestamp: `2026-01-01T00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`, ports: [80, 443, 8080] }));
    const forward = allocateInternalPorts(reqs);
    const backward = allocateInternalPorts([...reqs].reverse());
    expect([...forward].map(([k, v]) => [k, [...v!]])).to.deep.equal(reqs.map((r) => [r.key, [...backward.get(r.key)!]]));
    const all = [...forward.values()].flatMap((m) => [...m!.values()]);
    expect(new Set(all).size).to.equal(all.length);
    // A newcomer created last, hashing wherever it likes, leaves every existing port alone.
    const withNew = allocateInternalPorts([...reqs, { key: 'Gateway/zz/new', creationTimestamp: '2026-02-01T00:00:00Z', ports: [80] }]);
    for (const r of reqs) expect([...withNew.get(r.key)!]).to.deep.equal([...forward.get(r.key)!]);
  });

  it('a port a Gateway\'s Service already leads to stays its own, even when an older Gateway\'s new listener hashes onto it', () => {
    const taken = allocateInternalPorts([{ key: 'Gateway/infra/a', creationTimestamp: '2026-01-01T00:00:00Z', ports: [9000] }]).get('Gateway/infra/a')!.get(9000)!;
    const b = { key: 'Gateway/team-b/b', creationTimestamp: '2026-01-02T00:00:00Z', ports: [443], current: new Map([[443, taken]]) };
    const both = allocateInternalPorts([{ key: 'Gateway/infra/a', creationTimestamp: '2026-01-01T00:00:00Z', ports: [80, 9000] }, b]);
    expect(both.get('Gateway/team-b/b')!.get(443)).to.equal(taken);
    expect(both.get('Gateway/infra/a')!.get(9000)).to.not.equal(taken);
    // Through the graph: the Service in the store is what keeps it.
    const gb = gw('team-b', 'b', 2, {}, [{ name: 'https', port: 443, protocol: 'HTTP' }]);
    const svc = ownedService(gb, { clusterIP: '10.96.0.5', ports: [{ name: 'tcp-443', port: 443, targetPort: 12345 }] });
    expect(run([gb, svc]).gateway('team-b', 'b').listenPorts!.get(443)).to.equal(12345);
  });

  it('a look-alike Service is not adopted: a forged owner reference with a selector, or without our labels', () => {
    const g = gw('infra', 'gw', 1);
    const forged = ownedService(g, { clusterIP: '10.96.0.9', selector: { app: 'mine' } });
    let r = run([g, forged]);
    expect(r.cond('Gateway', 'infra', 'gw').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.gateway('infra', 'gw').service).to.equal(undefined);
    const unlabelled = ownedService(g);
    unlabelled.metadata.labels = {};
    r = run([g, unlabelled]);
    expect(r.cond('Gateway', 'infra', 'gw').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
  });

  it('the GatewayClass parameters bound a Gateway\'s: it may narrow the Service type, not widen it', () => {
    const classRef = { parametersRef: { group: '', kind: 'ConfigMap', namespace: 'waygate-system', name: 'params' } };
    const cm = configMap('waygate-system', 'params', { serviceType: 'ClusterIP' });
    const wants = (t: string) => [gw('infra', 'gw', 1, { infrastructure: { parametersRef: { group: '', kind: 'ConfigMap', name: 'mine' } } }), cm, configMap('infra', 'mine', { serviceType: t })];
    let r = run(wants('LoadBalancer'), classRef);
    const c = r.cond('Gateway', 'infra', 'gw').Accepted;
    expect(c).to.include({ status: 'False', reason: 'InvalidParameters' });
    expect(c.message).to.include('serviceType LoadBalancer exposes more than the GatewayClass allows (ClusterIP)');
    r = run(wants('ClusterIP'), classRef);
    expect(r.gateway('infra', 'gw').service!.type).to.equal('ClusterIP');
  });

  it('status.addresses: none and Programmed=False/AddressNotAssigned until the Service exists; then its ClusterIP; then its load balancer', () => {
    const g = gw('infra', 'gw', 1);
    let r = run([g]);
    expect(r.status('Gateway', 'infra', 'gw').addresses).to.deep.equal([]);
    expect(r.cond('Gateway', 'infra', 'gw').Programmed).to.include({ status: 'False', reason: 'AddressNotAssigned' });
    expect(r.http).to.match(/listen\s+"1\d{4}"/); // nginx serves it meanwhile: readiness needs a config

    r = run([g, ownedService(g)]);
    expect(r.status('Gateway', 'infra', 'gw').addresses).to.deep.equal([{ type: 'IPAddress', value: '10.96.0.42' }]);
    expect(r.cond('Gateway', 'infra', 'gw').Programmed).to.include({ status: 'True' });

    r = run([g, ownedService(g, { clusterIP: '10.96.0.42', type: 'LoadBalancer' }, { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { hostname: 'lb.example.com' }] } })]);
    expect(r.status('Gateway', 'infra', 'gw').addresses).to.deep.equal([{ type: 'IPAddress', value: '203.0.113.7' }, { type: 'Hostname', value: 'lb.example.com' }]);
  });

  it('a Service of that name that is not the Gateway\'s is never taken over: AddressNotUsable, no desired Service', () => {
    const g = gw('infra', 'gw', 1);
    const r = run([g, ownedService(g, { clusterIP: '10.96.0.9' }, {}, 'someone-else')]);
    expect(r.gateway('infra', 'gw').service).to.equal(undefined);
    expect(r.status('Gateway', 'infra', 'gw').addresses).to.deep.equal([]);
    const c = r.cond('Gateway', 'infra', 'gw').Programmed;
    expect(c).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(c.message).to.include('infra/gw-waygate');
  });

  it('Service type: LoadBalancer by default; the GatewayClass ConfigMap sets it; the Gateway\'s overrides the class\'s', () => {
    const classRef = { parametersRef: { group: '', kind: 'ConfigMap', namespace: 'waygate-system', name: 'params' } };
    expect(run([gw('infra', 'gw', 1)]).gateway('infra', 'gw').service!.type).to.equal('LoadBalancer');
    const cm = configMap('waygate-system', 'params', { serviceType: 'NodePort', externalTrafficPolicy: 'Local' });
    let r = run([gw('infra', 'gw', 1), cm], classRef);
    expect(r.gateway('infra', 'gw').service).to.include({ type: 'NodePort', externalTrafficPolicy: 'Local' });
    expect(r.cond('GatewayClass', undefined, 'waygate').Accepted).to.include({ status: 'True' });
    r = run([gw('infra', 'gw', 1, { infrastructure: { parametersRef: { group: '', kind: 'ConfigMap', name: 'mine' } } }), cm, configMap('infra', 'mine', { serviceType: 'ClusterIP' })], classRef);
    // ClusterIP takes no externalTrafficPolicy (the API server would refuse it).
    expect(r.gateway('infra', 'gw').service).to.deep.include({ type: 'ClusterIP' });
    expect(r.gateway('infra', 'gw').service).to.not.have.property('externalTrafficPolicy');
  });

  it('bad parameters are refused with InvalidParameters naming the field: unknown key, bad value, missing ConfigMap, other kinds', () => {
    const classRef = { parametersRef: { group: '', kind: 'ConfigMap', namespace: 'waygate-system', name: 'params' } };
    let r = run([configMap('waygate-system', 'params', { serviceType: 'LoadBalancer', snippet: 'x' })], classRef);
    let c = r.cond('GatewayClass', undefined, 'waygate').Accepted;
    expect(c).to.include({ status: 'False', reason: 'InvalidParameters' });
    expect(c.message).to.include('spec.parametersRef').and.include('"snippet"');
    r = run([configMap('waygate-system', 'params', { serviceType: 'ExternalName' })], classRef);
    expect(r.cond('GatewayClass', undefined, 'waygate').Accepted.message).to.include('serviceType "ExternalName"');
    r = run([], classRef);
    expect(r.cond('GatewayClass', undefined, 'waygate').Accepted.message).to.include('ConfigMap waygate-system/params not found');
    r = run([gw('infra', 'gw', 1, { infrastructure: { parametersRef: { group: 'example.com', kind: 'Params', name: 'p' } } })]);
    c = r.cond('Gateway', 'infra', 'gw').Accepted;
    expect(c).to.include({ status: 'False', reason: 'InvalidParameters' });
    expect(c.message).to.include('spec.infrastructure.parametersRef');
    expect(r.http).to.not.match(/listen\s+"1\d{4}"/);
  });

  it('spec.infrastructure labels and annotations reach the Service; waygate\'s own labels cannot be overridden', () => {
    let r = run([gw('infra', 'gw', 1, { infrastructure: { labels: { team: 'edge' }, annotations: { 'lb.example.com/scheme': 'internal' } } })]);
    const svc = r.gateway('infra', 'gw').service!;
    expect(svc.labels).to.include({ team: 'edge', 'gateway.networking.k8s.io/gateway-name': 'gw', 'app.kubernetes.io/managed-by': 'waygate' });
    expect(svc.annotations).to.deep.equal({ 'lb.example.com/scheme': 'internal' });
    r = run([gw('infra', 'gw', 1, { infrastructure: { labels: { 'app.kubernetes.io/managed-by': 'me' } } })]);
    const c = r.cond('Gateway', 'infra', 'gw').Programmed;
    expect(c).to.include({ status: 'False' });
    expect(c.message).to.include('spec.infrastructure.labels["app.kubernetes.io/managed-by"]');
    expect(r.gateway('infra', 'gw').service).to.equal(undefined);
  });

  it('spec.addresses behind a Service: a Hostname is UnsupportedAddress; a requested IP needs a LoadBalancer Service (gateway-static-addresses.test.ts)', () => {
    const r = run([gw('infra', 'gw', 1, { addresses: [{ type: 'Hostname', value: 'gw.example.com' }] })]);
    expect(r.cond('Gateway', 'infra', 'gw').Accepted).to.include({ status: 'False', reason: 'UnsupportedAddress' });
    const lb = run([gw('infra', 'gw', 1, { addresses: [{ type: 'IPAddress', value: '10.1.2.3' }] })]);
    expect(lb.cond('Gateway', 'infra', 'gw').Accepted).to.include({ status: 'True', reason: 'Accepted' });
    expect(lb.gateway('infra', 'gw').service?.loadBalancerIP).to.equal('10.1.2.3');
  });

  it('a redirect without a port keeps the listener port the client used, not nginx\'s internal one', () => {
    const g = gw('team-a', 'gw', 1, {}, [{ name: 'http', port: 8080 }]);
    const route = httpRoute('team-a', 'r', { rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.com' } }] }] });
    const r = run([g, route]);
    const internal = r.gateway('team-a', 'gw').listenPorts!.get(8080)!;
    const m = r.http.match(new RegExp(`map \\$server_port \\$(\\w+) \\{[^}]*"${internal}"\\s+"8080";`));
    expect(m, r.http).to.not.equal(null);
    expect(r.http).to.include(`"$scheme:$${m![1]}"`);
    expect(r.http).to.not.include('"$scheme:$server_port"');
  });

  it('Service names are DNS-1035 labels whatever the Gateway is called', () => {
    expect(gatewayServiceName(gw('a', 'web', 1) as any)).to.equal('web-waygate');
    for (const name of ['1st', 'a.b.c', 'x'.repeat(60)]) expect(gatewayServiceName(gw('a', name, 1) as any)).to.match(/^waygate-gw-[0-9a-f]{8}$/);
  });
});

describe('apply: the objects the leader writes for an exposed Gateway', () => {
  const g = gw('infra', 'gw', 1, { infrastructure: { labels: { team: 'edge' } } }, [{ name: 'http', port: 80 }, { name: 'alt', port: 8080 }]);
  const r = run([g]);
  const node = r.gateway('infra', 'gw');
  const pods = [
    { name: 'waygate-b', uid: 'u2', ip: '10.244.0.9', ready: true, terminating: true },
    { name: 'waygate-a', uid: 'u1', ip: '10.244.0.8', nodeName: 'n1', ready: true, terminating: false },
    { name: 'waygate-c', uid: 'u3', ip: '10.244.0.10', ready: false, terminating: false },
  ];

  it('Service: owned by the Gateway, no selector, listener ports to internal ports; every label is a valid label', () => {
    const svc = serviceObject(node.service!, g as any) as any;
    expect(svc.metadata.ownerReferences).to.deep.equal([{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'gw', uid: 'uid-infra-gw', controller: true }]);
    expect(svc.spec).to.not.have.property('selector');
    expect(svc.spec.ports.map((p: any) => [p.port, p.targetPort])).to.deep.equal([[80, node.listenPorts!.get(80)], [8080, node.listenPorts!.get(8080)]]);
    for (const [k, v] of Object.entries<string>(svc.metadata.labels)) expect([...isQualifiedName(k), ...isLabelValue(v)], `${k}=${v}`).to.deep.equal([]);
  });

  it('EndpointSlice: the pods, a draining one serving but not ready, ports named as the Service\'s; every label valid', () => {
    const slice = endpointSliceObject(node.service!, g as any, pods, 'waygate-system') as any;
    expect(slice.metadata.labels['kubernetes.io/service-name']).to.equal(node.service!.name);
    for (const [k, v] of Object.entries<string>(slice.metadata.labels)) expect([...isQualifiedName(k), ...isLabelValue(v)], `${k}=${v}`).to.deep.equal([]);
    expect(slice.ports.map((p: any) => p.name)).to.deep.equal(node.service!.ports.map((p) => p.name));
    expect(slice.ports.map((p: any) => p.port)).to.deep.equal(node.service!.ports.map((p) => p.targetPort));
    expect(slice.endpoints.map((e: any) => [e.addresses[0], e.conditions])).to.deep.equal([
      ['10.244.0.8', { ready: true, serving: true, terminating: false }],
      ['10.244.0.9', { ready: false, serving: true, terminating: true }],
      ['10.244.0.10', { ready: false, serving: false, terminating: false }],
    ]);
  });

  it('stale objects: ours for a Gateway of ours that no longer has a Service; never a user\'s, never another owner\'s', () => {
    const ours = (name: string, owner: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'infra', name, uid: name, labels: { 'app.kubernetes.io/managed-by': 'waygate', 'gateway.networking.k8s.io/gateway-name': 'gw' }, ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'gw', uid: owner }] }, spec: {} });
    const bad = gw('infra', 'gw', 1, { infrastructure: { labels: { 'app.kubernetes.io/managed-by': 'me' } } }); // no Service wanted any more
    const objects = [bad, ours('gw-waygate', 'uid-infra-gw'), ours('other-owner', 'uid-elsewhere'), { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'infra', name: 'users', labels: {} }, spec: {} }];
    const store = storeOf(gatewayClass(), ...objects);
    const { graph } = buildConfiguration(store.snapshot(), opts);
    expect(staleObjects(store, graph).map((o) => o.metadata.name)).to.deep.equal(['gw-waygate']);
    const fine = storeOf(gatewayClass(), g, ours('gw-waygate', 'uid-infra-gw'));
    expect(staleObjects(fine, buildConfiguration(fine.snapshot(), opts).graph)).to.deep.equal([]);
  });
});

// Gateway spec.addresses (features GatewayStaticAddresses, GatewayAddressEmpty), in both
// exposure modes. Spec reasons: a type waygate does not serve is UnsupportedAddress
// (Accepted=False); a value it cannot take is AddressNotUsable and an empty value it cannot
// assign AddressNotAssigned (Accepted=True, Programmed=False, nginx gets nothing for the
// Gateway); an empty value is assigned like no spec.addresses at all.
//   loopback: nginx binds the address itself, so 127.0.0.0/8 IPv4 only;
//   service:  a value is the load balancer's requested IP (Service spec.loadBalancerIP), so a
//             LoadBalancer Service only, and status lists it once the load balancer has it.
import { expect } from 'chai';
import { serviceObject } from '../../operator/src/apply/gateway-services.ts';
import { gatewayServiceName } from '../../operator/src/graph/exposure.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { CONTROLLER, gateway, gatewayClass, storeOf } from '../support/objects.ts';

const programmed = { ok: true, reason: 'Programmed', message: 'ok' };
const USABLE = '127.10.0.10';
const UNUSABLE = '192.0.2.10';
const INVALID_TYPE = { type: 'test/fake-invalid-type', value: 'fake address teehee!' };

function gw(name: string, addresses: unknown[] | undefined, created = 1, extra: any = {}): KubeObject {
  const g = gateway('infra', name, [{ name: 'http', port: 8080 }], { ...(addresses ? { addresses } : {}), ...extra });
  g.metadata.uid = `uid-${name}`;
  g.metadata.creationTimestamp = new Date(Date.UTC(2026, 0, 1) + created * 1000).toISOString().replace('.000Z', 'Z');
  return g;
}

function run(exposure: 'loopback' | 'service', ...objects: (KubeObject | KubeObject[])[]) {
  const opts = { controllerName: CONTROLLER, supportedFeatures: [], exposure };
  const { graph, config } = buildConfiguration(storeOf(gatewayClass(), ...objects).snapshot(), opts);
  const all = desiredStatuses(graph, opts, programmed);
  const status = (name: string) => all.find((d) => d.kind === 'Gateway' && d.name === name)!.status as any;
  const cond = (name: string) => Object.fromEntries((status(name).conditions as any[]).map((c) => [c.type, c]));
  const node = (name: string) => graph.gateways.find((g) => g.key === `infra/${name}`)!;
  const listens = [...(config.files['http.conf'] ?? '').matchAll(/^\s*listen\s+"([^"]+)"/gm)].map((m) => m[1]!);
  return { status, cond, node, listens };
}

describe('spec.addresses with loopback addresses', () => {
  it('the conformance sequence: invalid type, then unusable + usable, then usable alone', () => {
    // 1. An address type waygate does not serve: not accepted.
    let r = run('loopback', gw('gw', [INVALID_TYPE, { type: 'IPAddress', value: UNUSABLE }, { type: 'IPAddress', value: USABLE }]));
    expect(r.cond('gw').Accepted).to.include({ status: 'False', reason: 'UnsupportedAddress' });
    expect(r.cond('gw').Accepted.message).to.include('spec.addresses[0].type').and.include('test/fake-invalid-type');
    expect(r.listens).to.deep.equal([]);

    // 2. A value nginx cannot bind here: accepted, not programmed, nothing served, no address listed.
    r = run('loopback', gw('gw', [{ type: 'IPAddress', value: UNUSABLE }, { type: 'IPAddress', value: USABLE }]));
    expect(r.cond('gw').Accepted).to.include({ status: 'True', reason: 'Accepted' });
    expect(r.cond('gw').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.cond('gw').Programmed.message).to.include('spec.addresses[0].value').and.include(UNUSABLE).and.include('127.0.0.0/8');
    expect(r.status('gw').addresses).to.deep.equal([]);
    expect(r.listens).to.deep.equal([]);

    // 3. The usable address alone: programmed, listed, bound.
    r = run('loopback', gw('gw', [{ type: 'IPAddress', value: USABLE }]));
    expect(r.cond('gw').Accepted).to.include({ status: 'True', reason: 'Accepted' });
    expect(r.cond('gw').Programmed).to.include({ status: 'True', reason: 'Programmed' });
    expect(r.status('gw').addresses).to.deep.equal([{ type: 'IPAddress', value: USABLE }]);
    expect(r.listens).to.deep.equal([`${USABLE}:8080`]);
  });

  it('an IPAddress without a value (or an empty one) is assigned, the same address as without spec.addresses', () => {
    const derived = run('loopback', gw('gw', undefined)).status('gw').addresses;
    expect(derived).to.have.length(1);
    expect(derived[0].value).to.match(/^127\.10\.\d+\.\d+$/);
    for (const entry of [{ type: 'IPAddress' }, { type: 'IPAddress', value: '' }, {}]) {
      const r = run('loopback', gw('gw', [entry]));
      expect(r.cond('gw').Programmed, JSON.stringify(entry)).to.include({ status: 'True' });
      expect(r.status('gw').addresses).to.deep.equal(derived);
      expect(r.listens).to.deep.equal([`${derived[0].value}:8080`]);
    }
  });

  it('other values nginx cannot bind here are AddressNotUsable: IPv6, a public IPv4', () => {
    for (const value of ['::1', '2001:db8::1', '10.0.0.1', '8.8.8.8']) {
      const r = run('loopback', gw('gw', [{ type: 'IPAddress', value }]));
      expect(r.cond('gw').Programmed, value).to.include({ status: 'False', reason: 'AddressNotUsable' });
      expect(r.cond('gw').Programmed.message).to.include(value);
    }
  });

  it('a second address is refused (one address per Gateway): AddressNotUsable for a value, AddressNotAssigned for an empty one', () => {
    let r = run('loopback', gw('gw', [{ type: 'IPAddress', value: USABLE }, { type: 'IPAddress', value: '127.10.0.11' }]));
    expect(r.cond('gw').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.cond('gw').Programmed.message).to.include('spec.addresses[1]');
    expect(r.listens).to.deep.equal([]);
    r = run('loopback', gw('gw', [{ type: 'IPAddress' }, { type: 'IPAddress' }]));
    expect(r.cond('gw').Programmed).to.include({ status: 'False', reason: 'AddressNotAssigned' });
    expect(r.cond('gw').Programmed.message).to.include('spec.addresses[1]');
  });

  it('a Gateway with an unusable address holds none: a newer Gateway may take the address it also asked for', () => {
    const r = run('loopback', gw('old', [{ type: 'IPAddress', value: USABLE }, { type: 'IPAddress', value: UNUSABLE }], 1), gw('new', [{ type: 'IPAddress', value: USABLE }], 2));
    expect(r.cond('old').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.cond('new').Programmed).to.include({ status: 'True' });
    expect(r.listens).to.deep.equal([`${USABLE}:8080`]);
  });
});

describe('spec.addresses behind a Service', () => {
  /** The Service the leader created for `g`, with what a cluster filled in. */
  function stored(g: KubeObject, spec: any, status: any = {}): KubeObject {
    return {
      apiVersion: 'v1', kind: 'Service',
      metadata: { namespace: 'infra', name: gatewayServiceName(g as any), labels: { 'app.kubernetes.io/managed-by': 'waygate', 'gateway.networking.k8s.io/gateway-name': g.metadata.name }, ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: g.metadata.name, uid: g.metadata.uid! }] },
      spec, status,
    };
  }
  const LB = '203.0.113.7';

  it('a requested IP is the load balancer\'s requested address; listed only once the load balancer has it', () => {
    const g = gw('gw', [{ type: 'IPAddress', value: LB }]);
    let r = run('service', g);
    expect(r.cond('gw').Accepted).to.include({ status: 'True', reason: 'Accepted' });
    expect(r.node('gw').service).to.include({ type: 'LoadBalancer', loadBalancerIP: LB });
    expect((serviceObject(r.node('gw').service!, g as any).spec as any).loadBalancerIP).to.equal(LB);

    // Created, no load balancer yet: not the ClusterIP, which is not the address asked for.
    r = run('service', g, stored(g, { type: 'LoadBalancer', clusterIP: '10.96.0.42', loadBalancerIP: LB }));
    expect(r.cond('gw').Programmed).to.include({ status: 'False', reason: 'AddressNotAssigned' });
    expect(r.cond('gw').Programmed.message).to.include(LB);
    expect(r.status('gw').addresses).to.deep.equal([]);

    r = run('service', g, stored(g, { type: 'LoadBalancer', clusterIP: '10.96.0.42', loadBalancerIP: LB }, { loadBalancer: { ingress: [{ ip: LB }] } }));
    expect(r.cond('gw').Programmed).to.include({ status: 'True', reason: 'Programmed' });
    expect(r.status('gw').addresses).to.deep.equal([{ type: 'IPAddress', value: LB }]);
  });

  it('a load balancer that took another address: AddressNotUsable naming both; the Service stays', () => {
    const g = gw('gw', [{ type: 'IPAddress', value: LB }]);
    const r = run('service', g, stored(g, { type: 'LoadBalancer', clusterIP: '10.96.0.42', loadBalancerIP: LB }, { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } }));
    expect(r.cond('gw').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.cond('gw').Programmed.message).to.include(LB).and.include('198.51.100.1');
    expect(r.status('gw').addresses).to.deep.equal([]);
    expect(r.node('gw').service?.loadBalancerIP).to.equal(LB);
  });

  it('IPv6 addresses are compared as addresses, not strings', () => {
    const g = gw('gw', [{ type: 'IPAddress', value: '2001:db8::7' }]);
    const r = run('service', g, stored(g, { type: 'LoadBalancer' }, { loadBalancer: { ingress: [{ ip: '2001:0db8:0:0:0:0:0:7' }] } }));
    expect(r.cond('gw').Programmed).to.include({ status: 'True' });
    expect(r.status('gw').addresses).to.deep.equal([{ type: 'IPAddress', value: '2001:db8::7' }]);
  });

  it('a requested IP on a ClusterIP Service (parameters): AddressNotUsable naming the Service type; no Service, no externalIPs', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'infra', name: 'p' }, data: { serviceType: 'ClusterIP' } };
    const g = gw('gw', [{ type: 'IPAddress', value: '10.96.0.99' }], 1, { infrastructure: { parametersRef: { group: '', kind: 'ConfigMap', name: 'p' } } });
    const r = run('service', g, cm);
    expect(r.cond('gw').Accepted).to.include({ status: 'True' });
    expect(r.cond('gw').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.cond('gw').Programmed.message).to.include('ClusterIP').and.include('LoadBalancer');
    expect(r.node('gw').service).to.equal(undefined);
  });

  it('an IPAddress without a value takes the Service\'s address, as without spec.addresses', () => {
    const g = gw('gw', [{ type: 'IPAddress' }]);
    const r = run('service', g, stored(g, { type: 'LoadBalancer', clusterIP: '10.96.0.42' }));
    expect(r.node('gw').service).to.not.have.property('loadBalancerIP');
    expect(r.cond('gw').Programmed).to.include({ status: 'True' });
    expect(r.status('gw').addresses).to.deep.equal([{ type: 'IPAddress', value: '10.96.0.42' }]);
  });

  it('the conformance sequence\'s first step holds here too: an invalid type is UnsupportedAddress', () => {
    const r = run('service', gw('gw', [INVALID_TYPE, { type: 'IPAddress', value: LB }]));
    expect(r.cond('gw').Accepted).to.include({ status: 'False', reason: 'UnsupportedAddress' });
    expect(r.node('gw').service).to.equal(undefined);
  });
});

// Gateways that want the same loopback address: the oldest keeps it, the others are
// accepted but not programmed (AddressNotUsable) and nginx gets nothing for them, because
// two `default_server`s on one address:port make `nginx -t` fail for every Gateway.
import { expect } from 'chai';
import fc from 'fast-check';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { allocateAddresses } from '../../operator/src/graph/addresses.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, service, storeOf } from '../support/objects.ts';

const opts = { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };
const SHARED = '127.0.0.67';

/** A Gateway created at `created` (seconds after a fixed instant), optionally requesting `address`. */
function gw(ns: string, name: string, created: number | undefined, address?: string, extra: any = {}): KubeObject {
  const g = gateway(ns, name, [{ name: 'http', port: 80 }], { ...(address ? { addresses: [{ type: 'IPAddress', value: address }] } : {}), ...extra });
  if (created !== undefined) g.metadata.creationTimestamp = new Date(Date.UTC(2026, 0, 1) + created * 1000).toISOString().replace('.000Z', 'Z');
  return g;
}

function run(...objects: (KubeObject | KubeObject[])[]) {
  const graph = buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), opts);
  const all = desiredStatuses(graph, opts, programmed);
  const status = (ns: string, name: string) => all.find((d) => d.kind === 'Gateway' && d.namespace === ns && d.name === name)!.status as any;
  const conditions = (ns: string, name: string) => Object.fromEntries((status(ns, name).conditions as any[]).map((c) => [c.type, c]));
  const route = (ns: string, name: string) => all.find((d) => d.kind === 'HTTPRoute' && d.namespace === ns && d.name === name)!.parents![0]!.conditions as any[];
  return { graph, model: buildHttpModel(graph), status, conditions, route };
}

describe('graph: Gateways requesting the same address', () => {
  it('the oldest keeps it; a newer one is Accepted but Programmed=False/AddressNotUsable, naming the field and the holder', () => {
    // The older Gateway sorts last by name: age decides, not name.
    const r = run(gw('team-b', 'zz-old', 10, SHARED), gw('team-a', 'aa-new', 20, SHARED));
    expect(r.status('team-b', 'zz-old').addresses).to.deep.equal([{ type: 'IPAddress', value: SHARED }]);
    expect(r.conditions('team-b', 'zz-old').Programmed).to.include({ status: 'True', reason: 'Programmed' });

    const c = r.conditions('team-a', 'aa-new');
    expect(c.Accepted).to.include({ status: 'True', reason: 'Accepted' });
    expect(c.Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(c.Programmed.message).to.contain('spec.addresses[0]').and.contain(SHARED).and.contain('Gateway team-b/zz-old');
    expect(r.status('team-a', 'aa-new').addresses, 'an unusable address is not listed as bound').to.deep.equal([]);
    const listener = Object.fromEntries((r.status('team-a', 'aa-new').listeners[0].conditions as any[]).map((x) => [x.type, `${x.status}/${x.reason}`]));
    expect(listener).to.include({ Accepted: 'True/Accepted', Programmed: 'False/Pending' });
  });

  it('nginx gets servers for the holder only: one default_server per address:port', () => {
    const r = run(gw('team-b', 'old', 10, SHARED), gw('team-a', 'new', 20, SHARED), gw('team-c', 'other', 30));
    const sources = new Set(r.model.servers.map((s) => s.source));
    expect(sources).to.include('Gateway/team-b/old').and.include('Gateway/team-c/other');
    expect(sources).not.to.include('Gateway/team-a/new');
    const defaults = r.model.servers.filter((s) => s.defaultServer).map((s) => s.listen);
    expect(defaults).to.have.length(2);
    expect(new Set(defaults).size, 'no address:port has two default servers').to.equal(defaults.length);
  });

  it('without creationTimestamp (or with equal ones) namespace/name decides', () => {
    for (const t of [undefined, 5]) {
      const r = run(gw('b', 'gw', t, SHARED), gw('a', 'gw', t, SHARED), gw('a', 'gx', t, SHARED));
      expect(r.status('a', 'gw').addresses).to.deep.equal([{ type: 'IPAddress', value: SHARED }]);
      for (const [ns, name] of [['b', 'gw'], ['a', 'gx']] as const) {
        expect(r.conditions(ns, name).Programmed, `${ns}/${name}`).to.include({ status: 'False', reason: 'AddressNotUsable' });
        expect(r.conditions(ns, name).Programmed.message).to.contain('Gateway a/gw');
      }
    }
  });

  it('a Gateway without creationTimestamp counts as newest, whatever its name', () => {
    const r = run(gw('a', 'aa', undefined, SHARED), gw('z', 'zz', 50, SHARED));
    expect(r.status('z', 'zz').addresses).to.deep.equal([{ type: 'IPAddress', value: SHARED }]);
    expect(r.conditions('a', 'aa').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
  });

  it('routes attached to the Gateway that lost its address are accepted by it but served nowhere', () => {
    const r = run(gw('team-b', 'old', 10, SHARED), gw('team-a', 'new', 20, SHARED), service('team-a', 'svc'),
      httpRoute('team-a', 'r', { parentRefs: [{ name: 'new' }], hostnames: ['new.example.com'] }));
    expect(r.route('team-a', 'r').find((c) => c.type === 'Accepted')).to.include({ status: 'True' });
    expect(r.status('team-a', 'new').listeners[0].attachedRoutes).to.equal(1);
    expect(r.model.servers.flatMap((s) => s.serverNames)).not.to.include('new.example.com');
  });

  it('a Gateway that is not accepted holds no address: it cannot keep one from a Gateway that would serve', () => {
    const r = run(gw('team-b', 'old', 10, SHARED, { infrastructure: { parametersRef: { group: 'x', kind: 'Y', name: 'z' } } }), gw('team-a', 'new', 20, SHARED));
    expect(r.conditions('team-b', 'old').Accepted).to.include({ status: 'False', reason: 'InvalidParameters' });
    expect(r.status('team-a', 'new').addresses).to.deep.equal([{ type: 'IPAddress', value: SHARED }]);
    expect(r.conditions('team-a', 'new').Programmed).to.include({ status: 'True' });
  });

  it('when the holder goes away, the next oldest gets the address', () => {
    const r = run(gw('team-a', 'new', 20, SHARED), gw('team-c', 'newer', 30, SHARED));
    expect(r.status('team-a', 'new').addresses).to.deep.equal([{ type: 'IPAddress', value: SHARED }]);
    expect(r.conditions('team-c', 'newer').Programmed.message).to.contain('Gateway team-a/new');
  });
});

describe('graph: derived addresses against requested ones', () => {
  const derivedOf = (ns: string, name: string) => run(gw(ns, name, 10)).graph.gateways[0]!.address!;

  it('a newer Gateway cannot request the address an older one was assigned: it is the one not programmed', () => {
    const taken = derivedOf('team-b', 'auto');
    expect(taken).to.match(/^127\.10\.\d+\.\d+$/);
    const r = run(gw('team-b', 'auto', 10), gw('team-a', 'thief', 20, taken));
    expect(r.status('team-b', 'auto').addresses, 'the older Gateway does not move').to.deep.equal([{ type: 'IPAddress', value: taken }]);
    expect(r.conditions('team-a', 'thief').Programmed).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(r.conditions('team-a', 'thief').Programmed.message).to.contain('spec.addresses[0]').and.contain('Gateway team-b/auto');
  });

  it('an older request wins over a newer Gateway whose derived address it is: that one probes past it', () => {
    const wanted = derivedOf('team-b', 'auto');
    const r = run(gw('team-a', 'first', 5, wanted), gw('team-b', 'auto', 10));
    expect(r.status('team-a', 'first').addresses).to.deep.equal([{ type: 'IPAddress', value: wanted }]);
    const moved = r.status('team-b', 'auto').addresses[0].value;
    expect(moved).to.match(/^127\.10\.\d+\.\d+$/).and.not.equal(wanted);
    expect(r.conditions('team-b', 'auto').Programmed).to.include({ status: 'True' });
  });

  it('property: addresses are distinct, requests are honoured unless an older Gateway holds the address, every Gateway gets one or a reason', () => {
    // A small pool, so collisions are common: two plain addresses and the address each possible name derives alone.
    const names = ['a', 'b', 'c'].flatMap((x) => [x, ...['a', 'b', 'c'].map((y) => x + y)]);
    const derived = names.map((n) => { const a = allocateAddresses([{ key: `Gateway/ns/${n}`, name: `ns/${n}` }], 1).get(`Gateway/ns/${n}`)!; return 'address' in a ? a.address : ''; });
    const pool = ['127.0.0.67', '127.0.0.68', ...derived];
    const arb = fc.uniqueArray(
      fc.record({ name: fc.stringMatching(/^[a-c]{1,2}$/), created: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), requested: fc.option(fc.constantFrom(...pool), { nil: undefined }) }),
      { minLength: 1, maxLength: 12, selector: (g) => g.name },
    );
    fc.assert(fc.property(arb, (gws) => {
      const input = gws.map((g) => ({ key: `Gateway/ns/${g.name}`, name: `ns/${g.name}`, creationTimestamp: g.created === undefined ? undefined : `2026-01-01T00:00:0${g.created}Z`, requested: g.requested }));
      const out = allocateAddresses(input, 1);
      const assigned = input.flatMap((g) => { const a = out.get(g.key)!; return 'address' in a ? [a.address] : []; });
      expect(new Set(assigned).size, 'distinct addresses').to.equal(assigned.length);
      // Without a creationTimestamp a Gateway counts as newest.
      const age = (g: typeof input[number]) => g.creationTimestamp ?? '~';
      const older = (a: typeof input[number], b: typeof input[number]) => age(a) < age(b) || (age(a) === age(b) && a.key < b.key);
      for (const g of input) {
        const a = out.get(g.key)!;
        if ('address' in a) {
          if (g.requested) expect(a.address).to.equal(g.requested);
          continue;
        }
        expect(g.requested, 'only a request can be refused').to.be.a('string');
        const holder = input.find((h) => { const ha = out.get(h.key)!; return 'address' in ha && ha.address === g.requested; });
        expect(holder, 'someone holds it').to.not.equal(undefined);
        expect(older(holder!, g), `${holder!.name} is older than ${g.name}`).to.equal(true);
        expect(a.problem.reason).to.equal('AddressNotUsable');
        expect(a.problem.message).to.contain(`Gateway ${holder!.name}`);
      }
    }), { numRuns: 500 });
  });
});

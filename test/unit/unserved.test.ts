// Nothing silently ignored: route kinds waygate does not serve yet get a status entry, and a
// BackendTLSPolicy fails closed (its Service's backends answer 500, the policy says why).
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import { staleRouteStatuses } from '../../operator/src/modes/operator.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { backendTLSPolicy, CONTROLLER, gateway, gatewayClass, httpRoute, otherRoute, service, storeOf } from '../support/objects.ts';

const opts = { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };
const conds = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

function build(...objects: (KubeObject | KubeObject[])[]) {
  const graph = buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), opts);
  const all = desiredStatuses(graph, opts, programmed);
  return { graph, all, find: (kind: string, ns: string, name: string) => all.find((d) => d.kind === kind && d.namespace === ns && d.name === name) };
}

const kinds = ['GRPCRoute'] as const; // TLSRoute, TCPRoute, UDPRoute: stream-routes.test.ts

describe('graph: route kinds waygate does not serve yet', () => {
  const base = [gateway('app', 'gw'), service('app', 'svc')];

  for (const kind of kinds) {
    it(`${kind} naming our Gateway: Accepted=False/NotAllowedByListeners saying it is not served, ResolvedRefs, observedGeneration`, () => {
      const route = otherRoute(kind, 'app', 'r');
      route.metadata.generation = 4;
      const d = build(...base, route).find(kind, 'app', 'r')!;
      expect(d.parents).to.have.length(1);
      const [p] = d.parents!;
      expect(p!.controllerName).to.equal(CONTROLLER);
      expect(p!.parentRef).to.deep.equal({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'app' });
      expect(conds(p!.conditions)).to.deep.equal({ Accepted: 'False/NotAllowedByListeners', ResolvedRefs: 'True/ResolvedRefs' });
      expect(p!.conditions.find((c) => c.type === 'Accepted')!.message).to.contain(`waygate does not serve ${kind} yet`);
      expect(p!.conditions.every((c) => c.observedGeneration === 4)).to.equal(true);
    });
  }

  it("a route naming another controller's Gateway (or a Service) gets nothing from us", () => {
    const { all } = build(...base, gatewayClass('other', 'example.com/other'), gateway('app', 'theirs', [{}], { gatewayClassName: 'other' }),
      otherRoute('GRPCRoute', 'app', 'r', { parentRefs: [{ name: 'theirs' }, { group: '', kind: 'Service', name: 'svc' }] }));
    expect(all.filter((d) => d.kind === 'GRPCRoute')).to.deep.equal([]);
  });

  it('one entry per parentRef of ours; a sectionName no listener has is NoMatchingParent (as for HTTPRoute)', () => {
    const d = build(...base, gateway('app', 'gw2'), otherRoute('TCPRoute', 'app', 'r', { parentRefs: [{ name: 'gw' }, { name: 'gw2', sectionName: 'nope' }] })).find('TCPRoute', 'app', 'r')!;
    expect(d.parents!.map((p) => conds(p.conditions).Accepted)).to.deep.equal(['False/NotAllowedByListeners', 'False/NoMatchingParent']);
  });

  it('resolves backendRefs like HTTPRoute does: a missing Service is ResolvedRefs=False/BackendNotFound', () => {
    const d = build(...base, otherRoute('UDPRoute', 'app', 'r', { rules: [{ backendRefs: [{ name: 'missing', port: 53 }] }] })).find('UDPRoute', 'app', 'r')!;
    expect(conds(d.parents![0]!.conditions)).to.include({ ResolvedRefs: 'False/BackendNotFound' });
  });

  it("never attaches: listeners count no route and nginx only has the Gateway's 404 default for it", () => {
    const { graph, find } = build(...base, ...kinds.map((k) => otherRoute(k, 'app', `r-${k}`)));
    expect((find('Gateway', 'app', 'gw')!.status!.listeners as any[])[0].attachedRoutes).to.equal(0);
    const model = buildHttpModel(graph);
    expect(model.upstreams).to.deep.equal([]);
    expect(model.servers.flatMap((s) => s.locations.map((l) => (l as any).dispatch))).to.deep.equal([{ status: 404 }]);
  });

  it('cluster mode clears our entry once the route no longer names our Gateway', () => {
    const route = otherRoute('TLSRoute', 'app', 'r', { parentRefs: [{ name: 'elsewhere' }] });
    route.status = { parents: [{ parentRef: { name: 'gw' }, controllerName: CONTROLLER, conditions: [] }] };
    const store = storeOf(gatewayClass(), ...base, route);
    const stale = staleRouteStatuses(store, buildGraph(store.snapshot(), opts), CONTROLLER);
    expect(stale).to.deep.equal([{ kind: 'TLSRoute', namespace: 'app', name: 'r', parents: [] }]);
  });
});

describe('graph: BackendTLSPolicy fails closed', () => {
  const base = [gateway('app', 'gw'), service('app', 'svc'), service('app', 'plain'),
    httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }, { matches: [{ path: { type: 'PathPrefix', value: '/plain' } }], backendRefs: [{ name: 'plain', port: 80 }] }] })];
  const routeBackends = (graph: ReturnType<typeof build>['graph']) => graph.routes[0]!.rules.map((r) => r.backends.map((b) => b.problem?.reason ?? 'ok'));

  it('a policy targeting a used Service: Accepted=False/Invalid per Gateway, and that backend gets an UnsupportedProtocol problem', () => {
    const { graph, find } = build(...base, backendTLSPolicy('app', 'tls', [{ name: 'svc' }]));
    const d = find('BackendTLSPolicy', 'app', 'tls')!;
    expect(d.ancestors).to.have.length(1);
    const [a] = d.ancestors!;
    expect(a!.ancestorRef).to.deep.equal({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'app', name: 'gw' });
    expect(a!.controllerName).to.equal(CONTROLLER);
    expect(conds(a!.conditions)).to.deep.equal({ Accepted: 'False/Invalid' });
    expect(a!.conditions[0]!.message).to.contain('backend TLS').and.contain('plain text');
    expect(routeBackends(graph)).to.deep.equal([['UnsupportedProtocol'], ['ok']]);
    expect(conds(find('HTTPRoute', 'app', 'r')!.parents![0]!.conditions)).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'False/UnsupportedProtocol' });
  });

  it('the policied share answers 500 in the model; the other rule keeps its upstream', () => {
    const { graph } = build(...base, backendTLSPolicy('app', 'tls', [{ name: 'svc' }]));
    const model = buildHttpModel(graph);
    expect(model.upstreams.map((u) => u.servers.map((s) => s.address))).to.deep.equal([['"10.0.0.1:8080"']]);
  });

  it('sectionName: only the Service port of that name is refused', () => {
    expect(routeBackends(build(...base, backendTLSPolicy('app', 'tls', [{ name: 'svc', sectionName: 'http' }])).graph)).to.deep.equal([['UnsupportedProtocol'], ['ok']]);
    const other = build(...base, backendTLSPolicy('app', 'tls', [{ name: 'svc', sectionName: 'https' }]));
    expect(routeBackends(other.graph)).to.deep.equal([['ok'], ['ok']]);
    expect(other.find('BackendTLSPolicy', 'app', 'tls')).to.equal(undefined);
  });

  it('a policy targeting a Service no route of ours uses gets no status from us (it may be another controller\'s)', () => {
    const { graph, find } = build(...base, service('app', 'unused'), backendTLSPolicy('app', 'tls', [{ name: 'unused' }]));
    expect(find('BackendTLSPolicy', 'app', 'tls')).to.equal(undefined);
    expect(routeBackends(graph)).to.deep.equal([['ok'], ['ok']]);
  });

  it('a policy in another namespace does not apply to a Service of the same name', () => {
    const { graph } = build(...base, backendTLSPolicy('elsewhere', 'tls', [{ name: 'svc' }]));
    expect(routeBackends(graph)).to.deep.equal([['ok'], ['ok']]);
  });

  it('cluster mode clears our ancestor entry once no route of ours uses the Service', () => {
    const policy = backendTLSPolicy('app', 'tls', [{ name: 'unused' }]);
    policy.status = { ancestors: [{ ancestorRef: { name: 'gw' }, controllerName: CONTROLLER, conditions: [] }] };
    const store = storeOf(gatewayClass(), ...base, policy);
    expect(staleRouteStatuses(store, buildGraph(store.snapshot(), opts), CONTROLLER)).to.deep.equal([{ kind: 'BackendTLSPolicy', namespace: 'app', name: 'tls', ancestors: [] }]);
  });
});

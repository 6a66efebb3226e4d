// Nothing silently ignored: a route of a kind its Gateway's listeners do not carry (a
// TCPRoute naming an HTTP-only Gateway) gets a status entry saying so, and no traffic
// (BackendTLSPolicy: backendtls.test.ts; GRPCRoute, served since #13: grpcroute.test.ts).
import { expect } from 'chai';
import { buildHttpModel, defaultBuildOptions } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { staleRouteStatuses } from '../../operator/src/modes/operator.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { conds, graphOptions, statusesOf } from '../support/statuses.ts';
import { backendTLSPolicy, CONTROLLER, gateway, gatewayClass, httpRoute, otherRoute, service, storeOf } from '../support/objects.ts';

/** Every rule in server blocks: these tests are about the server renderer, not the route table. */
const SERVER_BLOCKS = { ...defaultBuildOptions, routeTable: false };

const opts = graphOptions;
const build = statusesOf;

const kinds = ['TCPRoute', 'UDPRoute'] as const; // on listeners that carry them: stream-routes.test.ts

describe('graph: route kinds the listeners do not carry', () => {
  const base = [gateway('app', 'gw'), service('app', 'svc')];

  for (const kind of kinds) {
    it(`${kind} naming an HTTP-only Gateway: Accepted=False/NotAllowedByListeners naming the kind, ResolvedRefs, observedGeneration`, () => {
      const route = otherRoute(kind, 'app', 'r');
      route.metadata.generation = 4;
      const d = build(...base, route).find(kind, 'app', 'r')!;
      expect(d.parents).to.have.length(1);
      const [p] = d.parents!;
      expect(p!.controllerName).to.equal(CONTROLLER);
      expect(p!.parentRef).to.deep.equal({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'app' });
      expect(conds(p!.conditions)).to.deep.equal({ Accepted: 'False/NotAllowedByListeners', ResolvedRefs: 'True/ResolvedRefs' });
      expect(p!.conditions.find((c) => c.type === 'Accepted')!.message).to.contain(`do not allow ${kind}`);
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
    const model = buildHttpModel(graph, SERVER_BLOCKS);
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

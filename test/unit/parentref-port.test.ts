// parentRefs[].port (spec: ParentReference.port; features HTTPRouteParentRefPort and
// HTTPRouteDestinationPortMatching): a route attaches to every listener on that port (all
// their hostnames), only to those; with sectionName too, the listener must match both.
// A port no listener has, or a sectionName/port pair no listener has, is NoMatchingParent.
import { expect } from 'chai';
import { serverTargets } from '../../operator/src/dataplane/model.ts';
import { buildHttpModel, defaultBuildOptions } from '../../operator/src/dataplane/build.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { gateway, httpRoute, service } from '../support/objects.ts';
import { conds, statusesOf } from '../support/statuses.ts';

/** Every rule in server blocks: these tests are about the server renderer, not the route table. */
const SERVER_BLOCKS = { ...defaultBuildOptions, routeTable: false };

const listeners = [
  { name: 'listener-1', port: 80, hostname: 'foo.com' },
  { name: 'listener-2', port: 8080, hostname: 'foo.com' },
  { name: 'listener-3', port: 8080, hostname: 'bar.com' },
  { name: 'listener-4', port: 8090, hostname: 'foo.com' },
  { name: 'listener-5', port: 8090, hostname: 'bar.com' },
];

function run(parentRef: Record<string, unknown>, extra: (KubeObject | KubeObject[])[] = []) {
  const s = statusesOf(gateway('app', 'gw', listeners), service('app', 'svc'), httpRoute('app', 'r', { parentRefs: [{ name: 'gw', ...parentRef }] }), ...extra);
  const gw = s.find('Gateway', 'app', 'gw')!.status as any;
  const attached = Object.fromEntries((gw.listeners as any[]).map((l) => [l.name, l.attachedRoutes]));
  const parent = s.find('HTTPRoute', 'app', 'r')!.parents![0]!;
  return { s, attached, route: conds(parent.conditions as any[]), parent, message: (parent.conditions as any[]).find((c) => c.type === 'Accepted').message as string };
}

describe('graph: parentRefs[].port', () => {
  it('port 8080 attaches to both listeners on 8080, none on 80 or 8090', () => {
    const r = run({ port: 8080 });
    expect(r.route).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(r.attached).to.deep.equal({ 'listener-1': 0, 'listener-2': 1, 'listener-3': 1, 'listener-4': 0, 'listener-5': 0 });
  });

  it('port and sectionName together: only the listener matching both', () => {
    const r = run({ port: 8090, sectionName: 'listener-4' });
    expect(r.route).to.include({ Accepted: 'True/Accepted' });
    expect(r.attached).to.deep.equal({ 'listener-1': 0, 'listener-2': 0, 'listener-3': 0, 'listener-4': 1, 'listener-5': 0 });
  });

  it('a port no listener has: Accepted=False/NoMatchingParent naming the port, attached nowhere', () => {
    const r = run({ port: 81 });
    expect(r.route).to.include({ Accepted: 'False/NoMatchingParent' });
    expect(r.message).to.contain('port 81');
    expect(Object.values(r.attached)).to.deep.equal([0, 0, 0, 0, 0]);
  });

  it('a sectionName whose listener is on another port: NoMatchingParent naming both', () => {
    const r = run({ port: 81, sectionName: 'listener-1' });
    expect(r.route).to.include({ Accepted: 'False/NoMatchingParent' });
    expect(r.message).to.contain('sectionName listener-1').and.contain('port 81');
    expect(Object.values(r.attached)).to.deep.equal([0, 0, 0, 0, 0]);
  });

  it('status.parents keeps the port (and sectionName) as written', () => {
    expect(run({ port: 8090, sectionName: 'listener-4' }).parent.parentRef).to.include({ name: 'gw', namespace: 'app', port: 8090, sectionName: 'listener-4' });
    expect(run({ port: 8080 }).parent.parentRef).to.include({ port: 8080 }).and.not.have.property('sectionName');
  });

  it('the port\'s listeners must still allow the route (NotAllowedByListeners) and share a hostname with it (NoMatchingListenerHostname)', () => {
    const s = statusesOf(
      gateway('app', 'gw', [{ name: 'a', port: 80, allowedRoutes: { namespaces: { from: 'Same' } } }, { name: 'b', port: 8080, hostname: 'foo.com', allowedRoutes: { namespaces: { from: 'All' } } }]),
      service('other', 'svc'),
      httpRoute('other', 'r80', { parentRefs: [{ name: 'gw', namespace: 'app', port: 80 }] }),
      httpRoute('other', 'r8080', { parentRefs: [{ name: 'gw', namespace: 'app', port: 8080 }], hostnames: ['bar.com'] }),
    );
    expect(conds(s.find('HTTPRoute', 'other', 'r80')!.parents![0]!.conditions as any[])).to.include({ Accepted: 'False/NotAllowedByListeners' });
    expect(conds(s.find('HTTPRoute', 'other', 'r8080')!.parents![0]!.conditions as any[])).to.include({ Accepted: 'False/NoMatchingListenerHostname' });
  });

  it('model: the route is served on the port\'s servers only', () => {
    const model = buildHttpModel(run({ port: 8080 }).s.graph, SERVER_BLOCKS);
    const served = model.servers.filter((s) => serverTargets(s).some((t) => t.source === 'HTTPRoute/app/r')).map((s) => `${s.listen} ${s.serverNames.join(',')}`).sort();
    expect(served).to.have.length(2);
    for (const s of served) expect(s).to.match(/:8080" "(foo|bar)\.com"$/);
  });
});

// The HTTP gateway end to end on the test bed: the operator (watching the real API
// server), the agent driving a real nginx, real HTTP backends on loopback. Every
// behaviour is checked by a request through nginx and by status read back from the API.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../nginx/agent/index.ts';
import { createLogger } from '../../operator/src/log.ts';
import { startOperator, type RunningOperator } from '../../operator/src/modes/operator.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { testbed } from '../testbed.ts';
import { service } from '../support/objects.ts';
import { TcpProxy, testbedKubeConfig } from '../support/proxy.ts';
import { addLoopbackAlias, backendAddress } from '../cluster/network.ts';
import { eventually, get } from '../support/http.ts';
import { apply, conditionMap, getObject, namespaceObject, parentStatus, remove, routeConditions } from '../support/kube.ts';

const CONTROLLER = 'waygate.dev/e2e-http';
const CLASS = 'waygate-e2e-http';
const INFRA = 'e2e-http-infra';
const APP = 'e2e-http-app';
const OTHER = 'e2e-http-other';
const ADDRESS = '127.0.0.71';
const PORT = 18071;
const GW = `${INFRA}/gw`;
const G = 'gateway.networking.k8s.io';

const route = (namespace: string, name: string, spec: any) => ({
  apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name, namespace },
  spec: { parentRefs: [{ name: 'gw', namespace: INFRA }], ...spec },
});
const backend = (name: string, port = 80, namespace?: string) => ({ name, port, ...(namespace ? { namespace } : {}) });

describe('HTTP gateway end to end (operator + agent + nginx on the test bed)', function () {
  this.timeout(60_000);
  let agent: Agent;
  let op: RunningOperator;
  let dir: string;
  let proxy: TcpProxy;
  const echo = new Map<string, EchoServer>();
  const reloads: number[] = [];

  const request = (path: string, host: string, opts: { headers?: Record<string, string>; method?: string } = {}) => get(ADDRESS, PORT, path, { host, ...opts });
  const expectBackend = (path: string, host: string, want: string | number, opts: { headers?: Record<string, string>; method?: string } = {}) =>
    eventually(`${host}${path} -> ${want}`, () => request(path, host, opts), (r) => (typeof want === 'number' ? r.status === want : r.status === 200 && r.backend === want), 15_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-e2e-'));
    await addLoopbackAlias();
    for (const n of ['store', 'store-v2', 'search', 'other']) echo.set(n, await startEcho(n, 0, backendAddress));
    await apply(
      namespaceObject(INFRA), namespaceObject(APP, { 'e2e-access': 'allowed' }), namespaceObject(OTHER),
      { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: CLASS }, spec: { controllerName: CONTROLLER } },
      {
        apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'gw', namespace: INFRA },
        spec: {
          gatewayClassName: CLASS,
          addresses: [{ type: 'IPAddress', value: ADDRESS }],
          listeners: [
            { name: 'http', protocol: 'HTTP', port: PORT, allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'e2e-access': 'allowed' } } } } },
            { name: 'admin', protocol: 'HTTP', port: PORT, hostname: 'admin.example.com', allowedRoutes: { namespaces: { from: 'Same' } } },
          ],
        },
      },
      ...service(APP, 'store', 80, [echo.get('store')!.endpoint]),
      ...service(APP, 'store-v2', 80, [echo.get('store-v2')!.endpoint]),
      ...service(OTHER, 'search', 80, [echo.get('search')!.endpoint]),
      ...service(OTHER, 'other', 80, [echo.get('other')!.endpoint]),
    );
    agent = await startAgent({ configRoot: join(dir, 'config'), runDir: join(dir, 'nginx'), logger: createLogger({ level: 'error' }) });
    agent.onVerdict((v) => { if (v.reloaded) reloads.push(Date.now()); });
    // The operator reaches the API server through a proxy the watch-restart test cuts.
    const api = new URL(testbed().server);
    proxy = new TcpProxy({ host: api.hostname, port: Number(api.port) });
    await proxy.open();
    const kubeConfig = testbedKubeConfig(proxy.url);
    op = await startOperator({ configRoot: join(dir, 'config'), controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'], logger: createLogger({ level: 'warn' }), kubeConfig, debounceMs: 20, socketDir: agent.socketDir });
  });

  after(async () => {
    await op?.stop();
    await proxy?.cut();
    await agent?.stop();
    for (const e of echo.values()) await e.close();
    for (const ns of [APP, OTHER, INFRA]) await remove('namespace', undefined, ns).catch(() => {});
    await remove('gatewayclass', undefined, CLASS).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the GatewayClass and publishes supportedFeatures', async () => {
    const gc = await eventually('GatewayClass accepted', () => getObject('gatewayclass', undefined, CLASS), (o) => conditionMap(o?.status?.conditions).Accepted === 'True/Accepted');
    expect(gc.status.supportedFeatures).to.deep.equal([{ name: 'Gateway' }, { name: 'HTTPRoute' }]);
    expect(gc.status.conditions.find((c: any) => c.type === 'Accepted').observedGeneration).to.equal(gc.metadata.generation);
  });

  it('programs the Gateway: Accepted, Programmed, listeners, address', async () => {
    const gw = await eventually('Gateway programmed', () => getObject('gateway', INFRA, 'gw'), (o) => conditionMap(o?.status?.conditions).Programmed === 'True/Programmed');
    expect(conditionMap(gw.status.conditions)).to.include({ Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
    expect(gw.status.addresses).to.deep.equal([{ type: 'IPAddress', value: ADDRESS }]);
    for (const l of gw.status.listeners) {
      expect(conditionMap(l.conditions), l.name).to.deep.equal({ Accepted: 'True/Accepted', Conflicted: 'False/NoConflicts', ResolvedRefs: 'True/ResolvedRefs', Programmed: 'True/Programmed' });
      expect(l.supportedKinds).to.deep.equal([{ group: G, kind: 'HTTPRoute' }, { group: G, kind: 'GRPCRoute' }]);
    }
    // Nothing attached yet: nginx answers 404 for any host.
    expect((await request('/', 'nothing.example.com')).status).to.equal(404);
  });

  it('serves a route: path, header, query and method matches, each by a request', async () => {
    await apply(route(APP, 'store', {
      hostnames: ['store.example.com'],
      rules: [
        { matches: [{ path: { type: 'Exact', value: '/exact' } }], backendRefs: [backend('store-v2')] },
        { matches: [{ path: { type: 'RegularExpression', value: '/items/[0-9]+' } }], backendRefs: [backend('store-v2')] },
        { matches: [{ headers: [{ name: 'x-version', value: '2' }] }], backendRefs: [backend('store-v2')] },
        { matches: [{ queryParams: [{ name: 'v', value: '2' }] }], backendRefs: [backend('store-v2')] },
        { matches: [{ method: 'DELETE' }], backendRefs: [backend('store-v2')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [backend('store')] },
      ],
    }));
    await routeConditions(APP, 'store', GW, CONTROLLER, { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    await expectBackend('/', 'store.example.com', 'store');
    await expectBackend('/exact', 'store.example.com', 'store-v2');
    await expectBackend('/exact/no', 'store.example.com', 'store');
    await expectBackend('/items/42', 'store.example.com', 'store-v2');
    await expectBackend('/items/x', 'store.example.com', 'store');
    await expectBackend('/a', 'store.example.com', 'store-v2', { headers: { 'X-Version': '2' } });
    await expectBackend('/a?v=2', 'store.example.com', 'store-v2');
    await expectBackend('/a', 'store.example.com', 'store-v2', { method: 'DELETE' });
    await expectBackend('/', 'other-host.example.com', 404);
    const gw = await eventually('attachedRoutes', () => getObject('gateway', INFRA, 'gw'), (o) => o?.status?.listeners?.find((l: any) => l.name === 'http')?.attachedRoutes === 1);
    expect(gw.status.listeners.find((l: any) => l.name === 'admin').attachedRoutes).to.equal(0, 'admin allows only routes from its own namespace');
  });

  it('refuses a route from a namespace the listeners do not allow (NotAllowedByListeners), until the namespace gets the label', async () => {
    await apply(route(OTHER, 'search', { hostnames: ['search.example.com'], rules: [{ backendRefs: [backend('search')] }] }));
    const r = await routeConditions(OTHER, 'search', GW, CONTROLLER, { Accepted: 'False/NotAllowedByListeners' });
    expect(parentStatus(r, GW, CONTROLLER).conditions.find((c: any) => c.type === 'Accepted').message).to.contain('allowedRoutes');
    expect((await request('/', 'search.example.com')).status).to.equal(404);
    await apply(namespaceObject(OTHER, { 'e2e-access': 'allowed' }));
    await routeConditions(OTHER, 'search', GW, CONTROLLER, { Accepted: 'True/Accepted' });
    await expectBackend('/', 'search.example.com', 'search');
    await apply(namespaceObject(OTHER, {})); // server-side apply drops the label this manager set
    await routeConditions(OTHER, 'search', GW, CONTROLLER, { Accepted: 'False/NotAllowedByListeners' });
    await expectBackend('/', 'search.example.com', 404);
  });

  it('reports NoMatchingParent for a sectionName or port no listener has', async () => {
    await apply(
      { ...route(APP, 'bad-section', { rules: [{ backendRefs: [backend('store')] }] }), spec: { parentRefs: [{ name: 'gw', namespace: INFRA, sectionName: 'nope' }], rules: [{ backendRefs: [backend('store')] }] } },
      { ...route(APP, 'bad-port', {}), spec: { parentRefs: [{ name: 'gw', namespace: INFRA, port: 1 }], rules: [{ backendRefs: [backend('store')] }] } },
    );
    await routeConditions(APP, 'bad-section', GW, CONTROLLER, { Accepted: 'False/NoMatchingParent' });
    await routeConditions(APP, 'bad-port', GW, CONTROLLER, { Accepted: 'False/NoMatchingParent' });
  });

  it('reports NoMatchingListenerHostname when no listener hostname intersects', async () => {
    await apply({ ...route(APP, 'admin-only', {}), spec: { parentRefs: [{ name: 'gw', namespace: INFRA, sectionName: 'admin' }], hostnames: ['shop.example.com'], rules: [{ backendRefs: [backend('store')] }] } });
    // The admin listener allows only its own namespace, so hostname checks never start: NotAllowedByListeners.
    await routeConditions(APP, 'admin-only', GW, CONTROLLER, { Accepted: 'False/NotAllowedByListeners' });
    await apply({ ...route(INFRA, 'admin', {}), spec: { parentRefs: [{ name: 'gw', sectionName: 'admin' }], hostnames: ['shop.example.com'], rules: [{ backendRefs: [backend('store')] }] } });
    await routeConditions(INFRA, 'admin', GW, CONTROLLER, { Accepted: 'False/NoMatchingListenerHostname' });
  });

  it('resolves a cross-namespace backend only with a ReferenceGrant (RefNotPermitted -> 500, then allowed, then denied again)', async () => {
    await apply(route(APP, 'borrow', { hostnames: ['borrow.example.com'], rules: [{ backendRefs: [backend('other', 80, OTHER)] }] }));
    const r = await routeConditions(APP, 'borrow', GW, CONTROLLER, { Accepted: 'True/Accepted', ResolvedRefs: 'False/RefNotPermitted' });
    expect(parentStatus(r, GW, CONTROLLER).conditions.find((c: any) => c.type === 'ResolvedRefs').message).to.contain('spec.rules[0].backendRefs[0]');
    await expectBackend('/', 'borrow.example.com', 500);
    const grant = { apiVersion: `${G}/v1beta1`, kind: 'ReferenceGrant', metadata: { name: 'from-app', namespace: OTHER }, spec: { from: [{ group: G, kind: 'HTTPRoute', namespace: APP }], to: [{ group: '', kind: 'Service', name: 'other' }] } };
    await apply(grant);
    await routeConditions(APP, 'borrow', GW, CONTROLLER, { ResolvedRefs: 'True/ResolvedRefs' });
    await expectBackend('/', 'borrow.example.com', 'other');
    await remove('referencegrant', OTHER, 'from-app');
    await routeConditions(APP, 'borrow', GW, CONTROLLER, { ResolvedRefs: 'False/RefNotPermitted' });
    await expectBackend('/', 'borrow.example.com', 500);
  });

  it('answers 500 for a missing Service (BackendNotFound) and an unsupported kind (InvalidKind)', async () => {
    await apply(
      route(APP, 'missing', { hostnames: ['missing.example.com'], rules: [{ backendRefs: [backend('does-not-exist')] }] }),
      route(APP, 'kind', { hostnames: ['kind.example.com'], rules: [{ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'b' }] }] }),
    );
    await routeConditions(APP, 'missing', GW, CONTROLLER, { Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' });
    await routeConditions(APP, 'kind', GW, CONTROLLER, { Accepted: 'True/Accepted', ResolvedRefs: 'False/InvalidKind' });
    await expectBackend('/', 'missing.example.com', 500);
    await expectBackend('/', 'kind.example.com', 500);
    // The Service appears: the same route starts serving.
    await apply(...service(APP, 'does-not-exist', 80, [echo.get('store')!.endpoint]));
    await routeConditions(APP, 'missing', GW, CONTROLLER, { ResolvedRefs: 'True/ResolvedRefs' });
    await expectBackend('/', 'missing.example.com', 'store');
  });

  it('serves the valid rules of a partially invalid route (PartiallyInvalid)', async () => {
    await apply(route(APP, 'partial', {
      hostnames: ['partial.example.com'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/ok' } }], backendRefs: [backend('store')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/ext' } }], filters: [{ type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Thing', name: 'x' } }], backendRefs: [backend('store')] },
      ],
    }));
    const r = await routeConditions(APP, 'partial', GW, CONTROLLER, { Accepted: 'True/Accepted', PartiallyInvalid: 'True/UnsupportedValue' });
    expect(parentStatus(r, GW, CONTROLLER).conditions.find((c: any) => c.type === 'PartiallyInvalid').message).to.contain('spec.rules[1].filters[0]');
    await expectBackend('/ok', 'partial.example.com', 'store');
    await expectBackend('/ext', 'partial.example.com', 404);
  });

  it('keeps lastTransitionTime and moves observedGeneration when the spec changes', async () => {
    const before = await routeConditions(APP, 'store', GW, CONTROLLER, { Accepted: 'True/Accepted' });
    const accepted = (o: any) => parentStatus(o, GW, CONTROLLER).conditions.find((c: any) => c.type === 'Accepted');
    await testbed().kubectl(['annotate', 'httproute', 'store', '-n', APP, 'touch=1', '--overwrite']); // no generation change
    await new Promise((r) => setTimeout(r, 1100)); // so that a rewritten time would differ
    await apply(route(APP, 'store', { hostnames: ['store.example.com', 'shop.example.com'], rules: [{ backendRefs: [backend('store')] }] }));
    const after = await eventually('observedGeneration to follow', () => getObject('httproute', APP, 'store'), (o) => accepted(o)?.observedGeneration === o.metadata.generation && o.metadata.generation > before.metadata.generation);
    expect(accepted(after).lastTransitionTime).to.equal(accepted(before).lastTransitionTime);
    await expectBackend('/', 'shop.example.com', 'store');
  });

  it('removes a deleted route from nginx', async () => {
    await apply(route(APP, 'short-lived', { hostnames: ['short.example.com'], rules: [{ backendRefs: [backend('store')] }] }));
    await expectBackend('/', 'short.example.com', 'store');
    await remove('httproute', APP, 'short-lived');
    await expectBackend('/', 'short.example.com', 404);
  });

  it('stays correct across watch restarts: a route deleted while the watch connection is down disappears from nginx', async () => {
    await apply(route(APP, 'doomed', { hostnames: ['doomed.example.com'], rules: [{ backendRefs: [backend('store')] }] }));
    await expectBackend('/', 'doomed.example.com', 'store');
    await proxy.cut(); // every watch connection of the operator is reset; reconnects are refused
    await remove('httproute', APP, 'doomed'); // directly, not through the proxy: the operator cannot see it
    await apply(route(APP, 'born-in-the-gap', { hostnames: ['gap.example.com'], rules: [{ backendRefs: [backend('store')] }] }));
    await new Promise((r) => setTimeout(r, 1000));
    expect((await request('/', 'doomed.example.com')).backend).to.equal('store', 'the operator cannot know yet');
    await proxy.open();
    await expectBackend('/', 'doomed.example.com', 404);
    await expectBackend('/', 'gap.example.com', 'store');
  });

  it('refuses a regex nginx could not run safely on that route, naming the field; the other routes keep serving', async () => {
    // A variable-length lookbehind compiles in JavaScript but not in nginx's PCRE; our own
    // regex rules refuse lookarounds before nginx ever sees them (nginx rejections that name
    // a line are traced in test/integration/agent.test.ts, those that name none in
    // test/integration/tenant-isolation.test.ts).
    await apply(route(APP, 'pcre-bad', { hostnames: ['pcre.example.com'], rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/(?<=a+)b' } }], backendRefs: [backend('store')] }] }));
    const r = await routeConditions(APP, 'pcre-bad', GW, CONTROLLER, { Accepted: 'False/UnsupportedValue' }, 30_000);
    expect(parentStatus(r, GW, CONTROLLER).conditions.find((c: any) => c.type === 'Accepted').message).to.match(/spec\.rules\[0\]\.matches\[0\]\.path\.value: .*look/);
    await expectBackend('/', 'store.example.com', 'store');
    await eventually('Gateway programmed', () => getObject('gateway', INFRA, 'gw'), (o) => conditionMap(o?.status?.conditions).Programmed === 'True/Programmed');
    // Fixing the route (a new generation) lets it in.
    await apply(route(APP, 'pcre-bad', { hostnames: ['pcre.example.com'], rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/a+b' } }], backendRefs: [backend('store')] }] }));
    await routeConditions(APP, 'pcre-bad', GW, CONTROLLER, { Accepted: 'True/Accepted' });
    await expectBackend('/aab', 'pcre.example.com', 'store');
  });

  it('reports listener conflicts (ProtocolConflict) and allocates an address for a Gateway without one', async () => {
    // The CRD itself refuses two listeners with one port, protocol and hostname
    // (HostnameConflict is covered by the unit tests); two protocols on one port it allows.
    await apply({
      apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'conflicted', namespace: INFRA },
      spec: { gatewayClassName: CLASS, listeners: [{ name: 'a', protocol: 'HTTP', port: 18072 }, { name: 'b', protocol: 'TCP', port: 18072 }, { name: 'c', protocol: 'HTTP', port: 18073 }] },
    });
    const gw = await eventually('conflict reported', () => getObject('gateway', INFRA, 'conflicted'), (o) => o?.status?.listeners?.length === 3);
    expect(conditionMap(gw.status.listeners[0].conditions)).to.include({ Conflicted: 'True/ProtocolConflict', Accepted: 'False/ProtocolConflict', Programmed: 'False/Invalid' });
    // TCP is served since the stream block: the TCP listener is in the same conflict.
    expect(conditionMap(gw.status.listeners[1].conditions)).to.include({ Conflicted: 'True/ProtocolConflict', Accepted: 'False/ProtocolConflict' });
    expect(conditionMap(gw.status.listeners[2].conditions)).to.include({ Conflicted: 'False/NoConflicts', Accepted: 'True/Accepted' });
    expect(conditionMap(gw.status.conditions)).to.include({ Accepted: 'True/ListenersNotValid' });
    const address = gw.status.addresses[0].value;
    expect(address).to.match(/^127\.10\.\d+\.\d+$/);
    await eventually('the valid listener to answer', () => get(address, 18073, '/', {}), (r) => r.status === 404);
    await remove('gateway', INFRA, 'conflicted');
  });

  it('reports an address it cannot use (AddressNotUsable), InvalidRouteKinds and InvalidParameters', async () => {
    await apply(
      { apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'far-away', namespace: INFRA }, spec: { gatewayClassName: CLASS, addresses: [{ type: 'IPAddress', value: '192.0.2.10' }], listeners: [{ name: 'http', protocol: 'HTTP', port: 18074 }] } },
      { apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'kinds', namespace: INFRA }, spec: { gatewayClassName: CLASS, listeners: [{ name: 'http', protocol: 'HTTP', port: 18075, allowedRoutes: { kinds: [{ kind: 'TCPRoute' }] } }] } },
      { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: `${CLASS}-params` }, spec: { controllerName: CONTROLLER, parametersRef: { group: 'example.com', kind: 'Config', name: 'x' } } },
    );
    // Loopback mode binds 127.0.0.0/8 only: the Gateway is accepted, not programmed (GatewayStaticAddresses).
    const far = await eventually('AddressNotUsable', () => getObject('gateway', INFRA, 'far-away'), (o) => !!o?.status?.conditions?.some((c: any) => c.reason === 'AddressNotUsable'));
    expect(conditionMap(far.status.conditions)).to.include({ Accepted: 'True/Accepted', Programmed: 'False/AddressNotUsable' });
    expect(far.status.conditions.find((c: any) => c.type === 'Programmed').message).to.contain('spec.addresses[0].value');
    const kinds = await eventually('InvalidRouteKinds', () => getObject('gateway', INFRA, 'kinds'), (o) => o?.status?.listeners?.length === 1);
    expect(conditionMap(kinds.status.listeners[0].conditions)).to.include({ ResolvedRefs: 'False/InvalidRouteKinds' });
    expect(kinds.status.listeners[0].supportedKinds).to.deep.equal([]);
    const gc = await eventually('InvalidParameters', () => getObject('gatewayclass', undefined, `${CLASS}-params`), (o) => !!o?.status?.conditions?.some((c: any) => c.reason === 'InvalidParameters'));
    expect(conditionMap(gc.status.conditions)).to.include({ Accepted: 'False/InvalidParameters' });
    await remove('gateway', INFRA, 'far-away');
    await remove('gateway', INFRA, 'kinds');
    await remove('gatewayclass', undefined, `${CLASS}-params`);
  });

  it('does not reload nginx when a change renders the same config', async () => {
    await op.controller.idle();
    await agent.settled();
    const count = reloads.length;
    expect(count, 'earlier tests reloaded nginx: the reload counter works').to.be.greaterThan(0);
    const before = { rebuilds: op.controller.stats.rebuilds, versions: op.controller.stats.versionsWritten };
    // A label on a route changes nothing nginx sees.
    await testbed().kubectl(['label', 'httproute', 'store', '-n', APP, 'noise=1', '--overwrite']);
    // First prove it was processed: the watch delivered it, and the last rebuild's graph has it.
    await eventually('the operator sees the label', async () => op.store.get('HTTPRoute', APP, 'store')?.metadata.labels?.noise, (l) => l === '1');
    await op.controller.idle();
    const labelled = op.controller.graph?.routes.find((r) => r.key === `HTTPRoute/${APP}/store`);
    expect(labelled?.obj.metadata.labels?.noise, 'the last rebuild saw the label').to.equal('1');
    expect(op.controller.stats.rebuilds).to.be.greaterThan(before.rebuilds);
    // Then: no version written, so nothing for the agent to reload.
    await agent.settled();
    expect(op.controller.stats.versionsWritten).to.equal(before.versions);
    expect(reloads.length).to.equal(count);
  });
});

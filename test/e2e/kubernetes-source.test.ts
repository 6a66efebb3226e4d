// The cluster edge of the operator against the real test bed: watches into the Store
// (including across an API server outage), the status writer, and the operator framework.
import { expect } from 'chai';
import operatorPackage from '@dot-i/k8s-operator';
import { stringify } from 'yaml';
import { sleep, waitFor } from '../cluster/exec.ts';
import { testbed } from '../testbed.ts';
import { TcpProxy, testbedKubeConfig as kubeConfig } from '../support/proxy.ts';
import { captureLogger } from '../support/logs.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { Store } from '../../operator/src/store.ts';
import { KubernetesSource } from '../../operator/src/sources/kubernetes.ts';
import type { DesiredStatus } from '../../operator/src/status/merge.ts';
import { StatusWriter } from '../../operator/src/status/writer.ts';

const gatewayApi = 'gateway.networking.k8s.io/v1';
const controllerName = 'waygate.dev/e2e-source';
const foreignController = 'example.com/other-controller';

const yaml = (...objs: object[]) => objs.map((o) => stringify(o)).join('---\n');
const apply = (...objs: object[]) => testbed().kubectl(['apply', '-f', '-'], { input: yaml(...objs) });
/** Objects as kubectl prints them, read by any path in these tests. */
type Loose = KubeObject & { spec?: any; status?: any };
const getJson = async <T = Loose>(args: string[]): Promise<T> => JSON.parse(await testbed().kubectl([...args, '-o', 'json'])) as T;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: not within ${ms} ms`)))]);
}

const route = (ns: string, name: string, hostname = `${name}.example.com`) => ({
  apiVersion: gatewayApi,
  kind: 'HTTPRoute',
  metadata: { name, namespace: ns },
  spec: { parentRefs: [{ name: 'gw' }], hostnames: [hostname], rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }] },
});

describe('KubernetesSource: the cluster into the Store', function () {
  const ns = 'e2e-source';
  let store: Store;
  let source: KubernetesSource;
  let log: ReturnType<typeof captureLogger>;

  before(async () => {
    await testbed().kubectl(['create', 'namespace', ns]);
    store = new Store();
    log = captureLogger('debug');
    source = new KubernetesSource({ kubeConfig: kubeConfig(), store, logger: log.logger });
    await source.start();
    await withTimeout(source.ready(), 30_000, 'the initial lists');
  });
  after(async () => {
    await source?.stop();
    await testbed().tryKubectl(['delete', 'namespace', ns, '--wait=false']);
    await testbed().tryKubectl(['delete', 'gatewayclass', 'e2e-source']);
  });

  it('watches every kind, the Gateway API ones at v1 where v1 is served', () => {
    expect(source.watchedApiVersions()).to.deep.equal({
      GatewayClass: gatewayApi,
      Gateway: gatewayApi,
      HTTPRoute: gatewayApi,
      GRPCRoute: gatewayApi,
      TLSRoute: gatewayApi,
      TCPRoute: gatewayApi,
      UDPRoute: gatewayApi,
      ReferenceGrant: gatewayApi,
      BackendTLSPolicy: gatewayApi,
      Service: 'v1',
      EndpointSlice: 'discovery.k8s.io/v1',
      Secret: 'v1',
      ConfigMap: 'v1',
      Namespace: 'v1',
    });
  });

  it('has listed what existed before it started, with kind and apiVersion set', () => {
    const namespace = store.get('Namespace', undefined, ns);
    expect(namespace?.apiVersion).to.equal('v1');
    expect(namespace?.kind).to.equal('Namespace');
    expect(store.get('ConfigMap', ns, 'kube-root-ca.crt') ?? store.get('ConfigMap', 'default', 'kube-root-ca.crt')).to.not.equal(undefined);
  });

  it('mirrors objects of several kinds created with kubectl; only TLS Secrets', async () => {
    const tls = { 'tls.crt': Buffer.from('not really a certificate').toString('base64'), 'tls.key': Buffer.from('nor a key').toString('base64') };
    await apply(
      { apiVersion: gatewayApi, kind: 'GatewayClass', metadata: { name: 'e2e-source' }, spec: { controllerName } },
      { apiVersion: gatewayApi, kind: 'Gateway', metadata: { name: 'gw', namespace: ns }, spec: { gatewayClassName: 'e2e-source', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } },
      route(ns, 'web'),
      { apiVersion: gatewayApi, kind: 'TLSRoute', metadata: { name: 'tls', namespace: ns }, spec: { parentRefs: [{ name: 'gw' }], hostnames: ['tls.example.com'], rules: [{ backendRefs: [{ name: 'svc', port: 443 }] }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: ns }, spec: { selector: { app: 'svc' }, ports: [{ name: 'http', port: 80 }] } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: ns }, data: { a: 'b' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cert', namespace: ns }, type: 'kubernetes.io/tls', data: tls },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'opaque', namespace: ns }, type: 'Opaque', data: { x: 'eQ==' } },
    );
    const expected: Array<[string, string | undefined, string, string]> = [
      ['GatewayClass', undefined, 'e2e-source', gatewayApi],
      ['Gateway', ns, 'gw', gatewayApi],
      ['HTTPRoute', ns, 'web', gatewayApi],
      ['TLSRoute', ns, 'tls', gatewayApi],
      ['Service', ns, 'svc', 'v1'],
      ['ConfigMap', ns, 'cm', 'v1'],
      ['Secret', ns, 'cert', 'v1'],
    ];
    for (const [kind, namespace, name, apiVersion] of expected) {
      const obj = await waitFor(`${kind} ${name} in the Store`, async () => store.get(kind, namespace, name), 10_000, 50);
      expect(obj.kind, kind).to.equal(kind);
      expect(obj.apiVersion, kind).to.equal(apiVersion);
      expect(obj.metadata.resourceVersion, kind).to.be.a('string');
    }
    // kube-controller-manager makes an EndpointSlice for the Service.
    const slice = await waitFor('the EndpointSlice of svc', async () => store.list('EndpointSlice').find((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === 'svc'), 30_000, 100);
    expect(slice.apiVersion).to.equal('discovery.k8s.io/v1');
    expect(slice.kind).to.equal('EndpointSlice');
    expect(store.get('Secret', ns, 'opaque'), 'the field selector keeps non-TLS Secrets out').to.equal(undefined);
  });

  it('reflects updates and deletes', async () => {
    await testbed().kubectl(['patch', 'httproute', 'web', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { hostnames: ['changed.example.com'] } })]);
    await waitFor('the changed hostname', async () => (store.get('HTTPRoute', ns, 'web')?.spec?.hostnames?.[0] === 'changed.example.com' ? true : undefined), 10_000, 50);
    await testbed().kubectl(['delete', 'configmap', 'cm', '-n', ns]);
    await testbed().kubectl(['delete', 'httproute', 'web', '-n', ns]);
    await waitFor('the deletes', async () => (!store.get('ConfigMap', ns, 'cm') && !store.get('HTTPRoute', ns, 'web') ? true : undefined), 10_000, 50);
    expect(store.get('TLSRoute', ns, 'tls')).to.not.equal(undefined);
  });

  it('honors a version override (TLSRoute at the deprecated v1alpha2)', async () => {
    const s = new Store();
    const pinned = new KubernetesSource({ kubeConfig: kubeConfig(), store: s, logger: captureLogger('debug').logger, kinds: ['TLSRoute'], versions: { TLSRoute: 'v1alpha2' } });
    try {
      await pinned.start();
      await withTimeout(pinned.ready(), 10_000, 'the list');
      expect(pinned.watchedApiVersions()).to.deep.equal({ TLSRoute: 'gateway.networking.k8s.io/v1alpha2' });
      expect(s.get('TLSRoute', ns, 'tls')?.apiVersion).to.equal('gateway.networking.k8s.io/v1alpha2');
    } finally {
      await pinned.stop();
    }
  });

  it('treats a kind that is not served as empty (ready anyway), logs it once and keeps looking', async () => {
    const s = new Store();
    const { logger, lines } = captureLogger('debug');
    // A version no CRD serves stands in for a CRD that is not installed; switching the
    // override afterwards stands in for installing it.
    const versions: { TLSRoute?: string } = { TLSRoute: 'v9' };
    const missing = new KubernetesSource({ kubeConfig: kubeConfig(), store: s, logger, kinds: ['TLSRoute', 'HTTPRoute'], versions, missingRetryMs: 200 });
    try {
      await missing.start();
      await withTimeout(missing.ready(), 10_000, 'ready with a missing kind');
      expect(s.list('TLSRoute')).to.deep.equal([]);
      expect(missing.watchedApiVersions()).to.deep.equal({ HTTPRoute: gatewayApi });
      await sleep(1000); // about five more looks
      expect(lines.filter((l) => l.includes('TLSRoute: not served'))).to.have.length(1);
      versions.TLSRoute = 'v1';
      await waitFor('TLSRoute found once served', async () => s.get('TLSRoute', ns, 'tls'), 5000, 50);
      expect(missing.watchedApiVersions().TLSRoute).to.equal(gatewayApi);
    } finally {
      await missing.stop();
    }
  });
});

describe('KubernetesSource: watch restart across an API server outage', function () {
  const ns = 'e2e-source-outage';
  let proxy: TcpProxy;
  let store: Store;
  let source: KubernetesSource;
  let log: ReturnType<typeof captureLogger>;

  before(async () => {
    await testbed().kubectl(['create', 'namespace', ns]);
    const api = new URL(testbed().server);
    proxy = new TcpProxy({ host: api.hostname, port: Number(api.port) });
    await proxy.open();
    store = new Store();
    log = captureLogger('debug');
    source = new KubernetesSource({ kubeConfig: kubeConfig(proxy.url), store, logger: log.logger, kinds: ['HTTPRoute'] });
    await source.start();
    await withTimeout(source.ready(), 10_000, 'the initial list through the proxy');
  });
  after(async () => {
    await source?.stop();
    await proxy?.cut();
    await testbed().tryKubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('sees a route deleted while the watch was down disappear, and a route created meanwhile appear', async () => {
    await apply(route(ns, 'kept'), route(ns, 'doomed'));
    await waitFor('both routes in the Store', async () => (store.get('HTTPRoute', ns, 'kept') && store.get('HTTPRoute', ns, 'doomed') ? true : undefined), 10_000, 50);

    await proxy.cut();
    await testbed().kubectl(['delete', 'httproute', 'doomed', '-n', ns]); // directly, not through the proxy
    await apply(route(ns, 'born-in-the-dark'));
    await sleep(1500); // the source notices and retries against a closed port
    expect(store.get('HTTPRoute', ns, 'doomed'), 'no way to learn of the delete yet').to.not.equal(undefined);
    expect(log.lines.some((l) => l.includes('HTTPRoute: watch failed')), log.lines.join('\n')).to.equal(true);

    const before = proxy.connections;
    await proxy.open();
    const started = Date.now();
    await waitFor('the delete and the create to show after the outage', async () => (!store.get('HTTPRoute', ns, 'doomed') && store.get('HTTPRoute', ns, 'born-in-the-dark') ? true : undefined), 10_000, 50);
    const tookMs = Date.now() - started;
    expect(tookMs, 'the backoff is capped at 5 s').to.be.below(7000);
    expect(proxy.connections).to.be.above(before);
    expect(store.get('HTTPRoute', ns, 'kept')).to.not.equal(undefined);

    // And the restarted watch is live again.
    await testbed().kubectl(['delete', 'httproute', 'kept', '-n', ns]);
    await waitFor('a delete seen by the new watch', async () => (store.get('HTTPRoute', ns, 'kept') ? undefined : true), 10_000, 50);
  });
});

describe('StatusWriter', function () {
  const ns = 'e2e-source-status';
  const store = new Store();
  let source: KubernetesSource;
  let writer: StatusWriter;
  let clock = '2025-01-01T00:00:00Z';
  const log = captureLogger('debug');

  const cond = (type: string, status: 'True' | 'False', reason: string, generation = 1) => ({ type, status, reason, message: `${type} ${status}`, observedGeneration: generation });
  const gatewayStatus = (programmed: 'True' | 'False'): DesiredStatus => ({
    kind: 'Gateway',
    namespace: ns,
    name: 'gw',
    status: {
      conditions: [cond('Accepted', 'True', 'Accepted'), cond('Programmed', programmed, programmed === 'True' ? 'Programmed' : 'Pending')],
      listeners: [{ name: 'http', attachedRoutes: 1, supportedKinds: [{ kind: 'HTTPRoute' }], conditions: [cond('Accepted', 'True', 'Accepted'), cond('Programmed', programmed, 'Programmed')] }],
    },
  });
  const routeStatus = (accepted: 'True' | 'False' = 'True'): DesiredStatus => ({
    kind: 'HTTPRoute',
    namespace: ns,
    name: 'web',
    parents: [{ parentRef: { name: 'gw' }, controllerName, conditions: [cond('Accepted', accepted, accepted === 'True' ? 'Accepted' : 'NotAllowedByListeners'), cond('ResolvedRefs', 'True', 'ResolvedRefs')] }],
  });
  const foreignEntry = (reason: string) => ({
    parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'their-gw' },
    controllerName: foreignController,
    conditions: [{ type: 'Accepted', status: 'True', reason, message: 'theirs', lastTransitionTime: '2020-02-02T00:00:00Z' }],
  });
  /** Another controller writes its own entry the only safe way: a full replace with resourceVersion. */
  const writeForeignEntry = async (reason: string) => {
    const r = await getJson(['get', 'httproute', 'web', '-n', ns]);
    const others = ((r.status?.parents ?? []) as { controllerName: string }[]).filter((p) => p.controllerName !== foreignController);
    r.status = { parents: [foreignEntry(reason), ...others] };
    await testbed().kubectl(['replace', '--subresource=status', '-f', '-'], { input: JSON.stringify(r) });
  };

  before(async () => {
    await testbed().kubectl(['create', 'namespace', ns]);
    await apply(
      { apiVersion: gatewayApi, kind: 'GatewayClass', metadata: { name: 'e2e-source-status' }, spec: { controllerName } },
      { apiVersion: gatewayApi, kind: 'Gateway', metadata: { name: 'gw', namespace: ns }, spec: { gatewayClassName: 'e2e-source-status', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } },
      route(ns, 'web'),
    );
    source = new KubernetesSource({ kubeConfig: kubeConfig(), store, logger: log.logger, kinds: ['Gateway', 'HTTPRoute'] });
    await source.start();
    await withTimeout(source.ready(), 10_000, 'the initial lists');
    await waitFor('gw and web in the Store', async () => (store.get('Gateway', ns, 'gw') && store.get('HTTPRoute', ns, 'web') ? true : undefined), 10_000, 50);
    writer = new StatusWriter(kubeConfig(), controllerName, log.logger, { now: () => clock });
  });
  after(async () => {
    await source?.stop();
    await testbed().tryKubectl(['delete', 'namespace', ns, '--wait=false']);
    await testbed().tryKubectl(['delete', 'gatewayclass', 'e2e-source-status']);
  });

  it('writes a Gateway status and an HTTPRoute status, keeping a foreign controller\'s parents entry', async () => {
    await writeForeignEntry('TheirsFirst');
    await waitFor('the foreign entry in the Store', async () => (store.get('HTTPRoute', ns, 'web')?.status?.parents?.length === 1 ? true : undefined), 10_000, 50);

    const result = await writer.write([gatewayStatus('True'), routeStatus()], store);
    expect(result).to.deep.equal({ written: 2, skipped: 0, conflicts: 0, failed: 0 });

    const gw = await getJson(['get', 'gateway', 'gw', '-n', ns]);
    expect(gw.status.conditions.map((c: { type: string; status: string; lastTransitionTime: string; observedGeneration: number }) => [c.type, c.status, c.lastTransitionTime, c.observedGeneration])).to.deep.equal([
      ['Accepted', 'True', clock, 1],
      ['Programmed', 'True', clock, 1],
    ]);
    expect(gw.status.listeners[0].supportedKinds).to.deep.equal([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);

    const web = await getJson(['get', 'httproute', 'web', '-n', ns]);
    expect(web.status.parents).to.have.length(2);
    expect(web.status.parents[0]).to.deep.equal(foreignEntry('TheirsFirst'));
    expect(web.status.parents[1].controllerName).to.equal(controllerName);
    expect(web.status.parents[1].parentRef).to.deep.equal({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' });
    expect(web.status.parents[1].conditions.map((c: { type: string; lastTransitionTime: string }) => [c.type, c.lastTransitionTime])).to.deep.equal([
      ['Accepted', clock],
      ['ResolvedRefs', clock],
    ]);
  });

  it('makes no request when the same status is written again, also once the watch has caught up', async () => {
    const rvBefore = (await getJson(['get', 'httproute', 'web', '-n', ns])).metadata.resourceVersion;
    clock = '2025-01-01T00:01:00Z';
    expect(await writer.write([gatewayStatus('True'), routeStatus()], store)).to.deep.equal({ written: 0, skipped: 2, conflicts: 0, failed: 0 });
    await sleep(500); // the watch events of the first write have arrived by now
    expect(await writer.write([gatewayStatus('True'), routeStatus()], store)).to.deep.equal({ written: 0, skipped: 2, conflicts: 0, failed: 0 });
    expect((await getJson(['get', 'httproute', 'web', '-n', ns])).metadata.resourceVersion).to.equal(rvBefore);
  });

  it('moves lastTransitionTime only for conditions whose status changed', async () => {
    clock = '2025-01-01T00:02:00Z';
    expect((await writer.write([gatewayStatus('False')], store)).written).to.equal(1);
    const gw = await getJson(['get', 'gateway', 'gw', '-n', ns]);
    const times = (cs: { type: string; lastTransitionTime: string }[]) => Object.fromEntries(cs.map((c) => [c.type, c.lastTransitionTime]));
    expect(times(gw.status.conditions)).to.deep.equal({ Accepted: '2025-01-01T00:00:00Z', Programmed: clock });
    expect(times(gw.status.listeners[0].conditions)).to.deep.equal({ Accepted: '2025-01-01T00:00:00Z', Programmed: clock });
  });

  it('retries a write that conflicts with another controller\'s, and keeps their change', async () => {
    // Our view of the route, frozen before the other controller writes.
    const stale = new Store();
    stale.upsert(structuredClone(store.get('HTTPRoute', ns, 'web')!));
    await writeForeignEntry('TheirsChanged');

    clock = '2025-01-01T00:03:00Z';
    const result = await writer.write([routeStatus('False')], stale);
    expect(result).to.deep.equal({ written: 1, skipped: 0, conflicts: 1, failed: 0 });

    const web = await getJson(['get', 'httproute', 'web', '-n', ns]);
    expect(web.status.parents).to.have.length(2);
    expect(web.status.parents[0]).to.deep.equal(foreignEntry('TheirsChanged'));
    const accepted = web.status.parents[1].conditions.find((c: { type: string }) => c.type === 'Accepted');
    expect([accepted.status, accepted.lastTransitionTime]).to.deep.equal(['False', clock]);
  });

  it('does not bring back a route whose DELETED event arrives while its status write is in flight', async () => {
    // The conformance race: a route created and deleted 150 ms apart, its status PUT answered
    // after the watch had removed it; upserting that answer kept it in the config for good.
    const racing = new Store();
    racing.upsert(structuredClone(store.get('HTTPRoute', ns, 'web')!));
    const put = writer as unknown as { replaceStatus: (o: KubeObject, s: Record<string, unknown>) => Promise<unknown> };
    const original = put.replaceStatus.bind(writer);
    put.replaceStatus = async (o, s) => {
      const answer = await original(o, s);
      racing.remove('HTTPRoute', ns, 'web'); // the DELETED event, processed before the answer
      return answer;
    };
    try {
      clock = '2025-01-01T00:04:00Z';
      expect((await writer.write([routeStatus('True')], racing)).written).to.equal(1);
    } finally {
      delete (put as { replaceStatus?: unknown }).replaceStatus;
    }
    expect(racing.get('HTTPRoute', ns, 'web'), 'the route is back in the Store').to.equal(undefined);
  });

  it('drops our entry when the route no longer references our Gateway, and skips objects that are gone', async () => {
    // The test before wrote the route through another Store: ours learns its resourceVersion
    // from the watch, and a write before that would conflict (a retry, not what is tested here).
    const { resourceVersion } = (await getJson(['get', 'httproute', 'web', '-n', ns])).metadata;
    await waitFor('the Store to see the route\'s last write', async () => (store.get('HTTPRoute', ns, 'web')?.metadata.resourceVersion === resourceVersion ? true : undefined), 10_000, 20);
    const result = await writer.write([{ kind: 'HTTPRoute', namespace: ns, name: 'web', parents: [] }, { ...routeStatus(), name: 'never-existed' }], store);
    expect(result).to.deep.equal({ written: 1, skipped: 1, conflicts: 0, failed: 0 });
    const web = await getJson(['get', 'httproute', 'web', '-n', ns]);
    expect(web.status.parents).to.deep.equal([foreignEntry('TheirsChanged')]);
  });
});

describe('@dot-i/k8s-operator with @kubernetes/client-node 2.0.1', function () {
  const Operator = operatorPackage.default;
  let savedKubeconfig: string | undefined;

  before(() => {
    savedKubeconfig = process.env.KUBECONFIG;
    process.env.KUBECONFIG = testbed().kubeconfig; // the base class does loadFromDefault()
  });
  after(() => {
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
  });

  class Probe extends Operator {
    inits = 0;
    protected override async init(): Promise<void> {
      this.inits++;
    }
    get api() {
      return this.k8sApi;
    }
    uri(): string {
      return this.getCustomResourceApiUri('gateway.networking.k8s.io', 'v1', 'httproutes', 'default');
    }
  }

  it('loads (CommonJS, default export), starts, calls init() and stops', async () => {
    expect(Operator).to.be.a('function');
    const p = new Probe();
    await p.start();
    expect(p.inits).to.equal(1);
    p.stop();
  });

  it('gives a working client-node 2.x CoreV1Api, but k8sApi.basePath is gone, so its helper URLs start with "undefined"', async () => {
    const p = new Probe();
    const namespaces = await p.api.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).to.include('default');
    expect((p.api as unknown as { basePath?: string }).basePath).to.equal(undefined);
    expect(p.uri()).to.equal('undefined/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes');
  });

  it('has a watchResource that is unsafe with client-node 2.x: stop() ends in process.exit(1), and the watch restarts replaying every object as ADDED', async () => {
    const exits: unknown[] = [];
    const realExit = process.exit;
    process.exit = ((code?: number) => void exits.push(code)) as typeof process.exit;
    const events: string[] = [];
    class Watcher extends Operator {
      protected override async init(): Promise<void> {
        await this.watchResource('', 'v1', 'namespaces', async (e) => void events.push(`${e.type} ${e.meta.name}`));
      }
      /** Its restart gives up only when starting a watch throws, e.g. without a current cluster. */
      endRestarts(): void {
        this.kubeConfig.setCurrentContext('none');
        try {
          this.stop();
        } catch {
          // a failed restart leaves an undefined request behind, and stop() trips on it
        }
      }
    }
    const w = new Watcher();
    try {
      await w.start();
      await waitFor('the initial events', async () => (events.includes('ADDED default') ? true : undefined), 10_000, 20);
      await sleep(200);
      const initial = events.length;
      w.stop();
      await waitFor('process.exit', async () => (exits.length ? true : undefined), 5000, 20);
      expect(exits[0]).to.equal(1);
      await waitFor('the replay', async () => (events.length >= 2 * initial ? true : undefined), 5000, 20);
      expect(events.slice(initial).every((e) => e.startsWith('ADDED ')), events.join(', ')).to.equal(true);
    } finally {
      w.endRestarts();
      await sleep(800);
      process.exit = realExit;
    }
  });

  it('is the base class of KubernetesSource, whose start/stop work against the test bed and whose URLs are fixed', async () => {
    const store = new Store();
    const source = new KubernetesSource({ kubeConfig: kubeConfig(), store, logger: captureLogger('debug').logger, kinds: ['Namespace'] });
    expect(source).to.be.instanceOf(Operator);
    await source.start();
    await withTimeout(source.ready(), 10_000, 'ready');
    expect(store.get('Namespace', undefined, 'default')).to.not.equal(undefined);
    await source.stop();
    const uri = (source as unknown as { getCustomResourceApiUri(g: string, v: string, p: string, n?: string): string }).getCustomResourceApiUri('gateway.networking.k8s.io', 'v1', 'httproutes', 'default');
    expect(uri).to.equal(`${testbed().server}/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes`);
  });
});

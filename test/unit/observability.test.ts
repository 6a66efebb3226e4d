// The operator's observability: log redaction, metrics from rebuilds and verdicts, Events
// from status transitions (pure), their rate limits and the leader-only switch.
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import winston from 'winston';
import type { Verdict } from '../../operator/src/apply/verdict.ts';
import type { RebuildReport } from '../../operator/src/controller.ts';
import type { Graph } from '../../operator/src/graph/types.ts';
import type { Condition } from '../../operator/src/objects.ts';
import { componentLogger, createLogger, objectLogger, redactSecrets } from '../../operator/src/log.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { createServer } from 'node:http';
import { EventLimiter, eventRecorder, eventsForTransitions, kubeEventSender, verdictEvents, type EventSpec } from '../../operator/src/observability/events.ts';
import { Store } from '../../operator/src/store.ts';
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { startHealthServer } from '../../nginx/agent/health.ts';
import { operatorReadiness, startOperatorHealth } from '../../operator/src/observability/health.ts';
import { countConditions, createOperatorMetrics } from '../../operator/src/observability/metrics.ts';
import type { DesiredStatus } from '../../operator/src/status/merge.ts';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
/** The key's body lines: none of them may reach a log line. */
const keyLines = privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));

function capture(json: boolean): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: createLogger({ json, level: 'debug', transports: [new winston.transports.Stream({ stream })] }), lines };
}

const cond = (type: string, status: string, reason: string, message = ''): Condition => ({ type, status: status as Condition['status'], reason, message, observedGeneration: 1 });
const gwRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'infra' };
const route = (name: string, accepted: [string, string, string?], resolved: [string, string, string?] = ['True', 'ResolvedRefs']): DesiredStatus => ({
  kind: 'HTTPRoute',
  namespace: 'team-a',
  name,
  parents: [{ parentRef: gwRef, controllerName: 'waygate.dev/gateway-controller', conditions: [cond('Accepted', ...accepted), cond('ResolvedRefs', ...resolved)] }],
});
const gateway = (listenerConds: ReturnType<typeof cond>[], programmed: [string, string] = ['True', 'Programmed']): DesiredStatus => ({
  kind: 'Gateway',
  namespace: 'infra',
  name: 'gw',
  status: { conditions: [cond('Accepted', 'True', 'Accepted'), cond('Programmed', ...programmed)], listeners: [{ name: 'http', conditions: listenerConds }] },
});
const report = (desired: DesiredStatus[], version?: string): RebuildReport => ({ durationMs: 12, files: { 'http.conf': 'x'.repeat(100), 'stream.conf': 'é' }, version, desired, graph: {} as Graph });
const verdict = (v: Partial<Verdict>): Verdict => ({ version: '7', hash: 'h', ok: true, reloaded: true, at: '', durationMs: 5, live: '7', ...v });

describe('observability: logs', () => {
  for (const json of [true, false]) {
    it(`redacts a PEM private key from messages and fields (${json ? 'JSON' : 'text'})`, () => {
      const { logger, lines } = capture(json);
      const child = objectLogger(componentLogger(logger, 'status'), 'HTTPRoute/team-a/web');
      child.error(`bad secret: ${privateKey}`, { data: { 'tls.key': Buffer.from(privateKey).toString('base64'), pem: privateKey } });
      child.warn('a stack', { err: new Error(privateKey).stack });
      const out = lines.join('');
      expect(lines).to.have.length(2);
      for (const l of keyLines) expect(out).not.to.include(l);
      expect(out).not.to.include('PRIVATE KEY-----');
      expect(out).not.to.include(Buffer.from(privateKey).toString('base64').slice(0, 40));
      expect(out).to.include('[redacted PEM block]');
    });
  }

  it('carries component and object fields on every line', () => {
    const { logger, lines } = capture(true);
    objectLogger(componentLogger(logger, 'controller'), 'HTTPRoute/team-a/web').info('left out');
    objectLogger(logger, 'GatewayClass/waygate').info('accepted');
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a).to.include({ component: 'controller', kind: 'HTTPRoute', namespace: 'team-a', name: 'web', message: 'left out' });
    expect(b).to.include({ kind: 'GatewayClass', name: 'waygate' });
    expect(b).not.to.have.property('namespace');
  });

  it('keeps hex hashes and ordinary text', () => {
    const hash = 'ab'.repeat(32);
    expect(redactSecrets(`version 12 hash ${hash} for HTTPRoute/team-a/web`)).to.equal(`version 12 hash ${hash} for HTTPRoute/team-a/web`);
  });
});

describe('observability: metrics', () => {
  it('counts objects and conditions per kind, route parent entry and listener', () => {
    const { objects, conditions } = countConditions([route('a', ['True', 'Accepted']), route('b', ['False', 'NotAllowedByListeners']), gateway([cond('Accepted', 'True', 'Accepted')])]);
    expect(Object.fromEntries(objects)).to.deep.equal({ HTTPRoute: 2, Gateway: 1 });
    const find = (kind: string, type: string, status: string) => conditions.filter((c) => c.kind === kind && c.type === type && c.status === status);
    expect(find('HTTPRoute', 'Accepted', 'True')).to.deep.equal([{ kind: 'HTTPRoute', type: 'Accepted', status: 'True', reason: 'Accepted', count: 1 }]);
    expect(find('HTTPRoute', 'Accepted', 'False')[0]).to.include({ reason: 'NotAllowedByListeners', count: 1 });
    expect(find('HTTPRoute', 'ResolvedRefs', 'True')[0]?.count).to.equal(2);
    expect(find('Listener', 'Accepted', 'True')[0]?.count).to.equal(1);
  });

  it('exposes rebuilds, sizes, versions, verdicts, leader and status writes in its own registry', async () => {
    const m = createOperatorMetrics({ defaultMetrics: false });
    m.observer.rebuilt!(report([route('a', ['True', 'Accepted']), route('gone', ['False', 'RefNotPermitted'])], '3'));
    m.observer.rebuilt!(report([route('a', ['False', 'NotAllowedByListeners']), route('b', ['True', 'Accepted'])]));
    m.observer.verdict!(verdict({ ok: false, live: '2', error: 'x' }), undefined);
    m.observer.verdict!(verdict({ ok: false, live: '2', error: 'x' }), 'HTTPRoute/team-a/a');
    m.observer.verdict!(verdict({ version: '4', live: '4' }), undefined);
    m.setLeader(true);
    m.statusWrites({ written: 3, failed: 1 });
    const text = await m.registry.metrics();
    expect(text).to.include('waygate_rebuilds_total 2');
    expect(text).to.include('waygate_rebuild_duration_seconds_count 2');
    expect(text).to.include('waygate_config_bytes 102'); // "é" is two bytes
    expect(text).to.include('waygate_config_versions_written_total 1');
    expect(text).to.include('waygate_config_version_served 4');
    expect(text).to.include('waygate_nginx_rejections_total{traced="false"} 1');
    expect(text).to.include('waygate_nginx_rejections_total{traced="true"} 1');
    expect(text).to.include('waygate_objects{kind="HTTPRoute"} 2');
    expect(text).to.include('waygate_object_conditions{kind="HTTPRoute",type="Accepted",status="False",reason="NotAllowedByListeners"} 1');
    expect(text).not.to.include('RefNotPermitted'); // gauges from the newest round only
    expect(text).to.include('waygate_leader 1');
    expect(text).to.include('waygate_status_writes_total{result="ok"} 3');
    expect(text).to.include('waygate_status_writes_total{result="failed"} 1');
    expect(text).not.to.include('process_cpu'); // defaults off here; not in the global registry either
  });

  it('is ready once the watches synced and a version was written', () => {
    const r = operatorReadiness();
    expect(r.notReady()).to.have.length(2);
    r.watchesSynced();
    r.observer.rebuilt!(report([]));
    expect(r.notReady()).to.deep.equal(['no configuration version written yet']);
    r.observer.rebuilt!(report([], '1'));
    expect(r.notReady()).to.deep.equal([]);
  });
});

describe('observability: events', () => {
  const accepted = route('web', ['True', 'Accepted']);
  const rejected = route('web', ['False', 'NotAllowedByListeners', 'namespace team-a is not allowed']);

  it('sets a baseline on the first round, then reports a route that becomes not Accepted', () => {
    expect(eventsForTransitions(undefined, [rejected])).to.deep.equal([]);
    const events = eventsForTransitions([accepted], [rejected]);
    expect(events).to.deep.equal([
      { kind: 'HTTPRoute', namespace: 'team-a', name: 'web', type: 'Warning', reason: 'NotAllowedByListeners', message: 'parentRef infra/gw: Accepted=False: namespace team-a is not allowed' },
    ]);
    expect(eventsForTransitions([rejected], [rejected])).to.deep.equal([]);
  });

  it('reports ResolvedRefs=False, a new broken route, recovery, and a changed reason', () => {
    const unresolved = route('web', ['True', 'Accepted'], ['False', 'BackendNotFound', 'Service team-a/api not found']);
    expect(eventsForTransitions([accepted], [unresolved]).map((e) => [e.type, e.reason])).to.deep.equal([['Warning', 'BackendNotFound']]);
    expect(eventsForTransitions([], [unresolved]).map((e) => e.reason)).to.deep.equal(['BackendNotFound']);
    expect(eventsForTransitions([unresolved], [accepted]).map((e) => [e.type, e.reason])).to.deep.equal([['Normal', 'ResolvedRefs']]);
    const other = route('web', ['True', 'Accepted'], ['False', 'RefNotPermitted']);
    expect(eventsForTransitions([unresolved], [other]).map((e) => e.reason)).to.deep.equal(['RefNotPermitted']);
  });

  it('reports a listener that becomes invalid, not the Pending of every new version', () => {
    const ok = gateway([cond('Accepted', 'True', 'Accepted'), cond('Conflicted', 'False', 'NoConflicts')]);
    const conflicted = gateway([cond('Accepted', 'True', 'Accepted'), cond('Conflicted', 'True', 'HostnameConflict', 'shares a hostname')]);
    const pending = gateway([cond('Accepted', 'True', 'Accepted')], ['False', 'Pending']);
    expect(eventsForTransitions([ok], [conflicted])).to.deep.equal([{ kind: 'Gateway', namespace: 'infra', name: 'gw', type: 'Warning', reason: 'HostnameConflict', message: 'listener http: Conflicted=True: shares a hostname' }]);
    expect(eventsForTransitions([ok], [pending])).to.deep.equal([]);
    const unusable = gateway([cond('Accepted', 'True', 'Accepted')], ['False', 'AddressNotUsable']);
    expect(eventsForTransitions([ok], [unusable]).map((e) => e.reason)).to.deep.equal(['AddressNotUsable']);
  });

  it('puts nginx rejections on the blamed route, else on every Gateway', () => {
    const v = verdict({ ok: false, error: 'nginx: [emerg] invalid number of arguments\nnginx: configuration file test failed', file: 'http.conf', line: 42 });
    const onRoute = verdictEvents(v, 'HTTPRoute/team-a/web', [{ namespace: 'infra', name: 'gw' }]);
    expect(onRoute).to.have.length(1);
    expect(onRoute[0]).to.include({ kind: 'HTTPRoute', namespace: 'team-a', name: 'web', type: 'Warning', reason: 'NginxRejected' });
    expect(onRoute[0]!.message).to.include('(http.conf:42)');
    const onGateways = verdictEvents({ ...v, error: 'reload not confirmed: timed out' }, undefined, [{ namespace: 'infra', name: 'a' }, { namespace: 'infra', name: 'b' }]);
    expect(onGateways.map((e) => [e.kind, e.name, e.reason])).to.deep.equal([['Gateway', 'a', 'ReloadFailed'], ['Gateway', 'b', 'ReloadFailed']]);
    expect(verdictEvents(verdict({}), undefined, [{ name: 'gw' }])).to.deep.equal([]);
  });

  it('limits Events per object and reason, and globally', () => {
    const e = (name: string, reason = 'Invalid'): EventSpec => ({ kind: 'HTTPRoute', namespace: 'ns', name, type: 'Warning', reason, message: '' });
    const l = new EventLimiter({ perKeyMs: 60_000, burst: 2, perSecond: 1 });
    expect(l.allow(e('a'), 0)).to.equal(true);
    expect(l.allow(e('a'), 1000)).to.equal(false); // same object and reason within a minute
    expect(l.allow(e('a', 'Other'), 1000)).to.equal(true);
    expect(l.allow(e('b'), 1000)).to.equal(true);
    expect(l.allow(e('c'), 1000)).to.equal(false); // bucket empty: 2 tokens, 1 refilled, 3 sent
    expect(l.allow(e('c'), 3000)).to.equal(true); // refilled
    expect(l.allow(e('a'), 61_000)).to.equal(true);
    expect(l.dropped).to.equal(2);
  });

  it('sends only while enabled (the leader), redacted and within 1024 characters', async () => {
    const sent: EventSpec[] = [];
    const logger = capture(true).logger;
    const rec = eventRecorder({ send: async (e) => { sent.push(e); }, logger, limiter: new EventLimiter({ perKeyMs: 0 }) });
    rec.observer.rebuilt!(report([accepted]));
    rec.observer.rebuilt!(report([rejected]));
    expect(sent).to.deep.equal([]); // not the leader: transitions followed, nothing sent
    rec.setEnabled(true);
    rec.observer.rebuilt!(report([accepted]));
    const leaky = route('web', ['False', 'Invalid', `certificate ${privateKey} ${'x'.repeat(2000)}`]);
    rec.observer.rebuilt!(report([leaky]));
    await rec.flush();
    expect(sent.map((e) => [e.type, e.reason])).to.deep.equal([['Normal', 'Accepted'], ['Warning', 'Invalid']]);
    const msg = sent[1]!.message;
    expect(msg.length).to.be.at.most(1024);
    for (const l of keyLines) expect(msg).not.to.include(l);
    expect(msg).to.include('[redacted PEM block]');
  });
});

function call(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('observability: the health server', () => {
  it('serves /healthz, /readyz with the failing checks, /metrics; 404 and 405 otherwise', async () => {
    const metrics = createOperatorMetrics({ defaultMetrics: false });
    const readiness = operatorReadiness();
    const server = await startOperatorHealth({ port: 0, host: '127.0.0.1', metrics, readiness });
    try {
      expect(await call(server.port, '/healthz')).to.include({ status: 200, body: 'ok\n' });
      const notReady = await call(server.port, '/readyz');
      expect(notReady.status).to.equal(503);
      expect(notReady.body).to.equal('watches not synced yet\nno configuration version written yet\n');
      readiness.watchesSynced();
      for (const o of [metrics.observer, readiness.observer]) o.rebuilt!(report([], '1'));
      expect((await call(server.port, '/readyz')).status).to.equal(200);
      const m = await call(server.port, '/metrics');
      expect(m.status).to.equal(200);
      expect(m.type).to.include('text/plain; version=0.0.4');
      expect(m.body).to.include('waygate_config_versions_written_total 1');
      expect((await call(server.port, '/other')).status).to.equal(404);
      expect((await call(server.port, '/healthz', 'POST')).status).to.equal(405);
    } finally {
      await server.close();
    }
  });

  it('fails /healthz with the component\'s reasons (the agent: nginx master gone)', async () => {
    let alive = true;
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', registry: new Registry(), notReady: () => [], notAlive: () => (alive ? [] : ['nginx master is not running']) });
    try {
      expect((await call(server.port, '/healthz')).status).to.equal(200);
      alive = false;
      expect(await call(server.port, '/healthz')).to.include({ status: 503, body: 'nginx master is not running\n' });
    } finally {
      await server.close();
    }
  });
});

describe('observability: Events to the API server', () => {
  it('creates a core/v1 Event in the object\'s namespace with its uid (what kubectl describe selects by)', async () => {
    const requests: { method?: string; url?: string; body: Record<string, any> }[] = [];
    const api = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d)).on('end', () => {
        requests.push({ method: req.method, url: req.url, body: JSON.parse(body) });
        res.writeHead(201, { 'content-type': 'application/json' }).end(body);
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    try {
      const kc = new KubeConfig();
      const server = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
      kc.loadFromOptions({ clusters: [{ name: 'c', server, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
      const store = new Store();
      store.upsert({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'team-a', uid: 'u-1', resourceVersion: '42' } });
      const send = kubeEventSender(kc, store, { controllerName: 'waygate.dev/gateway-controller', instance: 'waygate-0' });
      await send({ kind: 'HTTPRoute', namespace: 'team-a', name: 'web', type: 'Warning', reason: 'BackendNotFound', message: 'parentRef infra/gw: ResolvedRefs=False: no Service' });
      await send({ kind: 'HTTPRoute', namespace: 'team-a', name: 'gone', type: 'Warning', reason: 'X', message: '' }); // not in the store: nothing sent
      expect(requests).to.have.length(1);
      const [r] = requests;
      expect(r).to.include({ method: 'POST', url: '/api/v1/namespaces/team-a/events' });
      expect(r!.body.involvedObject).to.deep.equal({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', name: 'web', namespace: 'team-a', uid: 'u-1', resourceVersion: '42' });
      expect(r!.body).to.include({ type: 'Warning', reason: 'BackendNotFound', reportingComponent: 'waygate.dev/gateway-controller', reportingInstance: 'waygate-0', count: 1 });
      expect(r!.body.metadata.name).to.match(/^web\.[0-9a-f]+$/);
      expect(r!.body.source).to.deep.equal({ component: 'waygate' });
      expect(r!.body.firstTimestamp).to.match(/^\d{4}-\d\d-\d\dT/);
    } finally {
      api.close();
    }
  });
});

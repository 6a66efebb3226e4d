// The extended HTTP features and GRPCRoute end to end on the test bed: the operator watching
// the real API server, the agent driving a real nginx, real backends on the host's backend
// address behind selector-less Services, real clients (node:http, ws, @grpc/grpc-js). Each
// case asserts what a client or a backend observes: a request timeout answers 504 at its
// deadline and not before, a retried request reaches the second endpoint, a mirrored request
// reaches the mirror backend, a CORS preflight is answered by the gateway, a WebSocket stays
// open across a reload caused by a route change, gRPC calls route by service, method and header.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { KubeConfig } from '@kubernetes/client-node';
import { startAgent, type Agent } from '../../nginx/agent/index.ts';
import { supportedFeatures } from '../../operator/src/features.ts';
import { createLogger } from '../../operator/src/log.ts';
import { startOperator, type RunningOperator } from '../../operator/src/modes/operator.ts';
import { addLoopbackAlias, backendAddress } from '../cluster/network.ts';
import { testbed } from '../testbed.ts';
import { grpcClient, startGrpcBackend, type GrpcBackend } from '../support/grpc-echo.ts';
import { eventually, get } from '../support/http.ts';
import { apply, conditionMap, getObject, namespaceObject, parentStatus, remove, routeConditions } from '../support/kube.ts';

const CONTROLLER = 'waygate.dev/e2e-http-extended';
const CLASS = 'waygate-e2e-http-extended';
const NS = 'e2e-http-extended';
const GW = `${NS}/gw`;
const ADDRESS = '127.0.0.79';
const PORT = 18079;
const HOST = 'extended.example.com';
const G = 'gateway.networking.k8s.io';
/** rules[].timeouts.request of the timeout case. */
const REQUEST_TIMEOUT_MS = 500;
/** How late nginx may answer after the deadline on a busy 2-core machine (timers, scheduling). */
const LATE_MS = 250;
/** How early: nginx's cached clock may run a few ms behind the client's. */
const EARLY_MS = 5;
const DRAIN_MS = 15_000;

const out = (line: string) => console.log(`      ${line}`);

interface Seen { server: string; method: string; url: string; body: string; headers: Record<string, unknown>; at: number }

/**
 * An HTTP backend on the backend address recording every request (after its body): answers
 * `status(url)` (200 by default) after ?delay= ms, with x-backend: name.
 */
async function recorder(name: string, seen: Seen[], status: (url: string) => number = () => 200): Promise<{ port: number; close(): void }> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      const url = req.url ?? '/';
      seen.push({ server: name, method: req.method ?? '', url, body, headers: req.headers, at: Date.now() });
      const delay = Number(new URL(url, 'http://x').searchParams.get('delay') ?? 0);
      const t = setTimeout(() => { res.writeHead(status(url), { 'x-backend': name }); res.end(`${name}\n`); }, delay);
      res.on('close', () => clearTimeout(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, backendAddress, r));
  return { port: (server.address() as AddressInfo).port, close: () => { server.closeAllConnections(); server.close(); } };
}

/** A WebSocket echo server on the backend address. */
async function wsEcho(): Promise<{ port: number; close(): void }> {
  const server = createServer((_req, res) => { res.writeHead(200, { 'x-backend': 'ws' }); res.end('ws\n'); });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  await new Promise<void>((r) => server.listen(0, backendAddress, r));
  return { port: (server.address() as AddressInfo).port, close: () => { for (const c of wss.clients) c.terminate(); wss.close(); server.closeAllConnections(); server.close(); } };
}

/** A selector-less Service (port 80, optional appProtocol) with one EndpointSlice per backend port on the backend address. */
function serviceOn(name: string, ports: number[], appProtocol?: string): object[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', ...(appProtocol ? { appProtocol } : {}) }] } },
    ...ports.map((p, i) => ({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-${i}`, namespace: NS, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: p, protocol: 'TCP', ...(appProtocol ? { appProtocol } : {}) }],
      endpoints: [{ addresses: [backendAddress], conditions: { ready: true } }],
    })),
  ];
}

const httpRoute = (name: string, hostnames: string[], rules: object[]) => ({
  apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name, namespace: NS }, spec: { parentRefs: [{ name: 'gw' }], hostnames, rules },
});
const grpcRoute = (name: string, hostnames: string[], rules: object[]) => ({
  apiVersion: `${G}/v1`, kind: 'GRPCRoute', metadata: { name, namespace: NS }, spec: { parentRefs: [{ name: 'gw' }], hostnames, rules },
});
const prefix = (path: string) => [{ path: { type: 'PathPrefix', value: path } }];
const to = (name: string) => [{ name, port: 80 }];
const grpcMethod = (service?: string, method?: string, headers?: object[]) => ({ method: { ...(service ? { service } : {}), ...(method ? { method } : {}) }, ...(headers ? { headers } : {}) });

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string; ms: number; backend?: string }

/** One request on a new connection to the Gateway, timed at the client. */
function send(path: string, opts: { host?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const req = request({ host: ADDRESS, port: PORT, path, method: opts.method ?? 'GET', agent: false, headers: { host: opts.host ?? HOST, ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - t, backend: res.headers['x-backend'] as string | undefined }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`client timeout: ${path}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('extended HTTP features and GRPCRoute end to end (operator + agent + nginx on the test bed)', function () {
  this.timeout(60_000);
  let agent: Agent;
  let op: RunningOperator;
  let dir: string;
  const seen: Seen[] = [];
  const closers: (() => void | Promise<void>)[] = [];
  const grpc: Record<string, GrpcBackend> = {};
  const grpcClients: { close(): void }[] = [];
  const sockets: WebSocket[] = [];
  const reloads: number[] = [];
  let seq = 0;
  const hitsOf = (id: string) => seen.filter((s) => new URL(s.url, 'http://x').searchParams.get('id') === id);

  /** The HTTPRoute of cases 1-4, and of case 5's change: `extra` adds one rule. */
  const mainRoute = (extra?: string) => httpRoute('features', [HOST], [
    { matches: prefix('/timeout'), timeouts: { request: `${REQUEST_TIMEOUT_MS}ms` }, backendRefs: to('slow') },
    { matches: prefix('/retry'), retry: { attempts: 1, codes: [503] }, backendRefs: to('pair') },
    { matches: prefix('/mirror'), filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'mirror', port: 80 } } }], backendRefs: to('main') },
    { matches: prefix('/cors'), filters: [{ type: 'CORS', cors: { allowOrigins: ['https://app.example.org'], allowMethods: ['GET', 'POST'], allowHeaders: ['x-token'], maxAge: 600 } }], backendRefs: to('main') },
    { matches: prefix('/ws'), backendRefs: to('ws') },
    ...(extra ? [{ matches: prefix(extra), backendRefs: to('main') }] : []),
  ]);

  before(async () => {
    const t0 = Date.now();
    dir = mkdtempSync(join(tmpdir(), 'waygate-e2e-extended-'));
    await addLoopbackAlias();
    const slow = await recorder('slow', seen);
    // The first endpoint of "pair" answers 503 to every request, the second 200.
    const first = await recorder('first', seen, () => 503);
    const second = await recorder('second', seen);
    const main = await recorder('main', seen);
    const mirror = await recorder('mirror', seen);
    const ws = await wsEcho();
    for (const name of ['a', 'b', 'c', 'd']) grpc[name] = await startGrpcBackend(name, undefined, backendAddress);
    closers.push(slow.close, first.close, second.close, main.close, mirror.close, ws.close, ...Object.values(grpc).map((g) => g.close));
    await apply(
      namespaceObject(NS),
      { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: CLASS }, spec: { controllerName: CONTROLLER } },
      {
        apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'gw', namespace: NS },
        spec: { gatewayClassName: CLASS, addresses: [{ type: 'IPAddress', value: ADDRESS }], listeners: [{ name: 'http', protocol: 'HTTP', port: PORT }] },
      },
      ...serviceOn('slow', [slow.port]), ...serviceOn('pair', [first.port, second.port]),
      ...serviceOn('main', [main.port]), ...serviceOn('mirror', [mirror.port]), ...serviceOn('ws', [ws.port], 'kubernetes.io/ws'),
      ...['a', 'b', 'c', 'd'].flatMap((n) => serviceOn(`grpc-${n}`, [grpc[n]!.port], 'kubernetes.io/h2c')),
      mainRoute(),
      grpcRoute('grpc', ['grpc.example.com'], [
        { matches: [grpcMethod('waygate.test.Echo', 'Say')], backendRefs: to('grpc-a') },
        { matches: [grpcMethod('waygate.test.Other')], backendRefs: to('grpc-b') },
        { matches: [grpcMethod('waygate.test.Echo', 'Ping')], backendRefs: to('grpc-c') },
        { matches: [grpcMethod('waygate.test.Echo', 'Say', [{ name: 'x-tier', value: 'gold' }])], backendRefs: to('grpc-d') },
      ]),
    );
    agent = await startAgent({ configRoot: join(dir, 'config'), runDir: join(dir, 'nginx'), logger: createLogger({ level: 'error' }), drainTimeoutMs: DRAIN_MS });
    agent.onVerdict((v) => { if (v.reloaded) reloads.push(Date.now()); });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(testbed().kubeconfig);
    op = await startOperator({ configRoot: join(dir, 'config'), controllerName: CONTROLLER, supportedFeatures, logger: createLogger({ level: 'warn' }), kubeConfig, debounceMs: 20, socketDir: agent.socketDir });
    await routeConditions(NS, 'features', GW, CONTROLLER, { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' }, 30_000);
    await eventually('the route served', () => send('/mirror/ready').catch(() => undefined), (r) => r?.backend === 'main', 30_000, 100);
    out(`set up in ${Date.now() - t0} ms`);
  });

  after(async () => {
    for (const s of sockets) s.terminate();
    for (const c of grpcClients) c.close();
    await op?.stop();
    await agent?.stop();
    for (const c of closers) await c();
    await remove('namespace', undefined, NS).catch(() => {});
    await remove('gatewayclass', undefined, CLASS).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('rules[].timeouts.request: 200 from a backend answering before the deadline, 504 at the deadline and not before', async () => {
    const fast = await send('/timeout?delay=300');
    expect(fast.status, 'a 300 ms backend').to.equal(200);
    expect(fast.backend).to.equal('slow');
    expect(fast.ms).to.be.at.least(300);
    const id = `t${++seq}`;
    const late = await send(`/timeout?delay=800&id=${id}`);
    expect(late.status, 'an 800 ms backend').to.equal(504);
    expect(late.ms, `answered after ${REQUEST_TIMEOUT_MS} ms`).to.be.within(REQUEST_TIMEOUT_MS - EARLY_MS, REQUEST_TIMEOUT_MS + LATE_MS);
    expect(hitsOf(id), 'the backend got the request once').to.have.length(1);
    out(`timeout ${REQUEST_TIMEOUT_MS} ms: 300 ms backend -> ${fast.status} in ${fast.ms} ms; 800 ms backend -> ${late.status} in ${late.ms} ms (tolerance -${EARLY_MS}/+${LATE_MS} ms)`);
  });

  it('rules[].retry: a request answered 503 by the first endpoint is retried on the second', async () => {
    const paths: string[][] = [];
    for (let i = 0; i < 8; i++) {
      const id = `r${++seq}`;
      const r = await send(`/retry?id=${id}`);
      const servers = hitsOf(id).map((h) => h.server);
      paths.push(servers);
      expect(r.status, `request ${i}: ${servers.join(' -> ')}`).to.equal(200);
      expect(r.backend).to.equal('second');
      // Round robin starts on either endpoint; a start on the failing one goes on to the other.
      expect(servers, `request ${i}`).to.deep.equal(servers[0] === 'first' ? ['first', 'second'] : ['second']);
    }
    const retried = paths.filter((p) => p[0] === 'first').length;
    expect(retried, 'requests that started on the failing endpoint').to.be.at.least(1);
    out(`retry: ${retried} of ${paths.length} requests started on the 503 endpoint and were answered by the second`);
  });

  it('RequestMirror: the mirror backend observes the request (method, path, query, body); the client gets the main backend\'s answer', async () => {
    const id = `m${++seq}`;
    const body = `mirrored body ${id}`;
    const r = await send(`/mirror/items?id=${id}`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    expect(r.status).to.equal(200);
    expect(r.backend).to.equal('main');
    const copies = await eventually('the mirror copy', async () => hitsOf(id).filter((h) => h.server === 'mirror'), (c) => c.length > 0, 5000);
    expect(copies).to.have.length(1);
    expect(copies[0]).to.include({ method: 'POST', url: `/mirror/items?id=${id}`, body });
    expect(hitsOf(id).filter((h) => h.server === 'main').map((h) => h.body)).to.deep.equal([body]);
  });

  it('CORS: a preflight from an allowed origin is answered by the gateway (204 + headers); a disallowed origin gets no CORS headers', async () => {
    const ac = (a: Answer) => Object.fromEntries(Object.entries(a.headers).filter(([k]) => k.startsWith('access-control-')));
    const before = seen.filter((s) => s.method === 'OPTIONS').length;
    const preflight = (origin: string) => send('/cors/api', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-token' } });
    const ok = await preflight('https://app.example.org');
    expect(ok.status).to.equal(204);
    expect(ac(ok)).to.deep.equal({
      'access-control-allow-origin': 'https://app.example.org',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'x-token',
      'access-control-max-age': '600',
    });
    const refused = await preflight('https://evil.example.org');
    expect(ac(refused), 'no CORS header for a disallowed origin').to.deep.equal({});
    expect(seen.filter((s) => s.method === 'OPTIONS').length, 'the backend never saw a preflight').to.equal(before);
    // The actual request from the allowed origin reaches the backend and carries the header.
    const actual = await send('/cors/api', { headers: { origin: 'https://app.example.org' } });
    expect(actual.backend).to.equal('main');
    expect(actual.headers['access-control-allow-origin']).to.equal('https://app.example.org');
  });

  it('WebSocket: a connection stays open across a reload caused by a route change through the API, and messages flow after it', async () => {
    const ws = new WebSocket(`ws://${ADDRESS}:${PORT}/ws/chat`, { headers: { host: HOST } });
    sockets.push(ws);
    let closed: number | undefined;
    ws.on('close', (code) => (closed = code));
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const echo = (text: string) => new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no echo of ${text}`)), 3000);
      ws.once('message', (m) => { clearTimeout(t); resolve(String(m)); });
      ws.send(text);
    });
    expect(await echo('before')).to.equal('before');
    await op.controller.idle();
    await agent.settled();
    const reloadsBefore = reloads.length;
    await apply(mainRoute('/added'));
    await eventually('the added rule served', () => send('/added'), (r) => r.backend === 'main', 15_000, 50);
    await agent.settled();
    expect(reloads.length, 'nginx reloaded for the route change').to.be.greaterThan(reloadsBefore);
    expect(closed, 'the WebSocket closed').to.equal(undefined);
    expect(ws.readyState).to.equal(WebSocket.OPEN);
    for (let i = 0; i < 3; i++) expect(await echo(`after ${i}`)).to.equal(`after ${i}`);
    out(`websocket: open across ${reloads.length - reloadsBefore} reload(s), echoes after it`);
  });

  it('GRPCRoute (h2c beside HTTP/1.1 on one listener): @grpc/grpc-js calls route by service, by method and by header', async () => {
    const client = (service: 'Echo' | 'Other') => { const c = grpcClient(ADDRESS, PORT, service, { authority: 'grpc.example.com' }); grpcClients.push(c); return c; };
    const echo = client('Echo');
    const other = client('Other');
    await eventually('gRPC served', () => echo.call('Say'), (r) => r.code === 0, 20_000, 200);
    const cases: [string, () => Promise<{ code: number; details?: string; reply?: { backend: string; path: string } }>, string, string][] = [
      ['Echo/Say', () => echo.call('Say'), 'a', '/waygate.test.Echo/Say'],
      ['Other/Say (by service)', () => other.call('Say'), 'b', '/waygate.test.Other/Say'],
      ['Other/Poke (by service)', () => other.call('Poke'), 'b', '/waygate.test.Other/Poke'],
      ['Echo/Ping (by method)', () => echo.call('Ping'), 'c', '/waygate.test.Echo/Ping'],
      ['Echo/Say with x-tier: gold (by header)', () => echo.call('Say', { 'x-tier': 'gold' }), 'd', '/waygate.test.Echo/Say'],
      ['Echo/Say with x-tier: silver', () => echo.call('Say', { 'x-tier': 'silver' }), 'a', '/waygate.test.Echo/Say'],
    ];
    for (const [what, call, backend, path] of cases) {
      const r = await call();
      expect(r.code, `${what}: ${r.details ?? ''}`).to.equal(0);
      expect(r.reply?.backend, what).to.equal(backend);
      expect(r.reply?.path, what).to.equal(path);
    }
    // HTTP/1.1 on the same listener at the same moment.
    expect((await get(ADDRESS, PORT, '/mirror/h1', { host: HOST })).backend).to.equal('main');
    const g = await getObject('grpcroute', NS, 'grpc');
    expect(conditionMap(parentStatus(g, GW, CONTROLLER)?.conditions)).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
  });
});

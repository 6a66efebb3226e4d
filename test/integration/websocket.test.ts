// WebSockets through a real nginx run by standalone mode: upgrades reach backends with and
// without appProtocol kubernetes.io/ws, other requests and other upgrades do not carry the
// hop-by-hop headers, and an open WebSocket survives configuration reloads (old workers
// drain it) until the drain period ends; at most --max-draining-workers old workers stay.
import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { gateway, gatewayClass, httpRoute, toYaml } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.132';
const PORT = 18132;
const DRAIN_MS = 5000;
const MAX_DRAINING = 2;

/** An HTTP server answering with the request headers it saw, and echoing WebSocket messages. */
async function startWsEcho(): Promise<{ port: number; upgrades: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ headers: req.headers }));
  });
  const upgrades: IncomingHttpHeaders[] = [];
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    upgrades.push(req.headers);
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    upgrades,
    close: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(); server.closeAllConnections(); server.close(() => r()); }),
  };
}

interface OpenSocket {
  ws: WebSocket;
  /** Set when the connection closed: close code and time. */
  closed?: { code: number; at: number };
  echo(data: string | Buffer): Promise<string | Buffer>;
}

function openSocket(path: string): Promise<OpenSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${ADDRESS}:${PORT}${path}`);
    const s: OpenSocket = {
      ws,
      echo: (data) => new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no echo of ${String(data)}`)), 3000);
        ws.once('message', (m, binary) => { clearTimeout(timer); res(binary ? (m as Buffer) : String(m)); });
        ws.send(data, (err) => err && rej(err));
      }),
    };
    ws.on('close', (code) => { s.closed = { code, at: Date.now() }; });
    ws.once('open', () => resolve(s));
    ws.once('error', reject);
  });
}

describe('WebSockets through nginx (standalone)', function () {
  this.timeout(60_000);
  const log = captureLogger();
  let run: TempStandalone;
  let standalone: Standalone;
  let backend: Awaited<ReturnType<typeof startWsEcho>>;
  const sockets: OpenSocket[] = [];
  const open = async (path: string) => { const s = await openSocket(path); sockets.push(s); return s; };
  let generation = 0;
  const routes = (extra: number) => toYaml([httpRoute({
    hostnames: [],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/ws' } }], backendRefs: [{ name: 'ws', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: `/v${extra}` } }], backendRefs: [{ name: 'plain', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'plain', port: 80 }] },
    ],
  })]);
  /** A configuration change: resolves once nginx serves the new version (and the agent capped the draining workers). */
  const reload = async () => {
    const before = standalone.agent.live;
    run.write('route.yaml', routes(++generation));
    await eventually('the new version', async () => standalone.agent.live, (v) => v !== undefined && v !== before, 15_000, 20);
  };

  before(async () => {
    run = tempStandalone('websocket');
    backend = await startWsEcho();
    const svc = (name: string, appProtocol?: string) => [
      { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'web' }, spec: { ports: [{ name: 'http', port: 80, ...(appProtocol ? { appProtocol } : {}) }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'web', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'http', port: backend.port }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
    ];
    run.write('gateway.yaml', toYaml([gatewayClass(), gateway({ address: ADDRESS, port: PORT })]));
    run.write('backend.yaml', toYaml([...svc('ws', 'kubernetes.io/ws'), ...svc('plain')]));
    run.write('route.yaml', routes(0));
    standalone = await run.start(log.logger, { drainTimeoutMs: DRAIN_MS, maxDrainingWorkers: MAX_DRAINING });
    await eventually('the route', () => get(ADDRESS, PORT, '/').then((r) => r.status, () => 0), (s) => s === 200, 15_000);
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) s.ws.terminate();
  });

  after(async () => {
    await run?.stop();
    await backend?.close();
  });

  it('echoes text and binary frames to a kubernetes.io/ws backend', async () => {
    const s = await open('/ws/chat');
    expect(await s.echo('Websocket Support!')).to.equal('Websocket Support!');
    expect(await s.echo(Buffer.from([1, 2, 3, 4, 5, 6, 7]))).to.deep.equal(Buffer.from([1, 2, 3, 4, 5, 6, 7]));
    const seen = backend.upgrades.at(-1)!;
    expect(seen.upgrade).to.equal('websocket');
    expect(seen.connection).to.equal('upgrade');
  });

  it('upgrades for a backend without appProtocol too', async () => {
    const s = await open('/plain');
    expect(await s.echo('plain')).to.equal('plain');
  });

  it('sends other requests without Upgrade and Connection headers (upstream keep-alive)', async () => {
    const plain = JSON.parse((await get(ADDRESS, PORT, '/x')).body).headers;
    expect(plain).not.to.have.property('upgrade');
    expect(plain).not.to.have.property('connection');
    // Another protocol's upgrade (h2c) would turn the connection into one no route matches.
    const h2c = await get(ADDRESS, PORT, '/x', { headers: { upgrade: 'h2c', connection: 'Upgrade, HTTP2-Settings', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } });
    expect(h2c.status).to.equal(200);
    const seen = JSON.parse(h2c.body).headers;
    expect(seen).not.to.have.property('upgrade');
    expect(seen).not.to.have.property('connection');
  });

  it('keeps an open WebSocket across three reloads, delivering messages after each, and closes it when the drain period ends', async () => {
    const s = await open('/ws/long');
    expect(await s.echo('before')).to.equal('before');
    const drainStart = Date.now();
    for (let i = 1; i <= 3; i++) {
      await reload();
      expect(await s.echo(`after reload ${i}`)).to.equal(`after reload ${i}`);
      const fresh = await openSocket('/ws/fresh');
      expect(await fresh.echo(`new ${i}`)).to.equal(`new ${i}`);
      fresh.ws.close();
      await new Promise((r) => fresh.ws.once('close', r));
    }
    expect(s.closed).to.equal(undefined);
    expect(standalone.agent.workers().draining).to.be.at.least(1);
    await eventually('the drained WebSocket to close', async () => s.closed, (c) => c !== undefined, DRAIN_MS + 5000, 50);
    // The old worker closed it when worker_shutdown_timeout expired, not earlier (the reload).
    const after = s.closed!.at - drainStart;
    expect(after, `closed ${after} ms after the first reload`).to.be.within(DRAIN_MS - 250, DRAIN_MS + 3000);
    expect(s.closed!.code).to.equal(1006); // nginx closes the TCP connection, no close frame
    // Traffic on the current workers is unaffected.
    expect((await get(ADDRESS, PORT, '/x')).status).to.equal(200);
    expect(await (await open('/ws/again')).echo('again')).to.equal('again');
  });

  it(`keeps at most ${MAX_DRAINING} draining workers: reloads end the oldest generations first`, async () => {
    await eventually('no draining workers left', async () => standalone.agent.workers().draining, (n) => n === 0, DRAIN_MS + 5000);
    const endedBefore = standalone.agent.workers().ended;
    const held: OpenSocket[] = [];
    for (let i = 0; i < 4; i++) {
      held.push(await open(`/ws/gen${i}`));
      await reload();
      expect(standalone.agent.workers().draining, `draining after reload ${i + 1}`).to.be.at.most(MAX_DRAINING);
    }
    // Each reload left the worker holding the newest socket draining: the two oldest were ended.
    await eventually('the two oldest sockets to close', async () => held.map((s) => !!s.closed), (c) => c[0]! && c[1]!, 3000);
    for (const s of held.slice(2)) expect(await s.echo('still here')).to.equal('still here');
    expect(standalone.agent.workers().ended - endedBefore).to.equal(2);
    expect(log.lines.join('\n')).to.match(/ended draining nginx workers \d+: more than 2 draining/);
  });
});

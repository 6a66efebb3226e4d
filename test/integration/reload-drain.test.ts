// Reloads under keep-alive traffic (issue #14): nginx's old workers close their idle
// keep-alive connections the moment they get QUIT, under a client whose next request is
// already on its way. So the agent names the generation it loads before the SIGHUP, and the
// old workers ask HTTP/1.x clients to close after their response (nginx/lua/waygate/drain.lua).
// On a real nginx run by standalone mode: which responses carry "Connection: close" and
// which never may (HTTP/2, upgrades, the new generation's), and reloads under steady
// keep-alive traffic from many connections that fail no request.
import { expect } from 'chai';
import { Agent as HttpAgent, request } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DRAIN_PATH, runPaths } from '../../nginx/agent/config.ts';
import { announceGeneration } from '../../nginx/agent/generation.ts';
import { pushDocument } from '../../nginx/agent/peers.ts';
import type { Verdict } from '../../nginx/agent/verdict.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { freePort } from '../cluster/processes.ts';
import { selfSigned, tlsSecret } from '../support/certs.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.95';
const G = 'gateway.networking.k8s.io/v1';

/** One raw HTTP/1.1 request on a fresh connection; answers the response head. */
function head(port: number, host: string, extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, ADDRESS);
    let data = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => {
      data += d.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) {
        s.destroy();
        resolve(data.slice(0, end));
      }
    });
    s.on('error', reject);
    s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`);
  });
}

/** What the drain location holds: the generation being loaded, or "" for none. */
function announcedAt(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ socketPath: socket, path: DRAIN_PATH, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => (res.statusCode === 200 ? resolve(text.trim()) : reject(new Error(`GET ${DRAIN_PATH}: ${res.statusCode} ${text}`))));
    }).on('error', reject).end();
  });
}

const connectionHeaders = (h: string) => h.split('\r\n').filter((l) => /^connection:/i.test(l)).map((l) => l.slice(11).trim().toLowerCase());

/** A rule the route table does not take (a filter): its host is a server block, and changing it reloads nginx. */
const filtered = (svc: string, value: string) => ({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-change', value }] } }], backendRefs: [{ name: svc, port: 80 }] });

describe('reloads drain keep-alive connections first (real nginx, standalone pipeline)', function () {
  this.timeout(180_000);
  let run: TempStandalone;
  let port: number;
  let tlsPort: number;
  let sa: Standalone;
  let socket: string;
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');

  function write(changes: number): void {
    const cert = selfSigned(['secure.example.com']);
    run.write('objects.yaml', [
      gatewayClass(),
      { apiVersion: G, kind: 'Gateway', metadata: { name: 'gw', namespace: 'web' }, spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: ADDRESS }], listeners: [
        { name: 'http', protocol: 'HTTP', port },
        { name: 'https', protocol: 'HTTPS', port: tlsPort, hostname: 'secure.example.com', tls: { certificateRefs: [{ name: 'secure' }] } },
      ] } },
      tlsSecret('web', 'secure', cert),
      ...backend('web', 'a', echoPort),
      httpRoute({ name: 'plain', hostnames: ['plain.example.com', 'secure.example.com'], rules: [{ backendRefs: [{ name: 'a', port: 80 }] }] }),
      httpRoute({ name: 'filtered', hostnames: ['filtered.example.com'], rules: [filtered('a', String(changes))] }),
    ]);
  }
  let echoPort: number;

  before(async () => {
    run = tempStandalone('reload-drain');
    port = await freePort();
    tlsPort = await freePort();
    echoPort = (await run.echo('a')).port;
    write(0);
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    socket = runPaths(join(run.runDir, 'nginx')).socket;
    for (const host of ['plain.example.com', 'filtered.example.com']) {
      await eventually(`${host} served`, () => get(ADDRESS, port, '/', { host }).catch(() => undefined), (r) => r?.status === 200);
    }
    await sa.controller.idle();
    await sa.agent.settled();
  });

  const announced = () => announcedAt(socket);
  const live = () => {
    if (sa.agent.live === undefined) throw new Error('no live version');
    return sa.agent.live;
  };

  afterEach(async function () {
    await announceGeneration(socket, undefined).catch(() => undefined);
    if (this.currentTest?.state === 'failed') console.error(`log:\n${log.lines.slice(-40).join('\n')}`);
  });

  after(async () => {
    await run?.stop();
  });

  it('once a newer generation is announced, the serving workers ask HTTP/1.1 clients to close; not before, not after it is forgotten', async () => {
    for (const host of ['plain.example.com', 'filtered.example.com']) {
      expect(connectionHeaders(await head(port, host)), host).to.deep.equal(['keep-alive']);
    }
    await announceGeneration(socket, String(BigInt(live()) + 1n));
    // the route table's router and a server block's location both proxy through the Lua balancer
    for (const host of ['plain.example.com', 'filtered.example.com']) {
      expect(connectionHeaders(await head(port, host)), host).to.include('close');
    }
    expect(await announced()).to.equal(String(BigInt(live()) + 1n));
    await announceGeneration(socket, undefined);
    expect(await announced()).to.equal('');
    for (const host of ['plain.example.com', 'filtered.example.com']) {
      expect(connectionHeaders(await head(port, host)), host).to.deep.equal(['keep-alive']);
    }
  });

  it('the workers of the announced generation keep connections alive: the generation is the live version', async () => {
    await announceGeneration(socket, live());
    expect(connectionHeaders(await head(port, 'filtered.example.com'))).to.deep.equal(['keep-alive']);
    // compared as numbers of any length, not as text: 10 is newer than 9
    await announceGeneration(socket, `1${'0'.repeat(live().length)}`);
    expect(connectionHeaders(await head(port, 'filtered.example.com'))).to.include('close');
  });

  it('the announcement expires by itself (an agent that died before clearing it)', async () => {
    await announceGeneration(socket, String(BigInt(live()) + 1n), 1000);
    expect(connectionHeaders(await head(port, 'plain.example.com'))).to.include('close');
    await new Promise((r) => setTimeout(r, 1500));
    expect(connectionHeaders(await head(port, 'plain.example.com'))).to.deep.equal(['keep-alive']);
  });

  it('nginx refuses an announcement that is not a generation and keeps the last one', async () => {
    await announceGeneration(socket, String(BigInt(live()) + 1n));
    for (const body of ['12', '012 60', '1 0', 'x 60', `${'9'.repeat(65)} 60`]) {
      const refused = await pushDocument(socket, DRAIN_PATH, 'drain', body, false).then(() => undefined, (err: Error) => err.message);
      expect(refused, body).to.match(/answered 400: drain: not "<generation> <seconds>"/);
    }
    expect(connectionHeaders(await head(port, 'plain.example.com'))).to.include('close');
  });

  it('never on an upgrade request nor on HTTP/2, where a Connection header is a protocol error', async () => {
    await announceGeneration(socket, String(BigInt(live()) + 1n));
    expect(connectionHeaders(await head(port, 'plain.example.com', 'Connection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'))).to.not.include('close');
    const session = h2connect(`https://${ADDRESS}:${tlsPort}`, { servername: 'secure.example.com', rejectUnauthorized: false });
    try {
      const answer = await new Promise<{ status: number; headers: string[] }>((resolve, reject) => {
        const req = session.request({ ':path': '/', ':authority': 'secure.example.com' });
        req.on('response', (h) => resolve({ status: Number(h[':status']), headers: Object.keys(h) }));
        req.on('error', reject);
        req.end();
      });
      expect(answer.status).to.equal(200);
      expect(answer.headers).to.not.include('connection');
    } finally {
      session.close();
    }
  });

  it('reloads under steady keep-alive traffic on 16 connections fail (next to) no request', async () => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
    let ok = 0;
    let closes = 0;
    const failures: string[] = [];
    let running = true;
    const one = () => new Promise<void>((resolve) => {
      const req = request({ host: ADDRESS, port, path: '/', agent, headers: { host: 'plain.example.com' }, timeout: 5000 }, (res) => {
        res.resume().on('end', () => {
          if (/close/.test(String(res.headers.connection))) closes++;
          if (res.statusCode === 200) ok++;
          else failures.push(`status ${res.statusCode}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => { failures.push(err.message); resolve(); });
      req.end();
    });
    const loops = Array.from({ length: 16 }, async () => { while (running) await one(); });
    const from = verdicts.length;
    const reloads = 12;
    try {
      for (let i = 1; i <= reloads; i++) {
        write(i);
        await sa.controller.idle();
        await eventually(`reload ${i}`, async () => verdicts.slice(from).filter((v) => v.reloaded).length, (n) => n >= i, 30_000);
      }
    } finally {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    }
    expect(verdicts.slice(from).filter((v) => v.reloaded)).to.have.length(reloads);
    expect(await announced(), 'cleared once the old workers had QUIT').to.equal('');
    expect(ok).to.be.greaterThan(1000);
    expect(closes, 'answers asking to close').to.be.at.least(reloads);
    // Without the drain about 100 fail here (8 a reload). The drain leaves a connection idle
    // through the whole window (announce to QUIT, the master's parse of a small config) only
    // when its client stalls that long: 0 in every run seen, a stalled CI machine is allowed 2.
    expect(failures.length, `${failures.length} of ${ok + failures.length} requests failed: ${failures.slice(0, 5).join('; ')}`).to.be.at.most(2);
  });
});

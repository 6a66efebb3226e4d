// The stream block on a real nginx with real clients: TCP with weighted backends, UDP,
// TLS passthrough (the client sees the backend's own certificate), several SNI names on one
// port and an unknown one (closed), TLS terminate to a raw TCP echo, and an HTTPS listener
// sharing its port with a passthrough listener (SNI front + PROXY protocol to the http block).
import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildStreamModel } from '../../operator/src/dataplane/stream.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { selfSigned, tlsSecret, type TestCertificate } from '../support/certs.ts';
import { eventually } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, namespace, otherRoute, service, storeOf, httpRoute } from '../support/objects.ts';

const ADDRESS = '127.0.0.64';
const closers: (() => Promise<void> | void)[] = [];

/** Echoes with a name: writes "name:", then whatever it receives back. */
const echoAs = (name: string) => (s: Socket) => {
  s.on('error', () => {});
  s.write(`${name}:`);
  s.pipe(s);
};

/** Listens on a free loopback port until the suite ends; "127.0.0.1:port". */
async function serve(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A TCP backend that writes its name and whatever it receives back ("name:data"). */
const tcpBackend = (name: string): Promise<string> => serve(createServer(echoAs(name)));

/** A UDP backend answering "name:<datagram>". */
async function udpBackend(name: string): Promise<string> {
  const sock = createSocket('udp4');
  sock.on('message', (msg, from) => sock.send(`${name}:${msg}`, from.port, from.address));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => sock.close(() => r())));
  return `127.0.0.1:${sock.address().port}`;
}

/** A TLS backend presenting its own certificate, answering "name:<data>" inside TLS. */
const tlsBackend = (name: string, cert: TestCertificate): Promise<string> => serve(createTlsServer({ key: cert.key, cert: cert.cert }, echoAs(name)));

/** Connects, sends `data`, and resolves with everything read until the peer closes (or "" if closed at once). */
function tcpExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: ADDRESS, port });
    let got = '';
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => {
      got += d;
      if (got.endsWith(data)) s.end();
    });
    s.on('connect', () => s.write(data));
    s.on('close', () => resolve(got));
    s.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(got) : reject(e)));
  });
}

function udpExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); reject(new Error('udp timeout')); }, 2000);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(String(m)); });
    sock.send(data, port, ADDRESS);
  });
}

interface TlsResult { subject: string; reply: string; error?: string }

/** A TLS client with SNI `servername`: the certificate it was shown and what came back. */
function tlsExchange(port: number, servername: string, data = 'ping'): Promise<TlsResult> {
  return new Promise((resolve) => {
    let subject = '';
    let reply = '';
    const s = tlsConnect({ host: ADDRESS, port, servername, rejectUnauthorized: false }, () => {
      subject = String(s.getPeerCertificate().subject?.CN ?? '');
      s.write(data);
    });
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => {
      reply += d;
      if (reply.endsWith(data)) s.end();
    });
    s.on('close', () => resolve({ subject, reply }));
    s.on('error', (e) => resolve({ subject, reply, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

describe('stream block on a real nginx', function () {
  this.timeout(60_000);
  let nginx: ThrowawayNginx;
  let dir: string;
  let echo: EchoServer;
  const ports: Record<string, number> = {};
  const certs = {
    a: selfSigned(['a.example.com']),
    b: selfSigned(['b.example.com']),
    wild: selfSigned(['*.wild.example.com']),
    terminate: selfSigned(['term.example.com']),
    https: selfSigned(['www.example.com']),
  };

  before(async () => {
    for (const k of ['tcp', 'udp', 'tls', 'term', 'shared']) ports[k] = await freePort(ADDRESS);
    dir = mkdtempSync(join(tmpdir(), 'waygate-stream-'));
    chmodSync(dir, 0o711); // nginx workers connect to the local sockets in it
    echo = await startEcho('web');
    const [v1, v2, v3] = [await tcpBackend('v1'), await tcpBackend('v2'), await tcpBackend('v3')];
    const plain = await tcpBackend('plain');
    const [u1, u2] = [await udpBackend('u1'), await udpBackend('u2')];
    const ta = await tlsBackend('ta', certs.a);
    const tb = await tlsBackend('tb', certs.b);
    const tw = await tlsBackend('tw', certs.wild);
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [
        { name: 'tcp', protocol: 'TCP', port: ports.tcp, allowedRoutes: { namespaces: { from: 'Same' } } },
        { name: 'udp', protocol: 'UDP', port: ports.udp },
        { name: 'tls', protocol: 'TLS', port: ports.tls, tls: { mode: 'Passthrough' } },
        { name: 'term', protocol: 'TLS', port: ports.term, hostname: 'term.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'term' }] } },
        { name: 'https', protocol: 'HTTPS', port: ports.shared, hostname: 'www.example.com', tls: { certificateRefs: [{ name: 'https' }] } },
        { name: 'pass', protocol: 'TLS', port: ports.shared, hostname: 'a.example.com', tls: { mode: 'Passthrough' } },
      ], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      tlsSecret('app', 'term', certs.terminate), tlsSecret('app', 'https', certs.https),
      ...service('app', 'v1', 3000, [v1]), ...service('app', 'v2', 3000, [v2]), ...service('app', 'v3', 3000, [v3]),
      ...service('app', 'plain', 3000, [plain]),
      ...service('app', 'u1', 53, [u1]), ...service('app', 'u2', 53, [u2]),
      ...service('app', 'ta', 443, [ta]), ...service('app', 'tb', 443, [tb]), ...service('app', 'tw', 443, [tw]),
      ...service('app', 'web', 80, [echo.endpoint]),
      otherRoute('TCPRoute', 'app', 'tcp', { parentRefs: [{ name: 'gw', sectionName: 'tcp' }], rules: [{ backendRefs: [{ name: 'v1', port: 3000, weight: 70 }, { name: 'v2', port: 3000, weight: 30 }, { name: 'v3', port: 3000, weight: 0 }] }] }),
      otherRoute('UDPRoute', 'app', 'udp', { parentRefs: [{ name: 'gw', sectionName: 'udp' }], rules: [{ backendRefs: [{ name: 'u1', port: 53 }] }] }),
      otherRoute('TLSRoute', 'app', 'ta', { parentRefs: [{ name: 'gw', sectionName: 'tls' }, { name: 'gw', sectionName: 'pass' }], hostnames: ['a.example.com'], rules: [{ backendRefs: [{ name: 'ta', port: 443 }] }] }),
      otherRoute('TLSRoute', 'app', 'tb', { parentRefs: [{ name: 'gw', sectionName: 'tls' }], hostnames: ['b.example.com'], rules: [{ backendRefs: [{ name: 'tb', port: 443 }] }] }),
      otherRoute('TLSRoute', 'app', 'tw', { parentRefs: [{ name: 'gw', sectionName: 'tls' }], hostnames: ['*.wild.example.com'], rules: [{ backendRefs: [{ name: 'tw', port: 443 }] }] }),
      otherRoute('TLSRoute', 'app', 'term', { parentRefs: [{ name: 'gw', sectionName: 'term' }], hostnames: ['term.example.com'], rules: [{ backendRefs: [{ name: 'plain', port: 3000 }] }] }),
      httpRoute('app', 'web', { parentRefs: [{ name: 'gw', sectionName: 'https' }], hostnames: ['www.example.com'], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] }),
    ];
    void u2;
    const graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    const opts = { certDir: dir, socketDir: dir };
    const config = renderConfig(buildHttpModel(graph, opts), buildStreamModel(graph, opts));
    for (const c of config.certificates) writeFileSync(join(dir, c.name), c.pem, { mode: 0o600 });
    nginx = await startNginx({ http: config.files['http.conf'], stream: config.files['stream.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
  });

  after(async () => {
    await nginx?.stop();
    await echo?.close();
    for (const c of closers.splice(0)) await c();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('TCP: echoes through the route; weights 70/30/0 split connections within 10 points over 200, weight 0 gets none', async () => {
    await eventually('tcp', () => tcpExchange(ports.tcp!, 'x'), (r) => r.endsWith(':x'));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const r = await tcpExchange(ports.tcp!, `m${i}`);
      expect(r).to.match(new RegExp(`^v[123]:m${i}$`));
      const name = r.split(':')[0]!;
      counts[name] = (counts[name] ?? 0) + 1;
    }
    expect(counts.v3 ?? 0).to.equal(0);
    expect((counts.v1 ?? 0) / 200).to.be.within(0.6, 0.8);
    expect((counts.v2 ?? 0) / 200).to.be.within(0.2, 0.4);
  });

  it('UDP: a datagram reaches the backend and its answer comes back', async () => {
    const r = await eventually('udp', () => udpExchange(ports.udp!, 'hello').catch(() => ''), (x) => x !== '');
    expect(r).to.equal('u1:hello');
  });

  it('TLS passthrough: the client sees the backend\'s own certificate; each SNI name reaches its route', async () => {
    const a = await eventually('tls a', () => tlsExchange(ports.tls!, 'a.example.com'), (r) => r.reply !== '');
    expect(a).to.include({ subject: 'a.example.com', reply: 'ta:ping' });
    expect(await tlsExchange(ports.tls!, 'b.example.com')).to.include({ subject: 'b.example.com', reply: 'tb:ping' });
    expect(await tlsExchange(ports.tls!, 'x.wild.example.com')).to.include({ subject: '*.wild.example.com', reply: 'tw:ping' });
  });

  it('TLS passthrough: an unknown SNI name is closed without a handshake', async () => {
    const r = await tlsExchange(ports.tls!, 'unknown.example.com');
    expect(r.subject).to.equal('');
    expect(r.reply).to.equal('');
    expect(r.error).to.be.a('string');
  });

  it('TLS terminate: the listener\'s certificate, and plain bytes to a raw TCP echo', async () => {
    const r = await eventually('terminate', () => tlsExchange(ports.term!, 'term.example.com'), (x) => x.reply !== '');
    expect(r).to.include({ subject: 'term.example.com', reply: 'plain:ping' });
  });

  it('HTTPS and TLS passthrough on one port: passthrough SNI to its backend, the HTTPS name to the http block', async () => {
    const pass = await eventually('shared pass', () => tlsExchange(ports.shared!, 'a.example.com'), (x) => x.reply !== '');
    expect(pass).to.include({ subject: 'a.example.com', reply: 'ta:ping' });
    const web = await eventually('shared https', () => httpsGet(ports.shared!, 'www.example.com'), (x) => x.status === 200);
    expect(web).to.include({ subject: 'www.example.com', backend: 'web' });
    // The http block saw the client's address through PROXY protocol, not the unix socket.
    const log = readFileSync(join(nginx.dir, 'access.log'), 'utf8');
    expect(log).to.match(/^127\.\d+\.\d+\.\d+ .*"GET \/ HTTP\/1\.1" 200/m).and.not.to.match(/^unix:/m);
  });
});

function httpsGet(port: number, servername: string): Promise<{ status: number; backend?: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ADDRESS, port, path: '/', servername, headers: { host: servername }, rejectUnauthorized: false, agent: false }, (res) => {
      const subject = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, backend: res.headers['x-backend'] as string | undefined, subject }));
    });
    req.on('error', reject);
    req.end();
  });
}

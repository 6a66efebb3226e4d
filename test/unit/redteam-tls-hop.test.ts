// Red team: the agent's TLS hop under a hostile tenant. A tenant owns its Services and
// EndpointSlices, so one BackendTLSPolicy with subjectAltNames over one Service can list
// thousands of endpoints, each a manifest entry and a listener in the agent. The agent
// builds a TLS context per entry: with the system store that cost ~1 MB and ~12 ms of
// blocking work each (measured: 1000 entries, 978 MB and 11.8 s before nginx -t could run
// for anyone). Entries with the same CA file and client certificate must share one context.
// Also: the manifest reader must refuse entries that would make the agent connect or bind
// somewhere the operator did not mean (a socket outside its directory, a hostname address).
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTlsOriginManifest } from '../../nginx/agent/tls-origin-manifest.ts';
import { TlsOrigins } from '../../nginx/agent/tls-origin.ts';
import { captureLogger } from '../support/logs.ts';
import { issue, makeCA } from '../support/test-ca.ts';

const hex = (i: number) => i.toString(16).padStart(16, '0');

describe('red team: TLS hop resource use and manifest checks', function () {
  this.timeout(60_000);
  let versionDir: string;
  let socketDir: string;

  beforeEach(() => {
    versionDir = mkdtempSync(join(tmpdir(), 'rt-hop-v-'));
    socketDir = mkdtempSync(join(tmpdir(), 'rt-hop-s-'));
  });
  afterEach(() => {
    rmSync(versionDir, { recursive: true, force: true });
    rmSync(socketDir, { recursive: true, force: true });
  });

  it('one tenant Service with 400 endpoints behind a System-CA policy: the agent shares one trust store (memory stays bounded)', async () => {
    const n = 400;
    const origins = Array.from({ length: n }, (_, i) => ({
      socket: `${socketDir}/wg-o-${hex(i)}.sock`, address: `10.1.${i >> 8}.${i & 255}:443`, serverName: 'a.example.com', ca: 'System',
      subjectAltNames: [{ type: 'Hostname', hostname: 'a.example.com' }], alpn: ['http/1.1'], source: 'BackendTLSPolicy/evil/p',
    }));
    writeFileSync(join(versionDir, 'tls-origin.json'), JSON.stringify({ version: 1, origins }));
    const { logger } = captureLogger();
    const hop = new TlsOrigins({ socketDir, logger });
    global.gc?.();
    const before = process.memoryUsage().rss;
    try {
      expect(await hop.prepare(versionDir)).to.deep.equal([]);
      expect(hop.sockets).to.have.length(n);
      global.gc?.();
      const grownMB = (process.memoryUsage().rss - before) / 1e6;
      // One context per entry: ~1 MB each (400 MB here). Shared: a few MB in all.
      expect(grownMB, `the agent grew by ${grownMB.toFixed(0)} MB for ${n} endpoints`).to.be.below(100);
    } finally {
      await hop.close();
    }
  });

  it('the manifest reader refuses sockets outside the socket directory, non-IP addresses and other ALPN', () => {
    const base = { address: '10.0.0.1:443', serverName: 'a.example.com', ca: 'System', subjectAltNames: [{ type: 'Hostname', hostname: 'a.example.com' }], alpn: ['http/1.1'], source: 'x' };
    const bad = [
      { ...base, socket: `${socketDir}/../wg-o-${hex(1)}.sock` },
      { ...base, socket: `/run/wg-o-${hex(2)}.sock` },
      { ...base, socket: `${socketDir}/wg-o-${hex(3)}.sock`, address: 'metadata.google.internal:80' },
      { ...base, socket: `${socketDir}/wg-o-${hex(4)}.sock`, address: '10.0.0.1:0' },
      { ...base, socket: `${socketDir}/wg-o-${hex(5)}.sock`, ca: { file: '/etc/shadow' } },
      { ...base, socket: `${socketDir}/wg-o-${hex(6)}.sock`, clientCertificate: '/etc/passwd' },
      { ...base, socket: `${socketDir}/wg-o-${hex(7)}.sock`, alpn: ['h2', 'http/1.1', 'h3'] },
      { ...base, socket: `${socketDir}/wg-o-${hex(8)}.sock`, serverName: '*.example.com' },
    ];
    const { origins, problems } = parseTlsOriginManifest(JSON.stringify({ version: 1, origins: bad }), socketDir);
    expect(origins).to.deep.equal([]);
    expect(problems).to.have.length(bad.length);
  });

  it('when nginx closes its side, the hop closes the backend connection (a backend that never answers nor closes holds no agent socket)', async () => {
    const ca = makeCA('red team hop CA');
    const leaf = issue(ca, 'tarpit', { dns: ['tarpit.example.com'] });
    // A tenant backend: completes TLS, reads, never answers, never closes (not even after the agent's FIN).
    const open = new Set<TLSSocket>();
    const tarpit = createTlsServer({ cert: leaf.cert, key: leaf.key, allowHalfOpen: true }, (s) => {
      open.add(s);
      s.resume();
      s.on('error', () => {});
      s.on('close', () => open.delete(s));
    });
    tarpit.on('tlsClientError', () => {});
    await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
    const port = (tarpit.address() as { port: number }).port;
    writeFileSync(join(socketDir, 'ca.pem'), ca.cert, { mode: 0o600 });
    const socket = `${socketDir}/wg-o-${hex(1)}.sock`;
    writeFileSync(join(versionDir, 'tls-origin.json'), JSON.stringify({ version: 1, origins: [{
      socket, address: `127.0.0.1:${port}`, serverName: 'tarpit.example.com', ca: { file: join(socketDir, 'ca.pem') },
      subjectAltNames: [{ type: 'Hostname', hostname: 'tarpit.example.com' }], alpn: ['http/1.1'], source: 'BackendTLSPolicy/evil/p',
    }] }));
    const { logger } = captureLogger();
    const hop = new TlsOrigins({ socketDir, logger, workerUid: process.getuid?.() });
    try {
      expect(await hop.prepare(versionDir)).to.deep.equal([]);
      // nginx: connects, sends a request, gives up (proxy_read_timeout, client gone) and closes.
      const n = 20;
      const clients: Socket[] = [];
      for (let i = 0; i < n; i++) {
        const c = netConnect(socket);
        c.on('error', () => {});
        await new Promise<void>((r) => c.once('connect', () => r()));
        c.write('GET / HTTP/1.1\r\nHost: tarpit.example.com\r\n\r\n');
        clients.push(c);
      }
      const deadline = Date.now() + 5000;
      while (open.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(open.size, 'connections relayed to the backend').to.equal(n);
      // The agent's own sockets are what counts: the backend (half-open by choice) never learns.
      const fds = () => readdirSync('/proc/self/fd').length;
      const withAll = fds();
      for (const c of clients) c.end();
      // Gone once nginx closed: its 20 connections, the agent's 20 from nginx and 20 to the backend.
      const closeBy = Date.now() + 8000;
      while (withAll - fds() < 3 * n && Date.now() < closeBy) await new Promise((r) => setTimeout(r, 50));
      expect(withAll - fds(), `sockets closed after nginx closed its ${n} connections (the test's, the agent's from nginx, the agent's to the backend)`).to.be.at.least(3 * n);
    } finally {
      for (const s of open) s.destroy();
      tarpit.close();
      await hop.close();
    }
  });
});

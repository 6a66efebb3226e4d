// Gateway spec.tls.frontend (client certificates) and misdirected-request detection on a
// real nginx, with real TLS clients (node:https). A port with AllowValidOnly closes the
// connection unanswered (nginx's 495/496 turned into 444) when the client certificate is
// missing, from another CA or expired; AllowInsecureFallback serves all of them. The
// misdirected cases are the conformance table of HTTPRouteHTTPSListenerDetectMisdirectedRequests.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { selfSigned, tlsSecret, type TestCertificate } from '../support/certs.ts';
import { caConfigMap, ClientCA } from '../support/client-ca.ts';
import { eventually } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.64';

export interface Answer { status?: number; backend?: string; error?: string }

export function httpsGet(address: string, port: number, servername: string, host: string, client?: TestCertificate): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: address, port, path: '/detect-misdirected-requests', servername, headers: { host }, rejectUnauthorized: false, agent: false, ...(client ?? {}) }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode, backend: res.headers['x-backend'] as string | undefined }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

describe('Frontend TLS on a real nginx: client certificates and misdirected requests', function () {
  this.timeout(60_000);
  let nginx: ThrowawayNginx;
  const echoes: EchoServer[] = [];
  let ports: { misdirect: number; valid: number; fallback: number };
  let certDir: string;
  let ca: ClientCA;
  let otherCA: ClientCA;

  before(async () => {
    ports = { misdirect: await freePort(), valid: await freePort(), fallback: await freePort() };
    for (const name of ['v1', 'v2', 'v3']) echoes.push(await startEcho(name));
    certDir = mkdtempSync(join(tmpdir(), 'waygate-certs-'));
    ca = new ClientCA('client-ca');
    otherCA = new ClientCA('other-ca');
    const server = selfSigned(['example.org', 'second-example.org', '*.wildcard.org']);
    const https = (name: string, port: number, hostname?: string) => ({ name, protocol: 'HTTPS', port, ...(hostname ? { hostname } : {}), tls: { certificateRefs: [{ name: 'server' }] }, allowedRoutes: { namespaces: { from: 'Same' } } });
    const route = (name: string, sectionName: string, backend: string, hostnames?: string[]) =>
      httpRoute('app', name, { parentRefs: [{ name: 'gw', sectionName }], ...(hostnames ? { hostnames } : {}), rules: [{ backendRefs: [{ name: backend, port: 80 }] }] });
    const validation = (mode: string) => ({ validation: { mode, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'client-ca' }] } });
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [
        https('https', ports.misdirect), https('https-with-hostname', ports.misdirect, 'second-example.org'),
        https('https-with-wildcard-hostname', ports.misdirect, '*.wildcard.org'), https('https-with-hostname-matching-wildcard', ports.misdirect, 'fourth-example.wildcard.org'),
        https('mtls', ports.valid, 'second-example.org'), https('mtls-catch-all', ports.valid),
        https('fallback', ports.fallback, 'second-example.org'),
      ], {
        addresses: [{ type: 'IPAddress', value: ADDRESS }],
        tls: { frontend: { default: {}, perPort: [{ port: ports.valid, tls: validation('AllowValidOnly') }, { port: ports.fallback, tls: validation('AllowInsecureFallback') }] } },
      }),
      tlsSecret('app', 'server', server), caConfigMap('app', 'client-ca', ca.cert),
      ...service('app', 'v1', 80, [echoes[0]!.endpoint]), ...service('app', 'v2', 80, [echoes[1]!.endpoint]), ...service('app', 'v3', 80, [echoes[2]!.endpoint]),
      route('r1', 'https', 'v1', ['example.org']), route('r2', 'https-with-hostname', 'v2'), route('r3', 'https-with-wildcard-hostname', 'v3'), route('r4', 'https-with-hostname-matching-wildcard', 'v1'),
      route('m1', 'mtls', 'v2'), route('m2', 'mtls-catch-all', 'v1'), route('f1', 'fallback', 'v2'),
    ];
    const graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    for (const l of graph.gateways[0]!.listeners) expect(l.programmable, `${l.name}: ${JSON.stringify(l.conditions)}`).to.equal(true);
    const config = renderConfig(buildHttpModel(graph, { certDir }));
    for (const c of config.certificates) writeFileSync(join(certDir, c.name), c.pem, { mode: 0o600 });
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('https', () => httpsGet(ADDRESS, ports.misdirect, 'example.org', 'example.org'), (x) => x.status === 200);
  });

  after(async () => {
    await nginx?.stop();
    for (const e of echoes) await e.close();
    ca?.close();
    otherCA?.close();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  describe('AllowValidOnly', () => {
    it('serves a client whose certificate the CA signed', async () => {
      expect(await httpsGet(ADDRESS, ports.valid, 'second-example.org', 'second-example.org', ca.client('alice'))).to.deep.equal({ status: 200, backend: 'v2' });
    });
    it('closes the connection unanswered without a client certificate, with one from another CA, and with an expired one', async () => {
      for (const client of [undefined, otherCA.client('mallory'), ca.client('late', { expired: true })]) {
        const r = await httpsGet(ADDRESS, ports.valid, 'second-example.org', 'second-example.org', client);
        expect(r.status, JSON.stringify(r)).to.equal(undefined);
        expect(r.error).to.be.oneOf(['ECONNRESET', 'socket hang up']);
      }
    });
    it('requires the certificate on every server of the port: another SNI name, the catch-all, no SNI', async () => {
      for (const [sni, host] of [['unknown.example', 'second-example.org'], ['unknown.example', 'unknown.example'], ['', 'second-example.org']] as const) {
        const r = await httpsGet(ADDRESS, ports.valid, sni, host);
        expect(r.status, `${sni} ${host}: ${JSON.stringify(r)}`).to.equal(undefined);
        expect((await httpsGet(ADDRESS, ports.valid, sni, host, ca.client('bob'))).status, `${sni} ${host}`).to.be.oneOf([200, 421]);
      }
    });
  });

  describe('AllowInsecureFallback', () => {
    it('serves clients with a valid, a foreign or no certificate; an expired one gets 400 (nginx optional_no_ca, see README)', async () => {
      expect(await httpsGet(ADDRESS, ports.fallback, 'second-example.org', 'second-example.org', ca.client('late', { expired: true }))).to.deep.include({ status: 400 });
      for (const client of [ca.client('alice'), otherCA.client('mallory'), undefined]) {
        expect(await httpsGet(ADDRESS, ports.fallback, 'second-example.org', 'second-example.org', client)).to.deep.equal({ status: 200, backend: 'v2' });
      }
    });
  });

  describe('misdirected requests (421)', () => {
    const cases: [sni: string, host: string, status: number, backend?: string][] = [
      ['example.org', 'example.org', 200, 'v1'],
      ['example.org', 'second-example.org', 421],
      ['example.org', 'unknown-example.org', 404],
      ['second-example.org', 'second-example.org', 200, 'v2'],
      ['second-example.org', 'example.org', 421],
      ['second-example.org', 'unknown-example.org', 421],
      ['third-example.wildcard.org', 'third-example.wildcard.org', 200, 'v3'],
      ['third-example.wildcard.org', 'fith-example.wildcard.org', 200, 'v3'],
      ['third-example.wildcard.org', 'fourth-example.wildcard.org', 421],
      ['third-example.wildcard.org', 'second-example.org', 421],
      ['third-example.wildcard.org', 'unknown-example.org', 421],
      ['fourth-example.wildcard.org', 'fourth-example.wildcard.org', 200, 'v1'],
      ['fourth-example.wildcard.org', 'fith-example.wildcard.org', 421],
      ['unknown-example.org', 'example.org', 200, 'v1'],
      ['unknown-example.org', 'unknown-example.org', 404],
      // nginx's own name rules on both sides: case, a trailing dot, a port in Host, deeper wildcard names
      ['Second-Example.ORG', 'second-example.org:443', 200, 'v2'],
      ['a.b.wildcard.org', 'c.wildcard.org', 200, 'v3'],
      ['a.b.wildcard.org', 'FOURTH-example.wildcard.org.', 421],
      ['', 'example.org', 200, 'v1'],
      ['', 'second-example.org', 421],
    ];
    for (const [sni, host, status, backend] of cases) {
      it(`SNI ${sni || '(none)'}, Host ${host}: ${status}`, async () => {
        const r = await httpsGet(ADDRESS, ports.misdirect, sni, host);
        expect(r).to.deep.equal({ status, backend });
      });
    }

    // HTTP/2 is where 421 matters: a client reuses one connection for every name its
    // certificate covers. HTTPS listeners offer h2 (ALPN), and :authority is checked like Host.
    it('over HTTP/2 (ALPN h2): one connection, the SNI\'s own name served, another listener\'s name 421', async () => {
      const session = h2connect(`https://${ADDRESS}:${ports.misdirect}`, { servername: 'second-example.org', rejectUnauthorized: false });
      try {
        await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
        expect((session.socket as TLSSocket).alpnProtocol).to.equal('h2');
        const get = (authority: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = session.request({ ':path': '/detect-misdirected-requests', ':authority': authority });
          let body = '';
          let status = 0;
          req.setEncoding('utf8');
          req.on('response', (h) => (status = Number(h[':status'])));
          req.on('data', (d: string) => (body += d));
          req.on('end', () => resolve({ status, body }));
          req.on('error', reject);
          req.end();
        });
        const own = await get('second-example.org');
        expect(own.status).to.equal(200);
        expect(JSON.parse(own.body).backend).to.equal('v2');
        expect((await get('example.org')).status).to.equal(421);
      } finally {
        session.close();
      }
    });
  });
});

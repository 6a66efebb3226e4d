// HTTPS listeners on a real nginx: TLS terminated with the Secret of the listener that
// serves the hostname (SNI), routes matched as over HTTP.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { selfSigned, tlsSecret } from '../support/certs.ts';
import { eventually } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.63';

function httpsGet(port: number, servername: string, path = '/'): Promise<{ status: number; backend?: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ADDRESS, port, path, servername, headers: { host: servername }, rejectUnauthorized: false, agent: false }, (res) => {
      const subject = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, backend: res.headers['x-backend'] as string | undefined, subject }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS listeners on a real nginx', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let echo: EchoServer;
  let port: number;
  let certDir: string;

  before(async () => {
    port = await freePort();
    echo = await startEcho('secure');
    certDir = mkdtempSync(join(tmpdir(), 'waygate-certs-'));
    const wildcard = selfSigned(['*.example.com']);
    const exact = selfSigned(['exact.example.com']);
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [
        { name: 'wild', protocol: 'HTTPS', port, hostname: '*.example.com', tls: { certificateRefs: [{ name: 'wild' }] }, allowedRoutes: { namespaces: { from: 'Same' } } },
        { name: 'exact', protocol: 'HTTPS', port, hostname: 'exact.example.com', tls: { certificateRefs: [{ name: 'exact' }] }, allowedRoutes: { namespaces: { from: 'Same' } } },
      ], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      tlsSecret('app', 'wild', wildcard), tlsSecret('app', 'exact', exact),
      ...service('app', 'svc', 80, [echo.endpoint]),
      httpRoute('app', 'r', { hostnames: ['a.example.com', 'exact.example.com'] }),
    ];
    const model = buildHttpModel(buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] }), { certDir });
    const config = renderConfig(model);
    for (const c of config.certificates) writeFileSync(join(certDir, c.name), c.pem, { mode: 0o600 });
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
  });

  after(async () => {
    await nginx?.stop();
    await echo?.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('terminates TLS with the wildcard listener\'s certificate and proxies the route', async () => {
    const r = await eventually('https', () => httpsGet(port, 'a.example.com'), (x) => x.status === 200);
    expect(r).to.include({ backend: 'secure', subject: '*.example.com' });
  });

  it('presents the exact listener\'s certificate for its hostname (SNI)', async () => {
    const r = await httpsGet(port, 'exact.example.com');
    expect(r).to.include({ status: 200, subject: 'exact.example.com' });
  });

  it('answers 404 over TLS for a hostname no route serves', async () => {
    const r = await httpsGet(port, 'b.example.com');
    expect(r.status).to.equal(404);
  });
});

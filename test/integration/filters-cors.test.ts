// The CORS filter on a real nginx: preflights are answered by the gateway (the backend never
// sees them) with the Access-Control-* headers for allowed origins only (exact, "*."
// wildcards, "*", default ports), echoed request methods and headers only when they are
// valid tokens, credentials as configured; actual requests reach the backend and get the
// headers, the backend's own CORS headers are replaced.
import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.142';
const HOST = 'cors.example.com';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

describe('CORS filter on a real nginx', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let backend: Server;
  let port: number;
  const seen: { method: string; url: string }[] = [];
  const cors = (path: string, c: object) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], filters: [{ type: 'CORS', cors: c }], backendRefs: [{ name: 'svc', port: 80 }] });
  const send = (method: string, path: string, headers: Record<string, string> = {}) => new Promise<Answer>((resolve, reject) => {
    const req = request({ host: ADDRESS, port, path, method, agent: false, headers: { host: HOST, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
  const preflight = (path: string, origin: string, method = 'GET', headers?: string) =>
    send('OPTIONS', path, { Origin: origin, 'Access-Control-Request-Method': method, ...(headers ? { 'Access-Control-Request-Headers': headers } : {}) });
  const ac = (a: Answer) => Object.fromEntries(Object.entries(a.headers).filter(([k]) => k.startsWith('access-control-')));

  before(async () => {
    port = await freePort();
    backend = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '' });
      // A backend that answers CORS itself: the gateway's filter must replace this.
      res.writeHead(200, { 'access-control-allow-origin': 'https://backend.example', 'access-control-allow-credentials': 'true', 'x-backend': 'svc' });
      res.end('ok');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [{ port }], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      ...service('app', 'svc', 80, [`127.0.0.1:${(backend.address() as AddressInfo).port}`]),
      httpRoute('app', 'r', {
        hostnames: [HOST],
        rules: [
          cors('/list', { allowOrigins: ['https://www.foo.com', 'https://*.bar.com', 'http://local.test:8080'], allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['x-header-1', 'x-header-2'], exposeHeaders: ['x-header-3', 'x-header-4'], allowCredentials: true, maxAge: 3600 }),
          cors('/star', { allowOrigins: ['*'], allowMethods: ['PUT'] }),
          cors('/star-creds', { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['*', 'x-named'], allowCredentials: true }),
          cors('/star-nocreds', { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['*'] }),
          cors('/defaults', { allowOrigins: ['https://www.foo.com'] }),
        ],
      }),
    ];
    const config = renderConfig(buildHttpModel(buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] })));
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx', () => send('GET', '/list'), (r) => r.status === 200);
  });

  after(async () => {
    await nginx?.stop();
    backend?.close();
  });

  it('preflight from a listed origin: 204 from the gateway with every header of the filter; the backend never sees it', async () => {
    seen.length = 0;
    const r = await preflight('/list/x', 'https://www.foo.com', 'GET', 'x-header-1, x-header-2');
    expect(r.status).to.equal(204);
    expect(ac(r)).to.deep.equal({
      'access-control-allow-origin': 'https://www.foo.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, OPTIONS',
      'access-control-allow-headers': 'x-header-1, x-header-2',
      'access-control-max-age': '3600',
      'access-control-expose-headers': 'x-header-3, x-header-4',
    });
    expect(r.headers.vary).to.equal('Origin');
    expect(seen).to.deep.equal([]);
  });

  it('"*." matches one or more labels to its left, not the bare domain nor a lookalike; default ports may be written; scheme and port must match', async () => {
    const allowed = ['https://www.bar.com', 'https://xpto.www.bar.com', 'https://WWW.BAR.COM', 'https://www.foo.com:443', 'http://local.test:8080'];
    const refused = ['https://bar.com', 'https://wwwxfoo.com', 'https://evilbar.com', 'https://www.bar.com.evil.com', 'http://www.foo.com', 'https://www.foo.com:8443', 'http://local.test', 'https://www.foo.com/', 'https://www.foo.com.', 'null', 'https://www.foo.com, https://x.bar.com'];
    for (const origin of allowed) {
      const r = await preflight('/list', origin);
      expect(r.headers['access-control-allow-origin'], origin).to.equal(origin);
    }
    for (const origin of refused) {
      const r = await preflight('/list', origin);
      expect(r.status, origin).to.equal(204);
      expect(ac(r), origin).to.deep.equal({});
    }
  });

  it('actual requests reach the backend and carry origin, credentials and exposed headers; the backend\'s own CORS headers are replaced', async () => {
    seen.length = 0;
    const ok = await send('GET', '/list/y', { Origin: 'https://a.bar.com' });
    expect(ok).to.include({ status: 200, body: 'ok' });
    expect(ac(ok)).to.deep.equal({ 'access-control-allow-origin': 'https://a.bar.com', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'x-header-3, x-header-4' });
    const other = await send('GET', '/list/y', { Origin: 'https://foobar.com' });
    expect(other.status).to.equal(200);
    expect(ac(other)).to.deep.equal({});
    const none = await send('GET', '/list/y');
    expect(ac(none)).to.deep.equal({});
    // OPTIONS without Access-Control-Request-Method is no preflight: the backend answers it.
    const plainOptions = await send('OPTIONS', '/list/z', { Origin: 'https://www.foo.com' });
    expect(plainOptions.body).to.equal('ok');
    expect(seen.map((s) => `${s.method} ${s.url}`)).to.deep.equal(['GET /list/y', 'GET /list/y', 'GET /list/y', 'OPTIONS /list/z']);
  });

  it('allowOrigins "*" without credentials: "*" for any http(s) origin, with a port too; methods as listed; no credentials header', async () => {
    for (const origin of ['https://foobar.com', 'https://foobar.com:12345', 'http://[::1]:8080']) {
      const r = await preflight('/star', origin, 'PUT');
      expect(r.status).to.equal(204);
      expect(ac(r), origin).to.deep.equal({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'PUT', 'access-control-max-age': '5' });
      expect(r.headers.vary).to.equal(undefined);
    }
    const put = await send('PUT', '/star', { Origin: 'https://foobar.com:12345' });
    expect(ac(put)).to.deep.equal({ 'access-control-allow-origin': '*' });
  });

  it('"*" with credentials: the origin, the requested method and the requested headers are echoed, never "*"', async () => {
    const r = await preflight('/star-creds', 'https://other.foo.com', 'PUT', 'x-header-1, x-header-2');
    expect(ac(r)).to.deep.equal({
      'access-control-allow-origin': 'https://other.foo.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'PUT',
      'access-control-allow-headers': 'x-header-1, x-header-2',
      'access-control-max-age': '5',
      'access-control-expose-headers': 'x-named',
    });
    const get = await send('GET', '/star-creds', { Origin: 'https://other.foo.com' });
    expect(ac(get)).to.deep.equal({ 'access-control-allow-origin': 'https://other.foo.com', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'x-named' });
  });

  it('echoed request headers must be a list of tokens: anything else is not echoed', async () => {
    for (const bad of ['x-a;evil', 'x-a, <script>', 'x-a,,x-b', '"x"']) {
      const r = await preflight('/star-creds', 'https://other.foo.com', 'PUT', bad);
      expect(r.headers, bad).not.to.have.property('access-control-allow-headers');
      expect(r.headers['access-control-allow-origin']).to.equal('https://other.foo.com');
    }
    const badMethod = await preflight('/star-creds', 'https://other.foo.com', 'P,UT');
    expect(badMethod.headers).not.to.have.property('access-control-allow-methods');
  });

  it('"*" without credentials: "*" for methods, headers and exposed headers', async () => {
    const r = await preflight('/star-nocreds', 'https://other.foo.com', 'PUT', 'x-header-1');
    expect(ac(r)).to.deep.equal({ 'access-control-allow-origin': '*', 'access-control-allow-methods': '*', 'access-control-allow-headers': '*', 'access-control-max-age': '5', 'access-control-expose-headers': '*' });
  });

  it('only allowOrigins: the origin and max-age 5 (the default); nothing about methods, headers or credentials', async () => {
    const r = await preflight('/defaults', 'https://www.foo.com', 'DELETE');
    expect(ac(r)).to.deep.equal({ 'access-control-allow-origin': 'https://www.foo.com', 'access-control-max-age': '5' });
  });
});

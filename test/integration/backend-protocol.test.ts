// Backend appProtocol on a real nginx run by standalone mode: kubernetes.io/h2c backends are
// reached over HTTP/2 without TLS (through the local hop, dataplane/backend-protocol.ts) with
// the request as the client sent it; unknown protocols are refused with UnsupportedProtocol.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { gateway, gatewayClass, httpRoute, toYaml } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.131';
const PORT = 18131;

interface Seen {
  version: string;
  method: string;
  path: string;
  authority: string;
  headers: Record<string, unknown>;
  body: number;
}

/** An HTTP/2-only backend (prior knowledge, no TLS, no HTTP/1.x): answers what it saw, 201 for POSTs. */
async function startH2c(): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Http2Server = createServer((req, res) => {
    let body = 0;
    req.on('data', (d: Buffer) => (body += d.length));
    req.on('end', () => {
      const s = { version: req.httpVersion, method: req.method, path: req.url, authority: req.authority, headers: req.headers, body };
      seen.push(s);
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'x-h2-backend': 'yes' });
      if (req.method === 'HEAD') res.end();
      else res.end(JSON.stringify(s));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A request with a body, sent with Content-Length or chunked. */
function send(method: string, path: string, body: string, chunked: boolean): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'p.example.com', ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) }) };
    const req = httpRequest({ host: ADDRESS, port: PORT, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (chunked) for (let i = 0; i < body.length; i += 1000) req.write(body.slice(i, i + 1000));
    else req.write(body);
    req.end();
  });
}

/** One request over HTTP/2 with prior knowledge to the Gateway. */
function h2cGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${ADDRESS}:${PORT}`);
    session.on('error', reject);
    const req = session.request({ ':path': path, ':authority': 'p.example.com' });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => { session.close(); resolve({ status, body }); });
    req.on('error', reject);
    req.end();
  });
}

describe('backend appProtocol on a real nginx (standalone)', function () {
  this.timeout(60_000);
  const log = captureLogger();
  let run: TempStandalone;
  let h2: Awaited<ReturnType<typeof startH2c>>;
  const req = (path: string, opts: { method?: string; headers?: Record<string, string> } = {}) => get(ADDRESS, PORT, path, { host: 'p.example.com', ...opts });
  const rule = (path: string, backends: string[], extra: object = {}) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: backends.map((name) => ({ name, port: 80 })), ...extra });

  before(async () => {
    run = tempStandalone('backend-protocol');
    h2 = await startH2c();
    const http1 = await run.echo('http1');
    const svc = (name: string, port: number, appProtocol?: string) => [
      { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'web' }, spec: { ports: [{ name: 'http', port: 80, ...(appProtocol ? { appProtocol } : {}) }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'web', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'http', port }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
    ];
    run.write('gateway.yaml', toYaml([gatewayClass(), gateway({ address: ADDRESS, port: PORT })]));
    run.write('backends.yaml', toYaml([
      ...svc('h2', h2.port, 'kubernetes.io/h2c'),
      ...svc('plain', http1.port),
      ...svc('liar', http1.port, 'kubernetes.io/h2c'), // says h2c, speaks HTTP/1.1 only
      ...svc('odd', http1.port, 'kubernetes.io/foo'),
    ]));
    run.write('route.yaml', toYaml([httpRoute({
      hostnames: ['p.example.com'],
      rules: [
        rule('/h2', ['h2']),
        rule('/rewrite', ['h2'], { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/rewritten' } } }] }),
        rule('/plain', ['plain']),
        rule('/liar', ['liar']),
        rule('/odd', ['odd']),
        rule('/mix', ['h2', 'plain']),
      ],
    })]));
    await run.start(log.logger);
    await eventually('the route', () => req('/plain').then((r) => r.status, () => 0), (s) => s === 200, 15_000);
  });

  after(async () => {
    await run?.stop();
    await h2?.close();
  });

  it('reaches a kubernetes.io/h2c backend over HTTP/2 with the request URI exactly as sent, Host as the client sent it', async () => {
    const path = '/h2/a%2Fb/./c%20d/../e?q=1&r=%2F&s';
    const r = await req(path, { headers: { 'x-client': 'one' } });
    expect(r.status).to.equal(200);
    expect(r.headers['x-h2-backend']).to.equal('yes');
    const seen: Seen = JSON.parse(r.body);
    expect(seen).to.include({ version: '2.0', method: 'GET', path, authority: 'p.example.com' });
    expect(seen.headers).to.include({ 'x-client': 'one', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' });
    // Hop-by-hop headers do not exist in HTTP/2: none reaches the backend.
    for (const h of ['connection', 'upgrade', 'keep-alive', 'transfer-encoding']) expect(seen.headers).not.to.have.property(h);
  });

  it('carries request bodies (Content-Length and chunked), methods and response statuses', async () => {
    const body = 'x'.repeat(300_000);
    for (const chunked of [false, true]) {
      const r = await send('POST', '/h2/upload', body, chunked);
      expect(r.status, `chunked: ${chunked}`).to.equal(201);
      expect(JSON.parse(r.body)).to.include({ version: '2.0', method: 'POST', body: body.length });
    }
    expect(JSON.parse((await send('PUT', '/h2/put', 'abc', false)).body)).to.include({ method: 'PUT', body: 3 });
    expect(JSON.parse((await req('/h2/del', { method: 'DELETE' })).body)).to.include({ method: 'DELETE' });
    const head = await req('/h2/head', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(h2.seen.at(-1)).to.include({ method: 'HEAD', version: '2.0' });
  });

  it('sends the rewritten path of a URLRewrite filter', async () => {
    const seen: Seen = JSON.parse((await req('/rewrite/x?y=1')).body);
    expect(seen).to.include({ version: '2.0', path: '/rewritten/x?y=1' });
  });

  it('answers 502 when a backend declared h2c speaks only HTTP/1.1 (no silent fallback)', async () => {
    expect((await req('/liar/x')).status).to.equal(502);
  });

  it('leaves HTTP/1.1 backends alone', async () => {
    const r = await req('/plain/x');
    expect(r).to.include({ status: 200, backend: 'http1' });
  });

  it('reaches the h2c backend from an HTTP/2 (prior knowledge) client too', async () => {
    const r = await h2cGet('/h2/from-h2c');
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body)).to.include({ version: '2.0', path: '/h2/from-h2c', authority: 'p.example.com' });
  });

  it('refuses an unknown appProtocol (ResolvedRefs UnsupportedProtocol, 500) and a rule mixing h2c with HTTP/1.1 backends (not served)', async () => {
    expect((await req('/odd/x')).status).to.equal(500);
    expect((await req('/mix/x')).status).to.equal(404);
    // YAML folds long messages: compare with whitespace collapsed.
    const status = (await eventually('status.yaml', async () => readFileSync(join(run.runDir, 'status.yaml'), 'utf8'), (t) => t.includes('UnsupportedProtocol'))).replace(/\s+/g, ' ');
    expect(status).to.contain('reason: UnsupportedProtocol');
    expect(status).to.contain('Service web/odd port 80 has appProtocol "kubernetes.io/foo"');
    expect(status).to.match(/web\/h2:80 speak HTTP\/2 \(appProtocol kubernetes\.io\/h2c\) and web\/plain:80 HTTP\/1\.1/);
  });
});

// GRPCRoute on a real nginx, through the standalone mode (YAML directory -> agent -> nginx),
// with @grpc/grpc-js clients and servers: routing by service, method and header (exact,
// service prefix, method only, regular expressions, with the spec's precedence), weights,
// header filters, the client's own :path and :authority at the backend, streams, gRPC
// UNAVAILABLE for invalid backends, TLS listeners (ALPN h2), TLS to backends
// (BackendTLSPolicy), and HTTP/1.1 and h2c on one plaintext port (the front).
import { expect } from 'chai';
import { connect as http2Connect } from 'node:http2';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { grpcClient, startGrpcBackend, type CallResult, type GrpcBackend } from '../support/grpc-echo.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';
import { issue, makeCA } from '../support/test-ca.ts';

const ADDRESS = '127.0.0.131';
const HTTP_PORT = 18231; // HTTP listener: GRPCRoutes and HTTPRoutes (the h1/h2c front)
const HTTPS_PORT = 18232; // HTTPS listener: gRPC over TLS (ALPN h2)
const PLAIN_PORT = 18233; // HTTP listener with HTTPRoutes only: no front
const G = 'gateway.networking.k8s.io/v1';
const ECHO = 'waygate.test.Echo';
const OTHER = 'waygate.test.Other';

const listenerCA = makeCA('listener CA');
const listenerCert = issue(listenerCA, 'grpc.example.com', { dns: ['*.example.com'] });
const backendCA = makeCA('backend CA');
const SPIFFE = 'spiffe://cluster.local/ns/grpc/sa/secure';
const backendCert = issue(backendCA, 'secure.grpc.svc', { dns: ['secure.grpc.svc'], uris: [SPIFFE] });

/** A Service whose EndpointSlice points at a local port (name http, port 80 -> target). */
const svc = (name: string, target: number) => backend('web', name, target);

const grpcRoute = (name: string, hostnames: string[], rules: object[], created = '2026-01-01T00:00:00Z', sectionName?: string) => ({
  apiVersion: G, kind: 'GRPCRoute', metadata: { name, namespace: 'web', creationTimestamp: created },
  spec: { parentRefs: [{ name: 'gw', ...(sectionName ? { sectionName } : {}) }], hostnames, rules },
});
const ref = (name: string, weight?: number) => ({ name, port: 80, ...(weight === undefined ? {} : { weight }) });
const method = (service?: string, m?: string, type?: string) => ({ method: { ...(type ? { type } : {}), ...(service ? { service } : {}), ...(m ? { method: m } : {}) } });

function objects(ports: Record<string, number>): object[] {
  return [
    gatewayClass(),
    {
      apiVersion: G, kind: 'Gateway', metadata: { name: 'gw', namespace: 'web' },
      spec: {
        gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: ADDRESS }],
        listeners: [
          { name: 'http', protocol: 'HTTP', port: HTTP_PORT },
          { name: 'https', protocol: 'HTTPS', port: HTTPS_PORT, tls: { certificateRefs: [{ name: 'listener-cert' }] } },
          { name: 'plain', protocol: 'HTTP', port: PLAIN_PORT, allowedRoutes: { kinds: [{ kind: 'HTTPRoute' }] } },
        ],
      },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'listener-cert', namespace: 'web' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': listenerCert.cert, 'tls.key': listenerCert.key } },
    ...svc('a', ports.a!), ...svc('b', ports.b!), ...svc('c', ports.c!), ...svc('web', ports.web!), ...svc('secure', ports.secure!), ...svc('san', ports.secure!), ...svc('wrong-san', ports.secure!),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'empty', namespace: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'backend-ca', namespace: 'web' }, data: { 'ca.crt': backendCA.cert } },
    {
      apiVersion: G, kind: 'BackendTLSPolicy', metadata: { name: 'secure', namespace: 'web' },
      spec: { targetRefs: [{ group: '', kind: 'Service', name: 'secure' }], validation: { hostname: 'secure.grpc.svc', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] } },
    },
    // subjectAltNames: through the agent's TLS hop (ALPN h2); the right URI SAN, and one the certificate lacks.
    ...[['san', SPIFFE], ['wrong-san', 'spiffe://cluster.local/ns/grpc/sa/other']].map(([name, uri]) => ({
      apiVersion: G, kind: 'BackendTLSPolicy', metadata: { name, namespace: 'web' },
      spec: { targetRefs: [{ group: '', kind: 'Service', name }], validation: { hostname: 'secure.grpc.svc', subjectAltNames: [{ type: 'URI', uri }], caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] } },
    })),
    grpcRoute('san', ['san.example.com'], [{ matches: [method(ECHO)], backendRefs: [ref('san')] }, { matches: [method(OTHER)], backendRefs: [ref('wrong-san')] }]),
    grpcRoute('match', ['grpc.example.com'], [
      { matches: [method(ECHO, 'Say')], backendRefs: [ref('a')] },
      { matches: [{ ...method(ECHO, 'Say'), headers: [{ name: 'x-version', value: '2' }] }], backendRefs: [ref('b')] },
      { matches: [method(OTHER)], backendRefs: [ref('b')] },
      { matches: [method(undefined, 'Poke'), method(undefined, 'Ping')], backendRefs: [ref('c')] },
      { matches: [method('waygate\\.test\\.E[a-z]+', 'Ch.*', 'RegularExpression')], backendRefs: [ref('c')] },
      { matches: [{ ...method(ECHO, 'Say'), headers: [{ name: 'x-tier', type: 'RegularExpression', value: 'gold|silver' }] }], backendRefs: [ref('c')] },
    ]),
    grpcRoute('weights', ['weights.example.com'], [{ backendRefs: [ref('a', 70), ref('b', 30), ref('c', 0)] }]),
    grpcRoute('filters', ['filters.example.com'], [{
      filters: [
        { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Set', value: 'set-$value' }], add: [{ name: 'X-Add', value: 'added' }], remove: ['X-Remove'] } },
        { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Backend-Name', value: 'hidden' }], add: [{ name: 'X-Extra', value: 'extra' }], remove: ['X-Drop-Me'] } },
      ],
      backendRefs: [ref('a')],
    }]),
    grpcRoute('invalid', ['invalid.example.com'], [
      { matches: [method(ECHO)], backendRefs: [{ name: 'missing', port: 80 }] },
      { matches: [method(OTHER)], backendRefs: [ref('a', 1), { name: 'missing', port: 80, weight: 1 }] },
    ]),
    grpcRoute('no-endpoints', ['empty.example.com'], [{ backendRefs: [ref('empty')] }]),
    grpcRoute('tls-backend', ['secure.example.com'], [{ backendRefs: [ref('secure')] }]),
    // An HTTPRoute on the same listener and another hostname: HTTP/1.1 and h2c through the front.
    httpRoute({ name: 'web', hostnames: ['www.example.com'], rules: [{ backendRefs: [ref('web')] }] }),
    // Cross serving: an HTTPRoute claiming a GRPCRoute's hostname, newer: refused.
    { ...httpRoute({ name: 'clash', hostnames: ['grpc.example.com'], rules: [{ backendRefs: [ref('web')] }] }), metadata: { name: 'clash', namespace: 'web', creationTimestamp: '2026-02-01T00:00:00Z' } },
  ];
}

describe('GRPCRoute on a real nginx (grpc-js clients and servers)', function () {
  this.timeout(90_000);
  let run: TempStandalone;
  const backends: Record<string, GrpcBackend> = {};
  const log = captureLogger();
  const clients: { close(): void }[] = [];
  const client = (host: string, service: 'Echo' | 'Other' | 'Extra' = 'Echo', port = HTTP_PORT, tls = false) => {
    const c = grpcClient(ADDRESS, port, service, { authority: host, ...(tls ? { tls: { ca: listenerCA.cert, servername: host } } : {}) });
    clients.push(c);
    return c;
  };
  const statusOf = (kind: string, name: string): any => {
    const docs = parseAllDocuments(readFileSync(join(run.runDir, 'status.yaml'), 'utf8')).map((d) => d.toJS());
    return docs.flatMap((d: any) => (Array.isArray(d) ? d : d?.items ?? [d])).find((o: any) => o?.kind === kind && o?.metadata?.name === name)?.status;
  };
  const conditions = (kind: string, name: string) => Object.fromEntries((statusOf(kind, name)?.parents?.[0]?.conditions ?? []).map((c: any) => [c.type, `${c.status}/${c.reason}`]));
  const served = (file: string) => {
    const versions = join(run.runDir, 'config', 'versions');
    const latest = readdirSync(versions).filter((v) => statSync(join(versions, v)).isDirectory()).sort((x, y) => Number(x) - Number(y)).at(-1)!;
    return readFileSync(join(versions, latest, file), 'utf8');
  };

  before(async () => {
    for (const name of ['a', 'b', 'c']) backends[name] = await startGrpcBackend(name);
    backends.secure = await startGrpcBackend('secure', backendCert);
    run = tempStandalone('grpc');
    const web = await run.echo('web');
    run.write('objects.yaml', objects({ a: backends.a!.port, b: backends.b!.port, c: backends.c!.port, secure: backends.secure!.port, web: web.port }));
    await run.start(log.logger);
    await eventually('gRPC served', () => client('grpc.example.com').call('Say'), (r) => r.code === 0, 30_000, 200);
  });

  after(async () => {
    for (const c of clients) c.close();
    await run?.stop();
    for (const b of Object.values(backends)) await b.close();
  });

  it('routes by service and method: exact, service prefix, method only, regular expressions, headers, in the spec\'s precedence', async () => {
    const echo = client('grpc.example.com');
    const other = client('grpc.example.com', 'Other');
    const cases: [string, Promise<CallResult>, string][] = [
      ['Echo/Say (exact service and method)', echo.call('Say'), 'a'],
      ['Echo/Say with x-version: 2 (one more header match)', echo.call('Say', { 'x-version': '2' }), 'b'],
      ['Echo/Say with x-version: 3', echo.call('Say', { 'x-version': '3' }), 'a'],
      ['Echo/Say with x-tier: silver (header regex)', echo.call('Say', { 'x-tier': 'silver' }), 'c'],
      ['Echo/Say with x-tier: bronze', echo.call('Say', { 'x-tier': 'bronze' }), 'a'],
      ['Other/Say (service only)', other.call('Say'), 'b'],
      ['Other/Poke (the service prefix outranks the method-only match)', other.call('Poke'), 'b'],
      ['Echo/Ping (method only)', echo.call('Ping'), 'c'],
    ];
    for (const [what, p, want] of cases) {
      const r = await p;
      expect(r.code, what).to.equal(0);
      expect(r.reply!.backend, what).to.equal(want);
    }
  });

  it('regular expressions match service and method each on its own segment: Extra/Chime matches E[a-z]+ and Ch.*, Extra/Ring does not', async () => {
    const extra = client('grpc.example.com', 'Extra');
    const chime = await extra.call('Chime');
    expect(chime.code).to.equal(0);
    expect(chime.reply!.backend).to.equal('c');
    expect((await extra.call('Ring')).code).to.equal(12);
  });

  it('sends the client\'s own :path and :authority to the backend', async () => {
    const r = await client('grpc.example.com').call('Ping');
    expect(r.reply).to.include({ path: `/${ECHO}/Ping`, authority: 'grpc.example.com' });
  });

  it('serves streams (regex method match Ch.*): a bidirectional Chat of 20 messages', async () => {
    const r = await client('grpc.example.com').chat(20);
    expect(r.code).to.equal(0);
    expect(r.replies).to.have.length(20);
    expect(new Set(r.replies.map((x) => `${x.backend} ${x.path}`))).to.deep.equal(new Set([`c /${ECHO}/Chat`]));
  });

  it('keeps a stream that stays silent longer than nginx\'s 60 s defaults (65 s between two messages)', async function () {
    this.timeout(120_000);
    const r = await client('grpc.example.com').chat(2, 65_000);
    expect(r.code).to.equal(0);
    expect(r.replies.map((x) => x.backend)).to.deep.equal(['c', 'c']);
  });

  it('answers UNIMPLEMENTED for a hostname no route serves', async () => {
    const r = await client('nothing.example.com').call('Say');
    expect(r.code).to.equal(12);
  });

  it('splits by weight (70/30/0 over 300 calls)', async () => {
    const c = client('weights.example.com');
    const seen: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const r = await c.call('Say');
      expect(r.code).to.equal(0);
      seen[r.reply!.backend] = (seen[r.reply!.backend] ?? 0) + 1;
    }
    expect(seen.c ?? 0).to.equal(0);
    expect(seen.a).to.be.within(180, 240);
    expect(seen.b).to.be.within(60, 120);
  });

  it('modifies request headers (set, add, remove) and response headers (set, add, remove)', async () => {
    const r = await client('filters.example.com').call('Say', { 'x-set': 'client', 'x-add': 'client', 'x-remove': 'gone', 'x-keep': 'kept' });
    expect(r.code).to.equal(0);
    expect(r.reply!.metadata).to.include({ 'x-set': 'set-$value', 'x-add': 'client,added', 'x-keep': 'kept' });
    expect(r.reply!.metadata).to.not.have.property('x-remove');
    expect(r.headers).to.include({ 'x-backend-name': 'hidden', 'x-extra': 'extra' });
    expect(r.headers).to.not.have.property('x-drop-me');
  });

  it('answers UNAVAILABLE (14) for a rule without a valid backend, and for the share of an invalid backendRef', async () => {
    const r = await client('invalid.example.com').call('Say');
    expect(r.code).to.equal(14);
    const other = client('invalid.example.com', 'Other');
    const codes: Record<number, number> = {};
    for (let i = 0; i < 200; i++) {
      const x = await other.call('Say');
      codes[x.code] = (codes[x.code] ?? 0) + 1;
    }
    expect(Object.keys(codes).sort()).to.deep.equal(['0', '14']);
    expect(codes[14]).to.be.within(70, 130);
    expect(conditions('GRPCRoute', 'invalid')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' });
  });

  it('answers UNAVAILABLE when the Service has no ready endpoint', async () => {
    const r = await client('empty.example.com').call('Say');
    expect(r.code).to.equal(14);
  });

  it('serves gRPC over an HTTPS listener (ALPN h2)', async () => {
    const r = await client('grpc.example.com', 'Echo', HTTPS_PORT, true).call('Say');
    expect(r.code).to.equal(0);
    expect(r.reply!.backend).to.equal('a');
  });

  it('reaches a backend over verified TLS when a BackendTLSPolicy applies (grpcs)', async () => {
    const r = await client('secure.example.com').call('Say');
    expect(r.code).to.equal(0);
    expect(r.reply!.backend).to.equal('secure');
  });

  it('BackendTLSPolicy subjectAltNames: the agent\'s TLS hop verifies them (ALPN h2); a SAN the certificate lacks is UNAVAILABLE and reaches nothing', async () => {
    const before = backends.secure!.calls;
    const ok = await client('san.example.com').call('Say');
    expect(ok.code).to.equal(0);
    expect(ok.reply!.backend).to.equal('secure');
    expect(backends.secure!.calls).to.equal(before + 1);
    const wrong = await client('san.example.com', 'Other').call('Say');
    expect(wrong.code).to.equal(14);
    expect(backends.secure!.calls).to.equal(before + 1);
    expect(conditions('GRPCRoute', 'san')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
  });

  it('HTTP/1.1 and h2c on one plaintext port: an HTTPRoute answers both, with the client address kept', async () => {
    const h1 = await get(ADDRESS, HTTP_PORT, '/x', { host: 'www.example.com' });
    expect(h1.status).to.equal(200);
    expect(h1.backend).to.equal('web');
    expect(JSON.parse(h1.body).headers['x-forwarded-for']).to.equal('127.0.0.1');
    const session = http2Connect(`http://${ADDRESS}:${HTTP_PORT}`);
    try {
      const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/y', ':authority': 'www.example.com' });
        let body = '';
        let status = 0;
        req.on('response', (h) => (status = Number(h[':status'])));
        req.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status, body })).on('error', reject);
        req.end();
      });
      expect(h2.status).to.equal(200);
      expect(JSON.parse(h2.body)).to.include({ backend: 'web', path: '/y' });
    } finally {
      session.close();
    }
  });

  it('keeps ports without GRPCRoutes on their direct listen, and fronts only the one with GRPCRoutes', () => {
    const stream = served('stream.conf');
    expect(stream).to.contain(`listen "${ADDRESS}:${HTTP_PORT}";`);
    expect(stream).to.not.contain(`${PLAIN_PORT}`);
    expect(served('http.conf')).to.contain(`listen "${ADDRESS}:${PLAIN_PORT}"`);
  });

  it('an HTTPRoute claiming a GRPCRoute\'s hostname on the listener is refused (the older route wins)', async () => {
    expect(conditions('HTTPRoute', 'clash').Accepted).to.equal('False/HostnameConflict');
    expect(statusOf('HTTPRoute', 'clash').parents[0].conditions.find((c: any) => c.type === 'Accepted').message).to.contain('GRPCRoute web/match');
    expect(conditions('GRPCRoute', 'match')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    const h1 = await get(ADDRESS, HTTP_PORT, '/', { host: 'grpc.example.com' });
    expect(h1.status).to.equal(404);
  });
});

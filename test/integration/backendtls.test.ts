// BackendTLSPolicy on a real nginx, through the standalone mode (YAML directory -> agent ->
// nginx): requests reach a node:https backend over TLS, verified against the policy's CA
// bundle and hostname, with the Gateway's client certificate, which the backend checks.
// A wrong CA, hostname or SAN gives 502 and the backend never sees the request; a policy
// nginx cannot honour (URI SAN, missing CA ConfigMap) gives 500 and says why in its status.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';
import { issue, makeCA } from '../support/test-ca.ts';

const ADDRESS = '127.0.0.95';
const PORT = 18195;
const HOST = 'shop.example.com';
const BACKEND_NAME = 'secure.web.svc';
const SPIFFE = 'spiffe://cluster.local/ns/web/sa/secure';

const serverCA = makeCA('backend CA');
const otherCA = makeCA('other CA');
const clientCA = makeCA('gateway client CA');
const serverCert = issue(serverCA, BACKEND_NAME, { dns: [BACKEND_NAME], uris: [SPIFFE] });
const clientCert = issue(clientCA, 'gateway-web-gw', {}, { client: true });

interface Seen { path: string; sni: string | false | null; client?: string | string[] }

/** An HTTPS backend that requires a client certificate from clientCA and records what reached it. */
async function startBackend(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer({ cert: serverCert.cert, key: serverCert.key, ca: [clientCA.cert], requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const socket = req.socket as TLSSocket;
    seen.push({ path: req.url ?? '', sni: socket.servername, client: socket.getPeerCertificate().subject?.CN });
    res.setHeader('x-backend', 'secure');
    res.end(JSON.stringify({ sni: socket.servername }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

const service = (name: string, targetPort: number) => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'web' }, spec: { ports: [{ name: 'https', port: 443 }] } },
  {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'web', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', ports: [{ name: 'https', port: targetPort }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  },
];

const policy = (name: string, service: string, validation: object) => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'BackendTLSPolicy', metadata: { name, namespace: 'web' },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: service }], validation },
});

const caRef = (name: string) => ({ caCertificateRefs: [{ group: '', kind: 'ConfigMap', name }] });

/** Path -> Service; each Service has its own policy (or none). */
const cases = {
  '/secure': 'secure', // right CA and hostname
  '/san': 'san', // subjectAltNames: [Hostname = validation.hostname]
  '/wrong-ca': 'wrong-ca',
  '/wrong-host': 'wrong-host',
  '/wrong-san': 'wrong-san', // hostname right, but the SAN asked for is another name: not honoured (500)
  '/system': 'system', // system CAs do not include the test CA
  '/uri-san': 'uri-san',
  '/no-ca': 'no-ca',
};

function objects(backendPort: number): object[] {
  const gw = gateway({ address: ADDRESS, port: PORT }) as any;
  gw.spec.tls = { backend: { clientCertificateRef: { name: 'gw-client' } } };
  const rule = (path: string, svc: string) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: svc, port: 443 }] });
  return [
    gatewayClass(), gw,
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gw-client', namespace: 'web' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': clientCert.cert, 'tls.key': clientCert.key } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'backend-ca', namespace: 'web' }, data: { 'ca.crt': serverCA.cert } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-ca', namespace: 'web' }, data: { 'ca.crt': otherCA.cert } },
    ...Object.values(cases).flatMap((svc) => service(svc, backendPort)),
    policy('secure', 'secure', { hostname: BACKEND_NAME, ...caRef('backend-ca') }),
    policy('san', 'san', { hostname: BACKEND_NAME, subjectAltNames: [{ type: 'Hostname', hostname: BACKEND_NAME }], ...caRef('backend-ca') }),
    policy('wrong-ca', 'wrong-ca', { hostname: BACKEND_NAME, ...caRef('other-ca') }),
    policy('wrong-host', 'wrong-host', { hostname: 'other.web.svc', ...caRef('backend-ca') }),
    policy('wrong-san', 'wrong-san', { hostname: BACKEND_NAME, subjectAltNames: [{ type: 'Hostname', hostname: 'other.web.svc' }], ...caRef('backend-ca') }),
    policy('system', 'system', { hostname: BACKEND_NAME, wellKnownCACertificates: 'System' }),
    policy('uri-san', 'uri-san', { hostname: BACKEND_NAME, subjectAltNames: [{ type: 'URI', uri: SPIFFE }], ...caRef('backend-ca') }),
    policy('no-ca', 'no-ca', { hostname: BACKEND_NAME, ...caRef('missing-ca') }),
    httpRoute({ name: 'shop', hostnames: [HOST], rules: Object.entries(cases).map(([path, svc]) => rule(path, svc)) }),
  ];
}

describe('BackendTLSPolicy on a real nginx: TLS to backends, verified', function () {
  this.timeout(60_000);
  let run: TempStandalone;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  const log = captureLogger();
  const answer = (path: string) => get(ADDRESS, PORT, path, { host: HOST }).then((r) => ({ status: r.status, backend: r.backend, body: r.body }), () => ({ status: 0, backend: undefined, body: '' }));
  const statusOf = (kind: string, name: string): any => {
    const docs = parseAllDocuments(readFileSync(join(run.runDir, 'status.yaml'), 'utf8')).map((d) => d.toJS());
    return docs.flatMap((d: any) => (Array.isArray(d) ? d : d?.items ?? [d])).find((o: any) => o?.kind === kind && o?.metadata?.name === name)?.status;
  };
  const policyConditions = (name: string) => Object.fromEntries((statusOf('BackendTLSPolicy', name)?.ancestors?.[0]?.conditions ?? []).map((c: any) => [c.type, `${c.status}/${c.reason}`]));

  before(async () => {
    backend = await startBackend();
    run = tempStandalone('backendtls');
    run.write('objects.yaml', objects(backend.port));
    await run.start(log.logger);
    await eventually('/secure served', () => answer('/secure'), (r) => r.status === 200, 20_000);
  });

  after(async () => {
    await run?.stop();
    backend?.server.close();
  });

  it('reaches the backend over TLS: SNI is validation.hostname, the Gateway presents its client certificate, the request arrives intact', async () => {
    backend.seen.length = 0;
    for (const path of ['/secure/a?x=1', '/san/b']) {
      const r = await answer(path);
      expect(r.status, path).to.equal(200);
      expect(r.backend).to.equal('secure');
    }
    expect(backend.seen).to.deep.equal([
      { path: '/secure/a?x=1', sni: BACKEND_NAME, client: 'gateway-web-gw' },
      { path: '/san/b', sni: BACKEND_NAME, client: 'gateway-web-gw' },
    ]);
  });

  it('a certificate from another CA, another hostname, or a CA outside the system store: 502, and nothing reaches the backend', async () => {
    backend.seen.length = 0;
    for (const path of ['/wrong-ca', '/wrong-host', '/system']) {
      for (let i = 0; i < 5; i++) {
        const r = await answer(`${path}/${i}`);
        expect(r.status, path).to.equal(502);
        expect(r.backend, path).to.equal(undefined);
      }
    }
    expect(backend.seen).to.deep.equal([]);
  });

  it('what nginx cannot check exactly fails closed with 500: a SAN other than the hostname, a URI SAN, a missing CA ConfigMap', async () => {
    backend.seen.length = 0;
    for (const path of ['/wrong-san', '/uri-san', '/no-ca']) {
      const r = await answer(path);
      expect(r.status, path).to.equal(500);
    }
    expect(backend.seen).to.deep.equal([]);
  });

  it('status: valid policies accepted, the others say which field; the Gateway resolves its client certificate', async () => {
    await eventually('policy status', async () => statusOf('BackendTLSPolicy', 'secure'), (s) => s?.ancestors?.length > 0);
    for (const name of ['secure', 'san', 'wrong-ca', 'wrong-host', 'system']) {
      expect(policyConditions(name), name).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    }
    expect(policyConditions('no-ca')).to.deep.equal({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: 'False/InvalidCACertificateRef' });
    expect(policyConditions('uri-san')).to.deep.equal({ Accepted: 'False/Invalid', ResolvedRefs: 'True/ResolvedRefs' });
    const uri = statusOf('BackendTLSPolicy', 'uri-san').ancestors[0].conditions.find((c: any) => c.type === 'Accepted');
    expect(uri.message).to.contain('spec.validation.subjectAltNames[0]');
    const wrongSan = statusOf('BackendTLSPolicy', 'wrong-san').ancestors[0].conditions.find((c: any) => c.type === 'Accepted');
    expect(wrongSan).to.include({ status: 'False', reason: 'Invalid' });
    expect(wrongSan.message).to.contain('spec.validation.subjectAltNames[0]');
    const resolved = statusOf('HTTPRoute', 'shop').parents[0].conditions.find((c: any) => c.type === 'ResolvedRefs');
    expect(resolved).to.include({ status: 'False', reason: 'UnsupportedProtocol' });
    expect(resolved.message).to.contain('BackendTLSPolicy/web/wrong-san');
    const gw = statusOf('Gateway', 'gw').conditions.find((c: any) => c.type === 'ResolvedRefs');
    expect(gw).to.include({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('key and CA files are 0600, and no certificate or key reaches the logs or status', () => {
    const pems: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.pem')) pems.push(join(dir, e.name));
      }
    };
    walk(run.runDir);
    const contents = pems.map((p) => readFileSync(p, 'utf8'));
    expect(contents.some((c) => c.includes(clientCert.key.trim()))).to.equal(true);
    expect(contents.some((c) => c.includes(serverCA.cert.trim().split('\n')[1]!))).to.equal(true);
    for (const p of pems) expect(statSync(p).mode & 0o777, p).to.equal(0o600);
    const outside = `${log.lines.join('\n')}\n${readFileSync(join(run.runDir, 'status.yaml'), 'utf8')}`;
    expect(outside).to.not.contain('PRIVATE KEY').and.not.contain('BEGIN CERTIFICATE');
  });

  it('a policy whose ConfigMap changes to another CA stops the traffic (502), and back', async () => {
    const objs = objects(backend.port).map((o: any) => (o.kind === 'ConfigMap' && o.metadata.name === 'backend-ca' ? { ...o, data: { 'ca.crt': otherCA.cert } } : o));
    run.write('objects.yaml', objs);
    await eventually('/secure refused', () => answer('/secure'), (r) => r.status === 502, 20_000);
    run.write('objects.yaml', objects(backend.port));
    await eventually('/secure served again', () => answer('/secure'), (r) => r.status === 200, 20_000);
  });
});

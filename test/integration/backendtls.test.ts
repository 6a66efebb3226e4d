// BackendTLSPolicy on a real nginx, through the standalone mode (YAML directory -> agent ->
// nginx): requests reach a node:https backend over TLS, verified against the policy's CA
// bundle, with the Gateway's client certificate, which the backend checks. Without
// subjectAltNames nginx verifies the hostname itself (proxy_ssl_*); with them the agent's
// TLS hop originates the connection and checks the SANs (Hostname with wildcard rules, URI
// exact), sending validation.hostname as SNI. A wrong CA, hostname or SAN gives 502 and the
// backend never sees the request; a policy we cannot honour (missing CA ConfigMap) gives 500.
// TCPRoute backends go through the same hop. Policies come and go without dropping traffic.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, type Server } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { parseAllDocuments } from 'yaml';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';
import { issue, makeCA } from '../support/test-ca.ts';

const ADDRESS = '127.0.0.95';
const PORT = 18195;
const TCP_PORT = 18196;
const TCP_WRONG_PORT = 18197;
const HOST = 'shop.example.com';
const BACKEND_NAME = 'secure.web.svc';
const SPIFFE = 'spiffe://cluster.local/ns/web/sa/secure';

const serverCA = makeCA('backend CA');
const otherCA = makeCA('other CA');
const clientCA = makeCA('gateway client CA');
const serverCert = issue(serverCA, BACKEND_NAME, { dns: [BACKEND_NAME], uris: [SPIFFE] });
/** Presented when the SNI is under wild.web.svc. */
const wildCert = issue(serverCA, 'wild', { dns: ['*.wild.web.svc'] });
const clientCert = issue(clientCA, 'gateway-web-gw', {}, { client: true });

interface Seen { path: string; sni: string | false | null; client?: string | string[] }

/** An HTTPS backend that requires a client certificate from clientCA and records what reached it. */
async function startBackend(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const wild = createSecureContext({ cert: wildCert.cert, key: wildCert.key, ca: [clientCA.cert] });
  const server = createServer({
    cert: serverCert.cert, key: serverCert.key, ca: [clientCA.cert], requestCert: true, rejectUnauthorized: true,
    SNICallback: (name, cb) => cb(null, name.endsWith('.wild.web.svc') ? wild : undefined),
  }, (req, res) => {
    const socket = req.socket as TLSSocket;
    seen.push({ path: req.url ?? '', sni: socket.servername, client: socket.getPeerCertificate().subject?.CN });
    res.setHeader('x-backend', 'secure');
    res.end(JSON.stringify({ sni: socket.servername }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** A TLS echo backend (TCPRoute): answers "sni=<SNI> cn=<client CN> <line>"; records every byte that reached it. */
async function startTlsEcho(): Promise<{ close: () => void; port: number; received: string[] }> {
  const received: string[] = [];
  const server = createTlsServer({ cert: serverCert.cert, key: serverCert.key, ca: [clientCA.cert], requestCert: true, rejectUnauthorized: true }, (s) => {
    s.setEncoding('utf8').on('data', (d: string) => {
      received.push(d);
      s.write(`sni=${s.servername} cn=${s.getPeerCertificate().subject?.CN} ${d}`);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { close: () => server.close(), port: (server.address() as AddressInfo).port, received };
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
const dns = (hostname: string) => ({ type: 'Hostname', hostname });
const uri = (u: string) => ({ type: 'URI', uri: u });

/** Path prefix -> [Service (and policy) name, validation] (undefined: no policy). */
const cases: Record<string, [string, object]> = {
  // nginx verifies (no subjectAltNames)
  '/secure': ['secure', { hostname: BACKEND_NAME, ...caRef('backend-ca') }],
  '/wrong-ca': ['wrong-ca', { hostname: BACKEND_NAME, ...caRef('other-ca') }],
  '/wrong-host': ['wrong-host', { hostname: 'other.web.svc', ...caRef('backend-ca') }],
  '/system': ['system', { hostname: BACKEND_NAME, wellKnownCACertificates: 'System' }], // the system CAs do not include the test CA
  '/no-ca': ['no-ca', { hostname: BACKEND_NAME, ...caRef('missing-ca') }],
  // the agent's TLS hop verifies (subjectAltNames)
  '/san': ['san', { hostname: BACKEND_NAME, subjectAltNames: [dns(BACKEND_NAME)], ...caRef('backend-ca') }],
  '/san-sni': ['san-sni', { hostname: 'sni-only.web.svc', subjectAltNames: [dns(BACKEND_NAME)], ...caRef('backend-ca') }], // SNI is not the SAN
  '/san-wild': ['san-wild', { hostname: 'api.wild.web.svc', subjectAltNames: [dns('api.wild.web.svc')], ...caRef('backend-ca') }], // certificate *.wild.web.svc
  '/san-wild-deep': ['san-wild-deep', { hostname: 'a.b.wild.web.svc', subjectAltNames: [dns('a.b.wild.web.svc')], ...caRef('backend-ca') }], // a wildcard covers one label
  '/uri-san': ['uri-san', { hostname: BACKEND_NAME, subjectAltNames: [uri(SPIFFE)], ...caRef('backend-ca') }],
  '/uri-san-wrong': ['uri-san-wrong', { hostname: BACKEND_NAME, subjectAltNames: [uri('spiffe://cluster.local/ns/web/sa/other')], ...caRef('backend-ca') }],
  '/wrong-san': ['wrong-san', { hostname: BACKEND_NAME, subjectAltNames: [dns('other.web.svc')], ...caRef('backend-ca') }], // the SNI name is in the certificate, but not asked for
  '/multi-san': ['multi-san', { hostname: BACKEND_NAME, subjectAltNames: [uri('spiffe://x/y'), dns('nope.web.svc'), dns(BACKEND_NAME)], ...caRef('backend-ca') }],
  '/san-wrong-ca': ['san-wrong-ca', { hostname: BACKEND_NAME, subjectAltNames: [dns(BACKEND_NAME)], ...caRef('other-ca') }],
  '/san-system': ['san-system', { hostname: BACKEND_NAME, subjectAltNames: [dns(BACKEND_NAME)], wellKnownCACertificates: 'System' }],
};

const SERVED = ['/secure', '/san', '/san-sni', '/san-wild', '/uri-san', '/multi-san'];
const REFUSED = ['/wrong-ca', '/wrong-host', '/system', '/san-wild-deep', '/uri-san-wrong', '/wrong-san', '/san-wrong-ca', '/san-system'];

function objects(backendPort: number, tlsEchoPort: number, extra: object[] = []): object[] {
  const gw = gateway({ address: ADDRESS, port: PORT }) as any;
  gw.spec.tls = { backend: { clientCertificateRef: { name: 'gw-client' } } };
  gw.spec.listeners.push({ name: 'tcp', protocol: 'TCP', port: TCP_PORT, allowedRoutes: { kinds: [{ kind: 'TCPRoute' }] } });
  gw.spec.listeners.push({ name: 'tcp-wrong', protocol: 'TCP', port: TCP_WRONG_PORT, allowedRoutes: { kinds: [{ kind: 'TCPRoute' }] } });
  const rule = (path: string, svc: string) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: svc, port: 443 }] });
  const tcpRoute = (name: string, section: string, svc: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'TCPRoute', metadata: { name, namespace: 'web' },
    spec: { parentRefs: [{ name: 'gw', sectionName: section }], rules: [{ backendRefs: [{ name: svc, port: 443 }] }] },
  });
  return [
    gatewayClass(), gw,
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gw-client', namespace: 'web' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': clientCert.cert, 'tls.key': clientCert.key } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'backend-ca', namespace: 'web' }, data: { 'ca.crt': serverCA.cert } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-ca', namespace: 'web' }, data: { 'ca.crt': otherCA.cert } },
    ...Object.values(cases).flatMap(([svc, validation]) => [...service(svc, backendPort), policy(svc, svc, validation)]),
    ...service('tcp-san', tlsEchoPort), policy('tcp-san', 'tcp-san', { hostname: 'tcp-sni.web.svc', subjectAltNames: [uri(SPIFFE)], ...caRef('backend-ca') }),
    ...service('tcp-san-wrong', tlsEchoPort), policy('tcp-san-wrong', 'tcp-san-wrong', { hostname: BACKEND_NAME, subjectAltNames: [dns('other.web.svc')], ...caRef('backend-ca') }),
    tcpRoute('tcp', 'tcp', 'tcp-san'), tcpRoute('tcp-wrong', 'tcp-wrong', 'tcp-san-wrong'),
    httpRoute({ name: 'shop', hostnames: [HOST], rules: Object.entries(cases).map(([path, [svc]]) => rule(path, svc)) }),
    ...extra,
  ];
}

/** A request to the HTTP listener sent in two parts: the request line now, the end of the headers at finish() (which answers the status line). */
function slowRequest(path: string): { finish: () => Promise<string> } {
  const s = netConnect(PORT, ADDRESS, () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n`));
  let got = '';
  s.setEncoding('utf8').on('data', (d: string) => (got += d));
  const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
  s.on('error', () => {});
  return {
    finish: async () => {
      s.write('Connection: close\r\n\r\n');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
      s.destroy();
      return got.split('\r\n')[0] ?? '';
    },
  };
}

/** One line over TCP to the Gateway's TCP listener: the echo's answer, or "" when the connection closed without one. */
function tcpLine(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, ADDRESS, () => s.write(line));
    let got = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      got += d;
      if (got.endsWith('\n')) s.end();
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('close', () => resolve(got));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)));
  });
}

describe('BackendTLSPolicy on a real nginx: TLS to backends, verified', function () {
  this.timeout(90_000);
  let run: TempStandalone;
  let standalone: Standalone;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let echo: Awaited<ReturnType<typeof startTlsEcho>>;
  const log = captureLogger();
  const answer = (path: string) => get(ADDRESS, PORT, path, { host: HOST }).then((r) => ({ status: r.status, backend: r.backend, body: r.body }), () => ({ status: 0, backend: undefined, body: '' }));
  const statusOf = (kind: string, name: string): any => {
    const docs = parseAllDocuments(readFileSync(join(run.runDir, 'status.yaml'), 'utf8')).map((d) => d.toJS());
    return docs.flatMap((d: any) => (Array.isArray(d) ? d : d?.items ?? [d])).find((o: any) => o?.kind === kind && o?.metadata?.name === name)?.status;
  };
  const policyConditions = (name: string) => Object.fromEntries((statusOf('BackendTLSPolicy', name)?.ancestors?.[0]?.conditions ?? []).map((c: any) => [c.type, `${c.status}/${c.reason}`]));
  /** The manifest of the version nginx serves. */
  const liveManifest = () => {
    const dir = join(run.runDir, 'config', 'versions', standalone.agent.live!);
    return JSON.parse(readFileSync(join(dir, 'tls-origin.json'), 'utf8')) as { origins: { socket: string; source: string }[] };
  };

  before(async () => {
    backend = await startBackend();
    echo = await startTlsEcho();
    run = tempStandalone('backendtls');
    run.write('objects.yaml', objects(backend.port, echo.port));
    standalone = await run.start(log.logger);
    await eventually('/secure and /san served', async () => [await answer('/secure'), await answer('/san')], (r) => r.every((x) => x.status === 200), 20_000);
  });

  after(async () => {
    await run?.stop();
    backend?.server.close();
    echo?.close();
  });

  it('reaches the backend over TLS with validation.hostname as SNI and the Gateway\'s client certificate, the request intact, with or without SANs', async () => {
    backend.seen.length = 0;
    for (const path of SERVED) {
      const r = await answer(`${path}/a?x=1`);
      expect(r.status, path).to.equal(200);
      expect(r.backend, path).to.equal('secure');
    }
    const sni = { '/san-sni': 'sni-only.web.svc', '/san-wild': 'api.wild.web.svc' } as Record<string, string>;
    expect(backend.seen).to.deep.equal(SERVED.map((p) => ({ path: `${p}/a?x=1`, sni: sni[p] ?? BACKEND_NAME, client: 'gateway-web-gw' })));
  });

  it('refused: another CA (with or without a matching SAN), another hostname, system CAs, a SAN the certificate lacks (DNS, wildcard too deep, URI): 502, and nothing reaches the backend', async () => {
    backend.seen.length = 0;
    for (const path of REFUSED) {
      for (let i = 0; i < 3; i++) {
        const r = await answer(`${path}/${i}`);
        expect(r.status, path).to.equal(502);
        expect(r.backend, path).to.equal(undefined);
      }
    }
    expect(backend.seen).to.deep.equal([]);
  });

  it('what cannot be honoured fails closed with 500: a missing CA ConfigMap', async () => {
    backend.seen.length = 0;
    expect((await answer('/no-ca')).status).to.equal(500);
    expect(backend.seen).to.deep.equal([]);
  });

  it('TCPRoute through the hop: SNI, client certificate and URI SAN checked; a SAN mismatch closes the connection before any byte reaches the backend', async () => {
    echo.received.length = 0;
    const line = await eventually('TCP echo', () => tcpLine(TCP_PORT, 'ping\n'), (l) => l !== '', 20_000);
    expect(line).to.equal('sni=tcp-sni.web.svc cn=gateway-web-gw ping\n');
    echo.received.length = 0;
    for (let i = 0; i < 3; i++) expect(await tcpLine(TCP_WRONG_PORT, `secret ${i}\n`)).to.equal('');
    expect(echo.received).to.deep.equal([]);
  });

  it('status: policies with SANs are accepted like the others; the route and the Gateway resolve', async () => {
    await eventually('policy status', async () => statusOf('BackendTLSPolicy', 'secure'), (s) => s?.ancestors?.length > 0);
    for (const [, [name]] of Object.entries(cases).filter(([p]) => p !== '/no-ca')) {
      expect(policyConditions(name), name).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    }
    expect(policyConditions('tcp-san')).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(policyConditions('no-ca')).to.deep.equal({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: 'False/InvalidCACertificateRef' });
    const resolved = statusOf('HTTPRoute', 'shop').parents[0].conditions.find((c: any) => c.type === 'ResolvedRefs');
    expect(resolved).to.include({ status: 'False', reason: 'UnsupportedProtocol' });
    expect(resolved.message).to.contain('BackendTLSPolicy/web/no-ca').and.not.contain('san');
    const tcp = statusOf('TCPRoute', 'tcp').parents[0].conditions.find((c: any) => c.type === 'ResolvedRefs');
    expect(tcp).to.include({ status: 'True' });
    const gw = statusOf('Gateway', 'gw').conditions.find((c: any) => c.type === 'ResolvedRefs');
    expect(gw).to.include({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('the hop: one socket per endpoint and settings, 0600 and owned by the workers\' user, the manifest names files (no key material)', () => {
    const manifest = liveManifest();
    const sources = manifest.origins.map((o) => o.source).sort();
    const hopPolicies = Object.values(cases).filter(([, v]) => 'subjectAltNames' in v).map(([n]) => `BackendTLSPolicy/web/${n}`);
    expect(sources).to.deep.equal([...hopPolicies, 'BackendTLSPolicy/web/tcp-san', 'BackendTLSPolicy/web/tcp-san-wrong'].sort());
    const text = JSON.stringify(manifest);
    expect(text).to.not.contain('PRIVATE KEY').and.not.contain('BEGIN CERTIFICATE');
    for (const o of manifest.origins) {
      expect(o.socket).to.match(/\/wg-o-[0-9a-f]{16}\.sock$/);
      const st = statSync(o.socket);
      expect(st.isSocket(), o.socket).to.equal(true);
      expect(st.mode & 0o777, o.socket).to.equal(0o600);
      if (process.getuid?.() === 0) expect(st.uid, 'nginx workers run as nobody under a root master').to.not.equal(0);
    }
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
    // The hop's refusals were logged, by socket and policy.
    expect(log.lines.some((l) => /TLS to 127\.0\.0\.1:\d+ for BackendTLSPolicy\/web\/wrong-san .*none of the subjectAltNames/.test(l)), log.lines.filter((l) => l.includes('TLS to')).join('\n')).to.equal(true);
  });

  it('a SAN policy added and removed under load: its socket is there before nginx uses it and stays while old workers may, the other policies\' traffic never fails, their sockets stay', async () => {
    const before = liveManifest().origins.map((o) => o.socket).sort();
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
    let retried = 0;
    const once = (path: string, agent: Agent | false): Promise<number> => new Promise((resolve, reject) => {
      const req = request({ host: ADDRESS, port: PORT, path, headers: { host: HOST }, agent }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)));
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      // A reused keep-alive connection that a retiring nginx worker closed: retried once on a new one (RFC 9112 9.3.1).
      req.on('error', (e) => (agent && req.reusedSocket ? once(path, false).then((s) => { retried++; resolve(s); }, reject) : reject(e)));
      req.end();
    });
    /** Waits for the verdict of the version that serves /added, then asks once. */
    const addedServedAtOnce = () => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error('no version with the added policy within 20 s')); }, 20_000);
      const off = standalone.agent.onVerdict((v) => {
        if (!v.ok || !v.reloaded || !liveManifest().origins.some((o) => o.source === 'BackendTLSPolicy/web/added')) return;
        off();
        clearTimeout(timer);
        answer('/added/1').then((r) => (r.status === 200 ? resolve() : reject(new Error(`first request after the verdict: ${r.status}`))), reject);
      });
    });
    const failures: string[] = [];
    let sent = 0;
    let addedServed = 0;
    let loading = true;
    const loader = (async () => {
      const inflight = new Set<Promise<void>>();
      while (loading) {
        // /added comes and goes: 404 before and after, 200 while it exists; a 502 means nginx found no socket for it.
        const path = ['/secure/x', '/san/x', '/uri-san/x', '/added/x'][sent % 4]!;
        const agent = sent % 2 ? keepAlive : false;
        const ok = (s: number) => s === 200 || (path === '/added/x' && s === 404);
        const p = once(path, agent).then((s) => { if (s === 200 && path === '/added/x') addedServed++; if (!ok(s)) failures.push(`${path}: ${s}`); }, (e: Error) => { failures.push(`${path}: ${e.message}`); });
        sent++;
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(inflight);
    })();
    const extra = [
      ...service('added', backend.port),
      policy('added', 'added', { hostname: 'added-sni.web.svc', subjectAltNames: [uri(SPIFFE)], ...caRef('backend-ca') }),
      httpRoute({ name: 'added', hostnames: [HOST], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/added' } }], backendRefs: [{ name: 'added', port: 443 }] }] }),
    ];
    try {
      await new Promise((r) => setTimeout(r, 500));
      run.write('objects.yaml', objects(backend.port, echo.port, extra));
      // The hop's socket exists by the time nginx serves the version: the first request after its verdict is served.
      await addedServedAtOnce();
      const added = liveManifest().origins.filter((o) => o.source === 'BackendTLSPolicy/web/added').map((o) => o.socket);
      expect(added).to.have.length(1);
      await new Promise((r) => setTimeout(r, 500));
      // A request whose headers are still arriving when the policy goes: the old worker that holds
      // it proxies it after the reload, to the old socket, which must still be there.
      const slow = slowRequest('/added/slow');
      await new Promise((r) => setTimeout(r, 200));
      run.write('objects.yaml', objects(backend.port, echo.port));
      await eventually('/added gone', () => answer('/added/2'), (r) => r.status === 404, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(statSync(added[0]!).isSocket(), 'an old worker still holds a request for it').to.equal(true);
      expect(await slow.finish()).to.match(/^HTTP\/1\.1 200 /);
      // Retired once the old workers are gone (they exit as soon as their connections are done).
      await eventually('the added socket closed', async () => { try { statSync(added[0]!); return false; } catch { return true; } }, (gone) => gone, 20_000);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      loading = false;
      await loader;
      keepAlive.destroy();
    }
    console.log(`      ${sent} requests during two changes, ${failures.length} failed, ${retried} retried (closed idle keep-alive), ${addedServed} served by the added policy`);
    expect(failures, failures.slice(0, 5).join('; ')).to.deep.equal([]);
    expect(addedServed).to.be.greaterThan(10);
    expect(sent).to.be.greaterThan(200);
    expect(liveManifest().origins.map((o) => o.socket).sort()).to.deep.equal(before);
  });

  it('a policy whose ConfigMap changes to another CA stops the traffic (502) through nginx and the hop alike, and back', async () => {
    const objs = objects(backend.port, echo.port).map((o: any) => (o.kind === 'ConfigMap' && o.metadata.name === 'backend-ca' ? { ...o, data: { 'ca.crt': otherCA.cert } } : o));
    run.write('objects.yaml', objs);
    await eventually('/secure and /san refused', async () => [await answer('/secure'), await answer('/san')], (r) => r.every((x) => x.status === 502), 20_000);
    run.write('objects.yaml', objects(backend.port, echo.port));
    await eventually('/secure and /san served again', async () => [await answer('/secure'), await answer('/san')], (r) => r.every((x) => x.status === 200), 20_000);
  });
});

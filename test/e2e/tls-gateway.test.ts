// The TLS side of the Gateway end to end on the test bed: the operator watching the real API
// server, the agent driving a real nginx, real backends on the host's backend address behind
// selector-less Services, real TLS clients. TLS passthrough (the backend's own certificate),
// SNI routing on one port (exact and wildcard precedence, unknown names closed), TLS
// terminate to a raw TCP echo, TCP with weights and UDP echo, BackendTLSPolicy to an HTTPS
// backend (CA, subjectAltNames),
// a client-certificate listener on the same Gateway as the TLS listeners, and certificate
// rotation under steady load without client retries: no request may fail, and nginx is not
// reloaded (the certificates are pushed, waygate.certs): a reload would close idle keep-alive
// connections under their clients. Figures go to the output.
import { expect } from 'chai';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { startAgent, type Agent } from '../../nginx/agent/index.ts';
import { supportedFeatures } from '../../operator/src/features.ts';
import { createLogger } from '../../operator/src/log.ts';
import { startOperator, type RunningOperator } from '../../operator/src/modes/operator.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { addLoopbackAlias, backendAddress } from '../cluster/network.ts';
import { freePort } from '../cluster/processes.ts';
import { testbed } from '../testbed.ts';
import { selfSigned, tlsSecret, type TestCertificate } from '../support/certs.ts';
import { eventually, get } from '../support/http.ts';
import { apply, conditionMap, getObject, namespaceObject, parentStatus, remove } from '../support/kube.ts';
import { service } from '../support/objects.ts';
import { issue, makeCA } from '../support/test-ca.ts';
import { clientHello, httpsGet, rawExchange, SteadyHttpsLoad, tlsExchange, type LoadFailure } from '../support/tls-clients.ts';

const CONTROLLER = 'waygate.dev/e2e-tls';
const CLASS = 'waygate-e2e-tls';
const NS = 'e2e-tls';
const GW = `${NS}/gw`;
const ADDRESS = '127.0.0.73';
const G = 'gateway.networking.k8s.io';
const BACKEND_NAME = `secure.${NS}.svc`;
const BACKEND_ALT = `alt.${NS}.svc`;
/** A name the backend's certificate does not carry: with subjectAltNames it is only the SNI. */
const SNI_ONLY = `sni.${NS}.svc`;
/** The rotation backend's answer time: at 150 requests/s, about 3 are in flight at any moment. */
const ROTATE_BACKEND_DELAY_MS = 20;
/** Secret updates under load in the rotation case. */
const ROTATIONS = 3;

const fp = (c: { cert: string }) => new X509Certificate(c.cert).fingerprint256;
const out = (line: string) => console.log(`      ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tlsRoute = (name: string, sectionName: string, hostnames: string[], backend: string, port: number) => ({
  apiVersion: `${G}/v1`, kind: 'TLSRoute', metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: 'gw', sectionName }], hostnames, rules: [{ backendRefs: [{ name: backend, port }] }] },
});
const httpRoute = (name: string, sectionName: string, hostnames: string[], rules: any[]) => ({
  apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: 'gw', sectionName }], hostnames, rules },
});
const caConfigMap = (name: string, pem: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { 'ca.crt': pem } });
const backendTLSPolicy = (name: string, serviceName: string, validation: object) => ({
  apiVersion: `${G}/v1`, kind: 'BackendTLSPolicy', metadata: { name, namespace: NS },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: serviceName }], validation },
});

/** Waits until our status entry of a route (status.parents) or policy (status.ancestors) has every `want` condition. */
function conditionsOf(kind: 'TLSRoute' | 'HTTPRoute' | 'TCPRoute' | 'UDPRoute' | 'BackendTLSPolicy', name: string, want: Record<string, string>, timeoutMs = 20_000): Promise<any> {
  return eventually(`${kind} ${name} to have ${JSON.stringify(want)}`, async () => {
    const o = await getObject(kind.toLowerCase(), NS, name);
    const entry = kind === 'BackendTLSPolicy' ? (o?.status?.ancestors ?? []).find((a: any) => a.controllerName === CONTROLLER) : parentStatus(o, GW, CONTROLLER);
    return { o, conds: conditionMap(entry?.conditions) };
  }, (v) => Object.entries(want).every(([k, s]) => v.conds[k] === s), timeoutMs, 100).then((v) => v.o);
}

/** Servers on the backend address; each counts its connections. */
class Backends {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly udpSockets: DgramSocket[] = [];
  readonly connections = new Map<string, number>();

  private async listen(name: string, server: Server): Promise<string> {
    server.on('connection', (s: Socket) => {
      this.connections.set(name, (this.connections.get(name) ?? 0) + 1);
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, backendAddress, r));
    this.servers.push(server);
    return `${backendAddress}:${(server.address() as AddressInfo).port}`;
  }

  /** A TLS server presenting `cert` that answers "name:" and echoes what it receives. */
  tls(name: string, cert: TestCertificate): Promise<string> {
    return this.listen(name, createTlsServer({ key: cert.key, cert: cert.cert }, (s: TLSSocket) => {
      s.on('error', () => {});
      s.write(`${name}:`);
      s.pipe(s);
    }));
  }

  /** A raw TCP echo: every byte back, nothing else. */
  echo(name: string, received: { bytes: number }): Promise<string> {
    return this.listen(name, createTcpServer((s: Socket) => {
      s.on('error', () => {});
      s.on('data', (d) => (received.bytes += d.length));
      s.pipe(s);
    }));
  }

  /** A TCP server that answers "name:" and echoes: which backend a connection reached. */
  named(name: string): Promise<string> {
    return this.listen(name, createTcpServer((s: Socket) => {
      s.on('error', () => {});
      s.write(`${name}:`);
      s.pipe(s);
    }));
  }

  /** A UDP server answering each datagram with "name:<datagram>". */
  async udp(name: string): Promise<string> {
    const sock = createSocket('udp4');
    sock.on('message', (msg, from) => {
      this.connections.set(name, (this.connections.get(name) ?? 0) + 1);
      sock.send(`${name}:${msg}`, from.port, from.address);
    });
    await new Promise<void>((r) => sock.bind(0, backendAddress, r));
    this.udpSockets.push(sock);
    return `${backendAddress}:${sock.address().port}`;
  }

  https(name: string, server: HttpsServer): Promise<string> {
    return this.listen(name, server);
  }

  /** An HTTP backend answering after `delayMs`: requests are in flight whenever nginx reloads. */
  slowHttp(name: string, delayMs: number, served: { requests: number; paths: Set<string> }): Promise<string> {
    const server = createHttpServer((req, res) => {
      served.paths.add(req.url ?? ''); // on arrival: a request nginx passed on counts even if its answer is lost
      setTimeout(() => {
        served.requests++;
        res.setHeader('x-backend', name);
        res.end(`${name}\n`);
      }, delayMs);
    });
    return this.listen(name, server);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const u of this.udpSockets) u.close();
  }
}

describe('TLS gateway end to end (operator + agent + nginx on the test bed)', function () {
  this.timeout(60_000);
  let agent: Agent;
  let op: RunningOperator;
  let dir: string;
  const backends = new Backends();
  let mtlsEcho: EchoServer | undefined;
  const ports = { pass: 0, term: 0, http: 0, mtls: 0, rotate: 0, tcp: 0, udp: 0 };
  const reloads: number[] = [];
  const rawReceived = { bytes: 0 };
  /** What reached the rotation backend: answered requests, and every path that arrived. */
  const rotateServed = { requests: 0, paths: new Set<string>() };
  /** Requests that reached the HTTPS backend of the BackendTLSPolicy cases. */
  const secureSeen: { path: string; sni: string | false | null }[] = [];

  // Passthrough backends present their own certificates; the Gateway has others.
  const passCerts = {
    a: selfSigned(['a.pass.example.com']),
    wild: selfSigned(['*.wild.pass.example.com']),
    exact: selfSigned(['x.wild.pass.example.com']),
    deep: selfSigned(['*.deep.wild.pass.example.com']),
  };
  const termCert = selfSigned(['term.example.com']);
  const mtlsCert = selfSigned(['mtls.example.com']);
  const rotations = Array.from({ length: ROTATIONS + 1 }, () => selfSigned(['rotate.example.com']));
  const gatewayFingerprints = [termCert, mtlsCert, ...rotations].map(fp);
  const serverCA = makeCA('e2e backend CA');
  const otherCA = makeCA('e2e other CA');
  const serverCert = issue(serverCA, BACKEND_NAME, { dns: [BACKEND_NAME, BACKEND_ALT] });
  const clientCA = makeCA('e2e client CA');
  const strangerCA = makeCA('e2e stranger CA');

  before(async function () {
    this.timeout(90_000);
    dir = mkdtempSync(join(tmpdir(), 'waygate-e2e-tls-'));
    await addLoopbackAlias();
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort(ADDRESS);
    const pass = {
      a: await backends.tls('pass-a', passCerts.a),
      wild: await backends.tls('pass-wild', passCerts.wild),
      exact: await backends.tls('pass-exact', passCerts.exact),
      deep: await backends.tls('pass-deep', passCerts.deep),
    };
    const raw = await backends.echo('raw', rawReceived);
    const heavy = await backends.named('heavy');
    const light = await backends.named('light');
    const udpEcho = await backends.udp('udp');
    const secure = await backends.https('secure', createHttpsServer({ cert: serverCert.cert, key: serverCert.key }, (req, res) => {
      secureSeen.push({ path: req.url ?? '', sni: (req.socket as TLSSocket).servername });
      res.setHeader('x-backend', 'secure');
      res.end('secure\n');
    }));
    mtlsEcho = await startEcho('mtls', 0, backendAddress);
    const rotateBackend = await backends.slowHttp('rotate', ROTATE_BACKEND_DELAY_MS, rotateServed);
    const btlsRule = (path: string, svc: string) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: svc, port: 443 }] });

    await apply(
      namespaceObject(NS),
      { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: CLASS }, spec: { controllerName: CONTROLLER } },
      {
        apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'gw', namespace: NS },
        spec: {
          gatewayClassName: CLASS,
          addresses: [{ type: 'IPAddress', value: ADDRESS }],
          listeners: [
            { name: 'pass', protocol: 'TLS', port: ports.pass, tls: { mode: 'Passthrough' } },
            { name: 'term', protocol: 'TLS', port: ports.term, hostname: 'term.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'term-cert' }] } },
            { name: 'http', protocol: 'HTTP', port: ports.http },
            { name: 'mtls', protocol: 'HTTPS', port: ports.mtls, hostname: 'mtls.example.com', tls: { certificateRefs: [{ name: 'mtls-cert' }] } },
            { name: 'rotate', protocol: 'HTTPS', port: ports.rotate, hostname: 'rotate.example.com', tls: { certificateRefs: [{ name: 'rotate-cert' }] } },
            { name: 'tcp', protocol: 'TCP', port: ports.tcp },
            { name: 'udp', protocol: 'UDP', port: ports.udp },
          ],
          // Client certificates on the mtls port only (the CRD requires default): the TLS listeners stay served.
          tls: { frontend: { default: {}, perPort: [{ port: ports.mtls, tls: { validation: { mode: 'AllowValidOnly', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'client-ca' }] } } }] } },
        },
      },
      tlsSecret(NS, 'term-cert', termCert), tlsSecret(NS, 'mtls-cert', mtlsCert), tlsSecret(NS, 'rotate-cert', rotations[0]!),
      caConfigMap('client-ca', clientCA.cert), caConfigMap('backend-ca', serverCA.cert), caConfigMap('other-ca', otherCA.cert),
      ...service(NS, 'pass-a', 443, [pass.a]), ...service(NS, 'pass-wild', 443, [pass.wild]),
      ...service(NS, 'pass-exact', 443, [pass.exact]), ...service(NS, 'pass-deep', 443, [pass.deep]),
      ...service(NS, 'raw', 7000, [raw]),
      ...service(NS, 'heavy', 7001, [heavy]), ...service(NS, 'light', 7001, [light]), ...service(NS, 'udp-echo', 5353, [udpEcho]),
      ...['secure', 'wrong-ca', 'san-ok', 'san-sni', 'wrong-san'].flatMap((name) => service(NS, name, 443, [secure])),
      ...service(NS, 'mtls-echo', 80, [mtlsEcho.endpoint]), ...service(NS, 'rotate-echo', 80, [rotateBackend]),
      backendTLSPolicy('secure', 'secure', { hostname: BACKEND_NAME, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] }),
      backendTLSPolicy('wrong-ca', 'wrong-ca', { hostname: BACKEND_NAME, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'other-ca' }] }),
      // subjectAltNames replace the hostname check: the certificate must carry one of them.
      backendTLSPolicy('san-ok', 'san-ok', { hostname: BACKEND_NAME, subjectAltNames: [{ type: 'Hostname', hostname: BACKEND_ALT }], caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] }),
      backendTLSPolicy('san-sni', 'san-sni', { hostname: SNI_ONLY, subjectAltNames: [{ type: 'Hostname', hostname: BACKEND_ALT }], caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] }),
      backendTLSPolicy('wrong-san', 'wrong-san', { hostname: BACKEND_NAME, subjectAltNames: [{ type: 'Hostname', hostname: `other.${NS}.svc` }], caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] }),
      // The wildcard routes come first and sort first: neither age nor name can be why the
      // more specific names win below.
      tlsRoute('a-wild', 'pass', ['*.wild.pass.example.com'], 'pass-wild', 443),
      tlsRoute('b-deep', 'pass', ['*.deep.wild.pass.example.com'], 'pass-deep', 443),
      tlsRoute('pass-a', 'pass', ['a.pass.example.com'], 'pass-a', 443),
      tlsRoute('term', 'term', ['term.example.com'], 'raw', 7000),
      { apiVersion: `${G}/v1alpha2`, kind: 'TCPRoute', metadata: { name: 'tcp', namespace: NS }, spec: { parentRefs: [{ name: 'gw', sectionName: 'tcp' }], rules: [{ backendRefs: [{ name: 'heavy', port: 7001, weight: 3 }, { name: 'light', port: 7001, weight: 1 }] }] } },
      { apiVersion: `${G}/v1alpha2`, kind: 'UDPRoute', metadata: { name: 'udp', namespace: NS }, spec: { parentRefs: [{ name: 'gw', sectionName: 'udp' }], rules: [{ backendRefs: [{ name: 'udp-echo', port: 5353 }] }] } },
      httpRoute('btls', 'http', ['btls.example.com'], ['secure', 'wrong-ca', 'san-ok', 'san-sni', 'wrong-san'].map((svc) => btlsRule(`/${svc}`, svc))),
      httpRoute('mtls', 'mtls', ['mtls.example.com'], [{ backendRefs: [{ name: 'mtls-echo', port: 80 }] }]),
      httpRoute('rotate', 'rotate', ['rotate.example.com'], [{ backendRefs: [{ name: 'rotate-echo', port: 80 }] }]),
    );
    await apply(tlsRoute('c-exact', 'pass', ['x.wild.pass.example.com'], 'pass-exact', 443));
    agent = await startAgent({ configRoot: join(dir, 'config'), runDir: join(dir, 'nginx'), logger: createLogger({ level: 'error' }) });
    agent.onVerdict((v) => { if (v.reloaded) reloads.push(Date.now()); });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(testbed().kubeconfig);
    op = await startOperator({ configRoot: join(dir, 'config'), controllerName: CONTROLLER, supportedFeatures, logger: createLogger({ level: 'warn' }), kubeConfig, debounceMs: 20, socketDir: agent.socketDir });
  });

  after(async () => {
    await op?.stop();
    await agent?.stop();
    await backends.close();
    await mtlsEcho?.close();
    await remove('namespace', undefined, NS).catch(() => {});
    await remove('gatewayclass', undefined, CLASS).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('programs the Gateway: every listener Accepted and Programmed with its routes attached, routes and policies accepted', async () => {
    const t0 = Date.now();
    const gw = await eventually('Gateway programmed, routes attached', () => getObject('gateway', NS, 'gw'),
      (o) => conditionMap(o?.status?.conditions).Programmed === 'True/Programmed' && o.status.listeners?.find((l: any) => l.name === 'pass')?.attachedRoutes === 4, 30_000);
    const attached = Object.fromEntries(gw.status.listeners.map((l: any) => [l.name, l.attachedRoutes]));
    expect(attached).to.deep.equal({ pass: 4, term: 1, http: 1, mtls: 1, rotate: 1, tcp: 1, udp: 1 });
    for (const l of gw.status.listeners) {
      expect(conditionMap(l.conditions), l.name).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs', Programmed: 'True/Programmed' });
    }
    for (const r of ['a-wild', 'b-deep', 'c-exact', 'pass-a', 'term']) await conditionsOf('TLSRoute', r, { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    for (const r of ['btls', 'mtls', 'rotate']) await conditionsOf('HTTPRoute', r, { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    await conditionsOf('TCPRoute', 'tcp', { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    await conditionsOf('UDPRoute', 'udp', { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    for (const p of ['secure', 'wrong-ca', 'san-ok', 'san-sni', 'wrong-san']) await conditionsOf('BackendTLSPolicy', p, { Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    out(`Gateway programmed with 7 listeners, 10 routes, 5 policies in ${Date.now() - t0} ms after the operator started; ${reloads.length} nginx reload(s) so far`);
  });

  it('TLS passthrough: the client sees the backend\'s own certificate, not one of the Gateway\'s', async () => {
    const before = backends.connections.get('pass-a') ?? 0;
    const r = await eventually('passthrough', () => tlsExchange(ADDRESS, ports.pass, 'a.pass.example.com'), (x) => x.reply !== '', 20_000);
    expect(r.fingerprint, 'fingerprint of the certificate the client was shown').to.equal(fp(passCerts.a));
    expect(gatewayFingerprints).to.not.include(r.fingerprint);
    expect(r).to.include({ subject: 'a.pass.example.com', reply: 'pass-a:ping' });
    expect((backends.connections.get('pass-a') ?? 0) - before, 'connections that reached pass-a').to.be.greaterThan(0);
  });

  it('TLS passthrough: several SNI names on one port, an exact name over a wildcard, a longer wildcard over a shorter one', async () => {
    const cases: [sni: string, backend: keyof typeof passCerts][] = [
      ['a.pass.example.com', 'a'],
      ['x.wild.pass.example.com', 'exact'], // exact beats *.wild (older, and first by name)
      ['y.wild.pass.example.com', 'wild'],
      ['a.b.wild.pass.example.com', 'wild'], // a wildcard covers one or more labels
      ['z.deep.wild.pass.example.com', 'deep'], // the longer wildcard wins
    ];
    await eventually('exact route served', () => tlsExchange(ADDRESS, ports.pass, 'x.wild.pass.example.com'), (x) => x.reply !== '', 20_000);
    for (const [sni, name] of cases) {
      for (let i = 0; i < 3; i++) {
        const r = await tlsExchange(ADDRESS, ports.pass, sni, `hello-${i}`);
        expect({ sni, fingerprint: r.fingerprint, reply: r.reply }).to.deep.equal({ sni, fingerprint: fp(passCerts[name]), reply: `pass-${name}:hello-${i}` });
      }
    }
    out(`${cases.length} SNI names x 3 connections, each to its backend (certificate fingerprint and reply checked)`);
  });

  it('TLS passthrough: an unknown SNI name, the wildcard\'s own suffix and no SNI are closed before any handshake (FIN, 0 bytes, no alert)', async () => {
    // Positive control of the raw method: a known name gets the backend's ServerHello.
    const hello = await clientHello('a.pass.example.com');
    const known = await eventually('a ServerHello for a known name', () => rawExchange(ADDRESS, ports.pass, hello, { firstReply: true }), (r) => r.received > 0, 20_000);
    expect(known.firstByte, 'a TLS handshake record').to.equal(0x16);
    const before = [...backends.connections.values()].reduce((a, b) => a + b, 0);
    for (const sni of ['unknown.example.com', 'wild.pass.example.com', 'pass.example.com', '']) {
      const raw = await rawExchange(ADDRESS, ports.pass, await clientHello(sni));
      expect({ sni, ...raw }, 'what nginx answers a ClientHello').to.deep.equal({ sni, received: 0, ended: 'fin' });
      const tls = await tlsExchange(ADDRESS, ports.pass, sni);
      expect({ sni, fingerprint: tls.fingerprint, reply: tls.reply, error: tls.error }).to.deep.equal({ sni, fingerprint: '', reply: '', error: 'ECONNRESET' });
      expect(tls.message).to.equal('Client network socket disconnected before secure TLS connection was established');
    }
    expect([...backends.connections.values()].reduce((a, b) => a + b, 0), 'no backend saw a connection').to.equal(before);
  });

  it('TLS terminate: the listener\'s certificate, and the bytes echo back over TLS from a raw TCP backend', async () => {
    await eventually('terminate', () => tlsExchange(ADDRESS, ports.term, 'term.example.com'), (x) => x.reply === 'ping', 20_000);
    const data = randomBytes(48 * 1024).toString('base64'); // 64 KiB of text, several TLS records
    const before = rawReceived.bytes;
    const r = await tlsExchange(ADDRESS, ports.term, 'term.example.com', data, 5000);
    expect(r.error).to.equal(undefined);
    expect(r.fingerprint, 'the Terminate listener\'s certificate').to.equal(fp(termCert));
    expect(r.reply.length).to.equal(data.length);
    expect(r.reply === data, 'the same bytes came back').to.equal(true);
    expect(rawReceived.bytes - before, 'the raw backend received the plain bytes').to.equal(data.length);
    out(`terminate: ${data.length} bytes through TLS to the raw echo and back`);
  });

  it('TCP: connections split by the backendRef weights 3:1 (within 8 points over 400 connections), every byte echoed', async () => {
    const exchange = (payload: string) => new Promise<string>((resolve, reject) => {
      const s = tcpConnect({ host: ADDRESS, port: ports.tcp }, () => s.write(payload));
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => { got += d; if (got.endsWith(payload)) { s.end(); resolve(got); } });
      s.setTimeout(3000, () => s.destroy(new Error(`no echo of ${payload}`)));
      s.on('error', reject);
    });
    await eventually('the TCP listener', () => exchange('warm').catch(() => ''), (r) => r.endsWith('warm'), 20_000);
    const counts: Record<string, number> = {};
    const N = 400;
    for (let i = 0; i < N; i++) {
      const r = await exchange(`m${i}.`);
      const m = /^(heavy|light):m\d+\.$/.exec(r);
      expect(m, `connection ${i}: ${JSON.stringify(r)}`).to.not.equal(null);
      counts[m![1]!] = (counts[m![1]!] ?? 0) + 1;
    }
    out(`tcp: ${N} connections: heavy ${counts.heavy ?? 0}, light ${counts.light ?? 0} (weights 3:1, expected 75%)`);
    expect(Math.abs((counts.heavy ?? 0) / N - 0.75)).to.be.below(0.08);
  });

  it('UDP: datagrams reach the backend and its answers come back to the client', async () => {
    const exchange = (payload: string) => new Promise<string>((resolve, reject) => {
      const sock = createSocket('udp4');
      const timer = setTimeout(() => { sock.close(); reject(new Error('no UDP answer within 2 s')); }, 2000);
      sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(String(m)); });
      sock.send(payload, ports.udp, ADDRESS);
    });
    await eventually('the UDP listener', () => exchange('warm').catch(() => ''), (r) => r === 'udp:warm', 20_000);
    for (let i = 0; i < 20; i++) expect(await exchange(`d${i}`)).to.equal(`udp:d${i}`);
  });

  it('BackendTLSPolicy: a certificate the policy\'s CA signed for its hostname is served (200, SNI = hostname); another CA gives 502 and nothing reaches the backend', async () => {
    const answer = (path: string) => get(ADDRESS, ports.http, path, { host: 'btls.example.com' });
    await eventually('/secure', () => answer('/secure'), (r) => r.status === 200, 20_000);
    secureSeen.length = 0;
    for (let i = 0; i < 5; i++) expect(await answer(`/secure/${i}`)).to.include({ status: 200, backend: 'secure' });
    expect(secureSeen).to.deep.equal([0, 1, 2, 3, 4].map((i) => ({ path: `/secure/${i}`, sni: BACKEND_NAME })));
    secureSeen.length = 0;
    const connections = backends.connections.get('secure') ?? 0;
    for (let i = 0; i < 5; i++) {
      const r = await answer(`/wrong-ca/${i}`);
      expect(r.status, 'wrong CA').to.equal(502);
      expect(r.backend).to.equal(undefined);
    }
    expect(secureSeen, 'requests the backend received through the wrong-CA policy').to.deep.equal([]);
    out(`backend TLS: 5 verified requests 200; wrong CA 5x 502 with ${(backends.connections.get('secure') ?? 0) - connections} TLS connection attempts at the backend and 0 requests received`);
  });

  it('BackendTLSPolicy subjectAltNames: a certificate carrying a listed SAN is served (also when validation.hostname is only the SNI); one without gives 502 and nothing reaches the backend', async () => {
    const answer = (path: string) => get(ADDRESS, ports.http, path, { host: 'btls.example.com' });
    await eventually('/san-ok', () => answer('/san-ok'), (r) => r.status === 200, 20_000);
    secureSeen.length = 0;
    for (let i = 0; i < 3; i++) {
      expect(await answer(`/san-ok/${i}`), 'SAN listed, hostname in the certificate too').to.include({ status: 200, backend: 'secure' });
      expect(await answer(`/san-sni/${i}`), 'SAN listed, hostname only the SNI').to.include({ status: 200, backend: 'secure' });
    }
    expect(secureSeen).to.deep.equal([0, 1, 2].flatMap((i) => [{ path: `/san-ok/${i}`, sni: BACKEND_NAME }, { path: `/san-sni/${i}`, sni: SNI_ONLY }]));
    secureSeen.length = 0;
    const connections = backends.connections.get('secure') ?? 0;
    for (let i = 0; i < 5; i++) {
      const r = await answer(`/wrong-san/${i}`);
      expect(r.status, 'the certificate lacks the SAN asked for (its hostname matches)').to.equal(502);
      expect(r.backend).to.equal(undefined);
    }
    expect(secureSeen, 'requests the backend received through the wrong-SAN policy').to.deep.equal([]);
    out(`backend TLS SANs: 3+3 requests 200 (SAN listed; SAN listed with an SNI-only hostname); wrong SAN 5x 502 with ${(backends.connections.get('secure') ?? 0) - connections} TLS connection attempts at the backend and 0 requests received`);
  });

  it('client certificates (AllowValidOnly): a certificate from the listener\'s CA is served; none, or one from another CA, is closed unanswered', async () => {
    const alice = issue(clientCA, 'alice', {}, { client: true });
    const mallory = issue(strangerCA, 'mallory', {}, { client: true });
    const ask = (client?: { cert: string; key: string }) => httpsGet(ADDRESS, ports.mtls, { servername: 'mtls.example.com', ...(client ? { client } : {}) });
    const ok = await eventually('mtls', () => ask(alice), (r) => r.status === 200, 20_000);
    expect(ok).to.include({ status: 200, backend: 'mtls', fingerprint: fp(mtlsCert) });
    const served = mtlsEcho!.requests;
    for (const [who, client] of [['no certificate', undefined], ['another CA', mallory]] as const) {
      for (let i = 0; i < 3; i++) {
        const r = await ask(client);
        // TLS 1.3: the handshake completes before the server checks the certificate; nginx
        // then closes the connection without an HTTP response (its 495/496 turned into 444).
        expect({ who, status: r.status, error: r.error, handshake: r.handshake }).to.deep.equal({ who, status: undefined, error: 'ECONNRESET', handshake: true });
      }
    }
    expect(mtlsEcho!.requests - served, 'requests that reached the backend without a valid certificate').to.equal(0);
    expect(await ask(alice)).to.include({ status: 200, backend: 'mtls' });
  });

  it('certificate rotation: three Secret updates under steady load switch the served certificate without a reload; no request fails (no retries)', async function () {
    this.timeout(90_000);
    const ask = () => httpsGet(ADDRESS, ports.rotate, { servername: 'rotate.example.com' });
    await eventually('first certificate', ask, (r) => r.status === 200 && r.fingerprint === fp(rotations[0]!), 20_000);
    const reloadsBefore = reloads.length;
    const servedBefore = rotateServed.requests;
    const maxSockets = 4;
    const load = new SteadyHttpsLoad(ADDRESS, ports.rotate, { servername: 'rotate.example.com', path: '/load', rate: 150, maxSockets });
    /** Per rotation, in ms since the load started: the Secret update, and the first new connection shown the new certificate. */
    const windows: { applied: number; seen: number }[] = [];
    let failed: unknown; // the load stops either way
    try {
      await sleep(1000);
      for (const c of rotations.slice(1)) {
        const applied = Date.now() - load.started;
        await apply(tlsSecret(NS, 'rotate-cert', c));
        await eventually('the new certificate', ask, (r) => r.fingerprint === fp(c), 20_000, 20);
        windows.push({ applied, seen: Date.now() - load.started });
        await sleep(1000);
      }
    } catch (e) {
      failed = e;
    }
    const f = await load.stop();
    if (failed) throw failed;
    const races = f.failures.filter((x) => x.keepAliveRace);
    const reached = (x: LoadFailure) => rotateServed.paths.has(`/load/${x.id}`);
    out(`rotation: ${f.sent} requests in ${f.seconds.toFixed(1)} s (${f.rate.toFixed(0)}/s): ${f.fresh.requests} on new connections, ${f.keepAlive.requests} keep-alive on ${f.keepAlive.connections} connections (${f.keepAlive.reused} reused)`);
    out(`rotation: ${f.failures.length} failed (${races.length} of them keep-alive requests racing a close); ${reloads.length - reloadsBefore} nginx reloads; Secret update -> new certificate served in ${windows.map((w) => w.seen - w.applied).join(' / ')} ms; latency p50 ${f.latencyMs.p50} ms, p99 ${f.latencyMs.p99} ms, max ${f.latencyMs.max} ms`);
    out(`rotation: requests per certificate: ${rotations.map((c, i) => `#${i} ${f.certificates.get(fp(c)) ?? 0}`).join(', ')}; the backend (${ROTATE_BACKEND_DELAY_MS} ms per answer) answered ${rotateServed.requests - servedBefore} (load + probes)`);
    for (const x of f.failures) out(`rotation: failed at +${x.at} ms: ${x.what} (${x.mode}${x.idleMs === undefined ? '' : `, idle ${x.idleMs} ms`}${reached(x) ? ', had reached the backend' : ''}); rotation windows ${windows.map((w) => `${w.applied}-${w.seen}`).join(', ')} ms`);
    // No request may fail: the certificate is pushed, nginx is not reloaded, no connection is closed.
    expect(f.failures.map((x) => `+${x.at} ms: ${x.what} (${x.mode})`), 'failed requests').to.deep.equal([]);
    expect(reloads.length - reloadsBefore, 'nginx reloads during the rotations').to.equal(0);
    expect(f.rate).to.be.greaterThan(100);
    for (const [i, c] of rotations.entries()) expect(f.certificates.get(fp(c)) ?? 0, `requests served with certificate #${i}`).to.be.greaterThan(0);
    expect(f.certificates.size, 'no other certificate').to.equal(rotations.length);
    const last = await ask();
    expect(last).to.include({ status: 200, backend: 'rotate', fingerprint: fp(rotations.at(-1)!) });
  });
});

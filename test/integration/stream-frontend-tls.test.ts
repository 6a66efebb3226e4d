// Gateway spec.tls.frontend on TLS Terminate listeners (the stream block) with a real nginx
// and real TLS clients: AllowValidOnly serves a client whose certificate the CA signed and
// closes every other one after the handshake, before a byte reaches the backend;
// AllowInsecureFallback serves clients with and without certificates. A Passthrough
// listener cannot validate (nginx never sees the client's certificate) and is refused.
import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildStreamModel } from '../../operator/src/dataplane/stream.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { selfSigned, tlsSecret, type TestCertificate } from '../support/certs.ts';
import { CONTROLLER, gateway, gatewayClass, namespace, otherRoute, service, storeOf } from '../support/objects.ts';
import { caConfigMap, ClientCA } from '../support/client-ca.ts';

const ADDRESS = '127.0.0.67';

/** One exchange over TLS: the echoed reply, or the error / close before any byte. */
function exchange(port: number, client?: TestCertificate): Promise<{ reply?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: ADDRESS, port, servername: 'term.example.com', rejectUnauthorized: false, ...(client ?? {}) }, () => s.write('hello'));
    let reply = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      reply += d;
      if (reply.endsWith('hello')) {
        s.end();
        resolve({ reply });
      }
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    s.on('close', () => resolve(reply ? { reply } : { error: 'closed without a reply' }));
  });
}

describe('Frontend TLS on TLS Terminate listeners (stream block, real nginx)', function () {
  this.timeout(60_000);
  let nginx: ThrowawayNginx | undefined;
  let backend: Server;
  let accepted = 0;
  let dir: string;
  let ca: ClientCA;
  let otherCA: ClientCA;
  let ports: { valid: number; fallback: number };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-stream-mtls-'));
    chmodSync(dir, 0o755); // nginx workers (an unprivileged user) connect to the terminate sockets here
    ca = new ClientCA('client-ca');
    otherCA = new ClientCA('other-ca');
    backend = createServer((s) => {
      accepted++;
      s.on('data', (d) => s.write(`plain:${d}`));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const backendPort = (backend.address() as { port: number }).port;
    ports = { valid: await freePort(), fallback: await freePort() };
    const validation = (mode: string) => ({ validation: { mode, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'client-ca' }] } });
    const term = (name: string, port: number) => ({ name, protocol: 'TLS', port, hostname: 'term.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'term' }] } });
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [term('valid', ports.valid), term('fallback', ports.fallback), { name: 'pass', protocol: 'TLS', port: ports.valid + 1, tls: { mode: 'Passthrough' } }], {
        addresses: [{ type: 'IPAddress', value: ADDRESS }],
        tls: { frontend: { default: {}, perPort: [{ port: ports.valid, tls: validation('AllowValidOnly') }, { port: ports.fallback, tls: validation('AllowInsecureFallback') }, { port: ports.valid + 1, tls: validation('AllowValidOnly') }] } },
      }),
      tlsSecret('app', 'term', selfSigned(['term.example.com'])), caConfigMap('app', 'client-ca', ca.cert),
      ...service('app', 'plain', 3000, [`127.0.0.1:${backendPort}`]),
      otherRoute('TLSRoute', 'app', 'term', { parentRefs: [{ name: 'gw', sectionName: 'valid' }, { name: 'gw', sectionName: 'fallback' }], hostnames: ['term.example.com'], rules: [{ backendRefs: [{ name: 'plain', port: 3000 }] }] }),
    ];
    const graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    const listeners = Object.fromEntries(graph.gateways[0]!.listeners.map((l) => [l.name, l]));
    expect(listeners.valid!.programmable).to.equal(true);
    expect(listeners.fallback!.programmable).to.equal(true);
    const pass = listeners.pass!.conditions.find((c) => c.type === 'Accepted')!;
    expect([pass.status, pass.reason]).to.deep.equal(['False', 'UnsupportedValue']);
    expect(pass.message).to.match(/^spec\.tls\.frontend\.perPort\[2\]: client certificate validation cannot apply to a TLS Passthrough listener/);
    const opts = { certDir: dir, socketDir: dir };
    const config = renderConfig(buildHttpModel(graph, opts), buildStreamModel(graph, opts));
    for (const c of config.certificates) writeFileSync(join(dir, c.name), c.pem, { mode: 0o600 });
    nginx = await startNginx({ http: config.files['http.conf'], stream: config.files['stream.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
  });

  after(async () => {
    await nginx?.stop();
    backend?.close();
    ca?.close();
    otherCA?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('AllowValidOnly: serves a certificate the CA signed; none, another CA\'s or an expired one is closed before reaching the backend', async () => {
    expect(await exchange(ports.valid, ca.client('alice'))).to.deep.equal({ reply: 'plain:hello' });
    const before = accepted;
    for (const client of [undefined, otherCA.client('mallory'), ca.client('late', { expired: true })]) {
      const r = await exchange(ports.valid, client);
      expect(r.reply, `client ${client ? 'with a certificate' : 'without a certificate'}`).to.equal(undefined);
    }
    expect(accepted - before, 'connections that reached the backend').to.equal(0);
  });

  it('AllowInsecureFallback: serves clients with a certificate of any issuer and without one', async () => {
    for (const client of [ca.client('bob'), otherCA.client('eve'), undefined]) {
      expect(await exchange(ports.fallback, client)).to.deep.equal({ reply: 'plain:hello' });
    }
  });
});

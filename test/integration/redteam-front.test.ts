// Red team: the h1/h2c front (stream block, njs js_preread) that a tenant's GRPCRoute puts on
// a shared plaintext port. A client must not forge its address through the PROXY protocol
// line the front adds for the http block, and connections that stay silent or stop inside
// the HTTP/2 preface must not slow anyone else's HTTP/1.1 or gRPC requests on the port.
import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { grpcClient, startGrpcBackend, type GrpcBackend } from '../support/grpc-echo.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';
import { freePort } from '../cluster/processes.ts';

const ADDRESS = '127.0.0.155';

/** Raw bytes to the port; resolves with everything the server sent until it closed (or 3 s). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const s = connect(port, ADDRESS, () => s.write(bytes));
    s.setEncoding('utf8').on('data', (d: string) => (out += d));
    const done = () => resolve(out);
    s.on('close', done).on('error', done);
    setTimeout(() => { s.destroy(); }, 3000);
  });
}

describe('red team: the h1/h2c front', function () {
  this.timeout(90_000);
  let run: TempStandalone;
  let rpc: GrpcBackend;
  let port: number;
  const idle: Socket[] = [];
  const log = captureLogger();

  before(async () => {
    port = await freePort();
    rpc = await startGrpcBackend('rpc');
    run = tempStandalone('redteam-front');
    const web = await run.echo('web');
    run.write('objects.yaml', [
      gatewayClass(), gateway({ address: ADDRESS, port, allowedRoutes: { namespaces: { from: 'All' } } }),
      ...backend('web', 'app', web.port), ...backend('evil', 'rpc', rpc.port), httpRoute({ hostnames: ['www.example.com'] }),
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'rpc', namespace: 'evil' },
        spec: { parentRefs: [{ name: 'gw', namespace: 'web' }], hostnames: ['rpc.example.com'], rules: [{ backendRefs: [{ name: 'rpc', port: 80 }] }] } },
    ]);
    await run.start(log.logger);
    await eventually('HTTP served', () => get(ADDRESS, port, '/', { host: 'www.example.com' }).catch(() => ({ status: 0 })), (r) => r.status === 200, 30_000);
  });

  after(async () => {
    for (const s of idle) s.destroy();
    await run?.stop();
    await rpc?.close();
  });

  it('a client cannot forge its address with its own PROXY line', async () => {
    const answer = await raw(port, 'PROXY TCP4 6.6.6.6 127.0.0.155 1111 80\r\nGET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n');
    expect(answer).not.to.include('6.6.6.6');
    expect(answer.startsWith('HTTP/1.1 200'), answer.slice(0, 60)).to.equal(false);
  });

  it('silent connections and ones stopped inside the HTTP/2 preface do not slow HTTP/1.1 or gRPC on the port', async () => {
    for (let i = 0; i < 300; i++) {
      const s = connect(port, ADDRESS);
      s.on('error', () => {});
      if (i % 2) s.write('PRI * HTTP/2.0\r\n'); // a prefix of the preface: the front waits for more
      idle.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    const t = Date.now();
    const h1 = await get(ADDRESS, port, '/', { host: 'www.example.com' });
    const h1Ms = Date.now() - t;
    const c = grpcClient(ADDRESS, port, 'Echo', { authority: 'rpc.example.com', deadlineMs: 2000 });
    try {
      const r = await c.call('Say');
      expect(r.code, 'gRPC status').to.equal(0);
    } finally {
      c.close();
    }
    expect(h1.status).to.equal(200);
    expect(h1Ms).to.be.below(1000);
  });
});

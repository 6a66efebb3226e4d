// The h1/h2c front comes and goes with GRPCRoutes: a plaintext port moves from its direct
// `listen` in the http block to the stream block's front and back, by reloads, while
// HTTP/1.1 clients keep being served on the same address (nginx hands the listening socket
// from one block to the other; nothing is closed or rebound).
import { expect } from 'chai';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { grpcClient, startGrpcBackend, type GrpcBackend } from '../support/grpc-echo.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute, toYaml } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.132';
const PORT = 18234;

const grpcRoute = toYaml([{
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'rpc', namespace: 'web' },
  spec: { parentRefs: [{ name: 'gw' }], hostnames: ['rpc.example.com'], rules: [{ backendRefs: [{ name: 'rpc', port: 80 }] }] },
}]);

describe('the h1/h2c front follows GRPCRoutes (real nginx, reloads under HTTP/1.1 traffic)', function () {
  this.timeout(90_000);
  let run: TempStandalone;
  let rpc: GrpcBackend;
  const log = captureLogger();

  before(async () => {
    rpc = await startGrpcBackend('rpc');
    run = tempStandalone('grpc-front');
    const web = await run.echo('web');
    run.write('base.yaml', [gatewayClass(), gateway({ address: ADDRESS, port: PORT }), ...backend('web', 'app', web.port), ...backend('web', 'rpc', rpc.port), httpRoute({ hostnames: ['www.example.com'] })]);
    await run.start(log.logger);
    await eventually('HTTP served', () => get(ADDRESS, PORT, '/', { host: 'www.example.com' }).catch(() => ({ status: 0 })), (r) => r.status === 200, 30_000);
  });

  after(async () => {
    await run?.stop();
    await rpc?.close();
  });

  it('adding and removing a GRPCRoute moves the port to the front and back; no HTTP/1.1 request fails meanwhile', async () => {
    let stop = false;
    const outcomes: Record<string, number> = {};
    // New connections, one request each, as fast as they come back.
    const load = (async () => {
      while (!stop) {
        const r = await get(ADDRESS, PORT, '/', { host: 'www.example.com' }).then((x) => String(x.status), (e) => (e as Error).message);
        outcomes[r] = (outcomes[r] ?? 0) + 1;
      }
    })();
    // A fresh client per probe: a grpc-js channel that failed backs off before it connects again.
    const call = async () => {
      const c = grpcClient(ADDRESS, PORT, 'Echo', { authority: 'rpc.example.com', deadlineMs: 2000 });
      try {
        return await c.call('Say');
      } finally {
        c.close();
      }
    };
    try {
      run.write('rpc.yaml', grpcRoute);
      const served = await eventually('gRPC served through the front', call, (r) => r.code === 0, 30_000, 200);
      expect(served.reply!.backend).to.equal('rpc');
      run.write('rpc.yaml', '');
      // Back on the direct listen: HTTP/2 prior knowledge is no longer understood on the port.
      await eventually('gRPC no longer served', call, (r) => r.code !== 0, 30_000, 200);
      run.write('rpc.yaml', grpcRoute);
      await eventually('gRPC served again', call, (r) => r.code === 0, 30_000, 200);
    } finally {
      stop = true;
      await load;
    }
    expect(outcomes['200']).to.be.above(50);
    expect(outcomes).to.deep.equal({ 200: outcomes['200'] });
  });
});

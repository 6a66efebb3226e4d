// The status writer never waits without end on the API server: a request that gets no
// answer (a connection that broke at the wrong moment) counts as failed after its deadline,
// and the write returns, so the controller builds again (it waits for its statuses first).
import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../operator/src/log.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { StatusWriter } from '../../operator/src/status/writer.ts';
import { Store } from '../../operator/src/store.ts';

describe('StatusWriter: a request without an answer', () => {
  let server: Server;
  const held: Socket[] = [];
  before(async () => {
    // Accepts connections and never answers.
    server = createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  after(() => {
    for (const s of held) s.destroy();
    server.close();
  });

  it('counts as failed after the deadline, and the write returns', async () => {
    const port = (server.address() as { port: number }).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const writer = new StatusWriter(kc, 'waygate.dev/gateway-controller', createLogger({ level: 'error' }), { requestTimeoutMs: 300 });
    const store = new Store();
    store.upsert({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'infra', uid: 'u1', resourceVersion: '1', generation: 1 }, spec: {} } as KubeObject);
    const result = await writer.write([{ kind: 'Gateway', namespace: 'infra', name: 'gw', status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 1 }] } }], store);
    expect(result).to.deep.include({ written: 0, failed: 1 });
    expect(held.length, 'the request reached the silent server').to.be.greaterThan(0);
  });
});

// What the h1/h2c front costs HTTP/1.1 clients (dataplane/grpc-front.ts): a plaintext port
// with a GRPCRoute attached is served through a stream server that reads the first bytes
// (njs js_preread) and hands the connection to the http block over a unix socket with
// PROXY protocol. One Gateway, two HTTP listeners, the same HTTPRoute on both: port
// FRONTED also carries a GRPCRoute (another hostname), port DIRECT does not. wrk, keep-alive
// and a new connection per request, rounds alternating between the two ports; medians.
// The backend is an nginx answering 200 itself, so that the gateway, not the backend, is
// measured. Run: npx tsx bench/h2c-front.ts [--seconds 5] [--rounds 3]
import { parseArgs } from 'node:util';
import { createLogger } from '../operator/src/log.ts';
import { tempStandalone } from '../test/support/standalone-run.ts';
import { waitFor } from '../test/cluster/exec.ts';
import { get } from '../test/support/http.ts';
import { startPlainNginx } from './lib/plain-nginx.ts';
import { median, wrk, type WrkResult } from './lib/wrk.ts';

const BACKEND_PORT = 18610;
const FRONTED_PORT = 18611;
const DIRECT_PORT = 18612;
const HOST = 'bench.example.com';
const G = 'gateway.networking.k8s.io/v1';

export interface FrontRow {
  mode: 'keep-alive' | 'new connection per request';
  fronted: WrkResult;
  direct: WrkResult;
  /** fronted requests/s ÷ direct requests/s. */
  ratio: number;
}

export async function h2cFrontBench(o: { seconds: number; rounds: number; connections?: number; log?: (m: string) => void }): Promise<FrontRow[]> {
  const log = o.log ?? console.error;
  const backend = await startPlainNginx(`server { listen 127.0.0.1:${BACKEND_PORT}; location / { return 200 "ok\\n"; } }`, 1);
  const gw = tempStandalone('bench-h2c-front');
  try {
    gw.write('all.yaml', [
      { apiVersion: G, kind: 'GatewayClass', metadata: { name: 'waygate' }, spec: { controllerName: 'waygate.dev/gateway-controller' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } },
      {
        apiVersion: G, kind: 'Gateway', metadata: { name: 'gw', namespace: 'bench' },
        spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }], listeners: [{ name: 'fronted', protocol: 'HTTP', port: FRONTED_PORT }, { name: 'direct', protocol: 'HTTP', port: DIRECT_PORT }] },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'bench' }, spec: { ports: [{ name: 'http', port: 80 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'backend-1', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'backend' } }, addressType: 'IPv4', ports: [{ name: 'http', port: BACKEND_PORT }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
      { apiVersion: G, kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'bench' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: [HOST], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] } },
      // Only its presence matters: it puts the front on port FRONTED.
      { apiVersion: G, kind: 'GRPCRoute', metadata: { name: 'g', namespace: 'bench' }, spec: { parentRefs: [{ name: 'gw', sectionName: 'fronted' }], hostnames: ['grpc.example.com'], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] } },
    ]);
    await gw.start(createLogger({ level: process.env.WAYGATE_LOG_LEVEL ?? 'error' }));
    const probe = async (port: number) => (await get('127.0.0.1', port, '/', { host: HOST }).catch(() => undefined))?.status === 200 || undefined;
    await waitFor('the fronted port to serve the route', () => probe(FRONTED_PORT), 30_000);
    await waitFor('the direct port to serve the route', () => probe(DIRECT_PORT), 10_000);
    const rows: FrontRow[] = [];
    for (const mode of ['keep-alive', 'new connection per request'] as const) {
      const headers = { Host: HOST, ...(mode === 'keep-alive' ? {} : { Connection: 'close' }) };
      const runs: { fronted: WrkResult[]; direct: WrkResult[] } = { fronted: [], direct: [] };
      for (let i = 0; i < o.rounds; i++) {
        for (const [name, port] of [['fronted', FRONTED_PORT], ['direct', DIRECT_PORT]] as const) {
          const r = await wrk({ url: `http://127.0.0.1:${port}/`, seconds: o.seconds, connections: o.connections ?? 32, headers });
          if (r.non2xx || r.socketErrors) log(`  ${name} ${mode}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`);
          runs[name].push(r);
        }
      }
      const pick = (xs: WrkResult[]): WrkResult => ({ ...xs[0]!, requestsPerSecond: median(xs.map((x) => x.requestsPerSecond)), p50Ms: median(xs.map((x) => x.p50Ms)), p99Ms: median(xs.map((x) => x.p99Ms)) });
      const row = { mode, fronted: pick(runs.fronted), direct: pick(runs.direct), ratio: 0 };
      row.ratio = row.fronted.requestsPerSecond / row.direct.requestsPerSecond;
      rows.push(row);
      const fmt = (r: WrkResult) => `${r.requestsPerSecond.toFixed(0)} req/s (p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms)`;
      log(`  ${mode}: through the front ${fmt(row.fronted)}, direct ${fmt(row.direct)}, ratio ${row.ratio.toFixed(3)}`);
    }
    return rows;
  } finally {
    await gw.stop();
    await backend.stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '32' } } });
  console.log(`h1/h2c front: HTTP/1.1 through the front vs the direct listen, same route and backend, wrk ${values.connections} connections`);
  await h2cFrontBench({ seconds: Number(values.seconds), rounds: Number(values.rounds), connections: Number(values.connections), log: console.log });
  process.exit(0);
}

// Data-plane benchmark (issue #14 §5): requests/s and p50/p99 latency through the gateway
// (standalone mode: the operator's rendered config under the agent's nginx) versus a
// hand-written minimal nginx proxy to the same backend, in the same run, with client
// keep-alive and without. The backend is a third nginx answering 200 itself, so that the
// proxies, not the backend, are measured. After a warm-up run of each (not counted), every
// round measures both, in turns (gateway first, then baseline first), so that a drift in the
// machine's load (the suite's test bed winding down) weighs on both alike; the ratio is the
// median of the rounds' ratios. Run: npx tsx bench/dataplane.ts [--seconds 5] [--rounds 5]
import { parseArgs } from 'node:util';
import { createLogger } from '../operator/src/log.ts';
import { tempStandalone } from '../test/support/standalone-run.ts';
import { waitFor } from '../test/cluster/exec.ts';
import { get } from '../test/support/http.ts';
import { startPlainNginx } from './lib/plain-nginx.ts';
import { median, wrk, type WrkResult } from './lib/wrk.ts';

export interface DataplaneRow {
  mode: 'keep-alive' | 'new connection per request';
  gateway: WrkResult;
  baseline: WrkResult;
  /** The median over the rounds of gateway requests/s ÷ baseline requests/s. */
  ratio: number;
  /** Each round's ratio. */
  ratios: number[];
}

const BACKEND_PORT = 18601;
const BASELINE_PORT = 18602;
const GATEWAY_PORT = 18603;
const HOST = 'bench.example.com';

export async function dataplaneBench(o: { seconds: number; rounds: number; log?: (m: string) => void }): Promise<DataplaneRow[]> {
  const log = o.log ?? console.error;
  const backend = await startPlainNginx(`server { listen 127.0.0.1:${BACKEND_PORT}; location / { return 200 "ok\\n"; } }`, 1);
  const baseline = await startPlainNginx([
    `upstream backend { server 127.0.0.1:${BACKEND_PORT}; keepalive 16; }`,
    `server { listen 127.0.0.1:${BASELINE_PORT}; server_name ${HOST};`,
    '  location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; } }',
  ].join('\n'));
  const gw = tempStandalone('bench-dataplane');
  try {
    gw.write('all.yaml', [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'waygate' }, spec: { controllerName: 'waygate.dev/gateway-controller' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'bench' }, spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }], listeners: [{ name: 'http', protocol: 'HTTP', port: GATEWAY_PORT }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'bench' }, spec: { ports: [{ name: 'http', port: 80 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'backend-1', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'backend' } }, addressType: 'IPv4', ports: [{ name: 'http', port: BACKEND_PORT }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'bench' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: [HOST], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] } },
    ]);
    await gw.start(createLogger({ level: process.env.WAYGATE_LOG_LEVEL ?? 'error' }));
    const probe = async (port: number) => (await get('127.0.0.1', port, '/', { host: HOST }).catch(() => undefined))?.status === 200 || undefined;
    await waitFor('the gateway to serve the route', () => probe(GATEWAY_PORT), 30_000);
    await waitFor('the baseline to serve', () => probe(BASELINE_PORT), 10_000);
    const rows: DataplaneRow[] = [];
    for (const mode of ['keep-alive', 'new connection per request'] as const) {
      const headers = { Host: HOST, ...(mode === 'keep-alive' ? {} : { Connection: 'close' }) };
      const runs: { gateway: WrkResult[]; baseline: WrkResult[] } = { gateway: [], baseline: [] };
      const targets = [['gateway', GATEWAY_PORT], ['baseline', BASELINE_PORT]] as const;
      const measure = (port: number) => wrk({ url: `http://127.0.0.1:${port}/`, seconds: o.seconds, connections: 32, headers });
      for (const [, port] of targets) await measure(port); // warm-up
      const ratios: number[] = [];
      for (let i = 0; i < o.rounds; i++) {
        for (const [name, port] of i % 2 ? [...targets].reverse() : targets) {
          const r = await measure(port);
          if (r.non2xx || r.socketErrors) log(`  ${name} ${mode}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`);
          runs[name].push(r);
        }
        ratios.push(runs.gateway[i]!.requestsPerSecond / runs.baseline[i]!.requestsPerSecond);
      }
      const pick = (xs: WrkResult[]): WrkResult => {
        const m = median(xs.map((x) => x.requestsPerSecond));
        return { ...xs.reduce((a, b) => (Math.abs(b.requestsPerSecond - m) < Math.abs(a.requestsPerSecond - m) ? b : a)), requestsPerSecond: m, p50Ms: median(xs.map((x) => x.p50Ms)), p99Ms: median(xs.map((x) => x.p99Ms)) };
      };
      const row = { mode, gateway: pick(runs.gateway), baseline: pick(runs.baseline), ratio: median(ratios), ratios };
      rows.push(row);
      log(`  ${mode}: gateway ${row.gateway.requestsPerSecond.toFixed(0)} req/s (p50 ${row.gateway.p50Ms.toFixed(2)} ms, p99 ${row.gateway.p99Ms.toFixed(2)} ms), hand-written ${row.baseline.requestsPerSecond.toFixed(0)} req/s (p50 ${row.baseline.p50Ms.toFixed(2)} ms, p99 ${row.baseline.p99Ms.toFixed(2)} ms), ratio ${row.ratio.toFixed(3)} (rounds: ${ratios.map((x) => x.toFixed(3)).join(', ')})`);
    }
    return rows;
  } finally {
    await gw.stop();
    await baseline.stop();
    await backend.stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '5' } } });
  console.log('data plane: gateway vs hand-written nginx, same backend, wrk 32 connections');
  await dataplaneBench({ seconds: Number(values.seconds), rounds: Number(values.rounds), log: console.log });
  process.exit(0);
}

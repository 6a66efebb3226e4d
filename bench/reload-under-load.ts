// Reload-under-load benchmark (issue #14 §6): 50 route changes while wrk sends steady
// traffic through the gateway (standalone mode), twice: plain routes, which the route table
// takes (pushed, no reload), and routes with a filter, which are server blocks (each change
// rendered, tested and reloaded by the agent, whose old workers ask clients to close their
// keep-alive connections first: nginx/lua/waygate/drain.lua); versus a hand-written nginx
// reloaded (SIGHUP) 50 times at the same pace in the same run. Counted: non-2xx responses
// and socket errors seen by wrk.
// Run: npx tsx bench/reload-under-load.ts [--changes 50] [--gap-ms 200]
import { parseArgs } from 'node:util';
import { createLogger } from '../operator/src/log.ts';
import { waitFor } from '../test/cluster/exec.ts';
import { get } from '../test/support/http.ts';
import { tempStandalone } from '../test/support/standalone-run.ts';
import { startPlainNginx } from './lib/plain-nginx.ts';
import { wrk, type WrkResult } from './lib/wrk.ts';

export interface ReloadRow {
  target: 'gateway, plain routes (route table)' | 'gateway, routes with a filter (server blocks)' | 'hand-written nginx';
  reloads: number;
  result: WrkResult;
}

const BACKEND_PORT = 18611;
const BASELINE_PORT = 18612;
const GATEWAY_PORT = 18613;
const HOST = 'steady.example.com';
const G = 'gateway.networking.k8s.io/v1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain route goes to the route table (no reload); one with a filter to a server block (a reload). */
const route = (name: string, host: string, filtered = false) => ({ apiVersion: G, kind: 'HTTPRoute', metadata: { name, namespace: 'bench' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: [host], rules: [{
  ...(filtered ? { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-change', value: name }] } }] } : {}),
  backendRefs: [{ name: 'backend', port: 80 }],
}] } });

export async function reloadBench(o: { changes: number; gapMs: number; log?: (m: string) => void }): Promise<ReloadRow[]> {
  const log = o.log ?? console.error;
  const seconds = Math.ceil((o.changes * o.gapMs) / 1000) + 3;
  const backend = await startPlainNginx(`server { listen 127.0.0.1:${BACKEND_PORT}; location / { return 200 "ok\\n"; } }`, 1);
  const rows: ReloadRow[] = [];
  for (const filtered of [false, true]) {
    const gw = tempStandalone('bench-reload');
    try {
      gw.write('base.yaml', [
        { apiVersion: G, kind: 'GatewayClass', metadata: { name: 'waygate' }, spec: { controllerName: 'waygate.dev/gateway-controller' } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } },
        { apiVersion: G, kind: 'Gateway', metadata: { name: 'gw', namespace: 'bench' }, spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }], listeners: [{ name: 'http', protocol: 'HTTP', port: GATEWAY_PORT }] } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'bench' }, spec: { ports: [{ name: 'http', port: 80 }] } },
        { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'backend-1', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'backend' } }, addressType: 'IPv4', ports: [{ name: 'http', port: BACKEND_PORT }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
        route('steady', HOST),
      ]);
      const sa = await gw.start(createLogger({ level: 'error' }));
      let reloads = 0;
      sa.agent.onVerdict((v) => { if (v.reloaded) reloads++; });
      await waitFor('the gateway to serve', async () => (await get('127.0.0.1', GATEWAY_PORT, '/', { host: HOST }).catch(() => undefined))?.status === 200 || undefined, 30_000);
      await sleep(500);
      reloads = 0;
      const load = wrk({ url: `http://127.0.0.1:${GATEWAY_PORT}/`, seconds, connections: 16, headers: { Host: HOST } });
      await sleep(1000);
      for (let i = 0; i < o.changes; i++) {
        gw.write(`change-${i}.yaml`, [route(`change-${i}`, `c${i}.example.com`, filtered)]);
        await sleep(o.gapMs);
      }
      rows.push({ target: filtered ? 'gateway, routes with a filter (server blocks)' : 'gateway, plain routes (route table)', reloads, result: await load });
    } finally {
      await gw.stop();
    }
  }
  const plain = await startPlainNginx([
    `upstream backend { server 127.0.0.1:${BACKEND_PORT}; keepalive 16; }`,
    `server { listen 127.0.0.1:${BASELINE_PORT}; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  ].join('\n'));
  try {
    await sleep(500);
    const load = wrk({ url: `http://127.0.0.1:${BASELINE_PORT}/`, seconds, connections: 16 });
    await sleep(1000);
    for (let i = 0; i < o.changes; i++) {
      await plain.hup();
      await sleep(o.gapMs);
    }
    rows.push({ target: 'hand-written nginx', reloads: o.changes, result: await load });
  } finally {
    await plain.stop();
    await backend.stop();
  }
  for (const r of rows) log(`  ${r.target}: ${r.reloads} reloads; ${r.result.requests} requests, ${r.result.non2xx} non-2xx, ${r.result.socketErrors} socket errors`);
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { changes: { type: 'string', default: '50' }, 'gap-ms': { type: 'string', default: '200' } } });
  console.log('reload under load: route changes while wrk runs (16 connections, keep-alive)');
  await reloadBench({ changes: Number(values.changes), gapMs: Number(values['gap-ms']), log: console.log });
  process.exit(0);
}

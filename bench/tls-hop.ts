// The agent's TLS hop (BackendTLSPolicy subjectAltNames) against nginx's own proxy_ssl:
// the same TLS backend (a plain nginx answering 200 itself, so the proxies are measured)
// behind two policies of one gateway, one without SANs (nginx verifies) and one with
// (nginx -> unix socket -> agent -> TLS). wrk with keep-alive, one connection (per-request
// latency) and 16 (throughput), rounds alternating between the two paths; medians printed.
// Run: npx tsx bench/tls-hop.ts [--seconds 5] [--rounds 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../operator/src/log.ts';
import { waitFor } from '../test/cluster/exec.ts';
import { get } from '../test/support/http.ts';
import { tempStandalone } from '../test/support/standalone-run.ts';
import { issue, makeCA } from '../test/support/test-ca.ts';
import { startPlainNginx } from './lib/plain-nginx.ts';
import { median, wrk, type WrkResult } from './lib/wrk.ts';

const BACKEND_PORT = 18611;
const GATEWAY_PORT = 18613;
const HOST = 'bench.example.com';
const NAME = 'backend.bench.svc';
const SPIFFE = 'spiffe://bench/ns/bench/sa/backend';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

const ca = makeCA('bench CA');
const cert = issue(ca, NAME, { dns: [NAME], uris: [SPIFFE] });
const certDir = mkdtempSync(join(tmpdir(), 'waygate-bench-tls-'));
writeFileSync(join(certDir, 'cert.pem'), cert.cert, { mode: 0o600 });
writeFileSync(join(certDir, 'key.pem'), cert.key, { mode: 0o600 });
const backend = await startPlainNginx(
  `server { listen 127.0.0.1:${BACKEND_PORT} ssl; ssl_certificate ${join(certDir, 'cert.pem')}; ssl_certificate_key ${join(certDir, 'key.pem')}; location / { return 200 "ok\\n"; } }`,
  1,
);
const gw = tempStandalone('bench-tls-hop');
const svc = (name: string) => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' }, spec: { ports: [{ name: 'https', port: 443 }] } },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'https', port: BACKEND_PORT }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
];
const policy = (name: string, extra: object) => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'BackendTLSPolicy', metadata: { name, namespace: 'bench' },
  spec: { targetRefs: [{ group: '', kind: 'Service', name }], validation: { hostname: NAME, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], ...extra } },
});
const rule = (path: string, name: string) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name, port: 443 }] });

const paths = { 'nginx proxy_ssl': '/direct', 'agent TLS hop': '/hop' } as const;
type Path = keyof typeof paths;
try {
  gw.write('all.yaml', [
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'waygate' }, spec: { controllerName: 'waygate.dev/gateway-controller' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'bench' }, spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }], listeners: [{ name: 'http', protocol: 'HTTP', port: GATEWAY_PORT }] } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ca', namespace: 'bench' }, data: { 'ca.crt': ca.cert } },
    ...svc('direct'), ...svc('hop'),
    policy('direct', {}),
    policy('hop', { subjectAltNames: [{ type: 'URI', uri: SPIFFE }] }),
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'bench' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: [HOST], rules: [rule('/direct', 'direct'), rule('/hop', 'hop')] } },
  ]);
  await gw.start(createLogger({ level: process.env.WAYGATE_LOG_LEVEL ?? 'error' }));
  for (const p of Object.values(paths)) {
    await waitFor(`${p} served`, async () => ((await get('127.0.0.1', GATEWAY_PORT, p, { host: HOST }).catch(() => undefined))?.status === 200 ? true : undefined), 30_000);
  }
  const results: Record<string, Record<Path, WrkResult[]>> = {};
  for (const [label, connections, threads] of [['1 connection', 1, 1], ['16 connections', 16, 2]] as const) {
    const runs: Record<Path, WrkResult[]> = { 'nginx proxy_ssl': [], 'agent TLS hop': [] };
    for (let i = 0; i < rounds; i++) {
      for (const name of (i % 2 ? ['agent TLS hop', 'nginx proxy_ssl'] : ['nginx proxy_ssl', 'agent TLS hop']) as Path[]) {
        const r = await wrk({ url: `http://127.0.0.1:${GATEWAY_PORT}${paths[name]}`, seconds, connections, threads, headers: { Host: HOST } });
        if (r.non2xx || r.socketErrors) console.log(`  ${name}, ${label}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`);
        runs[name].push(r);
      }
    }
    results[label] = runs;
  }
  console.log(`TLS hop vs nginx proxy_ssl, keep-alive, ${rounds} alternating rounds of ${seconds} s each (medians)`);
  console.log('| clients | path | requests/round | requests/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|---|---|');
  for (const [label, runs] of Object.entries(results)) {
    for (const [name, rs] of Object.entries(runs)) {
      const m = (f: (r: WrkResult) => number) => median(rs.map(f));
      console.log(`| ${label} | ${name} | ${m((r) => r.requests).toFixed(0)} | ${m((r) => r.requestsPerSecond).toFixed(0)} | ${m((r) => r.p50Ms).toFixed(3)} | ${m((r) => r.p99Ms).toFixed(3)} |`);
    }
    const d = median(runs['agent TLS hop'].map((r) => r.p50Ms)) - median(runs['nginx proxy_ssl'].map((r) => r.p50Ms));
    const t = median(runs['agent TLS hop'].map((r) => r.requestsPerSecond)) / median(runs['nginx proxy_ssl'].map((r) => r.requestsPerSecond));
    console.log(`| ${label} | hop - direct | | ×${t.toFixed(2)} | +${d.toFixed(3)} | |`);
  }
} finally {
  await gw.stop();
  await backend.stop();
  rmSync(certDir, { recursive: true, force: true });
}

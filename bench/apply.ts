// Apply-to-traffic benchmark on the test bed (a private instance on port base 33000):
//  1. time from `kubectl apply` of an HTTPRoute to the first 200 through nginx, 20 times;
//     baseline in the same run: the `kubectl apply` round trip alone, and the agent's
//     nginx -t + reload + verify time for the same versions;
//  2. nginx reloads caused by applying 100 routes in one `kubectl apply`.
// Run: npx tsx bench/apply.ts   (builds/starts the test bed; stops it at the end)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startAgent, type Verdict } from '../nginx/agent/index.ts';
import { createLogger } from '../operator/src/log.ts';
import { startOperator } from '../operator/src/modes/operator.ts';
import { startEcho } from '../examples/echo.ts';
import { defaultPorts, startCluster } from '../test/cluster/cluster.ts';
import { ensureNginx } from '../test/cluster/nginx.ts';
import { addLoopbackAlias, backendAddress } from '../test/cluster/network.ts';
import { get } from '../test/support/http.ts';

const G = 'gateway.networking.k8s.io';
const ADDRESS = '127.0.0.81';
const PORT = 18091;
const NS = 'bench';
const CONTROLLER = 'waygate.dev/bench';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

await ensureNginx();
const cluster = await startCluster({ stateDir: join(tmpdir(), 'waygate-bench-testbed'), ports: defaultPorts(33000), log: () => {} });
const dir = mkdtempSync(join(tmpdir(), 'waygate-bench-'));
try {
  await addLoopbackAlias();
  const echo = await startEcho('bench', 0, backendAddress);
  const list = (items: unknown[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  const route = (i: number) => ({
    apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name: `r${i}`, namespace: NS },
    spec: { parentRefs: [{ name: 'gw' }], hostnames: [`r${i}.bench.example.com`], rules: [{ backendRefs: [{ name: 'echo', port: 80 }] }] },
  });
  await cluster.kubectl(['apply', '-f', '-'], { input: list([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: 'bench' }, spec: { controllerName: CONTROLLER } },
    { apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'gw', namespace: NS }, spec: { gatewayClassName: 'bench', addresses: [{ type: 'IPAddress', value: ADDRESS }], listeners: [{ name: 'http', protocol: 'HTTP', port: PORT }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: NS }, spec: { ports: [{ name: 'http', port: 80 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'echo-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'echo' } }, addressType: 'IPv4', ports: [{ name: 'http', port: echo.port }], endpoints: [{ addresses: [backendAddress], conditions: { ready: true } }] },
  ]) });

  const logger = createLogger({ level: 'error' });
  const agent = await startAgent({ configRoot: join(dir, 'config'), runDir: join(dir, 'nginx'), logger });
  const verdicts: Verdict[] = [];
  agent.onVerdict((v) => verdicts.push(v));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfig);
  const op = await startOperator({ configRoot: join(dir, 'config'), controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'], logger, kubeConfig });

  const waitFor200 = async (host: string) => {
    for (;;) {
      const r = await get(ADDRESS, PORT, '/', { host }).catch(() => undefined);
      if (r?.status === 200) return;
      await new Promise((res) => setTimeout(res, 5));
    }
  };
  await new Promise((r) => setTimeout(r, 1000));

  const applyToTraffic: number[] = [];
  const kubectlOnly: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await cluster.kubectl(['apply', '-f', '-'], { input: list([route(i)]) });
    const t1 = performance.now();
    await waitFor200(`r${i}.bench.example.com`);
    applyToTraffic.push(performance.now() - t0);
    kubectlOnly.push(t1 - t0);
  }
  const agentMs = verdicts.filter((v) => v.reloaded).slice(-20).map((v) => v.durationMs);

  console.log('apply -> first 200 through nginx (20 routes, one at a time)');
  console.log(`  median ${median(applyToTraffic).toFixed(0)} ms, p90 ${pct(applyToTraffic, 0.9).toFixed(0)} ms, min ${Math.min(...applyToTraffic).toFixed(0)} ms`);
  console.log(`  baseline: kubectl apply alone median ${median(kubectlOnly).toFixed(0)} ms; agent nginx -t + reload + verify median ${median(agentMs).toFixed(0)} ms`);
  console.log(`  ratio apply->200 / kubectl apply: ${(median(applyToTraffic) / median(kubectlOnly)).toFixed(2)}`);

  const reloadsBefore = verdicts.filter((v) => v.reloaded).length;
  const versionsBefore = op.controller.stats.versionsWritten;
  const t0 = performance.now();
  await cluster.kubectl(['apply', '-f', '-'], { input: list(Array.from({ length: 100 }, (_, i) => route(100 + i))) });
  for (let i = 100; i < 200; i++) await waitFor200(`r${i}.bench.example.com`);
  const allServing = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 1500)); // let any trailing version land
  console.log('100 routes in one kubectl apply');
  console.log(`  all 100 serving after ${allServing.toFixed(0)} ms; config versions written: ${op.controller.stats.versionsWritten - versionsBefore}; nginx reloads: ${verdicts.filter((v) => v.reloaded).length - reloadsBefore}`);

  await op.stop();
  await agent.stop();
  await echo.close();
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

// Test-bed benchmarks (issue #14 §2–4) on a private test bed (port base 31000, below the ephemeral range): the real
// kube-apiserver, the operator watching it, the agent's nginx.
//  §2 change-to-traffic: with 0, 100, 1,000, 10,000 existing routes, create one route through
//     the API (and separately with kubectl) and time the first correct response through
//     nginx, and the time until its status is written; median and p95 over the samples.
//  §3 burst: 1,000 routes created at once: reloads, time until all serve, until all statuses.
//  §4 endpoint churn: a backend's EndpointSlice scaled up and down 100 times under steady
//     load: reloads, failed requests, requests that reached an endpoint after its removal.
// Run: npx tsx bench/testbed.ts [--existing 0,100,1000,10000] [--samples 20] [--burst 1000] [--churn 100]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CustomObjectsApi, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Verdict } from '../nginx/agent/index.ts';
import { createLogger } from '../operator/src/log.ts';
import { startOperator } from '../operator/src/modes/operator.ts';
import { startEcho, type EchoServer } from '../examples/echo.ts';
import { defaultPorts, startCluster, type Cluster } from '../test/cluster/cluster.ts';
import { ensureNginx } from '../test/cluster/nginx.ts';
import { addLoopbackAlias, backendAddress } from '../test/cluster/network.ts';
import { get } from '../test/support/http.ts';
import { startAgentProcess } from './lib/agent-process.ts';
import { BENCH_NS, mixRoute, mixServices, routeProbe } from './lib/routes.ts';
import { median } from './lib/wrk.ts';

const G = 'gateway.networking.k8s.io';
const ADDRESS = '127.0.0.81';
const PORT = 18091;
const CONTROLLER = 'waygate.dev/bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!;

export interface LatencyRow { existing: number; via: 'API' | 'kubectl'; firstOkMedianMs: number; firstOkP95Ms: number; statusMedianMs: number; statusP95Ms: number }
export interface BurstRow { routes: number; reloads: number; versions: number; allServingMs: number; allStatusMs: number }
export interface ChurnRow { changes: number; reloads: number; requests: number; failed: number; toRemoved: number }
export interface TestbedResults { latency: LatencyRow[]; burst?: BurstRow; churn?: ChurnRow }

interface Env {
  cluster: Cluster;
  configRoot: string;
  custom: CustomObjectsApi;
  discovery: DiscoveryV1Api;
  verdicts: Verdict[];
  versionsWritten: () => number;
  echo: EchoServer;
}

const serves = async (host: string, path = '/') => (await get(ADDRESS, PORT, path, { host, timeoutMs: 2000 }).catch(() => undefined))?.status === 200;
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 600_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const simpleRoute = (name: string, host: string, service = 'echo') => ({ apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name, namespace: BENCH_NS }, spec: { parentRefs: [{ name: 'gw' }], hostnames: [host], rules: [{ backendRefs: [{ name: service, port: 80 }] }] } });

async function statusWritten(env: Env, name: string): Promise<boolean> {
  const r = (await env.custom.getNamespacedCustomObject({ group: G, version: 'v1', namespace: BENCH_NS, plural: 'httproutes', name }).catch(() => undefined)) as { status?: { parents?: { controllerName: string; conditions?: { type: string; status: string }[] }[] } } | undefined;
  return !!r?.status?.parents?.some((p) => p.controllerName === CONTROLLER && p.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True'));
}

/** Creates `total` mix routes (beyond those present), in chunks, and waits until the last serves. */
async function growTo(env: Env, have: number, total: number): Promise<void> {
  if (total <= have) return;
  const o = { gateway: 'gw', endpoint: () => ({ address: backendAddress, port: env.echo.port }) };
  const list = (items: unknown[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  const services = mixServices(total, o);
  await env.cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: list(services), timeoutMs: 600_000 });
  for (let i = have; i < total; i += 500) {
    await env.cluster.kubectl(['create', '-f', '-'], { input: list(Array.from({ length: Math.min(500, total - i) }, (_, k) => mixRoute(i + k, o))), timeoutMs: 600_000 });
  }
  const last = routeProbe(total - 1);
  await until(`${total} routes to serve`, () => serves(last.host, last.path), 900_000, 200);
}

/** Deletes routes and waits until nginx no longer serves `gone` (the last of them). */
async function removeRoutes(env: Env, names: readonly string[], gone: string): Promise<void> {
  for (let i = 0; i < names.length; i += 500) {
    await env.cluster.kubectl(['delete', 'httproute', '-n', BENCH_NS, '--wait=false', ...names.slice(i, i + 500)], { timeoutMs: 600_000 });
  }
  await until(`${names.length} routes to be removed`, async () => !(await serves(gone)), 600_000, 50);
}

async function latency(env: Env, existing: number, samples: number, log: (m: string) => void): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  const probes: string[] = [];
  for (const via of ['API', 'kubectl'] as const) {
    const firstOk: number[] = [];
    const status: number[] = [];
    for (let i = 0; i < samples; i++) {
      const name = `probe-${existing}-${via.toLowerCase()}-${i}`;
      const host = `${name}.probe.example.com`;
      const body = simpleRoute(name, host);
      const t0 = performance.now();
      if (via === 'API') await env.custom.createNamespacedCustomObject({ group: G, version: 'v1', namespace: BENCH_NS, plural: 'httproutes', body });
      else await env.cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(body) });
      let okAt = 0;
      let statusAt = 0;
      // Two loops: a status read (an API request) must not delay seeing the first 200, nor the other way round.
      await Promise.all([
        until(`${name} to serve`, async () => !!(okAt ||= (await serves(host)) ? performance.now() : 0), 120_000, 2),
        until(`${name}'s status`, async () => !!(statusAt ||= (await statusWritten(env, name)) ? performance.now() : 0), 120_000, 2),
      ]);
      firstOk.push(okAt - t0);
      status.push(statusAt - t0);
      probes.push(name);
    }
    const row = { existing, via, firstOkMedianMs: median(firstOk), firstOkP95Ms: p95(firstOk), statusMedianMs: median(status), statusP95Ms: p95(status) };
    rows.push(row);
    log(`  ${String(existing).padStart(6)} existing, via ${via.padEnd(7)}: first 200 median ${row.firstOkMedianMs.toFixed(0)} ms, p95 ${row.firstOkP95Ms.toFixed(0)} ms; status median ${row.statusMedianMs.toFixed(0)} ms, p95 ${row.statusP95Ms.toFixed(0)} ms`);
  }
  // Probes counted as new, not as the next size's existing routes.
  await removeRoutes(env, probes, `${probes.at(-1)}.probe.example.com`);
  return rows;
}

async function burst(env: Env, n: number, log: (m: string) => void): Promise<BurstRow> {
  const reloadsBefore = env.verdicts.filter((v) => v.reloaded).length;
  const versionsBefore = env.versionsWritten();
  const names = Array.from({ length: n }, (_, i) => `burst-${i}`);
  const t0 = performance.now();
  await env.cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: names.map((name) => simpleRoute(name, `${name}.burst.example.com`)) }), timeoutMs: 600_000 });
  await until(`the burst's last route to serve`, async () => serves(`${names.at(-1)}.burst.example.com`), 600_000, 20);
  for (const name of names) await until(`${name} to serve`, async () => serves(`${name}.burst.example.com`), 600_000, 20);
  const allServingMs = performance.now() - t0;
  for (const name of names) await until(`${name}'s status`, () => statusWritten(env, name), 600_000, 50);
  const allStatusMs = performance.now() - t0;
  await sleep(1500); // trailing versions
  const row = { routes: n, reloads: env.verdicts.filter((v) => v.reloaded).length - reloadsBefore, versions: env.versionsWritten() - versionsBefore, allServingMs, allStatusMs };
  log(`  burst of ${n}: ${row.reloads} reloads (${row.versions} versions written), all serving after ${allServingMs.toFixed(0)} ms, all statuses after ${allStatusMs.toFixed(0)} ms`);
  // The latency rows count their existing routes: the burst's must be gone before them.
  await removeRoutes(env, names, `${names.at(-1)}.burst.example.com`);
  return row;
}

/** Until the agent has reported no new verdict for a second: the last reload's verdict is in. */
async function settled(env: Env): Promise<void> {
  let seen = -1;
  let since = performance.now();
  await until('the agent to settle', async () => {
    if (env.verdicts.length !== seen) {
      seen = env.verdicts.length;
      since = performance.now();
    }
    return performance.now() - since > 1000;
  }, 120_000, 50);
}

/** The files of a version that differ from the previous version on disk, with their first differing line. */
function changedFiles(configRoot: string, version: string): string {
  const dir = (v: string) => join(configRoot, 'versions', v);
  const previous = String(BigInt(version) - 1n);
  if (!existsSync(dir(previous))) return 'no previous version on disk';
  const out: string[] = [];
  for (const f of readdirSync(dir(version)).filter((n) => n !== 'meta.json')) {
    const a = existsSync(join(dir(previous), f)) ? readFileSync(join(dir(previous), f), 'utf8').split('\n') : [];
    const b = readFileSync(join(dir(version), f), 'utf8').split('\n');
    const i = b.findIndex((line, k) => line !== a[k]);
    if (i >= 0 || a.length !== b.length) out.push(`${f} line ${i + 1}: ${JSON.stringify(a[i] ?? '')} -> ${JSON.stringify(b[i] ?? '')}`);
  }
  return out.join('; ') || 'no file differs from the previous version';
}

async function churn(env: Env, changes: number, log: (m: string) => void): Promise<ChurnRow> {
  const backends = await Promise.all([0, 1, 2, 3].map((i) => startEcho(`churn-${i}`, 0, backendAddress)));
  // Each backend listens on its own port, so each gets its own EndpointSlice (ports are per slice).
  const sliceOf = (i: number) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `churn-${i}`, namespace: BENCH_NS, labels: { 'kubernetes.io/service-name': 'churn' } }, addressType: 'IPv4', ports: [{ name: 'http', port: backends[i]!.port }], endpoints: [{ addresses: [backendAddress], conditions: { ready: true } }] });
  try {
    await env.cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'churn', namespace: BENCH_NS }, spec: { ports: [{ name: 'http', port: 80 }] } },
      sliceOf(0), sliceOf(1), simpleRoute('churn', 'churn.example.com', 'churn'),
    ] }) });
    await until('the churn route', () => serves('churn.example.com'), 60_000, 20);
    // The route serves once the new workers answer; the agent reports that reload a moment later
    // (old workers stopped, peers pruned). Count from after it, not from inside it.
    await settled(env);
    const reloadsBefore = env.verdicts.filter((v) => v.reloaded).length;
    // removedSince[i]: when backend i's slice was deleted (undefined while it is in the Service).
    const removedSince: (number | undefined)[] = [undefined, undefined, performance.now(), performance.now()];
    let requests = 0;
    let failed = 0;
    let toRemoved = 0;
    let running = true;
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
    const one = () => new Promise<void>((resolve) => {
      const req = request({ host: ADDRESS, port: PORT, path: '/', headers: { host: 'churn.example.com' }, agent, timeout: 5000 }, (res) => {
        const backend = String(res.headers['x-backend'] ?? '');
        res.resume().on('end', () => {
          requests++;
          if (res.statusCode !== 200) failed++;
          const i = Number(backend.replace('churn-', ''));
          if (removedSince[i] !== undefined) toRemoved++;
          resolve();
        });
      });
      req.on('error', () => { requests++; failed++; resolve(); }).on('timeout', () => req.destroy(new Error('timeout'))).end();
    });
    const workers = Array.from({ length: 8 }, async () => { while (running) await one(); });
    for (let c = 0; c < changes; c++) {
      const up = c % 2 === 0;
      if (up) {
        for (const i of [2, 3]) { await env.cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(sliceOf(i)) }); removedSince[i] = undefined; }
      } else {
        for (const i of [2, 3]) { removedSince[i] = performance.now(); await env.discovery.deleteNamespacedEndpointSlice({ name: `churn-${i}`, namespace: BENCH_NS }); }
      }
      await sleep(300);
    }
    running = false;
    await Promise.all(workers);
    agent.destroy();
    const row = { changes, reloads: env.verdicts.filter((v) => v.reloaded).length - reloadsBefore, requests, failed, toRemoved };
    // A reload during churn is a finding: say which versions and what changed in their files.
    const reloaded = env.verdicts.filter((v) => v.reloaded).slice(reloadsBefore);
    for (const v of reloaded) log(`  churn reload: version ${v.version}: ${changedFiles(env.configRoot, v.version)}`);
    log(`  (hits per backend: ${backends.map((b) => b.requests).join(', ')})`);
    log(`  endpoint churn, ${changes} changes: ${row.reloads} reloads, ${requests} requests, ${failed} failed, ${toRemoved} reached an endpoint after its removal`);
    return row;
  } finally {
    for (const b of backends) await b.close();
  }
}

export async function testbedBench(o: { existing: number[]; samples: number; burst: number; churn: number; log?: (m: string) => void }): Promise<TestbedResults> {
  const log = o.log ?? console.error;
  await ensureNginx();
  const cluster = await startCluster({ stateDir: join(tmpdir(), 'waygate-bench-testbed'), ports: defaultPorts(31000), log: () => {} });
  const dir = mkdtempSync(join(tmpdir(), 'waygate-bench-'));
  const results: TestbedResults = { latency: [] };
  try {
    await addLoopbackAlias();
    const echo = await startEcho('bench', 0, backendAddress);
    await cluster.kubectl(['delete', 'namespace', BENCH_NS, '--ignore-not-found', '--wait=true'], { timeoutMs: 600_000 });
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: BENCH_NS } },
      { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: 'bench' }, spec: { controllerName: CONTROLLER } },
      { apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'gw', namespace: BENCH_NS }, spec: { gatewayClassName: 'bench', addresses: [{ type: 'IPAddress', value: ADDRESS }], listeners: [{ name: 'http', protocol: 'HTTP', port: PORT }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: BENCH_NS }, spec: { ports: [{ name: 'http', port: 80 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'echo-1', namespace: BENCH_NS, labels: { 'kubernetes.io/service-name': 'echo' } }, addressType: 'IPv4', ports: [{ name: 'http', port: echo.port }], endpoints: [{ addresses: [backendAddress], conditions: { ready: true } }] },
    ] }) });
    const logger = createLogger({ level: process.env.BENCH_LOG ?? 'error' });
    // The agent in its own process, as in the pod (the nginx sidecar): it does not wait for the operator's event loop.
    const agent = await startAgentProcess(join(dir, 'config'), join(dir, 'nginx'));
    const verdicts: Verdict[] = [];
    agent.onVerdict((v) => verdicts.push(v));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfig);
    const op = await startOperator({ configRoot: join(dir, 'config'), controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'], logger, kubeConfig, socketDir: agent.socketDir });
    const env: Env = { cluster, configRoot: join(dir, 'config'), custom: kubeConfig.makeApiClient(CustomObjectsApi), discovery: kubeConfig.makeApiClient(DiscoveryV1Api), verdicts, versionsWritten: () => op.controller.stats.versionsWritten, echo };
    try {
      if (o.churn) results.churn = await churn(env, o.churn, log);
      if (o.burst) results.burst = await burst(env, o.burst, log);
      let have = 0;
      for (const n of [...o.existing].sort((a, b) => a - b)) {
        await growTo(env, have, n);
        have = Math.max(have, n);
        results.latency.push(...(await latency(env, n, o.samples, log)));
      }
    } finally {
      await op.stop();
      await agent.stop();
      await echo.close();
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { existing: { type: 'string', default: '0,100,1000,10000' }, samples: { type: 'string', default: '20' }, burst: { type: 'string', default: '1000' }, churn: { type: 'string', default: '100' } } });
  console.log('test bed: change-to-traffic latency, burst, endpoint churn');
  await testbedBench({ existing: values.existing.split(',').filter(Boolean).map(Number), samples: Number(values.samples), burst: Number(values.burst), churn: Number(values.churn), log: console.log });
  process.exit(0);
}

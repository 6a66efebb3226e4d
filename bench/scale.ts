// Render-scale benchmark (issue #14 §1): 100, 1,000 and 10,000 HTTPRoutes of a realistic
// mix (bench/lib/routes.ts). Per size: graph + model + render time (the operator's
// buildConfiguration, median of 3), config bytes per route, heap and RSS of this process
// holding the store and the result, `nginx -t` on the rendered config (median of 3), and
// the agent's apply time for a one-route change (nginx -t + reload + verification, median
// of 3). Baseline in the same run: the same measures for the smallest size (per-route
// ratios: ≈1 means linear). Run: npx tsx --expose-gc bench/scale.ts [--sizes 100,1000,10000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAgent, type Verdict } from '../nginx/agent/index.ts';
import { ConfigWriter } from '../operator/src/apply/writer.ts';
import { createLogger } from '../operator/src/log.ts';
import type { KubeObject } from '../operator/src/objects.ts';
import { buildConfiguration } from '../operator/src/pipeline.ts';
import { tryRun } from '../test/cluster/exec.ts';
import { ensureNginx } from '../test/cluster/nginx.ts';
import { CONTROLLER, gateway, gatewayClass, namespace, storeOf } from '../test/support/objects.ts';
import { BENCH_NS, mixRoute, mixServices } from './lib/routes.ts';
import { median } from './lib/wrk.ts';

export interface ScaleRow {
  routes: number;
  renderMs: number;
  configBytes: number;
  bytesPerRoute: number;
  /** Config bytes per route when every route is simple (one hostname, rule and backend). */
  simpleBytesPerRoute: number;
  heapMiB: number;
  /** Heap held by the store and the result (heap after minus heap before the objects existed). */
  heapForRoutesMiB: number;
  rssMiB: number;
  nginxTestMs: number;
  /** A change that reloads (nginx -t, reload, verification). */
  applyMs: number;
  /** A route-table change: the agent's push, no reload. */
  pushMs: number;
  /** Of configBytes: what nginx parses (the rest is the route table and the peers). */
  httpConfBytes: number;
}

const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

/** The mix; route `changed` gets another hostname (a route-table change when the route is plain), `filtered` a filter (a server block: a reload). */
function objects(n: number, changed = -1, filtered = -1): KubeObject[] {
  const o = { gateway: 'gw', endpoint: (s: number) => ({ address: `10.1.${(s >> 8) & 255}.${s & 255}`, port: 8080 }) };
  return [
    gatewayClass(), namespace(BENCH_NS),
    gateway(BENCH_NS, 'gw', [{ port: 18621 }], { addresses: [{ type: 'IPAddress', value: '127.0.0.1' }] }),
    ...mixServices(n, o),
    ...Array.from({ length: n }, (_, i) => {
      const r = mixRoute(i, o);
      if (i === changed) (r.spec as { hostnames: string[] }).hostnames.push('changed.example.com');
      if (i === filtered) (r.spec as { rules: { filters?: object[] }[] }).rules[0]!.filters = [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-changed', value: '1' }] } }];
      return r;
    }),
  ];
}

/** Config bytes per route for n simple routes (one hostname, one rule, one backend each). */
export function simpleRouteBytes(n: number): number {
  const objs: KubeObject[] = [gatewayClass(), namespace(BENCH_NS), gateway(BENCH_NS, 'gw', [{ port: 18621 }], { addresses: [{ type: 'IPAddress', value: '127.0.0.1' }] })];
  for (let i = 0; i < n; i++) {
    objs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `simple-${i}`, namespace: BENCH_NS }, spec: { ports: [{ name: 'http', port: 80 }] } } as KubeObject);
    objs.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `simple-${i}-1`, namespace: BENCH_NS, labels: { 'kubernetes.io/service-name': `simple-${i}` } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: [`10.2.${(i >> 8) & 255}.${i & 255}`], conditions: { ready: true } }] } as unknown as KubeObject);
    objs.push({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: `simple-${i}`, namespace: BENCH_NS }, spec: { parentRefs: [{ name: 'gw' }], hostnames: [`s${i}.example.com`], rules: [{ backendRefs: [{ name: `simple-${i}`, port: 80 }] }] } } as KubeObject);
  }
  const r = buildConfiguration(storeOf(...objs).snapshot(), { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'] });
  return Object.values(r.config.files).reduce((s, f) => s + Buffer.byteLength(f), 0) / n;
}

export async function scaleBench(sizes: number[], log: (m: string) => void = console.error): Promise<ScaleRow[]> {
  const nginx = await ensureNginx();
  const rows: ScaleRow[] = [];
  for (const n of sizes) {
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const snapshot = storeOf(...objects(n)).snapshot();
    const opts = { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'] };
    const times: number[] = [];
    let result = buildConfiguration(snapshot, opts);
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      result = buildConfiguration(snapshot, opts);
      times.push(performance.now() - t0);
    }
    const unserved = result.graph.routes.filter((r) => r.problem || r.rules.some((x) => x.problem)).length;
    if (unserved) log(`  warning: ${unserved} of ${n} routes have problems`);
    gc?.();
    const mem = process.memoryUsage();
    const configBytes = Object.values(result.config.files).reduce((s, f) => s + Buffer.byteLength(f), 0);

    const dir = mkdtempSync(join(tmpdir(), 'waygate-bench-scale-'));
    const agent = await startAgent({ configRoot: join(dir, 'config'), runDir: join(dir, 'nginx'), logger: createLogger({ level: 'error' }), accessLog: false });
    try {
      const verdicts: Verdict[] = [];
      agent.onVerdict((v) => verdicts.push(v));
      const writer = new ConfigWriter(join(dir, 'config'));
      const apply = async (config: typeof result.config) => {
        const version = writer.write(config);
        for (;;) {
          const v = verdicts.find((x) => x.version === version);
          if (v) { if (!v.ok) throw new Error(`nginx refused ${n} routes: ${v.error}`); return v; }
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      await apply(result.config);
      const nginxTest: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const r = await tryRun(nginx.binary, ['-t', '-q', '-p', join(dir, 'nginx'), '-c', join(dir, 'nginx', 'nginx.conf')]);
        nginxTest.push(performance.now() - t0);
        if (r.code !== 0) throw new Error(`nginx -t: ${r.stderr}`);
      }
      // A reload: a route that gains a filter leaves the route table for a server block.
      const applies: number[] = [];
      for (let i = 0; i < 3; i++) {
        const changed = buildConfiguration(storeOf(...objects(n, -1, 1 + i)).snapshot(), opts).config;
        const v = await apply(changed);
        if (!v.reloaded) throw new Error(`${n} routes: a filter change was not reloaded`);
        applies.push(v.durationMs);
      }
      await apply(result.config);
      // A push: a plain route's new hostname is a route-table change.
      const plain = Array.from({ length: n }, (_, i) => i).filter((i) => !JSON.stringify(mixRoute(i, { gateway: 'gw', endpoint: () => ({ address: '', port: 0 }) })).includes('RegularExpression'));
      const pushes: number[] = [];
      for (let i = 0; i < 3; i++) {
        const changed = buildConfiguration(storeOf(...objects(n, plain[5 + i]!)).snapshot(), opts).config;
        const v = await apply(changed);
        if (v.reloaded) throw new Error(`${n} routes: a route-table change was reloaded`);
        pushes.push(v.durationMs);
      }
      const row = { routes: n, renderMs: median(times), configBytes, bytesPerRoute: configBytes / n, simpleBytesPerRoute: simpleRouteBytes(n), heapMiB: mem.heapUsed / MiB, heapForRoutesMiB: (mem.heapUsed - heapBefore) / MiB, rssMiB: mem.rss / MiB, nginxTestMs: median(nginxTest), applyMs: median(applies), pushMs: median(pushes), httpConfBytes: Buffer.byteLength(result.config.files['http.conf'] ?? '') };
      rows.push(row);
      log(`  ${String(n).padStart(6)} routes: render ${row.renderMs.toFixed(0)} ms, config ${(configBytes / 1024).toFixed(0)} KiB (${row.bytesPerRoute.toFixed(0)} B/route; simple routes ${row.simpleBytesPerRoute.toFixed(0)} B/route), heap ${row.heapMiB.toFixed(0)} MiB (${row.heapForRoutesMiB.toFixed(0)} MiB for the routes), RSS ${row.rssMiB.toFixed(0)} MiB, http.conf ${(row.httpConfBytes / 1024).toFixed(0)} KiB, nginx -t ${row.nginxTestMs.toFixed(0)} ms, apply with a reload (nginx -t + reload + verify) ${row.applyMs.toFixed(0)} ms, route-table change (push) ${row.pushMs.toFixed(0)} ms`);
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const base = rows[0]!;
  for (const r of rows.slice(1)) log(`  per-route ratio ${r.routes} vs ${base.routes}: render ${((r.renderMs / r.routes) / (base.renderMs / base.routes)).toFixed(2)}, nginx -t ${((r.nginxTestMs / r.routes) / (base.nginxTestMs / base.routes)).toFixed(2)}`);
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '100,1000,10000' } } });
  if (!gc) console.log('(run with --expose-gc for heap figures after a collection)');
  console.log('render scale: realistic route mix');
  await scaleBench(values.sizes.split(',').map(Number), console.log);
  process.exit(0);
}

// Render benchmark: time of graph + model + render for N HTTPRoutes, two shapes (one
// hostname per route; all routes on one hostname with distinct path prefixes), median
// of 5 runs, and the ratio of time per route against the smallest N (≈1 = linear).
// Run: npx tsx bench/render.ts
import { buildHttpModel } from '../operator/src/dataplane/build.ts';
import { buildGraph } from '../operator/src/graph/graph.ts';
import type { KubeObject } from '../operator/src/objects.ts';
import { renderConfig } from '../operator/src/render/render.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, service, storeOf } from '../test/support/objects.ts';

function objects(n: number, shape: 'hosts' | 'paths'): KubeObject[] {
  const out: KubeObject[] = [gatewayClass(), gateway('app', 'gw', [{ port: 80 }], { addresses: [{ type: 'IPAddress', value: '127.0.0.30' }] })];
  for (let i = 0; i < n; i++) {
    out.push(...service('app', `svc-${i}`, 80, [`10.1.${i >> 8}.${i & 255}:8080`]));
    out.push(httpRoute('app', `route-${i}`, {
      parentRefs: [{ name: 'gw' }],
      hostnames: shape === 'hosts' ? [`h${i}.example.com`] : ['one.example.com'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: `/p${i}` }, headers: [{ name: 'x-canary', value: 'yes' }] }], backendRefs: [{ name: `svc-${i}`, port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: `/p${i}` } }], backendRefs: [{ name: `svc-${i}`, port: 80 }] },
      ],
    }));
  }
  return out;
}

function time(objs: KubeObject[]): { ms: number; bytes: number } {
  const snapshot = storeOf(...objs).snapshot();
  const runs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const config = renderConfig(buildHttpModel(buildGraph(snapshot, { controllerName: CONTROLLER, supportedFeatures: [] })));
    runs.push(performance.now() - t0);
    bytes = config.files['http.conf'].length;
  }
  return { ms: runs.sort((a, b) => a - b)[2], bytes };
}

time(objects(50, 'hosts')); // warm up the JIT and the template compiler
console.log('shape  |   routes |  median ms | µs/route | ratio to first | http.conf');
for (const shape of ['hosts', 'paths'] as const) {
  let base: number | undefined;
  for (const n of [100, 1000, 5000]) {
    const { ms, bytes } = time(objects(n, shape));
    const perRoute = (ms * 1000) / n;
    base ??= perRoute;
    console.log(`${shape.padEnd(6)} | ${String(n).padStart(8)} | ${ms.toFixed(1).padStart(10)} | ${perRoute.toFixed(1).padStart(8)} | ${(perRoute / base).toFixed(2).padStart(14)} | ${(bytes / 1024).toFixed(0)} KiB`);
  }
}

// A realistic mix of N HTTPRoutes for the benchmarks: hostnames shared by ~20 routes each
// (some wildcard), PathPrefix and Exact paths, some header and query matches, a few regex
// paths, some canary splits with weights, and Services shared by ~5 routes each.
import type { KubeObject } from '../../operator/src/objects.ts';

const G = 'gateway.networking.k8s.io/v1';
export const BENCH_NS = 'bench';

export interface MixOptions {
  /** Gateway the routes attach to. */
  gateway: string;
  /** Endpoint address (and port) every Service's slice lists, or one per Service. */
  endpoint: (serviceIndex: number) => { address: string; port: number };
}

/** Deterministic pseudo-random in [0, 1) from an index (no Math.random: runs are comparable). */
const rand = (i: number, salt: number) => {
  let x = (i * 2654435761 + salt * 40503) >>> 0;
  x ^= x >>> 16; x = Math.imul(x, 2246822507) >>> 0; x ^= x >>> 13;
  return (x >>> 0) / 2 ** 32;
};

export const routeHost = (i: number) => (i % 97 === 0 ? `*.w${Math.floor(i / 20)}.example.com` : `h${Math.floor(i / 20)}.example.com`);

/** A request that route i's first rule answers: host and path. */
export const routeProbe = (i: number) => ({ host: routeHost(i).replace('*', 'x'), path: `/svc${i}/` });

export function mixRoute(i: number, o: MixOptions): KubeObject {
  const svc = (k: number) => ({ name: `svc-${Math.floor(i / 5) + k}`, port: 80 });
  const first = { matches: [{ path: { type: 'PathPrefix', value: `/svc${i}` } }], backendRefs: [svc(0)] };
  const rules: unknown[] = [first];
  const r = rand(i, 1);
  if (r < 0.15) rules.unshift({ matches: [{ path: { type: 'PathPrefix', value: `/svc${i}` }, headers: [{ name: 'x-canary', value: 'true' }] }], backendRefs: [{ ...svc(0), weight: 90 }, { ...svc(1), weight: 10 }] });
  else if (r < 0.25) rules.push({ matches: [{ path: { type: 'Exact', value: `/svc${i}/health` } }], backendRefs: [svc(0)] });
  else if (r < 0.3) rules.push({ matches: [{ path: { type: 'PathPrefix', value: `/svc${i}/api` }, queryParams: [{ name: 'version', value: 'v2' }] }], backendRefs: [svc(1)] });
  else if (r < 0.32) rules.push({ matches: [{ path: { type: 'RegularExpression', value: `/svc${i}/items/[0-9]+` } }], backendRefs: [svc(0)] });
  return { apiVersion: G, kind: 'HTTPRoute', metadata: { name: `route-${i}`, namespace: BENCH_NS }, spec: { parentRefs: [{ name: o.gateway }], hostnames: [routeHost(i)], rules } } as KubeObject;
}

/** The Services (and EndpointSlices) the first n routes use. */
export function mixServices(n: number, o: MixOptions): KubeObject[] {
  const out: KubeObject[] = [];
  for (let s = 0; s <= Math.floor(n / 5) + 1; s++) {
    const { address, port } = o.endpoint(s);
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${s}`, namespace: BENCH_NS }, spec: { ports: [{ name: 'http', port: 80 }] } } as KubeObject);
    out.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `svc-${s}-1`, namespace: BENCH_NS, labels: { 'kubernetes.io/service-name': `svc-${s}` } }, addressType: 'IPv4', ports: [{ name: 'http', port }], endpoints: [{ addresses: [address], conditions: { ready: true } }] } as unknown as KubeObject);
  }
  return out;
}

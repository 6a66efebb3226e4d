// Compact builders for Gateway API and core objects in tests. Defaults mirror what the
// API server fills in, so graph tests see objects shaped as in a cluster.
import type { KubeObject } from '../../operator/src/objects.ts';
import { Store } from '../../operator/src/store.ts';

export const CONTROLLER = 'waygate.dev/gateway-controller';
const G = 'gateway.networking.k8s.io';

export function gatewayClass(name = 'waygate', controllerName = CONTROLLER, extra: any = {}): KubeObject {
  return { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name, generation: 1 }, spec: { controllerName, ...extra } };
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

export interface ListenerSpec { name?: string; port?: number; protocol?: string; hostname?: string; allowedRoutes?: any; tls?: any }

export function gateway(ns: string, name: string, listeners: ListenerSpec[] = [{}], extra: any = {}): KubeObject {
  return {
    apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name, namespace: ns, generation: 1 },
    spec: {
      gatewayClassName: 'waygate',
      listeners: listeners.map((l, i) => ({ name: l.name ?? `l${i}`, port: l.port ?? 80, protocol: l.protocol ?? 'HTTP', ...(l.hostname ? { hostname: l.hostname } : {}), ...(l.tls ? { tls: l.tls } : {}), allowedRoutes: l.allowedRoutes ?? { namespaces: { from: 'Same' } } })),
      ...extra,
    },
  };
}

export function httpRoute(ns: string, name: string, spec: any, meta: any = {}): KubeObject {
  const parentRefs = (spec.parentRefs ?? [{ name: 'gw' }]).map((p: any) => ({ group: G, kind: 'Gateway', ...p }));
  const rules = (spec.rules ?? [{ backendRefs: [{ name: 'svc', port: 80 }] }]).map((r: any) => ({
    ...r,
    matches: r.matches ?? [{ path: { type: 'PathPrefix', value: '/' } }],
    backendRefs: (r.backendRefs ?? []).map((b: any) => ({ group: '', kind: 'Service', weight: 1, ...b })),
  }));
  return { apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name, namespace: ns, generation: 1, ...meta }, spec: { ...spec, parentRefs, rules } };
}

/**
 * A selector-less Service with one EndpointSlice listing the given ready addresses: the
 * shape of backends on the test bed too, which runs processes, not pods, behind them.
 */
export function service(ns: string, name: string, port = 80, endpoints: string[] = ['10.0.0.1:8080']): KubeObject[] {
  const targetPort = Number(endpoints[0]?.split(':')[1] ?? 8080);
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ name: 'http', port, protocol: 'TCP', targetPort }] } },
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: targetPort, protocol: 'TCP' }],
      endpoints: endpoints.map((e) => ({ addresses: [e.split(':')[0]], conditions: { ready: true } })),
    },
  ];
}

export function referenceGrant(ns: string, name: string, from: { kind: string; namespace: string }[], to: { kind: string; name?: string }[]): KubeObject {
  return { apiVersion: `${G}/v1beta1`, kind: 'ReferenceGrant', metadata: { name, namespace: ns }, spec: { from: from.map((f) => ({ group: G, ...f })), to: to.map((t) => ({ group: '', ...t })) } };
}

export function storeOf(...objects: (KubeObject | KubeObject[])[]): Store {
  const s = new Store();
  for (const o of objects.flat()) s.upsert(o);
  return s;
}

/** A route of a kind other than HTTPRoute (GRPCRoute, TLSRoute, TCPRoute, UDPRoute) with one rule to svc:80. */
export function otherRoute(kind: 'GRPCRoute' | 'TLSRoute' | 'TCPRoute' | 'UDPRoute', ns: string, name: string, spec: any = {}): KubeObject {
  const parentRefs = (spec.parentRefs ?? [{ name: 'gw' }]).map((p: any) => ({ group: G, kind: 'Gateway', ...p }));
  const rules = (spec.rules ?? [{ backendRefs: [{ name: 'svc', port: 80 }] }]).map((r: any) => ({ ...r, backendRefs: (r.backendRefs ?? []).map((b: any) => ({ group: '', kind: 'Service', weight: 1, ...b })) }));
  const hostnames = kind === 'TLSRoute' ? { hostnames: spec.hostnames ?? ['tls.example.com'] } : {};
  return { apiVersion: `${G}/v1`, kind, metadata: { name, namespace: ns, generation: 1 }, spec: { ...hostnames, ...spec, parentRefs, rules } };
}

/** A BackendTLSPolicy targeting Services by name (sectionName = Service port name when given). */
export function backendTLSPolicy(ns: string, name: string, targets: { name: string; sectionName?: string }[], meta: any = {}): KubeObject {
  return {
    apiVersion: `${G}/v1`, kind: 'BackendTLSPolicy', metadata: { name, namespace: ns, generation: 1, ...meta },
    spec: { targetRefs: targets.map((t) => ({ group: '', kind: 'Service', ...t })), validation: { hostname: 'backend.example.com', wellKnownCACertificates: 'System' } },
  };
}

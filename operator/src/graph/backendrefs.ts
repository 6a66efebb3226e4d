// backendRefs of a rule: only core Services, cross-namespace only with a ReferenceGrant,
// endpoints from the Service's EndpointSlices (ready addresses, the Service port's
// target by port name). An unusable reference keeps its weight: its share answers 500.
import type { KubeObject } from '../objects.ts';
import { groupBy } from '../collections.ts';
import { Reason } from './conditions.ts';
import { referenceAllowed } from './referencegrant.ts';
import type { BackendNode } from './types.ts';

export interface BackendIndex {
  services: Map<string, KubeObject>;
  /** "namespace/service" -> its EndpointSlices */
  slices: Map<string, KubeObject[]>;
  grants: readonly KubeObject[];
}

export function indexBackends(services: readonly KubeObject[], slices: readonly KubeObject[], grants: readonly KubeObject[]): BackendIndex {
  const owned = slices.filter((s) => s.metadata.labels?.['kubernetes.io/service-name']);
  const bySvc = groupBy(owned, (s) => `${s.metadata.namespace}/${s.metadata.labels!['kubernetes.io/service-name']}`);
  return { services: new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s])), slices: bySvc, grants };
}

/** Ready "ip:port" endpoints of a Service port, sorted for deterministic output. */
export function serviceEndpoints(index: BackendIndex, svc: KubeObject, servicePort: any): string[] {
  const out = new Set<string>();
  for (const slice of index.slices.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? []) {
    if (slice.addressType && slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const port = ((slice.ports as any[]) ?? []).find((p) => (p.name ?? '') === (servicePort.name ?? ''));
    if (!port?.port) continue;
    for (const ep of (slice.endpoints as any[]) ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) out.add(slice.addressType === 'IPv6' ? `[${a}]:${port.port}` : `${a}:${port.port}`);
    }
  }
  return [...out].sort();
}

export function resolveBackendRef(index: BackendIndex, route: KubeObject, ref: any, field: string): BackendNode {
  const namespace = ref.namespace ?? route.metadata.namespace;
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  const name = `${namespace}/${ref.name}${ref.port ? `:${ref.port}` : ''}`;
  const weight = ref.weight ?? 1;
  const fail = (reason: string, message: string): BackendNode => ({ name, weight, endpoints: [], problem: { reason, message } });
  if (group !== '' || kind !== 'Service') return fail(Reason.InvalidKind, `${field}: kind ${group ? `${group}/` : ''}${kind} is not supported; use a core Service`);
  if (!referenceAllowed(index.grants, { group: 'gateway.networking.k8s.io', kind: route.kind, namespace: route.metadata.namespace! }, { group: '', kind: 'Service', namespace, name: ref.name })) {
    return fail(Reason.RefNotPermitted, `${field}: Service ${namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${namespace} allows it`);
  }
  const svc = index.services.get(`${namespace}/${ref.name}`);
  if (!svc) return fail(Reason.BackendNotFound, `${field}: Service ${namespace}/${ref.name} not found`);
  const servicePort = ((svc.spec?.ports as any[]) ?? []).find((p) => p.port === ref.port);
  if (!servicePort) return fail(Reason.BackendNotFound, `${field}: Service ${namespace}/${ref.name} has no port ${ref.port}`);
  return { name, weight, endpoints: serviceEndpoints(index, svc, servicePort) };
}

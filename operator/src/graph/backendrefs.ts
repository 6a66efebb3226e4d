// backendRefs of a rule: only core Services, cross-namespace only with a ReferenceGrant,
// endpoints from the Service's EndpointSlices (ready addresses, the Service port's
// target by port name). An unusable reference keeps its weight: its share answers 500.
import type { BackendRef } from '../api/gateway-api.ts';
import type { ServicePort } from '../api/core.ts';
import type { EndpointSlice, KubeObject, ReferenceGrant, Service } from '../objects.ts';
import { groupBy } from '../collections.ts';
import { backendTLSProblem, policiesFor, type BackendTLSPolicyIndex } from './backendtlspolicy.ts';
import { Reason, type Problem } from './conditions.ts';
import { referenceAllowed } from './referencegrant.ts';
import type { BackendNode, BackendProtocol } from './types.ts';

/** Whether a route kind can speak a Service port's appProtocol (the port, and whether a BackendTLSPolicy applies). */
export type ProtocolCheck = (port: ServicePort, tls: boolean, where: string) => { protocol: BackendProtocol } | { problem: Problem };

export interface BackendIndex {
  services: Map<string, Service>;
  /** "namespace/service" -> its EndpointSlices */
  slices: Map<string, EndpointSlice[]>;
  grants: readonly ReferenceGrant[];
  /** BackendTLSPolicies by target Service: references to those Services are reached over TLS, or fail closed. */
  tlsPolicies?: BackendTLSPolicyIndex;
}

export function indexBackends(services: readonly Service[], slices: readonly EndpointSlice[], grants: readonly ReferenceGrant[], tlsPolicies?: BackendTLSPolicyIndex): BackendIndex {
  const owned = slices.flatMap((slice) => {
    const service = slice.metadata.labels?.['kubernetes.io/service-name'];
    return service ? [{ slice, service }] : [];
  });
  const bySvc = new Map([...groupBy(owned, (o) => `${o.slice.metadata.namespace}/${o.service}`)].map(([k, os]) => [k, os.map((o) => o.slice)]));
  return { services: new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s])), slices: bySvc, grants, tlsPolicies };
}

/** Ready "ip:port" endpoints of a Service port, sorted for deterministic output. */
export function serviceEndpoints(index: BackendIndex, svc: Service, servicePort: ServicePort): string[] {
  const out = new Set<string>();
  for (const slice of index.slices.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? []) {
    if (slice.addressType && slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === (servicePort.name ?? ''));
    if (!port?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) out.add(slice.addressType === 'IPv6' ? `[${a}]:${port.port}` : `${a}:${port.port}`);
    }
  }
  return [...out].sort();
}

/**
 * `backendTLS`: the caller's data plane reaches a backend over TLS when a BackendTLSPolicy
 * asks (HTTPRoute). Other callers get a problem for such a backend (its share fails), so a
 * Service a policy protects is never reached in plain text by a route kind that cannot.
 */
/** A backend that gets no traffic, with why. */
function unresolved(name: string, weight: number, reason: string, message: string): BackendNode {
  return { name, weight, endpoints: [], problem: { reason, message } };
}

export function resolveBackendRef(index: BackendIndex, route: KubeObject, ref: BackendRef, field: string, opts: { backendTLS?: boolean; protocol?: ProtocolCheck } = {}): BackendNode {
  const routeNamespace = route.metadata.namespace!; // routes are namespaced: sources always set it
  const namespace = ref.namespace ?? routeNamespace;
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  const name = `${namespace}/${ref.name}${ref.port ? `:${ref.port}` : ''}`;
  const weight = ref.weight ?? 1;
  if (group !== '' || kind !== 'Service') return unresolved(name, weight, Reason.InvalidKind, `${field}: kind ${group ? `${group}/` : ''}${kind} is not supported; use a core Service`);
  if (!referenceAllowed(index.grants, { group: 'gateway.networking.k8s.io', kind: route.kind, namespace: routeNamespace }, { group: '', kind: 'Service', namespace, name: ref.name })) {
    return unresolved(name, weight, Reason.RefNotPermitted, `${field}: Service ${namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${namespace} allows it`);
  }
  const svc = index.services.get(`${namespace}/${ref.name}`);
  if (!svc) return unresolved(name, weight, Reason.BackendNotFound, `${field}: Service ${namespace}/${ref.name} not found`);
  const servicePort = (svc.spec?.ports ?? []).find((p) => p.port === ref.port);
  if (!servicePort) return unresolved(name, weight, Reason.BackendNotFound, `${field}: Service ${namespace}/${ref.name} has no port ${ref.port}`);
  const tlsPolicies = policiesFor(index.tlsPolicies, svc, servicePort);
  if (tlsPolicies.length) {
    const policy = tlsPolicies[0]!; // the one that applies; the others lost to it (Conflicted)
    const verdict = opts.backendTLS ? index.tlsPolicies!.verdicts.get(policy) ?? {} : { notAccepted: { reason: Reason.Invalid, message: `backend TLS is not supported for ${route.kind} yet` } };
    if (!verdict.tls) return { name, weight, endpoints: [], problem: backendTLSProblem(field, `${namespace}/${ref.name}`, policy, verdict), tlsPolicies };
    const p = opts.protocol?.(servicePort, true, `${field}: Service ${namespace}/${ref.name} port ${ref.port}`);
    if (p && 'problem' in p) return { name, weight, endpoints: [], problem: p.problem, tlsPolicies };
    return { name, weight, endpoints: serviceEndpoints(index, svc, servicePort), tls: verdict.tls, tlsPolicies, ...(p ? { protocol: p.protocol } : {}) };
  }
  const p = opts.protocol?.(servicePort, false, `${field}: Service ${namespace}/${ref.name} port ${ref.port}`);
  if (p && 'problem' in p) return unresolved(name, weight, p.problem.reason, p.problem.message);
  return { name, weight, endpoints: serviceEndpoints(index, svc, servicePort), ...(p ? { protocol: p.protocol } : {}) };
}

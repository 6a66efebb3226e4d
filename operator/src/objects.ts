// The shapes of Kubernetes objects as this operator reads them. Only the fields the
// graph uses are typed; everything arrives from YAML or the API server, so fields the
// CRD marks optional stay optional here.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: any;
  status?: any;
  [extra: string]: unknown;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

/** Kinds the operator watches, with their API group (core = ""). */
export const watchedKinds = {
  GatewayClass: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses', namespaced: false },
  Gateway: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways', namespaced: true },
  HTTPRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', namespaced: true },
  GRPCRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'grpcroutes', namespaced: true },
  TLSRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'tlsroutes', namespaced: true },
  TCPRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'tcproutes', namespaced: true },
  UDPRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'udproutes', namespaced: true },
  ReferenceGrant: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'referencegrants', namespaced: true },
  BackendTLSPolicy: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'backendtlspolicies', namespaced: true },
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  EndpointSlice: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true },
  Secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
} as const;

export type WatchedKind = keyof typeof watchedKinds;

export function isWatchedKind(kind: string): kind is WatchedKind {
  return Object.hasOwn(watchedKinds, kind);
}

/** "Kind/namespace/name" (or "Kind/name" for cluster-scoped kinds): the store key and the name used in logs. */
export function objectKey(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function keyOf(obj: KubeObject): string {
  return objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

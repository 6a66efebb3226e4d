// The shapes of Kubernetes objects as this operator reads them: Gateway API kinds typed by
// the types generated from the CRDs (api/gateway-api.ts), core kinds by the few fields we
// read (api/core.ts). Everything arrives from YAML or the API server, so fields the CRD
// marks optional stay optional here.
import type { CoreKinds } from './api/core.ts';
import type { GatewayAPIKinds } from './api/gateway-api.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any object; a kind's own type (ObjectOfKind) says what its spec and status hold. */
export interface KubeObject<Kind extends string = string, Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: Kind;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  [extra: string]: unknown;
}

/** A Gateway API object with the spec and status of its CRD. */
export type GatewayAPIObject<K extends keyof GatewayAPIKinds> = KubeObject<K, GatewayAPIKinds[K]['spec'], GatewayAPIKinds[K]['status']>;

export type GatewayClass = GatewayAPIObject<'GatewayClass'>;
export type Gateway = GatewayAPIObject<'Gateway'>;
export type HTTPRoute = GatewayAPIObject<'HTTPRoute'>;
export type GRPCRoute = GatewayAPIObject<'GRPCRoute'>;
export type TLSRoute = GatewayAPIObject<'TLSRoute'>;
export type TCPRoute = GatewayAPIObject<'TCPRoute'>;
export type UDPRoute = GatewayAPIObject<'UDPRoute'>;
export type ReferenceGrant = GatewayAPIObject<'ReferenceGrant'>;
export type BackendTLSPolicy = GatewayAPIObject<'BackendTLSPolicy'>;
export type { ConfigMap, EndpointSlice, Namespace, Secret, Service } from './api/core.ts';

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

/** The type of a watched kind's objects. */
export type ObjectOfKind<K extends WatchedKind> = K extends keyof GatewayAPIKinds ? GatewayAPIObject<K> : K extends keyof CoreKinds ? CoreKinds[K] : never;

/**
 * The objects of one kind, typed as that kind. The one place where an object's shape is
 * taken on trust: every source validates objects against their schema first (the API
 * server, or our CRD and core validators for files), so the cast holds for spec and status;
 * readers still check what the schema leaves optional.
 */
export function ofKind<K extends WatchedKind>(objects: readonly KubeObject[], kind: K): ObjectOfKind<K>[] {
  return objects.filter((o) => o.kind === kind) as ObjectOfKind<K>[];
}

/** "Kind/namespace/name" (or "Kind/name" for cluster-scoped kinds): the store key and the name used in logs. */
export function objectKey(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function keyOf(obj: KubeObject): string {
  return objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

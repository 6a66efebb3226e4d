// Core kinds the operator reads, with only the fields it uses (written by hand: the core
// API has no CRD to generate from). Timestamps are strings: objects come as YAML or JSON.
import type { KubeObject } from '../objects.ts';

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  appProtocol?: string;
}

export interface ServiceSpec {
  ports?: ServicePort[];
  type?: string;
  clusterIP?: string;
  selector?: Record<string, string>;
  externalTrafficPolicy?: string;
  loadBalancerClass?: string;
}

export interface ServiceStatus {
  loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] };
}

export type Service = KubeObject<'Service', ServiceSpec, ServiceStatus>;

/** discovery.k8s.io/v1 EndpointPort. */
export interface EndpointPort {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}

/** discovery.k8s.io/v1 Endpoint: an unset `ready` means ready. */
export interface Endpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  targetRef?: { kind: string; namespace?: string; name: string; uid?: string };
  nodeName?: string;
}

/** EndpointSlice has no spec: its fields sit at the top level. */
export interface EndpointSlice extends KubeObject<'EndpointSlice', never, never> {
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports?: EndpointPort[];
  endpoints?: Endpoint[];
}

/** Secret data is base64; stringData (write-only in a cluster) is how files in standalone mode give it in plain text. */
export interface Secret extends KubeObject<'Secret', never, never> {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface ConfigMap extends KubeObject<'ConfigMap', never, never> {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export type Namespace = KubeObject<'Namespace', { finalizers?: string[] }, { phase?: string }>;

/** Each core kind we watch, by kind. */
export interface CoreKinds {
  Service: Service;
  EndpointSlice: EndpointSlice;
  Secret: Secret;
  ConfigMap: ConfigMap;
  Namespace: Namespace;
}

// The graph: the store's objects after the spec's rules, with every object's conditions.
import type { LabelSelector, ParentReference, RouteNamespaces } from '../api/gateway-api.ts';
import type { BackendTLSPolicy, Condition, Gateway, GatewayClass, GRPCRoute, HTTPRoute, TCPRoute, TLSRoute, UDPRoute } from '../objects.ts';
import type { Problem } from './conditions.ts';
import type { Certificate } from './certificates.ts';
import type { ClientValidation } from './frontend-tls.ts';
import type { BackendTLS } from './backendtlspolicy.ts';
import type { BackendFilters, RuleFilters } from './filters.ts';
import type { GatewayExposureMode, GatewayService, ServiceParameters } from './exposure.ts';
import type { RulePolicy } from './rule-policy.ts';

export interface GraphOptions {
  controllerName: string;
  /** Feature names published in GatewayClass status.supportedFeatures. */
  supportedFeatures: readonly string[];
  /** Second octet of the 127.x.0.0/16 block Gateways without spec.addresses get (default 10). */
  addressBlock?: number;
  /**
   * How Gateways get addresses: their own loopback address (standalone, tests on one host;
   * the default), or a Service per Gateway with nginx on internal ports (a cluster).
   */
  exposure?: GatewayExposureMode;
  /** Objects nginx rejected earlier (key -> generation -> reason): excluded and reported. */
  rejected?: ReadonlyMap<string, { generation: number | undefined; message: string }>;
  /** Rules the data plane could not express in an earlier pass: route key -> rule index -> message. */
  modelProblems?: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP';

export interface RouteGroupKind { group: string; kind: string }

export interface ListenerNode {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  /** Accepted: routes attach to it. */
  valid: boolean;
  /** Valid and its references resolve (certificates): nginx serves it. */
  programmable: boolean;
  supportedKinds: RouteGroupKind[];
  /** HTTPS: the certificates of tls.certificateRefs, resolved and parsed. */
  certificates: Certificate[];
  allowedRoutes: { from: NonNullable<RouteNamespaces['from']>; selector?: LabelSelector };
  conditions: Condition[];
  /** Routes attached through this listener, with the hostnames they serve on it. */
  attached: AttachedRoute[];
  /** HTTPS: client certificates are checked (Gateway spec.tls.frontend, per port). */
  clientValidation?: ClientValidation;
  /** TLS: Terminate (the default) or Passthrough. */
  tlsMode?: 'Terminate' | 'Passthrough';
  /** TLSRoutes, TCPRoutes and UDPRoutes attached through this listener (stream-routes.ts). */
  streamRoutes?: StreamAttachedRoute[];
}

export interface StreamAttachedRoute {
  route: StreamRouteNode;
  /** Effective SNI hostnames on this listener (TLS; '*' = any). */
  hostnames: string[];
}

export interface GatewayNode {
  obj: Gateway;
  key: string;
  /** The loopback address nginx listens on for this Gateway. */
  address?: string;
  /** Accepted, but its address cannot be used (AddressNotUsable): not programmed, nginx gets nothing for it. */
  addressProblem?: Problem;
  /** Service exposure: nginx's internal port for each listener port. */
  listenPorts?: Map<number, number>;
  /** Service exposure: the Service the leader keeps for this Gateway (absent when it cannot). */
  service?: GatewayService;
  /** Served, but without an address to report yet (AddressNotAssigned), or one that cannot be taken. */
  addressPending?: Problem;
  /** status.addresses. */
  addresses: { type: 'IPAddress' | 'Hostname'; value: string }[];
  valid: boolean;
  problem?: Problem;
  listeners: ListenerNode[];
  /** Set when spec.tls.backend is: the clientCertificateRef's certificate, or why it does not resolve (Gateway ResolvedRefs). */
  backendClientCertificate?: { certificate?: Certificate; problem?: Problem };
}

export interface AttachedRoute {
  route: RouteNode;
  /** Effective hostnames on this listener ('*' = any). */
  hostnames: string[];
}

export interface PathMatch { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string }
export interface ValueMatch { type: 'Exact' | 'RegularExpression'; name: string; value: string }

export interface RouteMatch {
  path: PathMatch;
  headers: ValueMatch[];
  queryParams: ValueMatch[];
  method?: string;
  /** GRPCRoute: precedence among matches of one path type, higher first (graph/grpcroute.ts). */
  rank?: number;
  /** GRPCRoute RegularExpression method match: a regex per path segment (dataplane/grpc-match.ts). */
  grpcRegex?: { service?: string; method?: string };
}

export interface BackendNode {
  /** Display name: "namespace/name:port". */
  name: string;
  weight: number;
  /** Set when the reference cannot be used: requests routed to it get 500. */
  problem?: Problem;
  /** Ready endpoints "ip:port". */
  endpoints: string[];
  /** Keys of the BackendTLSPolicies that select this Service port, the one that applies first. */
  tlsPolicies?: string[];
  /** Set when a BackendTLSPolicy applies and is usable: nginx reaches the endpoints over TLS. */
  tls?: BackendTLS;
  /** What the Service port's appProtocol asks nginx to speak (backend-protocol.ts); unset: HTTP/1.1. */
  protocol?: BackendProtocol;
  /** HTTPRoute backendRefs[].filters: applied only to requests sent to this backend. */
  filters?: BackendFilters;
}

/** HTTP/1.1 (WebSocket upgrades included), cleartext HTTP/2, or WebSocket (long-lived upgrades expected). */
export type BackendProtocol = 'http' | 'h2c' | 'ws';

export interface RuleNode {
  index: number;
  /** spec.rules[].name, validated (named route rules). */
  name?: string;
  /** Set when the rule cannot be served (UnsupportedValue): it is left out. */
  problem?: Problem;
  matches: RouteMatch[];
  backends: BackendNode[];
  filters: RuleFilters;
  /** rules[].timeouts and rules[].retry (rule-policy.ts); absent when neither is set. */
  policy?: RulePolicy;
}

export interface ParentResult {
  parentRef: ParentReference;
  gateway?: GatewayNode;
  conditions: Condition[];
}

export interface HTTPRouteNode {
  obj: HTTPRoute;
  key: string;
  kind: 'HTTPRoute';
  hostnames: string[];
  rules: RuleNode[];
  parents: ParentResult[];
  /** Whole-route rejection (e.g. nginx rejected its config). */
  problem?: Problem;
}

/** A TLSRoute, TCPRoute or UDPRoute: one rule of weighted backends (stream-routes.ts). */
export interface StreamRouteNode {
  obj: TLSRoute | TCPRoute | UDPRoute;
  key: string;
  kind: 'TLSRoute' | 'TCPRoute' | 'UDPRoute';
  /** TLSRoute spec.hostnames (validated); empty for TCP and UDP. */
  hostnames: string[];
  backends: BackendNode[];
  parents: ParentResult[];
  /** Whole-route rejection (an invalid field, or nginx rejected its config). */
  problem?: Problem;
}

/** A GRPCRoute: its matches are HTTP matches on "/service/method" (graph/grpcroute.ts), served by grpc_pass. */
export interface GRPCRouteNode extends Omit<HTTPRouteNode, 'obj' | 'kind'> {
  obj: GRPCRoute;
  kind: 'GRPCRoute';
}

/** The routes the http block serves. */
export type RouteNode = HTTPRouteNode | GRPCRouteNode;

/** A BackendTLSPolicy that a backend of our routes is subject to, with its status per Gateway. */
export interface BackendTLSPolicyNode {
  obj: BackendTLSPolicy;
  key: string;
  ancestors: { gateway: GatewayNode; conditions: Condition[] }[];
}

export interface GatewayClassNode {
  obj: GatewayClass;
  accepted: boolean;
  /** Why it is not accepted (InvalidParameters). */
  problem?: Problem;
  /** From spec.parametersRef (Service exposure only). */
  parameters: ServiceParameters;
}

export interface Graph {
  gatewayClasses: GatewayClassNode[];
  gateways: GatewayNode[];
  /** HTTPRoutes and GRPCRoutes. */
  routes: RouteNode[];
  streamRoutes: StreamRouteNode[];
  backendTLSPolicies: BackendTLSPolicyNode[];
}

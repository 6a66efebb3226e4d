// How Gateways are exposed in a cluster ("service" mode). One nginx per waygate pod serves
// every Gateway, and several Gateways may each use port 80, so nginx listens on an internal
// port per (Gateway, listener port) and each Gateway gets a Service of its own in its own
// namespace (owner-referenced, so deleting the Gateway deletes it) whose port N leads to
// that internal port. The Service has no selector: it lives beside the Gateway, not beside
// the waygate pods, so the operator writes its EndpointSlice (apply/gateway-services.ts).
// Everything here is pure: the graph decides, the leader applies.
import type { ConfigMap, Gateway, GatewayClass, Service } from '../objects.ts';
import { isLabelValue, isQualifiedName } from '../validation/names.ts';
import { byAge } from './addresses.ts';
import { Reason, type Problem } from './conditions.ts';

export type GatewayExposureMode = 'loopback' | 'service';

export const serviceTypes = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;
export type ServiceType = (typeof serviceTypes)[number];

/** What a GatewayClass's or a Gateway's parameters ConfigMap may say. */
export interface ServiceParameters {
  serviceType?: ServiceType;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  loadBalancerClass?: string;
}

/** The one Service that exposes a Gateway, as the leader writes it. */
export interface GatewayService {
  namespace: string;
  name: string;
  type: ServiceType;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  loadBalancerClass?: string;
  /** spec.addresses[0].value: the address the load balancer is asked for (Service spec.loadBalancerIP). */
  loadBalancerIP?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ports: { name: string; port: number; targetPort: number; protocol: 'TCP' | 'UDP' }[];
}

/** Labels waygate sets on the objects it manages; spec.infrastructure may not set them. */
export const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'waygate';

/** nginx's internal ports for Gateway listeners: below every ephemeral range, above the pod's health ports. */
export const internalPortRange = { first: 10000, last: 19999 } as const;

const parameterKeys = ['serviceType', 'externalTrafficPolicy', 'loadBalancerClass'] as const;

/** How far a Service type exposes a Gateway: a Gateway's parameters may not go beyond its class's. */
const exposureRank: Record<ServiceType, number> = { ClusterIP: 0, NodePort: 1, LoadBalancer: 2 };

/**
 * A Gateway's parameters within its class's: the class (the infrastructure provider's) is the
 * upper bound. A Gateway owner may narrow the exposure (LoadBalancer to ClusterIP) but not
 * widen it, nor pick another load balancer class than the class names.
 */
export function mergeParameters(cls: ServiceParameters, gw: ServiceParameters): { parameters: ServiceParameters } | { problem: Problem } {
  const bad = (message: string) => ({ problem: { reason: Reason.InvalidParameters, message: `spec.infrastructure.parametersRef: ${message}` } });
  const limit = cls.serviceType ?? 'LoadBalancer';
  if (gw.serviceType && exposureRank[gw.serviceType] > exposureRank[limit]) return bad(`serviceType ${gw.serviceType} exposes more than the GatewayClass allows (${limit})`);
  if (gw.loadBalancerClass && cls.loadBalancerClass && gw.loadBalancerClass !== cls.loadBalancerClass) return bad(`loadBalancerClass ${gw.loadBalancerClass}: the GatewayClass sets ${cls.loadBalancerClass}`);
  return { parameters: { ...cls, ...gw } };
}

/** Reads and checks a parameters ConfigMap; `field` names the reference in messages. */
export function parseParameters(cm: ConfigMap, field: string): { parameters: ServiceParameters } | { problem: Problem } {
  const where = `${field}: ConfigMap ${cm.metadata.namespace}/${cm.metadata.name}`;
  const bad = (message: string) => ({ problem: { reason: Reason.InvalidParameters, message: `${where}: ${message}` } });
  const data = cm.data ?? {};
  const unknown = Object.keys(data).filter((k) => !(parameterKeys as readonly string[]).includes(k));
  if (unknown.length) return bad(`unknown keys ${unknown.map((k) => JSON.stringify(k)).join(', ')} (waygate reads ${parameterKeys.join(', ')})`);
  if (cm.binaryData && Object.keys(cm.binaryData).length) return bad('binaryData is not read; use data');
  const out: ServiceParameters = {};
  const { serviceType, externalTrafficPolicy, loadBalancerClass } = data;
  if (serviceType !== undefined) {
    if (!(serviceTypes as readonly string[]).includes(serviceType)) return bad(`serviceType ${JSON.stringify(serviceType)} is not one of ${serviceTypes.join(', ')}`);
    out.serviceType = serviceType as ServiceType;
  }
  if (externalTrafficPolicy !== undefined) {
    if (externalTrafficPolicy !== 'Cluster' && externalTrafficPolicy !== 'Local') return bad(`externalTrafficPolicy ${JSON.stringify(externalTrafficPolicy)} is not Cluster or Local`);
    out.externalTrafficPolicy = externalTrafficPolicy;
  }
  if (loadBalancerClass !== undefined) {
    if (isQualifiedName(loadBalancerClass).length) return bad(`loadBalancerClass ${JSON.stringify(loadBalancerClass)} is not a qualified name`);
    out.loadBalancerClass = loadBalancerClass;
  }
  return { parameters: out };
}

type ConfigMaps = ReadonlyMap<string, ConfigMap>;

function configMapRef(group: string | undefined, kind: string, namespace: string, name: string, field: string, configMaps: ConfigMaps): { parameters: ServiceParameters } | { problem: Problem } {
  if ((group ?? '') !== '' || kind !== 'ConfigMap') {
    return { problem: { reason: Reason.InvalidParameters, message: `${field}: ${kind}${group ? `.${group}` : ''} is not a kind waygate reads parameters from; use a core ConfigMap` } };
  }
  const cm = configMaps.get(`${namespace}/${name}`);
  if (!cm) return { problem: { reason: Reason.InvalidParameters, message: `${field}: ConfigMap ${namespace}/${name} not found` } };
  return parseParameters(cm, field);
}

/** spec.parametersRef of a GatewayClass: a ConfigMap (namespace required). */
export function classParameters(cls: GatewayClass, configMaps: ConfigMaps): { parameters: ServiceParameters } | { problem: Problem } {
  const ref = cls.spec?.parametersRef;
  if (!ref) return { parameters: {} };
  if (!ref.namespace) return { problem: { reason: Reason.InvalidParameters, message: 'spec.parametersRef.namespace: required for a ConfigMap' } };
  return configMapRef(ref.group, ref.kind, ref.namespace, ref.name, 'spec.parametersRef', configMaps);
}

/** spec.infrastructure.parametersRef of a Gateway: a ConfigMap in the Gateway's namespace. */
export function gatewayParameters(gw: Gateway, configMaps: ConfigMaps): { parameters: ServiceParameters } | { problem: Problem } {
  const ref = gw.spec?.infrastructure?.parametersRef;
  if (!ref) return { parameters: {} };
  return configMapRef(ref.group, ref.kind, gw.metadata.namespace ?? '', ref.name, 'spec.infrastructure.parametersRef', configMaps);
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The Service's name: "<gateway>-waygate" when that is a DNS-1035 label (Service names
 * are; Gateway names are DNS subdomains and may hold dots or start with a digit),
 * otherwise "waygate-gw-<hash of namespace/name>".
 */
export function gatewayServiceName(gw: Gateway): string {
  const plain = `${gw.metadata.name}-waygate`;
  if (plain.length <= 63 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(plain)) return plain;
  return `waygate-gw-${fnv1a(`${gw.metadata.namespace}/${gw.metadata.name}`).toString(16).padStart(8, '0')}`;
}

export interface PortRequest {
  key: string;
  creationTimestamp?: string;
  /** Listener ports of the Gateway. */
  ports: readonly number[];
  /** Internal ports its Service already leads to (listener port → internal port): kept. */
  current?: ReadonlyMap<number, number>;
}

/**
 * nginx's internal port for each (Gateway, listener port). Every replica computes the same
 * answer from the same objects (no shared state). A port a Gateway's Service already leads
 * to stays its own: another Gateway that adds or drops listeners never moves it (a moved
 * port would, until every replica and kube-proxy caught up, carry one Gateway's clients to
 * another's nginx server). Then, in age order, new ports at a hash of (Gateway, port) and the
 * next free one after it, so a newer Gateway never takes an older one's. Gateways beyond the
 * range's capacity get none (reported).
 */
export function allocateInternalPorts(requests: readonly PortRequest[]): Map<string, Map<number, number> | undefined> {
  const size = internalPortRange.last - internalPortRange.first + 1;
  const inRange = (p: number) => Number.isInteger(p) && p >= internalPortRange.first && p <= internalPortRange.last;
  const taken = new Set<number>();
  const out = new Map<string, Map<number, number> | undefined>();
  const sorted = [...requests].sort((a, b) => byAge({ key: a.key, name: a.key, creationTimestamp: a.creationTimestamp }, { key: b.key, name: b.key, creationTimestamp: b.creationTimestamp }));
  const mine = new Map<string, Map<number, number>>();
  for (const r of sorted) {
    const m = new Map<number, number>();
    for (const port of new Set(r.ports)) {
      const cur = r.current?.get(port);
      if (cur !== undefined && inRange(cur) && !taken.has(cur)) { taken.add(cur); m.set(port, cur); }
    }
    mine.set(r.key, m);
  }
  for (const r of sorted) {
    const m = mine.get(r.key)!;
    const ports = [...new Set(r.ports)].filter((p) => !m.has(p)).sort((a, b) => a - b);
    if (taken.size + ports.length > size) { out.set(r.key, undefined); continue; }
    for (const port of ports) {
      let i = fnv1a(`${r.key}:${port}`) % size;
      while (taken.has(internalPortRange.first + i)) i = (i + 1) % size;
      taken.add(internalPortRange.first + i);
      m.set(port, internalPortRange.first + i);
    }
    out.set(r.key, new Map([...m].sort((a, b) => a[0] - b[0])));
  }
  return out;
}

/**
 * Whether a stored Service is the one waygate keeps for this Gateway: owned by it (uid), with
 * our labels, and without a selector (ours never has one). A look-alike someone else made,
 * even with a forged owner reference, is not adopted.
 */
export function isGatewayService(gw: Gateway, svc: Service): boolean {
  const labels = svc.metadata.labels ?? {};
  return gw.metadata.uid !== undefined &&
    (svc.metadata.ownerReferences ?? []).some((o) => o.kind === 'Gateway' && o.uid === gw.metadata.uid) &&
    labels[managedByLabel] === managedByValue && labels[gatewayNameLabel] === gw.metadata.name &&
    !(svc.spec?.selector && Object.keys(svc.spec.selector).length);
}

/** The internal ports a Gateway's own Service leads to now (listener port → target port). */
export function currentInternalPorts(gw: Gateway, svc: Service | undefined): Map<number, number> | undefined {
  if (!svc || !isGatewayService(gw, svc)) return undefined;
  return new Map((svc.spec?.ports ?? []).flatMap((p) => (typeof p.targetPort === 'number' ? [[p.port, p.targetPort] as [number, number]] : [])));
}

/** spec.infrastructure labels and annotations, checked by our own rules (not only the CRD's). */
export function infrastructureMetadata(gw: Gateway): { labels: Record<string, string>; annotations: Record<string, string> } | { problem: Problem } {
  const infra = gw.spec?.infrastructure;
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  const bad = (message: string) => ({ problem: { reason: Reason.Invalid, message } });
  for (const [k, v] of Object.entries(infra?.labels ?? {})) {
    const errs = [...isQualifiedName(k), ...isLabelValue(v)];
    if (errs.length) return bad(`spec.infrastructure.labels[${JSON.stringify(k)}]: ${errs.join('; ')}`);
    if (k === gatewayNameLabel || k === managedByLabel) return bad(`spec.infrastructure.labels[${JSON.stringify(k)}]: set by waygate on the Gateway's Service; remove it`);
    labels[k] = v;
  }
  for (const [k, v] of Object.entries(infra?.annotations ?? {})) {
    const errs = isQualifiedName(k);
    if (errs.length) return bad(`spec.infrastructure.annotations[${JSON.stringify(k)}]: ${errs.join('; ')}`);
    if (v.length > 4096) return bad(`spec.infrastructure.annotations[${JSON.stringify(k)}]: longer than 4096 characters`);
    annotations[k] = v;
  }
  return { labels, annotations };
}

/** The Service for a Gateway, from the merged parameters (the Gateway's override its class's). */
export function gatewayService(gw: Gateway, parameters: ServiceParameters, internalPorts: ReadonlyMap<number, number>, protocols: ReadonlyMap<number, 'TCP' | 'UDP'>, meta: { labels: Record<string, string>; annotations: Record<string, string> }, requested?: string): GatewayService {
  const type = parameters.serviceType ?? 'LoadBalancer';
  return {
    namespace: gw.metadata.namespace ?? 'default',
    name: gatewayServiceName(gw),
    type,
    // Only node-facing Services take a traffic policy; a ClusterIP Service refuses one.
    ...(type !== 'ClusterIP' && parameters.externalTrafficPolicy ? { externalTrafficPolicy: parameters.externalTrafficPolicy } : {}),
    ...(type === 'LoadBalancer' && parameters.loadBalancerClass ? { loadBalancerClass: parameters.loadBalancerClass } : {}),
    // Only a load balancer can be asked for an address (graph/addresses.ts serviceAddress refuses the rest).
    ...(type === 'LoadBalancer' && requested ? { loadBalancerIP: requested } : {}),
    labels: { ...meta.labels, [gatewayNameLabel]: gw.metadata.name, [managedByLabel]: managedByValue },
    annotations: meta.annotations,
    ports: [...internalPorts].sort((a, b) => a[0] - b[0]).map(([port, targetPort]) => {
      const protocol = protocols.get(port) ?? 'TCP';
      return { name: `${protocol.toLowerCase()}-${port}`, port, targetPort, protocol };
    }),
  };
}

/**
 * The Gateway's addresses from its Service as stored: the load balancer's, else the
 * ClusterIP until one exists. A Service of that name that is not this Gateway's (a user's)
 * is never taken over. With a requested address (spec.addresses[0].value) only that one:
 * none until the load balancer has it, and AddressNotUsable when it took another.
 */
export function serviceAddresses(gw: Gateway, name: string, svc: Service | undefined, requested?: string): { addresses: { type: 'IPAddress' | 'Hostname'; value: string }[] } | { problem: Problem } {
  if (!svc) return { problem: { reason: Reason.AddressNotAssigned, message: `waiting for Service ${gw.metadata.namespace}/${name} to be created` } };
  if (!isGatewayService(gw, svc)) return { problem: { reason: Reason.AddressNotUsable, message: `Service ${gw.metadata.namespace}/${name} exists and does not belong to this Gateway; waygate exposes a Gateway through a Service of that name: rename or remove the other Service` } };
  type Address = { type: 'IPAddress' | 'Hostname'; value: string };
  const lb = (svc.status?.loadBalancer?.ingress ?? []).flatMap((i): Address[] => (i.ip ? [{ type: 'IPAddress', value: i.ip }] : i.hostname ? [{ type: 'Hostname', value: i.hostname }] : []));
  if (requested) {
    if (lb.some((a) => a.type === 'IPAddress' && sameIP(a.value, requested))) return { addresses: [{ type: 'IPAddress', value: requested }] };
    if (lb.length) return { problem: { reason: Reason.AddressNotUsable, message: `spec.addresses[0].value: the load balancer of Service ${gw.metadata.namespace}/${name} took ${lb.map((a) => a.value).join(', ')}, not ${requested} (spec.loadBalancerIP): its provider ignores requested addresses or cannot give this one; request an address the provider has reserved for you, or leave the value empty` } };
    return { problem: { reason: Reason.AddressNotAssigned, message: `waiting for the load balancer of Service ${gw.metadata.namespace}/${name} to take ${requested} (spec.loadBalancerIP)` } };
  }
  if (lb.length) return { addresses: lb };
  const ip = svc.spec?.clusterIP;
  if (ip && ip !== 'None') return { addresses: [{ type: 'IPAddress', value: ip }] };
  return { problem: { reason: Reason.AddressNotAssigned, message: `Service ${gw.metadata.namespace}/${name} has no address yet` } };
}

/** IP equality across spellings (an IPv6 address may be written in several ways; IPv4 has one, isIP refuses leading zeros). */
function sameIP(a: string, b: string): boolean {
  if (a === b) return true;
  if (!a.includes(':') || !b.includes(':')) return false;
  const canonical = (ip: string) => new URL(`http://[${ip}]/`).hostname;
  try { return canonical(a) === canonical(b); } catch { return false; }
}

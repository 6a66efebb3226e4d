// Listeners: protocol support, allowed route kinds, and conflicts between listeners of
// one Gateway on the same port (spec: ListenerConditionConflicted).
import type { Listener } from '../api/gateway-api.ts';
import type { ConfigMap, Condition, Gateway } from '../objects.ts';
import { checkHostname, checkPort } from '../values/checks.ts';
import { groupBy } from '../collections.ts';
import { resolveCertificateRefs, type CertificateIndex } from './certificates.ts';
import { condition, ConditionType, Reason, resolvedRefs, type Problem } from './conditions.ts';
import { frontendTLS } from './frontend-tls.ts';
import type { ListenerNode, RouteGroupKind } from './types.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** Route kinds each protocol can carry. */
const kindsByProtocol: Record<string, readonly string[]> = {
  // GRPCRoute: h2c on HTTP listeners (a front tells it from HTTP/1.1: dataplane/grpc-front.ts), HTTP/2 over TLS on HTTPS.
  HTTP: ['HTTPRoute', 'GRPCRoute'],
  HTTPS: ['HTTPRoute', 'GRPCRoute'],
  TLS: ['TLSRoute'],
  TCP: ['TCPRoute'],
  UDP: ['UDPRoute'],
};

/**
 * Protocols that can share a port. HTTPS and TLS (either mode) can: a stream server on the
 * port reads the SNI name and hands each connection to its listener (dataplane/stream.ts).
 * HTTP, TCP and UDP listeners cannot share a port with any other protocol.
 */
const portFamily = (protocol: string) => (protocol === 'HTTPS' || protocol === 'TLS' ? 'TLS' : protocol);
/** TCP and UDP listeners have no hostname to tell them apart (the spec ignores it there). */
const hostnameOf = (l: Listener) => (l.protocol === 'TCP' || l.protocol === 'UDP' ? '' : l.hostname ?? '');

export function supportedProtocol(protocol: string): boolean {
  return Object.hasOwn(kindsByProtocol, protocol);
}

/** spec.listeners[].allowedRoutes.kinds against what the protocol supports. */
export function resolveRouteKinds(listener: Listener, index: number): { kinds: RouteGroupKind[]; problem?: Problem } {
  const supported = kindsByProtocol[listener.protocol] ?? [];
  const requested = listener.allowedRoutes?.kinds;
  if (!requested?.length) return { kinds: supported.map((kind) => ({ group: GATEWAY_GROUP, kind })) };
  const kinds: RouteGroupKind[] = [];
  const invalid: string[] = [];
  for (const k of requested) {
    const group = k.group ?? GATEWAY_GROUP;
    if (group === GATEWAY_GROUP && supported.includes(k.kind)) kinds.push({ group, kind: k.kind });
    else invalid.push(`${group}/${k.kind}`);
  }
  const problem = invalid.length
    ? { reason: Reason.InvalidRouteKinds, message: `spec.listeners[${index}].allowedRoutes.kinds: ${invalid.join(', ')} not supported on protocol ${listener.protocol}` }
    : undefined;
  return { kinds, problem };
}

/** Listeners that share a port must have compatible protocols (portFamily) and differ in hostname. */
export function findConflicts(listeners: readonly Listener[]): Map<number, Problem> {
  const out = new Map<number, Problem>();
  const byPort = groupBy(listeners.map((l, i) => ({ l, i })), ({ l }) => l.port);
  for (const [port, onPort] of byPort) {
    const protocols = new Set(onPort.map(({ l }) => l.protocol));
    if (new Set(onPort.map(({ l }) => portFamily(l.protocol))).size > 1) {
      for (const { i } of onPort) out.set(i, { reason: Reason.ProtocolConflict, message: `port ${port} is used with protocols ${[...protocols].sort().join(', ')}` });
      continue;
    }
    const byHost = groupBy(onPort, ({ l }) => hostnameOf(l));
    for (const [host, same] of byHost) {
      if (same.length < 2) continue;
      const names = same.map(({ l }) => l.name).join(', ');
      for (const { i } of same) out.set(i, { reason: Reason.HostnameConflict, message: `listeners ${names} use port ${port} with the same hostname ${host || '(none)'}` });
    }
  }
  return out;
}

/**
 * Listener settings waygate does not implement yet, which would weaken what the listener
 * promises if they were ignored: TLS options (protocol versions, ciphers), request filters
 * (e.g. ExternalAuth) and client-certificate validation (spec.tls.frontend) on TLS
 * Passthrough listeners (HTTPS and Terminate have it: graph/frontend-tls.ts). The listener fails closed:
 * not accepted, not served, with the field named.
 */
function unsupportedListenerField(gw: Gateway, l: Listener, i: number): Problem | undefined {
  const unsupported = (field: string, what: string): Problem => ({ reason: Reason.UnsupportedValue, message: `${field}: ${what} is not supported yet; the listener is not served rather than served without it` });
  if (l.tls?.options && Object.keys(l.tls.options).length) return unsupported(`spec.listeners[${i}].tls.options`, 'TLS options');
  if (l.filters !== undefined) return unsupported(`spec.listeners[${i}].filters`, 'listener request filters');
  const frontend = gw.spec?.tls?.frontend;
  // Terminate listeners validate like HTTPS ones (frontend-tls.ts); a passthrough listener
  // never sees the client's certificate: the TLS session is the backend's.
  if (frontend && l.protocol === 'TLS' && l.tls?.mode === 'Passthrough') {
    // As for HTTPS (frontend-tls.ts): perPort over default, and only a validation asks for
    // client certificates; the CRD requires default even when only another port validates.
    const perPort = (frontend.perPort ?? []).findIndex((p) => p.port === l.port);
    const validation = perPort >= 0 ? frontend.perPort![perPort]!.tls?.validation : frontend.default?.validation;
    const passthrough = (field: string): Problem => ({ reason: Reason.UnsupportedValue, message: `${field}: client certificate validation cannot apply to a TLS Passthrough listener (port ${l.port}): the TLS session is the backend's, nginx never sees the client's certificate; the listener is not served rather than served without it` });
    if (validation && perPort >= 0) return passthrough(`spec.tls.frontend.perPort[${perPort}]`);
    if (validation) return passthrough('spec.tls.frontend.default');
  }
  return undefined;
}

export function buildListeners(gw: Gateway, gatewayProblem: Problem | undefined, certs: CertificateIndex, configMaps: ReadonlyMap<string, ConfigMap> = new Map()): ListenerNode[] {
  const listeners = gw.spec?.listeners ?? [];
  const frontend = frontendTLS(gw, { configMaps, grants: certs.grants });
  const gen = gw.metadata.generation;
  const conflicts = findConflicts(listeners);
  return listeners.map((l, i) => {
    const { kinds, problem: kindProblem } = resolveRouteKinds(l, i);
    const conflict = conflicts.get(i);
    const protocolProblem: Problem | undefined = supportedProtocol(l.protocol)
      ? undefined
      : { reason: Reason.UnsupportedProtocol, message: `spec.listeners[${i}].protocol: ${l.protocol} is not supported yet` };
    const hostnameError = l.hostname === undefined ? undefined : checkHostname(l.hostname);
    const hostnameProblem = hostnameError ? { reason: Reason.UnsupportedValue, message: `spec.listeners[${i}].hostname: ${hostnameError}` } : undefined;
    const portError = checkPort(l.port);
    const portProblem = portError ? { reason: Reason.UnsupportedValue, message: `spec.listeners[${i}].port: ${portError}` } : undefined;
    // spec.tls.frontend: the port's client-certificate validation; no valid CA at all is NoValidCACertificate.
    const client = l.protocol === 'HTTPS' || (l.protocol === 'TLS' && (l.tls?.mode ?? 'Terminate') === 'Terminate') ? frontend(l.port) : {};
    const acceptProblem = gatewayProblem ?? portProblem ?? protocolProblem ?? hostnameProblem ?? unsupportedListenerField(gw, l, i) ?? client.acceptProblem ?? conflict;
    // Certificates are references: a bad one leaves the listener Accepted (routes still
    // attach and are counted) but unresolved and not Programmed: nginx gets no server for
    // it until the Secret or ReferenceGrant is fixed.
    const tlsMode = l.protocol === 'TLS' ? (l.tls?.mode ?? 'Terminate') : undefined;
    const terminates = l.protocol === 'HTTPS' || tlsMode === 'Terminate';
    const tls = terminates && !acceptProblem ? resolveCertificateRefs(gw, l, i, certs) : undefined;
    const refProblem = kindProblem ?? tls?.problem ?? client.refProblem;
    const conditions: Condition[] = [
      acceptProblem
        ? condition(ConditionType.Accepted, false, acceptProblem === gatewayProblem ? Reason.Invalid : acceptProblem.reason, acceptProblem.message, gen)
        : condition(ConditionType.Accepted, true, Reason.Accepted, 'Listener is accepted', gen),
      conflict
        ? condition(ConditionType.Conflicted, true, conflict.reason, conflict.message, gen)
        : condition(ConditionType.Conflicted, false, Reason.NoConflicts, 'No conflicts', gen),
      resolvedRefs(refProblem, gen),
    ];
    const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
    return {
      name: l.name,
      port: l.port,
      protocol: l.protocol,
      hostname: l.hostname,
      valid: !acceptProblem,
      programmable: !acceptProblem && !tls?.problem,
      certificates: tls?.certificates ?? [],
      supportedKinds: kinds,
      allowedRoutes: { from, selector: l.allowedRoutes?.namespaces?.selector },
      conditions,
      attached: [],
      ...(client.validation && !acceptProblem ? { clientValidation: client.validation } : {}),
      ...(tlsMode ? { tlsMode } : {}),
      ...(l.protocol === 'TLS' || l.protocol === 'TCP' || l.protocol === 'UDP' ? { streamRoutes: [] } : {}),
    };
  });
}

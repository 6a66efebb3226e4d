// Route attachment: for each parentRef of a route, which listeners of which of our
// Gateways take it (sectionName, port, allowedRoutes kinds and namespaces, hostname
// intersection), and the Accepted reason when none does.
import type { ParentReference } from '../api/gateway-api.ts';
import type { KubeObject, Namespace } from '../objects.ts';
import { Reason, type Problem } from './conditions.ts';
import { intersectHostnames } from './hostnames.ts';
import { namespaceAllowed } from './namespaces.ts';
import type { GatewayNode, ListenerNode } from './types.ts';

/** What attachment needs of a route of any kind (HTTPRoute, TLSRoute, TCPRoute, UDPRoute). */
export interface AttachableRoute { obj: KubeObject; kind: string; hostnames: readonly string[] }

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export interface Attachment {
  gateway: GatewayNode;
  /** Listeners that accept the route, with the hostnames served on each. */
  listeners: { listener: ListenerNode; hostnames: string[] }[];
  problem?: Problem;
}

/** The Gateway a parentRef names, if it is one of ours; other parents are not our business. */
export function parentGateway(ref: ParentReference, route: KubeObject, gateways: ReadonlyMap<string, GatewayNode>): GatewayNode | undefined {
  if ((ref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') return undefined;
  return gateways.get(`${ref.namespace ?? route.metadata.namespace}/${ref.name}`);
}

/** No listener of the Gateway takes the route, with why. */
function notAttached(gateway: GatewayNode, reason: string, message: string): Attachment {
  return { gateway, listeners: [], problem: { reason, message } };
}

export function attachRoute(route: AttachableRoute, ref: ParentReference, gateway: GatewayNode, namespaces: ReadonlyMap<string, Namespace>): Attachment {
  if (!gateway.valid) return notAttached(gateway, Reason.NoMatchingParent, `Gateway ${gateway.key} is not accepted`);
  let candidates = gateway.listeners;
  if (ref.sectionName !== undefined) candidates = candidates.filter((l) => l.name === ref.sectionName);
  if (ref.port !== undefined) candidates = candidates.filter((l) => l.port === ref.port);
  const where = [ref.sectionName !== undefined && `sectionName ${ref.sectionName}`, ref.port !== undefined && `port ${ref.port}`].filter(Boolean).join(' and ');
  if (!candidates.length) return notAttached(gateway, Reason.NoMatchingParent, `Gateway ${gateway.key} has no listener with ${where}`);
  candidates = candidates.filter((l) => l.valid);
  if (!candidates.length) return notAttached(gateway, Reason.NoMatchingParent, `no valid listener of Gateway ${gateway.key}${where ? ` with ${where}` : ''}`);

  const gwNamespace = gateway.obj.metadata.namespace!;
  const routeNamespace = route.obj.metadata.namespace!;
  const allowed = candidates.filter((l) =>
    l.supportedKinds.some((k) => k.kind === route.kind) && namespaceAllowed(l.allowedRoutes, gwNamespace, routeNamespace, namespaces));
  if (!allowed.length) {
    return notAttached(gateway, Reason.NotAllowedByListeners, `listeners of Gateway ${gateway.key} do not allow ${route.kind} from namespace ${routeNamespace} (allowedRoutes)`);
  }
  const listeners = allowed
    .map((listener) => ({ listener, hostnames: intersectHostnames(listener.hostname, route.hostnames) }))
    .filter((l) => l.hostnames.length > 0);
  if (!listeners.length) {
    return notAttached(gateway, Reason.NoMatchingListenerHostname, `spec.hostnames ${JSON.stringify(route.hostnames)} do not intersect the hostnames of the listeners of Gateway ${gateway.key}`);
  }
  return { gateway, listeners };
}

// The graph: a pure function of the store's snapshot. Classes, Gateways and listeners
// first, then routes (rules, backends) and their attachment to listeners.
import type { Snapshot } from '../store.ts';
import type { ParentReference } from '../api/gateway-api.ts';
import { ofKind, type KubeObject, type ObjectOfKind, type WatchedKind } from '../objects.ts';
import { isDnsLabel, isDnsSubdomain } from '../values/checks.ts';
import { attachRoute, parentGateway, type Attachment } from './attachment.ts';
import { indexBackends } from './backendrefs.ts';
import { buildBackendTLSPolicies, indexBackendTLSPolicies } from './backendtlspolicy.ts';
import { condition, ConditionType, Reason, resolvedRefs } from './conditions.ts';
import { buildGateways } from './gateway.ts';
import { buildGatewayClasses } from './gatewayclass.ts';
import { crossServingConflicts } from './cross-serving.ts';
import { buildGRPCRoute } from './grpcroute.ts';
import { mirrorBackends } from './filters.ts';
import { buildHTTPRoute } from './httproute.ts';
import { buildStreamRoute, streamRouteConditions, streamRouteKinds } from './stream-routes.ts';
import type { AttachedRoute, GatewayNode, Graph, GraphOptions, ListenerNode, ParentResult, RouteNode, StreamRouteNode } from './types.ts';

/**
 * Objects of a kind, minus any whose name or namespace is not a DNS name: the API server
 * refuses those, and names reach comments and messages, so anything else stays out.
 */
const list = <K extends WatchedKind>(s: Snapshot, kind: K): readonly ObjectOfKind<K>[] =>
  ofKind(s.get(kind) ?? [], kind).filter((o) => isDnsSubdomain(o.metadata?.name) && (o.metadata.namespace === undefined || isDnsLabel(o.metadata.namespace)));

export function buildGraph(snapshot: Snapshot, opts: GraphOptions): Graph {
  const byName = <T extends { metadata: { namespace?: string; name: string } }>(objs: readonly T[]) => new Map(objs.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]));
  const configMaps = byName(list(snapshot, 'ConfigMap'));
  const gatewayClasses = buildGatewayClasses(list(snapshot, 'GatewayClass'), opts.controllerName, configMaps);
  const grants = list(snapshot, 'ReferenceGrant');
  const secrets = byName(list(snapshot, 'Secret'));
  const gateways = buildGateways(list(snapshot, 'Gateway'), gatewayClasses, {
    certs: { secrets, grants },
    configMaps,
    services: byName(list(snapshot, 'Service')),
    exposure: opts.exposure ?? 'loopback',
    addressBlock: opts.addressBlock,
  });
  const gatewaysByKey = new Map(gateways.map((g) => [g.key, g]));
  const namespaces = new Map(list(snapshot, 'Namespace').map((n) => [n.metadata.name, n]));
  const tlsPolicies = list(snapshot, 'BackendTLSPolicy');
  const tlsIndex = indexBackendTLSPolicies(tlsPolicies, configMaps);
  const backends = indexBackends(list(snapshot, 'Service'), list(snapshot, 'EndpointSlice'), grants, tlsIndex);

  const routes: RouteNode[] = [];
  const pending: { route: RouteNode; ref: ParentReference; gateway: GatewayNode; att: Attachment; listeners: Attachment['listeners'] }[] = [];
  for (const obj of [...list(snapshot, 'HTTPRoute'), ...list(snapshot, 'GRPCRoute')]) {
    const ourRefs = (obj.spec?.parentRefs ?? []).flatMap((ref) => {
      const gateway = parentGateway(ref, obj, gatewaysByKey);
      return gateway ? [{ ref, gateway }] : [];
    });
    if (!ourRefs.length) continue; // not attached to any of our Gateways: nothing to say
    const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const rejected = opts.rejected?.get(key);
    const problem = rejected && rejected.generation === obj.metadata.generation ? { reason: Reason.UnsupportedValue, message: rejected.message } : undefined;
    const route = obj.kind === 'HTTPRoute' ? buildHTTPRoute(obj, backends, problem, opts.modelProblems?.get(key)) : buildGRPCRoute(obj, backends, problem, opts.modelProblems?.get(key));
    for (const { ref, gateway } of ourRefs) {
      const att = attachRoute(route, ref, gateway, namespaces);
      pending.push({ route, ref, gateway, att, listeners: att.listeners });
    }
    routes.push(route);
  }
  // An HTTPRoute and a GRPCRoute sharing a hostname on a listener: the older one is served.
  const lost = crossServingConflicts(pending.filter((p) => !p.att.problem && routeAccepted(p.route)));
  // Each listener's attached routes by route: a scan of `attached` per attachment was quadratic.
  const attachedBy = new Map<ListenerNode, Map<RouteNode, AttachedRoute>>();
  for (const p of pending) {
    const { route, ref, gateway, att } = p;
    const problem = att.problem ?? lost.get(p);
    route.parents.push({ parentRef: parentRefStatus(ref, route.obj), gateway, conditions: routeParentConditions(route, problem) });
    if (problem || !routeAccepted(route)) continue;
    for (const { listener, hostnames } of att.listeners) {
      // Two parentRefs may reach one listener (e.g. by name and by port): attach once.
      let byRoute = attachedBy.get(listener);
      if (!byRoute) attachedBy.set(listener, (byRoute = new Map()));
      const existing = byRoute.get(route);
      if (existing) existing.hostnames = [...new Set([...existing.hostnames, ...hostnames])];
      else {
        const a = { route, hostnames };
        listener.attached.push(a);
        byRoute.set(route, a);
      }
    }
  }
  const streamRoutes: StreamRouteNode[] = [];
  for (const obj of streamRouteKinds.flatMap((k) => list(snapshot, k))) {
    const ourRefs = (obj.spec?.parentRefs ?? []).flatMap((ref) => {
      const gateway = parentGateway(ref, obj, gatewaysByKey);
      return gateway ? [{ ref, gateway }] : [];
    });
    if (!ourRefs.length) continue;
    const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const rejected = opts.rejected?.get(key);
    const route = buildStreamRoute(obj, backends,
      rejected && rejected.generation === obj.metadata.generation ? { reason: Reason.UnsupportedValue, message: rejected.message } : undefined);
    for (const { ref, gateway } of ourRefs) {
      const att = attachRoute(route, ref, gateway, namespaces);
      route.parents.push({ parentRef: parentRefStatus(ref, obj), gateway, conditions: streamRouteConditions(route, att.problem) });
      if (att.problem || route.problem) continue;
      for (const { listener, hostnames } of att.listeners) {
        const attached = (listener.streamRoutes ??= []);
        const existing = attached.find((a) => a.route === route);
        if (existing) existing.hostnames = [...new Set([...existing.hostnames, ...hostnames])];
        else attached.push({ route, hostnames });
      }
    }
    streamRoutes.push(route);
  }
  return { gatewayClasses, gateways, routes, streamRoutes, backendTLSPolicies: buildBackendTLSPolicies(tlsPolicies, [...routes, ...streamRoutes], tlsIndex) };
}

/** The parentRef as written in status: the spec's fields with defaults filled in. */
function parentRefStatus(ref: ParentReference, route: KubeObject): ParentReference {
  const out: ParentReference = { group: ref.group ?? 'gateway.networking.k8s.io', kind: ref.kind ?? 'Gateway', name: ref.name, namespace: ref.namespace ?? route.metadata.namespace };
  if (ref.sectionName !== undefined) out.sectionName = ref.sectionName;
  if (ref.port !== undefined) out.port = ref.port;
  return out;
}

function routeAccepted(route: RouteNode): boolean {
  return !route.problem && (route.rules.length === 0 || route.rules.some((r) => !r.problem));
}

export function routeParentConditions(route: RouteNode, attachProblem: { reason: string; message: string } | undefined): ParentResult['conditions'] {
  const gen = route.obj.metadata.generation;
  const invalidRules = route.rules.flatMap((r) => (r.problem ? [{ index: r.index, name: r.name, problem: r.problem }] : []));
  const out = [];
  if (route.problem) out.push(condition(ConditionType.Accepted, false, route.problem.reason, route.problem.message, gen));
  else if (attachProblem) out.push(condition(ConditionType.Accepted, false, attachProblem.reason, attachProblem.message, gen));
  // Not accepted without a route problem: the route has rules and every one failed, so invalidRules[0] exists.
  else if (!routeAccepted(route)) out.push(condition(ConditionType.Accepted, false, Reason.UnsupportedValue, `no valid rule: ${invalidRules[0]!.problem.message}`, gen));
  else out.push(condition(ConditionType.Accepted, true, Reason.Accepted, 'Route is accepted', gen));
  const backendProblem = route.rules.filter((r) => !r.problem).flatMap((r) => [...r.backends, ...mirrorBackends(r.filters)]).find((b) => b.problem)?.problem;
  out.push(resolvedRefs(backendProblem, gen));
  if (invalidRules.length && routeAccepted(route)) {
    out.push(condition(ConditionType.PartiallyInvalid, true, Reason.UnsupportedValue,
      `rules ${invalidRules.map((r) => (r.name ? `${r.index} (${r.name})` : r.index)).join(', ')} are not served: ${invalidRules.map((r) => r.problem.message).join('; ')}`, gen));
  }
  return out;
}

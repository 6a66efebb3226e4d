// Route kinds waygate does not serve yet (GRPCRoute; the stream kinds are stream-routes.ts). No
// listener of ours lists them in supportedKinds, so they never attach; but a route naming our
// Gateway must hear why instead of getting no status at all.
//
// Spec (shared_types.go, RouteConditionAccepted): a route no listener's allowedRoutes permit
// (kinds included) is Accepted=False/NotAllowedByListeners, which the conformance tests
// expect for a route kind the listeners do not allow (HTTPRouteDisallowedKind,
// TCPRouteInvalidNonTCPListener, UDPRouteNotAllowedByListeners); a parentRef whose
// sectionName or port selects no listener is NoMatchingParent (TLSRouteInvalidNoMatchingListener),
// as in attachment.ts. ResolvedRefs is reported too, as HTTPRouteDisallowedKind expects of a
// route that does not attach: its backendRefs are resolved by the same rules as HTTPRoute's.
import type { ParentReference } from '../api/gateway-api.ts';
import type { GRPCRoute, KubeObject } from '../objects.ts';
import { parentGateway } from './attachment.ts';
import { resolveBackendRef, type BackendIndex } from './backendrefs.ts';
import { condition, ConditionType, Reason, resolvedRefs } from './conditions.ts';
import type { GatewayNode, ParentResult, UnservedRouteNode } from './types.ts';

export const unservedRouteKinds = ['GRPCRoute'] as const;

export type UnservedRoute = GRPCRoute;

export function buildUnservedRoutes(
  objects: readonly UnservedRoute[],
  gateways: ReadonlyMap<string, GatewayNode>,
  backends: BackendIndex,
  parentRefStatus: (ref: ParentReference, route: KubeObject) => ParentReference,
): UnservedRouteNode[] {
  const out: UnservedRouteNode[] = [];
  for (const obj of objects) {
    const ourRefs = (obj.spec?.parentRefs ?? []).flatMap((ref) => {
      const gateway = parentGateway(ref, obj, gateways);
      return gateway ? [{ ref, gateway }] : [];
    });
    if (!ourRefs.length) continue; // another controller's route: not ours to report on
    const gen = obj.metadata.generation;
    const backendProblem = (obj.spec?.rules ?? [])
      .flatMap((rule, r) => (rule.backendRefs ?? []).map((b, i) => resolveBackendRef(backends, obj, b, `spec.rules[${r}].backendRefs[${i}]`)))
      .find((b) => b.problem)?.problem;
    const resolved = resolvedRefs(backendProblem, gen);
    const parents: ParentResult[] = ourRefs.map(({ ref, gateway }) => {
      const notAccepted = refusal(obj.kind, ref, gateway);
      return { parentRef: parentRefStatus(ref, obj), gateway, conditions: [condition(ConditionType.Accepted, false, notAccepted.reason, notAccepted.message, gen), resolved] };
    });
    out.push({ obj, key: `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`, kind: obj.kind, parents });
  }
  return out;
}

/** Why the parentRef does not take the route: the same order of checks as attachRoute. */
function refusal(kind: string, ref: ParentReference, gateway: GatewayNode): { reason: string; message: string } {
  const notServed = `waygate does not serve ${kind} yet`;
  if (!gateway.valid) return { reason: Reason.NoMatchingParent, message: `Gateway ${gateway.key} is not accepted; ${notServed}` };
  const selected = gateway.listeners.filter((l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port));
  if (!selected.length) {
    const where = [ref.sectionName !== undefined && `sectionName ${ref.sectionName}`, ref.port !== undefined && `port ${ref.port}`].filter(Boolean).join(' and ');
    return { reason: Reason.NoMatchingParent, message: `Gateway ${gateway.key} has no listener with ${where}; ${notServed}` };
  }
  return { reason: Reason.NotAllowedByListeners, message: `${notServed}: no listener of Gateway ${gateway.key} supports it (supportedKinds)` };
}

// TLSRoute, TCPRoute and UDPRoute: one rule of weighted backendRefs (the v1 CRDs allow
// exactly one), resolved by the same rules as HTTPRoute's (backendrefs.ts: core Services,
// ReferenceGrant, BackendNotFound), attached to TLS, TCP and UDP listeners by the same
// attachment rules (attachment.ts). TLSRoute hostnames are SNI names and are validated
// like HTTPRoute hostnames, since they reach nginx's stream map.
//
// Spec (TCPRoute/TLSRoute BackendRef docs): an invalid backendRef keeps its share of
// connections, which are then rejected; with no valid backend every connection is rejected.
// The route is still Accepted (ResolvedRefs=False names the reference).
import type { TCPRoute, TLSRoute, UDPRoute } from '../objects.ts';
import { checkHostname, checkPort, checkWeight } from '../values/checks.ts';
import { resolveBackendRef, type BackendIndex } from './backendrefs.ts';
import { conditionFor, ConditionType, Reason, resolvedRefs, type Problem } from './conditions.ts';
import type { ParentResult, StreamRouteNode } from './types.ts';

export const streamRouteKinds = ['TLSRoute', 'TCPRoute', 'UDPRoute'] as const;

export type StreamRoute = TLSRoute | TCPRoute | UDPRoute;

export function buildStreamRoute(obj: StreamRoute, backends: BackendIndex, rejected?: Problem): StreamRouteNode {
  const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
  const node: StreamRouteNode = { obj, key, kind: obj.kind, hostnames: [], backends: [], parents: [], problem: rejected };
  if (rejected) return node;
  const fail = (message: string): StreamRouteNode => ({ ...node, problem: { reason: Reason.UnsupportedValue, message } });
  if (obj.kind === 'TLSRoute') {
    const hostnames = obj.spec?.hostnames ?? [];
    for (const [i, h] of hostnames.entries()) {
      const err = checkHostname(h);
      if (err) return fail(`spec.hostnames[${i}]: ${err}`);
    }
    node.hostnames = [...new Set(hostnames)];
  }
  const rules = obj.spec?.rules ?? [];
  if (rules.length !== 1) return fail(`spec.rules: exactly one rule is expected, found ${rules.length}`);
  const refs = rules[0]!.backendRefs ?? [];
  for (const [i, b] of refs.entries()) {
    const field = `spec.rules[0].backendRefs[${i}]`;
    // Defense in depth: both reach nginx.conf, whatever the CRD says.
    const weightErr = b.weight === undefined ? undefined : checkWeight(b.weight);
    if (weightErr) return fail(`${field}.weight: ${weightErr}`);
    const portErr = b.port === undefined ? undefined : checkPort(b.port);
    if (portErr) return fail(`${field}.port: ${portErr}`);
  }
  // BackendTLSPolicy: TLS from nginx to the backend where nginx holds the plain bytes
  // (TCPRoute; TLSRoute on a Terminate listener). A passthrough connection is the client's
  // TLS end to end: stream.ts refuses a TLS backend there.
  node.backends = refs.map((b, i) => resolveBackendRef(backends, obj, b, `spec.rules[0].backendRefs[${i}]`, { backendTLS: obj.kind !== 'UDPRoute' }));
  return node;
}

export function streamRouteConditions(route: StreamRouteNode, attachProblem: Problem | undefined): ParentResult['conditions'] {
  const gen = route.obj.metadata.generation;
  const problem = route.problem ?? attachProblem;
  const backendProblem = route.backends.find((b) => b.problem)?.problem;
  return [conditionFor(ConditionType.Accepted, problem, Reason.Accepted, 'Route is accepted', gen), resolvedRefs(backendProblem, gen)];
}

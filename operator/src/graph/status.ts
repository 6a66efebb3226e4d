// Desired status of every object the graph knows, as data (Contour's lesson): the status
// writer (cluster) or the render CLI (--status) merges it with what is stored.
import type { Condition } from '../objects.ts';
import type { DesiredStatus } from '../status/merge.ts';
import { condition, ConditionType, Reason, resolvedRefs } from './conditions.ts';
import { insecureFallbackFields } from './frontend-tls.ts';
import type { GatewayNode, Graph, GraphOptions } from './types.ts';

/** What the data plane said about the config that contains this graph. */
export interface ProgrammedState {
  ok: boolean;
  reason: string;
  message: string;
}

export function gatewayConditions(gw: GatewayNode, programmed: ProgrammedState): Condition[] {
  const gen = gw.obj.metadata.generation;
  const invalidListeners = gw.listeners.filter((l) => !l.valid).map((l) => l.name);
  const accepted = gw.problem
    ? condition(ConditionType.Accepted, false, gw.problem.reason, gw.problem.message, gen)
    : invalidListeners.length
      ? condition(ConditionType.Accepted, true, Reason.ListenersNotValid, `listeners ${invalidListeners.join(', ')} are not valid`, gen)
      : condition(ConditionType.Accepted, true, Reason.Accepted, 'Gateway is accepted', gen);
  // An address another Gateway holds: accepted (spec: AddressNotUsable is a Programmed reason), not programmed.
  const prog = !gw.valid
    ? condition(ConditionType.Programmed, false, Reason.Invalid, 'Gateway is not accepted', gen)
    : gw.addressProblem
      ? condition(ConditionType.Programmed, false, gw.addressProblem.reason, gw.addressProblem.message, gen)
      : gw.addressPending
        ? condition(ConditionType.Programmed, false, gw.addressPending.reason, gw.addressPending.message, gen)
        : condition(ConditionType.Programmed, programmed.ok, programmed.reason, programmed.message, gen);
  const out = [accepted, prog];
  // Present only while some client-certificate validation allows insecure fallback (spec).
  const insecure = insecureFallbackFields(gw.obj);
  if (insecure.length) out.push(condition(ConditionType.InsecureFrontendValidationMode, true, Reason.ConfigurationChanged, `${insecure.join(', ')}: AllowInsecureFallback; clients without a valid certificate are served`, gen));
  // ResolvedRefs of the Gateway itself covers spec.tls.backend.clientCertificateRef (v1.7).
  if (gw.backendClientCertificate) {
    const p = gw.backendClientCertificate.problem;
    out.push(resolvedRefs(p, gen, 'spec.tls.backend.clientCertificateRef resolves: backends reached over TLS (BackendTLSPolicy) receive it'));
  }
  return out;
}

export function desiredStatuses(graph: Graph, opts: GraphOptions, programmed: ProgrammedState): DesiredStatus[] {
  const out: DesiredStatus[] = [];
  for (const c of graph.gatewayClasses) {
    const gen = c.obj.metadata.generation;
    out.push({
      kind: 'GatewayClass',
      name: c.obj.metadata.name,
      status: {
        conditions: [
          c.accepted
            ? condition(ConditionType.Accepted, true, Reason.Accepted, 'GatewayClass is accepted', gen)
            : condition(ConditionType.Accepted, false, c.problem?.reason ?? Reason.InvalidParameters, c.problem?.message ?? 'spec.parametersRef is not valid', gen),
          condition(ConditionType.SupportedVersion, true, Reason.SupportedVersion, 'Gateway API CRD version is supported', gen),
        ],
        supportedFeatures: [...opts.supportedFeatures].sort().map((name) => ({ name })),
      },
    });
  }
  for (const gw of graph.gateways) {
    const gen = gw.obj.metadata.generation;
    out.push({
      kind: 'Gateway',
      namespace: gw.obj.metadata.namespace,
      name: gw.obj.metadata.name,
      status: {
        addresses: gw.valid && !gw.addressProblem ? gw.addresses : [],
        conditions: gatewayConditions(gw, programmed),
        listeners: gw.listeners.map((l) => ({
          name: l.name,
          supportedKinds: l.supportedKinds,
          attachedRoutes: l.attached.length + (l.streamRoutes?.length ?? 0),
          conditions: [
            ...l.conditions,
            !l.programmable
              ? condition(ConditionType.Programmed, false, Reason.Invalid, l.valid ? 'Listener references do not resolve' : 'Listener is not valid', gen)
              : gw.addressProblem
                // Waits for its Gateway's address (see the Gateway's Programmed condition).
                ? condition(ConditionType.Programmed, false, Reason.Pending, `the Gateway has no usable address: ${gw.addressProblem.message}`, gen)
                : condition(ConditionType.Programmed, programmed.ok, programmed.reason, programmed.message, gen),
          ],
        })),
      },
    });
  }
  for (const r of [...graph.routes, ...graph.streamRoutes]) {
    out.push({
      kind: r.kind,
      namespace: r.obj.metadata.namespace,
      name: r.obj.metadata.name,
      parents: r.parents.map((p) => ({ parentRef: p.parentRef, controllerName: opts.controllerName, conditions: p.conditions })),
    });
  }
  for (const p of graph.backendTLSPolicies) {
    out.push({
      kind: 'BackendTLSPolicy',
      namespace: p.obj.metadata.namespace,
      name: p.obj.metadata.name,
      ancestors: p.ancestors.map((a) => ({
        ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: a.gateway.obj.metadata.namespace, name: a.gateway.obj.metadata.name },
        controllerName: opts.controllerName,
        conditions: a.conditions,
      })),
    });
  }
  return out;
}

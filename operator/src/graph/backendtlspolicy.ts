// BackendTLSPolicy, until backend TLS is implemented: fail closed. A policy says a Service
// must be reached over TLS; nginx would reach it in plain text, so every backendRef to a
// targeted Service (port) resolves with a problem (its share answers 500) and the policy
// reports, per Gateway whose routes use that Service, that it is not accepted.
import type { BackendTLSPolicy, Service } from '../objects.ts';
import type { ServicePort } from '../api/core.ts';
import { condition, ConditionType, Reason, type Problem } from './conditions.ts';
import type { BackendTLSPolicyNode, GatewayNode, HTTPRouteNode } from './types.ts';

/** "namespace/service" -> the policies whose targetRefs name it, with the sectionName (Service port name) if any. */
export type BackendTLSPolicyIndex = ReadonlyMap<string, readonly { key: string; sectionName?: string }[]>;

export const policyKey = (p: BackendTLSPolicy): string => `BackendTLSPolicy/${p.metadata.namespace}/${p.metadata.name}`;

export function indexBackendTLSPolicies(policies: readonly BackendTLSPolicy[]): BackendTLSPolicyIndex {
  const out = new Map<string, { key: string; sectionName?: string }[]>();
  for (const p of policies) {
    for (const t of p.spec?.targetRefs ?? []) {
      // targetRefs are local: the Service is in the policy's namespace. Other kinds are not ours to read.
      if (t.group !== '' || t.kind !== 'Service') continue;
      const svc = `${p.metadata.namespace}/${t.name}`;
      const list = out.get(svc) ?? [];
      list.push(t.sectionName ? { key: policyKey(p), sectionName: t.sectionName } : { key: policyKey(p) });
      out.set(svc, list);
    }
  }
  return out;
}

/** Keys of the policies that apply to this Service port: whole-Service targets, and targets whose sectionName is the port's name. */
export function policiesFor(index: BackendTLSPolicyIndex | undefined, svc: Service, port: ServicePort): string[] {
  const targets = index?.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? [];
  return [...new Set(targets.filter((t) => t.sectionName === undefined || t.sectionName === port.name).map((t) => t.key))].sort();
}

/**
 * The backend's problem. ResolvedRefs reasons of the spec (shared_types.go): RefNotPermitted,
 * InvalidKind, BackendNotFound, UnsupportedProtocol. The reference does resolve to a Service,
 * but the protocol the policy requires to reach it (TLS) is one we do not speak yet:
 * UnsupportedProtocol is the listed reason that says so.
 */
export function backendTLSProblem(field: string, service: string, policies: readonly string[]): Problem {
  return {
    reason: Reason.UnsupportedProtocol_,
    message: `${field}: Service ${service} must be reached over TLS (${policies.join(', ')}), and waygate does not support backend TLS yet; requests to it get 500 instead of being sent in plain text`,
  };
}

/**
 * Status of every policy that applies to a backend of a route of ours: one ancestor entry
 * per Gateway the route names (the spec recommends the Gateway as the ancestor). Policies no
 * route of ours uses get nothing: the spec only asks for the Route -> Service path, and a
 * policy for a Service we never reach is not ours to judge (another controller may serve it).
 */
export function buildBackendTLSPolicies(policies: readonly BackendTLSPolicy[], routes: readonly HTTPRouteNode[]): BackendTLSPolicyNode[] {
  const gatewaysOf = new Map<string, Map<string, GatewayNode>>();
  for (const route of routes) {
    for (const backend of route.rules.flatMap((r) => r.backends)) {
      for (const key of backend.tlsPolicies ?? []) {
        const gws = gatewaysOf.get(key) ?? new Map<string, GatewayNode>();
        for (const p of route.parents) if (p.gateway) gws.set(p.gateway.key, p.gateway);
        gatewaysOf.set(key, gws);
      }
    }
  }
  return policies.flatMap((obj) => {
    const gws = gatewaysOf.get(policyKey(obj));
    if (!gws?.size) return [];
    const gen = obj.metadata.generation;
    // Accepted=False reasons of the spec (policy_types.go): Conflicted, Invalid, TargetNotFound,
    // and NoValidCACertificate for this kind. None names "not supported", but the
    // BackendTLSPolicy spec itself uses Invalid for exactly that: a wellKnownCACertificates
    // value the implementation does not support MUST give Accepted=False/Invalid. The others
    // would mislead (no other policy, the target exists, the CA was never looked at).
    const accepted = condition(ConditionType.Accepted, false, Reason.Invalid,
      'waygate does not support backend TLS yet: routes to the targeted Service are refused (500) rather than sent in plain text', gen);
    const ancestors = [...gws.values()].sort((a, b) => a.key.localeCompare(b.key)).map((gateway) => ({ gateway, conditions: [accepted] }));
    return [{ obj, key: policyKey(obj), ancestors }];
  });
}

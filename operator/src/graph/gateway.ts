// Gateways of our accepted GatewayClasses: address and listeners.
import { keyOf, type KubeObject } from '../objects.ts';
import { allocateAddresses, requestedAddress } from './addresses.ts';
import { Reason, type Problem } from './conditions.ts';
import { buildListeners } from './listener.ts';
import type { CertificateIndex } from './certificates.ts';
import type { GatewayClassNode, GatewayNode } from './types.ts';

export function buildGateways(gateways: readonly KubeObject[], classes: readonly GatewayClassNode[], certs: CertificateIndex, addressBlock?: number): GatewayNode[] {
  const byName = new Map(classes.map((c) => [c.obj.metadata.name, c]));
  const ours = gateways.filter((g) => byName.has(g.spec?.gatewayClassName));
  const requested = ours.map((g) => ({ key: keyOf(g), ...requestedAddress(g) }));
  const addresses = allocateAddresses(requested.filter((r) => !r.problem).map((r) => ({ key: r.key, requested: r.address })), addressBlock);
  return ours.map((obj, i) => {
    const cls = byName.get(obj.spec.gatewayClassName)!;
    let problem: Problem | undefined = requested[i].problem;
    if (!cls.accepted) problem = { reason: Reason.Invalid, message: `GatewayClass ${cls.obj.metadata.name} is not accepted` };
    const listeners = buildListeners(obj, problem, certs);
    const valid = !problem && listeners.some((l) => l.valid);
    if (!problem && !valid) problem = { reason: Reason.ListenersNotValid, message: 'no listener is valid' };
    return { obj, key: `${obj.metadata.namespace}/${obj.metadata.name}`, address: addresses.get(requested[i].key), valid, problem, listeners };
  });
}

// Gateways of our accepted GatewayClasses: address and listeners.
import { keyOf, type Gateway } from '../objects.ts';
import { allocateAddresses, requestedAddress } from './addresses.ts';
import { Reason, type Problem } from './conditions.ts';
import { buildListeners } from './listener.ts';
import { resolveBackendClientCertificate, type CertificateIndex } from './certificates.ts';
import type { GatewayClassNode, GatewayNode } from './types.ts';

export function buildGateways(gateways: readonly Gateway[], classes: readonly GatewayClassNode[], certs: CertificateIndex, addressBlock?: number): GatewayNode[] {
  const byName = new Map(classes.map((c) => [c.obj.metadata.name, c]));
  const ours = gateways.flatMap((obj) => {
    const cls = obj.spec && byName.get(obj.spec.gatewayClassName);
    return cls ? [{ obj, cls, key: keyOf(obj), ...requestedAddress(obj) }] : [];
  });
  const addresses = allocateAddresses(ours.filter((r) => !r.problem).map((r) => ({ key: r.key, requested: r.address })), addressBlock);
  return ours.map(({ obj, cls, key, problem: addressProblem }) => {
    let problem: Problem | undefined = addressProblem;
    if (!cls.accepted) problem = { reason: Reason.Invalid, message: `GatewayClass ${cls.obj.metadata.name} is not accepted` };
    // We take no parameters (as for GatewayClass): a Gateway that asks for some is not accepted.
    else if (!problem && obj.spec?.infrastructure?.parametersRef) problem = { reason: Reason.InvalidParameters, message: 'spec.infrastructure.parametersRef: waygate takes no parameters' };
    const listeners = buildListeners(obj, problem, certs);
    const valid = !problem && listeners.some((l) => l.valid);
    if (!problem && !valid) problem = { reason: Reason.ListenersNotValid, message: 'no listener is valid' };
    const backendClientCertificate = obj.spec?.tls?.backend ? { problem: resolveBackendClientCertificate(obj, certs) } : undefined;
    return { obj, key: `${obj.metadata.namespace}/${obj.metadata.name}`, address: addresses.get(key), valid, problem, listeners, backendClientCertificate };
  });
}

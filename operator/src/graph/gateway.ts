// Gateways of our accepted GatewayClasses: address and listeners.
import { keyOf, type Gateway } from '../objects.ts';
import { allocateAddresses, requestedAddress } from './addresses.ts';
import { Reason, type Problem } from './conditions.ts';
import { buildListeners } from './listener.ts';
import { resolveBackendClientCertificate, type CertificateIndex } from './certificates.ts';
import type { GatewayClassNode, GatewayNode } from './types.ts';

export function buildGateways(gateways: readonly Gateway[], classes: readonly GatewayClassNode[], certs: CertificateIndex, addressBlock?: number): GatewayNode[] {
  const byName = new Map(classes.map((c) => [c.obj.metadata.name, c]));
  const nodes = gateways.flatMap((obj) => {
    const cls = obj.spec && byName.get(obj.spec.gatewayClassName);
    if (!cls) return [];
    const { address: requested, problem: addressProblem } = requestedAddress(obj);
    let problem: Problem | undefined = addressProblem;
    if (!cls.accepted) problem = { reason: Reason.Invalid, message: `GatewayClass ${cls.obj.metadata.name} is not accepted` };
    // We take no parameters (as for GatewayClass): a Gateway that asks for some is not accepted.
    else if (!problem && obj.spec?.infrastructure?.parametersRef) problem = { reason: Reason.InvalidParameters, message: 'spec.infrastructure.parametersRef: waygate takes no parameters' };
    const listeners = buildListeners(obj, problem, certs);
    const valid = !problem && listeners.some((l) => l.valid);
    if (!problem && !valid) problem = { reason: Reason.ListenersNotValid, message: 'no listener is valid' };
    const backendClientCertificate = obj.spec?.tls?.backend ? { problem: resolveBackendClientCertificate(obj, certs) } : undefined;
    const node: GatewayNode = { obj, key: `${obj.metadata.namespace}/${obj.metadata.name}`, valid, problem, listeners, backendClientCertificate };
    return [{ node, requested }];
  });
  // Only accepted Gateways hold addresses: one that is not served must not keep an address from one that is.
  const accepted = nodes.filter((n) => n.node.valid);
  const addresses = allocateAddresses(accepted.map(({ node, requested }) => ({ key: keyOf(node.obj), name: node.key, creationTimestamp: node.obj.metadata.creationTimestamp, requested })), addressBlock);
  for (const { node } of accepted) {
    const a = addresses.get(keyOf(node.obj))!;
    if ('address' in a) node.address = a.address;
    else node.addressProblem = a.problem;
  }
  return nodes.map((n) => n.node);
}

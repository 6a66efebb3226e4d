// Gateways of our accepted GatewayClasses: address (or Service exposure) and listeners.
import { keyOf, type ConfigMap, type Gateway, type Service } from '../objects.ts';
import { allocateAddresses, loopbackAddress, serviceAddress, type SpecAddress } from './addresses.ts';
import { Reason, type Problem } from './conditions.ts';
import { allocateInternalPorts, currentInternalPorts, gatewayParameters, gatewayService, gatewayServiceName, infrastructureMetadata, isGatewayService, mergeParameters, serviceAddresses, type GatewayExposureMode, type ServiceParameters } from './exposure.ts';
import { buildListeners } from './listener.ts';
import { resolveBackendClientCertificate, type CertificateIndex } from './certificates.ts';
import type { GatewayClassNode, GatewayNode } from './types.ts';

export interface GatewayInputs {
  certs: CertificateIndex;
  configMaps: ReadonlyMap<string, ConfigMap>;
  services: ReadonlyMap<string, Service>;
  exposure: GatewayExposureMode;
  addressBlock?: number;
}

export function buildGateways(gateways: readonly Gateway[], classes: readonly GatewayClassNode[], inputs: GatewayInputs): GatewayNode[] {
  const byName = new Map(classes.map((c) => [c.obj.metadata.name, c]));
  const service = inputs.exposure === 'service';
  const nodes = gateways.flatMap((obj) => {
    const cls = obj.spec && byName.get(obj.spec.gatewayClassName);
    if (!cls) return [];
    let problem: Problem | undefined;
    let parameters: ServiceParameters = {};
    if (!cls.accepted) problem = { reason: Reason.Invalid, message: `GatewayClass ${cls.obj.metadata.name} is not accepted` };
    else if (obj.spec?.infrastructure?.parametersRef) {
      // Parameters shape the Service; without one there is nothing they could change.
      if (!service) problem = { reason: Reason.InvalidParameters, message: 'spec.infrastructure.parametersRef: parameters apply only when Gateways are exposed through Services (operator --gateway-addresses service)' };
      else {
        const p = gatewayParameters(obj, inputs.configMaps);
        const merged = 'problem' in p ? p : mergeParameters(cls.parameters, p.parameters);
        if ('problem' in merged) problem = merged.problem;
        else parameters = merged.parameters;
      }
    }
    const effective = obj.spec?.infrastructure?.parametersRef ? parameters : cls.parameters;
    // Loopback addresses are nginx's to bind; behind a Service the load balancer's (its type decides what it can take).
    const spec: SpecAddress = service ? serviceAddress(obj, effective.serviceType ?? 'LoadBalancer') : loopbackAddress(obj);
    problem ??= spec.acceptProblem;
    const listeners = buildListeners(obj, problem, inputs.certs, inputs.configMaps);
    const valid = !problem && listeners.some((l) => l.valid);
    if (!problem && !valid) problem = { reason: Reason.ListenersNotValid, message: 'no listener is valid' };
    const backendClientCertificate = obj.spec?.tls?.backend ? resolveBackendClientCertificate(obj, inputs.certs) : undefined;
    const node: GatewayNode = { obj, key: `${obj.metadata.namespace}/${obj.metadata.name}`, valid, problem, listeners, backendClientCertificate, addresses: [] };
    if (valid && spec.addressProblem) node.addressProblem = spec.addressProblem;
    return [{ node, requested: spec.value, parameters: effective }];
  });
  // Only accepted Gateways with a usable request hold addresses: one that is not served must not keep an address from one that is.
  const accepted = nodes.filter((n) => n.node.valid && !n.node.addressProblem);
  if (service) {
    exposeThroughServices(accepted, inputs.services);
    return nodes.map((n) => n.node);
  }
  const addresses = allocateAddresses(accepted.map(({ node, requested }) => ({ key: keyOf(node.obj), name: node.key, creationTimestamp: node.obj.metadata.creationTimestamp, requested })), inputs.addressBlock);
  for (const { node } of accepted) {
    const a = addresses.get(keyOf(node.obj))!;
    if ('address' in a) {
      node.address = a.address;
      node.addresses = [{ type: 'IPAddress', value: a.address }];
    } else node.addressProblem = a.problem;
  }
  return nodes.map((n) => n.node);
}

function exposeThroughServices(accepted: readonly { node: GatewayNode; requested?: string; parameters: ServiceParameters }[], services: ReadonlyMap<string, Service>): void {
  const serviceOf = (gw: GatewayNode) => services.get(`${gw.obj.metadata.namespace}/${gatewayServiceName(gw.obj)}`);
  const ports = allocateInternalPorts(accepted.map(({ node }) => ({
    key: keyOf(node.obj),
    creationTimestamp: node.obj.metadata.creationTimestamp,
    ports: node.listeners.map((l) => l.port),
    current: currentInternalPorts(node.obj, serviceOf(node)),
  })));
  for (const { node, requested, parameters } of accepted) {
    const listenPorts = ports.get(keyOf(node.obj));
    if (!listenPorts) {
      node.addressProblem = { reason: Reason.AddressNotUsable, message: 'no internal port is left for this Gateway\'s listeners (waygate serves at most 10000 listener ports in all)' };
      continue;
    }
    const meta = infrastructureMetadata(node.obj);
    if ('problem' in meta) {
      node.addressProblem = meta.problem;
      continue;
    }
    node.listenPorts = listenPorts;
    const protocols = new Map(node.listeners.map((l) => [l.port, l.protocol === 'UDP' ? ('UDP' as const) : ('TCP' as const)]));
    const name = gatewayServiceName(node.obj);
    const current = services.get(`${node.obj.metadata.namespace}/${name}`);
    const a = serviceAddresses(node.obj, name, current, requested);
    if ('problem' in a) node.addressPending = a.problem;
    else node.addresses = a.addresses;
    // A Service of that name that is someone else's is left alone.
    if (!current || isGatewayService(node.obj, current)) node.service = gatewayService(node.obj, parameters, listenPorts, protocols, meta, requested);
  }
}

// Condition types and reasons, spelled exactly as the Gateway API spec spells them, and a
// builder that stamps observedGeneration. lastTransitionTime is added when status is merged.
import type { Condition } from '../objects.ts';

export const ConditionType = {
  Accepted: 'Accepted',
  Programmed: 'Programmed',
  ResolvedRefs: 'ResolvedRefs',
  Conflicted: 'Conflicted',
  PartiallyInvalid: 'PartiallyInvalid',
  SupportedVersion: 'SupportedVersion',
  /** Gateway: spec.tls.frontend allows clients without a valid certificate. */
  InsecureFrontendValidationMode: 'InsecureFrontendValidationMode',
} as const;

export const Reason = {
  // shared
  Accepted: 'Accepted',
  Programmed: 'Programmed',
  ResolvedRefs: 'ResolvedRefs',
  Invalid: 'Invalid',
  Pending: 'Pending',
  UnsupportedValue: 'UnsupportedValue',
  // GatewayClass
  InvalidParameters: 'InvalidParameters',
  SupportedVersion: 'SupportedVersion',
  // Gateway
  ListenersNotValid: 'ListenersNotValid',
  UnsupportedAddress: 'UnsupportedAddress',
  AddressNotUsable: 'AddressNotUsable',
  AddressNotAssigned: 'AddressNotAssigned',
  // Listener
  NoConflicts: 'NoConflicts',
  HostnameConflict: 'HostnameConflict',
  ProtocolConflict: 'ProtocolConflict',
  UnsupportedProtocol: 'UnsupportedProtocol',
  PortUnavailable: 'PortUnavailable',
  InvalidRouteKinds: 'InvalidRouteKinds',
  InvalidCertificateRef: 'InvalidCertificateRef',
  InvalidClientCertificateRef: 'InvalidClientCertificateRef',
  // Listener: spec.tls.frontend caCertificateRefs (NoValidCACertificate, InvalidCACertificateRef below)
  InvalidCACertificateKind: 'InvalidCACertificateKind',
  // Gateway: InsecureFrontendValidationMode
  ConfigurationChanged: 'ConfigurationChanged',
  // Route
  NotAllowedByListeners: 'NotAllowedByListeners',
  NoMatchingListenerHostname: 'NoMatchingListenerHostname',
  NoMatchingParent: 'NoMatchingParent',
  RefNotPermitted: 'RefNotPermitted',
  InvalidKind: 'InvalidKind',
  BackendNotFound: 'BackendNotFound',
  UnsupportedProtocol_: 'UnsupportedProtocol',
  // Policies (BackendTLSPolicy)
  Conflicted: 'Conflicted',
  NoValidCACertificate: 'NoValidCACertificate',
  InvalidCACertificateRef: 'InvalidCACertificateRef',
} as const;

export function condition(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  const c: Condition = { type, status: ok ? 'True' : 'False', reason, message };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

/** False with the problem's reason and message, else True with the given reason and message. */
export function conditionFor(type: string, problem: Problem | undefined, okReason: string, okMessage: string, generation: number | undefined): Condition {
  return problem ? condition(type, false, problem.reason, problem.message, generation) : condition(type, true, okReason, okMessage, generation);
}

/** ResolvedRefs from the first reference problem, if any. */
export const resolvedRefs = (problem: Problem | undefined, generation: number | undefined, okMessage = 'All references are resolved'): Condition =>
  conditionFor(ConditionType.ResolvedRefs, problem, Reason.ResolvedRefs, okMessage, generation);

/** A problem found while building the graph: the reason and a message naming the field. */
export interface Problem {
  reason: string;
  message: string;
}

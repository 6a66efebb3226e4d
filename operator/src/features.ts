// What this implementation supports, by the conformance suite's feature names. Published
// in GatewayClass status.supportedFeatures and passed to the conformance harness: one list.
export const supportedFeatures: readonly string[] = [
  'Gateway',
  'HTTPRoute',
  'HTTPRouteMethodMatching',
  'HTTPRouteQueryParamMatching',
  'ReferenceGrant',
];

export const defaultControllerName = 'waygate.dev/gateway-controller';

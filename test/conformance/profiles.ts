/** The conformance profiles waygate serves: a plain `npm run conformance` and `npm test` run these. */
export const servedProfiles: readonly string[] = ['GATEWAY-HTTP', 'GATEWAY-GRPC', 'GATEWAY-TLS', 'GATEWAY-TCP', 'GATEWAY-UDP'];

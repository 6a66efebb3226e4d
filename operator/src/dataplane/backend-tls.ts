// TLS from nginx to a backend a BackendTLSPolicy protects: the proxy_ssl_* settings of a
// target location, as quoted tokens. The policy's hostname is both the SNI and the name the
// certificate is verified against (nginx's proxy_ssl_name serves both); trust anchors are
// the policy's CA bundle (a file beside the listener certificates) or the system store.
// A policy with subjectAltNames goes through the agent's TLS hop instead (tls-origin.ts).
import type { BackendTLS } from '../graph/backendtlspolicy.ts';
import { SYSTEM_CA_FILE } from '../graph/backendtlspolicy.ts';
import type { Certificate } from '../graph/certificates.ts';
import type { ModelBuilder } from './builder.ts';
import type { ProxySsl } from './model.ts';
import { quote } from './quote.ts';

/** Leaf, up to three intermediates, and the anchor (nginx's default of 1 refuses any intermediate). */
export const VERIFY_DEPTH = 4;

/** Same settings, same upstream: what must not be shared between backends of one rule. */
export function tlsSignature(tls: BackendTLS | undefined): string {
  return tls ? JSON.stringify([tls.serverName, tls.trust === 'System' ? 'System' : tls.trust.id, tls.subjectAltNames ?? []]) : '';
}

export function proxySsl(b: ModelBuilder, tls: BackendTLS, certDir: string, clientCertificate: Certificate | undefined): ProxySsl {
  return {
    name: quote(tls.serverName),
    trustedCertificate: tls.trust === 'System' ? quote(SYSTEM_CA_FILE) : b.certificateFile(tls.trust, certDir),
    verifyDepth: VERIFY_DEPTH,
    // The file holds the chain and the key (0600, like listener certificates): nginx reads both from it.
    certificate: clientCertificate ? b.certificateFile(clientCertificate, certDir) : undefined,
  };
}

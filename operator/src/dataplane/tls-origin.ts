// Backends whose BackendTLSPolicy lists subjectAltNames are reached through the agent's TLS
// hop (nginx/agent/tls-origin.ts): nginx verifies an upstream certificate only against the
// name it also sends as SNI, DNS names only, so it cannot honour a SAN list. Each endpoint
// becomes a unix socket that nginx proxies plain bytes to; the agent listens there and
// originates the TLS connection with the policy's settings, which reach it through the
// version's manifest (tls-origin.json). Pure: model values in, manifest entries out.
import type { TlsOriginEntry } from '../../../nginx/agent/tls-origin-manifest.ts';
import type { BackendTLS } from '../graph/backendtlspolicy.ts';
import type { Certificate } from '../graph/certificates.ts';
import { localSocket } from './stream-sockets.ts';

export type { TlsOriginEntry } from '../../../nginx/agent/tls-origin-manifest.ts';
export { TLS_ORIGIN_FILE, TLS_ORIGIN_MANIFEST_VERSION } from '../../../nginx/agent/tls-origin-manifest.ts';

/** Whether nginx cannot verify this policy itself and the hop must. */
export const needsHop = (tls: BackendTLS | undefined): boolean => !!tls?.subjectAltNames?.length;

/** ALPN the hop offers: HTTP upstreams speak HTTP/1.1 to it (nginx's proxy module); stream bytes offer none, as nginx's proxy_ssl does not. */
export const HTTP_ALPN = ['http/1.1'];
/** gRPC upstreams (grpc_pass to the socket speaks h2c): the backend must agree to HTTP/2. */
export const GRPC_ALPN = ['h2'];

export interface OriginFiles {
  socketDir: string;
  certDir: string;
  /** Records a certificate bundle to be written beside the config (certs/<id>.pem). */
  register(cert: Pick<Certificate, 'id' | 'pem'>): void;
}

/**
 * The manifest entry for one endpoint ("ip:port", as nginxEndpoint() normalised it). The
 * socket's name is a hash of every setting (a changed setting is a new socket, an unchanged
 * one keeps its listener across versions), never a user string.
 */
export function originEntry(address: string, tls: BackendTLS, client: Certificate | undefined, alpn: readonly string[], files: OriginFiles): TlsOriginEntry {
  const ca: TlsOriginEntry['ca'] = tls.trust === 'System' ? 'System' : { file: `${files.certDir}/${tls.trust.id}.pem` };
  if (tls.trust !== 'System') files.register(tls.trust);
  if (client) files.register(client);
  const settings = {
    address,
    serverName: tls.serverName,
    ca,
    subjectAltNames: tls.subjectAltNames ?? [],
    ...(client ? { clientCertificate: `${files.certDir}/${client.id}.pem` } : {}),
    alpn: [...alpn],
  };
  return { socket: localSocket(files.socketDir, 'origin', JSON.stringify(settings)), ...settings, source: tls.policy };
}

/** The manifest file's text: entries once each (by socket), sorted, so that the output is deterministic. */
export function renderManifest(entries: readonly TlsOriginEntry[]): string {
  const bySocket = new Map<string, TlsOriginEntry>();
  for (const e of entries) if (!bySocket.has(e.socket)) bySocket.set(e.socket, e);
  const origins = [...bySocket.values()].sort((a, b) => (a.socket < b.socket ? -1 : a.socket > b.socket ? 1 : 0));
  return `${JSON.stringify({ version: 1, origins }, null, 1)}\n`;
}

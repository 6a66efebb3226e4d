// Unix sockets of the local hops behind a TLS port's SNI front (stream.ts) and of the
// agent's TLS hop to backends (tls-origin.ts): names are hashes of our own keys, never user
// strings, and stay short (sun_path holds 108 bytes).
import { createHash } from 'node:crypto';
import type { GatewayNode } from '../graph/types.ts';

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** The socket of one local hop. */
export function localSocket(socketDir: string, kind: 'https' | 'relay' | 'terminate' | 'origin', ...parts: string[]): string {
  const path = `${socketDir}/wg-${kind[0]}-${shortHash(parts.join('\n'))}.sock`;
  if (path.length > 100) throw new Error(`socket path ${path} is too long for a unix socket; use a shorter socket directory`);
  return path;
}

/** The socket the http block's TLS server listens on for an HTTPS port shared with TLS listeners. */
export const httpsSocket = (socketDir: string, gw: GatewayNode, port: number) => localSocket(socketDir, 'https', gw.key, String(port));

/** Ports of a Gateway where HTTPS listeners share the port with TLS listeners (served through the SNI front). */
export function sharedHttpsPorts(gw: GatewayNode): Set<number> {
  const served = gw.listeners.filter((l) => l.programmable);
  const tlsPorts = new Set(served.filter((l) => l.protocol === 'TLS').map((l) => l.port));
  return new Set(served.filter((l) => l.protocol === 'HTTPS' && tlsPorts.has(l.port)).map((l) => l.port));
}


// The TLS hop's manifest: <version dir>/tls-origin.json, written by the operator with the
// version's nginx config, read by the agent (tls-origin.ts). Each entry is one unix socket
// that nginx proxies plain bytes to and from which the agent originates verified TLS to one
// backend endpoint. It names files (the CA bundle, the client certificate) by path, never
// holds key material, and the agent checks every field before it acts on one: an entry that
// fails is reported and skipped, the others are served.
import { isIP } from 'node:net';
import { basename, dirname } from 'node:path';
import type { SubjectAltName } from './san-match.ts';

export const TLS_ORIGIN_FILE = 'tls-origin.json';
export const TLS_ORIGIN_MANIFEST_VERSION = 1;

export interface TlsOriginEntry {
  /** Absolute path of the unix socket: <socket dir>/wg-o-<16 hex>.sock, named by the operator from a hash. */
  socket: string;
  /** The backend endpoint: "ip:port" or "[ipv6]:port". */
  address: string;
  /** SNI (validation.hostname). */
  serverName: string;
  /** Trust anchors: a PEM file of CA certificates, or the system store. */
  ca: { file: string } | 'System';
  /** The certificate must carry at least one of these. */
  subjectAltNames: SubjectAltName[];
  /** A PEM file with the client certificate chain and its key (the Gateway's spec.tls.backend). */
  clientCertificate?: string;
  /** ALPN protocols offered ("http/1.1" for HTTP upstreams, "h2" for gRPC ones; none for stream proxying). */
  alpn: string[];
  /** The object the entry serves ("BackendTLSPolicy/ns/name"), for logs. */
  source: string;
}

export interface TlsOriginManifest {
  version: number;
  origins: TlsOriginEntry[];
}

const SOCKET_NAME = /^wg-o-[0-9a-f]{16}\.sock$/;
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** The CRD's AbsoluteURI pattern, and printable ASCII without spaces. */
const URI = /^(([^:/?#]+):)(\/\/([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?$/;
const PRINTABLE = /^[\x21-\x7e]+$/;
const PEM_FILE = /^\/[\w./-]+\.pem$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "ip:port" -> host and port for net.connect, or undefined. */
export function parseAddress(address: unknown): { host: string; port: number } | undefined {
  if (typeof address !== 'string') return undefined;
  const m = address.match(/^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (isIP(host) !== (m[1] ? 6 : 4) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

function checkSan(v: unknown): string | undefined {
  if (!isObject(v)) return 'is not an object';
  if (v.type === 'Hostname') return typeof v.hostname === 'string' && v.hostname.length <= 253 && HOSTNAME.test(v.hostname) ? undefined : 'hostname is not a valid hostname';
  if (v.type === 'URI') return typeof v.uri === 'string' && v.uri.length <= 253 && PRINTABLE.test(v.uri) && URI.test(v.uri) ? undefined : 'uri is not an absolute URI';
  return 'type is neither Hostname nor URI';
}

/** Why an entry cannot be used (undefined: it can), for a socket directory `socketDir`. */
export function entryProblem(e: unknown, socketDir: string): string | undefined {
  if (!isObject(e)) return 'is not an object';
  // The agent binds only its own names in its own directory, whatever the manifest says.
  if (typeof e.socket !== 'string' || dirname(e.socket) !== socketDir || !SOCKET_NAME.test(basename(e.socket))) return `socket is not a wg-o-*.sock path in ${socketDir}`;
  if (!parseAddress(e.address)) return 'address is not "ip:port"';
  if (typeof e.serverName !== 'string' || e.serverName.includes('*') || e.serverName.length > 253 || !HOSTNAME.test(e.serverName)) return 'serverName is not a hostname';
  if (!(e.ca === 'System' || (isObject(e.ca) && typeof e.ca.file === 'string' && PEM_FILE.test(e.ca.file)))) return 'ca is neither "System" nor a PEM file';
  if (!Array.isArray(e.subjectAltNames) || e.subjectAltNames.length === 0 || e.subjectAltNames.length > 16) return 'subjectAltNames must list 1 to 16 entries';
  for (const [i, san] of e.subjectAltNames.entries()) {
    const p = checkSan(san);
    if (p) return `subjectAltNames[${i}] ${p}`;
  }
  if (e.clientCertificate !== undefined && !(typeof e.clientCertificate === 'string' && PEM_FILE.test(e.clientCertificate))) return 'clientCertificate is not a PEM file';
  if (!Array.isArray(e.alpn) || e.alpn.length > 2 || !e.alpn.every((p) => p === 'http/1.1' || p === 'h2')) return 'alpn may only offer http/1.1 and h2';
  if (typeof e.source !== 'string' || e.source.length > 512) return 'source is not a string';
  return undefined;
}

/**
 * The usable entries of a manifest's text, and what is wrong with the rest (one line each,
 * naming the entry by index and socket name: nothing else of it reaches a log).
 */
export function parseTlsOriginManifest(text: string, socketDir: string): { origins: TlsOriginEntry[]; problems: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { origins: [], problems: [`${TLS_ORIGIN_FILE} does not parse: ${(err as Error).message}`] };
  }
  if (!isObject(doc) || doc.version !== TLS_ORIGIN_MANIFEST_VERSION || !Array.isArray(doc.origins)) {
    return { origins: [], problems: [`${TLS_ORIGIN_FILE} is not a version ${TLS_ORIGIN_MANIFEST_VERSION} manifest`] };
  }
  const origins: TlsOriginEntry[] = [];
  const problems: string[] = [];
  const sockets = new Set<string>();
  for (const [i, e] of doc.origins.entries()) {
    const problem = entryProblem(e, socketDir);
    const name = isObject(e) && typeof e.socket === 'string' ? basename(e.socket).slice(0, 40) : '?';
    if (problem) problems.push(`${TLS_ORIGIN_FILE} origins[${i}] (${name}): ${problem}`);
    else if (sockets.has((e as TlsOriginEntry).socket)) problems.push(`${TLS_ORIGIN_FILE} origins[${i}] (${name}): socket listed twice`);
    else {
      sockets.add((e as TlsOriginEntry).socket);
      origins.push(e as TlsOriginEntry);
    }
  }
  return { origins, problems };
}

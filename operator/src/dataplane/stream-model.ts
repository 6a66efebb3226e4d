// The nginx stream block as data. As in model.ts, every string is a quoted token from
// quote.ts or an identifier we generated.
import type { CertificateFile, ProxySsl } from './model.ts';
import type { TlsOriginEntry } from './tls-origin.ts';

export interface StreamUpstream {
  name: string;
  /** Quoted addresses ("ip:port" or "unix:/path") with weights. */
  servers: { address: string; weight: number }[];
  /** Marked down: nginx finds no live server and closes the connection (rejected share). */
  down?: boolean;
  source: string;
}

/** Part of a route's connections go to `ok`, the rest (invalid backendRefs' share) to `fail`. */
export interface StreamSplit {
  variable: string;
  okPercent: string;
  ok: string;
  fail: string;
  source: string;
}

/** `map $ssl_preread_server_name $variable { hostnames; ... }`: SNI name -> upstream. */
export interface StreamMap {
  variable: string;
  entries: { pattern: string; value: string }[];
  default: string;
  source: string;
}

export interface StreamServer {
  /** Quoted listen address: "ip:port", an internal port, or "unix:/path". */
  listen: string;
  udp: boolean;
  /** TLS is terminated here (TLS listener, mode Terminate). */
  ssl: boolean;
  certificates: string[];
  /** Gateway spec.tls.frontend on a Terminate listener: client certificates (as the http block's, without its 400 page). */
  clientCertificate?: { ca?: string; depth: number; verify: 'on' | 'optional_no_ca' };
  /** Accepts PROXY protocol from the SNI front (local sockets only) and trusts it for $remote_addr. */
  acceptProxyProtocol: boolean;
  /** Reads the ClientHello's SNI name (the front of a TLS port). */
  preread: boolean;
  /** Sends PROXY protocol to what it proxies to (only local sockets). */
  sendProxyProtocol: boolean;
  /** The h1/h2c front of a plaintext port: njs reads the first bytes for the HTTP/2 preface (grpc-front.ts). */
  h2cPreread?: boolean;
  /** An upstream name or a "$variable" naming one. */
  proxyPass: string;
  /** BackendTLSPolicy: TLS to the backends, verified. */
  proxySsl?: ProxySsl;
  source: string;
}

/** `map $wg_h2c $variable`: a front's choice between its port's two local sockets (grpc-front.ts). */
export interface PrefaceMap {
  variable: string;
  /** Upstreams of the HTTP/2 (prior knowledge) socket and of the HTTP/1.1 one. */
  h2c: string;
  plain: string;
  source: string;
}

/** A route the stream model could not express: it is rejected on the next pass (pipeline.ts). */
export interface StreamProblem {
  route: string;
  message: string;
}

export interface StreamModel {
  upstreams: StreamUpstream[];
  splits: StreamSplit[];
  maps: StreamMap[];
  /** h1/h2c fronts' socket choices. */
  prefaceMaps?: PrefaceMap[];
  servers: StreamServer[];
  certificates: CertificateFile[];
  problems: StreamProblem[];
  /** map_hash_* sizes for the hostnames we accept. */
  mapHash: { bucket: number; max: number };
  /** The agent's TLS hop for backends whose policy lists subjectAltNames (tls-origin.json). */
  tlsOrigins: TlsOriginEntry[];
}

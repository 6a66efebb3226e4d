// The nginx-shaped model the templates print. Every string in it is either a quoted
// token from quote.ts or an identifier we generated; templates add nothing user-made.
import type { HashSizes } from './hashes.ts';
import type { TlsOriginEntry } from './tls-origin.ts';
import type { TablePort } from './route-table.ts';

export interface Upstream {
  name: string;
  servers: { address: string; weight: number }[];
  source: string;
  /** rules[].timeouts / retry: the balancer_by_lua_block lines that pick and time each try (policy.ts). */
  balancer?: string[];
  /** The servers are the Lua balancer's peers, in peers.txt (pushed by the agent, no reload), not in http.conf. */
  dynamic?: boolean;
  /** Only route-table rules use it (route-table.ts): its peers are in peers.txt, http.conf has no block for it. */
  table?: boolean;
}

/** A `map` whose value picks a rule target, or a flag map for one regex condition. */
export interface MatchMap {
  /** Quoted source expression. */
  key: string;
  variable: string;
  entries: { pattern: string; value: string; source?: string }[];
  default: string;
  source?: string;
  /** Keys are hostnames, wildcards included, matched as server_name is (map "hostnames"). */
  hostnames?: boolean;
}

export interface Split {
  variable: string;
  /** "50.00%" of requests get `ok`; the rest `fail`. */
  okPercent: string;
  source: string;
}

/** split_clients over a salted $request_id: each bucket's share of requests gets its value, the rest `rest`. */
export interface Sample {
  /** Quoted key, "${request_id}<salt>": one salt per use, so two samples of a request are independent. */
  key: string;
  variable: string;
  /** "12.50%" and a quoted value. */
  buckets: { percent: string; value: string }[];
  rest: string;
  source: string;
}

/** A server's location that sends a copy of a request to the mirror hop (mirror.ts). */
export interface MirrorLocation {
  /** Quoted internal URI, named by the target's `mirror` directive. */
  uri: string;
  /** A variable that is "" for requests outside the mirrored share (percent, fraction). */
  sample?: string;
  requestHeaders: { name: string; value: string }[];
  proxyPass: string;
  source: string;
}

/** The local server that answers mirror copies at once and sends them on (mirror.ts). */
export interface MirrorHop {
  /** Quoted "unix:<socket>". */
  listen: string;
  /** The upstream the mirror locations proxy to (that socket, no keep-alive). */
  upstream: string;
  /** Map variable: the X-Waygate-Mirror header's target URI, or "". */
  dispatch: string;
  /** Mirror copies in flight per mirror backendRef; more are dropped (503 from the hop). */
  inFlight: number;
  /** Mirror copies in flight per namespace of the mirroring routes. */
  inFlightNamespace: number;
  /** Mirror copies in flight for all mirrors together. */
  inFlightTotal: number;
  targets: MirrorHopTarget[];
}

export interface MirrorHopTarget {
  /** Quoted URI the dispatch map names; `send` is the subrequest that proxies the copy. */
  uri: string;
  send: string;
  proxyPass: string;
  proxySsl: ProxySsl | undefined;
  source: string;
}

/** Internal location that serves one rule: proxy, or a status for invalid backends. */
export interface Target {
  id: string;
  /** Quoted internal URI. */
  uri: string;
  upstream?: string;
  /** Share of requests that answer 500 because some backendRefs are invalid. */
  split?: Split;
  status?: number;
  source: string;
  /** RequestRedirect: answered here, nothing is proxied. */
  redirect?: { status: number; location: string };
  /** proxy_set_header lines (Host and the forwarding headers first, then the filters'). */
  requestHeaders: { name: string; value: string }[];
  /** ResponseHeaderModifier: proxy_hide_header names and add_header lines. */
  hideHeaders: string[];
  addHeaders: { name: string; value: string }[];
  /** The proxy_pass target token (upstream and URI). */
  proxyPass?: string;
  /** Quoted route key ("HTTPRoute/ns/name"): $wg_route, the agent's per-route traffic label. */
  route: string;
  /** BackendTLSPolicy: the upstream is reached over TLS with these settings (proxy_pass https://). */
  proxySsl: ProxySsl | undefined;
  /** rules[].timeouts / retry (policy.ts). */
  policy?: TargetPolicy;
  /** GRPCRoute: `uri` is a named location that grpc_passes (grpcs:// with proxySsl as grpc_ssl_*); statuses answer gRPC UNAVAILABLE with these quoted grpc-messages (grpc-target.ts). */
  grpc?: { unavailable: string; invalidShare: string; idle: string };
  /** RequestMirror: `mirror` subrequests to these quoted URIs (the server's mirrorLocations). */
  mirrors?: string[];
  /** Per-backendRef filters: the quoted URI (with the choice variable) of the backend's own location. */
  choose?: string;
  /** CORS: answered here when the variable is "1" (a preflight), with these headers. */
  cors?: { variable: string; headers: { name: string; value: string }[] };
  /** appProtocol kubernetes.io/ws: proxy_read/send_timeout, the idle limit of upgraded connections. */
  upgradeTimeout?: string;
}

/** kubernetes.io/h2c: a local server that grpc_passes what the target proxies to it (dataplane/backend-protocol.ts). */
export interface H2cHop {
  /** Quoted "unix:<socket>". */
  listen: string;
  /** The upstream of the rule's backends. */
  upstream: string;
  source: string;
}

/** proxy_next_upstream* and timeouts of a target, numbers we computed; `deadlines`: Lua filters hold the response to them. */
export interface TargetPolicy {
  nextUpstream?: string;
  tries?: number;
  nextUpstreamTimeout?: string;
  /** proxy_connect/send/read_timeout (only "0s" timeouts: the longest nginx keeps). */
  timeout?: string;
  deadlines: boolean;
}

/** proxy_ssl_* of a target: quoted tokens (validated hostname, file paths we generated). */
export interface ProxySsl {
  /** SNI and the name the certificate must match. */
  name: string;
  trustedCertificate: string;
  verifyDepth: number;
  /** spec.tls.backend.clientCertificateRef of the Gateway: certificate and key file. */
  certificate: string | undefined;
}

export interface Location {
  /** "= /x", "/x/" ... as tokens: modifier and quoted path. */
  modifier: '=' | '';
  path: string;
  /** Map variable choosing the target, or a fixed target URI, or a fixed status. */
  dispatch: { variable: string } | { uri: string } | { status: number };
  /** gRPC server: the target is a named location, reached by error_page (the request URI stays the client's). */
  named?: boolean;
  /** The target served in this location itself (no other location or map names it): no internal location, no rewrite. */
  inline?: Target;
}

export interface Server {
  listen: string;
  /** The port's default server is the route table's router (route-table.ts): its quoted port id; no locations then. */
  router?: string;
  /** Some location's map may choose no rule: the server needs the internal 404 location "/^wg/". */
  noMatch?: boolean;
  /** HTTPS: TLS is terminated here with these certificate files (quoted paths). */
  ssl: boolean;
  certificates: string[];
  /** HTTPS: served by waygate.certs from this key (certificates is empty then). */
  dynamicCertificate?: { key: string; placeholder: string };
  defaultServer: boolean;
  /** Behind the stream block's SNI front (a unix socket): PROXY protocol carries the client address. */
  proxyProtocol?: boolean;
  /** Plaintext ports: the quoted unix socket of the h1/h2c front's HTTP/2 (prior knowledge) side (grpc-front.ts). */
  h2cListen?: string;
  /** Plaintext port without a front: its HTTP/1.1 socket all the same (a previous configuration's front may still send there). */
  plainListen?: string;
  /** Serves GRPCRoutes: targets are named locations, "@wg_" answers 404 when no rule matched. */
  grpc?: boolean;
  serverNames: string[];
  locations: Location[];
  targets: Target[];
  /** RequestMirror: where the targets' `mirror` subrequests go. */
  mirrorLocations?: MirrorLocation[];
  source: string;
  /** Quoted Gateway "ns/name": $wg_gateway, the agent's traffic label. */
  gateway: string;
  /** spec.tls.frontend AllowValidOnly: the quoted CA bundle path and the chain depth nginx verifies. */
  clientCertificate?: { ca?: string; depth: number; verify: 'on' | 'optional_no_ca'; strict: boolean };
  /** Misdirected requests: 421 unless the SNI selected this server's listener (map variable, quoted listener id). */
  sniCheck?: { variable: string; listener: string };
}

/** A certificate bundle to write next to the config, under its content hash. */
export interface CertificateFile {
  name: string;
  pem: string;
}

export interface HttpModel {
  /** Sizes of nginx's lookup hashes for this config (set when the model is complete). */
  hashes: HashSizes | undefined;
  /** Rules left out because nginx configuration cannot express them. */
  problems: ModelProblem[];
  certificates: CertificateFile[];
  /** Plain rules served from the route table (route-table.ts): routes.txt, pushed by the agent, no reload. */
  routeTable: TablePort[];
  /** Some port's default server is a router: http.conf needs the shared upstream wg_table. */
  tableUpstream: boolean;
  /** Request headers every proxying location inherits unless it sets its own list (filters.ts DEFAULT_REQUEST_HEADERS). */
  proxyHeaders: { name: string; value: string }[];
  /** HTTPS listeners' certificates by Lua key (listener-certificates.ts): certs.txt. */
  certificateSets: { key: string; files: string[] }[];
  upstreams: Upstream[];
  maps: MatchMap[];
  splits: Split[];
  /** Backend choices (per-backendRef filters) and mirrored shares. */
  samples: Sample[];
  /** RequestMirror's local hop; absent when nothing is mirrored. */
  mirrorHop?: MirrorHop;
  servers: Server[];
  /** The agent's TLS hop: one socket per endpoint of backends whose policy lists subjectAltNames (tls-origin.json). */
  tlsOrigins: TlsOriginEntry[];
  /** Local HTTP/1.1 -> HTTP/2 hops of rules whose backends speak h2c. */
  h2cHops: H2cHop[];
}

/** A rule the model could not express: reported on its route (spec.rules[rule]). */
export interface ModelProblem {
  /** Key of the route ("HTTPRoute/ns/name"). */
  route: string;
  rule: number;
  /** The field path, e.g. "spec.rules[0].matches[1]". */
  field: string;
  message: string;
}

/** Every target of a server: those in internal locations and those served in their location (Location.inline). */
export function serverTargets(s: Pick<Server, 'locations' | 'targets'>): Target[] {
  return [...s.locations.flatMap((l) => (l.inline ? [l.inline] : [])), ...s.targets];
}

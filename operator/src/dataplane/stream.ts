// Graph -> the nginx stream block: TCP and UDP listeners, TLS listeners (Passthrough and
// Terminate), and HTTPS listeners that share a port with TLS listeners.
//
// - TCP/UDP listener: `server { listen <addr>:<port> [udp]; proxy_pass <route target>; }`.
//   Several routes may attach to one listener; the oldest serves (spec, TCPRoute conformance:
//   all are Accepted, the listener counts them all).
// - A port with TLS listeners gets one front server that reads the SNI name (ssl_preread)
//   and picks a destination with a `map ... { hostnames; }`, whose precedence (exact name,
//   then the longest wildcard) is the spec's. Passthrough names go to their route's backends.
//   Names nobody serves are closed (an upstream whose only server is down). When the port
//   also needs local destinations (a Terminate listener, or HTTPS listeners served by the
//   http block), nginx cannot bind the address in both blocks: the front sends PROXY
//   protocol to local unix sockets only, so passthrough routes there go through a relay
//   socket that strips it, terminate routes to a socket that terminates TLS with the
//   listener's certificates, and HTTPS names to the http block's TLS server (build.ts),
//   which keeps the client address through realip.
// - A route's target: its weighted backends (nginx upstream weights); the share of invalid
//   backendRefs is closed through split_clients; no valid backend closes every connection.
import type { GatewayNode, Graph, ListenerNode, StreamRouteNode } from '../graph/types.ts';
import { hostnameMatches } from '../graph/hostnames.ts';
import { limits } from '../values/checks.ts';
import { DEFAULT_SOCKET_DIR, listenerForHost, type BuildOptions } from './build.ts';
import { nginxEndpoint, splitPercent } from './builder.ts';
import { bucketFor } from './hashes.ts';
import { identifier, quote } from './quote.ts';
import { httpsSocket, localSocket } from './stream-sockets.ts';
import { addH2cFronts } from './grpc-front.ts';
import type { StreamModel, StreamServer } from './stream-model.ts';
import type { ProxySsl } from './model.ts';
import { tlsSignature, VERIFY_DEPTH } from './backend-tls.ts';
import { SYSTEM_CA_FILE, type BackendTLS } from '../graph/backendtlspolicy.ts';
import type { Certificate } from '../graph/certificates.ts';
import { needsHop, originEntry } from './tls-origin.ts';
import { CLIENT_VERIFY_DEPTH } from './server.ts';

/** Connections of a rejected share end here: nginx finds no live server and closes them. */
export const CLOSED_UPSTREAM = 'wg_closed';

/** UDP has no connection: a client's session ends after this much silence. */
const UDP_SESSION_TIMEOUT = '10s';

const age = (r: StreamRouteNode) => r.obj.metadata.creationTimestamp ?? '';
/** Oldest first, then by namespace/name (spec: conflicting routes). */
const byAge = (a: StreamRouteNode, b: StreamRouteNode) => (age(a) < age(b) ? -1 : age(a) > age(b) ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * How specifically a route asked for the SNI name `host`: its own exact name beats its
 * wildcard, a longer wildcard beats a shorter one, no hostnames at all comes last (spec:
 * TLSRoute hostname precedence goes before creation time).
 */
function specificity(route: StreamRouteNode, host: string): number {
  let best = 0;
  for (const r of route.hostnames) {
    if (r === host) best = Math.max(best, r.startsWith('*.') ? r.length : 1e6);
    else if (hostnameMatches(r, host)) best = Math.max(best, r.length);
  }
  return best;
}

export function buildStreamModel(graph: Graph, opts: BuildOptions): StreamModel {
  const model: StreamModel = { upstreams: [], splits: [], maps: [], servers: [], certificates: [], problems: [], mapHash: { bucket: 0, max: 0 }, tlsOrigins: [] };
  const socketDir = opts.socketDir ?? DEFAULT_SOCKET_DIR;
  const routeIds = new Map(graph.streamRoutes.map((r, i) => [r, i]));
  const targets = new Map<StreamRouteNode, string>();
  const socketUpstreams = new Map<string, string>();
  const failed = new Set<string>();
  let closedUsed = false;
  const closed = () => ((closedUsed = true), CLOSED_UPSTREAM);

  /**
   * BackendTLSPolicy settings of a route's backends: one server proxies with one set, so
   * backends that need different ones cannot share a route (it is rejected, naming them).
   */
  const backendTls = (route: StreamRouteNode): BackendTLS | undefined => {
    const valid = route.backends.filter((b) => b.weight > 0 && !b.problem);
    const signatures = new Set(valid.map((b) => tlsSignature(b.tls)));
    if (signatures.size > 1) throw new Error('spec.rules[0].backendRefs: the backends need different TLS settings (BackendTLSPolicy), which one connection-level proxy cannot give them');
    return valid[0]?.tls;
  };
  const clientCertificate = (route: StreamRouteNode) => graph.gateways.find((g) => route.parents.some((p) => p.gateway === g))?.backendClientCertificate?.certificate;
  /** nginx's own proxy_ssl_* (none when the agent's TLS hop originates TLS: subjectAltNames). */
  const routeTls = (route: StreamRouteNode): ProxySsl | undefined => {
    const tls = backendTls(route);
    if (!tls || needsHop(tls)) return undefined;
    const client = clientCertificate(route);
    return {
      name: quote(tls.serverName),
      trustedCertificate: tls.trust === 'System' ? quote(SYSTEM_CA_FILE) : certificateFile(tls.trust),
      verifyDepth: VERIFY_DEPTH,
      certificate: client ? certificateFile(client) : undefined,
    };
  };

  /** What a route's connections are proxied to: an upstream name or a split variable. */
  const target = (route: StreamRouteNode): string => {
    let t = targets.get(route);
    if (t) return t;
    const id = routeIds.get(route)!;
    const weighted = route.backends.filter((b) => b.weight > 0);
    const valid = weighted.filter((b) => !b.problem);
    const tls = backendTls(route);
    const via = (address: string) => (tls && needsHop(tls) ? `unix:${tlsOrigin(address, tls, clientCertificate(route))}` : address);
    const servers = valid.flatMap((b) => b.endpoints.flatMap((e) => nginxEndpoint(e) ?? []).map((address) => ({ address: quote(via(address)), weight: Math.max(1, Math.round((b.weight * 100) / b.endpoints.length)) })));
    if (!servers.length) t = closed(); // no valid backend, all weight 0, or no ready endpoint
    else {
      const upstream = identifier(`wg_su_${id}`);
      model.upstreams.push({ name: upstream, servers, source: route.key });
      const validWeight = valid.reduce((s, b) => s + b.weight, 0);
      const totalWeight = weighted.reduce((s, b) => s + b.weight, 0);
      if (validWeight < totalWeight) {
        const variable = identifier(`wg_ss_${id}`);
        model.splits.push({ variable, okPercent: splitPercent(validWeight / totalWeight), ok: upstream, fail: closed(), source: route.key });
        t = `$${variable}`;
      } else t = upstream;
    }
    targets.set(route, t);
    return t;
  };

  /** An upstream with the one unix socket `path` (map values name upstreams, never paths). */
  const socketUpstream = (path: string, source: string): string => {
    let name = socketUpstreams.get(path);
    if (name) return name;
    name = identifier(`wg_lu_${socketUpstreams.size}`);
    socketUpstreams.set(path, name);
    model.upstreams.push({ name, servers: [{ address: quote(`unix:${path}`), weight: 1 }], source });
    return name;
  };

  /** The TLS hop's socket for one endpoint (stream bytes: no ALPN); its manifest entry recorded once. */
  const originSockets = new Set<string>();
  const tlsOrigin = (address: string, tls: BackendTLS, client: Certificate | undefined): string => {
    const entry = originEntry(address, tls, client, [], { socketDir, certDir: opts.certDir, register: certificateFile });
    if (!originSockets.has(entry.socket)) {
      originSockets.add(entry.socket);
      model.tlsOrigins.push(entry);
    }
    return entry.socket;
  };

  const certificateFile = (cert: { id: string; pem: string }): string => {
    const name = `${cert.id}.pem`;
    if (!model.certificates.some((c) => c.name === name)) model.certificates.push({ name, pem: cert.pem });
    return quote(`${opts.certDir}/${name}`);
  };

  /** spec.tls.frontend as the http block reads it (server.ts): AllowValidOnly verifies against the CAs; AllowInsecureFallback asks for any certificate. */
  const frontendValidation = (l: ListenerNode): Pick<StreamServer, 'clientCertificate'> => {
    const v = l.clientValidation;
    if (!v) return {};
    return { clientCertificate: v.mode === 'AllowValidOnly' ? { ca: certificateFile(v.ca), depth: CLIENT_VERIFY_DEPTH, verify: 'on' } : { depth: CLIENT_VERIFY_DEPTH, verify: 'optional_no_ca' } };
  };

  const server = (s: Partial<StreamServer> & Pick<StreamServer, 'listen' | 'proxyPass' | 'source'>): StreamServer =>
    ({ udp: false, ssl: false, certificates: [], acceptProxyProtocol: false, preread: false, sendProxyProtocol: false, ...s });

  /** One route's part of the config; a failure stays that route's (rejected on the next pass). */
  const guarded = <T>(route: StreamRouteNode, make: () => T): T | undefined => {
    if (failed.has(route.key)) return undefined;
    try {
      return make();
    } catch (err) {
      failed.add(route.key);
      model.problems.push({ route: route.key, message: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };

  for (const gw of graph.gateways) {
    if (!gw.valid || gw.addressProblem || !(gw.address || gw.listenPorts)) continue;
    const listenOn = (port: number) => quote(gw.listenPorts ? String(gw.listenPorts.get(port)) : `${gw.address}:${port}`);
    const served = gw.listeners.filter((l) => l.programmable);

    for (const l of served.filter((x) => x.protocol === 'TCP' || x.protocol === 'UDP')) {
      const routes = (l.streamRoutes ?? []).map((a) => a.route).sort(byAge);
      for (const route of routes) {
        const s = guarded(route, () => server({ listen: listenOn(l.port), udp: l.protocol === 'UDP', proxyPass: target(route), proxySsl: routeTls(route), source: route.key }));
        if (s) {
          model.servers.push(s);
          break; // the oldest route that renders serves the listener
        }
      }
    }

    const tlsPorts = [...new Set(served.filter((l) => l.protocol === 'TLS').map((l) => l.port))].sort((a, b) => a - b);
    for (const port of tlsPorts) tlsPort(gw, port, served.filter((l) => l.port === port && (l.protocol === 'TLS' || l.protocol === 'HTTPS')), listenOn(port));
  }

  function tlsPort(gw: GatewayNode, port: number, onPort: ListenerNode[], listen: string): void {
    const source = `Gateway/${gw.key}`;
    const https = onPort.some((l) => l.protocol === 'HTTPS');
    const local = https || onPort.some((l) => l.tlsMode === 'Terminate');
    const httpUpstream = https ? socketUpstream(httpsSocket(socketDir, gw, port), source) : undefined;
    /** SNI pattern -> upstream; the first claim of a pattern wins (routes oldest first). */
    const entries = new Map<string, string>();
    const owner = (host: string) => listenerForHost(onPort, host === '*' ? '' : host);

    // Every (listener, route, name) claim; the most specific route hostname, then the oldest route, wins a name.
    const claims = onPort.filter((l) => l.protocol === 'TLS').flatMap((l) => (l.streamRoutes ?? []).flatMap(({ route, hostnames }) =>
      // Listener isolation: a name a more specific listener handles is not this route's.
      hostnames.filter((h) => owner(h) === l).map((host) => ({ l, route, host, rank: specificity(route, host) }))));
    claims.sort((a, b) => b.rank - a.rank || byAge(a.route, b.route) || (a.l.name < b.l.name ? -1 : a.l.name > b.l.name ? 1 : 0));
    for (const { l, route, host } of claims) {
      if (entries.has(host)) continue;
      const dest = guarded(route, () => {
        // Passthrough hands the client's own TLS to the backend: nginx cannot add its own.
        if (l.tlsMode !== 'Terminate' && backendTls(route)) throw new Error('spec.rules[0].backendRefs: a BackendTLSPolicy applies to a backend of this route, and a TLS passthrough listener cannot originate TLS to it');
        if (!local) return target(route);
        const kind = l.tlsMode === 'Terminate' ? 'terminate' : 'relay';
        const path = kind === 'terminate' ? localSocket(socketDir, kind, gw.key, l.name, route.key) : localSocket(socketDir, kind, gw.key, String(port), route.key);
        const listenPath = quote(`unix:${path}`);
        if (!model.servers.some((s) => s.listen === listenPath)) {
          model.servers.push(server({
            listen: listenPath, acceptProxyProtocol: true, proxyPass: target(route), source: route.key,
            ...(kind === 'terminate' ? { proxySsl: routeTls(route) } : {}),
            ...(kind === 'terminate' ? { ssl: true, certificates: l.certificates.map(certificateFile), ...frontendValidation(l) } : {}),
          }));
        }
        return socketUpstream(path, route.key);
      });
      if (dest) entries.set(host, dest);
    }
    // Names of listeners without a route for them: closed, or the http block for HTTPS listeners.
    for (const l of onPort) {
      if (l.hostname && !entries.has(l.hostname)) entries.set(l.hostname, l.protocol === 'HTTPS' ? httpUpstream! : closed());
    }
    const catchAll = owner('*');
    const fallback = entries.get('*') ?? (catchAll?.protocol === 'HTTPS' || (!catchAll && https) ? httpUpstream! : closed());
    entries.delete('*');
    const variable = identifier(`wg_sni_${model.maps.length}`);
    model.maps.push({
      variable,
      entries: [...entries].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pattern, value]) => ({ pattern: quote(pattern), value })),
      default: fallback,
      source,
    });
    model.servers.push(server({ listen, preread: true, sendProxyProtocol: local, proxyPass: `$${variable}`, source }));
  }

  // Plaintext ports with GRPCRoutes: HTTP/1.1 and h2c told apart by a front (grpc-front.ts).
  addH2cFronts(graph, socketDir, model);
  if (closedUsed) model.upstreams.push({ name: CLOSED_UPSTREAM, servers: [{ address: quote('127.0.0.1:9'), weight: 1 }], down: true, source: '' });
  model.upstreams.sort((a, b) => (a.name < b.name ? -1 : 1));
  const entries = Math.max(0, ...model.maps.map((m) => m.entries.length));
  // A bucket holds the longest hostname we accept; max grows with the entries (hashes.ts explains why).
  model.mapHash = { bucket: bucketFor(limits.hostname), max: Math.max(1024, 4 * entries) };
  return model;
}

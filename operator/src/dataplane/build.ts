// Graph -> nginx model: one server per (Gateway address, port, hostname). Which routes a
// server carries follows listener isolation (spec: a request is handled by the most
// specific listener whose hostname matches it, and only by routes attached to that
// listener). Rules the model cannot express are left out and listed in model.problems,
// so that the pipeline reports them on their route and builds again without them.
import type { Graph, ListenerNode } from '../graph/types.ts';
import { hostnameMatches, matchingRouteHostname } from '../graph/hostnames.ts';
import type { MatchCandidate } from '../graph/precedence.ts';
import { limits } from '../values/checks.ts';
import { ModelBuilder } from './builder.ts';
import { hashSizes } from './hashes.ts';
import { finishMirrorHop } from './mirror.ts';
import type { HttpModel } from './model.ts';
import { quote } from './quote.ts';
import { buildServer, routerServer, sniListenerMap } from './server.ts';
import { enforcePeersBudget, PEERS_TOTAL_BUDGET } from './peers-budget.ts';
import { renderRouteTable, tableHost, tableHosts, tablePortId } from './route-table.ts';
import { httpsSocket, sharedHttpsPorts } from './stream-sockets.ts';
import { frontSockets, h2cPorts } from './grpc-front.ts';

export type { ModelProblem } from './model.ts';

export interface BuildOptions {
  /** Where certificate files live, as nginx sees them (the shared volume's certs/). */
  certDir: string;
  /**
   * Where nginx binds the unix sockets of local hops (stream.ts): a directory that exists
   * and whose path nginx's workers may traverse (they connect to the sockets).
   */
  socketDir?: string;
  /**
   * Plaintext ports listen on their h1/h2c front's sockets (grpc-front.ts) also while they
   * have no front, so that the connections a front accepted just before the reload that
   * removes it still find its sockets (nginx deletes sockets no listen names any more, and
   * the old workers' front would fail to connect, logging [crit]). The controller sets it;
   * one-shot renders and tests whose nginx has no socket directory leave it off.
   */
  frontSockets?: boolean;
  /**
   * Plain rules of plain HTTP ports come from the route table (route-table.ts), so that
   * changing them needs no reload. Default on; off renders every rule as server blocks
   * (the tests of the server renderer use it).
   */
  routeTable?: boolean;
  /** Bytes of peers.txt at most (peers-budget.ts; tests set a small one). */
  peersBudget?: number;
}

/** The agent's run directory in the Deployment (manifests/base/deployment.yaml). */
export const DEFAULT_SOCKET_DIR = '/run/waygate/nginx';

export const defaultBuildOptions: BuildOptions = { certDir: '/etc/waygate/config/certs' };

/**
 * The listener that handles requests for `host` on a port: the one whose hostname covers it
 * most specifically (exact, then the longest wildcard, then none). `host` may itself be a
 * wildcard server name: the requests nginx sends to that server are exactly the ones this
 * listener handles, because every listener hostname has a server of its own.
 */
export function listenerForHost(listeners: readonly ListenerNode[], host: string): ListenerNode | undefined {
  const score = (l: ListenerNode) => (!l.hostname ? 0 : l.hostname === host ? 1e6 : hostnameMatches(l.hostname, host) ? l.hostname.length : -1);
  let best: ListenerNode | undefined;
  for (const l of listeners) {
    const s = score(l);
    if (s < 0) continue;
    if (!best || s > score(best) || (s === score(best) && l.name < best.name)) best = l;
  }
  return best;
}

/**
 * The most bytes routes.txt may have: nginx's shared dict (64 MiB, nginx/agent/lua.ts) holds
 * the current document and the next one while workers switch, each in contiguous pages.
 * Measured: a 22 MiB document is stored next to a 20 MiB one, a 24 MiB one is refused next to
 * a 22 MiB one with 43 MB free. Beyond it (thousands of routes at the per-route budget)
 * every rule is rendered as server blocks instead: a slower change, never a refused one.
 */
export const ROUTE_TABLE_TOTAL_BUDGET = 20 * 1024 * 1024;

export function buildHttpModel(graph: Graph, opts: BuildOptions = defaultBuildOptions): HttpModel {
  const model = buildModel(graph, opts);
  if (opts.routeTable === false || renderRouteTable(model.routeTable).length <= ROUTE_TABLE_TOTAL_BUDGET) return model;
  return buildModel(graph, { ...opts, routeTable: false });
}

function buildModel(graph: Graph, opts: BuildOptions): HttpModel {
  const b = new ModelBuilder(graph.routes, { certDir: opts.certDir, socketDir: opts.socketDir ?? DEFAULT_SOCKET_DIR });
  // Behind Services nginx listens on internal ports: redirects must name the listener's port.
  const internal = graph.gateways.flatMap((gw) => [...(gw.listenPorts ?? [])]).sort((x, y) => x[1] - y[1]);
  if (internal.length) {
    b.listenerPort = `$${b.filterMap('$server_port', internal.map(([port, inner]) => ({ pattern: quote(String(inner)), value: quote(String(port)) })), '$server_port', '')}`; // no source: every Gateway's
  }
  for (const gw of graph.gateways) {
    // Loopback: the Gateway's own address. Service exposure: an internal port per listener port.
    const listenOn = (port: number) => (gw.listenPorts ? String(gw.listenPorts.get(port)) : `${gw.address}:${port}`);
    // HTTPS ports shared with TLS listeners: the stream block's SNI front owns the address and
    // hands the http block its connections on a local socket, with PROXY protocol (stream.ts).
    const behindFront = sharedHttpsPorts(gw);
    // Plaintext ports with GRPCRoutes: behind the h1/h2c front, on two local sockets (grpc-front.ts).
    // With frontSockets the other plaintext ports listen on their sockets too.
    const h2c = h2cPorts(gw);
    if (!gw.valid || gw.addressProblem || !(gw.address || gw.listenPorts)) continue;
    const httpListeners = gw.listeners.filter((l) => l.programmable && (l.protocol === 'HTTP' || l.protocol === 'HTTPS'));
    const ports = [...new Set(httpListeners.map((l) => l.port))].sort((x, y) => x - y);
    for (const port of ports) {
      const onPort = httpListeners.filter((l) => l.port === port);
      const https = onPort[0]!.protocol === 'HTTPS'; // one protocol per port: conflicts are invalid listeners
      const byHost = new Map<string, MatchCandidate[]>([['*', []]]); // "*" answers 404 for hosts no route serves
      for (const l of onPort) if (l.hostname && !byHost.has(l.hostname)) byHost.set(l.hostname, []);
      const seen = new Set<string>();
      for (const l of onPort) {
        for (const { route, hostnames } of l.attached) {
          for (const host of hostnames) {
            // Listener isolation: a host that a more specific listener handles is not this route's.
            if (listenerForHost(onPort, host === '*' ? '' : host) !== l) continue;
            for (const rule of route.rules.filter((r) => !r.problem)) {
              rule.matches.forEach((match, matchIndex) => {
                const id = `${host}\n${route.key}\n${rule.index}\n${matchIndex}`;
                if (seen.has(id)) return;
                seen.add(id);
                let list = byHost.get(host);
                if (!list) byHost.set(host, (list = []));
                list.push({ route, ruleIndex: rule.index, matchIndex, match, routeHostname: matchingRouteHostname(route.hostnames, host) });
              });
            }
          }
        }
      }
      const fronted = behindFront.has(port);
      const sockets = onPort[0]!.protocol === 'HTTP' && (h2c.has(port) || opts.frontSockets) ? frontSockets(opts.socketDir ?? DEFAULT_SOCKET_DIR, gw, port) : undefined;
      const behindH2cFront = !!sockets && h2c.has(port);
      const listen = quote(fronted ? `unix:${httpsSocket(opts.socketDir ?? DEFAULT_SOCKET_DIR, gw, port)}` : behindH2cFront ? `unix:${sockets.plain}` : listenOn(port));
      const sni = https ? sniListenerMap(b, onPort, `Gateway/${gw.key}`) : undefined;
      // Client validation is per port (spec.tls.frontend), so every server of the port has it.
      const client = onPort.find((l) => l.clientValidation)?.clientValidation;
      // Plain rules of plain HTTP ports: from the route table, a push and no reload (route-table.ts).
      const routable = opts.routeTable !== false && !https && !fronted && !behindH2cFront;
      const table = routable ? tableHosts(byHost) : new Set<string>();
      const portId = tablePortId(gw.key, port);
      // Every plain HTTP port is listed, with its server-block hosts, even when it has no table
      // host now (a GRPCRoute's front, say): older workers may still route those hosts from the
      // table until they are gone (nginx/agent/routes.ts withPreviousHosts).
      if (!https) b.model.routeTable.push({ id: portId, hosts: [...table].sort().map((host) => tableHost(b, host, byHost.get(host)!)), servers: [...byHost.keys()].filter((h) => !table.has(h)).sort() });
      for (const host of [...byHost.keys()].sort()) {
        if (table.has(host) && host !== '*') continue;
        // The catch-all server of a port whose listeners all have hostnames still needs a
        // certificate for its handshake (it then answers 404): the first listener's.
        const handler = listenerForHost(onPort, host === '*' ? '' : host);
        const owner = handler ?? onPort[0]!;
        const tls = https ? { certificates: owner.certificates, certDir: opts.certDir, client, sni: sni && { variable: sni.variable, listener: handler && sni.id(handler) } } : undefined;
        const server = table.has(host) ? routerServer(listen, portId, `Gateway/${gw.key}`) : buildServer(b, listen, host, byHost.get(host)!, `Gateway/${gw.key}`, tls, { certDir: opts.certDir, clientCertificate: gw.backendClientCertificate?.certificate });
        if (fronted) server.proxyProtocol = true;
        if (sockets) Object.assign(server, behindH2cFront ? { proxyProtocol: true } : { plainListen: quote(`unix:${sockets.plain}`) }, { h2cListen: quote(`unix:${sockets.h2c}`) });
        b.model.servers.push(server);
      }
    }
  }
  b.model.tableUpstream = b.model.servers.some((s) => s.router);
  // Creation order follows the chains (built back to front); name order reads better.
  b.model.upstreams.sort((x, y) => (x.name < y.name ? -1 : 1));
  b.model.splits.sort((x, y) => (x.variable < y.variable ? -1 : 1));
  b.model.samples.sort((x, y) => (x.variable < y.variable ? -1 : 1));
  finishMirrorHop(b);
  enforcePeersBudget(b, opts.peersBudget ?? PEERS_TOTAL_BUDGET);
  b.model.hashes = hashSizes(
    // Variable names nginx creates for us: $http_<header>, $arg_<query>, and our short wg_ names.
    // SNI maps (HTTPS) have hostnames as keys.
    { hostname: limits.hostname, headerName: limits.headerName, variableName: 5 + Math.max(limits.headerName, limits.queryName), mapKey: b.model.maps.some((m) => m.hostnames) ? Math.max(64, limits.hostname) : 64 },
    {
      serverNames: b.model.servers.length,
      variables: b.model.maps.length + b.model.splits.length + b.model.samples.length + 3, // + $wg_dollar, $wg_upgrade, $wg_connection
      // A mirror location sends its target's headers and one more.
      proxyHeaders: 1 + Math.max(0, ...b.model.servers.flatMap((s) => s.targets.map((t) => t.requestHeaders.length + t.hideHeaders.length))),
      mapKeys: Math.max(0, ...b.model.maps.map((m) => m.entries.length)),
    },
  );
  return b.model;
}

// HTTP/1.1 and h2c (HTTP/2 with prior knowledge, which gRPC clients speak on plaintext
// listeners) on one port. nginx 1.22 cannot serve both on one `listen`: `listen ... http2`
// without TLS is HTTP/2 only (detection of the preface arrived in 1.25). So a plaintext
// port with a GRPCRoute attached gets a front in the stream block: it reads the first bytes
// of each connection (njs js_preread, nginx/agent/h2c-preface.js), and hands the
// connection to one of two unix sockets of the port's http servers, with PROXY protocol so
// the client address survives (realip): the HTTP/2 connection preface goes to the socket
// whose `listen` has `http2`, anything else to the HTTP/1.1 one. Ports without a GRPCRoute
// keep their direct `listen`. HTTPS listeners need no front: ALPN picks h2 there.
import { createHash } from 'node:crypto';
import type { GatewayNode, Graph } from '../graph/types.ts';
import { identifier, quote } from './quote.ts';
import type { StreamModel } from './stream-model.ts';

// The agent's main config defines $wg_h2c and wg_h2c.preread in the stream block
// (nginx/agent/config.ts); templates/stream.conf.hbs names them.

/**
 * Plaintext HTTP ports of a Gateway with a GRPCRoute attached to a listener there, or an
 * HTTPRoute with a kubernetes.io/h2c backend (HTTP/2 end to end: dataplane/backend-protocol.ts).
 */
export function h2cPorts(gw: GatewayNode): Set<number> {
  const http = gw.listeners.filter((l) => l.programmable && l.protocol === 'HTTP');
  const needsH2c = (r: GatewayNode['listeners'][number]['attached'][number]['route']) => r.kind === 'GRPCRoute' || r.rules.some((rule) => rule.backends.some((b) => b.protocol === 'h2c'));
  return new Set(http.filter((l) => l.attached.some((a) => needsH2c(a.route))).map((l) => l.port));
}

/** The two sockets of a fronted port: hashes of our own keys, short enough for sun_path. */
export function frontSockets(socketDir: string, gw: GatewayNode, port: number): { plain: string; h2c: string } {
  const hash = createHash('sha256').update(`front\n${gw.key}\n${port}`).digest('hex').slice(0, 16);
  const at = (kind: string) => {
    const path = `${socketDir}/wg-${kind}-${hash}.sock`;
    if (path.length > 100) throw new Error(`socket path ${path} is too long for a unix socket; use a shorter socket directory`);
    return path;
  };
  return { plain: at('p'), h2c: at('c') };
}

/** The fronts of every fronted port, added to the stream model. */
export function addH2cFronts(graph: Graph, socketDir: string, model: StreamModel): void {
  let n = 0;
  for (const gw of graph.gateways) {
    if (!gw.valid || gw.addressProblem || !(gw.address || gw.listenPorts)) continue;
    const source = `Gateway/${gw.key}`;
    for (const port of [...h2cPorts(gw)].sort((a, b) => a - b)) {
      const sockets = frontSockets(socketDir, gw, port);
      const id = n++;
      const plain = identifier(`wg_fp_${id}`);
      const h2c = identifier(`wg_fc_${id}`);
      model.upstreams.push({ name: plain, servers: [{ address: quote(`unix:${sockets.plain}`), weight: 1 }], source });
      model.upstreams.push({ name: h2c, servers: [{ address: quote(`unix:${sockets.h2c}`), weight: 1 }], source });
      const variable = identifier(`wg_front_${id}`);
      (model.prefaceMaps ??= []).push({ variable, h2c, plain, source });
      model.servers.push({
        listen: quote(gw.listenPorts ? String(gw.listenPorts.get(port)) : `${gw.address}:${port}`),
        udp: false, ssl: false, certificates: [], acceptProxyProtocol: false, preread: false,
        h2cPreread: true, sendProxyProtocol: true, proxyPass: `$${variable}`, source,
      });
    }
  }
}

// How nginx speaks to a rule's backends, from their appProtocol (graph/backend-protocol.ts).
//
// HTTP/1.1 (none, http, kubernetes.io/ws): proxy_pass, WebSocket upgrades included (the
// Upgrade/Connection headers, filters.ts, and the maps in http.conf.hbs). kubernetes.io/ws
// also declares that upgraded connections live long: their idle timeout is raised.
//
// kubernetes.io/h2c: nginx 1.22's proxy module speaks only HTTP/1.x upstream; its gRPC
// module speaks HTTP/2 without TLS and carries any method, headers and body, but takes the
// :path from the request's original URI only while nginx has not rewritten it, and our
// dispatch rewrites every request to an internal target location. So the target proxies
// (HTTP/1.1, $request_uri unchanged) to a local hop: a server on a unix socket whose only
// location grpc_passes the request, parsed afresh, with its exact URI, to the backends.
import { createHash } from 'node:crypto';
import type { BackendNode } from '../graph/types.ts';
import type { HttpModel, Upstream } from './model.ts';
import { identifier, quote } from './quote.ts';

/** Idle timeout of upgraded (WebSocket) connections to kubernetes.io/ws backends (nginx's default is 60s). */
export const WEBSOCKET_IDLE_TIMEOUT = '3600s';

/**
 * proxy_set_header Upgrade and Connection (names unquoted) for every proxied rule: a
 * WebSocket handshake reaches the backend (nginx drops both hop-by-hop headers otherwise),
 * other requests keep the upstream connection alive (empty Connection). The variables are
 * http.conf.hbs's maps: only "websocket" passes, since after another upgrade (h2c, say) the
 * connection would carry requests that no route ever matched.
 */
export const UPGRADE_HEADERS: readonly { name: string; value: string }[] = [
  { name: 'Upgrade', value: '$wg_upgrade' },
  { name: 'Connection', value: '$wg_connection' },
];

/** The hop's socket: a hash of our own keys (never a user string), short enough for sun_path. `part`: a target for one backendRef or mirror of the rule. */
export function h2cSocket(socketDir: string, routeKey: string, rule: number, part = ''): string {
  const path = `${socketDir}/wg-2-${createHash('sha256').update(`h2c\n${routeKey}\n${rule}${part}`).digest('hex').slice(0, 16)}.sock`;
  if (path.length > 100) throw new Error(`socket path ${path} is too long for a unix socket; use a shorter socket directory`);
  return path;
}

/** Why one location cannot serve these backends (HTTP/2 and HTTP/1.1 mixed), or undefined. */
export function protocolProblem(valid: readonly BackendNode[], rule: number): string | undefined {
  const h2c = valid.filter((b) => b.protocol === 'h2c');
  if (!h2c.length || h2c.length === valid.length) return undefined;
  const others = valid.filter((b) => b.protocol !== 'h2c');
  return `spec.rules[${rule}].backendRefs: ${h2c.map((b) => b.name).join(', ')} speak HTTP/2 (appProtocol kubernetes.io/h2c) and ${others.map((b) => b.name).join(', ')} HTTP/1.1; one rule cannot mix them`;
}

/**
 * The hop for an h2c rule: its server (grpc_pass to `backends`) and the upstream the rule's
 * target proxies to instead of `backends`.
 */
export function h2cHop(model: HttpModel, id: string, backends: Upstream, socket: string): Upstream {
  const listen = quote(`unix:${socket}`);
  model.h2cHops.push({ listen, upstream: backends.name, source: backends.source });
  const hop = { name: identifier(`wg_h_${id}`), servers: [{ address: listen, weight: 1 }], source: backends.source };
  model.upstreams.push(hop);
  return hop;
}

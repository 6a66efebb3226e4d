// GRPCRoute rule targets: named locations that grpc_pass to the rule's backends.
//
// Why named locations: HTTPRoute targets are internal locations reached with `rewrite`,
// which replaces the request URI, and nginx's grpc module sends the current URI as :path
// (proxy_pass can be given $request_uri; grpc_pass takes no URI). A jump with
// `error_page 418 = @name; return 418;` keeps the request line untouched, so the backend
// gets the client's own :path, byte for byte (server.hbs).
//
// Backends are always spoken to in HTTP/2 (grpc:// or grpcs:// when a BackendTLSPolicy
// applies, with grpc_ssl_* like proxy_ssl_* of HTTP targets; a policy with subjectAltNames
// goes through the agent's TLS hop with ALPN h2, tls-origin.ts), whatever a Service port's
// appProtocol says. A rule without a usable backend, or the share of invalid backendRefs,
// is answered with gRPC status UNAVAILABLE (spec: GRPCRouteRule.backendRefs) as a
// trailers-only response (HTTP 200, content-type application/grpc, grpc-status 14).
import type { Certificate } from '../graph/certificates.ts';
import type { MatchCandidate } from '../graph/precedence.ts';
import type { RouteNode, RuleNode } from '../graph/types.ts';
import { proxySsl, tlsSignature } from './backend-tls.ts';
import { nginxEndpoint, splitPercent, type ModelBuilder, type RuleTarget } from './builder.ts';
import { filterActions } from './filters.ts';
import { GRPC_ALPN, needsHop } from './tls-origin.ts';
import type { Target } from './model.ts';
import { identifier, quote } from './quote.ts';

/** Named locations of gRPC targets are "@wg_<id>"; "@wg_" (no rule matched) answers 404, UNIMPLEMENTED to gRPC clients. */
export const GRPC_LOCATION_PREFIX = '@wg_';

/** Quoted names of the HTTP/1.1 hop-by-hop headers filters.ts sets for proxy_pass. */
const HOP_BY_HOP = ['"connection"', '"upgrade"'];

/**
 * How long a gRPC stream may stay silent each way (grpc_read/send_timeout, client_body_timeout):
 * nginx's 60 s would cut server-streaming RPCs that wait for events, and client streams.
 */
export const GRPC_STREAM_IDLE = '3600s';

/** grpc-message of the UNAVAILABLE answers (printable ASCII: gRPC percent-encodes only beyond it). */
const NO_BACKEND = 'no valid backend for this GRPCRoute rule';
const NO_ENDPOINT = 'no ready endpoint for this GRPCRoute rule';
export const INVALID_SHARE = 'backendRef not available';

/** Per builder: route ids (in the order servers meet them), rule targets, client certificates. */
interface GrpcState {
  routeIds: Map<RouteNode, number>;
  targets: Map<string, RuleTarget>;
  clients: Map<string, number>;
}
/** The named location of a target id (ids are our identifiers). */
export const grpcLocation = (id: string) => `@${identifier(`wg_${id}`)}`;

const states = new WeakMap<ModelBuilder, GrpcState>();

function stateOf(b: ModelBuilder): GrpcState {
  let s = states.get(b);
  if (!s) states.set(b, (s = { routeIds: new Map(), targets: new Map(), clients: new Map() }));
  return s;
}

/**
 * The upstream (and split) of one rule, shared by every server that serves it; a TLS
 * upstream is per Gateway client certificate, as for HTTP targets (builder.ts).
 */
export function grpcRuleTarget(b: ModelBuilder, route: RouteNode, rule: RuleNode, clientCertificate?: Certificate): RuleTarget {
  const s = stateOf(b);
  let n = s.routeIds.get(route);
  if (n === undefined) s.routeIds.set(route, (n = s.routeIds.size));
  const weighted = rule.backends.filter((x) => x.weight > 0);
  const valid = weighted.filter((x) => !x.problem);
  const tls = valid[0]?.tls;
  let id = `g${n}_${rule.index}`;
  if (tls && clientCertificate) {
    const c = s.clients.get(clientCertificate.id) ?? s.clients.size;
    s.clients.set(clientCertificate.id, c);
    id += `_c${c}`;
  }
  let t = s.targets.get(id);
  if (t) return t;
  // SANs nginx cannot verify: the agent's TLS hop originates TLS (ALPN h2), nginx speaks h2c to its sockets.
  const hop = needsHop(tls);
  t = { id, source: route.key, tls: hop ? undefined : tls };
  s.targets.set(id, t);
  if (new Set(valid.map((x) => tlsSignature(x.tls))).size > 1) {
    t.problem = `spec.rules[${rule.index}].backendRefs: the backends need different TLS settings (BackendTLSPolicy: ${valid.map((x) => `${x.name} ${x.tls ? x.tls.policy : 'none'}`).join(', ')}); one rule cannot mix them`;
    return t;
  }
  const validWeight = valid.reduce((sum, x) => sum + x.weight, 0);
  const totalWeight = weighted.reduce((sum, x) => sum + x.weight, 0);
  if (!valid.length) {
    t.status = 500; // no backendRefs, all invalid, or all weight 0
    return t;
  }
  const via = (address: string) => (hop && tls ? `unix:${b.tlsOrigin(address, tls, clientCertificate, GRPC_ALPN)}` : address);
  const servers = valid.flatMap((x) => x.endpoints.flatMap((e) => nginxEndpoint(e) ?? []).map((address) => ({ address: quote(via(address)), weight: Math.max(1, Math.round((x.weight * 100) / x.endpoints.length)) })));
  if (!servers.length) t.status = 503; // Services without ready endpoints
  else {
    t.upstream = { name: identifier(`wg_u_${id}`), servers, source: route.key };
    b.model.upstreams.push(t.upstream);
  }
  if (validWeight < totalWeight) {
    t.split = { variable: identifier(`wg_s_${id}`), okPercent: splitPercent(validWeight / totalWeight), source: route.key };
    b.model.splits.push(t.split);
  }
  return t;
}

/**
 * The `targetOf` of a gRPC server (server.ts): the id of a candidate's target, created in
 * `targets` on first use. Throws (after recording the problem on the rule) when the rule
 * cannot be expressed.
 */
export function grpcTargets(b: ModelBuilder, targets: Map<string, Target>, backend: { certDir: string; clientCertificate?: Certificate }): (c: MatchCandidate) => string {
  return (c) => {
    const rule = c.route.rules.find((r) => r.index === c.ruleIndex)!;
    const rt = grpcRuleTarget(b, c.route, rule, backend.clientCertificate);
    if (rt.problem) {
      b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].backendRefs`, rt.problem);
      throw new Error(rt.problem);
    }
    if (targets.has(rt.id)) return rt.id;
    let actions;
    try {
      actions = filterActions(b.filterMap, rule.filters, c.match, rt.source, b.listenerPort);
    } catch (err) {
      b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].filters`, err);
      throw err;
    }
    const ssl = rt.upstream && rt.tls ? proxySsl(b, rt.tls, backend.certDir, backend.clientCertificate) : undefined;
    targets.set(rt.id, {
      id: rt.id,
      uri: grpcLocation(rt.id),
      grpc: { unavailable: quote(rt.status === 503 ? NO_ENDPOINT : NO_BACKEND), invalidShare: quote(INVALID_SHARE), idle: GRPC_STREAM_IDLE },
      upstream: rt.upstream?.name,
      split: rt.split,
      status: rt.status,
      source: rt.source,
      route: quote(rt.source),
      // HTTP/2 has no connection-specific headers: the grpc module clears them itself (users cannot set them: graph/grpcroute.ts).
      requestHeaders: actions.requestHeaders.filter((h) => !HOP_BY_HOP.includes(h.name.toLowerCase())),
      hideHeaders: actions.hideHeaders,
      addHeaders: actions.addHeaders,
      proxyPass: rt.upstream && `${ssl ? 'grpcs' : 'grpc'}://${rt.upstream.name}`,
      proxySsl: ssl,
    });
    return rt.id;
  };
}

// One nginx server block: a (Gateway address, port, hostname) with the candidates that
// serve that hostname. Locations dispatch to internal "target" locations, one per rule
// (or per match, when a prefix replacement depends on which prefix matched).
import type { Certificate } from '../graph/certificates.ts';
import type { ClientValidation } from '../graph/frontend-tls.ts';
import type { ListenerNode } from '../graph/types.ts';
import { sortByPrecedence, type MatchCandidate } from '../graph/precedence.ts';
import type { ModelBuilder } from './builder.ts';
import { candidateIndex, locationDispatch, locationKeys, regexStage } from './dispatch.ts';
import { proxySsl } from './backend-tls.ts';
import { WEBSOCKET_IDLE_TIMEOUT } from './backend-protocol.ts';
import { filterActions } from './filters.ts';
import { grpcLocation, grpcTargets } from './grpc-target.ts';
import type { Location, Server, Target } from './model.ts';
import { quote } from './quote.ts';

/** Prefix of internal target URIs: "^" cannot occur in an Exact/PathPrefix value. */
const TARGET_PREFIX = '/^wg/';

/** Longest client certificate chain nginx verifies (spec: implementation specific): leaf, intermediates, root. */
export const CLIENT_VERIFY_DEPTH = 5;

/** The TLS side of an HTTPS server: its certificates, the port's client validation, the SNI check. */
export interface ServerTLS {
  certificates: Certificate[];
  certDir: string;
  client?: ClientValidation;
  /** The map naming the listener the SNI selected, and this server's listener (absent: no listener handles its hosts). */
  sni?: { variable: string; listener?: string };
}

/**
 * A map from the TLS handshake's SNI name to the listener of the port that handles it,
 * with nginx's own server_name rules (exact, then longest wildcard), which are the ones
 * that picked the certificate. No SNI, or a name no listener has, is the hostname-less
 * listener's, or nobody's. Values are listener ids "l<index on the port>".
 */
export function sniListenerMap(b: ModelBuilder, onPort: readonly ListenerNode[], source: string): { variable: string; id: (l: ListenerNode) => string } {
  const id = (l: ListenerNode) => `l${onPort.indexOf(l)}`;
  const catchAll = onPort.find((l) => !l.hostname);
  const entries = onPort.filter((l) => l.hostname).map((l) => ({ pattern: quote(l.hostname!), value: quote(id(l)) }));
  const variable = b.addMap({ key: '$ssl_server_name', hostnames: true, entries, default: catchAll ? quote(id(catchAll)) : '""', source });
  return { variable, id };
}

/** `backend`: where certificate files live, and the Gateway's client certificate for TLS backends. */
export function buildServer(b: ModelBuilder, listen: string, host: string, candidates: MatchCandidate[], source: string, tls?: ServerTLS, backend: { certDir: string; clientCertificate?: Certificate } = { certDir: tls?.certDir ?? '' }): Server {
  const sorted = sortByPrecedence(candidates);
  const targets = new Map<string, Target>();
  // A server serves one route kind (graph/cross-serving.ts); gRPC targets are named locations.
  const grpc = candidates.some((c) => c.route.kind === 'GRPCRoute');
  /** The internal location serving a candidate; throws when its rule cannot be expressed. */
  const targetOf = grpc ? grpcTargets(b, targets, backend) : (c: MatchCandidate): string => {
    const rule = c.route.rules.find((r) => r.index === c.ruleIndex)!;
    const rt = b.ruleTarget(c.route, rule, backend.clientCertificate);
    if (rt.problem) {
      b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].backendRefs`, rt.problem);
      throw new Error(rt.problem);
    }
    // A prefix replacement depends on which PathPrefix matched: one target per match then.
    const perMatch = rule.filters.redirect?.path?.type === 'ReplacePrefixMatch' || rule.filters.rewrite?.path?.type === 'ReplacePrefixMatch';
    const id = perMatch ? `${rt.id}_m${c.matchIndex}` : rt.id;
    if (!targets.has(id)) {
      let actions;
      try {
        actions = filterActions(b.filterMap, rule.filters, c.match, rt.source, b.listenerPort);
      } catch (err) {
        b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].filters`, err);
        throw err;
      }
      const { proxyPath, ...rest } = actions;
      // The original request URI goes upstream unchanged unless a URLRewrite changes the path.
      const scheme = rt.tls ? 'https' : 'http';
      const proxyPass = rt.upstream && (proxyPath ? quote(`${scheme}://${rt.upstream.name}${proxyPath}$is_args$args`) : `${scheme}://${rt.upstream.name}$request_uri`);
      const ssl = rt.upstream && rt.tls ? proxySsl(b, rt.tls, backend.certDir, backend.clientCertificate) : undefined;
      targets.set(id, { id, uri: quote(TARGET_PREFIX + id), upstream: rt.upstream?.name, split: rt.split, status: rt.status, source: rt.source, proxyPass, route: quote(rt.source), proxySsl: ssl, ...(rt.websocket && rt.upstream ? { upgradeTimeout: WEBSOCKET_IDLE_TIMEOUT } : {}), ...rest });
    }
    return id;
  };
  const stage = regexStage(b, sorted, targetOf);
  const applicable = candidateIndex(sorted);
  const locations: Location[] = locationKeys(sorted).map((key) => {
    const loc = { modifier: key.modifier, path: quote(key.path) };
    const d = locationDispatch(b, applicable(key), stage, targetOf, { regexAfterPrefixes: grpc });
    if ('variable' in d) return { ...loc, dispatch: { variable: d.variable }, ...(grpc ? { named: true } : {}) };
    if ('target' in d) return grpc ? { ...loc, dispatch: { uri: grpcLocation(d.target) }, named: true } : { ...loc, dispatch: { uri: quote(TARGET_PREFIX + d.target) } };
    return { ...loc, dispatch: { status: 404 } };
  });
  return {
    listen,
    ssl: !!tls,
    certificates: tls ? tls.certificates.map((c) => b.certificateFile(c, tls.certDir)) : [],
    defaultServer: host === '*',
    serverNames: host === '*' ? ['""'] : [quote(host)],
    locations,
    targets: [...targets.values()].sort((x, y) => (x.id < y.id ? -1 : 1)),
    source,
    gateway: quote(source.replace(/^Gateway\//, '')),
    // AllowValidOnly: a valid certificate from these CAs or nothing. AllowInsecureFallback:
    // the certificate is asked for, and any certificate or none is served. nginx has no mode
    // that verifies and then ignores the result, and nothing of the verdict reaches the
    // backend, so the CAs are not loaded there: optional_no_ca without a CA accepts every
    // issuer (it still refuses, with 400, a certificate nginx finds broken in itself, e.g.
    // expired: said in the README).
    ...(tls?.client
      ? { clientCertificate: tls.client.mode === 'AllowValidOnly'
        ? { ca: b.certificateFile(tls.client.ca, tls.certDir), depth: CLIENT_VERIFY_DEPTH, verify: 'on' as const, strict: true }
        : { depth: CLIENT_VERIFY_DEPTH, verify: 'optional_no_ca' as const, strict: false } }
      : {}),
    ...(tls?.sni?.listener ? { sniCheck: { variable: tls.sni.variable, listener: quote(tls.sni.listener) } } : {}),
    ...(grpc ? { grpc: true } : {}),
  };
}

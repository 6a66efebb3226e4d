// One nginx server block: a (Gateway address, port, hostname) with the candidates that
// serve that hostname. Locations dispatch to internal "target" locations, one per rule
// (or per match, when a prefix replacement depends on which prefix matched).
import type { Certificate } from '../graph/certificates.ts';
import { listenerCertificates } from './listener-certificates.ts';
import type { ClientValidation } from '../graph/frontend-tls.ts';
import type { BackendFilters, RuleFilters } from '../graph/filters.ts';
import type { ListenerNode } from '../graph/types.ts';
import { sortByPrecedence, type MatchCandidate } from '../graph/precedence.ts';
import type { ModelBuilder, RuleTarget } from './builder.ts';
import { candidateIndex, locationDispatch, locationKeys, regexStage } from './dispatch.ts';
import { proxySsl } from './backend-tls.ts';
import { WEBSOCKET_IDLE_TIMEOUT } from './backend-protocol.ts';
import { defaultHeadersOnly, filterActions } from './filters.ts';
import { applyPolicy } from './policy.ts';
import { grpcLocation, grpcTargets } from './grpc-target.ts';
import { ruleMirrors } from './mirror.ts';
import type { Location, MirrorLocation, Server, Target } from './model.ts';
import { quote } from './quote.ts';

/** Filters whose path replacement depends on the PathPrefix that matched. */
const prefixReplaced = (f: Pick<RuleFilters, 'redirect' | 'rewrite'> | undefined) => f?.redirect?.path?.type === 'ReplacePrefixMatch' || f?.rewrite?.path?.type === 'ReplacePrefixMatch';

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
  const mirrorLocations = new Map<string, MirrorLocation>();
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
    const perMatch = prefixReplaced(rule.filters) || rule.backends.some((x) => prefixReplaced(x.filters));
    const suffix = perMatch ? `_m${c.matchIndex}` : '';
    const id = rt.id + suffix;
    if (!targets.has(id)) {
      try {
        const proxyTarget = (tid: string, t: RuleTarget, filters?: BackendFilters): Target => {
          const { proxyPath, cors, ...rest } = filterActions(b.filterMap, rule.filters, c.match, rt.source, b.listenerPort, filters);
          // The original request URI goes upstream unchanged unless a URLRewrite changes the path.
          const scheme = t.tls ? 'https' : 'http';
          const proxyPass = t.upstream && (proxyPath ? quote(`${scheme}://${t.upstream.name}${proxyPath}$is_args$args`) : `${scheme}://${t.upstream.name}$request_uri`);
          const ssl = t.upstream && t.tls ? proxySsl(b, t.tls, backend.certDir, backend.clientCertificate) : undefined;
          // rules[].timeouts / retry: on the upstream (Lua balancer) and the location (policy.ts).
          const policy = t.upstream && rule.policy ? applyPolicy(t.upstream, rule.policy) : undefined;
          // A "0s" timeout sets proxy_read/send_timeout itself (the longest): no WebSocket idle limit beside it.
          const upgrade = t.websocket && t.upstream && !policy?.timeout ? { upgradeTimeout: WEBSOCKET_IDLE_TIMEOUT } : {};
          return { id: tid, uri: quote(TARGET_PREFIX + tid), upstream: t.upstream?.name, split: t.split, status: t.status, source: rt.source, proxyPass, route: quote(rt.source), proxySsl: ssl, ...upgrade, ...(policy ? { policy } : {}), ...rest };
        };
        // RequestMirror and CORS act once per request, with the rule's own filters.
        const own = filterActions(b.filterMap, rule.filters, c.match, rt.source, b.listenerPort);
        const mirrors = ruleMirrors(b, c.route, rule, own.requestHeaders, own.proxyPath, suffix, { certDir: backend.certDir, socketDir: b.files.socketDir, clientCertificate: backend.clientCertificate });
        for (const l of mirrors.locations) mirrorLocations.set(l.uri, l);
        const extra = { ...(mirrors.uris.length ? { mirrors: mirrors.uris } : {}), ...(own.cors ? { cors: own.cors } : {}) };
        const choice = rt.choice;
        if (!choice) targets.set(id, { ...proxyTarget(id, rt), ...extra });
        else if (!choice.sample) targets.set(id, { ...proxyTarget(id, choice.targets[0]!.target, choice.targets[0]!.filters), ...extra });
        else {
          // The rule's location answers preflights, then hands the request to the chosen backend's location.
          for (const ch of choice.targets) targets.set(ch.target.id + suffix, { ...proxyTarget(ch.target.id + suffix, ch.target, ch.filters), ...(extra.mirrors ? { mirrors: extra.mirrors } : {}) });
          const choose = quote(`${TARGET_PREFIX}$${choice.sample.variable}${suffix}`);
          targets.set(id, { id, uri: quote(TARGET_PREFIX + id), source: rt.source, route: quote(rt.source), proxySsl: undefined, requestHeaders: [], hideHeaders: [], addHeaders: [], choose, ...(own.cors ? { cors: own.cors } : {}) });
        }
      } catch (err) {
        b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].filters`, err);
        throw err;
      }
    }
    return id;
  };
  /** How often each target is named (a map entry, a location's own target): one that only a location names moves into it. */
  const references = new Map<string, number>();
  const counted = (c: MatchCandidate): string => {
    const id = targetOf(c);
    references.set(id, (references.get(id) ?? 0) + 1);
    return id;
  };
  const stage = regexStage(b, sorted, counted);
  const applicable = candidateIndex(sorted);
  const fixed: { location: Location; target: string }[] = [];
  const locations: Location[] = locationKeys(sorted).map((key) => {
    const loc = { modifier: key.modifier, path: quote(key.path) };
    const d = locationDispatch(b, applicable(key), stage, counted, { regexAfterPrefixes: grpc });
    if ('variable' in d) return { ...loc, dispatch: { variable: d.variable }, ...(grpc ? { named: true } : {}) };
    if ('target' in d && grpc) return { ...loc, dispatch: { uri: grpcLocation(d.target) }, named: true };
    if ('target' in d) {
      const location = { ...loc, dispatch: { uri: quote(TARGET_PREFIX + d.target) } };
      fixed.push({ location, target: d.target });
      return location;
    }
    return { ...loc, dispatch: { status: 404 } };
  });
  // A target only one location reaches is served in that location, not behind a rewrite to an
  // internal one: one location less per such rule. Every location costs nginx's config load
  // time and memory (Debian's Lua module even builds an SSL context for each), so at 10,000
  // routes this is seconds of nginx -t and hundreds of MiB in the master and every worker.
  // Default request headers come from the http block (one proxy_set_header list for every
  // location, instead of a list, and a headers hash in nginx, per location).
  if (!grpc) for (const [id, t] of targets) if (defaultHeadersOnly(t.requestHeaders)) targets.set(id, { ...t, requestHeaders: [] });
  const fixedCount = new Map<string, number>();
  for (const { target } of fixed) fixedCount.set(target, (fixedCount.get(target) ?? 0) + 1);
  for (const { location, target } of fixed) {
    const t = targets.get(target);
    // Named by locations only (a PathPrefix is two: "= /p" and "/p/"): each gets the target's body.
    if (!t || references.get(target) !== fixedCount.get(target)) continue;
    location.inline = t;
  }
  for (const [target, n] of fixedCount) if (references.get(target) === n) targets.delete(target);
  // A map may choose "" (no rule matched): its rewrite goes to "/^wg/", which answers 404.
  const noMatch = locations.some((l) => 'variable' in l.dispatch) || [...targets.values()].some((t) => t.choose);
  return {
    listen,
    ...(noMatch ? { noMatch } : {}),
    ssl: !!tls,
    certificates: [],
    ...(tls ? { dynamicCertificate: listenerCertificates(b, tls.certificates, tls.certDir) } : {}),
    defaultServer: host === '*',
    serverNames: host === '*' ? ['""'] : [quote(host)],
    locations,
    targets: [...targets.values()].sort((x, y) => (x.id < y.id ? -1 : 1)),
    ...(mirrorLocations.size ? { mirrorLocations: [...mirrorLocations.values()].sort((x, y) => (x.uri < y.uri ? -1 : 1)) } : {}),
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

/** A port's default server when the route table serves it: every request it gets goes to waygate.routes (route-table.ts). */
export function routerServer(listen: string, portId: string, source: string): Server {
  return { listen, ssl: false, certificates: [], defaultServer: true, serverNames: ['""'], locations: [], targets: [], router: quote(portId), source, gateway: quote(source.replace(/^Gateway\//, '')) };
}

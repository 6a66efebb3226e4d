// RequestMirror. nginx's `mirror` sends a subrequest, and the client's connection stays
// busy until that subrequest ends: with a slow mirror backend the next request on a
// keep-alive connection would wait for it. So a mirror location sends the copy (body
// included) to a local hop, a server on a unix socket that answers at once and only then
// sends the copy to the mirror backend, itself as a `mirror` subrequest. The client waits
// for a local answer at most; the mirror backend's slowness or failure stays in the hop,
// which also caps the copies in flight per mirror (beyond the cap they are dropped), so a
// stalled mirror backend cannot take the gateway's connections either.
import type { Certificate } from '../graph/certificates.ts';
import type { Mirror } from '../graph/filters.ts';
import type { RouteNode, RuleNode } from '../graph/types.ts';
import { percentOf } from './backend-choice.ts';
import { proxySsl } from './backend-tls.ts';
import type { ModelBuilder } from './builder.ts';
import type { MirrorHop, MirrorLocation, Sample } from './model.ts';
import { identifier, quote } from './quote.ts';

/** The header naming a copy's mirror at the hop; the hop removes it before sending the copy on. */
export const MIRROR_HEADER = 'X-Waygate-Mirror';
/**
 * Copies in flight at the hop, per mirror and for all mirrors together (each holds its body,
 * up to 1 MiB, and two connections until the mirror backend answers or times out): beyond
 * either cap copies are dropped, so no tenant's mirrors to a stalled backend can take the
 * workers' memory or connections from everyone (a mirror is best effort).
 */
export const MIRROR_IN_FLIGHT = 16;
/** Per namespace of the mirroring routes: one tenant's stalled mirrors leave the rest of the total to others. */
export const MIRROR_IN_FLIGHT_NAMESPACE = 32;
export const MIRROR_IN_FLIGHT_TOTAL = 128;
export const MIRROR_SOCKET = 'wg-mirror.sock';
const TARGET_PREFIX = '/^wg/';
/** Quoted header names the mirror location sets itself. */
const NOT_COPIED = new Set(['"upgrade"', '"connection"', quote(MIRROR_HEADER).toLowerCase()]);

interface HopState {
  hop: MirrorHop;
  /** Hop target ids already added, dispatch entries, samples by mirror id. */
  ids: Set<string>;
  entries: { pattern: string; value: string; source: string }[];
  /** X-Waygate-Mirror id -> the mirroring route's namespace (the per-namespace cap's key). */
  namespaces: { pattern: string; value: string; source: string }[];
  samples: Map<string, string>;
}
const hops = new WeakMap<ModelBuilder, HopState>();

function hopOf(b: ModelBuilder, socketDir: string): HopState {
  let h = hops.get(b);
  if (!h) {
    const socket = `${socketDir}/${MIRROR_SOCKET}`;
    // sun_path holds 108 bytes: a longer path would fail `nginx -t` for everyone.
    if (socket.length > 100) throw new Error(`the mirror hop's socket path ${socket} is too long for a unix socket; use a shorter socket directory`);
    const entries: HopState['entries'] = [];
    h = { hop: { listen: quote(`unix:${socket}`), upstream: 'wg_mirror_hop', dispatch: '', inFlight: MIRROR_IN_FLIGHT, inFlightNamespace: MIRROR_IN_FLIGHT_NAMESPACE, inFlightTotal: MIRROR_IN_FLIGHT_TOTAL, targets: [] }, ids: new Set(), entries, namespaces: [], samples: new Map() };
    hops.set(b, h);
    b.model.mirrorHop = h.hop;
  }
  return h;
}

/**
 * The hop's dispatch map's variable, also the key of its limit_conn_zone. Fixed: nginx
 * refuses to reload (after `nginx -t` passed) when a zone's key variable changes name.
 */
export const MIRROR_TARGET_VARIABLE = 'wg_mirror_target';
export const MIRROR_NAMESPACE_VARIABLE = 'wg_mirror_ns';

/** Called once the model is complete: the hop's dispatch map (X-Waygate-Mirror -> target URI). */
export function finishMirrorHop(b: ModelBuilder): void {
  const h = hops.get(b);
  if (!h) return;
  h.hop.dispatch = identifier(MIRROR_TARGET_VARIABLE);
  b.model.maps.push({ key: '$http_x_waygate_mirror', variable: h.hop.dispatch, entries: h.entries, default: '""' });
  b.model.maps.push({ key: '$http_x_waygate_mirror', variable: identifier(MIRROR_NAMESPACE_VARIABLE), entries: h.namespaces, default: '""' });
  h.hop.targets.sort((x, y) => (x.uri < y.uri ? -1 : 1));
}

/** A mirror's share of requests in split_clients hundredths of a percent (0: none, 10000: all). */
export function mirrorUnits(m: Mirror): number {
  if (!m.fraction) return 10_000;
  const { numerator, denominator } = m.fraction;
  if (numerator === 0) return 0;
  // Any positive share mirrors at least 0.01%; less than all never rounds up to all.
  return Math.min(9_999, Math.max(1, Math.round((numerator * 10_000) / denominator)));
}

export interface RuleMirrors {
  /** The `mirror` URIs of the rule's locations. */
  uris: string[];
  locations: MirrorLocation[];
}

export interface MirrorContext {
  certDir: string;
  socketDir: string;
  clientCertificate?: Certificate;
}

/**
 * The mirror locations of one rule in a server. `requestHeaders` and `proxyPath` are the
 * rule's own (a copy looks like what the rule sends its backends, before any backendRef's
 * filters); `suffix` distinguishes locations per match (prefix rewrites). Mirrors whose
 * backendRef is invalid (reported in ResolvedRefs) or has no ready endpoints send nothing.
 */
export function ruleMirrors(b: ModelBuilder, route: RouteNode, rule: RuleNode, requestHeaders: { name: string; value: string }[], proxyPath: string | undefined, suffix: string, ctx: MirrorContext): RuleMirrors {
  const out: RuleMirrors = { uris: [], locations: [] };
  for (const [i, m] of (rule.filters.mirrors ?? []).entries()) {
    const units = mirrorUnits(m);
    if (m.backend.problem || units === 0) continue;
    // "_mirror": "_m<n>" already names per-match locations.
    const rt = b.ruleTarget(route, { ...rule, backends: [{ ...m.backend, weight: 1 }] }, ctx.clientCertificate, `_mirror${i}`);
    if (rt.problem) throw new Error(`${m.field}.backendRef: ${rt.problem}`);
    if (!rt.upstream) continue; // no ready endpoints: nothing to send the copy to
    const h = hopOf(b, ctx.socketDir);
    const id = rt.id;
    if (!h.ids.has(id)) {
      h.ids.add(id);
      const uri = quote(`${TARGET_PREFIX}${id}`);
      h.entries.push({ pattern: quote(id), value: uri, source: route.key });
      h.namespaces.push({ pattern: quote(id), value: quote(route.obj.metadata.namespace ?? ''), source: route.key });
      h.hop.targets.push({
        uri,
        send: quote(`${TARGET_PREFIX}${id}/send`),
        proxyPass: `${rt.tls ? 'https' : 'http'}://${rt.upstream.name}$request_uri`,
        proxySsl: rt.tls ? proxySsl(b, rt.tls, ctx.certDir, ctx.clientCertificate) : undefined,
        source: route.key,
      });
    }
    let sample: string | undefined;
    if (units < 10_000) {
      sample = h.samples.get(id);
      if (!sample) {
        const s: Sample = { key: quote(`\${request_id}${id}`), variable: identifier(`wg_p_${id}`), buckets: [{ percent: percentOf(units), value: '"1"' }], rest: '""', source: route.key };
        b.model.samples.push(s);
        h.samples.set(id, (sample = s.variable));
      }
    }
    const uri = quote(`${TARGET_PREFIX}${id}${suffix}`);
    out.uris.push(uri);
    out.locations.push({
      uri,
      ...(sample ? { sample } : {}),
      // A copy is never an upgrade, and its connection to the hop ends with the hop's answer.
      // The hop reads the first X-Waygate-Mirror: ours comes first and a route's own header of
      // that name is not copied (nginx 1.22 sends both), so no tenant picks another's mirror target.
      requestHeaders: [{ name: quote(MIRROR_HEADER), value: quote(id) }, ...requestHeaders.filter((h) => !NOT_COPIED.has(h.name.toLowerCase())), { name: '"Upgrade"', value: '""' }, { name: '"Connection"', value: '"close"' }],
      proxyPass: proxyPath ? quote(`http://${h.hop.upstream}${proxyPath}$is_args$args`) : `http://${h.hop.upstream}$request_uri`,
      source: route.key,
    });
  }
  return out;
}

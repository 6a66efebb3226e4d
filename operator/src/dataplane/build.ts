// Graph -> nginx model. Paths go to nginx locations (nginx's own exact/longest-prefix
// choice is the spec's path precedence); within a location a `map` over a
// newline-joined key "$request_method\n$http_x\n${arg_y}\n<regex flags>" picks the first
// rule, in spec precedence, whose method, headers and query match. Every rule a location
// can serve is listed in it, so a miss on a longer path falls back to shorter prefixes.
// User regexes never share a subject with other fields: each has its own flag `map`.
import { isIP } from 'node:net';
import type { Graph, HTTPRouteNode, ListenerNode, RouteMatch, RuleNode } from '../graph/types.ts';
import type { Certificate } from '../graph/certificates.ts';
import { hostnameMatches } from '../graph/hostnames.ts';
import { normalizePrefix, sortByPrecedence, type MatchCandidate } from '../graph/precedence.ts';
import type { HttpModel, Location, MatchMap, Server, Split, Target, Upstream } from './model.ts';
import { identifier, quote, regexLiteral } from './quote.ts';
import { filterActions, type MapFactory } from './filters.ts';
import { groupBy } from '../collections.ts';

/** Prefix of internal target URIs: "^" cannot occur in an Exact/PathPrefix value. */
const TARGET_PREFIX = '/^wg/';
const ANY = '[^\n]*';

interface RuleTarget {
  id: string;
  upstream?: Upstream;
  split?: Split;
  status?: number;
  source: string;
}

/** Context shared across servers: upstreams and flag maps are global and deduplicated. */
class ModelBuilder {
  readonly model: HttpModel = { certificates: [], upstreams: [], maps: [], splits: [], servers: [] };
  private readonly certificateFiles = new Set<string>();
  private readonly ruleTargets = new Map<string, RuleTarget>();
  private readonly flags = new Map<string, string>();
  private readonly routeIds = new Map<HTTPRouteNode, number>();
  private readonly dispatchMaps = new Map<string, string>();
  private mapCount = 0;

  constructor(routes: readonly HTTPRouteNode[]) {
    routes.forEach((r, i) => this.routeIds.set(r, i));
  }

  /** One upstream (and split) per route rule, shared by every server that serves it. */
  ruleTarget(route: HTTPRouteNode, rule: RuleNode): RuleTarget {
    const id = `r${this.routeIds.get(route)}_${rule.index}`;
    let t = this.ruleTargets.get(id);
    if (t) return t;
    t = { id, source: route.key };
    const weighted = rule.backends.filter((b) => b.weight > 0);
    const valid = weighted.filter((b) => !b.problem);
    const validWeight = valid.reduce((s, b) => s + b.weight, 0);
    const totalWeight = weighted.reduce((s, b) => s + b.weight, 0);
    if (!valid.length) t.status = 500; // no backendRefs, all invalid, or all weight 0
    else {
      const servers = valid.flatMap((b) => b.endpoints.filter(validEndpoint).map((address) => ({ address: quote(address), weight: Math.max(1, Math.round((b.weight * 100) / b.endpoints.length)) })));
      if (!servers.length) t.status = 503; // Services without ready endpoints
      else {
        t.upstream = { name: identifier(`wg_u_${id}`), servers, source: route.key };
        this.model.upstreams.push(t.upstream);
      }
      if (validWeight < totalWeight) {
        t.split = { variable: identifier(`wg_s_${id}`), okPercent: `${((100 * validWeight) / totalWeight).toFixed(2)}%`, source: route.key };
        this.model.splits.push(t.split);
      }
    }
    this.ruleTargets.set(id, t);
    return t;
  }

  /** The file path nginx reads a certificate from; the bundle is written once per content. */
  certificateFile(cert: Certificate, certDir: string): string {
    const name = `${cert.id}.pem`;
    if (!this.certificateFiles.has(name)) {
      this.certificateFiles.add(name);
      this.model.certificates.push({ name, pem: cert.pem });
    }
    return quote(`${certDir}/${name}`);
  }

  /** A "0"/"1" variable for one regex condition on one subject, e.g. $uri ~ the route's regex. */
  flag(subject: string, regex: string, source: string): string {
    const k = `${subject}\n${regex}`;
    let v = this.flags.get(k);
    if (v) return v;
    v = identifier(`wg_f${this.flags.size}`);
    this.flags.set(k, v);
    this.model.maps.push({ key: subject, variable: v, entries: [{ pattern: quote(`~^(?:${regex})$`), value: '1' }], default: '0', source });
    return v;
  }

  /** Adds a dispatch map, or reuses an identical one (e.g. "= /x" and "/x/" often pick alike). */
  addDispatchMap(map: MatchMap): string {
    const signature = JSON.stringify([map.key, map.entries, map.default]);
    const existing = this.dispatchMaps.get(signature);
    if (existing) return existing;
    this.dispatchMaps.set(signature, map.variable);
    this.model.maps.push(map);
    return map.variable;
  }

  /** Maps for filters (header appends, path rewrites, redirect ports), deduplicated by content. */
  readonly filterMap: MapFactory = (key, entries, defaultValue, source) => {
    const signature = JSON.stringify([key, entries, defaultValue]);
    const existing = this.dispatchMaps.get(signature);
    if (existing) return existing;
    const variable = this.newMapVariable();
    this.dispatchMaps.set(signature, variable);
    this.model.maps.push({ key, variable, entries, default: defaultValue, source });
    return variable;
  };

  newMapVariable(): string {
    return identifier(`wg_m${this.mapCount++}`);
  }
}

function validEndpoint(address: string): boolean {
  const m = address.match(/^\[?([^\]]+)\]?:(\d+)$/);
  return !!m && isIP(m[1]) !== 0 && Number(m[2]) > 0 && Number(m[2]) < 65536;
}

const headerVar = (name: string) => `$http_${name.toLowerCase().replace(/-/g, '_')}`;
const queryVar = (name: string) => `\${arg_${name}}`;

function unconditional(m: RouteMatch): boolean {
  return !m.method && !m.headers.length && !m.queryParams.length && m.path.type !== 'RegularExpression';
}

type LocationKey = { modifier: '=' | ''; path: string };

/**
 * Which candidates can serve a request that nginx routes to a location, in precedence
 * order: regexes (they may match anywhere), Exact for "= path", and every PathPrefix that
 * is the location's path or a path-element ancestor of it. Indexed, so that the work per
 * location is the size of its answer, not the number of routes on the host.
 */
function candidateIndex(sorted: readonly MatchCandidate[]): (loc: LocationKey) => MatchCandidate[] {
  const order = new Map(sorted.map((c, i) => [c, i] as const));
  const byType = groupBy(sorted, (c) => c.match.path.type);
  const regex = byType.get('RegularExpression') ?? [];
  const exact = groupBy(byType.get('Exact') ?? [], (c) => c.match.path.value);
  const prefix = groupBy(byType.get('PathPrefix') ?? [], (c) => normalizePrefix(c.match.path.value));
  return (loc) => {
    const out = [...regex, ...(loc.modifier === '=' ? exact.get(loc.path) ?? [] : [])];
    let base = loc.modifier === '=' || loc.path === '/' ? loc.path : loc.path.slice(0, -1);
    for (;;) {
      out.push(...(prefix.get(base) ?? []));
      if (base === '/') break;
      const cut = base.lastIndexOf('/');
      base = cut <= 0 ? '/' : base.slice(0, cut);
    }
    return out.sort((a, b) => order.get(a)! - order.get(b)!);
  };
}

function locationKeys(candidates: readonly MatchCandidate[]): LocationKey[] {
  const keys = new Map<string, LocationKey>([['/', { modifier: '', path: '/' }]]);
  for (const { match: { path } } of candidates) {
    if (path.type === 'Exact') keys.set(`=${path.value}`, { modifier: '=', path: path.value });
    if (path.type === 'PathPrefix' && normalizePrefix(path.value) !== '/') {
      const q = normalizePrefix(path.value);
      keys.set(`=${q}`, { modifier: '=', path: q });
      keys.set(q + '/', { modifier: '', path: `${q}/` });
    }
  }
  return [...keys.values()].sort((a, b) => (a.modifier + a.path < b.modifier + b.path ? -1 : 1));
}

/** The map that picks, in precedence order, the first candidate whose conditions hold. */
function dispatchMap(b: ModelBuilder, cands: readonly MatchCandidate[], targetOf: (c: MatchCandidate) => string): MatchMap {
  const useMethod = cands.some((c) => c.match.method);
  const headers = [...new Set(cands.flatMap((c) => c.match.headers.filter((h) => h.type === 'Exact').map((h) => h.name.toLowerCase())))].sort();
  const queries = [...new Set(cands.flatMap((c) => c.match.queryParams.filter((q) => q.type === 'Exact').map((q) => q.name)))].sort();
  const flagsOf = (c: MatchCandidate): string[] => [
    ...(c.match.path.type === 'RegularExpression' ? [b.flag('$uri', c.match.path.value, c.route.key)] : []),
    ...c.match.headers.filter((h) => h.type === 'RegularExpression').map((h) => b.flag(headerVar(h.name), h.value, c.route.key)),
    ...c.match.queryParams.filter((q) => q.type === 'RegularExpression').map((q) => b.flag(queryVar(q.name), q.value, c.route.key)),
  ];
  const candFlags = cands.map(flagsOf);
  const flagVars = [...new Set(candFlags.flat())];
  const fields = [...(useMethod ? ['$request_method'] : []), ...headers.map(headerVar), ...queries.map(queryVar)];
  // The key starts with a constant: nginx's map skips its regexes for an empty key (an
  // absent header would otherwise never reach the catch-all entry).
  const key = `k${[...fields, ...(flagVars.length ? [flagVars.map((f) => `$${f}`).join('')] : [])].join('\n')}`;
  const entries = cands.map((c, i) => {
    const m = c.match;
    const parts = [
      ...(useMethod ? [m.method ? regexLiteral(m.method) : ANY] : []),
      ...headers.map((h) => { const x = m.headers.find((v) => v.type === 'Exact' && v.name.toLowerCase() === h); return x ? regexLiteral(x.value) : ANY; }),
      ...queries.map((q) => { const x = m.queryParams.find((v) => v.type === 'Exact' && v.name === q); return x ? regexLiteral(x.value) : ANY; }),
    ];
    if (flagVars.length) parts.push(flagVars.map((f) => (candFlags[i].includes(f) ? '1' : '.')).join(''));
    const pattern = `~^k${parts.join('\n')}$`;
    return { pattern: quote(pattern), value: targetOf(c), source: c.route.key };
  });
  return { key: quote(key), variable: b.newMapVariable(), entries, default: '""' };
}

/**
 * The certificates a server presents for a host: those of the listener whose hostname
 * covers the host most specifically (exact, then the longest wildcard, then none).
 */
function listenerForHost(listeners: readonly ListenerNode[], host: string): ListenerNode {
  const score = (l: ListenerNode) => (!l.hostname ? 0 : l.hostname === host ? 1e6 : hostnameMatches(l.hostname, host) ? l.hostname.length : -1);
  return [...listeners].sort((a, b) => score(b) - score(a) || (a.name < b.name ? -1 : 1))[0];
}

function buildServer(b: ModelBuilder, listen: string, host: string, candidates: MatchCandidate[], source: string, tls?: { certificates: Certificate[]; certDir: string }): Server {
  const sorted = sortByPrecedence(candidates);
  const targets = new Map<string, Target>();
  const targetOf = (c: MatchCandidate): string => {
    const rule = c.route.rules.find((r) => r.index === c.ruleIndex)!;
    const rt = b.ruleTarget(c.route, rule);
    // A prefix replacement depends on which PathPrefix matched: one target per match then.
    const perMatch = rule.filters.redirect?.path?.type === 'ReplacePrefixMatch' || rule.filters.rewrite?.path?.type === 'ReplacePrefixMatch';
    const id = perMatch ? `${rt.id}_m${c.matchIndex}` : rt.id;
    if (!targets.has(id)) {
      const { proxyPath, ...actions } = filterActions(b.filterMap, rule.filters, c.match, rt.source);
      // The original request URI goes upstream unchanged unless a URLRewrite changes the path.
      const proxyPass = rt.upstream && (proxyPath ? quote(`http://${rt.upstream.name}${proxyPath}$is_args$args`) : `http://${rt.upstream.name}$request_uri`);
      targets.set(id, { id, uri: quote(TARGET_PREFIX + id), upstream: rt.upstream?.name, split: rt.split, status: rt.status, source: rt.source, proxyPass, ...actions });
    }
    return id;
  };
  const applicable = candidateIndex(sorted);
  const locations: Location[] = locationKeys(sorted).map((key) => {
    const all = applicable(key);
    // Candidates after the first unconditional one can never be chosen.
    const firstAlways = all.findIndex((c) => unconditional(c.match));
    const cands = firstAlways < 0 ? all : all.slice(0, firstAlways + 1);
    const loc = { modifier: key.modifier, path: quote(key.path) };
    if (!cands.length) return { ...loc, dispatch: { status: 404 } };
    if (unconditional(cands[0].match)) return { ...loc, dispatch: { uri: quote(TARGET_PREFIX + targetOf(cands[0])) } };
    return { ...loc, dispatch: { variable: b.addDispatchMap(dispatchMap(b, cands, targetOf)) } };
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
  };
}

export interface BuildOptions {
  /** Where certificate files live, as nginx sees them (the shared volume's certs/). */
  certDir: string;
}

export const defaultBuildOptions: BuildOptions = { certDir: '/etc/waygate/config/certs' };

export function buildHttpModel(graph: Graph, opts: BuildOptions = defaultBuildOptions): HttpModel {
  const b = new ModelBuilder(graph.routes);
  for (const gw of graph.gateways) {
    if (!gw.valid || !gw.address) continue;
    const httpListeners = gw.listeners.filter((l) => l.programmable && (l.protocol === 'HTTP' || l.protocol === 'HTTPS'));
    const ports = [...new Set(httpListeners.map((l) => l.port))].sort((x, y) => x - y);
    for (const port of ports) {
      const onPort = httpListeners.filter((l) => l.port === port);
      const https = onPort[0].protocol === 'HTTPS'; // one protocol per port: conflicts are invalid listeners
      const byHost = new Map<string, MatchCandidate[]>();
      const seen = new Set<string>();
      for (const l of onPort) {
        for (const { route, hostnames } of l.attached) {
          for (const host of hostnames) {
            for (const rule of route.rules.filter((r) => !r.problem)) {
              rule.matches.forEach((match, matchIndex) => {
                const id = `${host}\n${route.key}\n${rule.index}\n${matchIndex}`;
                if (seen.has(id)) return;
                seen.add(id);
                let list = byHost.get(host);
                if (!list) byHost.set(host, (list = []));
                list.push({ route, ruleIndex: rule.index, matchIndex, match });
              });
            }
          }
        }
      }
      if (!byHost.has('*')) byHost.set('*', []); // answers 404 for hosts no listener serves
      const listen = quote(`${gw.address}:${port}`);
      for (const host of [...byHost.keys()].sort()) {
        const tls = https ? { certificates: listenerForHost(onPort, host).certificates, certDir: opts.certDir } : undefined;
        b.model.servers.push(buildServer(b, listen, host, byHost.get(host)!, `Gateway/${gw.key}`, tls));
      }
    }
  }
  return b.model;
}

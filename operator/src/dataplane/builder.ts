// The context shared by every server of one model: upstreams, splits and maps are global
// in nginx's http block, so they are created once and deduplicated here. It also collects
// the problems of rules that cannot be expressed (a value too long for one nginx token,
// say): those rules are left out and reported on their route, never thrown at everyone.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Certificate } from '../graph/certificates.ts';
import type { BackendTLS } from '../graph/backendtlspolicy.ts';
import type { RouteNode, RuleNode } from '../graph/types.ts';
import { backendChoice, type BackendChoice } from './backend-choice.ts';
import { tlsSignature } from './backend-tls.ts';
import { h2cHop, h2cSocket, protocolProblem } from './backend-protocol.ts';
import { HTTP_ALPN, needsHop, originEntry } from './tls-origin.ts';
import type { HttpModel, MatchMap, Split, Upstream } from './model.ts';
import { needsLua } from './policy.ts';
import { identifier, quote } from './quote.ts';
import { DEFAULT_REQUEST_HEADERS } from './filters.ts';

export interface RuleTarget {
  id: string;
  upstream?: Upstream;
  split?: Split;
  status?: number;
  source: string;
  /** nginx itself reaches the backends over TLS (BackendTLSPolicy, proxy_ssl_*); unset when the agent's TLS hop does (tls-origin.ts). */
  tls?: BackendTLS;
  /** Set when the rule cannot be expressed (backends needing different TLS settings). */
  problem?: string;
  /** Per-backendRef filters: one target per backendRef, picked per request (backend-choice.ts). */
  choice?: BackendChoice;
  /** A backend declares appProtocol kubernetes.io/ws: upgraded connections may idle long. */
  websocket?: boolean;
}


/** split_clients takes percentages with two decimals, above zero. */
export function splitPercent(share: number): string {
  return `${Math.min(100, Math.max(0.01, Math.round(share * 10_000) / 100)).toFixed(2)}%`;
}

/**
 * "ip:port", or "[ipv6]:port" in the canonical form nginx's parser takes, or undefined.
 * node:net accepts IPv6 spellings nginx refuses ("0:0:0:0:0:0:e249::", with "::" standing
 * for one group; zones like "%eth0"), and a refused address fails `nginx -t` for everyone.
 */
export function nginxEndpoint(address: string): string | undefined {
  const m = address.match(/^\[?([^\]]+)\]?:(\d+)$/);
  if (!m || address.includes('%')) return undefined;
  const [, ip, port] = m;
  if (!(Number(port) > 0 && Number(port) < 65536)) return undefined;
  const family = isIP(ip!);
  if (family === 4) return `${ip}:${Number(port)}`;
  if (family !== 6) return undefined;
  // The WHATWG URL parser writes IPv6 hosts in RFC 5952 form ("::e249:0").
  return `${new URL(`http://[${ip}]/`).hostname}:${Number(port)}`;
}

/**
 * What an upstream of these backends is: the Services and ports (one backend: its weight
 * does not matter), how nginx speaks to them, and the rule policy's balancer settings.
 */
function upstreamSignature(valid: readonly RuleNode['backends'][number][], hop: boolean, clientCertificate: string | undefined, rule: RuleNode): string {
  const backends = valid.length === 1 ? [[valid[0]!.name, 1]] : valid.map((b) => [b.name, b.weight]).sort((a, b) => (String(a) < String(b) ? -1 : 1));
  const policy = rule.policy && needsLua(rule.policy) ? rule.policy : null;
  return JSON.stringify([backends, valid[0]!.protocol ?? 'http', tlsSignature(valid[0]!.tls), hop, clientCertificate ?? '', policy]);
}

export class ModelBuilder {
  readonly model: HttpModel = { certificates: [], proxyHeaders: DEFAULT_REQUEST_HEADERS.map(({ name, value }) => ({ name, value })), certificateSets: [], routeTable: [], tableUpstream: false, upstreams: [], maps: [], splits: [], servers: [], samples: [], hashes: undefined, problems: [], tlsOrigins: [], h2cHops: [] };
  /** "route key\nrule index" of problems: asked for every candidate, so a set, not a scan (many failing rules must not make rendering quadratic). */
  private readonly failedRules = new Set<string>();
  private readonly certificateFiles = new Set<string>();
  private readonly originSockets = new Set<string>();
  private readonly ruleTargets = new Map<string, RuleTarget>();
  /** ruleTarget's answers without a part or client certificate, by rule. */
  private readonly ownRuleTargets = new Map<RuleNode, RuleTarget>();
  /** Upstreams by name, with the signature the name was made from (names are hashes: a collision is refused, never shared). */
  private readonly upstreams = new Map<string, { upstream: Upstream; signature: string }>();
  private readonly upstreamsBySignature = new Map<string, Upstream>();
  private readonly flags = new Map<string, string>();
  /** Route -> the id part of its targets' names: from the route's key, so that another route's arrival renames nothing. */
  private readonly routeIds: Map<RouteNode, string>;
  private readonly maps = new Map<string, string>();
  /** Backend client certificates (by content id) -> a short index for upstream names. */
  private readonly clientCertificates = new Map<string, number>();
  private mapCount = 0;
  /** The port a client connected to, as the Gateway's listener sees it (redirects keep it). */
  listenerPort = '$server_port';

  /** Where certificate files and the TLS hop's sockets live, as nginx and the agent see them. */
  readonly files: { certDir: string; socketDir: string };

  /** Set while the route table's rules are built: their upstreams need no block in http.conf. */
  private tableMode = false;

  constructor(routes: readonly RouteNode[], files: { certDir: string; socketDir: string }) {
    this.routeIds = routeIds(routes);
    this.files = files;
  }

  /**
   * A rule target of the route table (route-table.ts): its upstream's peers go to peers.txt
   * and the shared table upstream balances them, so no upstream block is written for it
   * unless a server block of http.conf uses it too.
   */
  tableTarget(route: RouteNode, rule: RuleNode): RuleTarget {
    this.tableMode = true;
    try {
      return this.ruleTarget(route, rule);
    } finally {
      this.tableMode = false;
    }
  }

  /** The rules using each upstream: what a budget on the peers can refuse (build.ts). */
  readonly upstreamUsers = new Map<string, { route: RouteNode; rule: number }[]>();

  // A rule may be listed twice (one target per backendRef part): fail() ignores a repeat, and
  // a scan for it here would be quadratic in the rules sharing one backend set.
  private noteUser(upstream: string, route: RouteNode, rule: number): void {
    (this.upstreamUsers.get(upstream) ?? this.upstreamUsers.set(upstream, []).get(upstream)!).push({ route, rule });
  }

  /** Records a rule the model cannot express; the caller leaves the rule out. */
  fail(route: RouteNode, rule: number, field: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.failed(route, rule)) return;
    this.failedRules.add(`${route.key}\n${rule}`);
    this.model.problems.push({ route: route.key, rule, field, message });
  }

  failed(route: RouteNode, rule: number): boolean {
    return this.failedRules.has(`${route.key}\n${rule}`);
  }

  /**
   * One upstream (and split) per route rule, shared by every server that serves it. A TLS
   * upstream is per rule and Gateway client certificate: nginx keeps idle connections and
   * TLS sessions per upstream, and one Gateway must not reuse another's authenticated ones.
   */
  ruleTarget(route: RouteNode, rule: RuleNode, clientCertificate?: Certificate, part = ''): RuleTarget {
    // Every location that can reach a rule asks for its target again: the rule's own target
    // (the usual call) is found by the rule object, without building its id string.
    let t = part || clientCertificate ? undefined : this.ownRuleTargets.get(rule);
    if (!t) {
      t = this.newRuleTarget(route, rule, clientCertificate, part);
      if (!part && !clientCertificate) this.ownRuleTargets.set(rule, t);
    }
    // Every target reaches its caller here: one asked for outside the route table (a server
    // block proxies to its upstream by name) gives that upstream its block in http.conf,
    // whether the table created it, or another rule with the same backends did.
    if (!this.tableMode && t.upstream?.table) delete t.upstream.table;
    return t;
  }

  private newRuleTarget(route: RouteNode, rule: RuleNode, clientCertificate: Certificate | undefined, part: string): RuleTarget {
    const weighted = rule.backends.filter((b) => b.weight > 0);
    const valid = weighted.filter((b) => !b.problem);
    // `part` names a target for one backend of the rule (a backendRef with filters, a mirror).
    const perBackend = !part && rule.backends.some((b) => b.filters);
    const tls = perBackend ? valid.find((b) => b.tls)?.tls : valid[0]?.tls;
    let id = `r${this.routeIds.get(route)}_${rule.index}${part}`;
    if (tls && clientCertificate) {
      const n = this.clientCertificates.get(clientCertificate.id) ?? this.clientCertificates.size;
      this.clientCertificates.set(clientCertificate.id, n);
      id += `_c${n}`;
    }
    let t = this.ruleTargets.get(id);
    if (t) return t;
    if (perBackend) {
      t = backendChoice(this, route, rule, id, clientCertificate);
      this.ruleTargets.set(id, t);
      return t;
    }
    // SANs nginx cannot verify: the agent's TLS hop originates TLS, nginx speaks plain HTTP to its sockets.
    const hop = needsHop(tls);
    t = { id, source: route.key, tls: hop ? undefined : tls };
    // One location speaks one way to its upstream: backends of a rule must agree on TLS.
    if (new Set(valid.map((b) => tlsSignature(b.tls))).size > 1) {
      t.problem = `spec.rules[${rule.index}].backendRefs: the backends need different TLS settings (BackendTLSPolicy: ${valid.map((b) => `${b.name} ${b.tls ? b.tls.policy : 'none'}`).join(', ')}); one rule cannot mix them yet`;
      this.ruleTargets.set(id, t);
      return t;
    }
    t.problem = protocolProblem(valid, rule.index);
    if (t.problem) {
      this.ruleTargets.set(id, t);
      return t;
    }
    if (valid.some((b) => b.protocol === 'ws')) t.websocket = true;
    const validWeight = valid.reduce((s, b) => s + b.weight, 0);
    const totalWeight = weighted.reduce((s, b) => s + b.weight, 0);
    if (!valid.length) t.status = 500; // no backendRefs, all invalid, or all weight 0
    else {
      const signature = upstreamSignature(valid, hop, tls && clientCertificate?.id, rule);
      // A backend set already built has these servers (most rules share one): not built again.
      const servers = this.upstreamsBySignature.get(signature)?.servers ?? mergeAddresses(valid.flatMap((b) => b.endpoints.flatMap((e) => nginxEndpoint(e) ?? []).map((address) => ({
        address: quote(hop && tls ? `unix:${this.tlsOrigin(address, tls, clientCertificate)}` : address),
        weight: Math.max(1, Math.round((b.weight * 100) / b.endpoints.length)),
      }))));
      // HTTP/1.1 backends: the peers go to peers.txt, not http.conf (an endpoint change needs no
      // reload), and without a ready endpoint waygate.peers answers 503. The h2c hop grpc_passes
      // to its upstream, which cannot answer that 503: its servers stay in http.conf.
      const dynamic = valid[0]!.protocol !== 'h2c';
      if (!servers.length && !dynamic) t.status = 503; // Services without ready endpoints
      else {
        t.upstream = this.upstream(signature, servers, route.key, dynamic);
        if (t.upstream) this.noteUser(t.upstream.name, route, rule.index);
        if (!t.upstream) {
          t.problem = `spec.rules[${rule.index}].backendRefs: two upstreams of this configuration got the same name; this rule is left out`;
          this.ruleTargets.set(id, t);
          return t;
        }
        // HTTP/2 backends: the target proxies to a local hop that speaks h2c to them.
        if (!dynamic) t.upstream = h2cHop(this.model, id, t.upstream, h2cSocket(this.files.socketDir, route.key, rule.index, part));
      }
      if (validWeight < totalWeight) {
        // Two decimals is split_clients' precision: a tiny valid share still gets 0.01%.
        t.split = { variable: identifier(`wg_s_${id}`), okPercent: splitPercent(validWeight / totalWeight), source: route.key };
        this.model.splits.push(t.split);
      }
    }
    this.ruleTargets.set(id, t);
    return t;
  }

  /**
   * The upstream of a backend set, shared by every rule that uses the same set. Its name is
   * a hash of the set (Services, ports, weights, protocol, TLS, the policy's balancer), so
   * it means the same in every version: the agent pushes the peers (endpoints) of a new
   * version before the reload and the old workers' upstream of that name gets the endpoints
   * of the same backends. Undefined on a hash collision.
   */
  private upstream(signature: string, servers: Upstream['servers'], source: string, dynamic: boolean): Upstream | undefined {
    // Rules sharing a backend set share its upstream: hashed once (most rules share one).
    const shared = this.upstreamsBySignature.get(signature);
    if (shared) return shared;
    const name = identifier(`wg_u_${createHash('sha256').update(signature).digest('hex').slice(0, 16)}`);
    const known = this.upstreams.get(name);
    if (known) return known.signature === signature ? known.upstream : undefined;
    const upstream: Upstream = { name, servers, source, ...(dynamic ? { dynamic } : {}), ...(this.tableMode && dynamic ? { table: true } : {}) };
    this.upstreams.set(name, { upstream, signature });
    this.upstreamsBySignature.set(signature, upstream);
    this.model.upstreams.push(upstream);
    return upstream;
  }

  /** The hop socket for one endpoint; its manifest entry is recorded once. `alpn`: GRPC_ALPN for gRPC targets (grpc-target.ts). */
  tlsOrigin(address: string, tls: BackendTLS, client: Certificate | undefined, alpn: readonly string[] = HTTP_ALPN): string {
    const entry = originEntry(address, tls, client, alpn, { ...this.files, register: (c) => this.certificateFile(c, this.files.certDir) });
    if (!this.originSockets.has(entry.socket)) {
      this.originSockets.add(entry.socket);
      this.model.tlsOrigins.push(entry);
    }
    return entry.socket;
  }

  /** The file path nginx reads a certificate from; the bundle is written once per content. */
  certificateFile(cert: Pick<Certificate, 'id' | 'pem'>, certDir: string): string {
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
    const entry = { pattern: quote(`~^(?:${regex})$`), value: '1' };
    v = identifier(`wg_f${this.flags.size}`);
    this.flags.set(k, v);
    this.model.maps.push({ key: subject, variable: v, entries: [entry], default: '0', source });
    return v;
  }

  /** Adds a map, or reuses an identical one (e.g. "= /x" and "/x/" often pick alike). */
  addMap(map: Omit<MatchMap, 'variable'>): string {
    const signature = JSON.stringify([map.key, map.entries, map.default]);
    const existing = this.maps.get(signature);
    if (existing) return existing;
    const variable = identifier(`wg_m${this.mapCount++}`);
    this.maps.set(signature, variable);
    this.model.maps.push({ ...map, variable });
    return variable;
  }

  /** Maps for filters (header appends, path rewrites, redirect ports), deduplicated by content. */
  readonly filterMap = (key: string, entries: { pattern: string; value: string }[], defaultValue: string, source: string): string =>
    this.addMap({ key, entries, default: defaultValue, source });
}

/**
 * Ids of routes for target, split and upstream names: a hash of the route's key, 10 hex
 * digits, longer for routes whose short ids collide (positions in the route list would
 * rename every later route's targets whenever a route arrives, and so change http.conf).
 */
export function routeIds(routes: readonly RouteNode[]): Map<RouteNode, string> {
  if (keyHashes.size > 4 * routes.length + 10_000) keyHashes.clear(); // keys of deleted routes
  const full = new Map(routes.map((r) => [r, keyHash(r.key)] as const));
  const count = new Map<string, number>();
  for (const h of full.values()) count.set(h.slice(0, 10), (count.get(h.slice(0, 10)) ?? 0) + 1);
  return new Map(routes.map((r) => {
    const h = full.get(r)!;
    return [r, count.get(h.slice(0, 10))! > 1 ? h : h.slice(0, 10)];
  }));
}

/** sha256 of route keys, kept across rebuilds: every rebuild names every route (10,000 hashes). */
const keyHashes = new Map<string, string>();
function keyHash(key: string): string {
  let h = keyHashes.get(key);
  if (h === undefined) keyHashes.set(key, (h = createHash('sha256').update(key).digest('hex')));
  return h;
}

/** The target id prefix of a route ("r" and its id) when no other route's id collides with it. */
export const routeTargetPrefix = (key: string) => `r${keyHash(key).slice(0, 10)}`;

/**
 * One server per address, weights summed: the same balance (smooth weighted round robin, as
 * nginx's) from fewer peers. Several backendRefs of one Service, or Services selecting the
 * same Pods, would otherwise repeat every endpoint in peers.txt once per reference.
 */
export function mergeAddresses(servers: { address: string; weight: number }[]): { address: string; weight: number }[] {
  const byAddress = new Map<string, { address: string; weight: number }>();
  for (const s of servers) {
    const known = byAddress.get(s.address);
    if (known) known.weight += s.weight;
    else byAddress.set(s.address, { ...s });
  }
  return byAddress.size === servers.length ? servers : [...byAddress.values()];
}

// Routes served from a table in nginx's memory (nginx/lua/waygate/routes.lua) instead of
// server and location blocks, so that adding, changing or removing one is a push, like an
// endpoint change, and not a reload: a reload parses the whole config twice (`nginx -t`,
// then the master), seconds at thousands of routes (issue #14).
//
// The table serves the plain rules: Exact and PathPrefix paths, exact method, header and
// query matches, and weighted backends that are all usable HTTP/1.1 Services (no filters,
// policies, TLS, h2c or WebSocket backends, no 500 share). Everything else keeps its
// server and locations in http.conf. The table keeps nginx's own server choice: a
// hostname goes to the table only when no server block of the port would catch its
// requests first (a wildcard server covering it), and only on ports whose catch-all
// (routes without hostnames, and hosts no route names) is itself served from the table:
// the port's default server is then the table's router.
//
// The rules of a host are listed in the spec's precedence (graph/precedence.ts); the
// router takes the first whose conditions hold, as the maps of a static server do.
import { createHash } from 'node:crypto';
import { hostnameMatches } from '../graph/hostnames.ts';
import type { MatchCandidate } from '../graph/precedence.ts';
import { normalizePrefix, sortByPrecedence } from '../graph/precedence.ts';
import type { RuleNode } from '../graph/types.ts';
import type { ModelBuilder } from './builder.ts';
import { headerVar, identifier } from './quote.ts';

export interface TableTarget {
  /** "HTTPRoute/ns/name": $wg_route. */
  route: string;
  /** The Lua balancer's peers (peers.txt) to proxy to; absent: answer `status`. */
  upstream?: string;
  status?: number;
}

export interface TableRule {
  exact: boolean;
  /** Exact: the path; PathPrefix: the normalized prefix (no trailing "/", or "/"). */
  path: string;
  method?: string;
  /** [nginx variable name without "$", exact value] */
  headers: [string, string][];
  queries: [string, string][];
  target: TableTarget;
}

export interface TableHost {
  /** A hostname, "*.suffix", or "" for the port's catch-all. */
  host: string;
  rules: TableRule[];
}

export interface TablePort {
  /** The router's key in http.conf: an identifier made from the Gateway and port. */
  id: string;
  hosts: TableHost[];
  /** Hosts of the port that server blocks serve: the agent keeps an older table's entries for them while older workers run (nginx/agent/routes.ts). */
  servers: string[];
}

/**
 * The most bytes a route may put in routes.txt: its rules repeat for each of its hostnames
 * and encoding triples some characters, so a valid route could otherwise be tens of MB and
 * fill the shared dict (refusing every tenant's next table). A route over it is served
 * from server blocks, where nginx's own token limits report it on its route.
 */
export const ROUTE_TABLE_BUDGET = 16 * 1024;

/** What a route's rules cost in routes.txt under `hosts` host entries, an upper bound (every character encoded). */
function tableCost(route: MatchCandidate['route'], hosts: number): number {
  let perHost = 0;
  for (const rule of route.rules) {
    for (const m of rule.matches) {
      perHost += 64 + route.key.length + 3 * (m.path.value.length + (m.method?.length ?? 0));
      for (const c of [...m.headers, ...m.queryParams]) perHost += 8 + 3 * (c.name.length + c.value.length);
    }
  }
  return perHost * Math.max(1, hosts);
}

/** A rule the table can serve: no filters or policy, usable plain HTTP backends, all valid (or none). */
export function plainRule(rule: RuleNode): boolean {
  const f = rule.filters;
  if (f.requestHeaders || f.responseHeaders || f.redirect || f.rewrite || f.mirrors?.length || f.cors || rule.policy) return false;
  const weighted = rule.backends.filter((b) => b.weight > 0);
  const valid = weighted.filter((b) => !b.problem);
  if (valid.length && valid.length < weighted.length) return false; // a 500 share: split_clients in http.conf
  return valid.every((b) => !b.filters && !b.tls && !b.tlsPolicies?.length && (b.protocol ?? 'http') === 'http');
}

/**
 * A candidate the table can serve: an HTTPRoute's plain rule with Exact/PathPrefix and exact
 * conditions, of a route within its budget in the `hosts` host entries it is written under
 * (its rules repeat in each: a route without hostnames on a Gateway of many listener
 * hostnames is in every one of them).
 */
export function plainCandidate(c: MatchCandidate, hosts = 1): boolean {
  if (c.route.kind !== 'HTTPRoute') return false;
  const m = c.match;
  if (m.path.type === 'RegularExpression' || m.grpcRegex || m.rank) return false;
  if (m.headers.some((h) => h.type !== 'Exact') || m.queryParams.some((q) => q.type !== 'Exact')) return false;
  const rule = c.route.rules.find((r) => r.index === c.ruleIndex);
  return !!rule && plainRule(rule) && tableCost(c.route, hosts) <= ROUTE_TABLE_BUDGET;
}

/**
 * Which hosts of a port (keys of `byHost`, "*" the catch-all) the table serves: none unless
 * the catch-all can be; then every host whose candidates are all plain and that no server
 * block would shadow. nginx picks an exact server_name, then the longest wildcard, then
 * the default server (the router): a table host "a.example.com" or "*.a.example.com" is
 * unreachable behind a static "*.example.com", so it becomes static too (and so on, until
 * nothing changes).
 */
export function tableHosts(byHost: ReadonlyMap<string, readonly MatchCandidate[]>): Set<string> {
  const entries = new Map<MatchCandidate['route'], Set<string>>();
  for (const [host, candidates] of byHost) for (const c of candidates) (entries.get(c.route) ?? entries.set(c.route, new Set()).get(c.route)!).add(host);
  const plain = (host: string) => byHost.get(host)!.every((c) => plainCandidate(c, entries.get(c.route)!.size));
  if (!byHost.has('*') || !plain('*')) return new Set();
  const table = new Set([...byHost.keys()].filter(plain));
  const statics = [...byHost.keys()].filter((h) => !table.has(h) && h.startsWith('*.'));
  for (let changed = true; changed;) {
    changed = false;
    for (const host of table) {
      if (host === '*') continue;
      // hostnameMatches: "*.example.com" covers "a.example.com" and "*.a.example.com".
      if (statics.some((w) => hostnameMatches(w, host))) {
        table.delete(host);
        if (host.startsWith('*.')) statics.push(host);
        changed = true;
      }
    }
  }
  return table;
}

/** The router's id of a Gateway's port: stable across versions (it is in http.conf and in routes.txt). */
export function tablePortId(gatewayKey: string, port: number): string {
  return identifier(`wg_t_${createHash('sha256').update(`${gatewayKey}\n${port}`).digest('hex').slice(0, 16)}`);
}

/** The table entry of one host; rules that cannot be served are reported through the builder and left out. */
export function tableHost(b: ModelBuilder, host: string, candidates: MatchCandidate[]): TableHost {
  const rules: TableRule[] = [];
  for (const c of sortByPrecedence(candidates)) {
    if (b.failed(c.route, c.ruleIndex)) continue;
    const rule = c.route.rules.find((r) => r.index === c.ruleIndex)!;
    const rt = b.tableTarget(c.route, rule);
    if (rt.problem) {
      b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].backendRefs`, rt.problem);
      continue;
    }
    const m = c.match;
    rules.push({
      exact: m.path.type === 'Exact',
      path: m.path.type === 'Exact' ? m.path.value : normalizePrefix(m.path.value),
      ...(m.method ? { method: m.method } : {}),
      headers: m.headers.map((h) => [headerVar(h.name).slice(1), h.value]),
      queries: m.queryParams.map((q) => [`arg_${q.name}`, q.value]),
      target: { route: rt.source, ...(rt.upstream ? { upstream: rt.upstream.name } : { status: rt.status ?? 500 }) },
    });
  }
  return { host: host === '*' ? '' : host, rules };
}

/** Bytes outside these go %XX-encoded: every field of routes.txt is one space-free token; "" is "%" (no token would vanish). */
const encode = (s: string) => (s === '' ? '%' : Buffer.from(s, 'utf8').toString('latin1').replace(/[^A-Za-z0-9._~/*:-]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`));

/**
 * routes.txt, the format nginx/lua/waygate/routes.lua parses, one item a line:
 *   port ID
 *   server HOST                    (a host of the port that a server block serves; "-": the catch-all)
 *   host HOST                      ("-" for the catch-all)
 *   rule e|p PATH ROUTE UPSTREAM STATUS METHOD [h VAR VALUE]... [q VAR VALUE]...
 * (UPSTREAM "-" when the rule answers STATUS; METHOD "-" for any). Values are %XX-encoded,
 * "" as "%".
 * Not part of the config hash: the agent pushes it, no reload.
 */
export function renderRouteTable(ports: readonly TablePort[]): string {
  // The model's list is final once built: buildHttpModel measures the text, renderConfig writes it.
  let text = rendered.get(ports);
  if (text === undefined) rendered.set(ports, (text = renderPorts(ports)));
  return text;
}

const rendered = new WeakMap<readonly TablePort[], string>();

function renderPorts(ports: readonly TablePort[]): string {
  const out: string[] = [];
  for (const p of ports) {
    out.push(`port ${identifier(p.id)}`);
    for (const host of p.servers) out.push(`server ${host === '*' ? '-' : encode(host)}`);
    for (const h of p.hosts) {
      out.push(`host ${h.host ? encode(h.host) : '-'}`);
      for (const r of h.rules) {
        const t = r.target;
        const conditions = [...r.headers.map(([v, x]) => `h ${encode(v)} ${encode(x)}`), ...r.queries.map(([v, x]) => `q ${encode(v)} ${encode(x)}`)];
        out.push([`rule ${r.exact ? 'e' : 'p'} ${encode(r.path)} ${encode(t.route)} ${t.upstream ? identifier(t.upstream) : '-'} ${t.status ?? 0} ${r.method ? encode(r.method) : '-'}`, ...conditions].join(' '));
      }
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

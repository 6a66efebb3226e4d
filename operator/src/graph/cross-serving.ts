// HTTPRoute and GRPCRoute on one listener (spec: GRPCRouteSpec.hostnames, "cross serving"):
// when routes of the two kinds attach to the same listener with intersecting hostnames, the
// implementation may reject one, and then must accept exactly one: the oldest route, then
// the first by "namespace/name". waygate rejects: the two kinds are never merged (spec:
// GRPCRouteRule), and one nginx server then carries one kind, whose precedence rules apply
// alone. The loser's parentRef is Accepted=False, reason HostnameConflict, naming the winner.
import { hostnameMatches } from './hostnames.ts';
import { Reason, type Problem } from './conditions.ts';
import type { ListenerNode, RouteNode } from './types.ts';

/** One parentRef's attachment: the listeners that take the route, with its hostnames there ('*' = any). */
export interface PendingAttachment {
  route: RouteNode;
  listeners: readonly { listener: ListenerNode; hostnames: readonly string[] }[];
}

const age = (r: RouteNode) => r.obj.metadata.creationTimestamp ?? '';
const fullName = (r: RouteNode) => `${r.obj.metadata.namespace}/${r.obj.metadata.name}`;

/** Oldest first, then by "namespace/name" (spec). */
export function compareRouteAge(a: RouteNode, b: RouteNode): number {
  return age(a) < age(b) ? -1 : age(a) > age(b) ? 1 : fullName(a) < fullName(b) ? -1 : fullName(a) > fullName(b) ? 1 : 0;
}

/** Do two hostnames (exact, wildcard or '*' for any) have a request host in common? */
export function hostnamesIntersect(a: string, b: string): boolean {
  return a === '*' || b === '*' || hostnameMatches(a, b) || hostnameMatches(b, a);
}

/**
 * The attachments that lose (with the problem to report), among those that would attach.
 * Routes are taken oldest first; one is refused on every listener of its parentRef when an
 * accepted route of the other kind on one of those listeners shares a hostname with it, so a
 * refused route never blocks another.
 */
export function crossServingConflicts<P extends PendingAttachment>(pending: readonly P[]): Map<P, Problem> {
  const out = new Map<P, Problem>();
  // Accepted routes per kind and listener: a route is checked against the other kind's only
  // (one list of both kinds made routes of one kind on a listener quadratic).
  type Accepted = Map<ListenerNode, { route: RouteNode; hostnames: readonly string[] }[]>;
  const accepted: Record<RouteNode['kind'], Accepted> = { HTTPRoute: new Map(), GRPCRoute: new Map() };
  const order = [...pending].sort((a, b) => compareRouteAge(a.route, b.route));
  for (const p of order) {
    const others = accepted[p.route.kind === 'HTTPRoute' ? 'GRPCRoute' : 'HTTPRoute'];
    let winner: { route: RouteNode; host: string; listener: ListenerNode } | undefined;
    for (const { listener, hostnames } of p.listeners) {
      for (const other of others.get(listener) ?? []) {
        // The winner's hostname that the loser's intersect, as the winner's author wrote it.
        const host = other.hostnames.find((o) => hostnames.some((h) => hostnamesIntersect(h, o)));
        if (host !== undefined) { winner = { route: other.route, host, listener }; break; }
      }
      if (winner) break;
    }
    if (winner) {
      const where = winner.host === '*' ? 'every hostname' : `hostname ${winner.host}`;
      out.set(p, {
        reason: Reason.HostnameConflict,
        message: `${winner.route.kind} ${fullName(winner.route)} (older) serves ${where} on listener ${winner.listener.name}; an HTTPRoute and a GRPCRoute cannot share a hostname on one listener`,
      });
      continue;
    }
    const mine = accepted[p.route.kind];
    for (const { listener, hostnames } of p.listeners) {
      let list = mine.get(listener);
      if (!list) mine.set(listener, (list = []));
      list.push({ route: p.route, hostnames });
    }
  }
  return out;
}

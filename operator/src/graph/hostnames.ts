// Hostname rules: wildcard matching and the intersection of a listener's hostname with a
// route's hostnames (spec: HTTPRoute.spec.hostnames, Listener.hostname).

/** Does `hostname` (exact or wildcard) fall under `pattern` (exact or "*.suffix")? */
export function hostnameMatches(pattern: string, hostname: string): boolean {
  if (pattern === hostname) return true;
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1); // ".example.com"
  // "*.example.com" covers "a.example.com", "a.b.example.com" and "*.a.example.com", not "example.com".
  return hostname.endsWith(suffix) && hostname.length > suffix.length;
}

/**
 * The hostnames a route serves through a listener: each route hostname that the listener
 * hostname covers, or the listener hostname where a route wildcard covers it. An empty
 * result means no intersection; ['*'] stands for "any host" when neither side restricts.
 */
export function intersectHostnames(listenerHostname: string | undefined, routeHostnames: readonly string[] | undefined): string[] {
  const route = routeHostnames ?? [];
  if (!listenerHostname) return route.length ? [...new Set(route)] : ['*'];
  if (!route.length) return [listenerHostname];
  const out = new Set<string>();
  for (const h of route) {
    if (hostnameMatches(listenerHostname, h)) out.add(h);
    else if (hostnameMatches(h, listenerHostname)) out.add(listenerHostname);
  }
  return [...out];
}

/**
 * The route hostname through which a request for `host` (a server name: exact or wildcard)
 * reaches the route: of the route's hostnames that cover `host`, the most specific; ''
 * when the route names none (it takes any host). Precedence across routes uses this
 * original hostname, not the listener/route intersection (spec: HTTPRoute.spec.hostnames;
 * feature GatewayRouteHostnameIntersectionPrecedence): on a listener for abc.example.com,
 * a route for abc.example.com goes before one for *.example.com, though both serve
 * abc.example.com there.
 */
export function matchingRouteHostname(routeHostnames: readonly string[], host: string): string {
  let best = '';
  for (const h of routeHostnames) {
    if ((h === host || hostnameMatches(h, host)) && compareHostnameSpecificity(h, best) < 0) best = h;
  }
  return best;
}

/**
 * Which of two matching route hostnames goes first (negative: `a`): the most characters
 * in a non-wildcard hostname, then the most characters (spec: HTTPRoute.spec.hostnames).
 * '' (no hostnames: any host) goes last.
 */
export function compareHostnameSpecificity(a: string, b: string): number {
  return exactLength(b) - exactLength(a) || b.length - a.length;
}

/** Characters of a non-wildcard hostname; 0 for a wildcard. */
function exactLength(h: string): number {
  return h.startsWith('*.') ? 0 : h.length;
}

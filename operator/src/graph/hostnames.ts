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

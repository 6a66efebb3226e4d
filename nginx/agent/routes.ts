// The route table of a version: <version dir>/routes.txt, written by the operator
// (operator/src/dataplane/route-table.ts) apart from http.conf: plain HTTPRoute rules that
// nginx serves from its shared dict (nginx/lua/waygate/routes.lua), so that a route change
// that only touches them needs no reload. Pushed with the peers: before a reload, after it,
// instead of it for a version whose http.conf is unchanged, and after every nginx start.
import { ROUTES_PATH } from './config.ts';
import { pushDocument, readVersionDocument } from './peers.ts';

export const ROUTES_FILE = 'routes.txt';

/** The version's route table; empty when it has none. */
export const readRoutes = (versionDir: string): string => readVersionDocument(versionDir, ROUTES_FILE);

/** Replaces the table in nginx's shared dict. */
export function pushRoutes(socket: string, doc: string, timeoutMs = 5000): Promise<void> {
  return pushDocument(socket, ROUTES_PATH, 'the route table', doc, false, timeoutMs);
}

interface Doc {
  /** Port id -> its "server" lines and its "host" blocks keyed by host, in order. */
  ports: Map<string, { servers: string[]; hosts: Map<string, string[]> }>;
}

function parseDoc(doc: string): Doc {
  const ports: Doc['ports'] = new Map();
  let port: { servers: string[]; hosts: Map<string, string[]> } | undefined;
  let current: string[] | undefined;
  for (const line of doc.split('\n')) {
    if (line.startsWith('port ')) {
      ports.set(line.slice(5), (port = { servers: [], hosts: new Map() }));
      current = undefined;
    } else if (line.startsWith('server ')) port?.servers.push(line.slice(7));
    else if (line.startsWith('host ')) port?.hosts.set(line.slice(5), (current = [line]));
    else if (line) current?.push(line);
  }
  return { ports };
}

/**
 * `next` plus the entries of `previous` for hosts that `next` serves from server blocks:
 * what nginx's table holds while workers of an older config run. Their router still gets
 * those hosts (the new workers never do: their server blocks come first). A host that is
 * gone from the new config, or that another listener took, is not kept: it must not be
 * served by an old route a moment longer than the old workers run.
 */
export function withPreviousHosts(next: string, previous: string): string {
  if (!previous) return next;
  const old = parseDoc(previous);
  const out: string[] = [];
  for (const [id, port] of parseDoc(next).ports) {
    out.push(`port ${id}`, ...port.servers.map((h) => `server ${h}`));
    for (const lines of port.hosts.values()) out.push(...lines);
    const before = old.ports.get(id);
    for (const host of port.servers) {
      const lines = before?.hosts.get(host);
      if (lines && !port.hosts.has(host)) out.push(...lines);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

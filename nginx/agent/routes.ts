// The route table of a version: <version dir>/routes.txt, written by the operator
// (operator/src/dataplane/route-table.ts) apart from http.conf: plain HTTPRoute rules that
// nginx serves from its shared dict (nginx/lua/waygate/routes.lua), so that a route change
// that only touches them needs no reload. Pushed with the peers: before a reload, after it,
// instead of it for a version whose http.conf is unchanged, and after every nginx start.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROUTES_PATH } from './config.ts';
import { pushDocument } from './peers.ts';

export const ROUTES_FILE = 'routes.txt';

/** The version's route table; empty when it has none. */
export function readRoutes(versionDir: string): string {
  try {
    return readFileSync(join(versionDir, ROUTES_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Replaces the table in nginx's shared dict. */
export function pushRoutes(socket: string, doc: string, timeoutMs = 5000): Promise<void> {
  return pushDocument(socket, ROUTES_PATH, 'the route table', doc, false, timeoutMs);
}

/** "port ID" and "host NAME" blocks of a document, in order, keyed "ID\nNAME". */
function hostBlocks(doc: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let port = '';
  let current: string[] | undefined;
  for (const line of doc.split('\n')) {
    if (line.startsWith('port ')) {
      port = line.slice(5);
      current = undefined;
    } else if (line.startsWith('host ')) blocks.set(`${port}\n${line.slice(5)}`, (current = [line]));
    else if (line) current?.push(line);
  }
  return blocks;
}

/**
 * `next` plus the hosts of `previous` that `next` lacks: what nginx serves while workers of
 * the previous config are still running. A host that leaves the table for a server block
 * of the new config is still routed by the old workers' router until they are gone.
 */
export function withPreviousHosts(next: string, previous: string): string {
  if (!previous) return next;
  const kept = hostBlocks(next);
  for (const [key, lines] of hostBlocks(previous)) if (!kept.has(key)) kept.set(key, lines);
  const byPort = new Map<string, string[]>();
  for (const [key, lines] of kept) {
    const port = key.slice(0, key.indexOf('\n'));
    const list = byPort.get(port) ?? [];
    list.push(...lines);
    byPort.set(port, list);
  }
  const out: string[] = [];
  for (const [port, lines] of byPort) out.push(`port ${port}`, ...lines);
  return out.length ? `${out.join('\n')}\n` : '';
}

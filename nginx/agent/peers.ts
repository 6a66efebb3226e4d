// The upstreams' peers (endpoints) of a version: <version dir>/peers.txt, written by the
// operator (operator/src/render/peers.ts) apart from http.conf, so that an endpoint change
// leaves http.conf alone and needs no reload. The agent pushes the file into nginx's shared
// dict (nginx/lua/waygate/peers.lua) through its status socket: before a reload (new workers
// find their upstreams' peers at once; the old ones keep theirs), again after it with
// pruning, for an endpoint-only version instead of a reload, and after every nginx start.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PEERS_PATH } from './config.ts';

export const PEERS_FILE = 'peers.txt';

/** A document of a version (peers.txt, routes.txt); empty when the version has none. */
export function readVersionDocument(versionDir: string, file: string): string {
  try {
    return readFileSync(join(versionDir, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** The version's peers document; empty when it has none (no HTTP upstream balanced by Lua). */
export const readPeers = (versionDir: string): string => readVersionDocument(versionDir, PEERS_FILE);

/**
 * Stores `doc` in nginx's shared dict through the status socket; `prune` also removes the
 * upstreams `doc` does not name. Rejects with nginx's answer when it is not "ok".
 */
export function pushPeers(socket: string, doc: string, prune: boolean, timeoutMs = 5000): Promise<void> {
  return pushDocument(socket, PEERS_PATH, 'the peers', doc, prune, timeoutMs);
}

/** POSTs a document to one of the status socket's Lua locations (peers, certificates). */
export function pushDocument(socket: string, path: string, what: string, doc: string | Buffer, prune: boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = Buffer.isBuffer(doc) ? doc : Buffer.from(doc);
    const req = request(
      { socketPath: socket, method: 'POST', path: `${path}${prune ? '?prune=1' : ''}`, headers: { 'content-type': 'text/plain', 'content-length': body.length }, timeout: timeoutMs },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 && text.startsWith('ok') ? resolve() : reject(new Error(`pushing ${what}: nginx answered ${res.statusCode}: ${text.trim()}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`pushing ${what}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

// The HTTPS listeners' certificates of a version: <version dir>/certs.txt, written by the
// operator (operator/src/render/certs.ts), names each listener's key and the bundle files
// (chain + private key, 0600) it serves. The config names only the key, so a rotated Secret
// changes certs.txt and not http.conf: the agent pushes the bundles into nginx's shared dict
// (nginx/lua/waygate/certs.lua) with the peers, and nginx serves the new certificate from
// the next handshake on, without a reload. The bundles travel over the status socket (0600
// run directory) and live in nginx's memory, as they do after nginx reads the files itself.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { CERTS_PATH } from './config.ts';
import { pushDocument } from './peers.ts';

export const CERTS_FILE = 'certs.txt';

const KEY = /^[A-Za-z0-9_]+$/;

/** The body to push for a version: empty when it has no HTTPS listener. Throws when certs.txt names a file that cannot be read. */
export function readCertificates(versionDir: string): Buffer {
  let doc: string;
  try {
    doc = readFileSync(join(versionDir, CERTS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
  const parts: Buffer[] = [];
  let current: string | undefined;
  for (const line of doc.split('\n')) {
    if (!line) continue;
    const key = /^certificate (.+)$/.exec(line)?.[1];
    if (key !== undefined) {
      if (!KEY.test(key)) throw new Error(`${CERTS_FILE}: not a certificate key: ${JSON.stringify(key)}`);
      current = key;
      parts.push(Buffer.from(`certificate ${key}\n`));
      continue;
    }
    if (!current || !isAbsolute(line)) throw new Error(`${CERTS_FILE}: unexpected line ${JSON.stringify(line.slice(0, 80))}`);
    const pem = readFileSync(line);
    parts.push(Buffer.from(`pem ${pem.length}\n`), pem, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Stores the bundles in nginx's shared dict; `prune` removes keys not in `body`. */
export function pushCertificates(socket: string, body: Buffer, prune: boolean, timeoutMs = 5000): Promise<void> {
  return pushDocument(socket, CERTS_PATH, 'the certificates', body, prune, timeoutMs);
}

// An HTTPS listener's certificates, served without a reload on rotation. The config names
// them by a key derived from the Secrets' names (stable while their content changes) and
// carries a placeholder certificate, which nginx requires on `listen ... ssl` and which
// nginx/lua/waygate/certs.lua replaces at every handshake (or fails it: never served). The
// bundles go to certs.txt (render/certs.ts), which the agent pushes: a rotated Secret
// changes certs.txt and not http.conf, so the config hash stays and nothing reloads.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Certificate } from '../graph/certificates.ts';
import type { ModelBuilder } from './builder.ts';
import { identifier } from './quote.ts';

/** A self-signed certificate no client trusts ("CN=waygate placeholder, never served"); public on purpose. */
const placeholder = { id: 'placeholder', pem: readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates', 'placeholder-certificate.pem'), 'utf8') };

/** Keys already in a model's certificateSets (a scan per listener would grow quadratically). */
const registered = new WeakMap<object, Set<string>>();

export interface DynamicCertificate {
  /** The Lua key (an identifier). */
  key: string;
  /** Quoted path of the placeholder bundle. */
  placeholder: string;
}

/** Registers a listener's certificate files and its key; the same Secrets share one key. */
export function listenerCertificates(b: ModelBuilder, certificates: readonly Certificate[], certDir: string): DynamicCertificate {
  const key = identifier(`wg_c_${createHash('sha256').update(certificates.map((c) => c.secret).join('\n')).digest('hex').slice(0, 16)}`);
  const files = certificates.map((c) => {
    b.certificateFile(c, certDir);
    return `${certDir}/${c.id}.pem`;
  });
  let keys = registered.get(b.model);
  if (!keys) registered.set(b.model, (keys = new Set()));
  if (!keys.has(key)) {
    keys.add(key);
    b.model.certificateSets.push({ key, files });
  }
  return { key, placeholder: b.certificateFile(placeholder, certDir) };
}

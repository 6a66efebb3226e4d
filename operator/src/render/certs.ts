// certs.txt of a version: the HTTPS listeners' certificate keys and their bundle files, in
// the format nginx/agent/certs.ts reads (and nginx/lua/waygate/certs.lua at a test's init).
// Paths only, never key material. Not part of the config hash: a rotated Secret changes
// this file alone, and the agent pushes it without a reload.
import type { HttpModel } from '../dataplane/model.ts';
import { identifier, UnsafeValueError } from '../dataplane/quote.ts';

const PATH = /^\/[A-Za-z0-9._/-]+$/;

export function renderCertificateSets(sets: HttpModel['certificateSets']): string {
  const out: string[] = [];
  for (const s of sets) {
    out.push(`certificate ${identifier(s.key)}`);
    for (const f of s.files) {
      if (!PATH.test(f) || f.includes('/../')) throw new UnsafeValueError(`certificate file ${JSON.stringify(f)} cannot be written to certs.txt`);
      out.push(f);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

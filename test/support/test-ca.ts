// A certificate authority for tests (openssl, EC P-256) and certificates it issues, with DNS
// and URI subject alternative names, for servers or clients.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCA { name: string; cert: string; key: string }
export interface IssuedCertificate { cert: string; key: string }

function inTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'waygate-ca-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

export function makeCA(name: string): TestCA {
  return inTempDir((dir) => {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    return { name, cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  });
}

/** A leaf certificate signed by `ca`: CN, DNS and URI SANs, for TLS servers or (client: true) clients. */
export function issue(ca: TestCA, cn: string, sans: { dns?: string[]; uris?: string[] } = {}, opts: { client?: boolean } = {}): IssuedCertificate {
  return inTempDir((dir) => {
    const f = (n: string) => join(dir, n);
    writeFileSync(f('ca.pem'), ca.cert);
    writeFileSync(f('ca.key'), ca.key);
    const alt = [...(sans.dns ?? []).map((d) => `DNS:${d}`), ...(sans.uris ?? []).map((u) => `URI:${u}`)];
    writeFileSync(f('ext.cnf'), [
      'basicConstraints=CA:FALSE',
      `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`,
      ...(alt.length ? [`subjectAltName=${alt.join(',')}`] : []),
    ].join('\n'));
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f('key.pem'), '-out', f('req.csr')]);
    openssl(['x509', '-req', '-in', f('req.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('cert.pem')]);
    return { cert: readFileSync(f('cert.pem'), 'utf8'), key: readFileSync(f('key.pem'), 'utf8') };
  });
}

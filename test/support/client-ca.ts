// A client-certificate CA for tests of spec.tls.frontend (openssl): client certificates it
// signs, valid or expired, and the ConfigMap that carries its certificate (caCertificateRefs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../operator/src/objects.ts';
import type { TestCertificate } from './certs.ts';

/** A CA and certificates it signs (openssl, EC P-256); `days` < 0 makes an expired one. */
export class ClientCA {
  readonly dir = mkdtempSync(join(tmpdir(), 'waygate-ca-'));
  readonly cert: string;
  private serial = 1;
  constructor(name: string) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', join(this.dir, 'ca.key'), '-out', join(this.dir, 'ca.pem')], { stdio: 'pipe' });
    this.cert = readFileSync(join(this.dir, 'ca.pem'), 'utf8');
  }
  client(cn: string, { expired = false } = {}): TestCertificate {
    const n = this.serial++;
    const f = (x: string) => join(this.dir, `${n}.${x}`);
    execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f('key'), '-out', f('csr')], { stdio: 'pipe' });
    // An expired certificate: valid for one day, two days ago (openssl x509 -not_before/-not_after need 3.4; ca(1) has -startdate/-enddate).
    const dates = expired ? ['-startdate', stamp(-2), '-enddate', stamp(-1)] : ['-days', '2'];
    writeFileSync(f('ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'serial'), `${String(n).padStart(4, '0')}\n`);
    writeFileSync(join(this.dir, 'ca.cnf'), `[ca]\ndefault_ca=c\n[c]\ndir=${this.dir}\ndatabase=${this.dir}/index.txt\nserial=${this.dir}/serial\nnew_certs_dir=${this.dir}\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n`);
    execFileSync('openssl', ['ca', '-batch', '-notext', '-config', join(this.dir, 'ca.cnf'), '-cert', join(this.dir, 'ca.pem'), '-keyfile', join(this.dir, 'ca.key'),
      '-in', f('csr'), '-out', f('pem'), '-extfile', f('ext'), ...dates], { stdio: 'pipe' });
    return { cert: readFileSync(f('pem'), 'utf8'), key: readFileSync(f('key'), 'utf8') };
  }
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** YYMMDDHHMMSSZ, `days` from now (openssl ca's date format). */
function stamp(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return `${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`;
}

export function caConfigMap(ns: string, name: string, pem: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { 'ca.crt': pem } };
}


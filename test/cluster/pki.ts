// Certificates and keys for a throwaway cluster, made with the openssl CLI.
// ECDSA P-256 keeps generation fast; everything is valid for a week only.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, which } from './exec.ts';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** Admin client (group system:masters). */
  adminCert: string;
  adminKey: string;
  /** kube-controller-manager client (user system:kube-controller-manager). */
  controllerManagerCert: string;
  controllerManagerKey: string;
  /** kube-proxy client (user system:kube-proxy, bound to system:node-proxier). */
  kubeProxyCert: string;
  kubeProxyKey: string;
  /** Service-account token signing key pair. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const days = '7';

async function newKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

async function signLeaf(dir: string, name: string, subject: string, extensions: string, caCert: string, caKey: string): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await newKey(key);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  writeFileSync(ext, extensions);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', days, '-extfile', ext, '-out', join(dir, `${name}.crt`)]);
}

export async function generatePki(dir: string, serverIps: string[]): Promise<Pki> {
  if (!(await which('openssl'))) throw new Error('openssl is missing: the test bed makes its certificates with it (apt-get install openssl)');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  await newKey(p('ca.key'));
  await run('openssl', ['req', '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=waygate-testbed-ca', '-days', days, '-out', p('ca.crt')]);
  const client = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
  const san = ['DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', ...serverIps.map((ip) => `IP:${ip}`)].join(',');
  await signLeaf(dir, 'server', '/CN=kube-apiserver', `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`, p('ca.crt'), p('ca.key'));
  await signLeaf(dir, 'admin', '/O=system:masters/CN=waygate-admin', client, p('ca.crt'), p('ca.key'));
  await signLeaf(dir, 'controller-manager', '/CN=system:kube-controller-manager', client, p('ca.crt'), p('ca.key'));
  await signLeaf(dir, 'kube-proxy', '/CN=system:kube-proxy', client, p('ca.crt'), p('ca.key'));
  await newKey(p('sa.key'));
  await run('openssl', ['pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    controllerManagerCert: p('controller-manager.crt'),
    controllerManagerKey: p('controller-manager.key'),
    kubeProxyCert: p('kube-proxy.crt'),
    kubeProxyKey: p('kube-proxy.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
}

/** A bearer token for the static token file. */
export function newToken(): string {
  return randomBytes(24).toString('hex');
}

// The kubelet API's serving certificate, signed by the test bed's CA (as pki.ts makes its
// certificates: openssl, ECDSA P-256, valid a week), so that kube-apiserver, started with
// --kubelet-certificate-authority, can verify whom it sends log requests to.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../exec.ts';

export interface ServingCert {
  cert: string;
  key: string;
}

export async function kubeletServingCert(dir: string, ca: { cert: string; key: string }, nodeName: string, ips: string[]): Promise<ServingCert> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('kubelet.key')]);
  await run('openssl', ['req', '-new', '-key', p('kubelet.key'), '-subj', `/O=system:nodes/CN=system:node:${nodeName}`, '-out', p('kubelet.csr')]);
  const san = [`DNS:${nodeName}`, ...ips.map((ip) => `IP:${ip}`)].join(',');
  writeFileSync(p('kubelet.ext'), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  await run('openssl', ['x509', '-req', '-in', p('kubelet.csr'), '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-CAserial', p('ca.srl'), '-days', '7', '-extfile', p('kubelet.ext'), '-out', p('kubelet.crt')]);
  return { cert: p('kubelet.crt'), key: p('kubelet.key') };
}

// Listener TLS: certificateRefs to Secrets of type kubernetes.io/tls, cross-namespace only
// with a ReferenceGrant from the Gateway; a Secret whose certificate and key do not parse,
// or do not belong together, is an InvalidCertificateRef. The PEM data never reaches
// nginx.conf: it goes to a file named by its hash.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { Listener } from '../api/gateway-api.ts';
import type { Gateway, ReferenceGrant, Secret } from '../objects.ts';
import { Reason, type Problem } from './conditions.ts';
import { referenceAllowed } from './referencegrant.ts';

export interface Certificate {
  /** sha256 of the PEM bundle: the file name, so identical Secrets share one file. */
  id: string;
  /** Certificate chain followed by the private key. */
  pem: string;
  /** "namespace/name" of the Secret, for messages. */
  secret: string;
}

function secretData(secret: Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (typeof b64 === 'string') return Buffer.from(b64, 'base64').toString('utf8');
  const plain = secret.stringData?.[key]; // files in standalone mode
  return typeof plain === 'string' ? plain : undefined;
}

/** Parses a kubernetes.io/tls Secret; returns the certificate or why it cannot be used. */
export function parseTlsSecret(secret: Secret): { cert?: Certificate; error?: string } {
  const name = `${secret.metadata.namespace}/${secret.metadata.name}`;
  const crt = secretData(secret, 'tls.crt');
  const key = secretData(secret, 'tls.key');
  if (!crt || !key) return { error: `Secret ${name} has no tls.crt and tls.key` };
  try {
    const x509 = new X509Certificate(crt);
    const privateKey = createPrivateKey(key);
    if (!x509.checkPrivateKey(privateKey)) return { error: `Secret ${name}: tls.key does not belong to tls.crt` };
  } catch (e) {
    return { error: `Secret ${name} does not hold a PEM certificate and key: ${(e as Error).message}` };
  }
  const pem = `${crt.trim()}\n${key.trim()}\n`;
  return { cert: { id: createHash('sha256').update(pem).digest('hex'), pem, secret: name } };
}

export interface CertificateIndex {
  secrets: ReadonlyMap<string, Secret>;
  grants: readonly ReferenceGrant[];
}

/** spec.listeners[i].tls.certificateRefs of an HTTPS listener (mode Terminate). */
export function resolveCertificateRefs(gw: Gateway, listener: Listener, index: number, ctx: CertificateIndex): { certificates: Certificate[]; problem?: Problem } {
  const field = `spec.listeners[${index}].tls`;
  const tls = listener.tls;
  const mode = tls?.mode ?? 'Terminate';
  if (mode !== 'Terminate') return { certificates: [], problem: { reason: Reason.UnsupportedValue, message: `${field}.mode: ${mode} is not supported with protocol ${listener.protocol}` } };
  const refs = tls?.certificateRefs ?? [];
  if (!refs.length) return { certificates: [], problem: { reason: Reason.InvalidCertificateRef, message: `${field}.certificateRefs: an HTTPS listener needs a certificate` } };
  const certificates: Certificate[] = [];
  for (const [i, ref] of refs.entries()) {
    const f = `${field}.certificateRefs[${i}]`;
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Secret';
    const namespace = ref.namespace ?? gw.metadata.namespace!;
    if (group !== '' || kind !== 'Secret') return { certificates, problem: { reason: Reason.InvalidCertificateRef, message: `${f}: ${group ? `${group}/` : ''}${kind} is not supported; use a core Secret` } };
    if (!referenceAllowed(ctx.grants, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gw.metadata.namespace! }, { group: '', kind: 'Secret', namespace, name: ref.name })) {
      return { certificates, problem: { reason: Reason.RefNotPermitted, message: `${f}: Secret ${namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${namespace} allows it` } };
    }
    const secret = ctx.secrets.get(`${namespace}/${ref.name}`);
    if (!secret) return { certificates, problem: { reason: Reason.InvalidCertificateRef, message: `${f}: Secret ${namespace}/${ref.name} not found` } };
    const { cert, error } = parseTlsSecret(secret);
    if (!cert) return { certificates, problem: { reason: Reason.InvalidCertificateRef, message: `${f}: ${error}` } };
    certificates.push(cert);
  }
  return { certificates };
}

/**
 * spec.tls.backend.clientCertificateRef: the certificate the Gateway presents to backends it
 * reaches over TLS (a BackendTLSPolicy applies). A reference that does not resolve is
 * reported (InvalidClientCertificateRef or RefNotPermitted), and no certificate is presented.
 */
export function resolveBackendClientCertificate(gw: Gateway, ctx: CertificateIndex): { certificate?: Certificate; problem?: Problem } {
  const ref = gw.spec?.tls?.backend?.clientCertificateRef;
  if (!ref) return {};
  const f = 'spec.tls.backend.clientCertificateRef';
  const namespace = ref.namespace ?? gw.metadata.namespace!;
  if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') return { problem: { reason: Reason.InvalidClientCertificateRef, message: `${f}: only core Secrets are supported` } };
  if (!referenceAllowed(ctx.grants, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gw.metadata.namespace! }, { group: '', kind: 'Secret', namespace, name: ref.name })) {
    return { problem: { reason: Reason.RefNotPermitted, message: `${f}: Secret ${namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${namespace} allows it` } };
  }
  const secret = ctx.secrets.get(`${namespace}/${ref.name}`);
  if (!secret) return { problem: { reason: Reason.InvalidClientCertificateRef, message: `${f}: Secret ${namespace}/${ref.name} not found` } };
  const { cert, error } = parseTlsSecret(secret);
  return cert ? { certificate: cert } : { problem: { reason: Reason.InvalidClientCertificateRef, message: `${f}: ${error}` } };
}

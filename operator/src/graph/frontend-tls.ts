// Gateway spec.tls.frontend: client-certificate validation for HTTPS listeners. The
// configuration is per port (perPort overrides default), so every nginx server on one
// port gets the same policy and no SNI or Host header can pick a laxer one. CA bundles
// come from ConfigMaps (key ca.crt); only the certificates parsed out of them reach the
// file nginx reads, never other PEM blocks (a private key pasted in stays out).
import { createHash, X509Certificate } from 'node:crypto';
import type { FrontendTLSValidation, ObjectReference } from '../api/gateway-api.ts';
import type { ConfigMap, Gateway, ReferenceGrant } from '../objects.ts';
import type { Certificate } from './certificates.ts';
import { Reason, type Problem } from './conditions.ts';
import { referenceAllowed } from './referencegrant.ts';

export type FrontendValidationMode = 'AllowValidOnly' | 'AllowInsecureFallback';

/** How an HTTPS listener checks client certificates. */
export interface ClientValidation {
  mode: FrontendValidationMode;
  /** The trust anchors of the valid caCertificateRefs, as one bundle (content-addressed). */
  ca: Certificate;
  /** The configuration's field, for messages ("spec.tls.frontend.perPort[0].tls.validation"). */
  field: string;
}

/** What spec.tls.frontend means for the HTTPS listeners of one port. */
export interface FrontendResult {
  validation?: ClientValidation;
  /** ResolvedRefs=False: the first caCertificateRef that does not resolve. */
  refProblem?: Problem;
  /** Accepted=False (NoValidCACertificate): no caCertificateRef resolves; the listener is not served. */
  acceptProblem?: Problem;
}

export interface FrontendContext {
  configMaps: ReadonlyMap<string, ConfigMap>;
  grants: readonly ReferenceGrant[];
}

/** The PEM certificates of a bundle, re-encoded from their parsed form; an error when there are none or one does not parse. */
export function parseCABundle(text: string): { pem: string } | { error: string } {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) return { error: 'holds no PEM certificate' };
  const out: string[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      out.push(new X509Certificate(block).toString().trim());
    } catch {
      return { error: `certificate ${i + 1} of the bundle does not parse` }; // never the PEM itself
    }
  }
  return { pem: `${out.join('\n')}\n` };
}

/** One caCertificateRef: the PEM of its certificates, or the spec's reason why not. */
function resolveCARef(gw: Gateway, ref: ObjectReference, f: string, ctx: FrontendContext): { pem: string } | { problem: Problem } {
  const group = ref.group ?? '';
  const kind = ref.kind ?? '';
  if (group !== '' || kind !== 'ConfigMap') {
    return { problem: { reason: Reason.InvalidCACertificateKind, message: `${f}: ${group ? `${group}/` : ''}${kind} is not supported as a CA certificate; use a core ConfigMap with the key ca.crt` } };
  }
  const namespace = ref.namespace ?? gw.metadata.namespace!;
  if (!referenceAllowed(ctx.grants, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gw.metadata.namespace! }, { group: '', kind: 'ConfigMap', namespace, name: ref.name })) {
    return { problem: { reason: Reason.RefNotPermitted, message: `${f}: ConfigMap ${namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${namespace} allows it` } };
  }
  const cm = ctx.configMaps.get(`${namespace}/${ref.name}`);
  if (!cm) return { problem: { reason: Reason.InvalidCACertificateRef, message: `${f}: ConfigMap ${namespace}/${ref.name} not found` } };
  const text = cm.data?.['ca.crt'];
  if (typeof text !== 'string') return { problem: { reason: Reason.InvalidCACertificateRef, message: `${f}: ConfigMap ${namespace}/${ref.name} has no key ca.crt` } };
  const parsed = parseCABundle(text);
  if ('error' in parsed) return { problem: { reason: Reason.InvalidCACertificateRef, message: `${f}: ca.crt of ConfigMap ${namespace}/${ref.name} ${parsed.error}` } };
  return parsed;
}

/** A validation block: its valid refs bundled together; problems for the invalid ones (spec: ResolvedRefs, and Accepted when none is valid). */
function resolveValidation(gw: Gateway, v: FrontendTLSValidation, field: string, ctx: FrontendContext): FrontendResult {
  const pems: string[] = [];
  let refProblem: Problem | undefined;
  (v.caCertificateRefs ?? []).forEach((ref, i) => {
    const r = resolveCARef(gw, ref, `${field}.caCertificateRefs[${i}]`, ctx);
    if ('problem' in r) refProblem ??= r.problem;
    else pems.push(r.pem);
  });
  if (!pems.length) {
    const refProblemOrEmpty = refProblem ?? { reason: Reason.InvalidCACertificateRef, message: `${field}.caCertificateRefs: no CA certificate is named` };
    return { refProblem: refProblemOrEmpty, acceptProblem: { reason: Reason.NoValidCACertificate, message: `${field}.caCertificateRefs: no reference resolves to a CA certificate (${refProblemOrEmpty.message}); the listener is not served rather than served without client certificate validation` } };
  }
  const pem = [...new Set(pems)].join('');
  const ca: Certificate = { id: createHash('sha256').update(`ca\0${pem}`).digest('hex'), pem, secret: field };
  return { validation: { mode: v.mode ?? 'AllowValidOnly', ca, field }, refProblem };
}

/**
 * The frontend TLS configuration of each port of a Gateway: perPort when it names the
 * port, otherwise default. A port whose configuration has no validation gets `{}`.
 */
export function frontendTLS(gw: Gateway, ctx: FrontendContext): (port: number) => FrontendResult {
  const frontend = gw.spec?.tls?.frontend;
  const cache = new Map<number, FrontendResult>();
  return (port) => {
    let r = cache.get(port);
    if (r) return r;
    const perPort = (frontend?.perPort ?? []).findIndex((p) => p.port === port);
    const [v, field] = perPort >= 0
      ? [frontend!.perPort![perPort]!.tls?.validation, `spec.tls.frontend.perPort[${perPort}].tls.validation`]
      : [frontend?.default?.validation, 'spec.tls.frontend.default.validation'];
    r = v ? resolveValidation(gw, v, field, ctx) : {};
    cache.set(port, r);
    return r;
  };
}

/** Gateway condition InsecureFrontendValidationMode: set while default or any perPort entry says AllowInsecureFallback. */
export function insecureFallbackFields(gw: Gateway): string[] {
  const frontend = gw.spec?.tls?.frontend;
  const out: string[] = [];
  if (frontend?.default?.validation?.mode === 'AllowInsecureFallback') out.push('spec.tls.frontend.default.validation.mode');
  (frontend?.perPort ?? []).forEach((p, i) => {
    if (p.tls?.validation?.mode === 'AllowInsecureFallback') out.push(`spec.tls.frontend.perPort[${i}].tls.validation.mode`);
  });
  return out;
}

// BackendTLSPolicy subjectAltNames: does a backend certificate carry a SAN the policy asks
// for? Pure functions, used by the TLS hop (tls-origin.ts) as its checkServerIdentity.
//
// The SANs are read from the certificate's DER (the subjectAltName extension's GeneralNames),
// not from Node's "DNS:a, URI:b" summary string, so no escaping rule can blur an entry.
// Matching (RFC 6125 section 6.4, the strict reading that browsers and Go also use):
// - Hostname: a certificate dNSName equals the policy hostname, ASCII case-insensitively;
//   or it is a wildcard "*.<rest>" whose "*" is the whole leftmost label and <rest> has at
//   least two labels, matching exactly one non-empty leftmost label of the policy hostname.
//   No partial-label wildcards ("f*.example.com"), no "*" elsewhere. IDNs are compared as the
//   A-labels ("xn--...") both sides carry, never converted. A policy hostname that is itself
//   a wildcard is a literal: it matches the same wildcard in the certificate, not the names
//   that wildcard would cover (a policy cannot widen what it trusts by a pattern).
// - URI: a certificate uniformResourceIdentifier equal to the policy URI, byte for byte.
// The subject's CN is never consulted: with subjectAltNames set, only SANs authenticate.

export type SubjectAltName = { type: 'Hostname'; hostname: string } | { type: 'URI'; uri: string };

export interface CertificateSANs {
  dns: string[];
  uris: string[];
}

/** 2.5.29.17, subjectAltName. */
const SAN_OID = Buffer.from([0x55, 0x1d, 0x11]);

interface Tlv {
  tag: number;
  /** Offsets of the content. */
  start: number;
  end: number;
}

function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new Error('truncated DER');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not used in certificates');
  let len = der[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new Error('DER value runs past its container');
  return { tag, start, end };
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end; ) {
    const t = readTlv(der, off, parent.end);
    out.push(t);
    off = t.end;
  }
  return out;
}

/** A printable ASCII IA5String value, or undefined (a dNSName or URI with other bytes matches nothing). */
function ia5(der: Buffer, t: Tlv): string | undefined {
  const bytes = der.subarray(t.start, t.end);
  for (const b of bytes) if (b < 0x21 || b > 0x7e) return undefined;
  return bytes.toString('latin1');
}

/**
 * The dNSName and URI entries of a DER certificate's subjectAltName extension (none: empty
 * lists). Throws on malformed DER or a repeated extension, which the caller treats as no match.
 */
export function certificateSANs(der: Buffer): CertificateSANs {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw new Error('not a DER certificate');
  const tbs = children(der, cert)[0];
  if (!tbs || tbs.tag !== 0x30) throw new Error('no tbsCertificate');
  const out: CertificateSANs = { dns: [], uris: [] };
  let seen = false;
  const extensions = children(der, tbs).find((t) => t.tag === 0xa3); // [3] EXPLICIT Extensions
  if (!extensions) return out;
  const list = children(der, extensions)[0];
  if (!list || list.tag !== 0x30) throw new Error('bad extensions');
  for (const ext of children(der, list)) {
    const [oid, ...rest] = children(der, ext);
    if (!oid || oid.tag !== 0x06 || !der.subarray(oid.start, oid.end).equals(SAN_OID)) continue;
    if (seen) throw new Error('the subjectAltName extension appears twice');
    seen = true;
    const value = rest.find((t) => t.tag === 0x04); // extnValue OCTET STRING (after an optional critical BOOLEAN)
    if (!value) throw new Error('subjectAltName without a value');
    const names = readTlv(der, value.start, value.end);
    if (names.tag !== 0x30 || names.end !== value.end) throw new Error('bad GeneralNames');
    for (const name of children(der, names)) {
      // [2] IMPLICIT IA5String dNSName, [6] IMPLICIT IA5String uniformResourceIdentifier.
      const text = name.tag === 0x82 || name.tag === 0x86 ? ia5(der, name) : undefined;
      if (text === undefined) continue;
      (name.tag === 0x82 ? out.dns : out.uris).push(text);
    }
  }
  return out;
}

/** ASCII lower case only: no Unicode case folding (IDNs arrive as A-labels). */
const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Whether the certificate's dNSName `presented` authenticates the policy hostname `reference`. */
export function dnsNameMatches(presented: string, reference: string): boolean {
  const p = lower(presented);
  const r = lower(reference);
  if (!p || !r) return false;
  if (p === r) return true; // also a policy wildcard against the same certificate wildcard
  if (!p.startsWith('*.') || p.indexOf('*', 1) !== -1) return false; // no wildcard, or one that is not the whole leftmost label
  if (r.startsWith('*.')) return false; // a policy wildcard is a literal
  const rest = p.slice(2);
  if (rest.split('.').length < 2 || rest.split('.').some((l) => l === '')) return false; // "*.com", "*..com"
  const dot = r.indexOf('.');
  return dot > 0 && r.slice(dot + 1) === rest;
}

/** Whether the certificate carries at least one of the wanted SANs. */
export function sansMatch(wanted: readonly SubjectAltName[], cert: CertificateSANs): boolean {
  return wanted.some((w) => (w.type === 'Hostname' ? cert.dns.some((d) => dnsNameMatches(d, w.hostname)) : cert.uris.includes(w.uri)));
}

/** checkServerIdentity's verdict for a DER certificate: undefined when it matches, else why not (no certificate content in it). */
export function sanMismatch(wanted: readonly SubjectAltName[], der: Buffer | undefined): string | undefined {
  if (!der?.length) return 'the backend presented no certificate';
  let sans: CertificateSANs;
  try {
    sans = certificateSANs(der);
  } catch (err) {
    return `the backend certificate's subjectAltName extension cannot be read (${(err as Error).message})`;
  }
  if (sansMatch(wanted, sans)) return undefined;
  return `the backend certificate has none of the subjectAltNames the policy asks for (it has ${sans.dns.length} DNS and ${sans.uris.length} URI names)`;
}

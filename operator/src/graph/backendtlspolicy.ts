// BackendTLSPolicy: a Service port that a valid policy targets is reached over TLS, with
// the policy's hostname as SNI, and its CA bundle (ConfigMaps) or the system CAs as trust
// anchors. Without subjectAltNames the certificate is verified against the hostname (nginx's
// proxy_ssl_name); with them, against the SAN list (Hostname and URI), which nginx cannot
// check: the agent's TLS hop does (dataplane/tls-origin.ts). What cannot be honoured
// (options, another wellKnownCACertificates set) makes the policy not accepted, and its
// Service answers 500: a backend the policy protects is never reached with weaker checks.
import { createHash, X509Certificate } from 'node:crypto';
import type { BackendTLSPolicy, ConfigMap, Service } from '../objects.ts';
import type { ServicePort } from '../api/core.ts';
import { checkHostname } from '../values/checks.ts';
import { condition, conditionFor, ConditionType, Reason, resolvedRefs, type Problem } from './conditions.ts';
import type { BackendTLSPolicyNode, GatewayNode, RouteNode, StreamRouteNode } from './types.ts';
import { mirrorBackends } from './filters.ts';

/** PEM trust anchors from caCertificateRefs, re-encoded from the parsed certificates. */
export interface CaBundle {
  /** sha256 of the PEM: the file name, so identical bundles share one file. */
  id: string;
  pem: string;
}

/** validation.subjectAltNames[]: the certificate must carry one of them (validated). */
export type SubjectAltName = { type: 'Hostname'; hostname: string } | { type: 'URI'; uri: string };

/** How a backend that a policy targets is reached. */
export interface BackendTLS {
  /** The policy's key ("BackendTLSPolicy/ns/name"). */
  policy: string;
  /** validation.hostname (validated): sent as SNI, and verified against the certificate when there are no subjectAltNames. */
  serverName: string;
  /** validation.wellKnownCACertificates System, or the bundle of caCertificateRefs. */
  trust: 'System' | CaBundle;
  /** validation.subjectAltNames: when set, they (not serverName) authenticate the certificate. */
  subjectAltNames?: SubjectAltName[];
}

/** A policy judged on its own: the TLS settings when usable, else why not. */
export interface PolicyVerdict {
  tls?: BackendTLS;
  /** Accepted=False reason (Invalid, NoValidCACertificate); undefined when accepted. */
  notAccepted?: Problem;
  /** ResolvedRefs=False reason (InvalidCACertificateRef, InvalidKind). */
  unresolved?: Problem;
}

export interface BackendTLSPolicyIndex {
  /** "ns/service" -> sectionName ("" = the whole Service) -> policy keys, the one that takes precedence first. */
  targets: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  verdicts: ReadonlyMap<string, PolicyVerdict>;
  /** Policies that lost a target to an older one: key -> message. */
  conflicts: ReadonlyMap<string, string>;
}

export const policyKey = (p: BackendTLSPolicy): string => `BackendTLSPolicy/${p.metadata.namespace}/${p.metadata.name}`;

/** The system trust store of the nginx image (Debian's ca-certificates). */
export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/** The certificates of a ca.crt value, or why it cannot be used. Nothing but certificates may be in it. */
export function parseCaBundle(text: string): { pems: string[] } | { error: string } {
  const blocks = text.match(PEM_CERT) ?? [];
  if (!blocks.length) return { error: 'holds no PEM certificate' };
  if (text.replace(PEM_CERT, '').trim() !== '') return { error: 'holds something other than PEM certificates' };
  const pems: string[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      pems.push(new X509Certificate(block).toString().trim());
    } catch (e) {
      return { error: `certificate ${i + 1} does not parse: ${(e as Error).message}` };
    }
  }
  return { pems };
}

/** The CRD's AbsoluteURI pattern (scheme and authority required); printable ASCII without spaces, as we also require. */
const ABSOLUTE_URI = /^(([^:/?#]+):)(\/\/([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?$/;
const URI_CHARS = /^[\x21-\x7e]+$/;

/**
 * validation.subjectAltNames, each checked as the API server would (the CRD's patterns) and
 * by our own rules. Hostname entries may be wildcards: matched literally (san-match.ts).
 */
function parseSubjectAltNames(v: NonNullable<BackendTLSPolicy['spec']>['validation']): SubjectAltName[] | Problem {
  const out: SubjectAltName[] = [];
  for (const [i, san] of (v.subjectAltNames ?? []).entries()) {
    const f = `spec.validation.subjectAltNames[${i}]`;
    const invalid = (message: string): Problem => ({ reason: Reason.Invalid, message: `${f}: ${message}; requests to the targeted Services get 500` });
    if (san.type === 'Hostname') {
      const err = checkHostname(san.hostname);
      if (err) return invalid(`hostname: ${err}`);
      out.push({ type: 'Hostname', hostname: san.hostname!.toLowerCase() });
    } else if (san.type === 'URI') {
      const uri = san.uri;
      if (typeof uri !== 'string' || uri.length > 253 || !URI_CHARS.test(uri) || !ABSOLUTE_URI.test(uri)) return invalid(`uri ${JSON.stringify(String(uri))} is not an absolute URI of printable ASCII (scheme://authority...)`);
      out.push({ type: 'URI', uri });
    } else return invalid(`type ${JSON.stringify(String(san.type))} is not supported`);
  }
  return out;
}

export function judgePolicy(p: BackendTLSPolicy, configMaps: ReadonlyMap<string, ConfigMap>): PolicyVerdict {
  const key = policyKey(p);
  const v = p.spec?.validation;
  const invalid = (message: string): PolicyVerdict => ({ notAccepted: { reason: Reason.Invalid, message } });
  if (!v) return invalid('spec.validation is required');
  const hostErr = checkHostname(v.hostname) ?? (v.hostname.includes('*') ? 'a wildcard cannot be sent as SNI' : undefined);
  if (hostErr) return invalid(`spec.validation.hostname: ${hostErr}`);
  const hostname = v.hostname.toLowerCase();
  // Options tune the TLS connection (versions, ciphers); none is implemented, and ignoring one would weaken what was asked.
  const option = Object.keys(p.spec?.options ?? {}).sort()[0];
  if (option !== undefined) return invalid(`spec.options[${JSON.stringify(option)}]: no option is supported`);
  const sans = parseSubjectAltNames(v);
  if (!Array.isArray(sans)) return { notAccepted: sans };
  const subjectAltNames = sans.length ? { subjectAltNames: sans } : {};
  const refs = v.caCertificateRefs ?? [];
  const wellKnown = v.wellKnownCACertificates;
  if (refs.length && wellKnown) return invalid('spec.validation: caCertificateRefs and wellKnownCACertificates are mutually exclusive');
  if (!refs.length) {
    if (wellKnown === 'System') return { tls: { policy: key, serverName: hostname, trust: 'System', ...subjectAltNames } };
    return invalid(wellKnown ? `spec.validation.wellKnownCACertificates: ${JSON.stringify(String(wellKnown))} is not supported (only System)` : 'spec.validation: caCertificateRefs or wellKnownCACertificates is required');
  }
  const pems: string[] = [];
  const problems: Problem[] = [];
  for (const [i, ref] of refs.entries()) {
    const f = `spec.validation.caCertificateRefs[${i}]`;
    if ((ref.group ?? '') !== '' || ref.kind !== 'ConfigMap') {
      problems.push({ reason: Reason.InvalidKind, message: `${f}: ${ref.group ? `${ref.group}/` : ''}${ref.kind} is not supported; use a core ConfigMap with key ca.crt` });
      continue;
    }
    const name = `${p.metadata.namespace}/${ref.name}`;
    const cm = configMaps.get(name);
    const text = cm?.data?.['ca.crt'];
    if (!cm) problems.push({ reason: Reason.InvalidCACertificateRef, message: `${f}: ConfigMap ${name} not found` });
    else if (typeof text !== 'string') problems.push({ reason: Reason.InvalidCACertificateRef, message: `${f}: ConfigMap ${name} has no key ca.crt` });
    else {
      const parsed = parseCaBundle(text);
      if ('error' in parsed) problems.push({ reason: Reason.InvalidCACertificateRef, message: `${f}: ConfigMap ${name} key ca.crt ${parsed.error}` });
      else pems.push(...parsed.pems);
    }
  }
  if (problems.length) {
    // Spec: connections using an invalid reference MUST fail (5xx); Accepted=False only when every reference is invalid.
    const unresolved = { reason: problems[0]!.reason, message: problems.map((x) => x.message).join('; ') };
    return problems.length === refs.length
      ? { unresolved, notAccepted: { reason: Reason.NoValidCACertificate, message: `no valid CA certificate: ${unresolved.message}` } }
      : { unresolved };
  }
  const pem = `${[...new Set(pems)].join('\n')}\n`;
  return { tls: { policy: key, serverName: hostname, trust: { id: createHash('sha256').update(pem).digest('hex'), pem }, ...subjectAltNames } };
}

/** Older first, then namespace/name: the spec's precedence among policies selecting one target. */
function precedence(a: BackendTLSPolicy, b: BackendTLSPolicy): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta === '' ? 1 : tb === '' ? -1 : Date.parse(ta) - Date.parse(tb) || (ta < tb ? -1 : 1);
  const na = `${a.metadata.namespace}/${a.metadata.name}`;
  const nb = `${b.metadata.namespace}/${b.metadata.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

export function indexBackendTLSPolicies(policies: readonly BackendTLSPolicy[], configMaps: ReadonlyMap<string, ConfigMap> = new Map()): BackendTLSPolicyIndex {
  const targets = new Map<string, Map<string, BackendTLSPolicy[]>>();
  for (const p of [...policies].sort(precedence)) {
    for (const t of p.spec?.targetRefs ?? []) {
      // targetRefs are local: the Service is in the policy's namespace. Other kinds are not ours to read.
      if (t.group !== '' || t.kind !== 'Service') continue;
      const svc = `${p.metadata.namespace}/${t.name}`;
      const sections = targets.get(svc) ?? new Map<string, BackendTLSPolicy[]>();
      targets.set(svc, sections);
      const list = sections.get(t.sectionName ?? '') ?? [];
      if (!list.includes(p)) list.push(p);
      sections.set(t.sectionName ?? '', list);
    }
  }
  const conflicts = new Map<string, string>();
  for (const [svc, sections] of targets) {
    for (const [section, [winner, ...losers]] of sections) {
      for (const p of losers) {
        conflicts.set(policyKey(p), `Service ${svc}${section ? ` port ${section}` : ''} is already selected by ${policyKey(winner!)}, which takes precedence (older, or first by namespace/name)`);
      }
    }
  }
  return {
    targets: new Map([...targets].map(([svc, sections]) => [svc, new Map([...sections].map(([s, ps]) => [s, ps.map(policyKey)]))])),
    verdicts: new Map(policies.map((p) => [policyKey(p), judgePolicy(p, configMaps)])),
    conflicts,
  };
}

/**
 * The policies that select this Service port: the one that applies first (a policy naming
 * the port by sectionName over one for the whole Service), then the others, for status.
 */
export function policiesFor(index: BackendTLSPolicyIndex | undefined, svc: Service, port: ServicePort): string[] {
  const sections = index?.targets.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
  if (!sections) return [];
  const own = port.name ? sections.get(port.name) ?? [] : [];
  return [...new Set([...own, ...(sections.get('') ?? [])])];
}

/** The backend's problem when the policy that applies to it is not usable: ResolvedRefs=False on the route. */
export function backendTLSProblem(field: string, service: string, policy: string, verdict: PolicyVerdict): Problem {
  const why = verdict.notAccepted?.message ?? verdict.unresolved?.message ?? 'it is not usable';
  // The spec (HTTPBackendRef): a policy the implementation cannot meet makes the backendRef
  // invalid. UnsupportedProtocol is the listed reason: TLS as that policy asks cannot be spoken.
  return {
    reason: Reason.UnsupportedProtocol_,
    message: `${field}: Service ${service} must be reached over TLS as ${policy} says, and that policy cannot be used (${why}); requests to it get 500 instead of being sent without its checks`,
  };
}

/**
 * Status of every policy that selects a backend of a route of ours: one ancestor entry per
 * Gateway the route names (the spec recommends the Gateway as the ancestor). Policies no
 * route of ours uses get nothing: the spec only asks for the Route -> Service path, and a
 * policy for a Service we never reach is not ours to judge (another controller may serve it).
 */
export function buildBackendTLSPolicies(policies: readonly BackendTLSPolicy[], routes: readonly (RouteNode | StreamRouteNode)[], index: BackendTLSPolicyIndex): BackendTLSPolicyNode[] {
  const gatewaysOf = new Map<string, Map<string, GatewayNode>>();
  for (const route of routes) {
    for (const backend of 'rules' in route ? route.rules.flatMap((r) => [...r.backends, ...mirrorBackends(r.filters)]) : route.backends) {
      for (const key of backend.tlsPolicies ?? []) {
        const gws = gatewaysOf.get(key) ?? new Map<string, GatewayNode>();
        for (const p of route.parents) if (p.gateway) gws.set(p.gateway.key, p.gateway);
        gatewaysOf.set(key, gws);
      }
    }
  }
  return policies.flatMap((obj) => {
    const key = policyKey(obj);
    const gws = gatewaysOf.get(key);
    if (!gws?.size) return [];
    const gen = obj.metadata.generation;
    const verdict = index.verdicts.get(key) ?? {};
    const conflict = index.conflicts.get(key);
    const accepted = conflict
      ? condition(ConditionType.Accepted, false, Reason.Conflicted, conflict, gen)
      : conditionFor(ConditionType.Accepted, verdict.notAccepted, Reason.Accepted, 'Policy is accepted', gen);
    const resolved = resolvedRefs(verdict.unresolved, gen);
    const ancestors = [...gws.values()].sort((a, b) => a.key.localeCompare(b.key)).map((gateway) => ({ gateway, conditions: [accepted, resolved] }));
    return [{ obj, key, ancestors }];
  });
}

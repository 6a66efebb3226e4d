// The file-mode validator against the real API server with the same CRDs: for each object,
// `kubectl create --dry-run=server` and our validator must agree on accept/reject, on the
// defaulted spec of accepted objects, and on the exact set of errors of rejected ones.
import { expect } from 'chai';
import type { KubeObject } from '../../operator/src/objects.ts';
import { loadCrdValidator, type FieldError } from '../../operator/src/validation/crd.ts';
import { testbed } from '../testbed.ts';

const gw = 'gateway.networking.k8s.io';
const meta = (name: string) => ({ name, namespace: 'default' });
const route = (spec: object, apiVersion = `${gw}/v1`): KubeObject => ({ apiVersion, kind: 'HTTPRoute', metadata: meta('r'), spec });
const gateway = (spec: object): KubeObject => ({ apiVersion: `${gw}/v1`, kind: 'Gateway', metadata: meta('g'), spec: { gatewayClassName: 'waygate', ...spec } });
const listener = (name: string, port: number, protocol: string, extra: object = {}) => ({ name, port, protocol, ...extra });
const grpc = (spec: object): KubeObject => ({ apiVersion: `${gw}/v1`, kind: 'GRPCRoute', metadata: meta('g'), spec });
const xbackend = (spec: object): KubeObject => ({ apiVersion: 'gateway.networking.x-k8s.io/v1alpha1', kind: 'XBackend', metadata: meta('xb'), spec });

interface Case {
  name: string;
  object: KubeObject;
  /** What we expect of both, so that the two agreeing on the wrong answer still fails. */
  accept: boolean;
}

const cases: Case[] = [
  // Accepted, compared by their defaulted spec.
  { name: 'HTTPRoute defaults: parentRef group/kind, default match, backendRef group/kind/weight', accept: true, object: route({ parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }] }) },
  { name: 'HTTPRoute defaults inside partial matches, headers and a null', accept: true, object: route({ rules: [{ matches: [{}, { path: { value: '/api' } }, { headers: [{ name: 'x', value: 'y' }], queryParams: [{ name: 'q', value: 'v' }] }] }, { matches: null }] }) },
  { name: 'HTTPRoute v1beta1 with filters, mirror fraction default and CORS', accept: true, object: route({ rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', port: 80 }, fraction: { numerator: 5 } } }, { type: 'CORS', cors: { allowOrigins: ['https://a.example.com'] } }] }] }, `${gw}/v1beta1`) },
  { name: 'Gateway defaults: allowedRoutes, address type; HTTPS with a certificate; IPv6 and sloppy IPv4 addresses', accept: true, object: gateway({ addresses: [{ value: '2001:db8::1' }, { value: '010.0.0.1' }, { type: 'Hostname', value: 'lb.example.com' }], listeners: [listener('http', 80, 'HTTP'), listener('https', 443, 'HTTPS', { hostname: '*.example.com', tls: { certificateRefs: [{ name: 'cert' }] } })] }) },
  { name: 'GRPCRoute defaults: method type, header type, backendRef', accept: true, object: grpc({ rules: [{ matches: [{ method: { service: 'Foo.Bar', method: 'Baz' }, headers: [{ name: 'x', value: 'y' }] }], backendRefs: [{ name: 's', port: 9000 }] }, {}] }) },
  { name: 'ReferenceGrant (v1beta1)', accept: true, object: { apiVersion: `${gw}/v1beta1`, kind: 'ReferenceGrant', metadata: meta('rg'), spec: { from: [{ group: gw, kind: 'HTTPRoute', namespace: 'team-a' }], to: [{ group: '', kind: 'Service' }] } } },
  { name: 'GatewayClass, cluster-scoped, given a namespace', accept: true, object: { apiVersion: `${gw}/v1`, kind: 'GatewayClass', metadata: meta('waygate'), spec: { controllerName: 'example.com/waygate' } } },
  { name: 'XBackend (v1.7.0) selecting endpoints by qualified label keys; tls defaults to mode None', accept: true, object: xbackend({ type: 'EndpointSelector', endpointSelector: { matchLabels: { 'app.kubernetes.io/name': 'web', tier: 'a' } }, port: { number: 8080 } }) },
  { name: 'TCPRoute v1alpha2 with a parentRef port', accept: true, object: { apiVersion: `${gw}/v1alpha2`, kind: 'TCPRoute', metadata: meta('t'), spec: { parentRefs: [{ name: 'gw', port: 9000 }], rules: [{ backendRefs: [{ name: 's', port: 9000 }] }] } } },
  { name: 'status is dropped on create', accept: true, object: { ...route({}), status: { parents: 'not even a list' } } },
  { name: 'a Gateway status is dropped on create and replaced by its defaults', accept: true, object: { ...gateway({ listeners: [listener('http', 80, 'HTTP')] }), status: { addresses: 'not even a list' } } },

  // Rejected by the OpenAPI schema, list types and metadata.
  { name: 'hostname pattern', accept: false, object: route({ hostnames: ['Foo.example.com', 'a'.repeat(250) + '.com', ''] }) },
  { name: 'more than 16 rules (blocks CEL)', accept: false, object: route({ rules: Array.from({ length: 17 }, () => ({})) }) },
  { name: 'duplicate listener names and duplicate set items', accept: false, object: gateway({ listeners: [listener('a', 80, 'HTTP'), listener('a', 81, 'HTTP')] }) },
  { name: 'wrong types: string port, float weight, boolean name', accept: false, object: route({ parentRefs: [{ name: true }], rules: [{ backendRefs: [{ name: 'svc', port: 'eighty', weight: 1.5 }] }] }) },
  { name: 'ports out of range and beyond int32', accept: false, object: gateway({ listeners: [listener('a', 70000, 'HTTP'), listener('b', 0, 'HTTP'), listener('c', 3000000000, 'HTTP')] }) },
  { name: 'enums', accept: false, object: route({ rules: [{ matches: [{ path: { type: 'Prefix', value: '/' }, method: 'FETCH' }] }] }) },
  { name: 'Gateway address that is not an IP (oneOf/anyOf formats)', accept: false, object: gateway({ addresses: [{ value: 'not-an-ip' }], listeners: [listener('a', 80, 'HTTP')] }) },
  { name: 'minItems and minLength', accept: false, object: { apiVersion: `${gw}/v1beta1`, kind: 'ReferenceGrant', metadata: meta('rg'), spec: { from: [], to: [{ group: '', kind: 'Service', name: '' }] } } },
  { name: 'metadata: invalid name and labels', accept: false, object: { ...route({}), metadata: { name: 'Bad_Name', namespace: 'default', labels: { 'bad key': 'v', 'x/': 'bad value!' }, annotations: { 'a/b/c': 'x' } } } },
  { name: 'metadata: missing name (blocks CEL)', accept: false, object: { ...route({ rules: [{ matches: [{ path: { value: 'relative' } }] }] }), metadata: { namespace: 'default' } as KubeObject['metadata'] } },
  { name: 'required spec missing', accept: false, object: { apiVersion: `${gw}/v1`, kind: 'HTTPRoute', metadata: meta('r') } },
  { name: 'a null list item', accept: false, object: route({ rules: [{}, null] }) },

  // Rejected by strict decoding.
  { name: 'unknown fields in spec, nested, and metadata', accept: false, object: { ...route({ foo: 1, rules: [{ bar: 2 }] }), metadata: { ...meta('r'), colour: 'red' } as KubeObject['metadata'] } },
  { name: 'status where the CRD has none', accept: false, object: { apiVersion: `${gw}/v1beta1`, kind: 'ReferenceGrant', metadata: meta('rg'), spec: { from: [{ group: '', kind: 'x', namespace: 'y' }], to: [{ group: '', kind: 'Service' }] }, status: {} } },
  { name: 'a mistyped metadata field', accept: false, object: { ...route({}), metadata: { ...meta('r'), labels: { a: 1 } } as unknown as KubeObject['metadata'] } },

  // Rejected by CEL rules.
  { name: 'paths: relative, "//", "/./"; not for RegularExpression', accept: false, object: route({ rules: [{ matches: [{ path: { value: 'x//y' } }, { path: { type: 'Exact', value: '/a/./b' } }, { path: { type: 'RegularExpression', value: '/a/./b' } }] }] }) },
  { name: 'more than 128 matches in total', accept: false, object: route({ rules: Array.from({ length: 15 }, () => ({ matches: Array.from({ length: 9 }, (_, j) => ({ path: { value: `/${j}` } })) })) }) },
  { name: 'URLRewrite ReplaceFullPath with replacePrefixMatch; repeated filter; filter without its config', accept: false, object: route({ rules: [{ filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/x', replacePrefixMatch: '/y' } } }, { type: 'RequestHeaderModifier', requestHeaderModifier: {} }, { type: 'RequestHeaderModifier', requestHeaderModifier: {} }, { type: 'RequestMirror' }] }] }) },
  { name: 'RequestRedirect with backendRefs and a prefix rewrite on an Exact match', accept: false, object: route({ rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/x' } } }], backendRefs: [{ name: 's', port: 80 }], matches: [{ path: { type: 'Exact', value: '/a' } }] }] }) },
  { name: 'TLS listener rules: empty tls (runtime "no such key"), TLS without mode, Passthrough on HTTPS, TCP hostname', accept: false, object: gateway({ listeners: [listener('a', 443, 'HTTPS', { tls: {} }), listener('b', 8443, 'TLS'), listener('c', 9443, 'HTTPS', { tls: { mode: 'Passthrough', certificateRefs: [{ name: 'x' }] } }), listener('d', 9000, 'TCP', { hostname: 'a.example.com' })] }) },
  { name: 'parentRefs to the same parent without sectionName', accept: false, object: route({ parentRefs: [{ name: 'gw' }, { name: 'gw', sectionName: 'a' }] }) },
  { name: 'timeouts: backendRequest longer than request (durations), and a bad duration', accept: false, object: route({ rules: [{ timeouts: { request: '1s', backendRequest: '2s' } }, { timeouts: { request: '10x' } }] }) },
  { name: 'GRPC service name regex with (?i)', accept: false, object: grpc({ rules: [{ matches: [{ method: { service: 'Foo..Bar' } }] }, { matches: [{ method: { service: 'Foo.Bar', method: '1x' } }] }] }) },
  { name: 'CORS: duplicate methods (set) and "*" with other origins', accept: false, object: route({ rules: [{ filters: [{ type: 'CORS', cors: { allowOrigins: ['*', 'https://a.example.com'], allowMethods: ['GET', 'GET'] } }] }] }) },
  { name: 'Gateway infrastructure label keys (split) and hostname addresses', accept: false, object: gateway({ infrastructure: { labels: { ok: '1', 'Bad Key': 'x' } }, addresses: [{ type: 'Hostname', value: 'Bad_Host' }], listeners: [listener('a', 80, 'HTTP')] }) },
  { name: 'TLSRoute hostnames: an IP (isIP) and a wildcard not first', accept: false, object: { apiVersion: `${gw}/v1`, kind: 'TLSRoute', metadata: meta('t'), spec: { hostnames: ['1.2.3.4', 'a*.example.com'], rules: [{ backendRefs: [{ name: 's', port: 443 }] }] } } },
  { name: 'BackendTLSPolicy with both CA references and well-known CAs', accept: false, object: { apiVersion: `${gw}/v1`, kind: 'BackendTLSPolicy', metadata: meta('b'), spec: { targetRefs: [{ group: '', kind: 'Service', name: 's' }], validation: { hostname: 's.example.com', wellKnownCACertificates: 'System', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }] } } } },
  // v1.7.0: matchLabels keys are checked by `!format.qualifiedName().validate(key).hasValue()` (the values by a pattern).
  { name: 'XBackend matchLabels keys: a name not starting alphanumeric, an uppercase prefix, a name over 63 (format.qualifiedName())', accept: false, object: xbackend({ type: 'EndpointSelector', endpointSelector: { matchLabels: { tier: 'a', '-tier': 'b', 'Example.com/tier': 'c', ['a'.repeat(64)]: 'd' } }, port: { number: 80 } }) },
  // New in v1.7.0: routability is empty, Cluster, or "<dns1123Subdomain>/<name>" outside k8s.io.
  { name: 'Gateway address routability: k8s.io prefixes, an uppercase prefix, no prefix (format.dns1123Subdomain(), split)', accept: false, object: gateway({ addresses: [{ value: '10.0.0.1', routability: 'Cluster' }, { value: '10.0.0.2', routability: 'example.com/vpc' }, { value: '10.0.0.3', routability: 'k8s.io/x' }, { value: '10.0.0.4', routability: 'net.k8s.io/x' }, { value: '10.0.0.5', routability: 'Example.com/x' }, { value: '10.0.0.6', routability: 'Public' }], listeners: [listener('a', 80, 'HTTP')] }) },
];

/** The API server's errors as lines "field: message" (or the decoder's messages), from kubectl's stderr. */
function serverErrors(stderr: string): { kind: 'invalid' | 'strict' | 'other'; lines: string[] } {
  const strict = /strict decoding error: (.*)$/m.exec(stderr);
  if (strict) return { kind: 'strict', lines: strict[1].match(/unknown field "[^"]*"/g) ?? [] };
  const invalid = /^The \S+ "[^"]*" is invalid: ([\s\S]*)$/m.exec(stderr.trim());
  if (!invalid) return { kind: 'other', lines: [stderr.trim()] };
  const body = invalid[1];
  return { kind: 'invalid', lines: body.startsWith('\n* ') ? body.slice(3).split('\n* ') : [body] };
}

const line = (e: FieldError) => `${e.field || '<nil>'}: ${e.message}`;
const sortKeys = (x: unknown): unknown =>
  Array.isArray(x) ? x.map(sortKeys) : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sortKeys((x as Record<string, unknown>)[k])])) : x;

describe('validation agrees with the API server (kubectl create --dry-run=server)', function () {
  this.timeout(60_000);
  const validator = loadCrdValidator();

  for (const c of cases) {
    it(`${c.accept ? 'accepts' : 'rejects'}: ${c.name}`, async () => {
      const local = validator.validate(c.object);
      expect(local, 'a kind of the loaded CRDs').to.not.equal(undefined);
      const r = await testbed().tryKubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(c.object) });
      const serverAccepted = r.code === 0;
      expect(serverAccepted, `API server: ${r.stderr}`).to.equal(c.accept);
      if (c.accept) expect(local!.errors, 'local errors').to.deep.equal([]);
      else expect(local!.errors, 'local errors').to.not.be.empty;

      if (serverAccepted) {
        const stored = JSON.parse(r.stdout) as KubeObject;
        expect(sortKeys(local!.object.spec)).to.deep.equal(sortKeys(stored.spec));
        expect(sortKeys(local!.object.status), 'status: dropped on create, then defaulted').to.deep.equal(sortKeys(stored.status));
        expect(local!.object.metadata.namespace).to.equal(stored.metadata.namespace);
        return;
      }
      const server = serverErrors(r.stderr);
      if (server.kind === 'strict') expect(local!.errors.map((e) => e.message)).to.deep.equal(server.lines);
      else if (server.kind === 'invalid') expect(local!.errors.map(line).sort()).to.deep.equal([...server.lines].sort());
      else for (const e of local!.errors) expect(r.stderr).to.include(e.message);
    });
  }
});

// The file-mode validator: the vendored Gateway API CRDs' schemas, defaults and CEL rules,
// applied without an API server. Messages are the API server's (see the e2e agreement test).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KubeObject } from '../../operator/src/objects.ts';
import { CelCompileError, compileCel } from '../../operator/src/validation/cel-env.ts';
import { celValue } from '../../operator/src/validation/cel.ts';
import { defaultCrdDir, loadCrdValidator, validateCoreObject, type FieldError } from '../../operator/src/validation/crd.ts';
import { goFloat, goQuote } from '../../operator/src/validation/gofmt.ts';
import { is4In6, parseAddr, parseIP } from '../../operator/src/validation/ip.ts';
import { re2 } from '../../operator/src/validation/regex.ts';
import { loadCrdVersions, walkSchema, type Schema } from '../../operator/src/validation/schema.ts';

const validator = loadCrdValidator();
const blocked = {
  field: '',
  message: 'Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
};

const gw = 'gateway.networking.k8s.io';
/** Validated objects as these tests read them: any path into spec and status. */
type Loose = KubeObject & { spec?: any; status?: any };
const route = (spec: object, name = 'r'): Loose => ({ apiVersion: `${gw}/v1`, kind: 'HTTPRoute', metadata: { name, namespace: 'default' }, spec });
const gateway = (spec: object): Loose => ({ apiVersion: `${gw}/v1`, kind: 'Gateway', metadata: { name: 'g', namespace: 'default' }, spec: { gatewayClassName: 'waygate', ...spec } });

function ok(obj: KubeObject): Loose {
  const r = validator.validate(obj);
  expect(r, `${obj.apiVersion} ${obj.kind} is known`).to.not.equal(undefined);
  expect(r!.errors).to.deep.equal([]);
  return r!.object;
}
function errorsOf(obj: KubeObject): FieldError[] {
  return validator.validate(obj)!.errors;
}

describe('validation: loading the vendored Gateway API CRDs', () => {
  it('serves the kinds of the experimental channel and nothing else', () => {
    expect(validator.kinds()).to.have.members(['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'ReferenceGrant', 'TLSRoute', 'TCPRoute', 'UDPRoute', 'BackendTLSPolicy', 'ListenerSet', 'XBackend', 'XBackendTrafficPolicy', 'XMesh', 'XTelemetryPolicy']);
    expect(validator.validate({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } })).to.equal(undefined);
    expect(validator.validate({ apiVersion: `${gw}/v9`, kind: 'HTTPRoute', metadata: { name: 's' } })).to.equal(undefined);
    expect(validator.validate({ apiVersion: `${gw}/v1`, kind: 'XBackend', metadata: { name: 's' } }), 'XBackend is in another group').to.equal(undefined);
  });

  it('picks the schema by apiVersion: v1beta1 HTTPRoute and v1alpha2 TCPRoute are served too', () => {
    ok({ apiVersion: `${gw}/v1beta1`, kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'default' }, spec: {} });
    ok({ apiVersion: `${gw}/v1alpha2`, kind: 'TCPRoute', metadata: { name: 't', namespace: 'default' }, spec: { rules: [{ backendRefs: [{ name: 's', port: 9000 }] }] } });
  });

  it('evaluates every CEL rule of every served version without a missing function, overload or bad regex', () => {
    let rules = 0;
    let transition = 0;
    for (const v of loadCrdVersions(defaultCrdDir)) {
      walkSchema(v.schema, '', (node, path) => {
        for (const rule of node['x-kubernetes-validations'] ?? []) {
          const { program, usesOldSelf } = compileCel(rule.rule);
          if (usesOldSelf) {
            transition++;
            continue;
          }
          rules++;
          try {
            program(celValue(sample(node), node));
          } catch (err) {
            // Runtime errors the API server also gives on such values ("no such key", bad duration) are fine.
            expect((err as Error).message, `${v.kind} ${v.version} ${path}: ${rule.rule}`).to.match(/^(no such key|index out of bounds|type conversion error)/);
          }
        }
      });
    }
    expect(rules).to.be.greaterThan(300);
    expect(transition, 'self == oldSelf rules are skipped on create').to.be.greaterThan(0);
  });

  it('fails loudly on CEL it cannot evaluate instead of accepting', () => {
    expect(() => compileCel('isCIDR(self)')).to.throw(CelCompileError, /isCIDR/);
    expect(() => compileCel("self.matches('(a)\\\\1')"), 'Go rejects backreferences').to.throw(CelCompileError, /invalid escape sequence/);
    expect(() => compileCel('self.foo(')).to.throw(CelCompileError);
  });

  it('refuses to load a CRD using a schema keyword, format or CEL function it does not implement', () => {
    expect(thingValidator({ type: 'object', properties: { a: { type: 'string', format: 'ipv4' } } }).kinds()).to.deep.equal(['Thing']);
    expect(thingValidator({ type: 'object' }, false).validate({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' } }), 'an unserved version').to.equal(undefined);
    expect(() => thingValidator({ type: 'array', uniqueItems: true })).to.throw(/uniqueItems/);
    expect(() => thingValidator({ type: 'string', format: 'uuid' })).to.throw(/uuid/);
    expect(() => thingValidator({ type: 'object', 'x-kubernetes-validations': [{ rule: 'self.url().getHost() != ""' }] })).to.throw(/url/);
  });

  it('messageExpression, fieldPath, reason, int-or-string and preserve-unknown-fields (the API server gives these messages too)', () => {
    const things = thingValidator({
      type: 'object',
      properties: {
        a: { type: 'string' },
        num: { type: 'integer' },
        m: { type: 'object', additionalProperties: { type: 'string' } },
        ios: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'string', default: 'k' } } },
      },
      'x-kubernetes-validations': [
        { rule: "self.a != 'x'", messageExpression: "'bad a: ' + self.a", fieldPath: '.a', reason: 'FieldValueForbidden' },
        { rule: '!has(self.num) || self.num < 10', message: 'num too big', reason: 'FieldValueRequired' },
        { rule: "!has(self.m) || self.m.all(k, self.m[k] != 'bad')", fieldPath: ".m['x.y']" },
        { rule: "!has(self.ios) || (type(self.ios) == int ? self.ios < 5 : self.ios != 'no')", message: 'ios' },
        { rule: 'self.a.size() < 100', messageExpression: "self.m['zz']", message: 'fallback' },
      ],
    });
    const thing = (spec: object) => things.validate({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't', namespace: 'default' }, spec })!;
    expect(thing({ a: 'x' }).errors).to.deep.equal([{ field: 'spec.a', message: 'Forbidden: bad a: x' }]);
    expect(thing({ a: 'y', num: 11 }).errors).to.deep.equal([{ field: 'spec', message: 'Required value: num too big' }]);
    expect(thing({ a: 'y', m: { q: 'bad' } }).errors).to.deep.equal([{ field: 'spec.m[x.y]', message: "Invalid value: failed rule: !has(self.m) || self.m.all(k, self.m[k] != 'bad')" }]);
    expect(thing({ a: 'y', ios: 7 }).errors).to.deep.equal([{ field: 'spec', message: 'Invalid value: ios' }]);
    expect(thing({ a: 'y', ios: 'no' }).errors).to.deep.equal([{ field: 'spec', message: 'Invalid value: ios' }]);
    expect(thing({ a: 'y'.repeat(150) }).errors, 'a failing messageExpression falls back to message').to.deep.equal([{ field: 'spec', message: 'Invalid value: fallback' }]);
    expect(thing({}).errors).to.deep.equal([
      { field: 'spec', message: 'Invalid value: "object": no such key: a evaluating rule: self.a != \'x\'' },
      { field: 'spec', message: 'Invalid value: "object": no such key: a evaluating rule: fallback' },
    ]);
    const free = thing({ a: 'y', free: { anything: { goes: 1 } } });
    expect(free.errors).to.deep.equal([]);
    expect((free.object as Loose).spec.free).to.deep.equal({ anything: { goes: 1 }, known: 'k' });
  });
});

/** A validator for one CRD, example.com/v1 Thing, whose spec has the given schema. */
function thingValidator(spec: object, served = true) {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'things.example.com' },
    spec: { group: 'example.com', scope: 'Namespaced', names: { kind: 'Thing', plural: 'things' }, versions: [{ name: 'v1', served, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec } } } }] },
  };
  const dir = mkdtempSync(join(tmpdir(), 'wg-crd-'));
  try {
    writeFileSync(join(dir, 'thing.yaml'), stringify(crd));
    return loadCrdValidator(dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

/** A value with every property present, to reach as many rule branches as possible. */
function sample(s: Schema, depth = 0): unknown {
  if (s.default !== undefined) return s.default;
  if (s.enum?.length) return s.enum[0];
  switch (s.type) {
    case 'object':
      if (depth > 8) return {};
      if (s.properties) return Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, sample(p, depth + 1)]));
      return typeof s.additionalProperties === 'object' ? { key: sample(s.additionalProperties, depth + 1) } : {};
    case 'array':
      return s.items && depth <= 8 ? [sample(s.items, depth + 1)] : [];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    default:
      return /\(h\|m\|s\|ms\)/.test(s.pattern ?? '') ? '1s' : 'a';
  }
}

describe('validation: defaults as the API server applies them', () => {
  it('HTTPRoute: a rule without matches matches PathPrefix "/", parentRefs and backendRefs get group, kind and weight', () => {
    const out = ok(route({ parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }] }));
    expect(out.spec).to.deep.equal({
      parentRefs: [{ name: 'gw', group: gw, kind: 'Gateway' }],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'svc', port: 80, group: '', kind: 'Service', weight: 1 }] }],
    });
  });

  it('HTTPRoute: defaults apply inside defaulted and partial objects, and a spec without rules gets the default rule', () => {
    expect(ok(route({})).spec).to.deep.equal({ rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] });
    const out = ok(route({ rules: [{ matches: [{}, { path: { value: '/api' } }, { headers: [{ name: 'x', value: 'y' }] }] }] }));
    expect(out.spec.rules[0].matches).to.deep.equal([
      { path: { type: 'PathPrefix', value: '/' } },
      { path: { type: 'PathPrefix', value: '/api' } },
      { path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x', value: 'y', type: 'Exact' }] },
    ]);
  });

  it('HTTPRoute: a null replaced by its default; explicit values are kept', () => {
    const out = ok(route({ rules: [{ matches: null, backendRefs: [{ name: 's', port: 80, weight: null, group: 'example.com', kind: 'Backend' }] }] }));
    expect(out.spec.rules[0]).to.deep.equal({ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 's', port: 80, weight: 1, group: 'example.com', kind: 'Backend' }] });
  });

  it('Gateway: listeners allow routes from the same namespace; addresses default to IPAddress', () => {
    const out = ok(gateway({ addresses: [{ value: '10.0.0.1' }], listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }));
    expect(out.spec.listeners).to.deep.equal([{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } }]);
    expect(out.spec.addresses).to.deep.equal([{ type: 'IPAddress', value: '10.0.0.1' }]);
  });

  it('GRPCRoute: method matches default to Exact, headers to Exact, backendRefs to weight 1 Service', () => {
    const out = ok({ apiVersion: `${gw}/v1`, kind: 'GRPCRoute', metadata: { name: 'g', namespace: 'default' }, spec: { rules: [{ matches: [{ method: { service: 'a.B' }, headers: [{ name: 'x', value: 'y' }] }], backendRefs: [{ name: 's', port: 9000 }] }] } });
    expect(out.spec.rules[0]).to.deep.equal({
      matches: [{ method: { service: 'a.B', type: 'Exact' }, headers: [{ name: 'x', value: 'y', type: 'Exact' }] }],
      backendRefs: [{ name: 's', port: 9000, group: '', kind: 'Service', weight: 1 }],
    });
  });

  it('ReferenceGrant and GatewayClass pass unchanged; a cluster-scoped object loses its namespace', () => {
    const grant = { apiVersion: `${gw}/v1beta1`, kind: 'ReferenceGrant', metadata: { name: 'rg', namespace: 'default' }, spec: { from: [{ group: gw, kind: 'HTTPRoute', namespace: 'team-a' }], to: [{ group: '', kind: 'Service' }] } };
    expect(ok(grant)).to.deep.equal(grant);
    const cls = ok({ apiVersion: `${gw}/v1`, kind: 'GatewayClass', metadata: { name: 'waygate', namespace: 'default' }, spec: { controllerName: 'example.com/waygate' } });
    expect(cls.metadata).to.deep.equal({ name: 'waygate' });
    expect(cls.spec).to.deep.equal({ controllerName: 'example.com/waygate' });
  });

  it('returns a copy; status, which create ignores, is dropped or replaced by its defaults', () => {
    const input = route({ rules: [{}] });
    input.status = { parents: 'not even the right type' };
    const out = ok(input);
    expect(out.status).to.equal(undefined);
    expect(input.spec.rules[0]).to.deep.equal({}, 'the input is not modified');
    const g = gateway({ listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] });
    g.status = { addresses: 'garbage' };
    expect(ok(g).status.conditions.map((c: { type: string; reason: string }) => `${c.type}/${c.reason}`)).to.deep.equal(['Accepted/Pending', 'Programmed/Pending']);
  });
});

describe('validation: rejections with the API server field and message', () => {
  it('a hostname that breaks the pattern, and the rule evaluation that is then blocked', () => {
    expect(errorsOf(route({ hostnames: ['Foo.example.com'] }))).to.deep.equal([
      { field: 'spec.hostnames[0]', message: `Invalid value: "Foo.example.com": spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'` },
    ]);
  });

  it('paths: not absolute, "//" and "/./" (CEL rules on Exact and PathPrefix, not RegularExpression)', () => {
    const at = 'spec.rules[0].matches[0].path';
    expect(errorsOf(route({ rules: [{ matches: [{ path: { value: 'api' } }] }] }))).to.deep.equal([{ field: at, message: "Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']" }]);
    expect(errorsOf(route({ rules: [{ matches: [{ path: { type: 'Exact', value: '/a//b' } }] }] }))).to.deep.equal([{ field: at, message: "Invalid value: must not contain '//' when type one of ['Exact', 'PathPrefix']" }]);
    expect(errorsOf(route({ rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/a/./b' } }] }] }))).to.deep.equal([{ field: at, message: "Invalid value: must not contain '/./' when type one of ['Exact', 'PathPrefix']" }]);
    ok(route({ rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/a/./b' } }] }] }));
  });

  it('duplicate listener names (list-map keys) and a blocked CEL pass', () => {
    const errs = errorsOf(gateway({ listeners: [{ name: 'a', port: 80, protocol: 'HTTP' }, { name: 'a', port: 81, protocol: 'HTTP' }] }));
    expect(errs).to.deep.include({ field: 'spec.listeners[1]', message: 'Duplicate value: {"name":"a"}' });
  });

  it('more than 16 rules: too many, and the CEL rules are not run', () => {
    expect(errorsOf(route({ rules: Array.from({ length: 17 }, () => ({})) }))).to.deep.equal([{ field: 'spec.rules', message: 'Too many: 17: must have at most 16 items' }, blocked]);
  });

  it('more than 128 matches across rules (a CEL rule on the list)', () => {
    const rules = Array.from({ length: 15 }, () => ({ matches: Array.from({ length: 9 }, (_, j) => ({ path: { value: `/${j}` } })) }));
    expect(errorsOf(route({ rules }))).to.deep.equal([
      { field: 'spec.rules', message: 'Invalid value: While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128' },
    ]);
  });

  it('URLRewrite with type ReplaceFullPath and a replacePrefixMatch', () => {
    const filters = [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/x', replacePrefixMatch: '/y' } } }];
    expect(errorsOf(route({ rules: [{ filters }] }))).to.deep.equal([{ field: 'spec.rules[0].filters[0].urlRewrite.path', message: "Invalid value: type must be 'ReplacePrefixMatch' when replacePrefixMatch is set" }]);
  });

  it('HTTPS listener without tls, and TLS options with neither certificates nor options (cel-go picks the first error)', () => {
    expect(errorsOf(gateway({ listeners: [{ name: 'a', port: 443, protocol: 'HTTPS' }] }))).to.deep.equal([]);
    expect(errorsOf(gateway({ listeners: [{ name: 'a', port: 443, protocol: 'HTTPS', tls: {} }] }))).to.deep.equal([
      { field: 'spec.listeners[0].tls', message: 'Invalid value: "object": no such key: certificateRefs evaluating rule: certificateRefs or options must be specified when mode is Terminate' },
    ]);
    expect(errorsOf(gateway({ listeners: [{ name: 'a', port: 443, protocol: 'TLS' }] }))).to.deep.equal([{ field: 'spec.listeners', message: 'Invalid value: tls mode must be set for protocol TLS' }]);
    expect(errorsOf(gateway({ listeners: [{ name: 'a', port: 80, protocol: 'TCP', hostname: 'a.example.com' }] }))).to.deep.equal([
      { field: 'spec.listeners', message: "Invalid value: hostname must not be specified for protocols ['TCP', 'UDP']" },
    ]);
  });

  it('unknown fields reject the object before anything else, metadata included', () => {
    const obj = route({ foo: 1, rules: [{ bar: 2, matches: [{ path: { value: 'not absolute' } }] }] });
    (obj.metadata as unknown as Record<string, unknown>).colour = 'red';
    expect(errorsOf(obj)).to.deep.equal([
      { field: 'metadata.colour', message: 'unknown field "metadata.colour"' },
      { field: 'spec.foo', message: 'unknown field "spec.foo"' },
      { field: 'spec.rules[0].bar', message: 'unknown field "spec.rules[0].bar"' },
    ]);
  });

  it('wrong types, with and without a format', () => {
    expect(errorsOf(route({ rules: [{ backendRefs: [{ name: 'svc', port: 'eighty' }] }] }))).to.deep.equal([
      { field: 'spec.rules[0].backendRefs[0].port', message: 'Invalid value: "string": spec.rules[0].backendRefs[0].port in body must be of type integer: "string"' },
      blocked,
    ]);
    expect(errorsOf({ apiVersion: `${gw}/v1`, kind: 'GatewayClass', metadata: { name: 'c' }, spec: { controllerName: true } })).to.deep.equal([
      { field: 'spec.controllerName', message: 'Invalid value: "boolean": spec.controllerName in body must be of type string: "boolean"' },
      blocked,
    ]);
  });

  it('numbers out of range, including beyond int32', () => {
    const errs = errorsOf(gateway({ listeners: [{ name: 'a', port: 70000, protocol: 'HTTP' }, { name: 'b', port: 3000000000, protocol: 'HTTP' }] }));
    expect(errs).to.deep.equal([
      { field: 'spec.listeners[0].port', message: 'Invalid value: 70000: spec.listeners[0].port in body should be less than or equal to 65535' },
      { field: '', message: 'Invalid value: "": Checked value must be of type integer with format int32 in spec.listeners[1].port' },
      { field: 'spec.listeners[1].port', message: 'Invalid value: 3000000000: spec.listeners[1].port in body should be less than or equal to 65535' },
    ]);
  });

  it('enums are reported with the supported values and block the CEL rules', () => {
    expect(errorsOf(route({ rules: [{ matches: [{ method: 'FETCH' }] }] }))).to.deep.equal([
      { field: 'spec.rules[0].matches[0].method', message: 'Unsupported value: "FETCH": supported values: "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"' },
      blocked,
    ]);
  });

  it('a Gateway address that is neither IPv4 nor IPv6 (oneOf/anyOf with formats)', () => {
    expect(errorsOf(gateway({ addresses: [{ value: 'not-an-ip' }], listeners: [{ name: 'a', port: 80, protocol: 'HTTP' }] }))).to.deep.equal([
      { field: '', message: 'Invalid value: "": "spec.addresses[0]" must validate one and only one schema (oneOf). Found none valid' },
      { field: '', message: 'Invalid value: "": "spec.addresses[0].value" must validate at least one schema (anyOf)' },
      { field: 'spec.addresses[0].value', message: 'Invalid value: "not-an-ip": spec.addresses[0].value in body must be of type ipv4: "not-an-ip"' },
      blocked,
    ]);
    ok(gateway({ addresses: [{ value: '2001:db8::1' }, { type: 'Hostname', value: 'lb.example.com' }], listeners: [{ name: 'a', port: 80, protocol: 'HTTP' }] }));
  });

  it('metadata: a missing or invalid name, bad labels; a namespace is checked only when present', () => {
    expect(errorsOf({ apiVersion: `${gw}/v1`, kind: 'HTTPRoute', metadata: { namespace: 'default' } as KubeObject['metadata'], spec: {} })).to.deep.equal([
      { field: 'metadata.name', message: 'Required value: name or generateName is required' },
      blocked,
    ]);
    expect(errorsOf(route({}, 'Bad_Name'))[0]).to.deep.equal({
      field: 'metadata.name',
      message: `Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    });
    const labelled = route({});
    labelled.metadata.labels = { 'bad key': 'v' };
    expect(errorsOf(labelled)[0].message).to.match(/^Invalid value: "bad key": name part must consist of alphanumeric characters/);
    const noNamespace = route({});
    delete noNamespace.metadata.namespace;
    ok(noNamespace);
    expect(errorsOf({ ...route({}), metadata: { name: 'r', namespace: 'Team.A' } })[0].field).to.equal('metadata.namespace');
  });

  // v1.7.0 dropped XBackend's spec.port.name (and its `validate(self) == null` rule); the
  // format library is still used the right way, `!format.X().validate(v).hasValue()`.
  it('the XBackend matchLabels rule checks each key with format.qualifiedName(), as the API server does', () => {
    const backend = (matchLabels: Record<string, string>): KubeObject => ({ apiVersion: 'gateway.networking.x-k8s.io/v1alpha1', kind: 'XBackend', metadata: { name: 'b', namespace: 'default' }, spec: { type: 'EndpointSelector', endpointSelector: { matchLabels }, port: { number: 80 } } });
    const rejected = [{ field: 'spec.endpointSelector.matchLabels', message: 'Invalid value: Label keys must be in the form of an optional DNS subdomain prefix not longer than 253 characters followed by a required name segment of up to 63 characters.' }];
    ok(backend({ 'app.kubernetes.io/name': 'web', tier: 'a' }));
    expect(errorsOf(backend({ tier: 'a', '-tier': 'b' }))).to.deep.equal(rejected); // name must start alphanumeric
    expect(errorsOf(backend({ 'Example.com/tier': 'a' }))).to.deep.equal(rejected); // the prefix is a lowercase DNS subdomain
    expect(errorsOf(backend({ [`${'a'.repeat(64)}`]: 'a' }))).to.deep.equal(rejected); // name segment over 63
    // The removed field is now refused as unknown, not validated by the old rule.
    expect(errorsOf({ ...backend({ tier: 'a' }), spec: { type: 'ExternalHostname', externalHostname: { hostname: 'a.example.com' }, port: { name: 'http', number: 80 } } })).to.deep.equal([{ field: 'spec.port.name', message: 'unknown field "spec.port.name"' }]);
  });

  it('format.X().validate(v) == null is false for every value, as in cel-go (no v1.7.0 rule relies on it any more)', () => {
    const evaluate = (rule: string, self: string) => compileCel(rule).program(self);
    for (const self of ['http', 'Not_A_Label', '']) {
      expect(evaluate('format.dns1123Label().validate(self) == null', self), self).to.equal(false);
      expect(evaluate('format.dns1123Label().validate(self) != null', self), self).to.equal(true);
    }
    expect(evaluate('!format.dns1123Label().validate(self).hasValue()', 'http')).to.equal(true);
    expect(evaluate('!format.dns1123Label().validate(self).hasValue()', 'Not_A_Label')).to.equal(false);
  });

  it('GRPC service names: the rule regex is case-insensitive, (?i) as in RE2', () => {
    const grpc = (service: string): KubeObject => ({ apiVersion: `${gw}/v1`, kind: 'GRPCRoute', metadata: { name: 'g', namespace: 'default' }, spec: { rules: [{ matches: [{ method: { service } }] }] } });
    ok(grpc('Foo.Bar'));
    expect(errorsOf(grpc('Foo..Bar'))).to.have.length(1);
  });

  it('reports a value JSON cannot carry (a YAML timestamp read as a Date) instead of validating something else', () => {
    expect(errorsOf(route({ hostnames: [new Date(0)] }))).to.deep.equal([{ field: 'spec.hostnames[0]', message: 'json: unsupported value: [object Date]' }]);
  });

  it('validates YAML aliases as the copies they stand for', () => {
    const shared = { name: 'x', value: 'y' };
    const out = ok(route({ rules: [{ matches: [{ headers: [shared] }], filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [shared] } }] }] }));
    expect(out.spec.rules[0].matches[0].headers[0]).to.deep.equal({ name: 'x', value: 'y', type: 'Exact' });
    expect(out.spec.rules[0].filters[0].requestHeaderModifier.set[0]).to.deep.equal({ name: 'x', value: 'y' });
  });
});

describe('validation: speed', () => {
  it('validates 1,000 HTTPRoutes well under a second', function () {
    this.timeout(20_000);
    const routes = Array.from({ length: 1000 }, (_, i) =>
      route({ parentRefs: [{ name: 'gw', sectionName: 'http' }], hostnames: [`a${i}.example.com`], rules: [{ matches: [{ path: { type: 'PathPrefix', value: `/api/${i}` }, headers: [{ name: 'x', value: 'y' }] }], filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'a', value: 'b' }] } }], backendRefs: [{ name: 'svc', port: 80 }] }, { backendRefs: [{ name: 'svc2', port: 8080 }] }] }, `r${i}`),
    );
    for (const r of routes) expect(validator.validate(r)!.errors).to.have.length(0); // also the JIT warm-up
    // The best of three, so that a machine busy with other test runs does not decide.
    const times = [0, 1, 2].map(() => {
      const started = performance.now();
      for (const r of routes) validator.validate(r);
      return performance.now() - started;
    });
    expect(Math.min(...times)).to.be.lessThan(1000);
  });
});

describe('validation: core kinds read from files', () => {
  const service = (spec: object, name = 'echo'): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec });
  const slice = (extra: object): KubeObject => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'echo-abc', namespace: 'default' }, ...extra });

  it('accepts a Service, an EndpointSlice and a Namespace', () => {
    expect(validateCoreObject(service({ ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }))).to.deep.equal([]);
    expect(validateCoreObject(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }))).to.deep.equal([]);
    expect(validateCoreObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } })).to.deep.equal([]);
  });

  it('rejects bad names, ports and protocols', () => {
    expect(validateCoreObject(service({ ports: [{ port: 0, protocol: 'HTTP' }] }, '1echo'))).to.deep.equal([
      { field: 'metadata.name', message: `Invalid value: "1echo": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')` },
      { field: 'spec.ports[0].port', message: 'Invalid value: 0: must be between 1 and 65535, inclusive' },
      { field: 'spec.ports[0].protocol', message: 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"' },
    ]);
    expect(validateCoreObject(service({ ports: [{ port: 80 }, { name: 'b', port: 81 }] }))).to.deep.equal([{ field: 'spec.ports[0].name', message: 'Required value' }]);
    expect(validateCoreObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team.a' } })[0].message).to.match(/must not contain dots/);
  });

  it('rejects EndpointSlice address types, addresses that do not match them, and non-boolean conditions', () => {
    expect(validateCoreObject(slice({ addressType: 'IP' }))).to.deep.equal([{ field: 'addressType', message: 'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"' }]);
    expect(validateCoreObject(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['::1', '10.0.0.01'], conditions: { ready: 'yes' } }] }))).to.deep.equal([
      { field: 'endpoints[0].addresses[0]', message: 'Invalid value: "::1": must be a valid IPv4 address' },
      { field: 'endpoints[0].addresses[1]', message: 'Invalid value: "10.0.0.01": must be a valid IPv4 address' },
      { field: 'endpoints[0].conditions.ready', message: 'Invalid value: "yes": must be a boolean' },
    ]);
    expect(validateCoreObject(slice({ addressType: 'FQDN', endpoints: [{ addresses: ['a.example.com'] }], ports: [{ port: 70000 }] }))).to.deep.equal([{ field: 'ports[0].port', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive' }]);
  });
});

/** HTTPHeaderMatch.value's pattern in the v1.7.0 CRDs: nested quantifiers that backtrack exponentially. */
const headerValuePattern = '^[!-~]+([\\t ]?[!-~]+)*$';

describe('validation: RE2 patterns, Go IP parsing and Go formatting', () => {
  it('matches RE2 patterns as Go does', () => {
    // Every expected value is what Go's regexp.MatchString returns (or its compile error).
    expect(re2('^(?i)[a-z]+$').test('AbC')).to.equal(true);
    expect(re2('^a(?i)b$').test('aB')).to.equal(true);
    expect(re2('^a(?i)b$').test('AB')).to.equal(false);
    expect(re2('^a.c$').test('a\rc'), 'RE2 . excludes only \\n').to.equal(true);
    expect(re2('^a.c$').test('a\nc')).to.equal(false);
    expect(re2('^\\s$').test('\u00a0'), 'RE2 \\s is ASCII').to.equal(false);
    expect(re2('^x{$').test('x{'), 'a brace that is no repetition is a literal').to.equal(true);
    expect(re2('^[A-Za-z0-9\\-\\.]+$').test('a-b.c')).to.equal(true);
    expect(re2('^\\x60$').test('`')).to.equal(true);
    expect(re2('^a\\Q.*\\E$').test('a.*'), '\\Q..\\E quotes').to.equal(true);
    expect(re2('^a\\Q.*\\E$').test('abb')).to.equal(false);
    expect(re2('^(a|b(?i)c|d)$').test('bC'), '(?i) lasts to the end of its group, across |').to.equal(true);
    expect(re2('^(a|b(?i)c|d)$').test('D')).to.equal(true);
    expect(re2('^(a|b(?i)c|d)$').test('A')).to.equal(false);
    expect(re2('^[[:alpha:]]+$').test('ab'), 'POSIX classes are ASCII').to.equal(true);
    expect(re2('^[[:alpha:]]+$').test('é')).to.equal(false);
    expect(re2('^\\p{^L}$').test('1')).to.equal(true);
    expect(re2('^[^\\S]$').test(' ')).to.equal(true);
    expect(() => re2('(a)\\1'), 'no backreferences in RE2').to.throw(/invalid escape sequence/);
    expect(() => re2('a(?=b)'), 'no lookaround in RE2').to.throw(/invalid or unsupported Perl syntax/);
  });

  it('refuses the Gateway API header value pattern on hostile values in bounded time (RE2 does not backtrack)', function () {
    // A backtracking JS RegExp takes ~0.4 s on 27 characters and never finishes on these, so
    // they run in a child process that is killed instead of hanging the suite.
    this.timeout(60_000);
    const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      import { loadCrdValidator } from ${module('../../operator/src/validation/crd.ts')};
      import { re2 } from ${module('../../operator/src/validation/regex.ts')};
      const v = loadCrdValidator();
      const route = (value) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'default' }, spec: { rules: [{ matches: [{ headers: [{ name: 'x', value }] }] }] } });
      v.validate(route('warm up the engine'));
      const timed = (f) => { const started = performance.now(); const result = f(); return { ms: performance.now() - started, result }; };
      // The longest value maxLength (4096) lets reach the pattern, and the pattern alone on more.
      const validation = timed(() => v.validate(route('a'.repeat(4095) + '\\n')).errors);
      const pattern = timed(() => re2(${JSON.stringify(headerValuePattern)}).test('a'.repeat(10000) + '\\n'));
      console.log(JSON.stringify({ validation, pattern }));`], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    expect(child.signal, 'validation did not finish within 30 s').to.equal(null);
    expect(child.status, child.stderr).to.equal(0);
    const { validation, pattern } = JSON.parse(child.stdout) as { validation: { ms: number; result: FieldError[] }; pattern: { ms: number; result: boolean } };
    expect(validation.result.map((e) => e.field)).to.deep.equal(['spec.rules[0].matches[0].headers[0].value']);
    expect(validation.result[0]?.message).to.include(`should match '${headerValuePattern}'`);
    expect(validation.ms).to.be.lessThan(200);
    expect(pattern.result).to.equal(false);
    expect(pattern.ms).to.be.lessThan(200);
  });

  it('parses IPs as Go does', () => {
    expect(parseIP('10.0.0.01'), 'leading zeros are refused').to.equal(undefined);
    expect(parseIP('10.0.0.01', { sloppy: true })?.bytes).to.deep.equal([10, 0, 0, 1]);
    expect(parseIP('::ffff:1.2.3.4')?.version).to.equal(6);
    expect(parseIP('1::2::3')).to.equal(undefined);
    expect(parseAddr('fe80::1%eth0')?.zone).to.equal('eth0');
    expect(is4In6(parseAddr('::ffff:1.2.3.4')!)).to.equal(true);
  });

  it('quotes and formats values as Go prints them', () => {
    expect(goQuote('a"b\\c\n\x01é😀\u2028')).to.equal('"a\\"b\\\\c\\n\\x01é😀\\u2028"');
    expect([1.5, 1e6, 123456789.5, 0.0001, 1e-5, 65535].map(goFloat)).to.deep.equal(['1.5', '1e+06', '1.234567895e+08', '0.0001', '1e-05', '65535']);
  });
});

describe('validation: TLS Secrets from files', () => {
  const secret = (extra: any) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'app' }, type: 'kubernetes.io/tls', ...extra });
  it('accepts data or stringData with both keys', () => {
    expect(validateCoreObject(secret({ data: { 'tls.crt': 'YQ==', 'tls.key': 'Yg==' } }))).to.deep.equal([]);
    expect(validateCoreObject(secret({ stringData: { 'tls.crt': 'PEM', 'tls.key': 'PEM' } }))).to.deep.equal([]);
  });
  it('requires tls.key for type kubernetes.io/tls and base64 data', () => {
    expect(validateCoreObject(secret({ data: { 'tls.crt': 'YQ==' } })).map((e) => e.field)).to.deep.equal(['data[tls.key]']);
    expect(validateCoreObject(secret({ data: { 'tls.crt': 'not base64!', 'tls.key': 'Yg==' } })).map((e) => e.field)).to.deep.equal(['data[tls.crt]']);
  });
});

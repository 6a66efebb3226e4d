// Generates operator/src/api/gateway-api.ts: TypeScript types for the spec and status of
// every kind in the pinned Gateway API CRDs (manifests/crds/gateway-api), from their
// OpenAPI schemas. `npm run gen:types` writes the file; test/unit/api-types.test.ts checks
// that the committed file is what this generator makes of the committed CRDs.
//
// One interface per object schema, named after the spec's Go types where the table below
// says so and after its schema path otherwise; identical shapes (descriptions and
// validations aside) share one interface. Output depends only on the CRD files.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { Schema } from '../operator/src/validation/schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const crdDir = join(root, 'manifests', 'crds', 'gateway-api');
export const outputFile = join(root, 'operator', 'src', 'api', 'gateway-api.ts');

/** Kinds in the order their types are emitted (earlier kinds name shared shapes); others follow by name. */
const kindOrder = ['GatewayClass', 'Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute', 'ReferenceGrant', 'BackendTLSPolicy'];

/**
 * Names from the spec's Go types, by schema path. The first name given to a shape is its
 * interface's, wherever the shape recurs; a later name for the same shape is a type alias.
 */
const names: Record<string, string> = {
  // Shared shapes first: the first name of a shape names its interface.
  'Gateway.spec.listeners[*].filters.requests[*].extensionRef': 'LocalObjectReference',
  'Gateway.spec.tls.frontend.default.validation.caCertificateRefs[*]': 'ObjectReference',
  'HTTPRoute.status': 'RouteStatus',
  'BackendTLSPolicy.status': 'PolicyStatus',
  'GatewayClass.spec.parametersRef': 'ParametersReference',
  'GatewayClass.status.conditions[*]': 'Condition',
  'GatewayClass.status.supportedFeatures[*]': 'SupportedFeature',
  'Gateway.spec.addresses[*]': 'GatewaySpecAddress',
  'Gateway.spec.allowedListeners': 'AllowedListeners',
  'Gateway.spec.allowedListeners.namespaces': 'ListenerNamespaces',
  'Gateway.spec.allowedListeners.namespaces.selector': 'LabelSelector',
  'Gateway.spec.allowedListeners.namespaces.selector.matchExpressions[*]': 'LabelSelectorRequirement',
  'Gateway.spec.infrastructure': 'GatewayInfrastructure',
  'Gateway.spec.infrastructure.parametersRef': 'LocalParametersReference',
  'Gateway.spec.listeners[*]': 'Listener',
  'Gateway.spec.listeners[*].allowedRoutes': 'AllowedRoutes',
  'Gateway.spec.listeners[*].allowedRoutes.kinds[*]': 'RouteGroupKind',
  'Gateway.spec.listeners[*].allowedRoutes.namespaces': 'RouteNamespaces',
  'Gateway.spec.listeners[*].filters': 'ListenerFilters',
  'Gateway.spec.listeners[*].filters.requests[*]': 'ListenerRequestFilter',
  'Gateway.spec.listeners[*].filters.requests[*].externalAuth': 'HTTPExternalAuthFilter',
  'Gateway.spec.listeners[*].filters.requests[*].externalAuth.backendRef': 'BackendObjectReference',
  'Gateway.spec.listeners[*].filters.requests[*].externalAuth.forwardBody': 'ForwardBodyConfig',
  'Gateway.spec.listeners[*].filters.requests[*].externalAuth.grpc': 'GRPCAuthConfig',
  'Gateway.spec.listeners[*].filters.requests[*].externalAuth.http': 'HTTPAuthConfig',
  'Gateway.spec.listeners[*].tls': 'ListenerTLSConfig',
  'Gateway.spec.listeners[*].tls.certificateRefs[*]': 'SecretObjectReference',
  'Gateway.spec.tls': 'GatewayTLSConfig',
  'Gateway.spec.tls.backend': 'GatewayBackendTLS',
  'Gateway.spec.tls.frontend': 'FrontendTLSConfig',
  'Gateway.spec.tls.frontend.default': 'TLSConfig',
  'Gateway.spec.tls.frontend.default.validation': 'FrontendTLSValidation',
  'Gateway.spec.tls.frontend.perPort[*]': 'TLSPortConfig',
  'Gateway.status.addresses[*]': 'GatewayStatusAddress',
  'Gateway.status.listeners[*]': 'ListenerStatus',
  'ListenerSet.spec.listeners[*]': 'ListenerEntry',
  'ListenerSet.spec.parentRef': 'ParentGatewayReference',
  'ListenerSet.status.listeners[*]': 'ListenerEntryStatus',
  'HTTPRoute.spec.parentRefs[*]': 'ParentReference',
  'HTTPRoute.spec.rules[*]': 'HTTPRouteRule',
  'HTTPRoute.spec.rules[*].backendRefs[*]': 'HTTPBackendRef',
  'HTTPRoute.spec.rules[*].filters[*]': 'HTTPRouteFilter',
  'HTTPRoute.spec.rules[*].filters[*].cors': 'HTTPCORSFilter',
  'HTTPRoute.spec.rules[*].filters[*].requestHeaderModifier': 'HTTPHeaderFilter',
  'HTTPRoute.spec.rules[*].filters[*].requestHeaderModifier.set[*]': 'HTTPHeader',
  'HTTPRoute.spec.rules[*].filters[*].requestMirror': 'HTTPRequestMirrorFilter',
  'HTTPRoute.spec.rules[*].filters[*].requestMirror.fraction': 'Fraction',
  'HTTPRoute.spec.rules[*].filters[*].requestRedirect': 'HTTPRequestRedirectFilter',
  'HTTPRoute.spec.rules[*].filters[*].requestRedirect.path': 'HTTPPathModifier',
  'HTTPRoute.spec.rules[*].filters[*].urlRewrite': 'HTTPURLRewriteFilter',
  'HTTPRoute.spec.rules[*].matches[*]': 'HTTPRouteMatch',
  'HTTPRoute.spec.rules[*].matches[*].headers[*]': 'HTTPHeaderMatch',
  'HTTPRoute.spec.rules[*].matches[*].path': 'HTTPPathMatch',
  'HTTPRoute.spec.rules[*].matches[*].queryParams[*]': 'HTTPQueryParamMatch',
  'HTTPRoute.spec.rules[*].retry': 'HTTPRouteRetry',
  'HTTPRoute.spec.rules[*].sessionPersistence': 'SessionPersistence',
  'HTTPRoute.spec.rules[*].sessionPersistence.cookie': 'CookieConfig',
  'HTTPRoute.spec.rules[*].sessionPersistence.header': 'HeaderConfig',
  'HTTPRoute.spec.rules[*].timeouts': 'HTTPRouteTimeouts',
  'HTTPRoute.status.parents[*]': 'RouteParentStatus',
  'GRPCRoute.spec.rules[*]': 'GRPCRouteRule',
  'GRPCRoute.spec.rules[*].backendRefs[*]': 'GRPCBackendRef',
  'GRPCRoute.spec.rules[*].filters[*]': 'GRPCRouteFilter',
  'GRPCRoute.spec.rules[*].matches[*]': 'GRPCRouteMatch',
  'GRPCRoute.spec.rules[*].matches[*].headers[*]': 'GRPCHeaderMatch',
  'GRPCRoute.spec.rules[*].matches[*].method': 'GRPCMethodMatch',
  'TLSRoute.spec.rules[*]': 'TLSRouteRule',
  'TLSRoute.spec.rules[*].backendRefs[*]': 'BackendRef',
  'TCPRoute.spec.rules[*]': 'TCPRouteRule',
  'UDPRoute.spec.rules[*]': 'UDPRouteRule',
  'ReferenceGrant.spec.from[*]': 'ReferenceGrantFrom',
  'ReferenceGrant.spec.to[*]': 'ReferenceGrantTo',
  'BackendTLSPolicy.spec.targetRefs[*]': 'LocalPolicyTargetReferenceWithSectionName',
  'BackendTLSPolicy.spec.validation': 'BackendTLSPolicyValidation',
  'BackendTLSPolicy.spec.validation.subjectAltNames[*]': 'SubjectAltName',
  'BackendTLSPolicy.status.ancestors[*]': 'PolicyAncestorStatus',
};

interface CrdFile {
  file: string;
  kind: string;
  group: string;
  version: string;
  bundleVersion: string;
  spec?: Schema;
  status?: Schema;
}

interface CrdManifest {
  kind?: string;
  metadata?: { annotations?: Record<string, string> };
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema?: Schema } }[] };
}

/** Every CRD of the directory at the version the operator reads: v1 when served, else the storage version. */
export function readCrds(dir: string): CrdFile[] {
  const out: CrdFile[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const crd = doc.toJS() as CrdManifest | null;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      const versions = crd.spec.versions.filter((v) => v.served);
      const v = versions.find((x) => x.name === 'v1') ?? versions.find((x) => x.storage);
      const schema = v?.schema?.openAPIV3Schema;
      if (!v || !schema) throw new Error(`${file}: no served v1 or storage version with a schema`);
      out.push({
        file,
        kind: crd.spec.names.kind,
        group: crd.spec.group,
        version: v.name,
        bundleVersion: crd.metadata?.annotations?.['gateway.networking.k8s.io/bundle-version'] ?? 'unknown',
        spec: schema.properties?.spec,
        status: schema.properties?.status,
      });
    }
  }
  const rank = (k: string) => (kindOrder.includes(k) ? kindOrder.indexOf(k) : kindOrder.length);
  return out.sort((a, b) => rank(a.kind) - rank(b.kind) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}

/** The shape of a schema as far as TypeScript sees it: no descriptions, no validations. */
function shapeKey(s: Schema): string {
  return JSON.stringify(shape(s));
}

function shape(s: Schema): unknown {
  const required = new Set(s.required ?? []);
  return [
    s.type ?? null,
    s.enum ?? null,
    s.nullable ?? false,
    s['x-kubernetes-int-or-string'] ?? false,
    s.properties ? Object.entries(s.properties).map(([k, p]) => [k, required.has(k), shape(p)]) : null,
    s.items ? shape(s.items) : null,
    typeof s.additionalProperties === 'object' ? shape(s.additionalProperties) : (s.additionalProperties ?? null),
  ];
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "rules" -> "Rule", "matches" -> "Match", "addresses" -> "Address", "policies" -> "Policy". */
function singular(s: string): string {
  if (/ies$/.test(s)) return s.replace(/ies$/, 'y');
  if (/(ch|sh|ss|x)es$/.test(s)) return s.replace(/es$/, '');
  if (/[^s]s$/.test(s)) return s.slice(0, -1);
  return s;
}

/** The first sentence of a description, on one line, safe inside a comment. */
function summary(description: string | undefined): string | undefined {
  if (!description) return undefined;
  const para = (description.split(/\n\s*\n/)[0] ?? '').replace(/\s+/g, ' ').trim();
  const m = /^.*?[.!?](?=\s|$)/.exec(para);
  const line = (m ? m[0] : para).replace(/\*\//g, '*\\/');
  return line || undefined;
}

/** A TypeScript literal type for an enum value, strings in single quotes. */
function literal(v: unknown): string {
  return typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(v);
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

class Generator {
  private readonly nameOf = new Map<string, string>();
  private readonly shapeOf = new Map<string, string>();
  private readonly named = new Map<string, string>();
  private readonly aliases = new Set<string>();
  readonly declarations: string[] = [];

  constructor(crds: readonly CrdFile[]) {
    // Names from the table belong to a shape wherever it occurs, so look them up first.
    const shapes = new Map<string, string>();
    for (const c of crds) {
      for (const part of ['spec', 'status'] as const) {
        const s = c[part];
        if (s) visit(s, `${c.kind}.${part}`, (node, path) => { if (names[path]) shapes.set(path, shapeKey(node)); });
      }
    }
    for (const [path, name] of Object.entries(names)) {
      const key = shapes.get(path);
      if (key === undefined) throw new Error(`names: schema path ${path} does not exist (did the CRDs change?)`);
      if (!this.named.has(key)) this.named.set(key, name);
    }
  }

  type(s: Schema, path: string, hint: string): string {
    let t: string;
    if (s['x-kubernetes-int-or-string']) t = 'number | string';
    else if (s.enum?.length) t = s.enum.map(literal).join(' | ');
    else if (s.type === 'string') t = 'string';
    else if (s.type === 'integer' || s.type === 'number') t = 'number';
    else if (s.type === 'boolean') t = 'boolean';
    else if (s.type === 'array') {
      const item = s.items ? this.type(s.items, `${path}[*]`, singular(hint)) : 'unknown';
      t = /[ |]/.test(item) ? `(${item})[]` : `${item}[]`;
    } else if (s.properties) t = this.declareInterface(s, path, hint);
    else if (typeof s.additionalProperties === 'object') t = `Record<string, ${this.type(s.additionalProperties, `${path}[*]`, `${hint}Value`)}>`;
    else if (s.type === 'object') t = 'Record<string, unknown>';
    else t = 'unknown';
    return s.nullable ? `${t} | null` : t;
  }

  /** The interface for an object schema; a table name for a shape already declared becomes an alias of it. */
  private declareInterface(s: Schema, path: string, hint: string): string {
    const name = this.interfaceFor(s, path, hint);
    const alias = names[path];
    if (!alias || alias === name) return name;
    this.alias(alias, name);
    return alias;
  }

  alias(alias: string, name: string): void {
    if (this.aliases.has(alias)) return;
    if (this.shapeOf.has(alias)) throw new Error(`${alias} is both an interface and an alias of ${name}`);
    this.aliases.add(alias);
    this.declarations.push(`export type ${alias} = ${name};\n`);
  }

  private interfaceFor(s: Schema, path: string, hint: string): string {
    const key = shapeKey(s);
    const existing = this.nameOf.get(key);
    if (existing) return existing;
    const name = this.named.get(key) ?? hint;
    const clash = this.shapeOf.get(name);
    if (clash !== undefined && clash !== key) throw new Error(`${path}: the name ${name} is taken by another shape; add this path to the names table`);
    this.nameOf.set(key, name);
    this.shapeOf.set(name, key);
    const base = name.replace(/Spec$/, '');
    const required = new Set(s.required ?? []);
    const lines: string[] = [];
    for (const [prop, p] of Object.entries(s.properties ?? {})) {
      const type = this.type(p, `${path}.${prop}`, base + pascal(prop));
      const doc = summary(p.description);
      if (doc) lines.push(`  /** ${doc} */`);
      lines.push(`  ${identifier.test(prop) ? prop : JSON.stringify(prop)}${required.has(prop) ? '' : '?'}: ${type};`);
    }
    const doc = summary(s.description);
    this.declarations.push(`${doc ? `/** ${doc} */\n` : ''}export interface ${name} {\n${lines.join('\n')}\n}\n`);
    return name;
  }
}

function visit(s: Schema, path: string, f: (s: Schema, path: string) => void): void {
  if (s.properties) {
    f(s, path);
    for (const [k, p] of Object.entries(s.properties)) visit(p, `${path}.${k}`, f);
  }
  if (s.items) visit(s.items, `${path}[*]`, f);
  if (typeof s.additionalProperties === 'object') visit(s.additionalProperties, `${path}[*]`, f);
}

/** The text of operator/src/api/gateway-api.ts for the CRDs in `dir`. */
export function generateApiTypes(dir = crdDir): string {
  const crds = readCrds(dir);
  const bundles = [...new Set(crds.map((c) => c.bundleVersion))];
  const gen = new Generator(crds);
  const kinds: string[] = [];
  for (const c of crds) {
    // Every kind gets its own Spec and Status names, aliases where the shape is shared.
    const root = (s: Schema | undefined, part: 'spec' | 'status'): string => {
      if (!s) return 'never';
      const hint = `${c.kind}${pascal(part)}`;
      const name = gen.type(s, `${c.kind}.${part}`, hint);
      if (name !== hint) gen.alias(hint, name);
      return hint;
    };
    const spec = root(c.spec, 'spec');
    const status = root(c.status, 'status');
    kinds.push(`  ${c.kind}: { apiVersion: '${c.group}/${c.version}'; spec: ${spec}; status: ${status} };`);
  }
  const files = [...new Set(crds.map((c) => c.file))];
  return [
    '// Generated by scripts/gen-api-types.ts (npm run gen:types): do not edit.',
    `// Gateway API ${bundles.join(', ')}, from ${relative(root, dir)}/:`,
    ...files.map((f) => `//   ${basename(f)} (${crds.filter((c) => c.file === f).map((c) => `${c.kind} ${c.version}`).join(', ')})`),
    '',
    ...gen.declarations,
    '/** Each kind: the apiVersion these types describe, its spec and its status. */',
    'export interface GatewayAPIKinds {',
    ...kinds,
    '}',
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(outputFile, generateApiTypes());
  console.log(`wrote ${relative(root, outputFile)}`);
}

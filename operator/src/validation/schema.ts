// The OpenAPI v3 schemas of CustomResourceDefinitions, read from YAML manifests. Only the
// keywords this package implements are accepted: a CRD using anything else fails to load
// rather than being validated partially.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseSimpleYaml } from '../sources/simple-yaml.ts';
import { stringFormat } from './formats.ts';

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  optionalOldSelf?: boolean;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

/** apiextensions.k8s.io/v1 JSONSchemaProps, the subset this package implements. */
export interface Schema {
  type?: SchemaType;
  format?: string;
  description?: string;
  title?: string;
  example?: unknown;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const supportedKeywords = new Set<string>([
  'type', 'format', 'description', 'title', 'example', 'enum', 'default', 'nullable', 'pattern', 'minLength', 'maxLength',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems', 'minProperties', 'maxProperties',
  'required', 'properties', 'additionalProperties', 'items', 'allOf', 'anyOf', 'oneOf', 'not', 'x-kubernetes-validations',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
]);

/** Visits every schema node, including the ones inside allOf/anyOf/oneOf/not. */
export function walkSchema(s: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(s, path);
  for (const [k, p] of Object.entries(s.properties ?? {})) walkSchema(p, `${path}.${k}`, visit);
  if (s.items) walkSchema(s.items, `${path}[*]`, visit);
  if (typeof s.additionalProperties === 'object') walkSchema(s.additionalProperties, `${path}[*]`, visit);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) s[k]?.forEach((sub, i) => walkSchema(sub, `${path}/${k}[${i}]`, visit));
  if (s.not) walkSchema(s.not, `${path}/not`, visit);
}

function checkSupported(schema: Schema, where: string): void {
  walkSchema(schema, '', (s, path) => {
    for (const k of Object.keys(s)) {
      if (!supportedKeywords.has(k)) throw new Error(`${where}: schema keyword ${k} at ${path || '.'} is not supported by the validator`);
    }
    try {
      if (s.type === 'string' || !s.type) stringFormat(s.format);
    } catch (err) {
      throw new Error(`${where} at ${path || '.'}: ${(err as Error).message}`);
    }
  });
}

export interface CrdVersion {
  group: string;
  version: string;
  kind: string;
  namespaced: boolean;
  /** With a status subresource, create drops status. */
  statusSubresource: boolean;
  schema: Schema;
}

interface CrdManifest {
  kind?: string;
  metadata?: { name?: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string };
    versions: { name: string; served: boolean; schema?: { openAPIV3Schema?: Schema }; subresources?: { status?: object } }[];
  };
}

/**
 * The values of a file's YAML documents, one at a time: by the fast path when the file is
 * plain block YAML (the vendored CRDs are: 1.6 MB, 0.25 s of every start with yaml), else
 * by yaml, which throws on the first document with an error.
 */
function* yamlDocuments(file: string, text: string): Generator<unknown> {
  const fast = parseSimpleYaml(text, 1000);
  if (fast) return yield* fast;
  for (const doc of parseAllDocuments(text)) {
    const [yamlError] = doc.errors;
    if (yamlError) throw new Error(`${file}: ${yamlError.message}`);
    yield doc.toJS();
  }
}

/** The served versions of every CustomResourceDefinition in the YAML files of a directory. */
export function loadCrdVersions(dir: string): CrdVersion[] {
  const out: CrdVersion[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const value of yamlDocuments(file, readFileSync(join(dir, file), 'utf8'))) {
      const crd = value as CrdManifest | null;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const v of crd.spec.versions) {
        const schema = v.schema?.openAPIV3Schema;
        if (!v.served) continue;
        if (!schema) throw new Error(`${file}: ${crd.spec.names.kind} ${v.name} has no openAPIV3Schema`);
        checkSupported(schema, `${file} ${crd.spec.names.kind} ${v.name}`);
        out.push({
          group: crd.spec.group,
          version: v.name,
          kind: crd.spec.names.kind,
          namespaced: crd.spec.scope === 'Namespaced',
          statusSubresource: !!v.subresources?.status,
          schema,
        });
      }
    }
  }
  return out;
}

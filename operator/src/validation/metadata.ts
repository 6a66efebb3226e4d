// ObjectMeta as the API server treats it for a created custom resource: strict decoding
// (unknown and mistyped fields) and ValidateObjectMetaAccessor (name, namespace, labels,
// annotations).
import { fieldError, type TypedFieldError } from './field-errors.ts';
import { isDNS1123Label, isDNS1123Subdomain, isLabelValue, isQualifiedName } from './names.ts';

/** The JSON shape of metav1.ObjectMeta, enough to find unknown and mistyped fields. */
type Scalar = 'string' | 'int64' | 'bool' | 'time' | 'any';
type Shape = Scalar | { map: Shape } | { list: Shape } | { struct: string; fields: Record<string, Shape> };

const ownerReference: Shape = { struct: 'OwnerReference', fields: { apiVersion: 'string', kind: 'string', name: 'string', uid: 'string', controller: 'bool', blockOwnerDeletion: 'bool' } };
const managedFieldsEntry: Shape = { struct: 'ManagedFieldsEntry', fields: { manager: 'string', operation: 'string', apiVersion: 'string', time: 'time', fieldsType: 'string', fieldsV1: 'any', subresource: 'string' } };
const objectMeta: Shape = {
  struct: 'ObjectMeta',
  fields: {
    name: 'string', generateName: 'string', namespace: 'string', selfLink: 'string', uid: 'string', resourceVersion: 'string',
    generation: 'int64', creationTimestamp: 'time', deletionTimestamp: 'time', deletionGracePeriodSeconds: 'int64',
    labels: { map: 'string' }, annotations: { map: 'string' }, ownerReferences: { list: ownerReference },
    finalizers: { list: 'string' }, managedFields: { list: managedFieldsEntry },
  },
};

/** encoding/json's names: a JSON value's kind, and a Go type. */
const jsonKind = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : 'string');
const goType = (s: Shape): string =>
  typeof s === 'string' ? ({ time: 'v1.Time', any: 'interface {}' } as Record<string, string>)[s] ?? s : 'map' in s ? `map[string]${goType(s.map)}` : 'list' in s ? `[]${goType(s.list)}` : `v1.${s.struct}`;

function fits(v: unknown, s: Scalar): boolean {
  if (s === 'int64') return Number.isInteger(v);
  if (s === 'bool') return typeof v === 'boolean';
  return s === 'any' || typeof v === 'string';
}

/**
 * Unknown fields in metadata (strict decoding into ObjectMeta), and the first type mismatch,
 * worded like encoding/json ("cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string").
 */
export function decodeObjectMeta(metadata: unknown): { unknown: string[]; decodeError?: TypedFieldError } {
  const unknown: string[] = [];
  let decodeError: TypedFieldError | undefined;
  // path: where the value is; jsonPath: encoding/json's dotted field path (no indices or map keys).
  const visit = (v: unknown, s: Shape, struct: string, path: string, jsonPath: string): void => {
    if (v === null || decodeError) return; // null leaves a Go value at its zero value
    const mismatch = () => {
      // A number that does not fit an integer field is quoted ("number 1.5").
      const value = typeof v === 'number' && s === 'int64' ? `number ${v}` : jsonKind(v);
      decodeError = fieldError.decode(path, `json: cannot unmarshal ${value} into Go struct field ${struct}.${jsonPath} of type ${goType(s)}`);
    };
    if (typeof s === 'string') {
      if (!fits(v, s)) mismatch();
    } else if ('list' in s) {
      if (!Array.isArray(v)) return mismatch();
      v.forEach((item, i) => visit(item, s.list, struct, `${path}[${i}]`, jsonPath));
    } else if (typeof v !== 'object' || Array.isArray(v)) mismatch();
    else {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if ('map' in s) visit(child, s.map, struct, `${path}[${k}]`, jsonPath);
        else if (s.fields[k] === undefined) unknown.push(`${path}.${k}`);
        else visit(child, s.fields[k], s.struct, `${path}.${k}`, `${jsonPath}.${k}`);
      }
    }
  };
  visit(metadata, objectMeta, 'ObjectMeta', 'metadata', 'metadata');
  return { unknown, decodeError };
}

/** NameIsDNSSubdomain with prefix=true: a generateName may end with '-'. */
const maskTrailingDash = (s: string) => (s.length > 1 && s.endsWith('-') ? `${s.slice(0, -1)}a` : s);

interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** ValidateObjectMetaAccessor, except that a missing namespace is left to the caller. */
export function validateObjectMeta(meta: Meta, namespaced: boolean): TypedFieldError[] {
  const errs: TypedFieldError[] = [];
  const invalid = (field: string, value: unknown) => (msg: string) => errs.push(fieldError.invalid(`metadata.${field}`, value, msg));
  if (meta.generateName) isDNS1123Subdomain(maskTrailingDash(meta.generateName)).forEach(invalid('generateName', meta.generateName));
  // The API server generates a name from generateName; files have nothing to generate it.
  if (!meta.name) errs.push(fieldError.required('metadata.name', 'name or generateName is required'));
  else isDNS1123Subdomain(meta.name).forEach(invalid('name', meta.name));
  if (namespaced && meta.namespace) isDNS1123Label(meta.namespace).forEach(invalid('namespace', meta.namespace));
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    isQualifiedName(k).forEach(invalid('labels', k));
    isLabelValue(v).forEach(invalid('labels', v));
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    isQualifiedName(k.toLowerCase()).forEach(invalid('annotations', k));
    annotationBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (annotationBytes > 256 * 1024) errs.push(fieldError.tooLong('metadata.annotations', 256 * 1024));
  return errs;
}

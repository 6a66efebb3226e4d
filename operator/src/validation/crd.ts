// Validates and defaults Gateway API objects read from files as the API server would on
// create (`kubectl create/apply`, strict field validation), from the vendored CRDs alone:
//   1. strict decoding: unknown fields (and mistyped metadata) reject the object outright;
//   2. OpenAPI defaults;
//   3. metadata, OpenAPI schema and list-type validation;
//   4. the CRDs' CEL rules, unless step 3 found an error that blocks them.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../objects.ts';
import { compileCelValidator, type CelValidator } from './cel.ts';
import { applyDefaults } from './defaults.ts';
import { blocking, fieldError, type FieldError, type TypedFieldError } from './field-errors.ts';
import { validateListTypes } from './listtype.ts';
import { decodeObjectMeta, validateObjectMeta } from './metadata.ts';
import { compileSchema, validateOpenAPI, type Validator } from './openapi.ts';
import { pruneNulls, pruneUnknownFields } from './prune.ts';
import { loadCrdVersions, type CrdVersion } from './schema.ts';

export type { FieldError } from './field-errors.ts';
export { validateCoreObject } from './core.ts';

export interface ValidationResult {
  /** A defaulted deep copy of the object, as the API server would store it (a status subresource starts from its defaults). */
  object: KubeObject;
  errors: FieldError[];
}

export interface CrdValidator {
  /** undefined when the apiVersion/kind is not one of the loaded CRDs (or an unserved version). */
  validate(obj: KubeObject): ValidationResult | undefined;
  /** The kinds of the loaded CRDs, e.g. ['GatewayClass', 'Gateway', 'HTTPRoute', ...]. */
  kinds(): string[];
}

export const defaultCrdDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'manifests', 'crds', 'gateway-api');

interface CompiledVersion extends CrdVersion {
  openapi: Validator;
  cel: CelValidator;
}

/** Raised for a value JSON cannot carry (a YAML timestamp parsed as a Date, NaN...). */
class NotJsonError extends Error {
  readonly path: string;
  constructor(path: string, what: string) {
    super(`json: unsupported value: ${what}`);
    this.path = path;
  }
}

/** A copy made of plain JSON values only, so nothing is shared with (or aliased inside) the input. */
function jsonCopy(v: unknown, path: string): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new NotJsonError(path, String(v));
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => jsonCopy(x, `${path}[${i}]`));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = jsonCopy(x, path ? `${path}.${k}` : k);
    return out;
  }
  throw new NotJsonError(path, Object.prototype.toString.call(v));
}

const strip = (errs: TypedFieldError[]): FieldError[] => errs.map(({ field, message }) => ({ field, message }));

function validateVersion(crd: CompiledVersion, input: KubeObject): ValidationResult {
  let obj: KubeObject & Record<string, unknown>;
  try {
    obj = jsonCopy(input, '') as typeof obj;
  } catch (err) {
    if (!(err instanceof NotJsonError)) throw err;
    return { object: input, errors: strip([fieldError.decode(err.path, err.message)]) };
  }
  const { unknown, decodeError } = decodeObjectMeta(obj.metadata);
  if (decodeError) return { object: obj, errors: strip([decodeError]) };
  unknown.push(...pruneUnknownFields(obj, crd.schema));
  if (unknown.length) return { object: obj, errors: strip(unknown.map((p) => fieldError.unknownField(p))) };
  pruneNulls(obj, crd.schema);
  // Create ignores status when it is a subresource (the stored object gets the status defaults,
  // applied when it is read back); a cluster-scoped object has no namespace.
  if (crd.statusSubresource) delete obj.status;
  if (!crd.namespaced) delete obj.metadata?.namespace;
  applyDefaults(obj, crd.schema);

  const errors = [
    ...validateObjectMeta(obj.metadata ?? {}, crd.namespaced),
    ...validateOpenAPI(crd.openapi, obj),
    ...validateListTypes(crd.schema, obj),
  ];
  const blocked = blocking(errors);
  errors.push(...(blocked ? [blocked] : crd.cel.validate(obj)));
  return { object: obj, errors: strip(errors) };
}

/** Loads the CRDs of a directory, compiling every schema and CEL rule; throws if any is unsupported. */
export function loadCrdValidator(dir = defaultCrdDir): CrdValidator {
  const versions = new Map<string, CompiledVersion>();
  for (const v of loadCrdVersions(dir)) {
    const where = `${v.kind} ${v.group}/${v.version}`;
    versions.set(`${v.group}/${v.version}/${v.kind}`, { ...v, openapi: compileSchema(v.schema), cel: compileCelValidator(v.schema, where) });
  }
  const kinds = [...new Set([...versions.values()].map((v) => v.kind))];
  return {
    kinds: () => [...kinds],
    validate(obj) {
      const crd = versions.get(`${obj.apiVersion}/${obj.kind}`);
      return crd && validateVersion(crd, obj);
    },
  };
}

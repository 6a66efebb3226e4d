// x-kubernetes-list-type set/map uniqueness (apiextensions listtype/validation.go): each
// repeated value or map key is reported once, at its second occurrence.
import { fieldError, type TypedFieldError } from './field-errors.ts';
import { goJson } from './gofmt.ts';
import { fieldSchema } from './prune.ts';
import type { Schema } from './schema.ts';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Indices of the second occurrence of each repeated element. */
function secondOccurrences(values: unknown[]): number[] {
  const seen = new Map<string, number>();
  const out: number[] = [];
  values.forEach((v, i) => {
    // Scalars compare by value and type, compounds by their JSON.
    const k = typeof v === 'object' && v !== null ? `j${goJson(v)}` : `${typeof v}:${String(v)}`;
    const times = seen.get(k) ?? 0;
    seen.set(k, times + 1);
    if (times === 1) out.push(i);
  });
  return out;
}

const unspecified = { unspecified: true };

function validateArray(path: string, s: Schema, list: unknown[], errs: TypedFieldError[]): void {
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'set') {
    for (const i of secondOccurrences(list)) errs.push(fieldError.duplicate(`${path}[${i}]`, list[i]));
  } else if (listType === 'map') {
    const notObject = list.findIndex((x) => x !== null && !isObject(x));
    if (notObject >= 0) {
      errs.push(fieldError.invalid(`${path}[${notObject}]`, list[notObject], 'must be an object for an array of list-type map'));
    } else if (list.length > 1) {
      const keyFields = s['x-kubernetes-list-map-keys'] ?? [];
      const single = keyFields.length === 1 ? keyFields[0] : undefined;
      const keys = list.map((x) => {
        const obj = (x ?? {}) as Record<string, unknown>;
        if (single !== undefined) return Object.hasOwn(obj, single) ? obj[single] : unspecified;
        return Object.fromEntries(keyFields.filter((k) => Object.hasOwn(obj, k)).map((k) => [k, obj[k]]));
      });
      for (const i of secondOccurrences(keys)) {
        const key = keys[i];
        errs.push(fieldError.duplicate(`${path}[${i}]`, key === unspecified ? {} : single !== undefined ? { [single]: key } : key));
      }
    }
  }
  if (s.items) list.forEach((x, i) => validateValue(`${path}[${i}]`, s.items!, x, errs));
}

function validateValue(path: string, s: Schema, x: unknown, errs: TypedFieldError[]): void {
  if (Array.isArray(x)) validateArray(path, s, x, errs);
  else if (isObject(x)) validateObject(path, s, x, errs);
}

function validateObject(path: string, s: Schema, obj: Record<string, unknown>, errs: TypedFieldError[]): void {
  for (const [k, v] of Object.entries(obj)) {
    const sub = fieldSchema(s, k);
    if (!sub) continue;
    const isProperty = !!s.properties && Object.hasOwn(s.properties, k);
    validateValue(isProperty ? (path ? `${path}.${k}` : k) : `${path}[${k}]`, sub, v, errs);
  }
}

export function validateListTypes(schema: Schema, obj: Record<string, unknown>): TypedFieldError[] {
  const errs: TypedFieldError[] = [];
  validateObject('', schema, obj, errs);
  return errs;
}

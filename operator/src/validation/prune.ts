// What the API server's decoder does to a custom resource before defaulting: with strict
// field validation, fields the structural schema does not declare are errors; nulls in
// non-nullable fields without a default are dropped (pruning/algorithm.go, prunenulls.go).
import type { Schema } from './schema.ts';

const metaFields = new Set(['apiVersion', 'kind', 'metadata']);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The schema of a map entry: a declared property, else additionalProperties. */
export function fieldSchema(s: Schema | undefined, k: string): Schema | undefined {
  if (!s) return undefined;
  if (s.properties && Object.hasOwn(s.properties, k)) return s.properties[k];
  return typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
}

/** Whether a map entry not in `properties` is declared (additionalProperties schema or true). */
const allowsAdditional = (s: Schema) => s.additionalProperties !== undefined && s.additionalProperties !== false;

/**
 * Removes undeclared fields in place and returns their paths, sorted like the API server's
 * ("spec.rules[0].foo"). The resource root's apiVersion, kind and metadata are left alone.
 */
export function pruneUnknownFields(root: Record<string, unknown>, schema: Schema): string[] {
  const unknown: string[] = [];
  const join = (path: string, k: string) => (path ? `${path}.${k}` : k);

  const prune = (x: unknown, s: Schema | undefined, path: string, isRoot: boolean): void => {
    if (s?.['x-kubernetes-preserve-unknown-fields']) return skipPrune(x, s, path);
    if (Array.isArray(x)) {
      x.forEach((v, i) => prune(v, s?.items, `${path}[${i}]`, false));
    } else if (isObject(x)) {
      for (const k of Object.keys(x)) {
        if (isRoot && metaFields.has(k)) continue;
        if (s && (s.properties && Object.hasOwn(s.properties, k) || allowsAdditional(s))) {
          prune(x[k], fieldSchema(s, k), join(path, k), false);
        } else {
          unknown.push(join(path, k));
          delete x[k];
        }
      }
    }
  };
  // Below x-kubernetes-preserve-unknown-fields only declared fields are pruned further.
  const skipPrune = (x: unknown, s: Schema, path: string): void => {
    if (Array.isArray(x)) {
      if (s.items) x.forEach((v, i) => skipPrune(v, s.items!, `${path}[${i}]`));
    } else if (isObject(x)) {
      for (const k of Object.keys(x)) {
        const sub = fieldSchema(s, k);
        if (sub) prune(x[k], sub, join(path, k), false);
      }
    }
  };

  prune(root, schema, '', true);
  return unknown.sort();
}

/** Drops null values of fields that are neither nullable nor defaulted. */
export function pruneNulls(x: unknown, s: Schema | undefined): void {
  if (Array.isArray(x)) {
    for (const v of x) pruneNulls(v, s?.items);
  } else if (isObject(x)) {
    for (const k of Object.keys(x)) {
      const sub = fieldSchema(s, k);
      if (x[k] === null && sub && !sub.nullable && sub.default === undefined) delete x[k];
      else pruneNulls(x[k], sub);
    }
  }
}

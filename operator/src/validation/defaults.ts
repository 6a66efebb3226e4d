// Structural-schema defaulting (apiextensions defaulting/algorithm.go): a default applies when
// the field is absent or a non-nullable null, and defaulting then continues inside the value,
// so defaults nested in a defaulted object, and in array items, apply too.
import { fieldSchema } from './prune.ts';
import type { Schema } from './schema.ts';

const isNonNullableNull = (x: unknown, s: Schema | undefined) => x === null && !!s && !s.nullable;

/** A fresh copy of a (JSON) default value; much cheaper than structuredClone for these small values. */
function copy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copy);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = copy((v as Record<string, unknown>)[k]);
  return out;
}

export function applyDefaults(x: unknown, s: Schema | undefined): void {
  if (!s) return;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      if (isNonNullableNull(x[i], s.items) && s.items?.default !== undefined) x[i] = copy(s.items.default);
      applyDefaults(x[i], s.items);
    }
  } else if (typeof x === 'object' && x !== null) {
    const obj = x as Record<string, unknown>;
    for (const [k, prop] of Object.entries(s.properties ?? {})) {
      if (prop.default === undefined) continue;
      if (!Object.hasOwn(obj, k) || isNonNullableNull(obj[k], prop)) obj[k] = copy(prop.default);
    }
    for (const k of Object.keys(obj)) {
      const sub = fieldSchema(s, k);
      if (sub && sub === s.additionalProperties && isNonNullableNull(obj[k], sub) && sub.default !== undefined) obj[k] = copy(sub.default);
      applyDefaults(obj[k], sub);
    }
  }
}

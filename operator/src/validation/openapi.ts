// OpenAPI v3 value validation as the API server does it for custom resources: a port of
// kube-openapi's validate.SchemaValidator (itself from go-openapi), including its messages
// ("spec.x in body should match '...'") and the match counting that decides which branch's
// errors anyOf/oneOf report, then mapped to field errors like apiextensions' validation.go.
import { fieldError, type TypedFieldError } from './field-errors.ts';
import { stringFormat } from './formats.ts';
import { goFloat, goJson, goNumber, goQuote } from './gofmt.ts';
import { re2 } from './regex.ts';
import type { Schema } from './schema.ts';

type Code = 'InvalidType' | 'Required' | 'TooLong' | 'TooShort' | 'Pattern' | 'Enum' | 'Max' | 'Min' | 'MaxItems' | 'MinItems' | 'TooManyProperties' | 'TooFewProperties' | 'UnallowedProperty';

/** An openapi error: with a code, an errors.Validation; without, a plain error (reported at no path). */
interface OpenAPIError {
  message: string;
  code?: Code;
  /** The validation's path ("spec.port"); for plain errors, the node it was found at. */
  name: string;
  value?: unknown;
  valid?: number;
  values?: unknown[];
}

class Result {
  errors: OpenAPIError[] = [];
  matchCount = 0;
  /** Result.AddErrors: an error with the same message is reported once. */
  add(e: OpenAPIError | undefined): this {
    if (e && !this.errors.some((x) => x.message === e.message)) this.errors.push(e);
    return this;
  }
  merge(other: Result | undefined): this {
    if (other) {
      other.errors.forEach((e) => this.add(e));
      this.matchCount += other.matchCount;
    }
    return this;
  }
  get valid(): boolean {
    return this.errors.length === 0;
  }
  static of(e: OpenAPIError): Result {
    return new Result().add(e);
  }
}

type Kind = 'string' | 'bool' | 'int' | 'float' | 'slice' | 'map';
function kindOf(v: unknown): Kind {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (Array.isArray(v)) return 'slice';
  return 'map';
}

const printV = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? goNumber(v) : goJson(v));
const invalidType = (name: string, typeName: string, value: unknown): OpenAPIError => ({
  code: 'InvalidType',
  name,
  value,
  message: typeof value === 'string' ? `${name} in body must be of type ${typeName}: ${goQuote(value)}` : `${name} in body must be of type ${typeName}`,
});

/** The format the validator sees after the API server strips formats it does not know. */
function effectiveFormat(s: Schema, types: string[]): string {
  if (!s.format) return '';
  const t = types.length === 1 ? types[0] : '';
  if (t === '' || t === 'string') return stringFormat(s.format) ? s.format : '';
  if (t === 'integer') return s.format === 'int32' || s.format === 'int64' ? s.format : '';
  if (t === 'number') return s.format === 'float' || s.format === 'double' ? s.format : '';
  return '';
}

const maxFloat32 = 3.4028234663852886e38;
const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** IsValueValidAgainstRange: can the value be parsed back as the declared type and format? */
function rangeError(val: number | bigint, typeName: string, format: string, prefix: string, path: string): OpenAPIError | undefined {
  let ok = true;
  if (typeName === 'integer') {
    const integral = typeof val === 'bigint' || Number.isInteger(val);
    const big = integral ? BigInt(val) : 0n;
    ok = integral && (format === 'int32' ? big >= -(2n ** 31n) && big < 2n ** 31n : big >= int64Min && big <= int64Max);
  } else if (format === 'float' || format === 'float32') {
    ok = Math.abs(Number(val)) <= maxFloat32;
  }
  if (ok) return undefined;
  const message = format ? `${prefix} value must be of type ${typeName} with format ${format} in ${path}` : `${prefix} value must be of type ${typeName} (default format) in ${path}`;
  return { message, name: path };
}

/** Minimum/Maximum: a representable bound is compared natively, integers against the bound truncated to int64. */
function boundError(data: number | bigint, path: string, limit: number | undefined, exclusive: boolean | undefined, isMax: boolean, typeName: string, format: string): Result | undefined {
  if (limit === undefined) return undefined;
  const bad = rangeError(limit, typeName, format, isMax ? 'Maximum boundary' : 'Minimum boundary', path);
  const native = !bad && (typeof data === 'bigint' || Number.isInteger(data));
  const l = native ? Math.trunc(limit) : limit;
  const v = Number(data);
  const fails = isMax ? (exclusive ? v >= l : v > l) : exclusive ? v <= l : v < l;
  if (!bad && !fails) return undefined;
  const relation = isMax ? (exclusive ? 'less than' : 'less than or equal to') : exclusive ? 'greater than' : 'greater than or equal to';
  const exceeded: OpenAPIError | undefined = fails ? { code: isMax ? 'Max' : 'Min', name: path, value: data, message: `${path} in body should be ${relation} ${native ? String(l) : goFloat(limit)}` } : undefined;
  return new Result().add(bad).add(exceeded);
}

export type Validator = (data: unknown, path: string) => Result;

/** Compiles a schema (once) into a validator; paths are built as kube-openapi builds them. */
export function compileSchema(s: Schema): Validator {
  const types = s['x-kubernetes-int-or-string'] ? ['integer', 'string'] : s.type ? [s.type] : [];
  const format = effectiveFormat(s, types);
  const checkFormat = stringFormat(format);
  const pattern = s.pattern === undefined ? undefined : re2(s.pattern);
  const numberType = types.length === 1 && (types[0] === 'integer' || types[0] === 'number') ? types[0] : '';
  const numberFormat = numberType ? format : '';
  const properties = Object.entries(s.properties ?? {}).map(([k, p]) => [k, compileSchema(p)] as const);
  const propertyNames = new Set(Object.keys(s.properties ?? {}));
  const additional = typeof s.additionalProperties === 'object' ? compileSchema(s.additionalProperties) : undefined;
  const items = s.items ? compileSchema(s.items) : undefined;
  const anyOf = s.anyOf?.map(compileSchema);
  const oneOf = s.oneOf?.map(compileSchema);
  const allOf = s.allOf?.map(compileSchema);
  const not = s.not ? compileSchema(s.not) : undefined;
  const hasType = types.length > 0 || format !== '';

  function typeValidator(data: unknown, path: string): Result {
    const ok = new Result();
    ok.matchCount++;
    if (data === null || data === undefined) {
      return types.length > 0 && !s.nullable ? Result.of(invalidType(path, types.join(','), 'null')) : ok;
    }
    const kind = kindOf(data);
    const [schType, dataFormat] = ({ string: ['string', ''], bool: ['boolean', ''], int: ['integer', 'int64'], float: ['number', 'float64'], slice: ['array', ''], map: ['object', ''] } as const)[kind];
    const isIntFloat = schType === 'integer' && types.includes('number');
    if (kind !== 'string' && kind !== 'slice' && format !== '' && !(types.includes(schType) || dataFormat === format || isIntFloat)) {
      return Result.of(invalidType(path, format, dataFormat));
    }
    if (!(types.includes('number') || types.includes('integer')) && format !== '' && (kind === 'string' || kind === 'slice')) return ok;
    if (!(types.includes(schType) || isIntFloat)) return Result.of(invalidType(path, types.join(','), schType));
    return ok;
  }

  function schemaPropsValidator(data: unknown, path: string): Result {
    const main = new Result();
    if (anyOf) {
      let best: Result | undefined;
      let firstSuccess: Result | undefined;
      for (const v of anyOf) {
        const r = v(data, path);
        if (r.valid) {
          best = undefined;
          firstSuccess = r;
          break;
        }
        if (!best || r.matchCount > best.matchCount) best = r;
      }
      if (!firstSuccess) main.add({ name: path, message: `${goQuote(path)} must validate at least one schema (anyOf)` });
      main.merge(best ?? firstSuccess);
    }
    if (oneOf) {
      let best: Result | undefined;
      let firstSuccess: Result | undefined;
      let validated = 0;
      for (const v of oneOf) {
        const r = v(data, path);
        if (r.valid) {
          validated++;
          best = undefined;
          firstSuccess ??= r;
          continue;
        }
        if (validated === 0 && (!best || r.matchCount > best.matchCount)) best = r;
      }
      if (validated !== 1) {
        const detail = validated === 0 ? 'Found none valid' : `Found ${validated} valid alternatives`;
        main.add({ name: path, message: `${goQuote(path)} must validate one and only one schema (oneOf). ${detail}` });
        main.merge(best);
      } else main.merge(firstSuccess);
    }
    if (allOf) {
      let validated = 0;
      for (const v of allOf) {
        const r = v(data, path);
        if (r.valid) validated++;
        main.merge(r);
      }
      if (validated !== allOf.length) main.add({ name: path, message: `${goQuote(path)} must validate all the schemas (allOf)${validated === 0 ? '. None validated' : ''}` });
    }
    if (not && not(data, path).valid) main.add({ name: path, message: `${goQuote(path)} must not validate the schema (not)` });
    main.matchCount++;
    return main;
  }

  function stringValidator(data: string, path: string): Result | undefined {
    const length = [...data].length; // Unicode code points, like utf8.RuneCount
    if (s.maxLength !== undefined && length > s.maxLength) return Result.of({ code: 'TooLong', name: path, value: data, valid: s.maxLength, message: `${path} in body should be at most ${s.maxLength} chars long` });
    if (s.minLength !== undefined && length < s.minLength) return Result.of({ code: 'TooShort', name: path, value: data, valid: s.minLength, message: `${path} in body should be at least ${s.minLength} chars long` });
    if (pattern && !pattern.test(data)) return Result.of({ code: 'Pattern', name: path, value: data, message: `${path} in body should match '${s.pattern}'` });
    return undefined;
  }

  function numberValidator(data: number | bigint, path: string): Result {
    const res = new Result().add(rangeError(data, numberType, numberFormat, 'Checked', path));
    res.merge(boundError(data, path, s.minimum, s.exclusiveMinimum, false, numberType, numberFormat));
    res.merge(boundError(data, path, s.maximum, s.exclusiveMaximum, true, numberType, numberFormat));
    res.matchCount++;
    return res;
  }

  function sliceValidator(data: unknown[], path: string): Result {
    const res = new Result();
    if (items) data.forEach((v, i) => res.merge(items(v, `${path}[${i}]`)));
    if (s.minItems !== undefined && data.length < s.minItems) res.add({ code: 'MinItems', name: path, value: data.length, valid: s.minItems, message: `${path} in body should have at least ${s.minItems} items` });
    if (s.maxItems !== undefined && data.length > s.maxItems) res.add({ code: 'MaxItems', name: path, value: data.length, valid: s.maxItems, message: `${path} in body should have at most ${s.maxItems} items` });
    res.matchCount++;
    return res;
  }

  function enumValidator(data: unknown, path: string): Result | undefined {
    if (!s.enum?.length) return undefined;
    if (data !== null && data !== undefined && s.enum.some((e) => enumEquals(data, e))) return undefined;
    return Result.of({ code: 'Enum', name: path, value: data ?? null, values: s.enum, message: `${path} in body should be one of [${s.enum.map(printV).join(' ')}]` });
  }

  function objectValidator(data: Record<string, unknown>, path: string): Result {
    const res = new Result();
    const n = Object.keys(data).length;
    if (s.minProperties !== undefined && n < s.minProperties) res.add({ code: 'TooFewProperties', name: path, value: n, valid: s.minProperties, message: `${path} in body should have at least ${s.minProperties} properties` });
    if (s.maxProperties !== undefined && n > s.maxProperties) res.add({ code: 'TooManyProperties', name: path, value: n, valid: s.maxProperties, message: `${path} in body should have at most ${s.maxProperties} properties` });
    for (const k of Object.keys(data)) {
      if (propertyNames.has(k)) continue;
      if (s.additionalProperties === false) res.add({ code: 'UnallowedProperty', name: path, value: k, message: `${path}.${k} in body is a forbidden property` });
      else if (additional) res.merge(additional(data[k], `${path}.${k}`));
    }
    for (const [k, v] of properties) if (Object.hasOwn(data, k)) res.merge(v(data[k], path ? `${path}.${k}` : k));
    for (const k of s.required ?? []) if (!Object.hasOwn(data, k)) res.add({ code: 'Required', name: `${path}.${k}`, message: `${path}.${k} in body is required` });
    return res;
  }

  // SchemaValidator.Validate: each applicable validator's result is merged and counted.
  return (data, path) => {
    const result = new Result();
    if (data === null || data === undefined) return result.merge(typeValidator(data, path)).merge(enumValidator(data, path));
    const kind = kindOf(data);
    if (hasType) counted(result, typeValidator(data, path));
    counted(result, schemaPropsValidator(data, path));
    if (kind === 'string') counted(result, stringValidator(data as string, path));
    if (kind === 'string' && checkFormat) counted(result, checkFormat(data as string) ? undefined : Result.of(invalidType(path, format, data)));
    if (kind === 'int' || kind === 'float') counted(result, numberValidator(data as number, path));
    if (kind === 'slice') counted(result, sliceValidator(data as unknown[], path));
    counted(result, enumValidator(data, path));
    if (kind === 'map') counted(result, objectValidator(data as Record<string, unknown>, path));
    result.matchCount++;
    return result;
  };
}

function counted(result: Result, r: Result | undefined): void {
  result.merge(r);
  result.matchCount++;
}

function enumEquals(data: unknown, e: unknown): boolean {
  if (typeof data === 'number' || typeof data === 'bigint') return (typeof e === 'number' || typeof e === 'bigint') && Number(data) === Number(e);
  if (typeof data !== 'object' || typeof e !== 'object') return data === e;
  return goJson(data) === goJson(e);
}

/** kubeOpenAPIResultToFieldErrors: openapi errors as the API server reports them. */
export function validateOpenAPI(validator: Validator, data: unknown): TypedFieldError[] {
  return validator(data, '').errors.map((e) => {
    const field = e.name.replace(/^\./, '');
    switch (e.code) {
      case undefined:
        // Plain errors carry no path (the API server prints "<nil>"); their message names the node.
        return fieldError.invalid('', '', e.message);
      case 'Required':
        return fieldError.required(field);
      case 'Enum':
        return fieldError.notSupported(field, e.value, e.values!.map((v) => (typeof v === 'string' ? v : goJson(v))));
      case 'TooLong':
        return fieldError.tooLong(field, e.valid!);
      case 'MaxItems':
      case 'TooManyProperties':
        return fieldError.tooMany(field, e.value as number, e.valid!);
      case 'InvalidType':
        return fieldError.typeInvalid(field, e.value ?? '', e.message);
      default:
        return fieldError.invalid(field, e.value ?? '', e.message);
    }
  });
}

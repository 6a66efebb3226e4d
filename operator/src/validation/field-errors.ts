// Field errors shaped like k8s.io/apimachinery's field.Error: `message` is exactly what the
// API server prints after "<field>: ", so "<field>: <message>" is the API server's line.
import { goQuote, goValue } from './gofmt.ts';

export interface FieldError {
  /** The field path, e.g. "spec.rules[0].matches[0].path.value"; "" for the object as a whole. */
  field: string;
  message: string;
}

/** field.ErrorType: decides which errors stop CEL rules from running (see blocking()). */
export type ErrorType = 'Required' | 'Invalid' | 'TypeInvalid' | 'NotSupported' | 'TooLong' | 'TooMany' | 'Duplicate' | 'Forbidden' | 'UnknownField' | 'Decode';

export interface TypedFieldError extends FieldError {
  type: ErrorType;
}

/** Marks a value the API server leaves out of the message (field.OmitValueType). */
export const omitValue = Symbol('omitValue');

const withDetail = (head: string, detail: string) => (detail ? `${head}: ${detail}` : head);
const make = (type: ErrorType, field: string, message: string): TypedFieldError => ({ type, field, message });

export const fieldError = {
  required: (field: string, detail = '') => make('Required', field, withDetail('Required value', detail)),
  invalid: (field: string, value: unknown, detail: string) =>
    make('Invalid', field, withDetail(value === omitValue ? 'Invalid value' : `Invalid value: ${goValue(value)}`, detail)),
  typeInvalid: (field: string, value: unknown, detail: string) => make('TypeInvalid', field, withDetail(`Invalid value: ${goValue(value)}`, detail)),
  notSupported: (field: string, value: unknown, valid: string[]) =>
    make('NotSupported', field, withDetail(`Unsupported value: ${goValue(value)}`, valid.length ? `supported values: ${valid.map(goQuote).join(', ')}` : '')),
  tooLong: (field: string, max: number) => make('TooLong', field, `Too long: may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}`),
  tooMany: (field: string, actual: number, max: number) => make('TooMany', field, `Too many: ${actual}: must have at most ${max} ${max === 1 ? 'item' : 'items'}`),
  duplicate: (field: string, value: unknown) => make('Duplicate', field, `Duplicate value: ${goValue(value)}`),
  forbidden: (field: string, detail: string) => make('Forbidden', field, withDetail('Forbidden', detail)),
  /** Strict decoding (kubectl's default --validate=strict) rejects the request before validation. */
  unknownField: (field: string) => make('UnknownField', field, `unknown field "${field}"`),
  decode: (field: string, detail: string) => make('Decode', field, detail),
};

/** hasBlockingErr in the CRD strategy: these errors mean the CEL rules are not evaluated. */
export function blocking(errors: TypedFieldError[]): TypedFieldError | undefined {
  if (!errors.some((e) => e.type === 'NotSupported' || e.type === 'Required' || e.type === 'TooLong' || e.type === 'TooMany' || e.type === 'TypeInvalid')) return undefined;
  return fieldError.invalid('', null, 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation');
}

/** field.Path.Child / Index / Key as strings. */
export const child = (path: string, name: string) => (path ? `${path}.${name}` : name);
export const index = (path: string, i: number) => `${path}[${i}]`;
export const key = (path: string, k: string) => `${path}[${k}]`;

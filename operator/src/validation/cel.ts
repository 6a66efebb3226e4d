// x-kubernetes-validations: every rule compiled once at load, then evaluated with `self`
// bound to the value at its node, walking the object like apiextensions' cel/validation.go.
import { CelCompileError, CelRuntimeError, compileCel, type CelProgram } from './cel-env.ts';
import { child, fieldError, index, key, omitValue, type TypedFieldError } from './field-errors.ts';
import { walkSchema, type Schema, type ValidationRule } from './schema.ts';

interface CompiledRule {
  rule: ValidationRule;
  program: CelProgram;
  message?: CelProgram;
  /** fieldPath, normalized ("spec.foo[bar]" style), appended to the node's path. */
  fieldPath?: string;
}

interface CelNode {
  schema: Schema;
  rules: CompiledRule[];
  properties?: Map<string, CelNode>;
  items?: CelNode;
  additionalProperties?: CelNode;
}

/** cel.Escape: property names CEL can address; reserved words become __word__. */
const reserved = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);
function escape(name: string): string | undefined {
  if (!name || /^[0-9]/.test(name)) return undefined;
  if (reserved.has(name)) return `__${name}__`;
  if (!/^[A-Za-z0-9_./-]+$/.test(name)) return undefined;
  return name.replace(/__|[./-]/g, (m) => ({ __: '__underscores__', '.': '__dot__', '-': '__dash__', '/': '__slash__' })[m]!);
}
const escaped = new Map<string, string | undefined>();
const celEscape = (name: string) => (escaped.has(name) ? escaped.get(name) : escaped.set(name, escape(name)).get(name));

/** ".a['b'].c" → "a[b].c": a rule's fieldPath (relative to its node) as field.Path prints it. */
function normalizeFieldPath(p: string): string {
  return p
    .replace(/\[\s*'((?:[^'\\]|\\.)*)'\s*\]/g, (_, k: string) => `[${k.replace(/\\(.)/g, '$1')}]`)
    .replace(/^\./, '')
    .replace(/\.\[/g, '[');
}

function compileRules(s: Schema, where: string): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const rule of s['x-kubernetes-validations'] ?? []) {
    try {
      const { program, usesOldSelf } = compileCel(rule.rule);
      // Create evaluates these with oldSelf = optional.none(), which is not implemented here.
      if (usesOldSelf && rule.optionalOldSelf) throw new CelCompileError(`optionalOldSelf rules are not supported: ${rule.rule}`);
      // Transition rules compare with the stored object; a create has none, so the API server skips them.
      if (usesOldSelf) continue;
      const message = rule.messageExpression ? compileCel(rule.messageExpression).program : undefined;
      out.push({ rule, program, message, fieldPath: rule.fieldPath ? normalizeFieldPath(rule.fieldPath) : undefined });
    } catch (err) {
      if (err instanceof CelCompileError) throw new CelCompileError(`${where}: ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** The validator tree: only the branches that lead to rules. */
function compileNode(s: Schema, where: string): CelNode | undefined {
  const node: CelNode = { schema: s, rules: compileRules(s, where) };
  for (const [k, p] of Object.entries(s.properties ?? {})) {
    const sub = compileNode(p, `${where}.${k}`);
    if (sub) (node.properties ??= new Map()).set(k, sub);
  }
  if (s.items) node.items = compileNode(s.items, `${where}[*]`);
  if (typeof s.additionalProperties === 'object') node.additionalProperties = compileNode(s.additionalProperties, `${where}[*]`);
  return node.rules.length || node.properties || node.items || node.additionalProperties ? node : undefined;
}

export interface CelValidator {
  validate(obj: Record<string, unknown>): TypedFieldError[];
}

export function compileCelValidator(schema: Schema, where: string): CelValidator {
  walkSchema(schema, '', (s, path) => {
    if (path.includes('/') && s['x-kubernetes-validations']) throw new CelCompileError(`${where}: x-kubernetes-validations inside allOf/anyOf/oneOf/not (${path}) are not supported`);
  });
  const root = compileNode(schema, where);
  return {
    validate(obj) {
      const errs: TypedFieldError[] = [];
      if (root) validateNode(root, '', obj, new CelConverter(), errs);
      return errs;
    },
  };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function validateNode(node: CelNode, path: string, value: unknown, conv: CelConverter, errs: TypedFieldError[]): void {
  if (value === null || value === undefined) return;
  if (node.rules.length) evaluateRules(node, path, value, conv, errs);
  if (Array.isArray(value)) {
    if (node.items) value.forEach((v, i) => validateNode(node.items!, index(path, i), v, conv, errs));
  } else if (isObject(value)) {
    if (node.additionalProperties) for (const [k, v] of Object.entries(value)) validateNode(node.additionalProperties, key(path, k), v, conv, errs);
    if (node.properties) for (const [k, v] of Object.entries(value)) {
      const sub = node.properties.get(k);
      if (sub) validateNode(sub, child(path, k), v, conv, errs);
    }
  }
}

function evaluateRules(node: CelNode, path: string, value: unknown, conv: CelConverter, errs: TypedFieldError[]): void {
  const self = conv.toCel(value, node.schema);
  const type = node.schema.type ?? '';
  for (const { rule, program, message, fieldPath } of node.rules) {
    // ruleErrorString and ruleMessageOrDefault in the API server.
    const ruleText = rule.message?.trim() || rule.rule.trim();
    const ruleMessage = rule.message?.trim() || `failed rule: ${ruleText}`;
    let result: unknown;
    try {
      result = program(self);
    } catch (err) {
      if (!(err instanceof CelRuntimeError)) throw err;
      const detail = err.noSuchOverload
        ? `'${err.message}': call arguments did not match a supported operator, function or macro signature for rule: ${ruleText}`
        : `${err.message} evaluating rule: ${ruleText}`;
      errs.push(fieldError.invalid(path, type, detail));
      continue;
    }
    if (result === true) continue;
    const at = fieldPath ? child(path, fieldPath) : path;
    const detail = (message && messageOf(message, self)) || ruleMessage;
    const shown = type === 'object' || type === 'array' ? omitValue : value;
    errs.push(errorForReason(rule.reason, at, shown, detail));
  }
}

/** A messageExpression's result, or undefined when the API server would fall back to `message`. */
function messageOf(program: CelProgram, self: unknown): string | undefined {
  try {
    const m = program(self);
    if (typeof m !== 'string') return undefined;
    const t = m.trim();
    return t && !/[\r\n]/.test(t) && t.length <= 5 * 1024 ? t : undefined;
  } catch {
    return undefined;
  }
}

function errorForReason(reason: ValidationRule['reason'], path: string, value: unknown, detail: string): TypedFieldError {
  switch (reason) {
    case 'FieldValueForbidden':
      return fieldError.forbidden(path, detail);
    case 'FieldValueRequired':
      return fieldError.required(path, detail);
    case 'FieldValueDuplicate':
      return fieldError.duplicate(path, value);
    default:
      return fieldError.invalid(path, value, detail);
  }
}

/** A JSON value as a CEL rule at a node of this schema sees it as `self`. */
export function celValue(value: unknown, schema: Schema): unknown {
  return new CelConverter().toCel(value, schema);
}

/**
 * JSON values as the API server hands them to CEL (UnstructuredToVal): integers as int,
 * objects with properties by their escaped names (null fields absent), maps as maps.
 * Cached per object, since nested rules see the same values again.
 */
class CelConverter {
  private cache = new WeakMap<object, unknown>();

  toCel(v: unknown, s: Schema | undefined): unknown {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'object') return this.scalar(v, s);
    const hit = this.cache.get(v);
    if (hit !== undefined) return hit;
    const out = Array.isArray(v) ? v.map((x) => this.toCel(x, s?.items)) : this.object(v as Record<string, unknown>, s);
    this.cache.set(v, out);
    return out;
  }

  private scalar(v: unknown, s: Schema | undefined): unknown {
    if (typeof v === 'number') {
      if (s?.type === 'number') return v;
      return Number.isInteger(v) ? BigInt(v) : v;
    }
    if (typeof v === 'string' && s?.type === 'string' && (s.format === 'date-time' || s.format === 'datetime')) return new Date(v);
    return v;
  }

  private object(v: Record<string, unknown>, s: Schema | undefined): unknown {
    if (s?.properties) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const name = celEscape(k);
        const prop = s.properties[k];
        if (name && prop && x !== null) out[name] = this.toCel(x, prop);
      }
      return out;
    }
    const values = typeof s?.additionalProperties === 'object' ? s.additionalProperties : undefined;
    return new Map(values ? Object.entries(v).map(([k, x]) => [k, this.toCel(x, values)]) : []);
  }
}

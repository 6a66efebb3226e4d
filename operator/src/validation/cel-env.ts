// The CEL environment of CRD validation rules: @marcbachmann/cel-js plus the Kubernetes
// library functions the rules use, and AST rewrites that make the library evaluate like
// cel-go: RE2 semantics for matches(), has() on any selection, and cel-go's choice of error
// in `a || b` / `a && b`. Anything else it cannot evaluate fails to compile at load.
import { Environment, EvaluationError, Optional, serialize, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';
import { is4In6, parseAddr } from './ip.ts';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isLabelValue, isQualifiedName } from './names.ts';
import { re2 } from './regex.ts';

/** The receiver of `format.<name>()` (Kubernetes' format library). */
class FormatLibrary {}
/** A named format; validate() returns optional.none() when the string conforms. */
class Format {
  readonly check: (s: string) => string[];
  constructor(check: (s: string) => string[]) {
    this.check = check;
  }
}

const formats: Record<string, (s: string) => string[]> = {
  dns1123Label: isDNS1123Label,
  dns1123Subdomain: isDNS1123Subdomain,
  dns1035Label: isDNS1035Label,
  qualifiedName: isQualifiedName,
  labelValue: isLabelValue,
};

function createEnvironment(): Environment {
  const env = new Environment({ enableOptionalTypes: true })
    .registerVariable('self', 'dyn')
    .registerVariable('oldSelf', 'dyn')
    .registerType('kubernetes.FormatLibrary', FormatLibrary)
    .registerType('kubernetes.NamedFormat', Format)
    .registerConstant('format', 'kubernetes.FormatLibrary', new FormatLibrary())
    .registerFunction('kubernetes.NamedFormat.validate(string): optional<list<string>>', (f: Format, s: string) => {
      const errs = f.check(s);
      return errs.length ? Optional.of(errs) : Optional.none();
    })
    // cel-go: an optional never equals a non-optional, so `validate(x) == null` is always false (!= derives from it).
    .registerOperator('optional<list<string>> == null', () => false)
    // isIP: netip.ParseAddr without zones or IPv4-mapped IPv6 (library/ip.go).
    .registerFunction('isIP(string): bool', (s: string) => {
      const ip = parseAddr(s);
      return !!ip && !ip.zone && !is4In6(ip);
    })
    .registerFunction('_hasField(dyn, string): bool', hasField)
    .registerFunction('string.re2Matches(string): bool', (s: string, p: string) => re2(p).test(s))
    .registerFunction('re2Matches(string, string): bool', (s: string, p: string) => re2(p).test(s));
  for (const [name, check] of Object.entries(formats)) {
    env.registerFunction(`kubernetes.FormatLibrary.${name}(): kubernetes.NamedFormat`, () => new Format(check));
  }
  return env;
}

/** has(e.f) for any e: cel-js only takes identifier-rooted selections such as has(self.a.b). */
function hasField(x: unknown, field: string): boolean {
  if (x instanceof Map) return x.has(field);
  if (typeof x === 'object' && x !== null && !Array.isArray(x)) return Object.hasOwn(x, field);
  throw new EvaluationError(`no such overload: has() on ${Array.isArray(x) ? 'list' : typeof x}`);
}

const env = createEnvironment();

type MutableNode = { op: string; args: unknown };
const isNode = (x: unknown): x is MutableNode => typeof x === 'object' && x !== null && 'op' in x && 'args' in x;

/** Visits every AST node (parents first); operands sit in args as nodes, arrays or tuples. */
function walk(x: unknown, visit: (n: MutableNode) => void): void {
  if (Array.isArray(x)) x.forEach((y) => walk(y, visit));
  else if (isNode(x)) {
    visit(x);
    walk(x.args, visit);
  }
}

/**
 * matches() becomes re2Matches(), so patterns get RE2 semantics (e.g. a leading (?i)), and
 * has(x[0].f) becomes _hasField(x[0], "f"), which cel-js's has() does not accept.
 * firstError: cel-go reports the first error of `a || b` (and `&&`) when neither side decides
 * the result, where cel-js reports the second; swapping the operands gives cel-go's choice.
 */
function rewrite(ast: ASTNode, firstError: boolean): void {
  walk(ast, (n) => {
    const args = n.args as unknown[];
    if (firstError && (n.op === '||' || n.op === '&&')) args.reverse();
    if (n.op === 'call' && args[0] === 'has') {
      const [selection] = args[1] as MutableNode[];
      let root = selection;
      while (root?.op === '.') root = (root.args as [MutableNode, string])[0];
      if (selection?.op === '.' && root?.op !== 'id') {
        const [operand, field] = selection.args as [MutableNode, string];
        args.splice(0, 2, '_hasField', [operand, { op: 'value', args: field }]);
      }
    }
    if ((n.op === 'rcall' || n.op === 'call') && args[0] === 'matches') {
      args[0] = 're2Matches';
      const pattern = (n.op === 'rcall' ? (args[2] as unknown[])[0] : (args[1] as unknown[])[1]) as MutableNode | undefined;
      if (pattern?.op === 'value' && typeof pattern.args === 'string') re2(pattern.args); // syntax Go rejects fails at load
    }
  });
}

export class CelCompileError extends Error {}

export interface CelProgram {
  /** Evaluates with `self` bound; throws CelRuntimeError with cel-go's wording. */
  (self: unknown): unknown;
}

/** Parses, rewrites and type-checks an expression; throws CelCompileError. */
function prepare(expression: string, firstError: boolean): { compiled: ParseResult; usesOldSelf: boolean } {
  let rewritten: string;
  let usesOldSelf = false;
  try {
    const parsed = env.parse(expression);
    walk(parsed.ast, (n) => {
      if (n.op === 'id' && n.args === 'oldSelf') usesOldSelf = true;
    });
    rewrite(parsed.ast, firstError);
    rewritten = serialize(parsed.ast);
  } catch (err) {
    throw new CelCompileError(`CEL expression does not compile: ${(err as Error).message}\n  ${expression}`);
  }
  const compiled = env.parse(rewritten);
  const checked = compiled.check();
  if (!checked.valid) throw new CelCompileError(`CEL expression does not type-check: ${checked.error?.message}\n  ${expression}`);
  return { compiled, usesOldSelf };
}

const compiledCache = new Map<string, { program: CelProgram; usesOldSelf: boolean }>();

/** Compiles once (the CRDs repeat many rules); throws CelCompileError if the expression does not parse or type-check here. */
export function compileCel(expression: string): { program: CelProgram; usesOldSelf: boolean } {
  const hit = compiledCache.get(expression);
  if (hit) return hit;
  const { compiled: fast, usesOldSelf } = prepare(expression, false);
  // Evaluating guarded operands first would throw (slowly) on the common path, so the
  // swapped program only runs to pick the error once the expression is known to fail.
  const { compiled: exact } = prepare(expression, true);
  const program: CelProgram = (self) => {
    try {
      return fast({ self });
    } catch {
      try {
        return exact({ self });
      } catch (err) {
        throw new CelRuntimeError(err);
      }
    }
  };
  const result = { program, usesOldSelf };
  compiledCache.set(expression, result);
  return result;
}

/** A CEL runtime error, with the message cel-go (and so the API server) gives. */
export class CelRuntimeError extends Error {
  readonly noSuchOverload: boolean;
  constructor(cause: unknown) {
    super(celGoMessage(cause), { cause });
    this.noSuchOverload = cause instanceof EvaluationError && cause.code === 'no_such_overload';
  }
}

function celGoMessage(err: unknown): string {
  if (!(err instanceof EvaluationError)) return String((err as Error)?.message ?? err);
  const summary = err.message.split('\n')[0] ?? '';
  switch (err.code) {
    case 'no_such_key':
      return summary.replace(/^No such key: /, 'no such key: ');
    case 'index_out_of_bounds':
      return `index out of bounds: ${/index (-?\d+)/.exec(summary)?.[1] ?? '?'}`;
    case 'invalid_duration':
      return "type conversion error from 'string' to 'google.protobuf.Duration'";
    default:
      return summary;
  }
}

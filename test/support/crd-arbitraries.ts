// fast-check arbitraries built from the pinned CRDs' OpenAPI schemas: schema-valid values
// (pattern, enum, bounds, boundary lengths) and hostile ones (nginx syntax, "$" variables,
// control characters, unicode, runs long enough to overflow a token) spliced into valid
// shapes or generated from the pattern itself.
import fc from 'fast-check';
import { defaultCrdDir } from '../../operator/src/validation/crd.ts';
import { loadCrdVersions, walkSchema, type Schema } from '../../operator/src/validation/schema.ts';

let schemas: Map<string, Schema> | undefined;

/** The schema of one field, e.g. crdSchema('HTTPRoute', '.spec.hostnames[*]') (version v1). */
export function crdSchema(kind: string, path: string, version = 'v1'): Schema {
  if (!schemas) {
    schemas = new Map();
    for (const v of loadCrdVersions(defaultCrdDir)) walkSchema(v.schema, '', (s, p) => schemas!.set(`${v.kind}/${v.version}${p}`, s));
  }
  const s = schemas.get(`${kind}/${version}${path}`);
  if (!s) throw new Error(`no schema for ${kind} ${version} ${path} in ${defaultCrdDir}`);
  return s;
}

/** Fragments that try to end a token, a directive or a block, expand a variable, or break PCRE. */
export const hostileFragments: readonly string[] = [
  '"', "'", '\\', '\\"', ';', '{', '}', '#', '$', '$host', '${host}', '${x}', '$1', '$wg_dollar', '${wg_dollar}',
  '\n', '\r', '\r\n', '\t', ' ', '\u0000', '\u007f', '\u0085', '\u2028', '\u202e', 'é', 'ß', '😀', '\ufeff',
  '"; return 200 "pwned', '}; server { listen 80; } #', '\nload_module /tmp/x.so;\n', '" always; add_header X-Pwned 1 "',
  '%0a', '%00', '%22', '/../', '/./', '//', '?', '*', '..', '`id`', '\\n', '\\"; return 200 "x',
];

/** Extra fragments for regular expressions: PCRE syntax JavaScript reads differently or not at all. */
export const regexFragments: readonly string[] = [
  '(?<host>x)', '(?<uri>x)', '(?<wg_dollar>x)', '(?P<n>x)', '(?C1)', '(*LIMIT_MATCH=1)', '(?#c)', '\\u0041', '\\u{41}', '\\p{L}',
  '\\p{Script=Greek}', '(?<=a+)', '(?<!b*)', '\\k<n>', '\\1', '(?i)', '[[:alpha:]]', '\\Q$\\E', '\\cA', '\\0', '[\\b]', '\\/', '{2,1}',
  '(a+)+$', '[', ')', '(?=', '(?#', 'x{99999}',
];

/** Single characters that mean something to nginx's parser or scripts: spliced most often. */
const syntaxChars = ['"', "'", '\\', ';', '{', '}', '#', '$', ' ', '\n'];

const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

/** Characters a pattern accepts in runs (all printable ASCII without a pattern). */
function runChars(re: RegExp | undefined): string[] {
  if (!re) return printable;
  const ok = printable.filter((c) => re.test(c.repeat(3)));
  return ok.length ? ok : ['a'];
}

/** The lengths worth trying for a string field: 1, max-1, max, and 1,024..4,096 where allowed. */
export function boundaryLengths(s: Schema): number[] {
  const max = s.maxLength ?? 4096;
  const min = Math.max(1, s.minLength ?? 1);
  const out = new Set([min, max - 1, max, ...[1024, 1025, 2048, 3999, 4000, 4001, 4095, 4096].filter((l) => l <= max)]);
  return [...out].filter((l) => l >= min && l <= max).sort((a, b) => a - b);
}

export interface StringFieldOptions {
  /** Valid shapes when the schema has no pattern (CEL rules decide instead). */
  valid?: fc.Arbitrary<string>;
  /** A valid value of exactly this length, when random pattern characters do not make one. */
  pad?: (length: number) => string;
  /** More hostile fragments for this field (e.g. regexFragments). */
  fragments?: readonly string[];
}

/** Schema-valid values of a string field, incl. boundary lengths. */
export function validString(s: Schema, opts: StringFieldOptions = {}): fc.Arbitrary<string> {
  if (s.enum) return fc.constantFrom(...(s.enum as string[]));
  const re = s.pattern ? new RegExp(s.pattern) : undefined;
  const max = s.maxLength ?? 4096;
  const min = s.minLength ?? 0;
  const inRange = (v: string) => v.length >= min && v.length <= max;
  const shaped = opts.valid ?? (re ? fc.stringMatching(re) : fc.string({ unit: fc.constantFrom(...printable), maxLength: 64 }));
  const chars = runChars(re);
  const pad = opts.pad ?? ((l: number) => 'a'.repeat(l));
  const boundary = fc.constantFrom(...boundaryLengths(s)).chain((l) =>
    fc.string({ unit: fc.constantFrom(...chars), minLength: l, maxLength: l }).map((v) => (re && !re.test(v) ? pad(l) : v)));
  return fc.oneof({ arbitrary: shaped.filter(inRange), weight: 3 }, { arbitrary: boundary, weight: 1 });
}

/** Hostile values of a string field: fragments spliced into valid shapes, raw fragments, long runs. */
export function hostileString(s: Schema, opts: StringFieldOptions = {}): fc.Arbitrary<string> {
  const base = validString(s, opts);
  const fragment = fc.oneof(
    { arbitrary: fc.constantFrom(...syntaxChars), weight: 4 },
    { arbitrary: fc.constantFrom(...hostileFragments, ...(opts.fragments ?? [])), weight: 4 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), weight: 1 },
  );
  const spliced = fc.tuple(base, fc.nat(), fc.array(fragment, { minLength: 1, maxLength: 3 })).map(([b, at, fs]) => {
    const k = at % (b.length + 1);
    return b.slice(0, k) + fs.join('') + b.slice(k);
  });
  const run = fc.tuple(fc.constantFrom('$', '\\', '"', '${x}', ';', 'a', 'é', '😀', '\u0000'), fc.integer({ min: 300, max: 5000 }), base)
    .map(([c, n, b]) => (b.slice(0, 1) + c.repeat(Math.ceil(n / c.length))).slice(0, Math.max(n, 2)));
  // One syntax character in an otherwise valid value: the likeliest to slip past a loose allow-list.
  const one = fc.tuple(base, fc.nat(), fc.constantFrom(...syntaxChars)).map(([b, at, f]) => {
    const k = at % (b.length + 1);
    return b.slice(0, k) + f + b.slice(k);
  });
  return fc.oneof({ arbitrary: one, weight: 4 }, { arbitrary: spliced, weight: 3 }, { arbitrary: fragment, weight: 1 }, { arbitrary: run, weight: 1 });
}

/** Valid and hostile values mixed: what a tenant could write into the field. */
export function stringField(s: Schema, opts: StringFieldOptions = {}): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: validString(s, opts), weight: 1 }, { arbitrary: hostileString(s, opts), weight: 1 });
}

/** Integers in the schema's range and its edges, plus what JSON could carry instead. */
export function integerField(s: Schema, hostileStrings = true): fc.Arbitrary<unknown> {
  if (s.enum) {
    const e = s.enum as number[];
    return fc.oneof({ arbitrary: fc.constantFrom(...e), weight: 3 }, { arbitrary: hostileInteger(hostileStrings), weight: 1 });
  }
  const lo = s.minimum ?? -(2 ** 31);
  const hi = s.maximum ?? 2 ** 31 - 1;
  const edges = [lo, lo + 1, hi - 1, hi].filter((v) => v >= lo && v <= hi);
  return fc.oneof(
    { arbitrary: fc.integer({ min: lo, max: hi }), weight: 3 },
    { arbitrary: fc.constantFrom(...edges), weight: 1 },
    { arbitrary: hostileInteger(hostileStrings), weight: 2 },
  );
}

function hostileInteger(strings: boolean): fc.Arbitrary<unknown> {
  const numbers = fc.constantFrom(0, -1, 65536, 99999, 2 ** 31, 2 ** 53, 1e21, 1e300, -1e300, 0.5, 1.5, 80.25, -0);
  if (!strings) return numbers;
  const str = fc.oneof(fc.constantFrom('80', '1e3', '0x50', ' 80', '80 ', '80;', '80; return 200', '80"', '$server_port', '${x}', '', '\n80'),
    fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(...hostileFragments)).map(([n, f]) => `${n}${f}`));
  return fc.oneof(numbers, str, fc.constantFrom(true, null));
}

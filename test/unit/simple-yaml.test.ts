// The fast YAML path of the file modes (operator/src/sources/simple-yaml.ts) against the
// `yaml` package it stands in for: whenever it returns documents, they are exactly what
// yaml's parseAllDocuments + toJS gives, and yaml finds no error in the text; on anything
// else it must step aside (undefined). Generated documents in many styles, then the same
// texts mutated character by character, plus the shapes manifests are written in (which
// must take the fast path, or the render CLI gets slow again).
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify, type ToStringOptions } from 'yaml';
import { parseSimpleYaml } from '../../operator/src/sources/simple-yaml.ts';
import { defaultCrdDir } from '../../operator/src/validation/crd.ts';
import { mixRoute, mixServices } from '../../bench/lib/routes.ts';

/** What yaml makes of the text: every document's value, or 'error' when any document has an error. */
function viaYaml(text: string): unknown[] | 'error' {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  if (docs.some((d) => d.errors.length)) return 'error';
  return docs.map((d) => d.toJS({ maxAliasCount: 100 }));
}

/** The fast path either steps aside or agrees with yaml exactly; returns whether it took the text. */
function agrees(text: string): boolean {
  const fast = parseSimpleYaml(text, 100);
  if (fast === undefined) return false;
  const slow = viaYaml(text);
  if (slow === 'error' || !isDeepStrictEqual(fast, slow)) {
    expect.fail(`fast path differs from yaml for ${JSON.stringify(text)}:\n fast ${JSON.stringify(fast)}\n yaml ${slow === 'error' ? 'an error' : JSON.stringify(slow)}`);
  }
  return true;
}

// Strings made of the characters YAML gives meaning to, so that quoting, comments,
// indicators and the core schema's numbers, booleans and nulls all come up.
const tricky = fc.string({ unit: fc.constantFrom(...'ab: -#\'"|>?[]{},&*!%@`~.0123456789xoeEnNtTfFul+\\_/é\n\t\x07\x1b\0\u0085'.split('')), maxLength: 12 });
const special = fc.constantFrom('', ' ', 'true', 'True', 'TRUE', 'false', 'yes', 'no', 'on', 'null', 'Null', '~', '0', '-0', '+1', '007', '0o17', '0x1F', '0b1', '1_000', '1e3', '-1.5E-2', '.5', '1.', '.inf', '-.Inf', '.nan', '.NaN', '1:2', 'a: b', 'a #b', 'a#b', '- a', '-a', '---', '...', '__proto__', 'constructor', "it's", 'say "hi"', 'x\ny', 'x\n\ny\n', ' lead', 'trail ', 'é', '😀');
const text = fc.oneof(tricky, special);
const key = fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[a-z][a-zA-Z0-9.-]{0,8}$/) }, { weight: 1, arbitrary: text });
const value = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(key, tie('node'), { maxKeys: 5 }),
  ),
})).node;
const documents = fc.array(fc.oneof(fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 }), fc.array(value, { minLength: 1, maxLength: 4 }), fc.constant(null)), { minLength: 1, maxLength: 3 });
const styles: ToStringOptions[] = [
  {}, { indentSeq: false }, { indent: 4 }, { defaultStringType: 'QUOTE_SINGLE' }, { defaultStringType: 'QUOTE_DOUBLE' },
  { defaultKeyType: 'QUOTE_SINGLE' }, { blockQuote: 'literal' }, { blockQuote: 'folded' }, { lineWidth: 20, minContentWidth: 0 },
  { collectionStyle: 'flow' }, { nullStr: '~' }, { trueStr: 'True' },
];
const render = (docs: unknown[], style: ToStringOptions, marker: string) => docs.map((d) => stringify(d, style)).join(marker);

describe('fast YAML path (simple-yaml.ts)', () => {
  it('agrees with yaml on generated documents in many styles, or steps aside', () => {
    let taken = 0;
    fc.assert(fc.property(documents, fc.nat(styles.length - 1), fc.constantFrom('---\n', '--- # next\n', '\n---\n\n'), (docs, s, marker) => {
      if (agrees(render(docs, styles[s]!, marker))) taken++;
    }), { numRuns: 3000 });
    expect(taken, 'generated texts the fast path took').to.be.greaterThan(300);
  });

  it('agrees with yaml on mutated texts (what it accepts, yaml accepts the same way)', () => {
    const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'dupline', 'indent', 'dedent'), fc.constantFrom(...' :-#\'"|>?[{&*!\n\t\\x1'.split(''), '  ', '- ', ': ', ' #', '---\n', '|-\n'));
    fc.assert(fc.property(documents, fc.nat(styles.length - 1), fc.array(edit, { minLength: 1, maxLength: 4 }), (docs, s, edits) => {
      let t = render(docs, styles[s]!, '---\n');
      for (const [at, op, ch] of edits) {
        const i = t.length ? at % t.length : 0;
        const lineStart = t.lastIndexOf('\n', i - 1) + 1;
        if (op === 'insert') t = t.slice(0, i) + ch + t.slice(i);
        else if (op === 'delete') t = t.slice(0, i) + t.slice(i + 1);
        else if (op === 'indent') t = `${t.slice(0, lineStart)} ${t.slice(lineStart)}`;
        else if (op === 'dedent') t = t[lineStart] === ' ' ? t.slice(0, lineStart) + t.slice(lineStart + 1) : t;
        else {
          const end = t.indexOf('\n', i);
          const line = t.slice(lineStart, end === -1 ? undefined : end + 1);
          t = t.slice(0, lineStart) + line + t.slice(lineStart);
        }
      }
      agrees(t);
    }), { numRuns: 4000 });
  });

  it('agrees with yaml on hand-picked edge cases', () => {
    const cases = [
      '', '# only a comment\n', '\n\n', 'a: 1\n', '---\na: 1', '# c\n---\na: 1', 'a: 1\n---\n', 'a: 1\n---\n# c\n', '---\n---\n', '--- # x\na: 1\n',
      'a: 1\n...\n', 'key: value\n    # comment\nnext: 1\n', 'a:\n  # c\n    b: 1\n', 'a: b\n  c\n', 'a: |-\n  x\n\n  y\n\n', 'a: |\n  x\n   \n', 'a: |\n  x',
      'a: |\n\n   \n  x\n', 'a: |\n    x\n  y\n', 'a: |2\n   x\n', 'a: |+\n  x\n\n', 'a: >\n  x\n  y\n', '- |\n x\n- y\n', 'k:\n- |\n x\n',
      'a: 0o17\nb: -0\nc: 1e3\nd: .5\ne: 1.0\nf: +12\ng: 0x1f\nh: .NaN\ni: -.inf\nj: 1_0\nk: 12345678901234567890\n',
      'a: "x" # c\nb: \'it\'\'s\'\n', 'a: "x"y\n', 'a: \'x\'#c\n', 'a: "a\\tb"\n', 'a: 1\na: 2\n', '"a": 1\na: 2\n', '1: a\n', 'true: a\n', 'null: a\n', '~: a\n', '__proto__: a\n',
      'x: a #b\ny: a#b\n', 'a: [b\n', 'a:\n- 1\n- 2\nb: 3\n', '- a: 1\n  b: 2\n-\n  c: 3\n- - x\n', '- a:\n  - x\n', '- a:\n  b: 1\n', 'a:\n  - x\n - y\n',
      'a:\n  b: 1\n c: 2\n', 'a: b: c\n', 'a: b:\n', 'a:b: c\n', 'a : 1\n', 'a:  1  \n', '? a\n: b\n', ': a\n', '-a: 1\n', 'a: -1\n', 'a: - 1\n', 'a: -\n',
      'a: &x 1\nb: *x\n', 'a: !!str 1\n', '%YAML 1.2\n---\na: 1\n', 'a: @x\n', 'a: `x\n', 'a: %x\n', 'a: ,x\n', 'a: x,y]\n', 'a: {b: 1}\n', 'a: []\n',
      '  a: 1\n', 'a\n', '"a"\n', 'a: 1\nb\n', '- a\nb: 1\n', 'a:\tb\n', 'a: b\r\nc: d\r\n', '\uFEFFa: 1\n', 'a: \u0085\n', 'a: x\u2028y\n',
      `${'k'.repeat(1100)}: v\n`, `a: ${'x'.repeat(5000)}\n`, '- \n- x\n', '-\n-\n', '- # c\n  a: 1\n', 'a: # c\n  b: 1\n', 'a: |  # c\n  x\n', 'a: |x\n  y\n',
      '- a #b: c\n', 'x:\n  - a #b: c\n', 'a #b: c\n', '- "a" #b: c\n', '---a: 1\n', '--- a: 1\n', '---\n- a\n---\nb: 2\n...\n', 'a:\n---\nb:\n',
      // multi-line plain and quoted scalars, escapes, empty flow collections
      'a: b\n  c\n\n  d\ne: 1\n', 'a: b\n  && c\n  || !d\n', 'a: b\n  - c\n', 'a: b\n  c: d\n', 'a: b\n  c #d\n', 'a: b\n  #c\n  d\n', '- b\n  c\n- d\n', '- a: b\n    c\n',
      'a: 1\n  2\n', 'a: true\n  x\n', "a: 'b\n  c''d\n\n  e'\n", "a: 'b\n c'\n", "a: 'b\nc'\n", "a: '\n  b'\n", "a: 'b\n  '\n", "a: 'b\n  c' x\n", "- 'b\n  c': d\n",
      'a: "b\\n\\tc\\"d\\\\e\\/"\n', 'a: "b\n  c\\ d\\\n  e"\n', 'a: "\\x41"\n', 'a: "\\u0041"\n', 'a: "b\\ "\n', 'a: "b \\\n  c"\n', 'a: "b\\q"\n',
      // Unicode spaces: JavaScript's trim() removes them, YAML keeps them as content
      'a: x\u00a0\n', 'a: \u3000x\n', 'a:\u2003x\n', '\u00a0a: 1\n', 'a: "x"\u202f\n',
      'a: {}\nb: []\nc: {} # x\n- d\n', 'a: {}\nb: []\nc: {} # x\n', 'a: { }\n', 'a: {}x\n', '- {}\n- []\n', '{}: a\n', 'a: [] []\n',
    ];
    const taken = cases.filter((c) => agrees(c)).length;
    expect(taken).to.be.greaterThan(20);
  });

  it('takes the shapes manifests are written in: kubectl-style lists, comments, literal blocks, the benchmark mix', () => {
    const o = { gateway: 'gw', endpoint: (s: number) => ({ address: `10.1.0.${s}`, port: 8080 }) };
    const objects = [...mixServices(50, o), ...Array.from({ length: 50 }, (_, i) => mixRoute(i, o))];
    for (const style of [{}, { indentSeq: false }] as ToStringOptions[]) {
      expect(agrees(objects.map((x) => stringify(x, style)).join('---\n')), `style ${JSON.stringify(style)}`).to.equal(true);
    }
    const handWritten = [
      '# A route, as people write them',
      'apiVersion: gateway.networking.k8s.io/v1',
      'kind: HTTPRoute',
      'metadata:',
      '  name: store   # the store',
      '  namespace: "team-a"',
      '  annotations:',
      "    note: 'it''s: fine'",
      '    say: "a \\"quoted\\" word,\\ta tab"',
      '    long: a description that goes on',
      '      over two lines',
      '    script: |',
      '      echo hello',
      '',
      '      echo #not a comment',
      'spec:',
      '  parentRefs:',
      '  - name: web',
      '    sectionName: http',
      '  rules:',
      '  - matches:',
      '    - path:',
      '        type: PathPrefix',
      '        value: /',
      '    backendRefs:',
      '    - name: store',
      '      port: 80',
      '      weight: 90',
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata:',
      '  name: store',
      '',
    ].join('\n');
    expect(agrees(handWritten)).to.equal(true);
  });

  it('takes the vendored CRDs (read at every start) and agrees with yaml on them', () => {
    const crds = readdirSync(defaultCrdDir).filter((f) => /^gateway\.networking\..*\.yaml$/.test(f) && !f.includes('_vap_'));
    expect(crds.length).to.be.greaterThan(10);
    for (const f of crds) expect(agrees(readFileSync(join(defaultCrdDir, f), 'utf8')), f).to.equal(true);
  });

  it('leaves nesting deeper than the limit to yaml (and the loader limits that apply to it)', () => {
    const deep = (n: number) => `${Array.from({ length: n }, (_, i) => `${'  '.repeat(i)}k:`).join('\n')} 1\n`;
    expect(parseSimpleYaml(deep(100), 100)).to.not.equal(undefined);
    expect(parseSimpleYaml(deep(101), 100)).to.equal(undefined);
    const seqs = (n: number) => `${Array.from({ length: n }, (_, i) => `${'  '.repeat(i)}-`).join('\n')} 1\n`;
    expect(parseSimpleYaml(seqs(100), 100)).to.not.equal(undefined);
    expect(parseSimpleYaml(seqs(101), 100)).to.equal(undefined);
    const deepEmpty = (n: number) => `${Array.from({ length: n }, (_, i) => `${'  '.repeat(i)}k:`).join('\n')} {}\n`; // n mappings and an empty one
    expect(parseSimpleYaml(deepEmpty(99), 100)).to.not.equal(undefined);
    expect(parseSimpleYaml(deepEmpty(100), 100)).to.equal(undefined);
  });
});

// operator/src has no `any`: objects are typed by the generated Gateway API types and the
// core interfaces, and what is not typed is `unknown` and narrowed where it is read.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';

const root = join(import.meta.dirname, '..', '..');
const src = join(root, 'operator', 'src');

/** `any` used as a type: annotations, assertions, type arguments, arrays, Records. */
const anyType = /:\s*any\b|\bas\s+any\b|<\s*any\s*>|\bany\s*\[\]|\bArray<\s*any\s*>|\bRecord<[^<>]*,\s*any\s*>/;

/** The code of a TypeScript file without its comments (a URL's "//" inside a string is cut too: harmless here). */
export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

export function anyTypesIn(text: string): string[] {
  return stripComments(text).split('\n').filter((line) => anyType.test(line)).map((line) => line.trim());
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

describe('no `any` in operator/src', () => {
  it('the scan finds each form of `any` as a type, and not the word in comments or strings', () => {
    for (const line of ['let a: any;', 'f(x as any);', 'new Map<any>()', 'const xs: any[] = [];', 'let y: Array<any>;', 'let r: Record<string, any>;', 'let t = <any>v;']) {
      expect(anyTypesIn(line), line).to.have.length(1);
    }
    for (const line of ['// not any: just a comment', '/* as any */ let n = 1;', "const s = { any: 'any' };", 'const company = 1;', 'const many: number[] = [];']) {
      expect(anyTypesIn(line), line).to.deep.equal([]);
    }
  });

  it('no file of operator/src uses `any` as a type', () => {
    const found = tsFiles(src).flatMap((f) => anyTypesIn(readFileSync(f, 'utf8')).map((line) => `${relative(root, f)}: ${line}`));
    expect(found).to.deep.equal([]);
  });
});

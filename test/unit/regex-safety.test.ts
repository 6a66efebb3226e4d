// Which tenant regexes nginx may run for every request of a shared location: syntax that
// could change nginx state or read differently in PCRE2 and JavaScript is refused, and so
// is any pattern whose backtracking is not proven linear (recheck, automaton checker).
import { expect } from 'chai';
import { anchored, clearRegexVerdicts, MAX_NESTING, MAX_QUANTIFIERS, regexProblem, scanRegex } from '../../operator/src/values/regex.ts';

const refused = (re: string, why: RegExp) => {
  const p = regexProblem(re);
  expect(p, re).to.be.a('string');
  expect(p).to.include(`regular expression ${JSON.stringify(re)}`);
  expect(p).to.match(why);
};
const accepted = (re: string) => expect(regexProblem(re), re).to.equal(undefined);

describe('tenant regular expressions (values/regex)', function () {
  this.timeout(30_000);
  before(() => { regexProblem('warm-up'); }); // starts recheck's worker and native agent

  describe('syntax: a common subset of PCRE2 and JavaScript', () => {
    it('refuses named groups of every spelling (nginx turns them into variables)', () => {
      for (const re of ['(?<host>[a-z]+)', '(?P<host>[a-z]+)', "(?'host'[a-z]+)", '/x/(?<uri>.*)']) refused(re, /named group/);
    });
    it('refuses backreferences, numbered and named', () => {
      for (const re of ['(a)\\1', '([a-z])\\9', '(?<n>a)\\k<n>', '\\k<n>', '\\k{n}', '\\g1', '\\g{-1}', '(?P=n)']) refused(re, /backreference|named group/);
    });
    it('refuses lookarounds, atomic groups and possessive quantifiers', () => {
      refused('/(?!admin).*', /lookahead/);
      refused('/x(?=y)', /lookahead/);
      refused('(?<=a)b', /lookbehind/);
      refused('(?<!a)b', /lookbehind/);
      refused('(?>a+)b', /atomic/);
      refused('a++b', /possessive/);
      refused('a{2,3}+', /possessive/);
    });
    it('refuses verbs, callouts, inline options, \\K, conditionals, recursion and subroutines', () => {
      refused('(*SKIP)a', /verb/);
      refused('(*UTF)a', /verb/);
      refused('a(?C1)b', /callout/);
      refused('(?x) a b', /inline options/);
      refused('(?i)admin', /inline options/);
      refused('(?i:admin)', /inline options/);
      refused('/foo\\Kbar', /\\K/);
      refused('(?(1)a|b)', /conditional/);
      refused('(a(?R)?b)', /recursion/);
      refused('(a)(?1)', /recursion/);
      refused('(?&n)', /subroutine/);
      refused('(?|(a)|(b))', /branch reset/);
      refused('a(?#comment)b', /comment/);
    });
    it('refuses escapes that are PCRE-only or read differently', () => {
      for (const re of ['\\Qa.b\\E', '\\Aabc', 'abc\\z', 'a\\Z', '\\Ga', '\\h+', '\\v', '\\R', '\\N', '\\X', '\\C', '\\e', '\\p{L}', '\\u0041', '\\x{41}', '\\xff', '\\0', '\\cA', '\\a']) {
        refused(re, /escape|backreference|\\x/);
      }
    });
    it('refuses POSIX classes, "[]" and unescaped braces and brackets', () => {
      refused('[[:alpha:]]+', /POSIX/);
      refused('[]a]', /first in a character class/);
      refused('[^]a]', /first in a character class/);
      refused('a{,3}', /not a repetition count/);
      refused('a{x}', /not a repetition count/);
      refused('a}', /unescaped "}"/);
      refused('a]', /unescaped "]"/);
    });
    it('refuses what PCRE2 would fail to compile (nginx -t must not fail for everyone)', () => {
      refused('('.repeat(MAX_NESTING + 1) + 'a' + ')'.repeat(MAX_NESTING + 1), /nests groups deeper/);
      refused('a{1001}', /more than 1000 times/);
      refused('(?:a{100}b){300}', /expands to more than/);
      refused('a{3,2}', /maximum is below its minimum/);
      refused('*a', /nothing to repeat/);
      refused('a**', /nothing to repeat/);
      refused('(a', /unclosed/);
      refused('a)', /unmatched/);
    });
    it('refuses non-ASCII and control characters (nginx matches bytes, JavaScript code points)', () => {
      refused('/caf\u00e9', /printable ASCII/);
      refused('a\tb', /printable ASCII/);
    });
    it('accepts plain and non-capturing groups, classes, anchors, counts and lazy quantifiers', () => {
      for (const re of ['/api/v[0-9]+/.*', '[a-z0-9-]+\\.example\\.com', '(foo|bar)/[^/]+', '(?:en|de)/.*?', '^/x$', '\\bword\\b', '[\\w.-]+@[\\w-]+', 'a\\{b\\}', '\\x41\\t[\\x20-\\x7e]', 'a{2}b{1,3}c{2,}', '[a\\]b]', '\\/path\\/']) {
        expect(scanRegex(re), re).to.have.property('widened');
        accepted(re);
      }
    });
    it('widens counted repetitions for the analysis and splits top-level alternatives', () => {
      expect(scanRegex('a{2}b{1,63}c{0,1}d{0,9}e{12}|x(y|z)')).to.deep.equal({ widened: 'a{2}b+c?d*e+|x(y|z)', alternatives: ['a{2}b+c?d*e+', 'x(y|z)'] });
      expect(anchored('a|b')).to.equal('^(?:a|b)$');
    });
  });

  describe('backtracking: only patterns proven linear', () => {
    it('refuses exponential patterns and names the attack', () => {
      refused('(a+)+$', /can backtrack exponentially .*attack string "a+/);
      refused('(a|a)*b', /exponentially/);
      refused('^(\\d+)*x$', /exponentially/);
      refused('(x{2,5})*y', /exponentially.*analysed with counted repetitions as \* and \+: "\(x\+\)\*y"/);
    });
    it('refuses polynomial patterns of every degree', () => {
      refused('.*a.*a.*a.*b', /polynomial time of degree 4/);
      refused('.*a.*a.*b', /polynomial time of degree 3/);
      refused('.*a.*b', /polynomial time of degree 2/);
      refused('/foo/.*/bar/.*', /polynomial time of degree 2 .*"\[\^\/\]\*" instead of "\.\*"/);
    });
    it('finds a vulnerable alternative among safe ones', () => {
      refused('/a/.*|/b/[0-9]+|(a|a)*b|/c', /exponentially around "a\|a"/);
    });
    it(`refuses more than ${MAX_QUANTIFIERS} overlapping quantifiers, which recheck calls linear`, () => {
      accepted('[a-z]?'.repeat(MAX_QUANTIFIERS) + '[0-9]');
      refused('[a-z]?'.repeat(MAX_QUANTIFIERS + 1) + '[0-9]', /more than 16 quantifiers/);
      refused('(?:[a-z]?[a-z]?){9}', /more than 16 quantifiers/);
      accepted(Array.from({ length: 10 }, (_, i) => `/p${i}/[a-z]+`).join('|')); // one quantifier per alternative
    });
    it('accepts ordinary route patterns', () => {
      for (const re of ['^/api/v[0-9]+/.*', '[a-z0-9-]+\\.example\\.com', '/users/[0-9]+/posts/[0-9]+', '.*\\.(css|js|png)', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '(\\d+\\.)*\\d+', '/[^/]*/[^/]*/x']) accepted(re);
    });
    it('memoizes verdicts by pattern', () => {
      clearRegexVerdicts();
      const re = '/memo/[0-9]+/.*';
      const t0 = performance.now();
      accepted(re);
      const first = performance.now() - t0;
      const t1 = performance.now();
      for (let i = 0; i < 1000; i++) accepted(re);
      expect((performance.now() - t1) / 1000).to.be.below(Math.max(first / 10, 0.05));
    });
  });
});

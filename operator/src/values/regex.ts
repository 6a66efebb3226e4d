// Whether a tenant's regular expression may run in nginx's PCRE2 for every request of a
// shared location. Two walls:
//  1. Syntax: a small common subset of PCRE2 and JavaScript, printable ASCII only. It has
//     nothing that changes nginx state or reads differently in the two dialects: no named
//     groups (nginx turns them into variables that other routes read), no backreferences,
//     lookarounds, atomic/possessive forms, verbs, callouts, inline options, \K, \g,
//     conditionals, recursion or POSIX classes. Nesting and repetition counts are bounded
//     so PCRE2 compiles every accepted pattern (nginx -t must never fail for everyone).
//  2. Backtracking, analysed as nginx runs the pattern, `^(?:PATTERN)$`, one top-level
//     alternative at a time (their costs add up), with counted repetitions widened to *
//     and + (the backtracking tree of x{n,m} is a subtree of x*'s or x+'s, so a linear
//     verdict for the widened pattern holds for the original). A structural proof
//     (regex-automaton.ts) accepts the common shapes; the rest go to recheck's automaton
//     checker. Only linear (or constant) patterns are accepted.
// The verdict is a pure function of the pattern (the graph is): no wall-clock limit
// decides it. Deterministic size limits bound the analysis; a pattern beyond them is
// refused as too complex to analyse. A last-resort wall-clock guard throws
// RegexAnalysisTimeout ("not decided"), never a verdict, and nothing is memoized then.
import { checkSync, type Diagnostics } from 'recheck';
import { automaton, provesLinear, reverseDfaStates } from './regex-automaton.ts';

/** What the dataplane compiles: the user's regex must match the whole subject. */
export const anchored = (source: string): string => `^(?:${source})$`;

/** PCRE2's default parenthesis nesting limit is 250; far below it, and readable. */
export const MAX_NESTING = 32;
/** Largest count in {n}, {n,} or {n,m}: PCRE2 copies the item that often when compiling. */
export const MAX_REPEAT = 1000;
/** Items after expanding counted repetitions: keeps the compiled pattern far below PCRE2's limit. */
export const MAX_EXPANDED = 20_000;
/**
 * Quantifiers and "|" inside groups in one top-level alternative, counting those inside
 * {n} repetitions n times.
 * recheck's "linear" is in the subject's length only: n overlapping optional items
 * ("[a-z]?" n times) backtrack about 2^n times on a short subject. Measured on nginx with
 * JIT: 16 cost 0.06 ms a request, 24 cost 16 ms (bench/regex.ts).
 */
export const MAX_QUANTIFIERS = 16;
/** Positions (characters after expanding {n}) of one alternative that the analysis takes. */
export const MAX_POSITIONS = 2_000;
/**
 * States of the reversed automaton's subset construction. recheck builds that DFA before
 * any of its own limits apply, and it is exponential for shapes like "[ab]*a[ab]{20}"
 * (5 s for 2^21 states); 1,000 states keep its analysis within a few hundred ms.
 */
export const MAX_REVERSE_DFA_STATES = 1_000;
/**
 * recheck's size limit on its automata (transitions of the ordered NFA and of the NFA with
 * look-ahead). Only its "auto" checker applies it, and falls back to fuzzing beyond it:
 * a fuzzed verdict is refused as too complex (its "safe" is no proof). The fuzzer's work
 * is cut to almost nothing and its wall-clock limits are off.
 */
export const MAX_NFA_SIZE = 20_000;
/**
 * Last resort, not a verdict: the size limits bound recheck's work (measured max a few
 * hundred ms); if an analysis still runs this long, the pattern is not decided.
 */
export const GUARD_TIMEOUT_MS = 30_000;

const RECHECK_PARAMS = {
  checker: 'auto',
  timeout: GUARD_TIMEOUT_MS, // the only wall clock: a last resort, see RegexAnalysisTimeout
  maxNFASize: MAX_NFA_SIZE,
  maxPatternSize: 1_000_000, // the limits above bound size; these two would fall back to fuzzing
  maxRepeatCount: 1_000_000,
  maxInitialGenerationSize: 1, maxGenerationSize: 1, maxIteration: 0, maxGeneStringSize: 1, maxAttackStringSize: 1,
  seedingLimit: 1, incubationLimit: 1, attackLimit: 1, seedingTimeout: null, incubationTimeout: null, attackTimeout: null,
  recallTimeout: -1, // recall validation runs the attack against a wall clock: skipped
} as const;
/** The analysis of a pattern hit the wall-clock guard: no verdict; ask again later. */
export class RegexAnalysisTimeout extends Error {
  readonly pattern: string;
  constructor(pattern: string) {
    super(`regular expression ${JSON.stringify(pattern)} could not be analysed within ${GUARD_TIMEOUT_MS} ms; not decided`);
    this.name = 'RegexAnalysisTimeout';
    this.pattern = pattern;
  }
}

/** Memoized verdicts kept (patterns and alternatives), oldest dropped first. */
const MAX_VERDICTS = 50_000;

const SYNTAX_CHARS = '^$\\.*+?()[]{}|/';
const CLASS_ESCAPES = 'dDwWsS';
const CONTROL_ESCAPES = 'nrtf';

/** Why a group opener other than "(" and "(?:" is refused, by what follows "(". */
function groupProblem(rest: string): string | undefined {
  if (rest.startsWith('?:')) return undefined;
  if (rest[0] === '*') return 'uses a PCRE verb "(*"';
  if (rest[0] !== '?') return undefined;
  const r = rest.slice(1);
  if (r.startsWith('<=') || r.startsWith('<!')) return 'uses a lookbehind, which is not supported (JavaScript and PCRE2 accept different ones, and the backtracking analysis cannot prove them safe)';
  if (r[0] === '=' || r[0] === '!') return 'uses a lookahead, which is not supported (the backtracking analysis cannot prove it safe)';
  if (r[0] === '<' || r[0] === "'" || r.startsWith('P<')) return 'uses a named group; use a plain group "(...)" or "(?:...)" (nginx turns group names into variables that other routes read)';
  if (r.startsWith('P=') || r.startsWith('P>') || r[0] === '&') return 'uses a named backreference or subroutine call, which is not supported';
  if (r[0] === '>') return 'uses an atomic group "(?>", which JavaScript does not have';
  if (r[0] === '|') return 'uses a branch reset group "(?|", which is not supported';
  if (r[0] === '#') return 'uses a comment group "(?#", which is not supported';
  if (r[0] === '(') return 'uses a conditional group "(?(", which is not supported';
  if (r[0] === 'C') return 'uses a callout "(?C", which is not supported';
  if (/^(R|[+-]?\d)/.test(r)) return 'uses recursion or a subroutine call, which is not supported';
  return 'sets inline options "(?...)", which are not supported';
}

/** Why an escape outside a character class is refused; undefined if it is an atom we accept. */
function escapeProblem(c: string, next: string): string | undefined {
  if (/[1-9]/.test(c)) return `uses a backreference "\\${c}", which is not supported`;
  if (c === 'k' || c === 'g') return `uses a backreference "\\${c}", which is not supported`;
  if (c === 'K') return 'uses "\\K", which is not supported';
  if (c === 'x') return /^[0-7][0-9a-fA-F]$/.test(next) ? undefined : 'uses "\\x" other than \\x00 to \\x7f with two hex digits';
  if (SYNTAX_CHARS.includes(c) || CLASS_ESCAPES.includes(c) || CONTROL_ESCAPES.includes(c)) return undefined;
  return `uses the escape "\\${c}", which is not in the supported subset (PCRE-only, or read differently by PCRE and JavaScript)`;
}

const TOO_MANY_CHOICES = `has more than ${MAX_QUANTIFIERS} quantifiers and "|" choices in one alternative (counting repetitions); backtracking over them grows exponentially with their number`;

interface Frame { size: number; alternatives: number; last: number; quantifiers: number; lastQuantifiers: number }

/**
 * The syntax wall. Returns a problem (a sentence without the pattern) or the pattern with
 * counted repetitions widened to * / + / ?, ready for the backtracking analysis.
 */
export function scanRegex(re: string): { problem: string } | { widened: string; alternatives: string[] } {
  if (!/^[\x20-\x7e]*$/.test(re)) return { problem: 'must contain only printable ASCII characters (nginx matches bytes, JavaScript code points)' };
  const frame = (): Frame => ({ size: 0, alternatives: 0, last: 0, quantifiers: 0, lastQuantifiers: 0 });
  const stack: Frame[] = [frame()];
  let out = '';
  const cuts: number[] = []; // top-level "|" positions in out
  let quantifiable = false; // the previous item is an atom that a quantifier may follow
  let i = 0;
  const top = (): Frame => stack[stack.length - 1]!; // the root frame stays: ")" at depth 1 is refused
  const atom = (text: string, size = 1) => { out += text; top().size += size; top().last = size; top().lastQuantifiers = 0; quantifiable = true; };
  while (i < re.length) {
    const c = re.charAt(i);
    if (c === '\\') {
      const e = re[i + 1];
      if (e === undefined) return { problem: 'ends with a lone "\\"' };
      if (e === 'b' || e === 'B') { out += re.slice(i, i + 2); i += 2; quantifiable = false; continue; }
      const p = escapeProblem(e, re.slice(i + 2, i + 4));
      if (p) return { problem: p };
      const len = e === 'x' ? 4 : 2;
      atom(re.slice(i, i + len));
      i += len;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (re[j] === '^') j++;
      if (re[j] === ']') return { problem: 'has a "]" first in a character class; escape it as "\\]" (PCRE and JavaScript read "[]" differently)' };
      for (; j < re.length && re[j] !== ']'; j++) {
        if (re[j] === '[') return { problem: 'has "[" inside a character class; escape it as "\\[" (PCRE reads "[:name:]" as a POSIX class)' };
        if (re[j] === '\\') {
          const e = re[j + 1];
          if (e === 'x' && /^[0-7][0-9a-fA-F]$/.test(re.slice(j + 2, j + 4))) { j += 3; continue; }
          if (e === undefined || !(SYNTAX_CHARS.includes(e) || e === '-' || CLASS_ESCAPES.includes(e) || CONTROL_ESCAPES.includes(e))) {
            return { problem: `uses the escape "\\${e ?? ''}" in a character class, which is not in the supported subset` };
          }
          j++;
        }
      }
      if (j >= re.length) return { problem: 'has an unterminated character class' };
      atom(re.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === '(') {
      const p = groupProblem(re.slice(i + 1, i + 4));
      if (p) return { problem: p };
      if (stack.length > MAX_NESTING) return { problem: `nests groups deeper than ${MAX_NESTING} levels` };
      const opener = re.startsWith('(?:', i) ? '(?:' : '(';
      out += opener;
      i += opener.length;
      stack.push(frame());
      quantifiable = false;
      continue;
    }
    if (c === ')') {
      if (stack.length === 1) return { problem: 'has an unmatched ")"' };
      const g = stack.pop()!;
      out += ')';
      top().size += g.size + g.alternatives;
      top().last = g.size + g.alternatives;
      // A group's "|" is a choice like a quantifier's: (?:a|a){10} nested twice is 2^100 paths.
      top().quantifiers += g.quantifiers + g.alternatives;
      top().lastQuantifiers = g.quantifiers + g.alternatives;
      if (stack.reduce((s, x) => s + x.quantifiers, 0) > MAX_QUANTIFIERS) return { problem: TOO_MANY_CHOICES };
      quantifiable = true;
      i++;
      continue;
    }
    if (c === '|') { if (stack.length === 1) { cuts.push(out.length); top().quantifiers = 0; } out += c; top().alternatives += 1; quantifiable = false; i++; continue; }
    if (c === '^' || c === '$') { out += c; quantifiable = false; i++; continue; }
    if (c === '*' || c === '+' || c === '?' || c === '{') {
      let min = c === '+' ? 1 : 0;
      let max: number | undefined = c === '?' ? 1 : undefined;
      let len = 1;
      if (c === '{') {
        const m = /^\{(\d{1,4})(,(\d{1,4})?)?\}/.exec(re.slice(i));
        if (!m) return { problem: 'has a "{" that is not a repetition count; escape it as "\\{"' };
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === undefined ? undefined : Number(m[3]);
        if (min > MAX_REPEAT || (max ?? 0) > MAX_REPEAT) return { problem: `repeats an item more than ${MAX_REPEAT} times` };
        if (max !== undefined && max < min) return { problem: `has a repetition count ${m[0]} whose maximum is below its minimum` };
        len = m[0].length;
      }
      if (!quantifiable) return { problem: `has "${re.slice(i, i + len)}" with nothing to repeat` };
      const lazy = re[i + len] === '?';
      if (re[i + len] === '+') return { problem: 'uses a possessive quantifier, which JavaScript does not have' };
      // Widen counts for the analysis; an exact small count stays (no choice, no ambiguity).
      const widened = c !== '{' ? c : max === min && min <= 10 ? `{${min}}` : max === 1 && min === 0 ? '?' : min === 0 ? '*' : '+';
      out += widened + (lazy ? '?' : '');
      const f = top();
      f.size += f.last * (Math.max(min, max ?? min, 1) - 1);
      // An exact count repeats the item's quantifiers; a widened one adds one loop around them.
      f.quantifiers += max === min ? f.lastQuantifiers * (min - 1) : 1;
      if (stack.reduce((s, x) => s + x.quantifiers, 0) > MAX_QUANTIFIERS) return { problem: TOO_MANY_CHOICES };
      if (stack.reduce((s, x) => s + x.size + x.alternatives, 0) > MAX_EXPANDED) return { problem: `expands to more than ${MAX_EXPANDED} items after repetition counts` };
      quantifiable = false;
      i += len + (lazy ? 1 : 0);
      continue;
    }
    if (c === ']' || c === '}') return { problem: `has an unescaped "${c}"; escape it as "\\${c}"` };
    atom(c);
    i++;
  }
  if (stack.length > 1) return { problem: 'has an unclosed "("' };
  const alternatives = [0, ...cuts.map((x) => x + 1)].map((start, k) => out.slice(start, k < cuts.length ? cuts[k] : out.length));
  return { widened: out, alternatives };
}

function abbreviate(s: string): string {
  return JSON.stringify(s.length <= 24 ? s : `${s.slice(0, 12)}...${s.slice(-6)}`);
}

/** The hot part of an analysed alternative, as text of the (widened) pattern. */
function hotspot(d: Diagnostics & { status: 'vulnerable' }, analysed: string): string {
  const offset = anchored('').indexOf(')'); // "^(?:" precedes the analysed text
  const spots = d.hotspot.filter((h) => h.temperature === 'heat');
  if (!spots.length) return '';
  const start = Math.max(0, Math.min(...spots.map((h) => h.start)) - offset);
  const end = Math.max(...spots.map((h) => h.end)) - offset;
  return ` around ${JSON.stringify(analysed.slice(start, end))}`;
}

/** How one alternative was decided: a structural proof, a size limit, or recheck. */
type Analysis = { kind: 'proved' } | { kind: 'too-complex'; why: string } | { kind: 'recheck'; d: Diagnostics };

/** Verdicts by alternative, memoized: tenants reuse alternatives across routes. */
const alternativeVerdicts = new Map<string, Analysis>();

function analyse(alternative: string): Analysis {
  const known = alternativeVerdicts.get(alternative);
  if (known) return known;
  const result = decide(alternative);
  if (alternativeVerdicts.size >= MAX_VERDICTS) alternativeVerdicts.delete(alternativeVerdicts.keys().next().value!);
  alternativeVerdicts.set(alternative, result);
  return result;
}

/** How many alternatives were analysed since the last clear: memoization made observable. */
let decided = 0;

/** Every step counts work, not time: the same alternative gets the same answer anywhere. */
function decide(alternative: string): Analysis {
  decided++;
  const a = automaton(alternative, MAX_POSITIONS);
  if (!a) return { kind: 'too-complex', why: `more than ${MAX_POSITIONS} characters after expanding repetition counts` };
  if (provesLinear(a)) return { kind: 'proved' };
  if (reverseDfaStates(a, MAX_REVERSE_DFA_STATES) === undefined) return { kind: 'too-complex', why: `its reversed automaton has more than ${MAX_REVERSE_DFA_STATES} states` };
  const d = checkSync(anchored(alternative), '', RECHECK_PARAMS);
  if (d.status === 'unknown' && d.error.kind === 'timeout') throw new RegexAnalysisTimeout(alternative);
  // Beyond MAX_NFA_SIZE the "auto" checker fuzzes: not a proof, and not our limit's verdict.
  if (d.checker === 'fuzz') return { kind: 'too-complex', why: `its automaton has more than ${MAX_NFA_SIZE} transitions` };
  return { kind: 'recheck', d };
}

/**
 * `^(?:A|B)$` backtracks through A's matches, then B's: its cost is the sum of the costs of
 * `^(?:A)$` and `^(?:B)$`, so it is linear exactly when each top-level alternative is. The
 * automaton analysis grows much faster than linearly with pattern size; alternatives one
 * by one keep long alternations of short paths small.
 */
function backtrackingProblem(re: string, widened: string, alternatives: readonly string[]): string | undefined {
  const note = widened === re ? '' : ` (analysed with counted repetitions as * and +: ${JSON.stringify(widened)})`;
  for (const alternative of alternatives) {
    let result: Analysis;
    try {
      result = analyse(alternative);
    } catch (e) {
      if (e instanceof RegexAnalysisTimeout) throw new RegexAnalysisTimeout(re);
      return `could not be analysed for backtracking (${(e as Error).message})`;
    }
    if (result.kind === 'proved') continue;
    if (result.kind === 'too-complex') {
      return `is too complex to analyse for backtracking (${result.why}); simplify it${note}`;
    }
    const d = result.d;
    if (d.status === 'safe') continue;
    if (d.status === 'unknown') {
      return `could not be proven free of excessive backtracking (${'message' in d.error ? d.error.message : `the analysis ended with ${d.error.kind}`}); simplify it${note}`;
    }
    const attack = abbreviate(d.attack.string);
    const where = hotspot(d, alternative);
    if (d.complexity.type === 'exponential') {
      return `can backtrack exponentially${where} (attack string ${attack}); rewrite it without nested or overlapping quantifiers${note}`;
    }
    return `can backtrack in polynomial time of degree ${d.complexity.degree}${where} (attack string ${attack}); only patterns that match in linear time are accepted: make adjacent quantified parts unable to match the same text, e.g. "[^/]*" instead of ".*"${note}`;
  }
  return undefined;
}

/** The subset must also be JavaScript: recheck and our tests read patterns as JavaScript. */
function javascriptProblem(re: string): string | undefined {
  try {
    new RegExp(re, 'u');
  } catch (e) {
    return `is not valid: ${(e as Error).message}`;
  }
}

/** Verdicts by pattern: the graph rebuilds on every change, with up to thousands of routes. */
const verdicts = new Map<string, string | undefined>();

/**
 * The problem with a tenant's regular expression as a sentence naming it, or undefined when
 * nginx may run it. Length and control characters are checked by the caller. Throws
 * RegexAnalysisTimeout, not memoized, if the last-resort guard fires: no verdict yet.
 */
export function regexProblem(re: string): string | undefined {
  if (verdicts.has(re)) return verdicts.get(re);
  const scanned = scanRegex(re);
  const problem = 'problem' in scanned ? scanned.problem : javascriptProblem(re) ?? backtrackingProblem(re, scanned.widened, scanned.alternatives);
  const message = problem && `regular expression ${JSON.stringify(re)} ${problem}`;
  if (verdicts.size >= MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(re, message);
  return message;
}

/** For tests and benchmarks: forget memoized verdicts. */
export function clearRegexVerdicts(): void {
  verdicts.clear();
  alternativeVerdicts.clear();
  decided = 0;
}

/** For tests and benchmarks: alternatives analysed (not answered from memory) since the last clear. */
export function regexAnalysesSinceClear(): number {
  return decided;
}

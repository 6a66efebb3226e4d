// A position automaton (Glushkov) of a pattern that passed scanRegex, over bytes (nginx
// matches bytes), used for two deterministic decisions before recheck runs:
//  - provesLinear: a sufficient condition for linear backtracking that covers the common
//    route shapes, so most patterns never reach recheck (it is slow: 5-150 ms a pattern);
//  - reverseDfaStates: the size of the reversed automaton's subset construction, with a
//    cap. recheck builds that DFA without any size limit (its maxNFASize applies only
//    after it), and "[ab]*a[ab]{20}"-like patterns make it exponential.
// Character sets over-approximate what PCRE2 may match (bytes >= 0x80 in \d\w\s, both
// cases of letters), which only adds paths: every conclusion stays sound.

/** A set of bytes as a 256-bit integer. */
type Bytes = bigint;
const ALL: Bytes = (1n << 256n) - 1n;
const HIGH: Bytes = ALL ^ ((1n << 128n) - 1n);

const byte = (c: number): Bytes => 1n << BigInt(c);
function range(lo: number, hi: number): Bytes {
  return lo > hi ? 0n : ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}
const DIGIT = range(0x30, 0x39);
const WORD = DIGIT | range(0x41, 0x5a) | range(0x61, 0x7a) | byte(0x5f);
const SPACE = range(0x09, 0x0d) | byte(0x20);
/** Largest sets PCRE2 may give the class escapes (its tables may add bytes >= 0x80). */
const CLASS_MAX: Record<string, Bytes> = { d: DIGIT | HIGH, w: WORD | HIGH, s: SPACE | HIGH, D: ALL ^ DIGIT, W: ALL ^ WORD, S: ALL ^ SPACE };
const CONTROL: Record<string, number> = { n: 10, r: 13, t: 9, f: 12 };

/** The set of a class escape (\d, \W...) at re[i], undefined for anything else. */
function classEscape(re: string, i: number): Bytes | undefined {
  return re[i] === '\\' ? CLASS_MAX[re.charAt(i + 1)] : undefined;
}

/**
 * xs[i] where the construction guarantees the index (a position, a component): a miss is
 * a bug, so it throws rather than computing on undefined.
 */
function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new RangeError(`index ${i} out of range (${xs.length})`);
  return x;
}

/** A literal byte and its other case: a caseless match (`~*`) must be covered too. */
function literal(c: number): Bytes {
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x7a ? byte(lower) | byte(lower ^ 0x20) : byte(c);
}

/** One character of an escape or a literal at re[i]: its code and length. */
function singleChar(re: string, i: number): { code: number; len: number } {
  if (re[i] !== '\\') return { code: re.charCodeAt(i), len: 1 };
  const e = re.charAt(i + 1); // scanRegex refused a lone "\"
  if (e === 'x') return { code: parseInt(re.slice(i + 2, i + 4), 16), len: 4 };
  return { code: CONTROL[e] ?? e.charCodeAt(0), len: 2 };
}

/** A class "[...]" at re[i] (scanRegex checked it): the bytes it may match and its length. */
function charClass(re: string, i: number): { set: Bytes; len: number } {
  let j = i + 1;
  const negated = re[j] === '^';
  if (negated) j++;
  let set = 0n;
  let exact = true; // false once a class escape makes the set an estimate
  while (re[j] !== ']') {
    const cls = classEscape(re, j);
    if (cls !== undefined) { set |= cls; exact = false; j += 2; continue; }
    const lo = singleChar(re, j);
    j += lo.len;
    if (re[j] === '-' && re[j + 1] !== ']') {
      const hi = singleChar(re, j + 1);
      j += 1 + hi.len;
      for (let c = lo.code; c <= hi.code; c++) set |= negated ? byte(c) : literal(c);
    } else set |= negated ? byte(lo.code) : literal(lo.code);
  }
  // A negated class over an estimate could be too small: take every byte instead.
  return { set: negated ? (exact ? ALL ^ set : ALL) : set, len: j + 1 - i };
}

type Node =
  | { kind: 'atom'; set: Bytes }
  | { kind: 'empty' } // ^, $, \b, \B: assertions only remove paths
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; branches: Node[] }
  | { kind: 'repeat'; node: Node; op: '*' | '+' | '?' | number };

/** Parses a pattern that scanRegex accepted, as widened by it (counts are only {n}). */
export function parsePattern(re: string): Node {
  let i = 0;
  const alt = (): Node => {
    const first = seq();
    const branches: Node[] = [first];
    while (re[i] === '|') { i++; branches.push(seq()); }
    return branches.length === 1 ? first : { kind: 'alt', branches };
  };
  const seq = (): Node => {
    const items: Node[] = [];
    while (i < re.length && re[i] !== '|' && re[i] !== ')') {
      let node: Node;
      const c = re[i];
      const cls = classEscape(re, i);
      if (c === '(') {
        i += re.startsWith('(?:', i) ? 3 : 1;
        node = alt();
        i++; // ")"
      } else if (c === '[') {
        const k = charClass(re, i);
        node = { kind: 'atom', set: k.set };
        i += k.len;
      } else if (c === '^' || c === '$') {
        node = { kind: 'empty' };
        i++;
      } else if (c === '.') {
        node = { kind: 'atom', set: ALL };
        i++;
      } else if (c === '\\' && (re[i + 1] === 'b' || re[i + 1] === 'B')) {
        node = { kind: 'empty' };
        i += 2;
      } else if (cls !== undefined) {
        node = { kind: 'atom', set: cls };
        i += 2;
      } else {
        const s = singleChar(re, i);
        node = { kind: 'atom', set: literal(s.code) };
        i += s.len;
      }
      for (;;) {
        const q = re[i];
        if (q === '*' || q === '+' || q === '?') { node = { kind: 'repeat', node, op: q }; i++; }
        else if (q === '{') { const m = /^\{(\d+)\}/.exec(re.slice(i))!; node = { kind: 'repeat', node, op: Number(m[1]) }; i += m[0].length; }
        else break;
        if (re[i] === '?') i++; // lazy: same paths, another order
      }
      items.push(node);
    }
    const [only, ...more] = items;
    return only !== undefined && more.length === 0 ? only : { kind: 'seq', items };
  };
  const node = alt();
  if (i !== re.length) throw new Error(`unexpected ${JSON.stringify(re[i])} at ${i}`);
  return node;
}

/** Glushkov automaton: position p reads sets[p]; state 0 is the start. */
export interface Automaton {
  sets: Bytes[]; // index 0 unused (the start state reads nothing)
  /** follow[0] = first positions. A list: an edge made twice ((a+)+) is two backtracking paths. */
  follow: number[][];
  /**
   * Some part matches the empty string in two ways ((?:a?)?, (?:a|), or a loop over a
   * nullable body, (?:a?)+): paths that differ only there share all positions and
   * edges, so the positions alone no longer count the matcher's paths.
   */
  ambiguousEmpty: boolean;
  accepting: Set<number>; // last positions, and 0 when the pattern matches ""
}

class TooLarge extends Error {}

/** Builds the automaton, or undefined when it would have more than maxPositions positions. */
export function automaton(re: string, maxPositions: number): Automaton | undefined {
  const sets: Bytes[] = [0n];
  const follow: number[][] = [[]];
  let ambiguousEmpty = false;
  const link = (from: number[], to: number[]) => { for (const f of from) for (const t of to) at(follow, f).push(t); };
  /** empty: the ways to match "" (0 when not nullable), capped at 2. */
  type G = { empty: number; first: number[]; last: number[] };
  const build = (n: Node): G => {
    switch (n.kind) {
      case 'atom': {
        if (sets.length > maxPositions) throw new TooLarge();
        const p = sets.length;
        sets.push(n.set);
        follow.push([]);
        return { empty: 0, first: [p], last: [p] };
      }
      case 'empty':
        return { empty: 1, first: [], last: [] };
      case 'seq': {
        let acc: G = { empty: 1, first: [], last: [] };
        for (const item of n.items) {
          const g = build(item);
          link(acc.last, g.first);
          if (acc.empty * g.empty > 1) ambiguousEmpty = true;
          acc = {
            empty: Math.min(2, acc.empty * g.empty),
            first: acc.empty ? [...acc.first, ...g.first] : acc.first,
            last: g.empty ? [...acc.last, ...g.last] : g.last,
          };
        }
        return acc;
      }
      case 'alt': {
        const gs = n.branches.map(build);
        if (gs.reduce((s, g) => s + g.empty, 0) > 1) ambiguousEmpty = true;
        return { empty: Math.min(2, gs.reduce((s, g) => s + g.empty, 0)), first: gs.flatMap((g) => g.first), last: gs.flatMap((g) => g.last) };
      }
      case 'repeat': {
        if (typeof n.op === 'number') return build({ kind: 'seq', items: Array.from({ length: n.op }, () => n.node) });
        const g = build(n.node);
        if (n.op !== '?') link(g.last, g.first);
        const empty = n.op === '+' ? g.empty : 1 + g.empty;
        if (empty > 1 || (n.op !== '?' && g.empty > 0)) ambiguousEmpty = true;
        return { empty: Math.min(2, empty), first: g.first, last: g.last };
      }
    }
  };
  let g: G;
  try {
    g = build(parsePattern(re));
  } catch (e) {
    if (e instanceof TooLarge) return undefined;
    throw e;
  }
  follow[0] = g.first;
  const accepting = new Set(g.last);
  if (g.empty) accepting.add(0);
  if (g.empty > 1) ambiguousEmpty = true;
  return { sets, follow, accepting, ambiguousEmpty };
}

/** Strongly connected components of positions 1..n (Tarjan, iterative), with a cycle or not. */
function components(a: Automaton): { of: number[]; cyclic: boolean[] } {
  const n = a.sets.length;
  const of = new Array<number>(n).fill(-1);
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const cyclic: boolean[] = [];
  let counter = 0;
  for (let root = 1; root < n; root++) {
    if (at(index, root) >= 0) continue;
    const work: [number, number[]][] = [];
    const enter = (v: number) => { index[v] = low[v] = counter++; stack.push(v); onStack[v] = true; work.push([v, [...at(a.follow, v)]]); };
    enter(root);
    for (let top = work.at(-1); top !== undefined; top = work.at(-1)) {
      const [v, next] = top;
      const t = next.pop();
      if (t !== undefined) {
        if (at(index, t) < 0) enter(t);
        else if (onStack[t]) low[v] = Math.min(at(low, v), at(index, t));
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent !== undefined) { const [u] = parent; low[u] = Math.min(at(low, u), at(low, v)); }
      if (low[v] !== index[v]) continue;
      const id = cyclic.length;
      const members: number[] = [];
      let w: number;
      do { w = stack.pop()!; onStack[w] = false; of[w] = id; members.push(w); } while (w !== v);
      cyclic.push(members.length > 1 || at(a.follow, v).includes(v));
    }
  }
  return { of, cyclic };
}

/** Pairs of positions the exponential check may visit: bounds its work, not its answer. */
export const MAX_PAIRS = 40_000;

/**
 * True when the automaton has neither structure that makes backtracking super-linear
 * (Weber and Seidl's EDA and IDA, which recheck looks for too); false means "not
 * proven", and recheck decides. Positions are those of a backtracking matcher's paths,
 * so at most a constant number of paths read each prefix of the subject: linear.
 *  - EDA: two different cycles on the same word through one position. Within a strongly
 *    connected component C, walk pairs of positions that read a common byte at each step:
 *    a pair of different positions reachable from (q, q) and reaching (q', q') is refused
 *    ((a|a)*; not ([^.]+\.)* whose steps are forced), and so is an edge made twice ((a+)+).
 *  - IDA: positions p in C1 and q in another component C2 and a word w that cycles on p,
 *    leads from p to q and cycles on q. w uses only bytes read in both C1 and C2, so it
 *    needs a path from C1 to C2 through positions that can read one ("[^/]*" then "/" then
 *    "[^/]*" has none; ".*a.*" has one).
 */
export function provesLinear(a: Automaton): boolean {
  if (a.ambiguousEmpty) return false;
  const { of, cyclic } = components(a);
  const n = a.sets.length;
  const members: number[][] = cyclic.map(() => []);
  for (let p = 1; p < n; p++) at(members, at(of, p)).push(p);
  if (members.reduce((s, m, c) => s + (cyclic[c] ? m.length * m.length : 0), 0) > MAX_PAIRS) return false;
  for (const [c, m] of members.entries()) if (cyclic[c] && !forcedCycles(a, of, c, m)) return false;
  const loops = members.flatMap((m, c) => (cyclic[c] ? [{ c, m, letters: m.reduce((s, p) => s | at(a.sets, p), 0n) }] : []));
  for (const c1 of loops) {
    for (const c2 of loops) {
      if (c1 === c2) continue;
      const shared = c1.letters & c2.letters;
      if (shared === 0n) continue;
      const seen = new Set(c1.m);
      const todo = [...c1.m];
      for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
        for (const r of at(a.follow, p)) {
          if (seen.has(r) || (at(a.sets, r) & shared) === 0n) continue;
          if (of[r] === c2.c) return false;
          seen.add(r);
          todo.push(r);
        }
      }
    }
  }
  return true;
}

/** No pair of different positions of component c lies between two diagonal pairs. */
function forcedCycles(a: Automaton, of: number[], c: number, m: number[]): boolean {
  // Two edges between the same positions of c: two cycles on the same word.
  for (const p of m) {
    const inside = at(a.follow, p).filter((s) => of[s] === c);
    if (new Set(inside).size !== inside.length) return false;
  }
  const key = (p: number, q: number) => p * a.sets.length + q;
  const step = (p: number, q: number): [number, number][] => {
    const out: [number, number][] = [];
    for (const s of at(a.follow, p)) {
      if (of[s] !== c) continue;
      const set = at(a.sets, s);
      for (const t of at(a.follow, q)) if (of[t] === c && (set & at(a.sets, t)) !== 0n) out.push([s, t]);
    }
    return out;
  };
  // Forward from the diagonal, then backward to it (over reversed pair steps).
  const forward = new Set<number>();
  const todo: [number, number][] = m.map((p) => [p, p]);
  for (const [p, q] of todo) forward.add(key(p, q));
  while (todo.length) {
    const [p, q] = todo.pop()!;
    for (const [s, t] of step(p, q)) if (!forward.has(key(s, t))) { forward.add(key(s, t)); todo.push([s, t]); }
  }
  const preds = new Map<number, [number, number][]>();
  for (const k of forward) {
    const p = Math.floor(k / a.sets.length), q = k % a.sets.length;
    for (const [s, t] of step(p, q)) { const ks = key(s, t); if (!preds.has(ks)) preds.set(ks, []); preds.get(ks)!.push([p, q]); }
  }
  const backward = new Set<number>();
  const back: [number, number][] = m.map((p) => [p, p]);
  for (const [p, q] of back) backward.add(key(p, q));
  while (back.length) {
    const [p, q] = back.pop()!;
    for (const [s, t] of preds.get(key(p, q)) ?? []) {
      if (s !== t) return false; // reachable from the diagonal and reaching it
      if (!backward.has(key(s, t))) { backward.add(key(s, t)); back.push([s, t]); }
    }
  }
  return true;
}

/**
 * States of the subset construction of the reversed automaton (what recheck builds first
 * for its look-ahead), or undefined when there are more than cap. Bytes that every
 * position treats alike are one letter.
 */
export function reverseDfaStates(a: Automaton, cap: number): number | undefined {
  const n = a.sets.length;
  const positions = a.sets.slice(1);
  const letters = new Map<string, number>(); // signature -> a representative byte
  for (let c = 0; c < 256; c++) {
    const bit = byte(c);
    let sig = '';
    for (const set of positions) sig += (set & bit) === 0n ? '0' : '1';
    if (!letters.has(sig)) letters.set(sig, c);
  }
  const preds: number[][] = Array.from({ length: n }, () => []);
  a.follow.forEach((to, from) => { for (const t of to) at(preds, t).push(from); });
  const key = (s: number[]) => s.join(',');
  const start = [...a.accepting].sort((x, y) => x - y);
  const seen = new Set([key(start)]);
  const todo = [start];
  while (todo.length) {
    const states = todo.pop()!;
    for (const c of letters.values()) {
      const bit = byte(c);
      const next = new Set<number>();
      for (const s of states) if (s > 0 && (at(a.sets, s) & bit) !== 0n) for (const r of at(preds, s)) next.add(r);
      const sorted = [...next].sort((x, y) => x - y);
      const k = key(sorted);
      if (seen.has(k)) continue;
      if (seen.size >= cap) return undefined;
      seen.add(k);
      todo.push(sorted);
    }
  }
  return seen.size;
}

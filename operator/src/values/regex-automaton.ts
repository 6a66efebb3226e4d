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

/** A literal byte and its other case: a caseless match (`~*`) must be covered too. */
function literal(c: number): Bytes {
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x7a ? byte(lower) | byte(lower ^ 0x20) : byte(c);
}

/** One character of an escape or a literal at re[i]: its code and length. */
function singleChar(re: string, i: number): { code: number; len: number } {
  if (re[i] !== '\\') return { code: re.charCodeAt(i), len: 1 };
  const e = re[i + 1];
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
    if (re[j] === '\\' && re[j + 1] in CLASS_MAX) { set |= CLASS_MAX[re[j + 1]]; exact = false; j += 2; continue; }
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
    const branches: Node[] = [seq()];
    while (re[i] === '|') { i++; branches.push(seq()); }
    return branches.length === 1 ? branches[0] : { kind: 'alt', branches };
  };
  const seq = (): Node => {
    const items: Node[] = [];
    while (i < re.length && re[i] !== '|' && re[i] !== ')') {
      let node: Node;
      const c = re[i];
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
      } else if (c === '\\' && re[i + 1] in CLASS_MAX) {
        node = { kind: 'atom', set: CLASS_MAX[re[i + 1]] };
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
    return items.length === 1 ? items[0] : { kind: 'seq', items };
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
  const link = (from: number[], to: number[]) => { for (const f of from) for (const t of to) follow[f].push(t); };
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
    if (index[root] >= 0) continue;
    const work: [number, number[]][] = [];
    const enter = (v: number) => { index[v] = low[v] = counter++; stack.push(v); onStack[v] = true; work.push([v, [...a.follow[v]]]); };
    enter(root);
    while (work.length) {
      const [v, next] = work[work.length - 1];
      if (next.length) {
        const w = next.pop()!;
        if (index[w] < 0) enter(w);
        else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      work.pop();
      if (work.length) { const u = work[work.length - 1][0]; low[u] = Math.min(low[u], low[v]); }
      if (low[v] !== index[v]) continue;
      const id = cyclic.length;
      const members: number[] = [];
      let w: number;
      do { w = stack.pop()!; onStack[w] = false; of[w] = id; members.push(w); } while (w !== v);
      cyclic.push(members.length > 1 || a.follow[v].includes(v));
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
  for (let p = 1; p < n; p++) members[of[p]].push(p);
  if (members.reduce((s, m, c) => s + (cyclic[c] ? m.length * m.length : 0), 0) > MAX_PAIRS) return false;
  for (const [c, m] of members.entries()) if (cyclic[c] && !forcedCycles(a, of, c, m)) return false;
  const letters = members.map((m) => m.reduce((s, p) => s | a.sets[p], 0n));
  for (let c1 = 0; c1 < cyclic.length; c1++) {
    if (!cyclic[c1]) continue;
    for (let c2 = 0; c2 < cyclic.length; c2++) {
      if (c1 === c2 || !cyclic[c2]) continue;
      const shared = letters[c1] & letters[c2];
      if (shared === 0n) continue;
      const seen = new Set(members[c1]);
      const todo = [...members[c1]];
      while (todo.length) {
        for (const r of a.follow[todo.pop()!]) {
          if (seen.has(r) || (a.sets[r] & shared) === 0n) continue;
          if (of[r] === c2) return false;
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
    const inside = a.follow[p].filter((s) => of[s] === c);
    if (new Set(inside).size !== inside.length) return false;
  }
  const key = (p: number, q: number) => p * a.sets.length + q;
  const step = (p: number, q: number): [number, number][] => {
    const out: [number, number][] = [];
    for (const s of a.follow[p]) {
      if (of[s] !== c) continue;
      for (const t of a.follow[q]) if (of[t] === c && (a.sets[s] & a.sets[t]) !== 0n) out.push([s, t]);
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
  const letters = new Map<string, number>(); // signature -> a representative byte
  for (let c = 0; c < 256; c++) {
    const bit = byte(c);
    let sig = '';
    for (let p = 1; p < n; p++) sig += (a.sets[p] & bit) === 0n ? '0' : '1';
    if (!letters.has(sig)) letters.set(sig, c);
  }
  const preds: number[][] = Array.from({ length: n }, () => []);
  a.follow.forEach((to, from) => { for (const t of to) preds[t].push(from); });
  const key = (s: number[]) => s.join(',');
  const start = [...a.accepting].sort((x, y) => x - y);
  const seen = new Set([key(start)]);
  const todo = [start];
  while (todo.length) {
    const states = todo.pop()!;
    for (const c of letters.values()) {
      const bit = byte(c);
      const next = new Set<number>();
      for (const s of states) if (s > 0 && (a.sets[s] & bit) !== 0n) for (const r of preds[s]) next.add(r);
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

// Choosing the rule for a request within one server. nginx picks the location (its own
// exact/longest-prefix choice is the spec's path precedence); within the location, maps
// pick the first candidate, in spec precedence, whose method, headers and query match.
//
// A "segment" map decides among a run of candidates with one key, the newline-joined
// "k$request_method\n$http_x\n${arg_y}\n<regex segment>", and one regex entry per
// candidate. Runs are cut so that no key outgrows nginx's token limit, however many routes
// share a host; a location whose candidates need several segments combines them with a
// map that takes the first non-empty one. (Chaining one map per candidate would be lazier,
// but nginx refuses to nest variable evaluation more than 100 deep.)
//
// Regular-expression paths can match under any location, so they are not repeated in
// every location (that was quadratic): each server has one regex stage, and a location
// consults it, as one part, between its Exact and its PathPrefix candidates.
//
// User regexes never share a subject with other fields: each has its own flag `map`
// ($uri, a header or a query argument -> "1"/"0"). A candidate that also has cheap
// conditions (method, exact header or query values) reads its flags through a gate map
// whose value, the flags, nginx evaluates only when those conditions hold: a request pays
// for a tenant's regex only when it could be that tenant's request.
import { normalizePrefix, type MatchCandidate } from '../graph/precedence.ts';
import type { RouteMatch } from '../graph/types.ts';
import { groupBy } from '../collections.ts';
import type { ModelBuilder } from './builder.ts';
import { grpcRegexCount, grpcRegexFlags } from './grpc-match.ts';
import type { MatchMap } from './model.ts';
import { headerVar, queryVar, quote, regexLiteral } from './quote.ts';

export type LocationKey = { modifier: '=' | ''; path: string };


export function unconditional(m: RouteMatch): boolean {
  return !m.method && !m.headers.length && !m.queryParams.length && m.path.type !== 'RegularExpression';
}

/**
 * Which non-regex candidates can serve a request that nginx routes to a location, in
 * precedence order: Exact for "= path", and every PathPrefix that is the location's path
 * or a path-element ancestor of it. Indexed, so that the work per location is the size of
 * its answer, not the number of routes on the host.
 */
export function candidateIndex(sorted: readonly MatchCandidate[]): (loc: LocationKey) => MatchCandidate[] {
  const order = new Map(sorted.map((c, i) => [c, i] as const));
  const byType = groupBy(sorted, (c) => c.match.path.type);
  const exact = groupBy(byType.get('Exact') ?? [], (c) => c.match.path.value);
  const prefix = groupBy(byType.get('PathPrefix') ?? [], (c) => normalizePrefix(c.match.path.value));
  return (loc) => {
    const out = [...(loc.modifier === '=' ? exact.get(loc.path) ?? [] : [])];
    let base = loc.modifier === '=' || loc.path === '/' ? loc.path : loc.path.slice(0, -1);
    for (;;) {
      out.push(...(prefix.get(base) ?? []));
      if (base === '/') break;
      const cut = base.lastIndexOf('/');
      base = cut <= 0 ? '/' : base.slice(0, cut);
    }
    return out.sort((a, b) => order.get(a)! - order.get(b)!);
  };
}

export function locationKeys(candidates: readonly MatchCandidate[]): LocationKey[] {
  const keys = new Map<string, LocationKey>([['/', { modifier: '', path: '/' }]]);
  for (const { match: { path } } of candidates) {
    if (path.type === 'Exact') keys.set(`=${path.value}`, { modifier: '=', path: path.value });
    if (path.type === 'PathPrefix' && normalizePrefix(path.value) !== '/') {
      const q = normalizePrefix(path.value);
      keys.set(`=${q}`, { modifier: '=', path: q });
      keys.set(q + '/', { modifier: '', path: `${q}/` });
    }
  }
  return [...keys.values()].sort((a, b) => (a.modifier + a.path < b.modifier + b.path ? -1 : 1));
}

const ANY = '[^\n]*';
/** Characters of a segment's key: nginx reads a token into 4 KiB, quoting adds some. */
const KEY_BUDGET = 3000;

const cheapOf = (m: RouteMatch) => ({ method: m.method, headers: m.headers.filter((h) => h.type === 'Exact'), queries: m.queryParams.filter((q) => q.type === 'Exact') });

const regexConditions = (m: RouteMatch) =>
  (m.path.type === 'RegularExpression' ? 1 : 0) + m.headers.filter((h) => h.type === 'RegularExpression').length + m.queryParams.filter((q) => q.type === 'RegularExpression').length + grpcRegexCount(m);

/** A candidate's regex conditions as one part of a segment's key: its flags, or a gate over them. */
interface RegexGroup {
  /** Variables whose concatenated values form the part. */
  vars: string;
  /** The part's value when every regex of the candidate matched. */
  expect: string;
}

function regexGroup(b: ModelBuilder, c: MatchCandidate): RegexGroup | undefined {
  const m = c.match;
  const flags = [
    ...(m.path.type === 'RegularExpression' ? [b.flag('$uri', m.path.value, c.route.key)] : []),
    ...m.headers.filter((h) => h.type === 'RegularExpression').map((h) => b.flag(headerVar(h.name), h.value, c.route.key)),
    ...m.queryParams.filter((q) => q.type === 'RegularExpression').map((q) => b.flag(queryVar(q.name), q.value, c.route.key)),
    ...grpcRegexFlags(b, m, c.route.key),
  ];
  if (!flags.length) return undefined;
  const raw = flags.map((f) => `$${f}`).join('');
  const expect = '1'.repeat(flags.length);
  const cheap = cheapOf(m);
  if (!cheap.method && !cheap.headers.length && !cheap.queries.length) return { vars: raw, expect };
  // The gate's value (the flags) is evaluated only when its entry matched; otherwise "0".
  const gateKey = [...(cheap.method ? ['$request_method'] : []), ...cheap.headers.map((h) => headerVar(h.name)), ...cheap.queries.map((q) => queryVar(q.name))];
  const gateValues = [...(cheap.method ? [regexLiteral(cheap.method)] : []), ...cheap.headers.map((h) => regexLiteral(h.value)), ...cheap.queries.map((q) => regexLiteral(q.value))];
  const gate = b.addMap({ key: quote(`k${gateKey.join('\n')}`), entries: [{ pattern: quote(`~^k${gateValues.join('\n')}$`), value: quote(raw) }], default: '"0"', source: c.route.key });
  return { vars: `$${gate}`, expect };
}

/** A pattern that skips the first `n` colon-separated regex parts of a key. */
const skipParts = (n: number) => (n === 0 ? '' : n === 1 ? '[01]*:' : `(?:[01]*:){${n}}`);

/** The key fields a candidate needs, and an upper bound of its regex part of the key. */
function keyNeeds(c: MatchCandidate): { fields: string[]; regexPart: number } {
  const cheap = cheapOf(c.match);
  const fields = [...(cheap.method ? ['$request_method'] : []), ...cheap.headers.map((h) => headerVar(h.name)), ...cheap.queries.map((q) => queryVar(q.name))];
  const regexes = regexConditions(c.match);
  return { fields, regexPart: regexes ? (fields.length ? 12 : 10 * regexes) + 1 : 0 };
}

/** The field path a candidate's problems are reported on. */
const matchField = (c: MatchCandidate) => `spec.rules[${c.ruleIndex}].matches[${c.matchIndex}]`;

/**
 * One map over a run of candidates: the first whose conditions hold, or "". `targetOf`
 * names a candidate's internal location; a candidate it cannot express (it throws), or
 * whose entry cannot be written, is reported through the builder and left out.
 */
function segmentMap(b: ModelBuilder, run: readonly MatchCandidate[], targetOf: (c: MatchCandidate) => string): string | undefined {
  const useMethod = run.some((c) => c.match.method);
  const headers = [...new Set(run.flatMap((c) => cheapOf(c.match).headers.map((h) => h.name.toLowerCase())))].sort();
  const queries = [...new Set(run.flatMap((c) => cheapOf(c.match).queries.map((q) => q.name)))].sort();
  const groups = new Map<MatchCandidate, RegexGroup | undefined>();
  const parts: string[] = [];
  for (const c of run) {
    try {
      const g = regexGroup(b, c);
      groups.set(c, g);
      if (g && !parts.includes(g.vars)) parts.push(g.vars);
    } catch (err) {
      b.fail(c.route, c.ruleIndex, matchField(c), err);
    }
  }
  // The key starts with a constant: nginx's map skips its regexes for an empty key (an
  // absent header would otherwise never reach the default).
  const key = `k${[...(useMethod ? ['$request_method'] : []), ...headers.map(headerVar), ...queries.map(queryVar), ...(parts.length ? [parts.join(':')] : [])].join('\n')}`;
  const entries: MatchMap['entries'] = [];
  for (const c of run) {
    if (!groups.has(c) || b.failed(c.route, c.ruleIndex)) continue;
    try {
      const m = c.match;
      const group = groups.get(c);
      const values = [
        ...(useMethod ? [m.method ? regexLiteral(m.method) : ANY] : []),
        ...headers.map((h) => { const x = m.headers.find((v) => v.type === 'Exact' && v.name.toLowerCase() === h); return x ? regexLiteral(x.value) : ANY; }),
        ...queries.map((q) => { const x = m.queryParams.find((v) => v.type === 'Exact' && v.name === q); return x ? regexLiteral(x.value) : ANY; }),
        // Its own part by position ("(?:[01]*:){i}"), not by spelling out every other part:
        // an entry's size must not grow with the number of candidates in the segment.
        ...(parts.length ? [group ? `${skipParts(parts.indexOf(group.vars))}${group.expect}(?::[01]*)*` : '[01:]*'] : []),
      ];
      entries.push({ pattern: quote(`~^k${values.join('\n')}$`), value: targetOf(c), source: c.route.key });
    } catch (err) {
      b.fail(c.route, c.ruleIndex, matchField(c), err);
    }
  }
  if (!entries.length) return undefined;
  try {
    return b.addMap({ key: quote(key), entries, default: '""' });
  } catch (err) {
    // Only a single candidate's own fields can outgrow the budget: it is that candidate's.
    for (const c of run) b.fail(c.route, c.ruleIndex, matchField(c), err);
    return undefined;
  }
}

/** What a candidate adds to a segment's key that already has `fields`. */
function addedCost(needs: ReturnType<typeof keyNeeds>, fields: ReadonlySet<string>): number {
  return needs.fields.reduce((n, f) => (fields.has(f) ? n : n + f.length + 1), needs.regexPart);
}

/** Segment maps over candidates in order, each key within the budget. */
function segments(b: ModelBuilder, cands: readonly MatchCandidate[], targetOf: (c: MatchCandidate) => string): string[] {
  // Asked three times per location, mostly for nothing: no set or closures then.
  if (!cands.length) return [];
  const out: string[] = [];
  let run: MatchCandidate[] = [];
  let fields = new Set<string>();
  let cost = 0;
  const flush = () => {
    const v = run.length ? segmentMap(b, run, targetOf) : undefined;
    if (v) out.push(v);
    run = [];
    fields = new Set();
    cost = 0;
  };
  for (const c of cands) {
    if (b.failed(c.route, c.ruleIndex)) continue;
    const needs = keyNeeds(c);
    if (run.length && cost + addedCost(needs, fields) > KEY_BUDGET) flush();
    cost += addedCost(needs, fields);
    for (const f of needs.fields) fields.add(f);
    run.push(c);
  }
  flush();
  return out;
}

/** firstOf's one entry: the first non-empty line of the key. */
const FIRST_PART = quote('~^k\n*([^\n]+)');

/**
 * The variable holding the first non-empty value of `parts` (map variables, in order), or
 * `fallback` when all are empty. A single part without fallback is its own answer.
 */
function firstOf(b: ModelBuilder, parts: readonly string[], fallback: string): string | undefined {
  if (!parts.length) return undefined;
  if (parts.length === 1 && fallback === '""') return parts[0];
  const key = quote(`k${parts.map((p) => `$${p}`).join('\n')}`);
  return b.addMap({ key, entries: [{ pattern: FIRST_PART, value: '$1' }], default: fallback });
}

/** The server's regex stage: the first regex-path candidate whose conditions hold, or "". */
export function regexStage(b: ModelBuilder, sorted: readonly MatchCandidate[], targetOf: (c: MatchCandidate) => string): string | undefined {
  const regexCandidates = sorted.filter((c) => c.match.path.type === 'RegularExpression');
  return firstOf(b, segments(b, regexCandidates, targetOf), '""');
}

/** Does a location consult this candidate before the regex stage? `regexAfterPrefixes`: see locationDispatch. */
function beforeStage(c: MatchCandidate, regexAfterPrefixes: boolean): boolean {
  return c.match.path.type === 'Exact' || (regexAfterPrefixes && normalizePrefix(c.match.path.value) !== '/');
}

export type LocationDispatch = { variable: string } | { target: string } | { status: 404 };

/**
 * How a location picks its target: its Exact and PathPrefix candidates in precedence
 * order with the regex stage between them, cut after the first candidate without
 * conditions (nothing after it can be chosen), which becomes the fallback.
 */
/** `regexAfterPrefixes` (gRPC servers, graph/grpcroute.ts): the regex stage ranks after every PathPrefix but "/". */
export function locationDispatch(b: ModelBuilder, applicable: readonly MatchCandidate[], stage: string | undefined, targetOf: (c: MatchCandidate) => string, opts: { regexAfterPrefixes?: boolean } = {}): LocationDispatch {
  const cut = applicable.findIndex((c) => unconditional(c.match));
  const conditional = cut < 0 ? applicable : applicable.slice(0, cut);
  let fallback = '""';
  const last = cut < 0 ? undefined : applicable[cut];
  if (last) {
    try {
      fallback = targetOf(last);
    } catch (err) {
      b.fail(last.route, last.ruleIndex, matchField(last), err);
    }
  }
  const exact = conditional.filter((c) => c.match.path.type === 'Exact');
  const prefix = conditional.filter((c) => c.match.path.type === 'PathPrefix');
  const after = !!opts.regexAfterPrefixes;
  // Regex paths rank after Exact ones (and the prefixes before the stage): a candidate without conditions there ends the search first.
  const consultRegex = stage && !(last && beforeStage(last, after));
  const parts = [...segments(b, exact, targetOf), ...segments(b, prefix.filter((c) => beforeStage(c, after)), targetOf), ...(consultRegex ? [stage] : []), ...segments(b, prefix.filter((c) => !beforeStage(c, after)), targetOf)];
  const variable = firstOf(b, parts, fallback);
  if (variable) return { variable };
  return fallback === '""' ? { status: 404 } : { target: fallback };
}

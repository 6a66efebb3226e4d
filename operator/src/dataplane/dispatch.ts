// Choosing the rule for a request within one server. nginx picks the location (its own
// exact/longest-prefix choice is the spec's path precedence); in the location a `map` over
// a newline-joined key "k$request_method\n$http_x\n${arg_y}\n<regex groups>" picks the
// first candidate, in spec precedence, whose method, headers and query match.
//
// Regular-expression paths can match under any location, so they are not repeated in
// every location's map (that was quadratic): each server has one "regex stage" map that
// picks among its regex-path candidates, and a location's map consults it, as one entry,
// between its Exact and its PathPrefix candidates.
//
// User regexes never share a subject with other fields: each has its own flag `map`
// ($uri, a header or a query argument -> "1"/"0"). A candidate that also has cheap
// conditions (method, exact header or query values) reads its flags through a gate map that
// evaluates them only when those conditions hold, so a request pays for a tenant's regex
// only when it could be that tenant's request.
import { normalizePrefix, type MatchCandidate } from '../graph/precedence.ts';
import type { RouteMatch } from '../graph/types.ts';
import { groupBy } from '../collections.ts';
import type { ModelBuilder } from './builder.ts';
import type { MatchMap } from './model.ts';
import { quote, regexLiteral } from './quote.ts';

const ANY = '[^\n]*';

export type LocationKey = { modifier: '=' | ''; path: string };

export const headerVar = (name: string) => `$http_${name.toLowerCase().replace(/-/g, '_')}`;
export const queryVar = (name: string) => `\${arg_${name}}`;

export function unconditional(m: RouteMatch): boolean {
  return !m.method && !m.headers.length && !m.queryParams.length && m.path.type !== 'RegularExpression';
}

const isRegexPath = (c: MatchCandidate) => c.match.path.type === 'RegularExpression';

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

/** A candidate's regex conditions as one key segment: its flags, or a gate over them. */
interface RegexGroup {
  /** Variables whose concatenated values form the segment. */
  vars: string;
  /** The segment's value when every regex of the candidate matched. */
  expect: string;
}

function cheapOf(m: RouteMatch) {
  return { method: m.method, headers: m.headers.filter((h) => h.type === 'Exact'), queries: m.queryParams.filter((q) => q.type === 'Exact') };
}

function regexGroup(b: ModelBuilder, c: MatchCandidate): RegexGroup | undefined {
  const m = c.match;
  const flags = [
    ...(m.path.type === 'RegularExpression' ? [b.flag('$uri', m.path.value, c.route.key)] : []),
    ...m.headers.filter((h) => h.type === 'RegularExpression').map((h) => b.flag(headerVar(h.name), h.value, c.route.key)),
    ...m.queryParams.filter((q) => q.type === 'RegularExpression').map((q) => b.flag(queryVar(q.name), q.value, c.route.key)),
  ];
  if (!flags.length) return undefined;
  const raw = flags.map((f) => `$${f}`).join('');
  const expect = '1'.repeat(flags.length);
  const cheap = cheapOf(m);
  if (!cheap.method && !cheap.headers.length && !cheap.queries.length) return { vars: raw, expect };
  // Gate: the flags are evaluated (map values are evaluated lazily) only when the cheap
  // conditions hold; otherwise the segment reads "0".
  const gateKey = [...(cheap.method ? ['$request_method'] : []), ...cheap.headers.map((h) => headerVar(h.name)), ...cheap.queries.map((q) => queryVar(q.name))];
  const gateValues = [...(cheap.method ? [regexLiteral(cheap.method)] : []), ...cheap.headers.map((h) => regexLiteral(h.value)), ...cheap.queries.map((q) => regexLiteral(q.value))];
  const gate = b.addMap({ key: quote(`k${gateKey.join('\n')}`), entries: [{ pattern: quote(`~^k${gateValues.join('\n')}$`), value: quote(raw) }], default: '"0"', source: c.route.key });
  return { vars: `$${gate}`, expect };
}

/** What a location's map chooses among: candidates, and the server's regex stage. */
export type Choice = { candidate: MatchCandidate } | { regexStage: string };

/**
 * The map that picks, in precedence order, the first choice whose conditions hold.
 * `targetOf` names the internal location of a candidate; a candidate it cannot express
 * (it throws) is reported through the builder and left out, and so is one whose entry
 * cannot be written. Returns undefined when nothing is left to choose.
 */
export function dispatchMap(b: ModelBuilder, choices: readonly Choice[], targetOf: (c: MatchCandidate) => string): Omit<MatchMap, 'variable'> | undefined {
  const stage = choices.find((c): c is { regexStage: string } => 'regexStage' in c)?.regexStage;
  const cands = choices.filter((c): c is { candidate: MatchCandidate } => 'candidate' in c).map((c) => c.candidate);
  const useMethod = cands.some((c) => c.match.method);
  const headers = [...new Set(cands.flatMap((c) => cheapOf(c.match).headers.map((h) => h.name.toLowerCase())))].sort();
  const queries = [...new Set(cands.flatMap((c) => cheapOf(c.match).queries.map((q) => q.name)))].sort();
  const groups = new Map<MatchCandidate, RegexGroup | undefined>();
  const segments: string[] = [];
  for (const c of cands) {
    try {
      const g = regexGroup(b, c);
      groups.set(c, g);
      if (g && !segments.includes(g.vars)) segments.push(g.vars);
    } catch (err) {
      b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].matches[${c.matchIndex}]`, err);
    }
  }
  const fields = [...(stage ? [`$${stage}`] : []), ...(useMethod ? ['$request_method'] : []), ...headers.map(headerVar), ...queries.map(queryVar), ...(segments.length ? [segments.join(':')] : [])];
  // The key starts with a constant: nginx's map skips its regexes for an empty key (an
  // absent header would otherwise never reach the catch-all entry).
  const key = `k${fields.join('\n')}`;
  const entries: MatchMap['entries'] = [];
  for (const choice of choices) {
    if ('regexStage' in choice) {
      // A non-empty regex stage is the answer (its value is the chosen target).
      entries.push({ pattern: quote('~^k[^\n]'), value: `$${choice.regexStage}` });
      continue;
    }
    const c = choice.candidate;
    if (!groups.has(c) || b.failed(c.route, c.ruleIndex)) continue;
    try {
      const m = c.match;
      const group = groups.get(c);
      const parts = [
        ...(stage ? [ANY] : []),
        ...(useMethod ? [m.method ? regexLiteral(m.method) : ANY] : []),
        ...headers.map((h) => { const x = m.headers.find((v) => v.type === 'Exact' && v.name.toLowerCase() === h); return x ? regexLiteral(x.value) : ANY; }),
        ...queries.map((q) => { const x = m.queryParams.find((v) => v.type === 'Exact' && v.name === q); return x ? regexLiteral(x.value) : ANY; }),
        ...(segments.length ? [segments.map((s) => (group?.vars === s ? group.expect : '[01]*')).join(':')] : []),
      ];
      entries.push({ pattern: quote(`~^k${parts.join('\n')}$`), value: targetOf(c), source: c.route.key });
    } catch (err) {
      b.fail(c.route, c.ruleIndex, `spec.rules[${c.ruleIndex}].matches[${c.matchIndex}]`, err);
    }
  }
  if (!entries.length) return undefined;
  return { key: quote(key), entries, default: '""' };
}

/** The server's regex stage: the first regex-path candidate whose conditions hold, or "". */
export function regexStage(b: ModelBuilder, sorted: readonly MatchCandidate[], targetOf: (c: MatchCandidate) => string): string | undefined {
  const regexCandidates = sorted.filter(isRegexPath);
  if (!regexCandidates.length) return undefined;
  const map = dispatchMap(b, regexCandidates.map((candidate) => ({ candidate })), targetOf);
  return map && b.addMap(map);
}

/**
 * The choices of one location, in precedence order: its Exact and PathPrefix candidates,
 * with the regex stage between them; everything after the first candidate without
 * conditions can never be chosen and is cut.
 */
export function locationChoices(applicable: readonly MatchCandidate[], stage: string | undefined): Choice[] {
  const out: Choice[] = [];
  let staged = !stage;
  for (const c of applicable) {
    if (!staged && c.match.path.type === 'PathPrefix') {
      out.push({ regexStage: stage! });
      staged = true;
    }
    out.push({ candidate: c });
    if (unconditional(c.match)) return out;
  }
  if (!staged) out.push({ regexStage: stage! });
  return out;
}

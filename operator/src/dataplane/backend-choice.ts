// Per-backendRef filters (HTTPBackendRef.filters) act only on requests sent to that
// backend, so the backend must be chosen before headers are set: nginx sets them before it
// picks an upstream server. A rule with such filters gets one target per backendRef (its
// own single-backend upstream, its own location with the composed filters); the rule's
// location picks one per request with split_clients on $request_id, by weight. An invalid
// backendRef keeps its share, answered 500 in its own location; a valid one without ready
// endpoints gives its share to the others while any has endpoints (as in one upstream).
import type { Certificate } from '../graph/certificates.ts';
import type { BackendFilters } from '../graph/filters.ts';
import type { RouteNode, RuleNode } from '../graph/types.ts';
import type { ModelBuilder, RuleTarget } from './builder.ts';
import type { Sample } from './model.ts';
import { identifier, quote } from './quote.ts';

export interface BackendChoice {
  /** Picks a target id per request; absent when one target takes every request. */
  sample?: Sample;
  /** The targets that get a share, in backendRef order. */
  targets: { target: RuleTarget; filters: BackendFilters }[];
}

/** split_clients' resolution: shares are written in hundredths of a percent. */
const UNITS = 10_000;

/**
 * Integer shares of UNITS proportional to `weights` that sum to exactly UNITS (largest
 * remainder), every positive weight getting at least one unit; all-zero weights get none.
 */
export function shareUnits(weights: readonly number[]): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  if (total <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w * UNITS) / total);
  const units = exact.map((x, i) => (weights[i]! > 0 ? Math.max(1, Math.floor(x)) : 0));
  let left = UNITS - units.reduce((s, u) => s + u, 0);
  // Hand out what rounding down left, largest remainder first (ties: backendRef order).
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).filter(({ i }) => weights[i]! > 0).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) units[order[k]!.i]!++;
  // The minimum of one unit can overshoot when many tiny weights meet a large one: take it back from the largest.
  while (left < 0) {
    const big = units.indexOf(Math.max(...units));
    units[big]!--;
    left++;
  }
  return units;
}

export const percentOf = (units: number): string => `${(units / 100).toFixed(2)}%`;

export function backendChoice(b: ModelBuilder, route: RouteNode, rule: RuleNode, id: string, clientCertificate: Certificate | undefined): RuleTarget {
  const t: RuleTarget = { id, source: route.key };
  const weighted = rule.backends.flatMap((backend, i) => (backend.weight > 0 ? [{ backend, i }] : []));
  if (!weighted.length) {
    t.status = 500; // no backendRefs, or all weight 0
    return t;
  }
  const subs = weighted.map(({ backend, i }) => ({ backend, target: b.ruleTarget(route, { ...rule, backends: [backend] }, clientCertificate, `_b${i}`) }));
  const problem = subs.find((s) => s.target.problem)?.target.problem;
  if (problem) {
    t.problem = problem;
    return t;
  }
  const serving = subs.some((s) => s.target.upstream);
  const units = shareUnits(subs.map((s) => (serving && !s.target.upstream && !s.backend.problem ? 0 : s.backend.weight)));
  const chosen = subs.flatMap((s, k) => (units[k]! > 0 ? [{ target: s.target, filters: s.backend.filters ?? {}, units: units[k]! }] : []));
  t.choice = { targets: chosen.map(({ target, filters }) => ({ target, filters })) };
  if (chosen.length > 1) {
    const last = chosen[chosen.length - 1]!;
    t.choice.sample = {
      key: quote(`\${request_id}${id}`),
      variable: identifier(`wg_b_${id}`),
      buckets: chosen.slice(0, -1).map((c) => ({ percent: percentOf(c.units), value: quote(c.target.id) })),
      rest: quote(last.target.id),
      source: route.key,
    };
    b.model.samples.push(t.choice.sample);
  }
  return t;
}

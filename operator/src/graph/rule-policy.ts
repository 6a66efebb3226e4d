// HTTPRoute rules[].timeouts and rules[].retry, checked against what the data plane honours
// exactly (dataplane/policy.ts, nginx/lua/waygate/policy.lua). A value it cannot honour fails
// the rule with the field named: the rule is not served rather than served approximately.
import type { HTTPRouteRetry, HTTPRouteTimeouts } from '../api/gateway-api.ts';
import { parseTimeout } from '../values/duration.ts';

/** What a rule asks of each request it proxies. */
export interface RulePolicy {
  /** timeouts.request in ms; 0 = "0s", no limit; absent = not set (nginx's defaults). */
  requestMs?: number;
  /** timeouts.backendRequest in ms, per attempt; 0 and absent as for requestMs. */
  backendRequestMs?: number;
  /** retry: attempts after the first one, and the backend status codes that cause one. */
  retry?: { attempts: number; codes: number[] };
}

/**
 * Status codes proxy_next_upstream can retry on (http_500 ... http_429). The spec requires
 * 500, 502, 503 and 504, lets implementations add others, and nginx has no way to retry on
 * another code: a rule listing one is refused, naming the code.
 */
export const RETRYABLE_CODES: readonly number[] = [403, 404, 429, 500, 502, 503, 504];

/**
 * Most retries one request may cause. The CRD sets no maximum; every attempt is another
 * request to the backends and another connection for nginx, so one route's flapping backend
 * must not multiply its traffic without bound (the conformance suite uses 100).
 */
export const MAX_ATTEMPTS = 100;

function timeouts(t: HTTPRouteTimeouts, field: string): { policy: RulePolicy } | { problem: string } {
  const policy: RulePolicy = {};
  for (const [name, key] of [['request', 'requestMs'], ['backendRequest', 'backendRequestMs']] as const) {
    if (t[name] === undefined) continue;
    const d = parseTimeout(t[name]);
    if ('error' in d) return { problem: `${field}.${name}: ${d.error}` };
    policy[key] = d.ms;
  }
  // The CRD's CEL rule, again (standalone files, older API servers): backendRequest <= request.
  const { requestMs: r, backendRequestMs: b } = policy;
  if (r && b !== undefined && b > r) return { problem: `${field}: backendRequest timeout cannot be longer than request timeout` };
  return { policy };
}

function retry(r: HTTPRouteRetry, field: string): { retry: NonNullable<RulePolicy['retry']> } | { problem: string } {
  // The spec: an implementation that retries without waiting MUST NOT advertise backoff and
  // MUST refuse a route that sets it. nginx starts the next attempt at once.
  if (r.backoff !== undefined) return { problem: `${field}.backoff: not supported: nginx starts a retry at once and cannot wait between attempts` };
  const attempts = r.attempts ?? 1; // the CRD's default
  if (!Number.isInteger(attempts) || attempts < 0 || attempts > MAX_ATTEMPTS) return { problem: `${field}.attempts: must be an integer from 0 to ${MAX_ATTEMPTS}` };
  const codes: number[] = [];
  for (const [j, code] of (r.codes ?? []).entries()) {
    if (!RETRYABLE_CODES.includes(code)) {
      return { problem: `${field}.codes[${j}]: ${JSON.stringify(code)} cannot be retried: nginx retries only on ${RETRYABLE_CODES.join(', ')} (and connection errors)` };
    }
    if (!codes.includes(code)) codes.push(code);
  }
  return { retry: { attempts, codes: codes.sort((x, y) => x - y) } };
}

/** The policy of spec.rules[i] (`field`), or the problem that keeps the rule from being served. */
export function parseRulePolicy(rule: { timeouts?: HTTPRouteTimeouts; retry?: HTTPRouteRetry }, field: string): { policy?: RulePolicy } | { problem: string } {
  if (rule.timeouts === undefined && rule.retry === undefined) return {};
  let policy: RulePolicy = {};
  if (rule.timeouts !== undefined) {
    const t = timeouts(rule.timeouts ?? {}, `${field}.timeouts`);
    if ('problem' in t) return t;
    policy = t.policy;
  }
  if (rule.retry !== undefined) {
    const r = retry(rule.retry ?? {}, `${field}.retry`);
    if ('problem' in r) return r;
    policy.retry = r.retry;
  }
  return { policy };
}

// rules[].timeouts and rules[].retry in nginx terms. nginx's own timeouts bound the gaps
// between reads and its retries only move to another server, so a rule that needs a deadline
// or retries gets the Lua policy (nginx/lua/waygate/policy.lua) in its upstream: each try is
// sent to a peer it picks (the same one again when the Service has one endpoint), with
// connect/send/read timeouts cut to what is left of the request's deadline and the attempt's
// limit, and the response is held to the deadline by a header and a body filter. Everything
// printed here is a number we computed or a generated name; the peers are in peers.txt
// (render/peers.ts), which the agent pushes to waygate.peers.
import type { RulePolicy } from '../graph/rule-policy.ts';
import { MAX_TIMEOUT_MS } from '../values/duration.ts';
import type { TargetPolicy, Upstream } from './model.ts';
import { identifier, UnsafeValueError } from './quote.ts';

const positive = (ms: number | undefined): ms is number => ms !== undefined && ms > 0;
const retries = (p: RulePolicy) => p.retry?.attempts ?? 0;

/** Whether requests of the rule go through the Lua policy: a deadline to keep, or retries. */
export function needsLua(p: RulePolicy): boolean {
  return positive(p.requestMs) || positive(p.backendRequestMs) || retries(p) > 0;
}

function int(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new UnsafeValueError(`not a count: ${n}`);
  return String(n);
}

/** The balancer_by_lua_block body of the rule's upstream: its limits, defined once per worker (the peers are waygate.peers', pushed by the agent). */
export function balancerLua(u: Upstream, p: RulePolicy): string[] {
  const name = identifier(u.name);
  return [
    'local policy = require("waygate.policy")',
    `policy.balance(policy.upstreams["${name}"] or policy.define("${name}", {`,
    `    attempts = ${int(retries(p))}, request_ms = ${int(positive(p.requestMs) ? p.requestMs : 0)}, backend_request_ms = ${int(positive(p.backendRequestMs) ? p.backendRequestMs : 0)},`,
    '}))',
  ];
}

/**
 * The target location's directives. `nextUpstream` is set only with a retry stanza: without
 * one nginx keeps its default (another endpoint after a connection error or timeout).
 */
export function targetPolicy(p: RulePolicy): TargetPolicy {
  const out: TargetPolicy = { deadlines: positive(p.requestMs) || positive(p.backendRequestMs) };
  if (p.retry) {
    const n = retries(p);
    // Connection errors and timed-out attempts always; the codes the rule lists.
    out.nextUpstream = n === 0 ? 'off' : ['error', 'timeout', ...p.retry.codes.map((c) => `http_${int(c)}`)].join(' ');
    if (n > 0) out.tries = n + 1;
  }
  // nginx stops retrying when the request's time is up (its clock starts with the first try, as the Lua deadline does).
  if (positive(p.requestMs)) out.nextUpstreamTimeout = `${int(p.requestMs)}ms`;
  // Only "0s" given: no limit at all, which for nginx is its longest timer (the spec's reading of zero).
  if (!out.deadlines && (p.requestMs === 0 || p.backendRequestMs === 0)) out.timeout = `${int(MAX_TIMEOUT_MS)}ms`;
  return out;
}

/** The rule's policy on its upstream (the Lua balancer, once) and its target location. */
export function applyPolicy(u: Upstream, p: RulePolicy): TargetPolicy {
  if (needsLua(p)) u.balancer ??= balancerLua(u, p);
  return targetPolicy(p);
}
